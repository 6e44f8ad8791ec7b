//! After `fork()`, the child of a process that has used weave can use
//! weave: the runtime starts afresh there. Each case runs in a child
//! process of the test (which then forks), so that the test harness's own
//! process is never forked.

use std::process::Command;
use std::time::{Duration, Instant};

use weave::thread;

const CHILD: &str = "WEAVE_TEST_FORK_CHILD";

/// Waits for process `pid` to exit, for a minute at most (then kills it):
/// its exit status, or `None` if it hung or was killed by a signal.
fn wait_exit(pid: libc::pid_t) -> Option<i32> {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        assert_eq!(r, 0, "waitpid failed");
        if start.elapsed() > Duration::from_secs(60) {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Uses what a program uses: ULTs, sleeps (timers), the blocking pool.
fn use_weave(n: u64) -> u64 {
    let hs: Vec<_> = (0..n)
        .map(|i| {
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(1));
                weave::blocking(move || i)
            })
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

/// A loopback connection through weave's sockets (the reactor).
fn net_round_trip() -> bool {
    let l = weave::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = thread::spawn(move || l.accept().is_ok());
    let connector = thread::spawn(move || weave::net::TcpStream::connect(addr).is_ok());
    acceptor.join().unwrap() && connector.join().unwrap()
}

/// In the child of the fork: the same work; exits 42 if the sum is right.
fn child_work() -> ! {
    let ok = use_weave(100) == 99 * 100 / 2 && net_round_trip();
    // Only the forking thread and the child's new weave threads remain:
    // no thread of the parent is listed.
    let leftovers = thread::threads()
        .iter()
        .filter(|t| t.name.as_deref() == Some("parked-in-parent"))
        .count();
    let code = if ok && leftovers == 0 { 42 } else { 1 };
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

/// A ULT of the parent that is parked at the fork.
fn park_a_thread() {
    thread::Builder::new()
        .name("parked-in-parent".into())
        .spawn(|| loop {
            thread::park();
        })
        .unwrap();
}

/// Child test process: uses weave, forks from this OS thread.
#[test]
fn fork_child_from_os_thread() {
    if std::env::var(CHILD).as_deref() != Ok("os") {
        return;
    }
    assert_eq!(use_weave(50), 49 * 50 / 2);
    assert!(net_round_trip());
    park_a_thread();
    // SAFETY: fork; the child only runs `child_work`, which ends in _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        child_work();
    }
    println!("fork child exited with {:?}", wait_exit(pid));
}

/// Child test process: uses weave, forks from inside a ULT.
#[test]
fn fork_child_from_ult() {
    if std::env::var(CHILD).as_deref() != Ok("ult") {
        return;
    }
    assert_eq!(use_weave(50), 49 * 50 / 2);
    assert!(net_round_trip());
    park_a_thread();
    let status = thread::spawn(|| {
        // SAFETY: fork; the child only runs `child_work`, which ends in
        // _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child_work();
        }
        weave::blocking(move || wait_exit(pid))
    })
    .join()
    .unwrap();
    println!("fork child exited with {status:?}");
}

/// Child test process: forks from inside a ULT whose closure then returns
/// in the child too.
#[test]
fn fork_child_ult_returns() {
    if std::env::var(CHILD).as_deref() != Ok("ult-returns") {
        return;
    }
    let status = thread::spawn(|| {
        // SAFETY: fork; both processes go on with this closure.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            assert_eq!(use_weave(10), 45);
            return None; // returns in the child: its last thread ends
        }
        weave::blocking(move || wait_exit(pid))
    })
    .join()
    .unwrap();
    println!("fork child exited with {status:?}");
}

fn run(mode: &str, test: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn a_child_forked_from_an_os_thread_spawns_and_joins() {
    let out = run("os", "fork_child_from_os_thread");
    assert!(out.contains("fork child exited with Some(42)"), "{out}");
}

#[test]
fn a_child_forked_from_a_ult_spawns_and_joins() {
    let out = run("ult", "fork_child_from_ult");
    assert!(out.contains("fork child exited with Some(42)"), "{out}");
}

#[test]
fn a_child_forked_from_a_ult_exits_0_when_the_ult_returns() {
    let out = run("ult-returns", "fork_child_ult_returns");
    assert!(out.contains("fork child exited with Some(0)"), "{out}");
}

weave::thread_local! {
    static KEPT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Child test process: a ULT that holds a lock, has a thread-local value
/// and an id forks; in the child its thread is the same thread.
#[test]
fn fork_child_from_ult_keeps_the_thread() {
    if std::env::var(CHILD).as_deref() != Ok("ult-keeps") {
        return;
    }
    let lock = std::sync::Arc::new(weave::sync::Mutex::new(0u32));
    let l = lock.clone();
    let status = thread::spawn(move || {
        KEPT.with(|k| k.set(7));
        let me = thread::current().id();
        let mut guard = l.lock().unwrap();
        // SAFETY: fork; the child ends in _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // The same id, its thread-local value, and the lock it holds,
            // which it can use and let go of.
            let code = if thread::current().id() != me {
                2
            } else if KEPT.with(|k| k.get()) != 7 {
                3
            } else {
                *guard += 1;
                drop(guard);
                if l.try_lock().map(|g| *g == 1).unwrap_or(false) {
                    42
                } else {
                    4
                }
            };
            // SAFETY: ends the child without running the parent's tests.
            unsafe { libc::_exit(code) };
        }
        drop(guard);
        weave::blocking(move || wait_exit(pid))
    })
    .join()
    .unwrap();
    println!("fork child exited with {status:?}");
}

#[test]
fn a_child_forked_from_a_ult_is_that_thread_with_its_id_values_and_locks() {
    let out = run("ult-keeps", "fork_child_from_ult_keeps_the_thread");
    assert!(out.contains("fork child exited with Some(42)"), "{out}");
}

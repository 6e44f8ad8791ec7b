//! The deadlock detector, on deadlocks made on purpose in child processes.
//!
//! Runs without libtest (`harness = false`): the detector reports only when
//! every thread of the process waits inside weave, and libtest's own
//! threads never do. `main` runs each check; a check re-runs this binary
//! with `WEAVE_DEADLOCK_SCENARIO` set, and the child plays the scenario.

use std::process::Command;
use std::time::Duration;
use weave::sync::{mpmc, Mutex};
use weave::thread;

const SCENARIO: &str = "WEAVE_DEADLOCK_SCENARIO";

/// Two ULTs take two mutexes in opposite orders; main joins.
fn two_mutexes() {
    let a: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
    let b: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
    let (go_tx, go_rx) = mpmc::bounded::<()>(0);
    let left = thread::Builder::new()
        .name("left".into())
        .spawn(move || {
            let _a = a.lock().unwrap();
            go_tx.send(()).unwrap(); // right holds b from here on
            let _b = b.lock().unwrap();
        })
        .unwrap();
    let right = thread::Builder::new()
        .name("right".into())
        .spawn(move || {
            let _b = b.lock().unwrap();
            go_rx.recv().unwrap(); // left holds a
            let _a = a.lock().unwrap();
        })
        .unwrap();
    left.join().unwrap();
    right.join().unwrap();
}

/// Two ULTs each wait to receive from the other; main joins.
fn two_channels() {
    let (to_pong, from_ping) = mpmc::bounded::<u32>(0);
    let (to_ping, from_pong) = mpmc::bounded::<u32>(0);
    let ping = thread::Builder::new()
        .name("ping".into())
        .spawn(move || {
            let _keep = to_pong; // never sends
            from_pong.recv().unwrap()
        })
        .unwrap();
    let pong = thread::Builder::new()
        .name("pong".into())
        .spawn(move || {
            let _keep = to_ping; // never sends either
            from_ping.recv().unwrap()
        })
        .unwrap();
    ping.join().unwrap();
    pong.join().unwrap();
}

/// A ULT waits on a channel that a plain OS thread (never registered with
/// weave) fills after a while: not a deadlock.
fn wait_on_os_thread() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let waiter = thread::Builder::new()
        .name("waits-for-os".into())
        .spawn(move || rx.recv().unwrap())
        .unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        tx.send(7).unwrap();
    });
    println!("received {}", waiter.join().unwrap());
}

/// A ULT waits in `accept`; another process connects after a while. The
/// only wake-up can come from outside: not a deadlock.
fn wait_on_a_socket() {
    let l = weave::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let acceptor = thread::Builder::new()
        .name("acceptor".into())
        .spawn(move || l.accept().map(|(_, peer)| peer.ip()))
        .unwrap();
    let mut peer = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "sleep 0.4; exec 3<>/dev/tcp/127.0.0.1/{port}; sleep 0.2"
        ))
        .spawn()
        .unwrap();
    println!("accepted from {}", acceptor.join().unwrap().unwrap());
    peer.wait().unwrap();
}

/// A plain OS thread takes a weave mutex (which registers it), leaks the
/// guard and exits a while later without waking anyone; a ULT waits for
/// that mutex and main joins the ULT. Once the OS thread is gone nothing
/// can end either wait: a deadlock, found when the thread exits.
fn os_thread_exits_holding_a_lock() {
    let m: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::Builder::new()
        .name("leaves-a-lock".into())
        .spawn(move || {
            std::mem::forget(m.lock().unwrap());
            locked_tx.send(()).unwrap();
            // Long enough for the ULT to block and every LWP to go idle:
            // the checks made meanwhile see this thread alive.
            std::thread::sleep(Duration::from_millis(300));
        })
        .unwrap();
    locked_rx.recv().unwrap();
    let waiter = thread::Builder::new()
        .name("waits-for-a-gone-thread".into())
        .spawn(move || *m.lock().unwrap())
        .unwrap();
    drop(holder); // detached: main does not wait for it outside weave
    waiter.join().unwrap();
}

/// The porting trap, on one LWP: a ULT holds a `std::sync::Mutex` across a
/// weave sleep; the next ULT on the LWP blocks the LWP in that mutex, so
/// the sleeper's timer never fires and neither can go on.
fn std_mutex_across_a_weave_wait() {
    let m: &'static std::sync::Mutex<u32> = Box::leak(Box::new(std::sync::Mutex::new(0)));
    let a = thread::Builder::new()
        .name("holds-std-lock".into())
        .spawn(move || {
            let mut g = m.lock().unwrap();
            thread::sleep(Duration::from_millis(20));
            *g += 1;
        })
        .unwrap();
    let b = thread::Builder::new()
        .name("wants-std-lock".into())
        .spawn(move || *m.lock().unwrap())
        .unwrap();
    a.join().unwrap();
    b.join().unwrap();
}

/// The parent lists its threads for a deadlock check first (a ULT waits
/// on a plain OS thread while `main` joins it), then forks: the child's
/// deadlock must be found by a check that lists the child's threads, not
/// the parent's, whose list the monitor keeps open.
fn deadlock_in_a_fork_child() {
    wait_on_os_thread();
    // SAFETY: the child only plays `two_channels`, which ends in the
    // detector's exit (or is killed by the test as a hang).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        two_channels();
        // SAFETY: _exit ends the child without the parent's handlers.
        unsafe { libc::_exit(0) };
    }
    // A child that hangs is killed (it holds the test's pipes: the test
    // would wait for ever).
    let mut status = 0;
    let start = std::time::Instant::now();
    // SAFETY: waits for, and may kill, our own child.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0 {
        if start.elapsed() > Duration::from_secs(30) {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    println!("fork child exited with {code:?}");
}

/// Runs a scenario in a child process; a child still running after a
/// minute is killed (a hang is a failure, status `None`).
fn run(scenario: &str) -> (Option<i32>, String, String) {
    use std::io::Read;
    let lwps = if scenario == "std-mutex" { "1" } else { "0" };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(SCENARIO, scenario)
        .env("WEAVE_LWPS", lwps)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (status, out, err)
}

fn a_two_mutex_deadlock_is_reported() -> Result<(), String> {
    let (code, _, err) = run("mutex");
    let ok = code == Some(2)
        && err.contains("all threads are blocked: deadlock")
        && err.contains("thread 'left'")
        && err.contains("waits for a Mutex 0x")
        && err.contains(", held by thread 'right'")
        && err.contains("held by thread 'left'")
        && err.contains("OS thread) waits to join thread 'left'");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stderr:\n{err}"))
}

fn a_channel_deadlock_is_reported() -> Result<(), String> {
    let (code, _, err) = run("channel");
    let ok = code == Some(2)
        && err.contains("thread 'ping'")
        && err.contains("waits on a channel")
        && err.contains("thread 'pong'");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stderr:\n{err}"))
}

fn a_wait_that_an_os_thread_will_end_is_not_a_deadlock() -> Result<(), String> {
    let (code, out, err) = run("os-wait");
    let ok = code == Some(0) && out.contains("received 7") && !err.contains("deadlock");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stdout {out}, stderr:\n{err}"))
}

fn an_os_thread_that_exits_without_waking_anyone_triggers_a_check() -> Result<(), String> {
    let (code, _, err) = run("os-exit");
    let ok = code == Some(2)
        && err.contains("all threads are blocked: deadlock")
        && err.contains("thread 'waits-for-a-gone-thread'")
        && err.contains("waits for a Mutex");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stderr:\n{err}"))
}

fn a_std_mutex_held_across_a_weave_wait_is_reported() -> Result<(), String> {
    let (code, _, err) = run("std-mutex");
    let ok = code == Some(2)
        && err.contains("all threads are blocked: deadlock")
        && err.contains("thread 'wants-std-lock'")
        && err.contains("blocks LWP 0 in the kernel in a futex wait")
        && err.contains("thread 'holds-std-lock'");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stderr:\n{err}"))
}

fn a_deadlock_in_the_child_of_a_fork_is_reported() -> Result<(), String> {
    let (code, out, err) = run("fork");
    let ok = code == Some(0)
        && out.contains("fork child exited with Some(2)")
        && err.contains("all threads are blocked: deadlock")
        && err.contains("thread 'ping'");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stdout {out}, stderr:\n{err}"))
}

/// A check: its name, and whether it passed (with what it saw if not).
type Check = (&'static str, fn() -> Result<(), String>);

fn a_wait_for_a_socket_is_not_a_deadlock() -> Result<(), String> {
    let (code, out, err) = run("net-wait");
    let ok =
        code == Some(0) && out.contains("accepted from 127.0.0.1") && !err.contains("deadlock");
    ok.then_some(())
        .ok_or(format!("status {code:?}, stdout {out}, stderr:\n{err}"))
}

fn main() {
    match std::env::var(SCENARIO).as_deref() {
        Ok("mutex") => return two_mutexes(),
        Ok("channel") => return two_channels(),
        Ok("os-wait") => return wait_on_os_thread(),
        Ok("net-wait") => return wait_on_a_socket(),
        Ok("os-exit") => return os_thread_exits_holding_a_lock(),
        Ok("std-mutex") => return std_mutex_across_a_weave_wait(),
        Ok("fork") => return deadlock_in_a_fork_child(),
        Ok(other) => panic!("no scenario {other:?}"),
        Err(_) => {}
    }
    let checks: [Check; 7] = [
        (
            "a_two_mutex_deadlock_is_reported",
            a_two_mutex_deadlock_is_reported,
        ),
        (
            "a_channel_deadlock_is_reported",
            a_channel_deadlock_is_reported,
        ),
        (
            "a_wait_that_an_os_thread_will_end_is_not_a_deadlock",
            a_wait_that_an_os_thread_will_end_is_not_a_deadlock,
        ),
        (
            "a_wait_for_a_socket_is_not_a_deadlock",
            a_wait_for_a_socket_is_not_a_deadlock,
        ),
        (
            "an_os_thread_that_exits_without_waking_anyone_triggers_a_check",
            an_os_thread_that_exits_without_waking_anyone_triggers_a_check,
        ),
        (
            "a_std_mutex_held_across_a_weave_wait_is_reported",
            a_std_mutex_held_across_a_weave_wait_is_reported,
        ),
        (
            "a_deadlock_in_the_child_of_a_fork_is_reported",
            a_deadlock_in_the_child_of_a_fork_is_reported,
        ),
    ];
    let mut failed = 0;
    for (name, check) in checks {
        match check() {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n{e}");
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        checks.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

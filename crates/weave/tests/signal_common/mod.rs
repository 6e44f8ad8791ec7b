//! Shared by the signal tests (`tests/signal/`, and the binaries that
//! borrow it). Each scenario installs process-wide handlers, so it runs in
//! a child process of the test binary (the test re-runs itself with
//! `--exact PATH`, the test's full name, and an environment variable),
//! where nothing else shares its signals; a watchdog turns a hang into a
//! failure.
//!
//! A test names itself by its function's name through the macros
//! (`in_child!("name")`, `is_child!`, `child_output!`), which add the
//! module path that libtest puts before it (`fork::name` in
//! `tests/signal/fork.rs`); the functions take the full name.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CHILD: &str = "WEAVE_SIGNAL_TEST_CHILD";

/// The full name libtest gives test `name` of the module at `module` (a
/// `module_path!()`): the path without the crate's name, then `name`.
pub fn test_path(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    }
}

/// [`in_child`] for test `name` of the calling module.
#[allow(unused_macros)]
macro_rules! in_child {
    ($name:expr) => {
        $crate::signal_common::in_child(&$crate::signal_common::test_path(module_path!(), $name))
    };
}

/// [`is_child`] for test `name` of the calling module.
#[allow(unused_macros)]
macro_rules! is_child {
    ($name:expr) => {
        $crate::signal_common::is_child(&$crate::signal_common::test_path(module_path!(), $name))
    };
}

/// [`child_output`] for test `name` of the calling module.
#[allow(unused_macros)]
macro_rules! child_output {
    ($name:expr) => {
        $crate::signal_common::child_output(&$crate::signal_common::test_path(
            module_path!(),
            $name,
        ))
    };
}

/// In the test process: runs the test whose full name is `name` in a
/// child and asserts that it passed; returns false. In that child: starts
/// a watchdog and returns true (the caller runs the scenario).
pub fn in_child(name: &str) -> bool {
    if let Ok(n) = std::env::var(CHILD) {
        if n != name {
            return false;
        }
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_secs(60));
            eprintln!("watchdog: the scenario hung for 60 s");
            std::process::exit(3);
        });
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child scenario {name} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran no scenario named {name}"
    );
    false
}

/// The kernel thread id of LWP `index`, once it has one: an LWP's thread
/// says its id as it first runs, which under load may come after the
/// runtime lists it (with id 0, which `tgkill` refuses: `EINVAL`).
pub fn lwp_tid(index: usize) -> i32 {
    let tid = || {
        weave::lwps()
            .into_iter()
            .find(|l| l.index == index)
            .map(|l| l.tid)
            .expect("the LWP exists")
    };
    wait_until(|| tid() > 0);
    tid()
}

/// Sends `sig` to one kernel thread of this process.
pub fn tgkill(tid: i32, sig: i32) {
    // SAFETY: tgkill to a thread of our own process.
    until_queued("tgkill", || unsafe {
        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) as i32
    });
}

/// Sends `sig` with `value` to this process (`sigqueue`).
pub fn sigqueue_self(sig: i32, value: usize) {
    // SAFETY: sigqueue to our own process with a valid sigval.
    until_queued("sigqueue", || unsafe {
        libc::sigqueue(
            libc::getpid(),
            sig,
            libc::sigval {
                sival_ptr: value as *mut libc::c_void,
            },
        )
    });
}

/// Makes a send (`send` returns 0 or -1 with `errno`) until the kernel
/// queues it. `EAGAIN` is the kernel's queue of pending signals full: the
/// limit (`RLIMIT_SIGPENDING`) counts every process of the user, and other
/// tests may fill it for a while. Panics on any other error, or after 30 s.
fn until_queued(what: &str, mut send: impl FnMut() -> i32) {
    let start = Instant::now();
    while send() != 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{what} failed: {e}");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: queue full for 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spins (yielding the CPU) until `flag` is set; panics after 30 s.
pub fn wait_for(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(start.elapsed() < Duration::from_secs(30), "waited 30 s");
        if weave::thread::current_lwp().is_some() {
            weave::thread::yield_now();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Polls `cond` (sleeping between looks) until it holds; panics after 30 s.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "waited 30 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `sig` is pending for the calling OS thread or the process.
pub fn pending_here(sig: i32) -> bool {
    // SAFETY: a zeroed sigset_t is a valid out-value for sigpending.
    let mut s: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `s` is a valid out-pointer.
    unsafe { libc::sigpending(&mut s) };
    // SAFETY: `s` is a valid set.
    unsafe { libc::sigismember(&s, sig) == 1 }
}

/// Whether every kernel thread of the process blocks `sig` now (`SigBlk`
/// in its `/proc` status): LWPs, and threads weave does not know (the
/// test harness's, the watchdog's), which case 4 blocks as it passes.
/// Then a signal pending for the process can reach none of them, and
/// case 4 has settled. Merely pending (`pending_here`) is not enough: the
/// kernel may have picked a thread that has not yet run the handler that
/// blocks it there, and that thread would route it as a ULT unblocks.
pub fn blocked_by_every_thread(sig: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.flatten().all(|task| {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            // The thread has ended.
            return true;
        };
        status
            .lines()
            .find_map(|line| line.strip_prefix("SigBlk:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
    })
}

/// Spins on the CPU, never yielding the LWP, until `flag` is set (so that
/// the ULT stays the one its LWP runs); panics after 30 s.
pub fn spin_for(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(start.elapsed() < Duration::from_secs(30), "spun 30 s");
        std::hint::spin_loop();
    }
}

/// Runs the test whose full name is `name` in a child (as [`in_child`])
/// and returns its status and output, for scenarios whose end is the
/// child's death.
pub fn child_output(name: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap()
}

/// Whether this process is the child running the test whose full name is
/// `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|n| n == name)
}

/// Waits until thread `id` is blocked inside weave (in the thread table).
pub fn wait_blocked(id: weave::thread::ThreadId) {
    wait_until(|| {
        weave::thread::threads()
            .iter()
            .any(|t| t.id == id && matches!(t.state, weave::thread::ThreadState::Blocked(_)))
    });
}

/// A bound ULT that changes its mask (`how` `set`), then runs on its own
/// LWP, never yielding it, until `stop`; returns its handle (joining gives
/// its id) and the index of its LWP, once it runs.
pub fn bound_spinner(
    how: weave::signal::How,
    set: weave::signal::SigSet,
    stop: &std::sync::Arc<AtomicBool>,
) -> (weave::thread::JoinHandle<weave::thread::ThreadId>, usize) {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    let started = Arc::new(AtomicBool::new(false));
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (s, l, st) = (started.clone(), lwp.clone(), stop.clone());
    let h = weave::thread::Builder::new()
        .bound()
        .spawn(move || {
            weave::signal::mask(how, &set);
            l.store(weave::thread::current_lwp().unwrap(), Ordering::SeqCst);
            s.store(true, Ordering::SeqCst);
            spin_for(&st);
            weave::thread::current().id()
        })
        .unwrap();
    wait_for(&started);
    (h, lwp.load(Ordering::SeqCst))
}

//! The deadlock report shows each blocked ULT's stack, as the thread dump
//! does.
//!
//! Runs without libtest (`harness = false`), as `tests/deadlock.rs`: the
//! detector reports only when every thread of the process waits inside
//! weave. `main` re-runs this binary with `WEAVE_DUMP_DEADLOCK_CHILD` set;
//! the child deadlocks on purpose.

use std::process::Command;
use std::time::Duration;

use weave::sync::{mpmc, Mutex};
use weave::thread;

const CHILD: &str = "WEAVE_DUMP_DEADLOCK_CHILD";

#[inline(never)]
fn left_takes_b_while_holding_a(a: &Mutex<u32>, b: &Mutex<u32>, go: mpmc::Sender<()>) {
    let _a = a.lock().unwrap();
    go.send(()).unwrap();
    let _b = b.lock().unwrap();
    std::hint::black_box(());
}

#[inline(never)]
fn right_takes_a_while_holding_b(a: &Mutex<u32>, b: &Mutex<u32>, go: mpmc::Receiver<()>) {
    let _b = b.lock().unwrap();
    go.recv().unwrap();
    let _a = a.lock().unwrap();
    std::hint::black_box(());
}

fn child() {
    let a: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
    let b: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
    let (tx, rx) = mpmc::bounded::<()>(0);
    let left = thread::Builder::new()
        .name("left".into())
        .spawn(move || left_takes_b_while_holding_a(a, b, tx))
        .unwrap();
    let right = thread::Builder::new()
        .name("right".into())
        .spawn(move || right_takes_a_while_holding_b(a, b, rx))
        .unwrap();
    left.join().unwrap();
    right.join().unwrap();
}

/// The report of a deadlock names, under each ULT, the function it
/// blocked in.
fn the_deadlock_report_shows_each_threads_stack() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD, "1").env_remove("WEAVE_WARN");
    let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
    // A watchdog turns a hang (no report) into a failure.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            panic!("no deadlock report within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("deadlock"), "{err}");
    // Each thread's line is followed by its stack.
    let after = |who: &str| {
        let i = err
            .find(who)
            .unwrap_or_else(|| panic!("{who} not in:\n{err}"));
        err[i..].to_string()
    };
    assert!(
        after("thread 'left'").contains("left_takes_b_while_holding_a"),
        "{err}"
    );
    assert!(
        after("thread 'right'").contains("right_takes_a_while_holding_b"),
        "{err}"
    );
    the_deadlock_report_names_the_mutex_each_thread_waits_for(&err);
}

/// The report names the mutex each thread waits for: the two threads of a
/// lock-order deadlock wait for two different mutexes.
fn the_deadlock_report_names_the_mutex_each_thread_waits_for(err: &str) {
    let mutex_of = |who: &str| {
        let line = err
            .lines()
            .find(|l| l.trim_start().starts_with(who))
            .unwrap_or_else(|| panic!("{who} not in:\n{err}"));
        let i = line
            .find("waits for a Mutex 0x")
            .unwrap_or_else(|| panic!("no mutex address in: {line}"));
        line[i + "waits for a Mutex ".len()..]
            .split([',', ' '])
            .next()
            .unwrap()
            .to_string()
    };
    assert_ne!(
        mutex_of("thread 'left'"),
        mutex_of("thread 'right'"),
        "{err}"
    );
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    the_deadlock_report_shows_each_threads_stack();
    println!("dump_deadlock: 2 checks passed");
}

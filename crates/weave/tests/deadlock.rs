//! The deadlock detector, on the `deadlock` example run as a child.

use std::path::PathBuf;
use std::process::Command;

/// The example binary: built by `cargo test` next to this test's binary.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("deadlock")
}

fn run(mode: &str) -> (Option<i32>, String, String) {
    let out = Command::new(example())
        .arg(mode)
        .env_remove("WEAVE_LWPS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", example()));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_two_mutex_deadlock_is_reported() {
    let (code, _, err) = run("mutex");
    assert_eq!(code, Some(2), "exits with status 2:\n{err}");
    assert!(err.contains("all threads are blocked: deadlock"), "{err}");
    assert!(
        err.contains("thread 'left'") && err.contains("waits for a Mutex, held by thread 'right'"),
        "{err}"
    );
    assert!(
        err.contains("thread 'right'") && err.contains("held by thread 'left'"),
        "{err}"
    );
    assert!(
        err.contains("OS thread) waits to join thread 'left'"),
        "{err}"
    );
}

#[test]
fn a_channel_deadlock_is_reported() {
    let (code, _, err) = run("channel");
    assert_eq!(code, Some(2), "exits with status 2:\n{err}");
    assert!(
        err.contains("thread 'ping'") && err.contains("waits on a channel"),
        "{err}"
    );
    assert!(err.contains("thread 'pong'"), "{err}");
}

#[test]
fn a_wait_that_an_os_thread_will_end_is_not_a_deadlock() {
    let (code, out, err) = run("os-wait");
    assert_eq!(code, Some(0), "finishes normally:\n{err}");
    assert!(out.contains("received 7"), "{out}");
    assert!(!err.contains("deadlock"), "{err}");
}

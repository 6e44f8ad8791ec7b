//! Shared by the behaviour tests that must see a thread parked before
//! they go on (a waker that must find a waiter queued, an order of
//! arrival): waits, through the thread table, until a thread is blocked.
//! From a ULT it yields between looks, so that the thread it waits for
//! can run on the same LWP; from an OS thread it sleeps 1 ms. A thread
//! that never blocks fails the test after 60 s, naming it.
#![allow(dead_code)] // each test file uses the waits it needs

use std::time::{Duration, Instant};
use weave::thread::{self, BlockReason, ThreadId, ThreadState};

/// Waits until thread `id` is blocked for `reason`.
pub fn wait_blocked(id: ThreadId, reason: BlockReason) {
    wait_state(id, &format!("blocked on {reason:?}"), |s| {
        s == ThreadState::Blocked(reason)
    });
}

/// Waits until thread `id` is blocked, for any reason.
pub fn wait_blocked_any(id: ThreadId) {
    wait_state(id, "blocked", |s| matches!(s, ThreadState::Blocked(_)));
}

fn wait_state(id: ThreadId, what: &str, done: impl Fn(ThreadState) -> bool) {
    let start = Instant::now();
    loop {
        let row = thread::threads().into_iter().find(|t| t.id == id);
        if row.as_ref().is_some_and(|t| done(t.state)) {
            return;
        }
        if start.elapsed() >= Duration::from_secs(60) {
            panic!(
                "thread {id:?} was not {what} within 60 s: {row:?}; the process's threads:\n{}",
                weave::dump()
            );
        }
        if thread::current_lwp().is_some() {
            thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Joins `h`, failing the test, with `what` in the message, if it has not
/// ended within 60 s (a lost wake-up) or if it panicked.
pub fn join_or_fail<T: Send + 'static>(h: thread::JoinHandle<T>, what: &str) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => panic!("{what} panicked"),
        Err(_) => panic!("{what} did not end within a minute (a lost wake-up?)"),
    }
}

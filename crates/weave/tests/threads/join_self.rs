//! A thread that joins itself fails at once with std's `EDEADLK` panic,
//! instead of waiting for ever (or until the deadlock detector).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use weave::sync::mpsc;
use weave::thread;

/// std's message for `JoinHandle::join` on the current thread.
const STD_MESSAGE: &str = "failed to join thread: Resource deadlock avoided (os error 35)";

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn joining_oneself_panics_with_edeadlk() {
    let (handle_tx, handle_rx) = mpsc::channel::<thread::JoinHandle<()>>();
    let (out_tx, out_rx) = std_mpsc::channel();
    let h = thread::spawn(move || {
        let me = handle_rx.recv().unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| me.join()));
        let _ = out_tx.send(r.err().map(message));
    });
    handle_tx.send(h).unwrap();
    let got = out_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a thread joining itself is still waiting after 60 s");
    assert_eq!(got.as_deref(), Some(STD_MESSAGE));
}

#[test]
fn joining_oneself_in_a_scope_panics_with_edeadlk() {
    let (out_tx, out_rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        thread::scope(|s| {
            let (handle_tx, handle_rx) = mpsc::channel();
            let h = s.spawn(move || {
                let me: thread::ScopedJoinHandle<'_, ()> = handle_rx.recv().unwrap();
                let r = catch_unwind(AssertUnwindSafe(|| me.join()));
                let _ = out_tx.send(r.err().map(message));
            });
            handle_tx.send(h).unwrap();
        });
    });
    let got = out_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a scoped thread joining itself is still waiting after 60 s");
    assert_eq!(got.as_deref(), Some(STD_MESSAGE));
}

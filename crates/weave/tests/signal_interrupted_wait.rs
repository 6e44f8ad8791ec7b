//! "Interrupted" stays visible to callers that ask for it:
//! `Semaphore::acquire_interruptible` (the C API's `sem_wait`) returns
//! `Err(Interrupted)` when a handler runs for the waiting ULT, where
//! `acquire` waits on (`SA_RESTART`).

mod signal_common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use signal_common::{in_child, wait_blocked, wait_until};
use weave::signal;
use weave::sync::{Interrupted, Semaphore};
use weave::thread;

const SIG: i32 = libc::SIGUSR1;

#[test]
fn interruptible_acquire_returns_interrupted_after_the_handler_ran() {
    if !in_child("interruptible_acquire_returns_interrupted_after_the_handler_ran") {
        return;
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    signal::handle_on_target(SIG, move |_| {
        r.fetch_add(1, SeqCst);
    })
    .unwrap();
    let sem = Arc::new(Semaphore::new(0));
    let (s, r2) = (sem.clone(), runs.clone());
    let t = thread::spawn(move || {
        let got = s.acquire_interruptible().map(|p| p.forget());
        (got, r2.load(SeqCst))
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    let (got, runs_then) = t.join().unwrap();
    assert_eq!(got, Err(Interrupted));
    assert_eq!(runs_then, 1, "the handler ran before the wait returned");
    assert_eq!(sem.available_permits(), 0, "no permit was taken");
}

#[test]
fn plain_acquire_waits_on_after_a_handler() {
    if !in_child("plain_acquire_waits_on_after_a_handler") {
        return;
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    signal::handle_on_target(SIG, move |_| {
        r.fetch_add(1, SeqCst);
    })
    .unwrap();
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let t = thread::spawn(move || {
        s.acquire().forget();
        signal::take_interrupted()
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    wait_until(|| runs.load(SeqCst) == 1);
    wait_blocked(t.thread().id());
    sem.release(1);
    assert!(t.join().unwrap(), "take_interrupted reports the handler");
}

//! `Once::call_once_force` (with `OnceState`), `Once::wait` and
//! `Once::wait_force`, as std's: a forced call runs on a poisoned `Once`
//! and can complete it; `wait` blocks the ULT until another call
//! completes it and panics on poison; `wait_force` waits through poison.

use crate::wait_common::wait_blocked;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use weave::sync::Once;
use weave::thread::BlockReason;

fn poisoned_once() -> Once {
    let once = Once::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"))
    }));
    assert!(r.is_err());
    once
}

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn call_once_force_on_a_fresh_once_is_told_not_poisoned() {
    let once = Once::new();
    let mut seen = None;
    once.call_once_force(|s| seen = Some(s.is_poisoned()));
    assert_eq!(seen, Some(false));
    assert!(once.is_completed());
    once.call_once_force(|_| panic!("a completed Once ran a forced call"));
}

#[test]
fn call_once_force_runs_on_a_poisoned_once_and_completes_it() {
    let once = poisoned_once();
    let mut seen = None;
    once.call_once_force(|s| seen = Some(s.is_poisoned()));
    assert_eq!(seen, Some(true));
    assert!(once.is_completed());
    // Completed now: call_once neither panics nor runs.
    once.call_once(|| panic!("ran after a forced completion"));
}

#[test]
fn a_panicking_forced_call_leaves_the_once_poisoned() {
    let once = poisoned_once();
    let r = catch_unwind(AssertUnwindSafe(|| {
        once.call_once_force(|_| panic!("again"))
    }));
    assert!(r.is_err());
    assert!(!once.is_completed());
    let r = catch_unwind(AssertUnwindSafe(|| once.call_once(|| {})));
    assert!(
        r.is_err(),
        "call_once on a still-poisoned Once did not panic"
    );
}

#[test]
fn wait_blocks_the_ult_until_another_thread_completes_the_once() {
    let once = Arc::new(Once::new());
    let done = Arc::new(AtomicBool::new(false));
    let (o, d) = (once.clone(), done.clone());
    let waiter = weave::thread::spawn(move || {
        o.wait();
        assert!(o.is_completed());
        d.load(SeqCst)
    });
    wait_blocked(waiter.thread().id(), BlockReason::Once);
    once.call_once(|| done.store(true, SeqCst));
    assert!(
        waiter.join().unwrap(),
        "wait returned before the initialiser ran"
    );
}

#[test]
fn wait_on_a_poisoned_once_panics_with_stds_message() {
    let once = poisoned_once();
    let e = catch_unwind(AssertUnwindSafe(|| once.wait())).unwrap_err();
    assert_eq!(
        panic_message(e),
        "Once instance has previously been poisoned"
    );
}

#[test]
fn wait_force_waits_through_poison_until_a_forced_call_completes() {
    let once = Arc::new(poisoned_once());
    let o = once.clone();
    let waiter = weave::thread::spawn(move || {
        o.wait_force();
        o.is_completed()
    });
    wait_blocked(waiter.thread().id(), BlockReason::Once);
    once.call_once_force(|s| assert!(s.is_poisoned()));
    assert!(waiter.join().unwrap());
}

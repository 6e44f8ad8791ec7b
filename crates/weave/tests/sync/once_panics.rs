//! A panicking initialiser poisons a `Once` (later callers, and callers
//! that were waiting, panic, as std's) but leaves a `OnceLock` empty for
//! the next caller to retry (as std's).

use crate::wait_common::wait_blocked;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use weave::sync::{Once, OnceLock, Semaphore};
use weave::thread::BlockReason;

#[test]
fn a_panic_in_call_once_poisons_the_once() {
    let once = Once::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"))
    }));
    assert!(r.is_err());
    assert!(!once.is_completed());
    let mut ran = false;
    let r = catch_unwind(AssertUnwindSafe(|| once.call_once(|| ran = true)));
    assert!(r.is_err(), "a poisoned Once must panic");
    assert!(!ran, "a poisoned Once ran a second initialiser");
}

#[test]
fn a_ult_waiting_on_a_once_whose_initialiser_panics_panics_too() {
    let once = Arc::new(Once::new());
    let go = Arc::new(Semaphore::new(0));
    let (o1, g1) = (once.clone(), go.clone());
    let init = weave::thread::spawn(move || {
        o1.call_once(|| {
            g1.acquire().forget();
            panic!("init failed");
        })
    });
    // The initialiser holds the Once, waiting for `go`.
    wait_blocked(init.thread().id(), BlockReason::Semaphore);
    let o2 = once.clone();
    let waiter = weave::thread::spawn(move || o2.call_once(|| {}));
    wait_blocked(waiter.thread().id(), BlockReason::Once);
    go.release(1);
    assert!(init.join().is_err());
    assert!(waiter.join().is_err(), "the waiter did not see the poison");
}

#[test]
fn a_panic_in_get_or_init_leaves_the_cell_empty_for_a_retry() {
    let cell: OnceLock<u32> = OnceLock::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        cell.get_or_init(|| panic!("init failed"))
    }));
    assert!(r.is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| 7), 7, "the retry did not run");
    assert_eq!(cell.set(8), Err(8));
}

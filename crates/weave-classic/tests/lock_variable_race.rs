//! The lock variable's race, made to happen on real threads.
//!
//! The interleaving is forced rather than hoped for: both threads finish the
//! first half of entering (reading 0) before either does the second (writing
//! 1), so the test is deterministic and would fail for any lock whose read
//! and write were one step.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Barrier;
use std::thread;
use weave_classic::LockVariable;

#[test]
fn two_threads_that_both_read_zero_are_both_inside() {
    let lock = LockVariable::new();
    let both_read_zero = Barrier::new(2);
    let both_inside = Barrier::new(2);
    let inside = AtomicUsize::new(0);
    let most_inside = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let observed = lock.wait_until_free();
                both_read_zero.wait();
                let guard = observed.take();
                let now = inside.fetch_add(1, Relaxed) + 1;
                most_inside.fetch_max(now, Relaxed);
                both_inside.wait();
                inside.fetch_sub(1, Relaxed);
                drop(guard);
            });
        }
    });
    assert_eq!(most_inside.load(Relaxed), 2);
}

#[test]
fn a_thread_that_reads_after_the_write_waits() {
    let lock = LockVariable::new();
    let guard = lock.wait_until_free().take();
    let entered = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            let _inside = lock.wait_until_free().take();
            entered.store(1, Relaxed);
        });
        // The waiter can only get in after the guard drops; give it a
        // moment to be waiting (it would not matter if it had not started).
        thread::sleep(std::time::Duration::from_millis(10));
        assert_eq!(
            entered.load(Relaxed),
            0,
            "entered while the variable read 1"
        );
        drop(guard);
    });
    assert_eq!(entered.load(Relaxed), 1);
}

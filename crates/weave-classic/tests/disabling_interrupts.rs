//! "Disabling interrupts" on OS threads: what it does and what it cannot do.
//!
//! With [`OsThread`] there is no user-level preemption to turn off, so the
//! lock excludes no one on another LWP; with a [`Preemption`] that does
//! something, the lock holds it off exactly for the critical region. When
//! weave plugs in its own `Preemption`, the second test's shape applies to
//! it unchanged, and a test with two ULTs on one LWP can show the exclusion
//! this lock does give.
#![cfg(not(loom))]

use std::cell::Cell;
use std::sync::Barrier;
use std::thread;
use weave_classic::{CriticalSection, InterruptLock, OsThread, Preemption};

#[test]
fn disabling_interrupts_does_not_exclude_another_lwp() {
    let lock = InterruptLock::<OsThread>::new();
    let first_inside = Barrier::new(2);
    let second_inside = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            let _inside = lock.enter(());
            first_inside.wait();
            // Still inside while the other thread enters.
            second_inside.wait();
        });
        first_inside.wait();
        let other = lock.try_enter(());
        assert!(other.is_some(), "a second LWP was kept out");
        second_inside.wait();
    });
}

thread_local! {
    /// How many guards of `CountingPreemption` this thread holds.
    static OFF: Cell<u32> = const { Cell::new(0) };
}

/// A preemption switch that only counts, per thread.
struct CountingPreemption;

struct On;

impl Drop for On {
    fn drop(&mut self) {
        OFF.with(|off| off.set(off.get() - 1));
    }
}

impl Preemption for CountingPreemption {
    type Guard = On;

    fn disable() -> On {
        OFF.with(|off| off.set(off.get() + 1));
        On
    }
}

#[test]
fn preemption_stays_off_for_exactly_the_critical_region() {
    let lock = InterruptLock::<CountingPreemption>::default();
    assert_eq!(OFF.with(Cell::get), 0);
    let inside = lock.enter(());
    assert_eq!(OFF.with(Cell::get), 1);
    drop(inside);
    assert_eq!(OFF.with(Cell::get), 0);
    let inside = lock
        .try_enter(())
        .expect("disabling preemption never waits");
    assert_eq!(OFF.with(Cell::get), 1);
    drop(inside);
    assert_eq!(OFF.with(Cell::get), 0);
}

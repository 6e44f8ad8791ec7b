//! Every correct algorithm counts exactly under contention on real threads.
//!
//! Each thread adds 1 to a shared `u64` `ROUNDS` times through a [`Lock`];
//! a lost update (two threads inside at once, or a critical region not
//! seeing the previous one's write) would leave the total short. The
//! N-thread locks run with more threads than the CI machine has CPUs, so
//! holders are also descheduled while others wait.
#![cfg(not(loom))]

use std::thread;
use weave_classic::{
    Lock, MutualExclusion, Peterson, Side, StrictAlternation, TicketLock, TslLock, TtasLock,
};

/// Increments per thread: enough for thousands of handovers, small enough
/// for the ticket lock's convoys on 2 CPUs in a debug build.
const ROUNDS: u64 = 20_000;

/// Threads for the N-thread locks.
const THREADS: u64 = 4;

fn count_with<L: MutualExclusion<Id = ()> + Default>() {
    let counter = Lock::new(L::default(), 0_u64);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    *counter.lock() += 1;
                }
            });
        }
    });
    assert_eq!(counter.into_inner(), THREADS * ROUNDS);
}

fn count_with_two_sides<L: MutualExclusion<Id = Side> + Default>() {
    let mut counter = Lock::new(L::default(), 0_u64);
    let (mut zero, mut one) = counter.split();
    thread::scope(|s| {
        s.spawn(move || {
            for _ in 0..ROUNDS {
                *zero.lock() += 1;
            }
        });
        s.spawn(move || {
            for _ in 0..ROUNDS {
                *one.lock() += 1;
            }
        });
    });
    assert_eq!(counter.into_inner(), 2 * ROUNDS);
}

#[test]
fn tsl_counts_every_increment_under_contention() {
    count_with::<TslLock>();
}

#[test]
fn ttas_counts_every_increment_under_contention() {
    count_with::<TtasLock>();
}

#[test]
fn ticket_lock_counts_every_increment_under_contention() {
    count_with::<TicketLock>();
}

#[test]
fn peterson_counts_every_increment_under_contention() {
    count_with_two_sides::<Peterson>();
}

#[test]
fn strict_alternation_counts_every_increment_when_both_sides_want_equally() {
    count_with_two_sides::<StrictAlternation>();
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let lock = Lock::new(TicketLock::new(), ());
    let held = lock.lock();
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().is_none()));
    });
    drop(held);
    assert!(lock.try_lock().is_some());
}

#[test]
fn strict_alternation_refuses_the_same_side_twice_in_a_row() {
    let mut lock = Lock::new(StrictAlternation::new(), 0);
    let (mut zero, mut one) = lock.split();
    *zero.lock() += 1;
    assert!(
        zero.try_lock().is_none(),
        "side zero re-entered out of turn"
    );
    *one.lock() += 1;
    assert!(zero.try_lock().is_some());
}

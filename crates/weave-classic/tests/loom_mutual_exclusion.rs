//! Condition 1, mutual exclusion, under every interleaving loom explores.
//!
//! Each model runs the real algorithm (its atomics come from loom through
//! `crate::sync`) with two or three threads that each enter and leave the
//! critical region. Inside, an occupancy counter panics with [`VIOLATION`]
//! if another thread is already there, and for the correct algorithms a loom
//! `UnsafeCell` is written, so loom also panics if one critical region is not
//! ordered after the previous one by happens-before (a lock that excludes in
//! time but lets the data race).
//!
//! The correct algorithms must pass. For the broken ones (the lock variable,
//! the textbook Peterson, disabling interrupts across two LWPs) the test
//! asserts that loom *finds* the violating interleaving: each of those tests
//! fails if the algorithm were in fact correct.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p weave-classic --release --tests`
//! The preemption bound (default [`PREEMPTIONS`]) can be raised with
//! `LOOM_MAX_PREEMPTIONS` for a deeper, slower search.
#![cfg(loom)]

mod loom_support;

use loom_support::{check, check_finds, VIOLATION};
use weave_classic::{
    InterruptLock, LockVariable, Peterson, Side, StrictAlternation, TextbookPeterson, TicketLock,
    TslLock, TtasLock,
};

/// Preemptions per execution for the two-thread models: enough for every
/// textbook counterexample (the lock variable needs 1, the store-buffer
/// interleaving of the textbook Peterson none at all: it is a stale read).
const PREEMPTIONS: usize = 4;

#[test]
fn lock_variable_lets_two_threads_in() {
    let msg = check_finds::<LockVariable>(&[(), ()], 1, PREEMPTIONS);
    assert!(
        msg.contains(VIOLATION),
        "loom failed for another reason: {msg}"
    );
}

#[test]
fn textbook_peterson_lets_two_threads_in() {
    let msg = check_finds::<TextbookPeterson>(&Side::BOTH, 1, PREEMPTIONS);
    assert!(
        msg.contains(VIOLATION),
        "loom failed for another reason: {msg}"
    );
}

#[test]
fn disabling_interrupts_does_not_exclude_another_lwp() {
    let msg = check_finds::<InterruptLock>(&[(), ()], 1, PREEMPTIONS);
    assert!(
        msg.contains(VIOLATION),
        "loom failed for another reason: {msg}"
    );
}

#[test]
fn strict_alternation_excludes() {
    check::<StrictAlternation>(&Side::BOTH, 2, PREEMPTIONS);
}

#[test]
fn peterson_excludes() {
    check::<Peterson>(&Side::BOTH, 2, PREEMPTIONS);
}

#[test]
fn tsl_excludes() {
    check::<TslLock>(&[(), ()], 2, PREEMPTIONS);
}

#[test]
fn ttas_excludes() {
    check::<TtasLock>(&[(), ()], 2, PREEMPTIONS);
}

#[test]
fn ticket_lock_excludes() {
    check::<TicketLock>(&[(), ()], 2, PREEMPTIONS);
}

//! Condition 3, progress: no thread outside its critical region may block
//! another, under every interleaving loom explores.
//!
//! The scenario is the one of the course notes for strict alternation,
//! bounded so that loom can decide it. Two threads share the lock. The
//! *leaver* enters once and then stays in its noncritical region for good
//! (it returns). The *prober* enters twice, waits until the leaver has gone
//! for good (joins it), then asks once more with `try_enter`. Nobody is
//! inside or trying, so a solution with progress must let it in at once. The
//! first part is explored in every interleaving (bounded in preemptions); the
//! final attempt makes "wait forever" a finite, checkable outcome.
//!
//! Strict alternation must fail that check (the test asserts loom reports
//! [`STALL`]); Peterson's, TSL, TTAS, the ticket lock and disabling
//! interrupts must pass it.
//!
//! The lock variable and the textbook Peterson are left out: they do have
//! progress (the lab's probe shows it on real threads), but loom cannot
//! finish this model for them. Their racing writes to the lock word make
//! loom's partial-order reduction revisit a waiter right after each of its
//! yields while the thread it waits for is never scheduled, an unfair
//! schedule loom explores without end ("exceeded maximum number of
//! branches") instead of pruning.
//!
//! Bounded waiting (condition
//! 4) is not checked here: loom does not model time or a fair scheduler, so
//! "waits at most N entries" has no meaning in a model; see
//! `tests/ticket_fairness.rs` and the lab.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p weave-classic --release --tests`
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use loom_support::{builder, panic_message};
use std::panic::{catch_unwind, AssertUnwindSafe};
use weave_classic::{
    CriticalSection, InterruptLock, Peterson, Side, StrictAlternation, TicketLock, TslLock,
    TtasLock,
};

/// The panic message of a failed progress check.
const STALL: &str = "progress violated";

/// Preemptions per execution; the scenario is short, so this covers every
/// interleaving of it that matters and runs in well under a second.
const PREEMPTIONS: usize = 4;

/// The scenario of the module docs, under loom.
fn leaver_blocks_prober<L>(prober: L::Id, leaver: L::Id)
where
    L: CriticalSection + Default + Send + 'static,
{
    builder(PREEMPTIONS).check(move || {
        let lock = Arc::new(L::default());
        let leaver_lock = lock.clone();
        let gone = thread::spawn(move || {
            drop(leaver_lock.enter(leaver));
            // From here on the leaver stays in its noncritical region.
        });
        drop(lock.enter(prober));
        drop(lock.enter(prober));
        gone.join().expect("the leaver panicked");
        assert!(
            lock.try_enter(prober).is_some(),
            "{STALL}: the prober cannot enter while the other thread stays outside"
        );
    });
}

#[test]
fn strict_alternation_blocks_from_outside() {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        leaver_blocks_prober::<StrictAlternation>(Side::Zero, Side::One);
    }));
    let payload =
        outcome.expect_err("loom found no interleaving in which strict alternation stalls");
    let msg = panic_message(payload);
    assert!(msg.contains(STALL), "loom failed for another reason: {msg}");
}

#[test]
fn peterson_lets_a_thread_in_while_the_other_stays_out() {
    leaver_blocks_prober::<Peterson>(Side::Zero, Side::One);
}

#[test]
fn tsl_lets_a_thread_in_while_the_other_stays_out() {
    leaver_blocks_prober::<TslLock>((), ());
}

#[test]
fn ttas_lets_a_thread_in_while_the_other_stays_out() {
    leaver_blocks_prober::<TtasLock>((), ());
}

#[test]
fn ticket_lock_lets_a_thread_in_while_the_other_stays_out() {
    leaver_blocks_prober::<TicketLock>((), ());
}

#[test]
fn disabling_interrupts_lets_a_thread_in_while_the_other_stays_out() {
    leaver_blocks_prober::<InterruptLock>((), ());
}

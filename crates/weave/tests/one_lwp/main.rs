//! The tests that run on a pool of one LWP: scheduling order,
//! the symmetric switch of `yield_now`, a batch of sleepers, and the direct
//! switch of a blocking ULT to the one it woke, and a wake of a ULT
//! whose block that switch holds. One module per behaviour,
//! linked into one test binary: building and linking one binary instead of
//! one per file is most of what these tests cost.
//!
//! Every test here begins with [`one_lwp`] or [`one_lwp_shared`], which
//! set the pool to one LWP and hold a lock for the whole test, as each file
//! had when it was a binary of its own: a test that needs the LWP and its
//! ready queue to itself takes it alone (`one_lwp`: scheduling order, the
//! symmetric switch, the batch of sleepers), the direct-switch tests
//! shared among themselves (`one_lwp_shared`). Nothing here changes any
//! other process-wide state; a scenario that does (a signal handler) runs
//! in a child process (`in_child!` of `signal_common`, which re-runs the
//! binary with `--exact` and the test's full name, `module::name`).

#[path = "../signal_common/mod.rs"]
#[macro_use]
mod signal_common;
#[path = "../wait_common/mod.rs"]
mod wait_common;

mod direct_switch_on_block;
mod held_wake_priority;
mod scheduling_order;
mod sleep_batch;
mod trace_gate;
mod yield_switch;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static ONE_LWP: RwLock<()> = RwLock::new(());

/// Sets the pool to one LWP and holds it for the calling test alone. A
/// test that failed while holding the lock poisons nothing for the next.
fn one_lwp() -> RwLockWriteGuard<'static, ()> {
    let g = ONE_LWP.write().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    g
}

/// Sets the pool to one LWP and holds it for the calling test and others
/// that share it (never with a test of [`one_lwp`]).
fn one_lwp_shared() -> RwLockReadGuard<'static, ()> {
    let g = ONE_LWP.read().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    g
}

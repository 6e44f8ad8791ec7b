//! The waiting side of a channel operation: one [`Context`] per blocking
//! call (a plain `send`/`recv` or a whole `select!`), and the shim that
//! blocks the caller.
//!
//! A `Context` lives on the stack of the thread that waits. The channel
//! queues hold raw pointers to it (in `chan::Entry`), so its owner must not
//! return before every entry naming it is gone from every queue; `chan.rs`
//! states how each path ensures that. It does not know about channels or
//! values: it only decides *who* completes the wait.
//!
//! `state` is the per-select "claimed" flag:
//!
//! | state        | meaning                                             | set by                     |
//! |--------------|-----------------------------------------------------|----------------------------|
//! | `WAITING`    | entries published; any one of them may be completed | the owner, before publishing |
//! | `ABORTED`    | the owner gave up (timeout, spurious wake, retry)   | the owner (CAS from WAITING) |
//! | `2 + i`      | operation `i` completed by a partner                | a partner (CAS from WAITING) |
//!
//! Exactly one CAS leaves `WAITING`, so exactly one operation of a select
//! completes, and a partner that loses the race leaves its value where it
//! was. A partner moves the value *before* its claiming CAS and undoes the
//! move if the CAS fails; it holds that channel's lock throughout, and the
//! owner takes that lock before it looks at the slot again.
//!
//! Blocking goes through `sync/block.rs`, the one seam between `sync` and
//! the scheduler that the locks use too; under `--cfg loom` that seam parks
//! a loom thread, and a deadline times out once the thread has yielded,
//! which races a timeout with every possible wake.

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use crate::loom::AtomicUsize;

/// Entries published, nobody has claimed or withdrawn the wait.
pub(crate) const WAITING: usize = 0;
/// The owner withdrew: no partner may complete any of its operations.
pub(crate) const ABORTED: usize = 1;
/// Claimed states are `CLAIMED_BASE + op`.
const CLAIMED_BASE: usize = 2;

/// One blocking call's wait record. See the module doc. Public only so
/// that `select!` can name it through `Operation`; it has no public API.
pub struct Context {
    state: AtomicUsize,
    /// Written by the owner only while no entry names this context; read
    /// (cloned) by partners under a channel lock while an entry does.
    waiter: UnsafeCell<Option<Waiter>>,
}

impl Context {
    pub(crate) fn new() -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Prepares a new round of waiting: no entry may name `self` now.
    ///
    /// # Safety
    ///
    /// The caller owns the context and has removed every entry naming it
    /// from every channel queue (under each queue's lock).
    pub(crate) unsafe fn arm(&self, waiter: Waiter) {
        // SAFETY: no entry names the context, so nobody else reads `waiter`.
        unsafe { *self.waiter.get() = Some(waiter) };
        // Relaxed: published to partners by the channel lock taken to push
        // the entries.
        self.state
            .store(WAITING, std::sync::atomic::Ordering::Relaxed);
    }

    /// A copy of the waiter, to wake after letting go of the context.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of a channel whose queue holds an entry
    /// naming this context (so the owner is not rewriting `waiter`).
    pub(crate) unsafe fn waiter(&self) -> Option<Waiter> {
        // SAFETY: the caller's guarantee: `arm` cannot run concurrently.
        unsafe { (*self.waiter.get()).clone() }
    }

    /// A partner completes operation `op`: true if it won. On success the
    /// partner must not touch the context again (its owner may return).
    pub(crate) fn try_claim(&self, op: usize) -> bool {
        // AcqRel: Release publishes the value the partner moved into or out
        // of the owner's slot before this CAS; it pairs with the Acquire of
        // the owner's failed `try_abort`, after which it reads the slot.
        self.state
            .compare_exchange(WAITING, CLAIMED_BASE + op, AcqRel, Acquire)
            .is_ok()
    }

    /// The owner withdraws. `Err(op)` if a partner completed `op` first.
    pub(crate) fn try_abort(&self) -> Result<(), usize> {
        // AcqRel on success orders the withdrawal before the owner's
        // unregistering; Acquire on failure pairs with the Release of
        // `try_claim`, so the owner sees the moved value.
        match self
            .state
            .compare_exchange(WAITING, ABORTED, AcqRel, Acquire)
        {
            Ok(_) => Ok(()),
            Err(s) => {
                debug_assert!(s >= CLAIMED_BASE, "a context aborted twice");
                Err(s - CLAIMED_BASE)
            }
        }
    }
}

/// Who to wake: the seam's waiter (`sync/block.rs`), a ULT's wait token or
/// an OS thread (a loom thread under loom).
pub(crate) use crate::sync::block::Waiter;

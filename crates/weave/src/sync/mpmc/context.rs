//! The waiting side of a channel operation: one [`Context`] per blocking
//! call (a plain `send`/`recv` or a whole `select!`), and the shim that
//! blocks the caller.
//!
//! A `Context` lives on the stack of the thread that waits. The channel
//! queues hold raw pointers to it (in `locked::Entry` and `waiters.rs`'s
//! entries), so its owner must not return before every entry naming it is
//! gone from every queue; `locked.rs` and `waiters.rs` state how each path
//! ensures that. It does not know about channels or
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
//! was. A partner that wins then finishes with the owner's slot (moves the
//! value in or out; for a `select!` send arm it may first have to evaluate
//! the value, which is user code) and *releases* the context
//! (`released`: 0 -> 1). The owner reads its slot only after it has seen
//! the release; a partner never touches the context after releasing it.
//! The owner normally sleeps through the gap (the partner wakes it after
//! the release); an owner woken early (its deadline) yields until it.
//!
//! Blocking goes through `sync/block.rs`, the one seam between `sync` and
//! the scheduler that the locks use too; under `--cfg loom` that seam parks
//! a loom thread, and a deadline times out once the thread has yielded,
//! which races a timeout with every possible wake.

use crate::loom::AtomicUsize;
use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

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
    /// 1 once the claiming partner is done with the owner's slot.
    released: AtomicUsize,
    /// Written by the owner only while no entry names this context; read
    /// (cloned) by partners under a channel lock while an entry does.
    waiter: UnsafeCell<Option<Waiter>>,
}

impl Context {
    pub(crate) fn new() -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            released: AtomicUsize::new(0),
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
        self.released.store(0, std::sync::atomic::Ordering::Relaxed);
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
    /// partner finishes with the owner's slot and then calls
    /// [`release`](Self::release), its last touch of the context.
    pub(crate) fn try_claim(&self, op: usize) -> bool {
        // AcqRel: Acquire pairs with the lock that published the entry (the
        // owner's `arm`); Release orders the claim before the owner's failed
        // `try_abort` (its Acquire).
        self.state
            .compare_exchange(WAITING, CLAIMED_BASE + op, AcqRel, Acquire)
            .is_ok()
    }

    /// The claiming partner is done with the owner's slot. The context may
    /// be gone as soon as this returns.
    ///
    /// # Safety
    ///
    /// The caller won [`try_claim`](Self::try_claim) and has not released.
    pub(crate) unsafe fn release(&self) {
        // Release publishes the partner's writes to the owner's slot; pairs
        // with the Acquire load in `wait_released`.
        self.released.store(1, std::sync::atomic::Ordering::Release);
    }

    /// The owner, claimed, waits until the partner has released: normally
    /// at once (the partner wakes the owner only after releasing).
    pub(crate) fn wait_released(&self) {
        // Acquire pairs with the Release store in `release`.
        while self.released.load(Acquire) == 0 {
            crate::sync::block::yield_now();
        }
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

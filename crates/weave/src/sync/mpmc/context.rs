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
//! (`released`: `HELD` -> `SERVED`). The owner reads its slot only after it has seen
//! the release; a partner never touches the context after releasing it.
//! The owner normally sleeps through the gap (the partner wakes it after
//! the release); an owner woken early (its deadline) yields until it.
//!
//! ## A lone waiter's one-word entry (`waiters.rs`)
//!
//! A wait of a single operation (a plain `send` or `recv`) may publish
//! itself as the context's address in one word (the *fast slot* of the
//! waiting side), without a lock; the context then also carries the
//! address of the operation's value slot, written before publishing. There
//! the word decides who completes the wait, not `state`: a partner *takes*
//! the word (swaps it to null), and that take is the claim, as the owner
//! can give up only by withdrawing the word (its CAS back to null, which
//! fails once the word is taken). The taker then finishes with the slot
//! and releases (`released = SERVED`), or, when it only wakes the owner
//! unclaimed (disconnection), *lets go* (`released = LET_GO`). The owner
//! ends its round ([`Context::end_fast`]) by reading `released`: set, it
//! was taken and the value says how; still 0, it withdraws, and if that
//! finds its word taken (`fast == TAKEN`) it waits for the store before it
//! leaves, as a claimed owner does. So a wait served through the fast slot
//! costs one RMW on each side (the publish and the take), not the four of
//! a claim (publish, take, claim, abort). A context is in at most one fast
//! slot (it has one operation), so `released` has one writer per round.
//!
//! Blocking goes through `sync/block.rs`, the one seam between `sync` and
//! the scheduler that the locks use too; under `--cfg loom` that seam parks
//! a loom thread, and a deadline times out once the thread has yielded,
//! which races a timeout with every possible wake.

use crate::loom::AtomicUsize;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::Ordering::{AcqRel, Acquire};

/// Entries published, nobody has claimed or withdrawn the wait.
pub(crate) const WAITING: usize = 0;
/// The owner withdrew: no partner may complete any of its operations.
pub(crate) const ABORTED: usize = 1;
/// Claimed states are `CLAIMED_BASE + op`.
const CLAIMED_BASE: usize = 2;

/// `released`: the partner still holds the context (or nobody took it).
const HELD: usize = 0;
/// `released`: a taker of the fast slot woke the owner without claiming
/// it (disconnection): nothing moved, the owner retries.
const LET_GO: usize = 1;
/// `released`: the claiming partner is done with the owner's slot.
const SERVED: usize = 2;

/// Where the owner's one operation is published (`fast`, owner-only).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fast {
    /// Not in a fast slot (in a list, or not published).
    No,
    /// Its address is in a fast slot.
    Published,
    /// A partner took it out of the fast slot: it will release or let go.
    Taken,
}

/// One blocking call's wait record. See the module doc. Public only so
/// that `select!` can name it through `Operation`; it has no public API.
pub struct Context {
    state: AtomicUsize,
    /// [`SERVED`] once the claiming partner is done with the owner's
    /// slot, [`LET_GO`] once a taker that did not claim is done with the
    /// context; [`HELD`] before.
    released: AtomicUsize,
    /// Written by the owner only while no entry names this context; read
    /// (cloned) by partners under a channel lock while an entry does.
    waiter: UnsafeCell<Option<Waiter>>,
    /// The wait has one operation: it may use a fast slot (module doc).
    single: bool,
    /// That operation's value slot (an `Option<T>`), for a partner that
    /// took the context from a fast slot; written by the owner before it
    /// publishes.
    slot: UnsafeCell<*mut ()>,
    /// Where the operation is published; read and written by the owner
    /// only (and by its LWP acting for it while it is switched out: a
    /// wait published late, `deferred.rs`).
    fast: Cell<Fast>,
}

impl Context {
    /// A context for one round of waiting on `single` (true) or several
    /// operations.
    #[inline]
    pub(crate) fn new(single: bool) -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            released: AtomicUsize::new(HELD),
            waiter: UnsafeCell::new(None),
            single,
            slot: UnsafeCell::new(std::ptr::null_mut()),
            fast: Cell::new(Fast::No),
        }
    }

    /// Whether the wait has one operation (it may use a fast slot).
    #[inline]
    pub(crate) fn is_single(&self) -> bool {
        self.single
    }

    /// Records the operation's value slot, for a partner that takes the
    /// context from a fast slot.
    ///
    /// # Safety
    ///
    /// The caller owns the context, which is in no fast slot now.
    #[inline]
    pub(crate) unsafe fn set_slot(&self, slot: *mut ()) {
        // SAFETY: no partner reads `slot` unless it took the context from a
        // fast slot, where it is not (the caller's guarantee).
        unsafe { *self.slot.get() = slot };
    }

    /// The operation's value slot.
    ///
    /// # Safety
    ///
    /// The caller took the context from a fast slot and has not let go.
    #[inline]
    pub(crate) unsafe fn slot(&self) -> *mut () {
        // SAFETY: written before the publication the caller's take
        // acquired, and not rewritten while it holds the context.
        unsafe { *self.slot.get() }
    }

    /// Where the operation is published (owner only).
    #[inline]
    pub(crate) fn fast(&self) -> Fast {
        self.fast.get()
    }

    /// Records where the operation is published (owner only).
    #[inline]
    pub(crate) fn set_fast(&self, f: Fast) {
        self.fast.set(f);
    }

    /// A partner that took the context from a fast slot and does not
    /// serve it (it only wakes the owner: disconnection) is done with it.
    /// The context may be gone as soon as this returns.
    ///
    /// # Safety
    ///
    /// The caller took the context from a fast slot and has neither
    /// released nor let go yet.
    #[inline]
    pub(crate) unsafe fn let_go(&self) {
        // Release pairs with the Acquire loads of `end_fast` and
        // `wait_released`: the partner's reads of the context are done.
        self.released
            .store(LET_GO, std::sync::atomic::Ordering::Release);
    }

    /// The owner of a context published in a fast slot (`fast() != No`)
    /// ends its round (module doc): true if a partner took it and served
    /// it (a value is in its slot, or, on an array channel, it was
    /// notified and retries), false if it withdrew its entry first or was
    /// let go. `withdraw` withdraws the entry (the flavour's `unregister`,
    /// which records `Fast::No` or `Fast::Taken`). No RMW when a partner
    /// took it, the common case: one load.
    #[inline]
    pub(crate) fn end_fast(&self, withdraw: impl FnOnce()) -> bool {
        debug_assert!(self.fast.get() != Fast::No, "not in a fast slot");
        // Acquire pairs with the Release store of `release` or `let_go`:
        // a set value means the word was taken (only a taker stores it)
        // and the taker is done, its writes to the slot visible.
        let mut r = self.released.load(Acquire);
        if r == HELD {
            if self.fast.get() == Fast::Published {
                withdraw();
                if self.fast.get() == Fast::No {
                    // Withdrawn before anyone took it: nobody can now.
                    return false;
                }
            }
            // Taken: the taker is between its swap and its store.
            r = self.wait_released();
        }
        // For the check in `drop`: the word was taken.
        self.fast.set(Fast::Taken);
        r == SERVED
    }

    /// Gives a fresh context (one round of waiting: `select.rs` makes a
    /// new one per round) its waiter, before any entry names it. Only the
    /// waiter is written: `new` set the rest, and nothing has changed it.
    ///
    /// # Safety
    ///
    /// The caller owns the context, made by [`new`](Self::new) and not
    /// armed or published yet.
    #[inline]
    pub(crate) unsafe fn arm(&self, waiter: Waiter) {
        debug_assert!(
            self.fast.get() == Fast::No
                && self.state.load(Acquire) == WAITING
                && self.released.load(Acquire) == HELD,
            "a context armed twice"
        );
        // SAFETY: no entry names the context, so nobody else reads
        // `waiter`; it holds `None`, which has nothing to drop. Published
        // to partners by the channel lock taken to push the entries, or by
        // the Release of a fast slot's publishing CAS.
        unsafe { self.waiter.get().write(Some(waiter)) };
    }

    /// A copy of the waiter, to wake after letting go of the context.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of a channel whose queue holds an entry
    /// naming this context, or took the context from a fast slot and has
    /// not let go (so the owner is not rewriting `waiter`).
    pub(crate) unsafe fn waiter(&self) -> Option<Waiter> {
        // SAFETY: the caller's guarantee: `arm` cannot run concurrently.
        unsafe { (*self.waiter.get()).clone() }
    }

    /// A partner completes operation `op`: true if it won. On success the
    /// partner finishes with the owner's slot and then calls
    /// [`release`](Self::release), its last touch of the context. Not for
    /// a context taken from a fast slot: the take claimed it (module doc).
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
    /// The caller won [`try_claim`](Self::try_claim), or took the context
    /// from a fast slot, and has not released (nor let go).
    #[inline]
    pub(crate) unsafe fn release(&self) {
        // Release publishes the partner's writes to the owner's slot; pairs
        // with the Acquire loads in `wait_released` and `end_fast`.
        self.released
            .store(SERVED, std::sync::atomic::Ordering::Release);
    }

    /// The owner, claimed or taken, waits until the partner has released
    /// or let go, and returns which: normally at once (the partner wakes
    /// the owner only after that store).
    pub(crate) fn wait_released(&self) -> usize {
        loop {
            // Acquire pairs with the Release store in `release`/`let_go`.
            let r = self.released.load(Acquire);
            if r != HELD {
                return r;
            }
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

impl Drop for Context {
    fn drop(&mut self) {
        // The invariant that keeps a partner from touching a dead context:
        // an owner leaves only after whoever claimed it, or took it from a
        // fast slot, has released or let go. Checked where it is cheap to
        // (debug builds, loom models).
        if cfg!(any(debug_assertions, loom)) {
            let held = self.state.load(Acquire) >= CLAIMED_BASE || self.fast.get() == Fast::Taken;
            assert!(
                !held || self.released.load(Acquire) != HELD,
                "channel: a wait record left while a partner still held it"
            );
        }
    }
}

/// Who to wake: the seam's waiter (`sync/block.rs`), a ULT's wait token or
/// an OS thread (a loom thread under loom).
pub(crate) use crate::sync::block::Waiter;

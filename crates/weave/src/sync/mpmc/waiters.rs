//! The waiting operations of one side (senders or receivers) of a
//! lock-free channel flavour (`array.rs`, `list.rs`): who to call when a
//! message or a place appears. It owns the fast slot, the list and its
//! "nobody waits" flag; it does not know about buffers, and it blocks
//! nobody (`select.rs` does).
//!
//! ## The fast slot: a lone waiter in one word, no lock
//!
//! A wait of one operation (a plain `send` or `recv`: `Context::is_single`)
//! publishes its context's address in `fast` with one CAS from null, if
//! the slot is free and the list empty (so that the slot's waiter is never
//! younger than a listed one, and takers serve it first); anything else
//! goes to the list. A partner *takes* the word with a swap to null, and
//! the take is the claim (`context.rs`): the owner can give up only by
//! withdrawing the word, a CAS that fails once it is taken, and it then
//! waits for the taker's release (or let-go, on disconnection). While
//! channels ping-pong, each side waits alone, so a round trip publishes
//! and takes without a lock, one RMW a side. A receiver found there while the
//! buffer is empty gets the message itself ([`Waiters::hand_off`]): no
//! slot of the buffer is written or read, and the woken receiver does not
//! retry.
//!
//! | `fast`       | meaning                                   | leaves it                               |
//! |--------------|-------------------------------------------|-----------------------------------------|
//! | null         | no lone waiter                            | a waiter's CAS (null -> its context)    |
//! | a context    | that single-operation wait is published   | its owner's CAS back to null (withdrawn), or a partner's swap (taken) |
//!
//! ## A lone receive published late (array flavour)
//!
//! On a ULT of the pool, a plain `recv` without a deadline does not even
//! make the fast slot's CAS, nor a context: it leaves its publication to
//! its LWP (`Array::recv_deferred`; the record is `deferred.rs`'s, the
//! protocol `lwp/handoff.rs`'s "A wait published late"). A sender
//! running on that LWP with the buffer empty serves it from there (`Array::try_send`: the message in the wait's record, no
//! swap); otherwise the LWP publishes it here, with a context made in the
//! record and the CAS and the check of the table below made for the
//! switched-out receiver, before its block is committed. A ping-pong on
//! one LWP so makes no RMW on the channel.
//!
//! ## The list
//!
//! The message path never takes the list's lock while nobody waits: after
//! changing the channel, a partner reads [`Waiters::empty`] and only if it
//! is false locks the list, claims the oldest waiter's context
//! (`Context::try_claim`), releases it at once (no value moves through the
//! context: the woken operation retries), and wakes it after unlocking.
//! A claim that fails (the waiter timed out, or another operation of its
//! select won) drops the entry and tries the next, so one notification
//! wakes at most one waiter and is never spent on a waiter that cannot act
//! on it.
//!
//! ## No lost wake-up (Dekker, with the channel's index)
//!
//! | waiter (`register`, then the caller's check)        | partner (`notify`)                                     |
//! |------------------------------------------------------|--------------------------------------------------------|
//! | 1. CAS `fast` (`SeqCst`), or push its entry and set `empty = false` (`SeqCst`, under the lock) | 1. move the channel's index (a `SeqCst` RMW) |
//! | 2. (list, and under loom: `fence(SeqCst)`; [`Waiters::register`] ends so) | 2. load `fast`, then `empty` (`SeqCst`) |
//! | 3. load the index (`SeqCst`): ready? withdraw        | 3. if either shows a waiter: take or lock, claim, wake |
//!
//! In the single total order of `SeqCst` operations either the waiter's
//! load (3) comes after the partner's RMW (1) and sees it, or the partner's
//! loads (2) come after the waiter's publication (1) and see it (or
//! another partner took it from there, and that one wakes it): one of the
//! two acts. Both of the waiter's steps are `SeqCst` operations, so their
//! order in program order is their order in that total order, and the fast
//! path needs no fence (on x86 the CAS is a full barrier; the fence was a
//! second locked instruction a wait). A waiter whose withdrawal (3) finds
//! its fast entry already taken stays published: the taker serves it (and
//! wakes it) or lets go. Loom treats `SeqCst` accesses as `AcqRel` (it
//! models only `SeqCst` fences), so under `--cfg loom` both sides add the
//! fence they would otherwise lack; the model (`loom_tests.rs`) loses a
//! wake-up when either fence is removed. The disconnection's take of the
//! word is a swap, an RMW: whichever of it and the waiter's CAS comes
//! second in the word's order reads the first (Release, Acquire), so the
//! waiter that publishes after it sees the mark set before it.
//!
//! Entries name a [`Context`] on the waiter's stack. They are read only
//! under the list's lock, and the owner leaves its wait only after it has
//! withdrawn its entries under the same lock ([`Waiters::unregister`]) or
//! after a partner claimed it and released it (under the lock, before the
//! entry is dropped), so an entry in the list always names a live context.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{AcqRel, Relaxed, SeqCst};

use super::context::{Context, Fast, Waiter};
use crate::loom::{fence, AtomicBool, AtomicPtr, Mutex};

/// The one-word entry of a lone single-operation waiter (module doc). The
/// lock-free flavours keep one per side in [`Waiters`]; the locked one
/// keeps one for rendezvous receivers (`locked.rs`).
pub(crate) struct FastSlot {
    /// The waiter's context, or null.
    word: AtomicPtr<Context>,
}

// SAFETY: the context behind the word is touched only by the one thread
// that took it (swap) until it releases or lets go (`context.rs`).
unsafe impl Send for FastSlot {}
// SAFETY: as for `Send`.
unsafe impl Sync for FastSlot {}

impl FastSlot {
    pub(crate) fn new() -> FastSlot {
        FastSlot {
            word: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Whether a waiter is there now (SeqCst: a partner's half of the
    /// Dekker pair in [`Waiters::notify`]).
    #[inline]
    pub(crate) fn occupied(&self) -> bool {
        !self.word.load(SeqCst).is_null()
    }

    /// As [`occupied`](Self::occupied), for a look that a later one
    /// (under a lock, or SeqCst) backs up.
    #[inline]
    pub(crate) fn occupied_relaxed(&self) -> bool {
        !self.word.load(Relaxed).is_null()
    }

    /// Publishes single-operation `ctx`, with its value slot, if the slot
    /// is free. The caller fences or holds a lock as its protocol needs.
    ///
    /// # Safety
    ///
    /// As for [`Waiters::register`], and `ctx.is_single()`.
    #[inline]
    pub(crate) unsafe fn publish(&self, ctx: &Context, slot: *mut ()) -> bool {
        debug_assert!(ctx.is_single(), "a select in a fast slot");
        // SAFETY: the caller owns `ctx`, which is in no fast slot yet.
        unsafe { ctx.set_slot(slot) };
        let me = ctx as *const Context as *mut Context;
        // SeqCst: the waiter's half of the Dekker pair (module doc); its
        // Release publishes `arm` and `set_slot` to the taker's swap.
        let ok = self
            .word
            .compare_exchange(std::ptr::null_mut(), me, SeqCst, Relaxed)
            .is_ok();
        if ok {
            ctx.set_fast(Fast::Published);
        }
        ok
    }

    /// The owner withdraws `ctx`, which it published here: true if it was
    /// still there; false if a partner took it (recorded as `Fast::Taken`:
    /// the owner then waits for the taker's release or let-go).
    pub(crate) fn withdraw(&self, ctx: &Context) -> bool {
        if ctx.fast() != Fast::Published {
            return false;
        }
        let me = ctx as *const Context as *mut Context;
        // Relaxed: on success nobody ever saw the entry gone; on failure
        // the owner waits for the taker's Release (`wait_released`).
        let withdrawn = self
            .word
            .compare_exchange(me, std::ptr::null_mut(), Relaxed, Relaxed)
            .is_ok();
        ctx.set_fast(if withdrawn { Fast::No } else { Fast::Taken });
        withdrawn
    }

    /// Takes the waiter, if any: the caller then serves it or lets go.
    #[inline]
    fn take(&self) -> Option<&Context> {
        // AcqRel: Acquire pairs with the owner's publishing CAS (the armed
        // context and its slot); Release keeps the swap in the order of the
        // word's RMWs.
        let p = self.word.swap(std::ptr::null_mut(), AcqRel);
        // SAFETY: taken: the owner does not leave before we release or let
        // go (`context.rs`).
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Takes the waiter, if any, which claims it (module doc): its owner
    /// can no longer give up. The caller finishes it (`Context::release`,
    /// then wake).
    #[inline]
    pub(crate) fn claim(&self) -> Option<(&Context, Waiter)> {
        let ctx = self.take()?;
        // SAFETY: taken, not let go: the owner is not rewriting it.
        let Some(w) = (unsafe { ctx.waiter() }) else {
            crate::fatal("channel: a published wait has no waiter");
        };
        Some((ctx, w))
    }

    /// Gives `v` to the waiter, if one can take it; `Err(v)` otherwise.
    /// Inlined: its callers see a waiter first (the send that saw a lone
    /// receiver, `Array::try_send_handing_off`, is out of line itself).
    ///
    /// # Safety
    ///
    /// Every slot published here is an `Option<T>`.
    #[inline]
    pub(crate) unsafe fn hand_off<T>(&self, v: T) -> Result<(), T> {
        let Some((ctx, w)) = self.claim() else {
            return Err(v);
        };
        // SAFETY: claimed, not released: the owner reads its slot only
        // after the release; the slot is an `Option<T>` (the caller's
        // guarantee).
        unsafe {
            *ctx.slot().cast::<Option<T>>() = Some(v);
            ctx.release();
        }
        w.wake();
        Ok(())
    }

    /// Claims and wakes the waiter (it retries: no value moves); false if
    /// none could act.
    #[cold]
    pub(crate) fn notify(&self) -> bool {
        let Some((ctx, w)) = self.claim() else {
            return false;
        };
        // SAFETY: claimed just now; release at once.
        unsafe { ctx.release() };
        w.wake();
        true
    }

    /// Wakes the waiter unclaimed (disconnection: it withdraws, retries
    /// and finds it).
    pub(crate) fn disconnect(&self) {
        if let Some(ctx) = self.take() {
            // SAFETY: taken, not let go.
            let w = unsafe { ctx.waiter() };
            // SAFETY: taken and not claimed; the waiter is copied out.
            unsafe { ctx.let_go() };
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

/// One waiting operation: its context and its index in the wait.
struct Entry {
    ctx: *const Context,
    op: usize,
}

/// The waiting operations of one side of a channel; see the module doc.
pub(crate) struct Waiters {
    /// A lone single-operation waiter, published without the lock.
    fast: FastSlot,
    list: Mutex<VecDeque<Entry>>,
    /// True while the list is empty; written under the list's lock, read
    /// without it by [`notify`](Self::notify).
    empty: AtomicBool,
}

// SAFETY: the raw context pointers in the list are only dereferenced under
// the list's lock while the context is alive (module doc); a `Context` is
// shared through atomics and a field written only while no entry names it.
unsafe impl Send for Waiters {}
// SAFETY: as for `Send`: every access to the list goes through its lock.
unsafe impl Sync for Waiters {}

impl Waiters {
    pub(crate) fn new() -> Waiters {
        Waiters {
            fast: FastSlot::new(),
            list: Mutex::new(VecDeque::new()),
            empty: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> crate::loom::MutexGuard<'_, VecDeque<Entry>> {
        // No user code runs under this lock: a poisoned one is consistent.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes operation `op` of `ctx` (in the fast slot if it is a
    /// lone single-operation wait, else in the list) in the `SeqCst` order
    /// (module doc, step 2): the caller checks the channel next, and
    /// withdraws if the operation is ready. `slot` is the operation's value slot,
    /// for [`hand_off`](Self::hand_off).
    ///
    /// # Safety
    ///
    /// `ctx` is armed, and stays alive (and `slot` valid) until the caller
    /// has withdrawn the entry ([`unregister`](Self::unregister)) or been
    /// claimed and released (or let go: `context.rs`).
    #[inline]
    pub(crate) unsafe fn register(&self, ctx: &Context, op: usize, slot: *mut ()) {
        // Relaxed `empty`: a stale answer only sends this waiter to the
        // list, or lets it take the free slot beside a listed waiter
        // (served first: a small unfairness, never a lost wake-up).
        // SAFETY: the caller's guarantee.
        if ctx.is_single() && self.empty.load(Relaxed) && unsafe { self.fast.publish(ctx, slot) } {
            // The publishing CAS is SeqCst, as the caller's next load: no
            // fence (module doc), but under loom, which does not order
            // SeqCst accesses. Pairs with `notify`'s loom fence.
            #[cfg(loom)]
            fence(SeqCst);
            return;
        }
        // SAFETY: the caller's guarantee.
        unsafe { self.register_listed(ctx, op) };
    }

    /// [`register`](Self::register) in the list: a select, or a waiter
    /// that found the fast slot taken.
    ///
    /// # Safety
    ///
    /// As for [`register`](Self::register).
    #[cold]
    #[inline(never)]
    unsafe fn register_listed(&self, ctx: &Context, op: usize) {
        let mut list = self.lock();
        list.push_back(Entry { ctx, op });
        // SeqCst: the waiter's half of the Dekker pair with `notify`'s
        // load (module doc); the fence below makes it so under loom too.
        self.empty.store(false, SeqCst);
        drop(list);
        // Pairs with `notify`'s SeqCst load (and its loom fence).
        fence(SeqCst);
    }

    /// Step 2 of the module doc whole: publishes operation `op` of `ctx`
    /// ([`register`](Self::register)), then asks `ready` (the channel's
    /// look at its own indices, after the fence). True: the entry stands
    /// and the caller may sleep. False: the operation could go ahead, and
    /// the entry was withdrawn before any partner claimed it: retry. If a
    /// partner had claimed it already, it stands (true): that partner
    /// wakes the caller.
    ///
    /// # Safety
    ///
    /// As for [`register`](Self::register).
    #[inline]
    pub(crate) unsafe fn register_unless(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut (),
        ready: impl FnOnce() -> bool,
    ) -> bool {
        // SAFETY: the caller's guarantee.
        unsafe { self.register(ctx, op, slot) };
        !(ready() && self.unregister(ctx))
    }

    /// Withdraws every entry of `ctx`. True if one was still there (false:
    /// a partner claimed it, took it from the fast slot, or it was never
    /// published). A fast entry found taken is recorded in the context
    /// (`Fast::Taken`): its owner then waits for the taker's release.
    pub(crate) fn unregister(&self, ctx: &Context) -> bool {
        if ctx.fast() != Fast::No {
            return self.fast.withdraw(ctx);
        }
        let ctx: *const Context = ctx;
        let mut list = self.lock();
        let before = list.len();
        list.retain(|e| e.ctx != ctx);
        let removed = list.len() != before;
        // Relaxed: a stale `false` only costs a partner a look under the
        // lock; `true` is published to it by this lock or the next fence.
        self.empty.store(list.is_empty(), Relaxed);
        removed
    }

    /// Whether a lone waiter is in the fast slot now (Relaxed: a look that
    /// [`hand_off`](Self::hand_off) and [`notify`](Self::notify) back up).
    #[inline]
    pub(crate) fn lone_waiter(&self) -> bool {
        self.fast.occupied_relaxed()
    }

    /// Gives `v` to the lone waiter of the fast slot, if there is one and
    /// `empty()` (the buffer has nothing, so no message is older than
    /// `v`) says so; `Err(v)` otherwise. On success the receiver is woken
    /// with `v` in its slot: it neither retries nor touches the buffer.
    ///
    /// # Safety
    ///
    /// This is the receivers' side, and every slot registered in it is an
    /// `Option<T>`.
    #[inline]
    pub(crate) unsafe fn hand_off<T>(&self, v: T, empty: impl Fn() -> bool) -> Result<(), T> {
        // Relaxed: a lone receiver missed here is found by the `notify`
        // after the send's write (SeqCst there).
        if !self.fast.occupied_relaxed() || !empty() {
            return Err(v);
        }
        // SAFETY: the caller's guarantee.
        unsafe { self.fast.hand_off(v) }
    }

    /// A message (or a place) appeared: claim and wake the oldest waiter
    /// that can take it, if any. Two loads when nobody waits.
    #[inline]
    pub(crate) fn notify(&self) {
        // Loom models `SeqCst` accesses as `AcqRel`: this fence stands in
        // for the SeqCst order of the caller's RMW and the loads below
        // (module doc). Pairs with the fence of `register`.
        #[cfg(loom)]
        fence(SeqCst);
        // SeqCst (in `occupied`): the partner's half of the Dekker pair.
        if self.fast.occupied() && self.fast.notify() {
            return;
        }
        // SeqCst: as above.
        if self.empty.load(SeqCst) {
            return;
        }
        self.notify_slow();
    }

    #[cold]
    fn notify_slow(&self) {
        let woken = {
            let mut list = self.lock();
            let mut woken = None;
            while let Some(e) = list.pop_front() {
                // SAFETY: the entry was in the list, under its lock: the
                // context is alive and its owner is not rewriting `waiter`.
                let ctx = unsafe { &*e.ctx };
                // SAFETY: as above.
                let Some(w) = (unsafe { ctx.waiter() }) else {
                    crate::fatal("channel: a published wait has no waiter");
                };
                if ctx.try_claim(e.op) {
                    // SAFETY: claimed just now; no value moves through the
                    // context (the woken operation retries): release at once.
                    // The context may be gone after this.
                    unsafe { ctx.release() };
                    woken = Some(w);
                    break;
                }
            }
            // Relaxed: as in `unregister`.
            self.empty.store(list.is_empty(), Relaxed);
            woken
        };
        if let Some(w) = woken {
            w.wake();
        }
    }

    /// The channel is disconnected: wake every waiter, unclaimed (each
    /// withdraws, retries, and finds the disconnection).
    pub(crate) fn disconnect(&self) {
        self.fast.disconnect();
        let woken: Vec<Waiter> = {
            let mut list = self.lock();
            let woken = list
                .drain(..)
                // SAFETY: each entry was in the list, under its lock.
                .filter_map(|e| unsafe { (*e.ctx).waiter() })
                .collect();
            self.empty.store(true, Relaxed);
            woken
        };
        woken.into_iter().for_each(Waiter::wake);
    }
}

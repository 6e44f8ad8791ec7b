//! The waiting operations of one side (senders or receivers) of a
//! lock-free channel flavour (`array.rs`): who to call when a message or a
//! place appears. It owns the list and its "nobody waits" flag; it does not
//! know about slots or values, and it blocks nobody (`select.rs` does).
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
//! | 1. push its entry, `empty = false` (under the lock)  | 1. move the channel's index (a `SeqCst` RMW)          |
//! | 2. `fence(SeqCst)` ([`Waiters::register`] ends so)   | 2. load `empty` (`SeqCst`)                            |
//! | 3. load the index (`SeqCst`): ready? withdraw        | 3. if not empty: lock, claim, wake                    |
//!
//! In the single total order of `SeqCst` operations either the waiter's
//! load (3) comes after the partner's RMW (1) and sees it, or the partner's
//! load (2) comes after the waiter's fence and sees `empty == false`: one
//! of the two acts. Loom treats `SeqCst` accesses as `AcqRel` (it models
//! only `SeqCst` fences), so under `--cfg loom` `notify` adds the fence it
//! would otherwise lack; the model (`loom_tests.rs`) loses a wake-up when
//! either fence is removed.
//!
//! Entries name a [`Context`] on the waiter's stack. They are read only
//! under the list's lock, and the owner leaves its wait only after it has
//! withdrawn its entries under the same lock ([`Waiters::unregister`]) or
//! after a partner claimed it and released it (under the lock, before the
//! entry is dropped), so an entry in the list always names a live context.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::SeqCst;

use super::context::{Context, Waiter};
use crate::loom::{fence, AtomicBool, Mutex};

/// One waiting operation: its context and its index in the wait.
struct Entry {
    ctx: *const Context,
    op: usize,
}

/// The waiting operations of one side of a channel; see the module doc.
pub(crate) struct Waiters {
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
            list: Mutex::new(VecDeque::new()),
            empty: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> crate::loom::MutexGuard<'_, VecDeque<Entry>> {
        // No user code runs under this lock: a poisoned one is consistent.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes operation `op` of `ctx`, then fences: the caller checks
    /// the channel next, and withdraws if the operation is ready
    /// (module doc, step 2).
    ///
    /// # Safety
    ///
    /// `ctx` is armed, and stays alive until the caller has withdrawn the
    /// entry ([`unregister`](Self::unregister)) or been claimed and
    /// released.
    pub(crate) unsafe fn register(&self, ctx: &Context, op: usize) {
        let mut list = self.lock();
        list.push_back(Entry { ctx, op });
        // SeqCst: the waiter's half of the Dekker pair with `notify`'s
        // load (module doc); the fence below makes it so under loom too.
        self.empty.store(false, SeqCst);
        drop(list);
        // Pairs with `notify`'s SeqCst load (and its loom fence).
        fence(SeqCst);
    }

    /// Withdraws every entry of `ctx`. True if one was still there (false:
    /// a partner claimed it, or it was never published).
    pub(crate) fn unregister(&self, ctx: &Context) -> bool {
        let ctx: *const Context = ctx;
        let mut list = self.lock();
        let before = list.len();
        list.retain(|e| e.ctx != ctx);
        let removed = list.len() != before;
        // Relaxed: a stale `false` only costs a partner a look under the
        // lock; `true` is published to it by this lock or the next fence.
        self.empty
            .store(list.is_empty(), std::sync::atomic::Ordering::Relaxed);
        removed
    }

    /// A message (or a place) appeared: claim and wake the oldest waiter
    /// that can take it, if any. One load when nobody waits.
    #[inline]
    pub(crate) fn notify(&self) {
        // Loom models `SeqCst` accesses as `AcqRel`: this fence stands in
        // for the SeqCst order of the caller's RMW and the load below
        // (module doc). Pairs with the fence of `register`.
        #[cfg(loom)]
        fence(SeqCst);
        // SeqCst: the partner's half of the Dekker pair (module doc).
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
            self.empty
                .store(list.is_empty(), std::sync::atomic::Ordering::Relaxed);
            woken
        };
        if let Some(w) = woken {
            w.wake();
        }
    }

    /// The channel is disconnected: wake every waiter, unclaimed (each
    /// withdraws, retries, and finds the disconnection).
    pub(crate) fn disconnect(&self) {
        let woken: Vec<Waiter> = {
            let mut list = self.lock();
            let woken = list
                .drain(..)
                // SAFETY: each entry was in the list, under its lock.
                .filter_map(|e| unsafe { (*e.ctx).waiter() })
                .collect();
            self.empty.store(true, std::sync::atomic::Ordering::Relaxed);
            woken
        };
        woken.into_iter().for_each(Waiter::wake);
    }
}

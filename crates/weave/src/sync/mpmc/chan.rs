//! The channel core: the buffer, the queues of waiting senders and
//! receivers, and the hand-off between them. One `Chan<T>` backs every
//! flavour (bounded, unbounded, rendezvous) of both `mpsc` and `mpmc`; it
//! does not block anyone itself (`select.rs` does, with a
//! [`Context`](super::context::Context)).
//!
//! Everything is under one short internal lock (`crate::loom::Mutex`). A
//! ULT is only switched out at weave calls, never inside this lock, and no
//! user code (no `Drop` of a `T`, no wake-up) runs while it is held, so it
//! is held for a few dozen instructions.
//!
//! ## Protocol (as Go's `chan.go`, with crossbeam's claimed flag)
//!
//! - **send**: a waiting receiver is served first: the value goes straight
//!   into its slot and it is claimed; else the value goes into the buffer
//!   if there is room; else the sender publishes an entry (its context, its
//!   op index, a pointer to its slot holding the value) and waits.
//! - **recv**: a buffered value is taken first, and then one waiting
//!   sender's value moves into the freed place (FIFO order holds); with an
//!   empty buffer (always, at capacity 0) a waiting sender's value is taken
//!   straight from its slot; else the receiver publishes an entry and waits.
//! - **claiming** an entry: move the value, then CAS the waiter's context
//!   `WAITING -> claimed(op)`; if the CAS fails (the waiter timed out, or
//!   another of its select's operations won) move the value back and drop
//!   the entry. The waker copies the waiter out *before* the CAS and wakes
//!   it after releasing the lock: once claimed, the context may be gone.
//! - **disconnection**: the last sender (receiver) sets a flag and wakes
//!   every waiting receiver (sender) *without* claiming it; each sees its
//!   context still `WAITING`, withdraws, retries, and finds the flag. The
//!   last receiver also drops the buffered values, as std does.
//!
//! ## Why the raw pointers in `Entry` are valid
//!
//! An entry points into the stack of a thread blocked in `select::run`.
//! That thread leaves `run` only after (a) it was claimed, and the claimer
//! removed that entry before claiming, and (b) it removed every other entry
//! naming its context, each under its channel's lock. Every access through
//! an entry happens under the lock of the queue holding it. So an entry in
//! a queue always points to a live context and slot.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{AcqRel, Relaxed};

use super::context::{Context, Waiter};
use super::error::{TryRecvError, TrySendError};
use crate::loom::{AtomicUsize, Mutex, MutexGuard};

/// A waiting operation, published in a channel queue.
pub(crate) struct Entry<T> {
    ctx: *const Context,
    op: usize,
    /// A waiting sender's slot holds its value; a waiting receiver's slot
    /// is empty until a sender claims it.
    slot: *mut Option<T>,
}

// SAFETY: an entry is only used under its channel's lock, and moves a `T`
// between threads, which `T: Send` allows; the context is `Sync` in use
// (its shared parts are an atomic and a field written only while no entry
// names it).
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Entry<T> {
    /// The waiter of the entry's context.
    ///
    /// # Safety
    ///
    /// The entry is (or was, under the lock still held) in a queue.
    unsafe fn waiter(&self) -> Waiter {
        // SAFETY: the caller holds the lock of the queue (module doc).
        match unsafe { (*self.ctx).waiter() } {
            Some(w) => w,
            None => crate::fatal("channel: a published wait has no waiter"),
        }
    }

    /// Gives `v` to this waiting receiver. `Err(v)` if it was no longer
    /// waiting. On `Ok`, wake the waiter once the lock is released.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the queue the entry was just taken from.
    unsafe fn offer(&self, v: T) -> Result<Waiter, T> {
        // SAFETY: as for `waiter`.
        let w = unsafe { self.waiter() };
        // SAFETY: the slot is alive (module doc) and nobody else touches it
        // while we hold the lock and the context is not claimed by us.
        unsafe { *self.slot = Some(v) };
        // SAFETY: the context is alive (module doc).
        if unsafe { (*self.ctx).try_claim(self.op) } {
            Ok(w)
        } else {
            // SAFETY: the claim failed, so the owner will not read the slot
            // before taking our lock to withdraw; take the value back.
            Err(unsafe { (*self.slot).take() }.expect("the value we just stored"))
        }
    }

    /// Takes the value of this waiting sender. `None` if it was no longer
    /// waiting (its value stays with it).
    ///
    /// # Safety
    ///
    /// As for [`offer`](Self::offer).
    unsafe fn take(&self) -> Option<(T, Waiter)> {
        // SAFETY: as for `waiter`.
        let w = unsafe { self.waiter() };
        // SAFETY: as in `offer`: the slot is alive and ours under the lock.
        let v = unsafe { (*self.slot).take() }?;
        // SAFETY: the context is alive (module doc).
        if unsafe { (*self.ctx).try_claim(self.op) } {
            Some((v, w))
        } else {
            // SAFETY: as in `offer`: put the value back before unlocking.
            unsafe { *self.slot = Some(v) };
            None
        }
    }
}

struct Inner<T> {
    buf: VecDeque<T>,
    /// Waiting senders, oldest first.
    senders: VecDeque<Entry<T>>,
    /// Waiting receivers, oldest first.
    receivers: VecDeque<Entry<T>>,
    /// Every sender handle is gone.
    senders_gone: bool,
    /// Every receiver handle is gone.
    receivers_gone: bool,
}

/// The shared state of one channel.
pub(crate) struct Chan<T> {
    inner: Mutex<Inner<T>>,
    /// Buffer capacity: 0 is a rendezvous, `usize::MAX` unbounded.
    cap: usize,
    /// Live `Sender` handles (all clones).
    sender_handles: AtomicUsize,
    /// Live `Receiver` handles (all clones).
    receiver_handles: AtomicUsize,
}

/// Capacity meaning "unbounded".
pub(crate) const UNBOUNDED: usize = usize::MAX;

impl<T> Chan<T> {
    /// A channel with one sender and one receiver handle.
    pub(crate) fn new(cap: usize) -> Chan<T> {
        Chan {
            inner: Mutex::new(Inner {
                buf: VecDeque::new(),
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                senders_gone: false,
                receivers_gone: false,
            }),
            cap,
            sender_handles: AtomicUsize::new(1),
            receiver_handles: AtomicUsize::new(1),
        }
    }

    #[inline]
    fn lock(&self) -> MutexGuardOf<'_, T> {
        // No user code runs under the lock, so it cannot be poisoned by a
        // panic that left `Inner` half-updated; take it either way.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Messages in the buffer now.
    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    /// Sends without waiting.
    pub(crate) fn try_send(&self, mut v: T) -> Result<(), TrySendError<T>> {
        let mut g = self.lock();
        if g.receivers_gone {
            return Err(TrySendError::Disconnected(v));
        }
        while let Some(e) = g.receivers.pop_front() {
            // SAFETY: just taken from our queue, under our lock.
            match unsafe { e.offer(v) } {
                Ok(w) => {
                    drop(g);
                    w.wake();
                    return Ok(());
                }
                Err(back) => v = back,
            }
        }
        if g.buf.len() < self.cap {
            g.buf.push_back(v);
            return Ok(());
        }
        Err(TrySendError::Full(v))
    }

    /// Receives without waiting.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut g = self.lock();
        if let Some(v) = g.buf.pop_front() {
            // A place freed up: the oldest waiting sender's value moves in.
            let mut wake = None;
            while let Some(e) = g.senders.pop_front() {
                // SAFETY: just taken from our queue, under our lock.
                if let Some((sv, w)) = unsafe { e.take() } {
                    g.buf.push_back(sv);
                    wake = Some(w);
                    break;
                }
            }
            drop(g);
            if let Some(w) = wake {
                w.wake();
            }
            return Ok(v);
        }
        while let Some(e) = g.senders.pop_front() {
            // SAFETY: just taken from our queue, under our lock.
            if let Some((v, w)) = unsafe { e.take() } {
                drop(g);
                w.wake();
                return Ok(v);
            }
        }
        if g.senders_gone {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Publishes a waiting sender whose value is in `*slot`. Returns false,
    /// publishing nothing, if a send could make progress now (room, a
    /// waiting receiver of another context, or no receivers at all).
    ///
    /// # Safety
    ///
    /// `ctx` is armed and `slot` valid until the caller has withdrawn the
    /// entry ([`unregister_send`](Self::unregister_send)) or been claimed.
    pub(crate) unsafe fn register_send(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) -> bool {
        let ctx: *const Context = ctx;
        let mut g = self.lock();
        if g.receivers_gone || g.buf.len() < self.cap || g.receivers.iter().any(|e| e.ctx != ctx) {
            return false;
        }
        g.senders.push_back(Entry { ctx, op, slot });
        true
    }

    /// Publishes a waiting receiver with the empty `*slot`. Returns false,
    /// publishing nothing, if a receive could make progress now.
    ///
    /// # Safety
    ///
    /// As for [`register_send`](Self::register_send).
    pub(crate) unsafe fn register_recv(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) -> bool {
        let ctx: *const Context = ctx;
        let mut g = self.lock();
        if !g.buf.is_empty() || g.senders_gone || g.senders.iter().any(|e| e.ctx != ctx) {
            return false;
        }
        g.receivers.push_back(Entry { ctx, op, slot });
        true
    }

    /// Withdraws every waiting-sender entry of `ctx`.
    pub(crate) fn unregister_send(&self, ctx: &Context) {
        let ctx: *const Context = ctx;
        self.lock().senders.retain(|e| e.ctx != ctx);
    }

    /// Withdraws every waiting-receiver entry of `ctx`.
    pub(crate) fn unregister_recv(&self, ctx: &Context) {
        let ctx: *const Context = ctx;
        self.lock().receivers.retain(|e| e.ctx != ctx);
    }

    /// Whether every receiver handle is gone.
    pub(crate) fn receivers_gone(&self) -> bool {
        self.lock().receivers_gone
    }

    /// A new sender handle.
    pub(crate) fn add_sender(&self) {
        self.sender_handles.fetch_add(1, Relaxed);
    }

    /// A new receiver handle.
    pub(crate) fn add_receiver(&self) {
        self.receiver_handles.fetch_add(1, Relaxed);
    }

    /// A sender handle is dropped; the last one disconnects the receivers.
    pub(crate) fn drop_sender(&self) {
        // AcqRel pairs with the other droppers' fetch_sub, so exactly one
        // sees 1; the channel state itself is published by the lock.
        if self.sender_handles.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let waiting = {
            let mut g = self.lock();
            g.senders_gone = true;
            Self::take_waiters(&mut g.receivers)
        };
        waiting.into_iter().for_each(Waiter::wake);
    }

    /// A receiver handle is dropped; the last one disconnects the senders
    /// and drops the buffered values.
    pub(crate) fn drop_receiver(&self) {
        // AcqRel: as in `drop_sender`.
        if self.receiver_handles.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let (waiting, buffered) = {
            let mut g = self.lock();
            g.receivers_gone = true;
            let waiting = Self::take_waiters(&mut g.senders);
            (waiting, std::mem::take(&mut g.buf))
        };
        // The values drop here, outside the lock: their `Drop` is user code.
        drop(buffered);
        waiting.into_iter().for_each(Waiter::wake);
    }

    /// Empties `queue` and copies out its waiters, to wake once the lock
    /// is released. They are woken without being claimed: each owner
    /// withdraws, retries, and finds the channel disconnected.
    fn take_waiters(queue: &mut VecDeque<Entry<T>>) -> Vec<Waiter> {
        queue
            .drain(..)
            // SAFETY: each entry was in the queue whose lock the caller
            // holds (`queue` is borrowed from the guard).
            .map(|e| unsafe { e.waiter() })
            .collect()
    }
}

type MutexGuardOf<'a, T> = MutexGuard<'a, Inner<T>>;

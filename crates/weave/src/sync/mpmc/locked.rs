//! The locked flavour of the channel core: a buffer and the queues of
//! waiting senders and receivers under one short lock, with direct
//! hand-off between them. It backs the rendezvous (`bounded(0)`) and the
//! unbounded channels, and bounded ones too large for the array flavour
//! (`chan.rs` chooses); it blocks nobody itself (`select.rs` does, with a
//! [`Context`](super::context::Context)) but a rendezvous receive that
//! waits without one (below, through `sync/block.rs`), and it does not
//! count handles (`chan.rs` does, and calls the `disconnect_*` here).
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
//! - **claiming** an entry: CAS the waiter's context `WAITING ->
//!   claimed(op)`; if the CAS fails (the waiter timed out, or another of its
//!   select's operations won) drop the entry. On success move the value,
//!   then release the context (`context.rs`). The waker copies the waiter
//!   out *before* the claim and wakes it after releasing the lock: once
//!   released, the context may be gone.
//! - **permits** (a `select!` send arm, whose value is evaluated only once
//!   the arm is chosen): a send first obtains a [`Permit`] under the lock
//!   (a place in the buffer, counted in `reserved`; or a waiting receiver,
//!   claimed but not yet released; or "disconnected"), evaluates its value
//!   outside the lock, and completes ([`Chan::complete_send`]) or gives the
//!   permit back ([`Chan::cancel_permit`], when the value expression
//!   panicked). A waiting send arm publishes a *lazy* entry (no value):
//!   a receiver that frees a place grants it the place (claim + `reserved`);
//!   on a rendezvous, a receiver that starts waiting wakes the lazy senders
//!   unclaimed, so they retry and take it as their permit.
//! - **user code** (`Drop` of a `T`) never runs under the lock, and a
//!   disconnection wakes its waiters before dropping buffered values, so a
//!   panicking `Drop` neither poisons the channel nor strands a waiter.
//! - **disconnection**: the last sender (receiver) sets a flag and wakes
//!   every waiting receiver (sender) *without* claiming it; each sees its
//!   context still `WAITING`, withdraws, retries, and finds the flag. The
//!   last receiver also drops the buffered values, as std does.
//!
//! ## A rendezvous receiver: no lock while nobody else waits
//!
//! On a rendezvous (`cap == 0`) a lone single-operation receiver is
//! published in one word (`recv_fast`, `waiters.rs`' [`FastSlot`]) instead
//! of the `receivers` queue, when no other receiver is queued. A sender
//! takes it *without* the lock: the value goes straight into the
//! receiver's slot. Every path that looks for a waiting receiver looks at
//! `recv_fast` first, under the lock or not; the receiver withdraws with a
//! CAS (`FastSlot::withdraw`), and one found taken waits for its taker
//! (`context.rs`).
//!
//! The receiver takes no lock either while no sender waits: a failed
//! `try_recv` reads `senders_queued` (the length of `senders`) and the
//! `senders_gone` flag, and the wait publishes itself in `recv_fast`
//! with a CAS and then reads them again (Dekker, against a sender that
//! starts to wait):
//!
//! | receiver (lock-free `register_recv`)             | sender (`register_send`, under the lock)          |
//! |--------------------------------------------------|---------------------------------------------------|
//! | 1. CAS `recv_fast` null -> its context (`SeqCst`) | 1. push its entry, store `senders_queued` (`SeqCst`) |
//! | 2. (under loom: `fence(SeqCst)`)                 | 2. `fence(SeqCst)`                                |
//! | 3. load `senders_queued`, `senders_gone` (`SeqCst`) | 3. load `recv_fast` (`SeqCst`)                  |
//! | 4. a sender queued (or none left)? withdraw, and wait the locked way | 4. a receiver there? withdraw, retry (`try_send` takes it) |
//!
//! One of the two sees the other (the receiver's steps 1 and 3 are both
//! `SeqCst`, which orders them without a fence: `waiters.rs`, "No lost
//! wake-up"). Only the receiver's step 4 can meet the
//! sender's: the receiver then redoes its registration under the lock,
//! where the sender's entry (or its absence) is certain, so the two never
//! withdraw and retry against each other for ever. The last sender's
//! handle sets `senders_gone` before it takes `recv_fast` (with a fence
//! between, as step 2), so a receiver publishing meanwhile either sees
//! the flag or is woken by it. A sender that finds no receiver waits
//! under the lock, as before.
//!
//! ## A rendezvous receive without a context
//!
//! On a rendezvous, a plain `recv` without a deadline that finds no
//! sender waits first through [`Locked::recv_deferred`], with a record
//! on its stack whose publication its LWP makes late, unless a send on
//! that LWP serves it first (`deferred.rs`, which owns the record and its
//! protocol). Here, the rendezvous' part: the deferral's key is
//! `recv_fast`; a send on the LWP ([`Locked::try_send`]) that finds no
//! receiver in `recv_fast` serves the deferred receive when no sender and
//! no receiver is queued (none came before it), without the lock: its
//! value goes into the record, a complete rendezvous; and the
//! publication registers the record's context as
//! [`Locked::register_recv`] (in `recv_fast` without the lock, or under
//! it), whose look sees a sender queued or gone meanwhile. A receive
//! that ends its wait with no value waits the full way, whose
//! registration looks again. A ping-pong on one LWP so takes neither the
//! lock nor an RMW on the channel.
//!
//! ## The receiver's switch to the sender
//!
//! A blocking receive (`recv` without a deadline) that takes the value of
//! a waiting sender wakes it with `Waiter::wake_and_switch`: a sender that
//! is a ULT of the receiver's LWP runs at once, the receiver next
//! (`Lwp::yield_to_woken`, which queues the sender instead when the loop
//! must pick). Its send is complete (the value is taken), and what it does
//! next is, in a ping-pong, to wait for the reply: it then waits as a
//! *receiver*, alone, in `recv_fast`, and the reply goes to it without the
//! lock. Without the switch, a ping-pong that started with a sender
//! waiting (the first send made before the echo side ran) stayed in that
//! phase for good: each message a sender queued under the lock and a
//! receiver took under the lock (~580 instructions a round trip more than
//! the phase where receivers wait). The sender's side does not switch to
//! the receiver it hands a value to: that receiver would run while the
//! sender is not yet waiting for the reply, and the reply's sender would
//! queue under the lock: the slow phase again. The value moves under the
//! lock as before; the switch comes after the lock is released, when the
//! wake would have queued the sender.
//!
//! ## Why the raw pointers in `Entry` are valid
//!
//! An entry points into the stack of a thread blocked in `select::run`.
//! That thread leaves `run` only after (a) it was claimed, the claimer
//! removed that entry before claiming, and released the context, and (b)
//! it removed every other entry naming its context, each under its
//! channel's lock. Every access through
//! an entry happens under the lock of the queue holding it. So an entry in
//! a queue always points to a live context and slot.

use super::chan::Permit;
use super::context::{Context, Fast, Waiter};
use super::deferred::{DeferredRecv, RecvQueue};
use super::error::{SendError, TryRecvError, TrySendError};
use super::waiters::FastSlot;
use crate::loom::{fence, AtomicBool, AtomicUsize, Mutex, MutexGuard};
use crate::sync::block;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// A waiting operation, published in a channel queue.
pub(crate) struct Entry<T> {
    ctx: *const Context,
    op: usize,
    /// A waiting sender's slot holds its value (none if `lazy`); a waiting
    /// receiver's slot is empty until a sender claims it.
    slot: *mut Option<T>,
    /// A send arm of a `select!` that has no value yet: it can be granted a
    /// buffer place, never asked for its value.
    lazy: bool,
}

// SAFETY: an entry is only used under its channel's lock, and moves a `T`
// between threads, which `T: Send` allows; the context is `Sync` in use
// (its shared parts are atomics and a field written only while no entry
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

    /// Claims the entry's context for its operation; `Some(waiter)` if won.
    ///
    /// # Safety
    ///
    /// As for [`waiter`](Self::waiter).
    unsafe fn claim(&self) -> Option<Waiter> {
        // SAFETY: as for `waiter`.
        let w = unsafe { self.waiter() };
        // SAFETY: the context is alive (module doc).
        unsafe { (*self.ctx).try_claim(self.op) }.then_some(w)
    }

    /// Releases a context this caller claimed.
    ///
    /// # Safety
    ///
    /// The caller won [`claim`](Self::claim) on this entry and has not
    /// released it yet; the entry is not used afterwards.
    unsafe fn release(&self) {
        // SAFETY: the caller's guarantee; the owner stays until released.
        unsafe { (*self.ctx).release() };
    }

    /// Gives `v` to this waiting receiver. `Err(v)` if it was no longer
    /// waiting. On `Ok`, wake the waiter once the lock is released.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the queue the entry was just taken from.
    unsafe fn offer(&self, v: T) -> Result<Waiter, T> {
        // SAFETY: the caller's guarantee.
        let Some(w) = (unsafe { self.claim() }) else {
            return Err(v);
        };
        // SAFETY: claimed and not released: the owner does not read the
        // slot until we release, and it stays alive until then.
        unsafe {
            *self.slot = Some(v);
            self.release();
        }
        Ok(w)
    }

    /// Takes the value of this waiting (not lazy) sender. `None` if it was
    /// no longer waiting (its value stays with it).
    ///
    /// # Safety
    ///
    /// As for [`offer`](Self::offer).
    unsafe fn take(&self) -> Option<(T, Waiter)> {
        debug_assert!(!self.lazy, "took a value from a lazy send");
        // SAFETY: the caller's guarantee.
        let w = unsafe { self.claim() }?;
        // SAFETY: as in `offer`.
        let v = unsafe { (*self.slot).take() };
        // SAFETY: as in `offer`.
        unsafe { self.release() };
        match v {
            Some(v) => Some((v, w)),
            None => crate::fatal("channel: a waiting sender has no value"),
        }
    }

    /// Grants this waiting lazy sender a buffer place (the caller counts
    /// it in `reserved`). `None` if it was no longer waiting.
    ///
    /// # Safety
    ///
    /// As for [`offer`](Self::offer).
    unsafe fn grant(&self) -> Option<Waiter> {
        // SAFETY: the caller's guarantee.
        let w = unsafe { self.claim() }?;
        // SAFETY: claimed just now; nothing to move: the slot stays empty.
        unsafe { self.release() };
        Some(w)
    }
}

/// A waiting receiver that a permit holds: claimed, not yet released.
pub(crate) struct Reserved<T> {
    ctx: *const Context,
    slot: *mut Option<T>,
    waiter: Waiter,
}

// SAFETY: as for `Entry`: the receiver behind it waits (alive) until the
// holder releases it, and only a `T` moves through it.
unsafe impl<T: Send> Send for Reserved<T> {}

impl<T> Reserved<T> {
    /// Hands `v` to the receiver (or, with `None`, tells it to try again)
    /// and wakes it.
    pub(crate) fn finish(self, v: Option<T>) {
        // SAFETY: we claimed the context and have not released it, so the
        // owner waits (its slot alive) and does not read the slot until
        // `release` below, after which we do not touch it.
        unsafe {
            *self.slot = v;
            (*self.ctx).release();
        }
        self.waiter.wake();
    }
}

struct Inner<T> {
    buf: VecDeque<T>,
    /// Buffer places promised to permits whose value is not in yet.
    reserved: usize,
    /// Waiting senders, oldest first.
    senders: VecDeque<Entry<T>>,
    /// Waiting receivers, oldest first.
    receivers: VecDeque<Entry<T>>,
    /// Every sender handle is gone.
    senders_gone: bool,
    /// Every receiver handle is gone.
    receivers_gone: bool,
}

/// The shared state of one channel of the locked flavour.
pub(crate) struct Locked<T> {
    inner: Mutex<Inner<T>>,
    /// A lone waiting receiver of a rendezvous (module doc); published
    /// and taken with or without the lock.
    recv_fast: FastSlot,
    /// `senders.len()`, written under the lock, read without it by a
    /// rendezvous receiver (module doc).
    senders_queued: AtomicUsize,
    /// `receivers.len()`, written under the lock; a hint for a rendezvous
    /// receiver that would publish in `recv_fast` ahead of queued ones.
    receivers_queued: AtomicUsize,
    /// `Inner::senders_gone`, for a rendezvous receiver without the lock.
    senders_gone: AtomicBool,
    /// Buffer capacity: 0 is a rendezvous, `usize::MAX` unbounded.
    cap: usize,
}

impl<T> Inner<T> {
    /// Whether a send may take a buffer place now.
    fn has_room(&self, cap: usize) -> bool {
        self.buf.len() + self.reserved < cap
    }

    /// A buffer place just freed up: the oldest waiting sender gets it (an
    /// eager one's value moves in; a lazy one is granted the place).
    /// Returns whom to wake once the lock is released.
    fn fill_freed_place(&mut self) -> Option<Waiter> {
        while let Some(e) = self.senders.pop_front() {
            if e.lazy {
                // SAFETY: just taken from our queue, under our lock.
                if let Some(w) = unsafe { e.grant() } {
                    self.reserved += 1;
                    return Some(w);
                }
            // SAFETY: just taken from our queue, under our lock.
            } else if let Some((v, w)) = unsafe { e.take() } {
                self.buf.push_back(v);
                return Some(w);
            }
        }
        None
    }

    /// Gives `v` to the oldest receiver still waiting; `Err(v)` if none.
    fn offer_to_receivers(&mut self, mut v: T) -> Result<Waiter, T> {
        while let Some(e) = self.receivers.pop_front() {
            // SAFETY: just taken from our queue, under our lock.
            match unsafe { e.offer(v) } {
                Ok(w) => return Ok(w),
                Err(back) => v = back,
            }
        }
        Err(v)
    }
}

impl<T> Locked<T> {
    /// An empty channel of capacity `cap`.
    pub(crate) fn new(cap: usize) -> Locked<T> {
        Locked {
            inner: Mutex::new(Inner {
                buf: VecDeque::new(),
                reserved: 0,
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                senders_gone: false,
                receivers_gone: false,
            }),
            recv_fast: FastSlot::new(),
            senders_queued: AtomicUsize::new(0),
            receivers_queued: AtomicUsize::new(0),
            senders_gone: AtomicBool::new(false),
            cap,
        }
    }

    /// Publishes the queue lengths after a change under the lock `g`.
    /// Relaxed: a stale count only sends a rendezvous receiver the locked
    /// way (or, for `receivers_queued`, lets it take the free fast slot
    /// beside a queued receiver: a small unfairness); the one store that
    /// must be `SeqCst` is `register_send`'s.
    #[inline]
    fn publish_counts(&self, g: &Inner<T>) {
        if self.cap == 0 {
            self.senders_queued.store(g.senders.len(), Relaxed);
            self.receivers_queued.store(g.receivers.len(), Relaxed);
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

    /// Gives `v` to the fast slot's receiver, if any (module doc).
    #[inline]
    fn hand_off(&self, v: T) -> Result<(), T> {
        // Relaxed: a receiver missed here is found again under the lock,
        // where it was published.
        if !self.recv_fast.occupied_relaxed() {
            return Err(v);
        }
        // SAFETY: only receive slots (`Option<T>`) are published there.
        unsafe { self.recv_fast.hand_off(v) }
    }

    /// Sends without waiting: on a rendezvous, straight to a receiver
    /// waiting in the fast slot, or to a receive of this LWP whose wait
    /// is not published yet, without the lock. Out of line: for
    /// `try_send` and a send's operation; a send's first try takes
    /// [`try_send_first`](Self::try_send_first).
    #[inline(never)]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.try_send_first(v)
    }

    /// [`try_send`](Self::try_send) for a blocking send's first try:
    /// inline, with the lock's path out of line (`try_send_locked`). A
    /// ping-pong's send is one of the two lock-free cases, and a call into
    /// the whole of `try_send` cost ~19 instructions of saved registers a
    /// send.
    #[inline(always)]
    pub(crate) fn try_send_first(&self, v: T) -> Result<(), TrySendError<T>> {
        let v = match self.hand_off(v) {
            Ok(()) => return Ok(()),
            Err(v) => v,
        };
        // A receive of this LWP whose wait is not published yet
        // (`recv_deferred`): served here when nobody queued came before
        // it (Relaxed: a hint, as `publish_counts` says; serving it
        // beside a sender queued meanwhile only reorders two sends that
        // nothing ordered), without the lock or an RMW.
        if self.cap == 0 {
            let first = || {
                self.senders_queued.load(Relaxed) == 0 && self.receivers_queued.load(Relaxed) == 0
            };
            if let Some(wait) = block::take_deferred(self.receivers_key(), first) {
                // SAFETY: taken from this LWP's deferral under our key: a
                // receive's record of this channel (`recv_deferred`), its
                // owner switched out until woken.
                unsafe { DeferredRecv::serve(wait, v) };
                return Ok(());
            }
        }
        self.try_send_locked(v)
    }

    /// [`try_send`](Self::try_send) past its lock-free cases: under the
    /// lock.
    #[inline(never)]
    fn try_send_locked(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut g = self.lock();
        if g.receivers_gone {
            return Err(TrySendError::Disconnected(v));
        }
        // A receiver published since the look above.
        let v = match self.hand_off(v) {
            Ok(()) => return Ok(()),
            Err(v) => v,
        };
        let offered = g.offer_to_receivers(v);
        self.publish_counts(&g);
        let v = match offered {
            Ok(w) => {
                drop(g);
                w.wake();
                return Ok(());
            }
            Err(v) => v,
        };
        if g.has_room(self.cap) {
            g.buf.push_back(v);
            return Ok(());
        }
        Err(TrySendError::Full(v))
    }

    /// What names this rendezvous' receivers in a deferral.
    #[inline(always)]
    fn receivers_key(&self) -> *const () {
        std::ptr::addr_of!(self.recv_fast).cast()
    }

    /// A plain `recv` on a rendezvous that found no sender, waiting
    /// without a context (the module doc, "A rendezvous receive without
    /// a context"). `Some(v)`: a send handed it `v`. `None`: nothing
    /// received (a sender queued or the last one left meanwhile, a
    /// signal): the caller waits the full way. `object` names the channel
    /// for the thread dump.
    #[inline(always)]
    pub(crate) fn recv_deferred(&self, object: usize) -> Option<T> {
        debug_assert!(self.cap == 0, "a deferred receive on a buffer");
        let rec = DeferredRecv::<T>::new();
        block::block_on_handed(block::BlockReason::Channel, None, object, |w| {
            // SAFETY: a new record, in place until `end` below; the key
            // names our receivers.
            unsafe { rec.register(w, self.receivers_key(), self) }
        });
        rec.end(self)
    }

    /// Secures a send whose value does not exist yet; `None` if a send
    /// would have to wait. See [`Permit`].
    pub(crate) fn try_permit(&self) -> Option<Permit<T>> {
        let mut g = self.lock();
        if g.receivers_gone {
            return Some(Permit::Disconnected);
        }
        if let Some((ctx, waiter)) = self.recv_fast.claim() {
            return Some(Permit::Receiver(Reserved {
                ctx,
                // SAFETY: claimed, not released: its slot, an `Option<T>`,
                // is ours to fill.
                slot: unsafe { ctx.slot() }.cast(),
                waiter,
            }));
        }
        while let Some(e) = g.receivers.pop_front() {
            self.publish_counts(&g);
            // SAFETY: just taken from our queue, under our lock.
            if let Some(waiter) = unsafe { e.claim() } {
                return Some(Permit::Receiver(Reserved {
                    ctx: e.ctx,
                    slot: e.slot,
                    waiter,
                }));
            }
        }
        if g.has_room(self.cap) {
            g.reserved += 1;
            return Some(Permit::Place);
        }
        None
    }

    /// Completes a send that holds a [`Permit::Place`], with its value now.
    pub(crate) fn complete_place(&self, v: T) -> Result<(), SendError<T>> {
        let mut g = self.lock();
        g.reserved -= 1;
        if g.receivers_gone {
            // The last receiver left between the permit and now: nobody
            // could ever take the value.
            return Err(SendError(v));
        }
        let v = match self.hand_off(v) {
            Ok(()) => return Ok(()),
            Err(v) => v,
        };
        let offered = g.offer_to_receivers(v);
        self.publish_counts(&g);
        match offered {
            Ok(w) => {
                drop(g);
                w.wake();
            }
            Err(v) => g.buf.push_back(v),
        }
        Ok(())
    }

    /// Gives back a [`Permit::Place`] that will not be used (its value
    /// expression panicked, or a `SelectedOperation` was dropped).
    pub(crate) fn cancel_place(&self) {
        let wake = {
            let mut g = self.lock();
            g.reserved -= 1;
            let wake = g.fill_freed_place();
            self.publish_counts(&g);
            wake
        };
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// Receives without waiting. On a rendezvous with no sender queued,
    /// without the lock (module doc). `switch` (a blocking receive, which
    /// is a safe point anyway) switches straight to a waiting sender whose
    /// value it took, when that sender is a ULT of this LWP (module doc,
    /// "The receiver's switch to the sender"). Out of line: for
    /// `try_recv` and a receive's operation; a receive's first try takes
    /// [`try_recv_first`](Self::try_recv_first).
    #[inline(never)]
    pub(crate) fn try_recv(&self, switch: bool) -> Result<T, TryRecvError> {
        self.try_recv_first(switch)
    }

    /// [`try_recv`](Self::try_recv) for a receive's first try: inline, the
    /// lock's path out of line (`try_recv_locked`). A ping-pong's receive
    /// finds no sender and waits, and a call into the whole of `try_recv`
    /// cost ~36 instructions of saved registers for the two loads that
    /// tell.
    #[inline(always)]
    pub(crate) fn try_recv_first(&self, switch: bool) -> Result<T, TryRecvError> {
        // SeqCst: as the receiver's step 3 in the module doc (a rendezvous
        // has no buffer, so a queued sender is the only value there is).
        if self.cap == 0 && self.senders_queued.load(SeqCst) == 0 {
            return Err(if self.senders_gone.load(SeqCst) {
                TryRecvError::Disconnected
            } else {
                TryRecvError::Empty
            });
        }
        self.try_recv_locked(switch)
    }

    /// [`try_recv`](Self::try_recv) past its lock-free case: under the
    /// lock.
    #[inline(never)]
    fn try_recv_locked(&self, switch: bool) -> Result<T, TryRecvError> {
        let mut g = self.lock();
        if let Some(v) = g.buf.pop_front() {
            let wake = g.fill_freed_place();
            self.publish_counts(&g);
            drop(g);
            if let Some(w) = wake {
                w.wake();
            }
            return Ok(v);
        }
        // A rendezvous (or a buffer kept empty by permits): take a waiting
        // sender's value. Lazy senders have none; they stay queued.
        let mut i = 0;
        while i < g.senders.len() {
            if g.senders[i].lazy {
                i += 1;
                continue;
            }
            let e = g.senders.remove(i).expect("index checked");
            self.publish_counts(&g);
            // SAFETY: just taken from our queue, under our lock.
            if let Some((v, w)) = unsafe { e.take() } {
                drop(g);
                if switch {
                    w.wake_and_switch();
                } else {
                    w.wake();
                }
                return Ok(v);
            }
        }
        if g.senders_gone {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Whether a receive would complete now (a value, or disconnected).
    pub(crate) fn recv_ready(&self) -> bool {
        let g = self.lock();
        !g.buf.is_empty() || g.senders_gone || g.senders.iter().any(|e| !e.lazy)
    }

    /// Whether a send would complete now (room, a receiver, or
    /// disconnected).
    pub(crate) fn send_ready(&self) -> bool {
        let g = self.lock();
        g.receivers_gone
            || g.has_room(self.cap)
            || !g.receivers.is_empty()
            || self.recv_fast.occupied()
    }

    /// Publishes a waiting sender whose value is in `*slot` (or, `lazy`,
    /// that has none yet). Returns false, publishing nothing, if a send
    /// could make progress now (room, a waiting receiver of another
    /// context, or no receivers at all).
    ///
    /// # Safety
    ///
    /// `ctx` is armed and `slot` valid until the caller has withdrawn the
    /// entry ([`unregister_send`](Self::unregister_send)) or been claimed
    /// and released.
    pub(crate) unsafe fn register_send(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
        lazy: bool,
    ) -> bool {
        let ctx: *const Context = ctx;
        let mut g = self.lock();
        if g.receivers_gone || g.has_room(self.cap) || g.receivers.iter().any(|e| e.ctx != ctx) {
            return false;
        }
        g.senders.push_back(Entry {
            ctx,
            op,
            slot,
            lazy,
        });
        if self.cap == 0 {
            // SeqCst, then the fence: the sender's steps 1 and 2 of the
            // module doc; they pair with the lock-free receiver's.
            self.senders_queued.store(g.senders.len(), SeqCst);
            fence(SeqCst);
        }
        // Step 3. A receiver in the fast slot has one operation: never
        // ours. It may have published without the lock: withdraw, and let
        // the retry (`try_send`) take it.
        if self.recv_fast.occupied() {
            g.senders.pop_back();
            self.publish_counts(&g);
            return false;
        }
        true
    }

    /// Publishes a waiting receiver with the empty `*slot`. Returns false,
    /// publishing nothing, if a receive could make progress now. Lazy
    /// senders of other contexts are woken (unclaimed) to come and take
    /// this receiver as their permit.
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
        // SAFETY: the caller's guarantee.
        if self.cap == 0 && unsafe { self.register_recv_lock_free(ctx, slot) } {
            return true;
        }
        let ctx: *const Context = ctx;
        let wake = {
            let mut g = self.lock();
            if !g.buf.is_empty()
                || g.senders_gone
                || g.senders.iter().any(|e| e.ctx != ctx && !e.lazy)
            {
                return false;
            }
            // SAFETY: the caller's guarantee; `ctx` is single (checked).
            let fast = self.cap == 0
                && g.receivers.is_empty()
                && unsafe { &*ctx }.is_single()
                && unsafe { self.recv_fast.publish(&*ctx, slot.cast()) };
            if !fast {
                g.receivers.push_back(Entry {
                    ctx,
                    op,
                    slot,
                    lazy: false,
                });
                self.publish_counts(&g);
            }
            if g.senders.is_empty() {
                // The common case: nobody to call over (and no vector to
                // drop on the way out: that drop was a call per receive).
                return true;
            }
            let mut wake = Vec::new();
            g.senders.retain(|e| {
                if e.ctx == ctx {
                    return true;
                }
                // SAFETY: `e` is in our queue and we hold its lock.
                wake.push(unsafe { e.waiter() });
                false
            });
            self.publish_counts(&g);
            wake
        };
        wake.into_iter().for_each(Waiter::wake);
        true
    }

    /// The receiver's steps 1 to 4 of the module doc: publishes the lone
    /// single-operation `ctx` of a rendezvous in `recv_fast` without the
    /// lock. True: it waits there. False: it is not published (a
    /// receiver is queued, the slot is taken, a sender waits, or none is
    /// left): the caller registers under the lock, which decides.
    ///
    /// # Safety
    ///
    /// As for [`register_recv`](Self::register_recv).
    #[inline]
    unsafe fn register_recv_lock_free(&self, ctx: &Context, slot: *mut Option<T>) -> bool {
        // Relaxed: a hint (`publish_counts`).
        if !ctx.is_single() || self.receivers_queued.load(Relaxed) != 0 {
            return false;
        }
        // SAFETY: the caller's guarantee; `ctx` is single (checked).
        if !unsafe { self.recv_fast.publish(ctx, slot.cast()) } {
            return false;
        }
        // Step 2, under loom only (the CAS above and the loads below are
        // SeqCst: module doc): pairs with the fence of `register_send`
        // (and of `disconnect_senders`).
        #[cfg(loom)]
        fence(SeqCst);
        // Step 3 (SeqCst: the loads of the Dekker pair).
        if self.senders_queued.load(SeqCst) == 0 && !self.senders_gone.load(SeqCst) {
            return true;
        }
        // Step 4: withdraw, unless a sender took the entry already (then
        // it serves us, or lets go and we retry: the entry stands).
        !self.recv_fast.withdraw(ctx)
    }

    /// Withdraws every waiting-sender entry of `ctx`.
    pub(crate) fn unregister_send(&self, ctx: &Context) {
        let ctx: *const Context = ctx;
        let mut g = self.lock();
        g.senders.retain(|e| e.ctx != ctx);
        self.publish_counts(&g);
    }

    /// Withdraws every waiting-receiver entry of `ctx`.
    pub(crate) fn unregister_recv(&self, ctx: &Context) {
        if ctx.fast() != Fast::No {
            // Published in the fast slot, not the queue: withdraw without
            // the lock (a taken entry is waited for by the owner).
            self.recv_fast.withdraw(ctx);
            return;
        }
        let ctx: *const Context = ctx;
        let mut g = self.lock();
        g.receivers.retain(|e| e.ctx != ctx);
        self.publish_counts(&g);
    }

    /// Whether every receiver handle is gone.
    pub(crate) fn receivers_gone(&self) -> bool {
        self.lock().receivers_gone
    }

    /// Whether every sender handle is gone.
    pub(crate) fn senders_gone(&self) -> bool {
        self.lock().senders_gone
    }

    /// Every sender handle is gone: wake the waiting receivers.
    pub(crate) fn disconnect_senders(&self) {
        let waiting = {
            let mut g = self.lock();
            g.senders_gone = true;
            // SeqCst: the lock-free receiver's step 3 reads it (module doc).
            self.senders_gone.store(true, SeqCst);
            let waiting = Self::take_waiters(&mut g.receivers);
            self.publish_counts(&g);
            waiting
        };
        // Pairs with the lock-free receiver's fence: it sees the flag, or
        // this take finds it (a receiver under the lock sees the flag
        // there and does not publish).
        fence(SeqCst);
        self.recv_fast.disconnect();
        waiting.into_iter().for_each(Waiter::wake);
    }

    /// Every receiver handle is gone: wake the waiting senders and drop
    /// the buffered values.
    pub(crate) fn disconnect_receivers(&self) {
        let (waiting, buffered) = {
            let mut g = self.lock();
            g.receivers_gone = true;
            let waiting = Self::take_waiters(&mut g.senders);
            self.publish_counts(&g);
            (waiting, std::mem::take(&mut g.buf))
        };
        // Wake first: the values' `Drop` is user code and may panic, and a
        // panic must not strand the waiting senders. A panicking value does
        // not stop the others from dropping (`VecDeque`'s drop goes on).
        waiting.into_iter().for_each(Waiter::wake);
        drop(buffered);
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

impl<T> RecvQueue<T> for Locked<T> {
    unsafe fn publish_recv(&self, ctx: &Context, slot: *mut Option<T>) -> bool {
        // SAFETY: the caller's guarantee.
        unsafe { self.register_recv(ctx, 0, slot) }
    }

    fn withdraw_recv(&self, ctx: &Context) {
        self.unregister_recv(ctx);
    }
}

type MutexGuardOf<'a, T> = MutexGuard<'a, Inner<T>>;

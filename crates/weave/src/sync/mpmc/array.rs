//! The array flavour of the channel core: a bounded buffer of stamped
//! slots that senders and receivers claim with one CAS each, without a
//! lock (the design of crossbeam-channel's array flavour and of Vyukov's
//! bounded MPMC queue). It backs `bounded(n)` for `n >= 1`; `chan.rs`
//! chooses. It owns the slots, the two indices and the two lists of
//! waiting operations ([`Waiters`]); it blocks nobody (`select.rs` does)
//! and counts no handles (`chan.rs` does).
//!
//! ## Indices and stamps
//!
//! `head` and `tail` are `lap | index` with `index < cap` in the low bits;
//! a lap is `one_lap` (twice `mark_bit`, the power of two above `cap`).
//! `tail`'s `mark_bit` is the disconnection mark, set by the last handle of
//! either side: a sender sees it as "no receivers", a receiver (once the
//! buffer is empty) as "no senders", since a side cannot ask about itself.
//! Each slot's `stamp` says what the slot holds:
//!
//! | stamp                       | slot                                         | next step                  |
//! |-----------------------------|----------------------------------------------|----------------------------|
//! | `tail` (for this lap)       | free                                         | a sender CASes `tail` on   |
//! | `tail + 1`                  | a message of this lap                        | a receiver CASes `head` on |
//! | `tail + 1 \| mark_bit`      | a hole: a place a cancelled permit gave back | a receiver skips it        |
//! | `head + one_lap`            | free for the next lap (set by the receiver)  |                            |
//!
//! A sender CASes `tail` past a free slot, writes the message, then stores
//! `tail + 1` (Release, pairs with the receiver's Acquire load of the
//! stamp). A receiver CASes `head` past a written slot, reads the message,
//! then stores `head + one_lap` (Release, pairs with the next sender's
//! Acquire load). `mark_bit` never occurs in a written stamp otherwise
//! (`index + 1 <= cap < mark_bit`), so it can mark holes.
//!
//! ## Waiting
//!
//! A sender that finds the buffer full (a receiver that finds it empty)
//! publishes its context in `senders` (`receivers`), then checks again;
//! every message written notifies `receivers`, every slot freed notifies
//! `senders` (`waiters.rs` has the no-lost-wake-up argument: the index
//! CAS is the partner's `SeqCst` half). A woken operation has been
//! *notified*, not served: it retries, and the select around it retries the
//! notified operation first (`select.rs`). A plain receive of a pooled
//! ULT without a deadline leaves its publication in `receivers` to its
//! LWP, and a send on that LWP serves it without an RMW (below).
//!
//! ## A receive without a context
//!
//! `Receiver::recv` (no deadline) that finds the buffer empty waits first
//! through [`Array::recv_deferred`], without a select operation or a
//! [`Context`]: a record on its stack whose publication in `receivers`
//! its LWP makes late, unless a send on that LWP serves it first
//! (`deferred.rs`, which owns the record and its protocol). Here, the
//! array's part: the deferral's key is `receivers`; a send on the LWP
//! (`try_send`) serves the deferred receive when no receiver is published
//! and the buffer is empty (no message is older), and notifies `senders`
//! as a hand-off does; the publication registers the record's context as
//! [`Array::register_recv`] (its look at the indices sees a message or
//! the disconnection that came meanwhile); and a receive that ends its
//! wait with no value tries the buffer again before it waits the full
//! way (`Chan::recv_deferred`).
//!
//! ## A `select!` send arm (a permit)
//!
//! The arm secures a slot first (the `tail` CAS: [`Token`]) and writes its
//! value only once the value expression has run. Until then the slot is
//! reserved but not written, and receivers that reach it wait for it
//! (spinning, then yielding), as in crossbeam. A permit given back (the
//! value expression panicked) undoes its `tail` CAS if nobody reserved
//! after it; else it writes a hole, which the next receiver skips.

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use super::context::Context;
use super::deferred::{DeferredRecv, RecvQueue};
use super::error::{SendError, TryRecvError, TrySendError};
use super::waiters::Waiters;
use crate::loom::{fence, AtomicUsize};
use crate::sync::block;

/// The largest capacity served by this flavour: the buffer is allocated
/// whole at creation, so a bound far above what a program keeps in flight
/// would only cost memory. Larger bounds use the locked flavour, which
/// grows its buffer as messages come. 2^20 slots of a word each are 16 MiB.
pub(crate) const MAX_CAP: usize = 1 << 20;

/// One place of the buffer.
struct Slot<T> {
    /// What the slot holds (module doc).
    stamp: AtomicUsize,
    msg: Cell<MaybeUninit<T>>,
}

/// A slot a sender has reserved (moved `tail` past) and not yet written.
pub(crate) struct Token {
    index: usize,
    /// `tail` when it was reserved.
    tail: usize,
    /// `tail` right after the reservation, to undo it.
    next: usize,
}

/// An index (`head` or `tail`) alone on its cache line, so that senders and
/// receivers do not invalidate each other's line on every CAS. 128 bytes:
/// the spatial prefetcher of recent x86 cores pulls lines in pairs.
#[repr(align(128))]
struct Padded(AtomicUsize);

/// A bounded channel of stamped slots; see the module doc.
pub(crate) struct Array<T> {
    head: Padded,
    tail: Padded,
    slots: Box<[Slot<T>]>,
    cap: usize,
    one_lap: usize,
    mark_bit: usize,
    /// Waiting senders (the buffer was full).
    senders: Waiters,
    /// Waiting receivers (the buffer was empty).
    receivers: Waiters,
}

// SAFETY: messages move between threads through the slots (`T: Send`);
// a slot's message is accessed only by the one thread that won the index
// CAS for it, ordered by the stamp's Release/Acquire (module doc).
unsafe impl<T: Send> Send for Array<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Array<T> {}

/// What [`Array::reserve`] found.
enum Reserve {
    Slot(Token),
    Full,
    Disconnected,
}

/// What [`Array::take`] found.
enum Take<T> {
    Msg(T),
    Empty,
    Disconnected,
}

impl<T> Array<T> {
    /// An empty channel of `cap` places, `1 <= cap <= MAX_CAP`.
    pub(crate) fn new(cap: usize) -> Array<T> {
        debug_assert!((1..=MAX_CAP).contains(&cap));
        let mark_bit = (cap + 1).next_power_of_two();
        Array {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            // Slot `i` starts free for lap 0: stamp `0 | i`.
            slots: (0..cap)
                .map(|i| Slot {
                    stamp: AtomicUsize::new(i),
                    msg: Cell::new(MaybeUninit::uninit()),
                })
                .collect(),
            cap,
            one_lap: mark_bit * 2,
            mark_bit,
            senders: Waiters::new(),
            receivers: Waiters::new(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// The index after `i` (`head` or `tail`): the next slot, or slot 0 of
    /// the next lap.
    #[inline]
    fn advance(&self, i: usize) -> usize {
        let index = i & (self.mark_bit - 1);
        if index + 1 < self.cap {
            i + 1
        } else {
            (i & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Moves `tail` past a free slot. Forced inline: with three flavours
    /// behind `Chan::try_send` the compiler stopped inlining it, and the
    /// call cost `channel_throughput` ~40 instructions a message.
    #[inline(always)]
    fn reserve(&self) -> Reserve {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.0.load(Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Reserve::Disconnected;
            }
            let index = tail & (self.mark_bit - 1);
            let slot = &self.slots[index];
            // Acquire pairs with the Release store of the receiver that
            // freed the slot: its read of the old message is done.
            let stamp = slot.stamp.load(Acquire);
            if stamp == tail {
                let next = self.advance(tail);
                // SeqCst: the partner's half of the Dekker pair with a
                // waiting receiver (`waiters.rs`).
                match self
                    .tail
                    .0
                    .compare_exchange_weak(tail, next, SeqCst, Relaxed)
                {
                    Ok(_) => return Reserve::Slot(Token { index, tail, next }),
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if (stamp & !self.mark_bit).wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds the previous lap's message (or
                // hole): full, unless a receiver has taken it and is
                // reading it now.
                // SeqCst: orders the stamp load before the head load, as
                // the receiver's head CAS comes before its stamp store.
                fence(SeqCst);
                let head = self.head.0.load(Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Reserve::Full;
                }
                backoff.snooze();
                tail = self.tail.0.load(Relaxed);
            } else if stamp.wrapping_add(self.one_lap) == tail {
                // Reserved in the previous lap and not written yet (a
                // permit whose value is being evaluated): `head` cannot
                // pass it, so every place is taken. Stamps only move
                // forward, so this held when the stamp was loaded.
                return Reserve::Full;
            } else {
                // Another sender moved `tail` meanwhile.
                backoff.spin();
                tail = self.tail.0.load(Relaxed);
            }
        }
    }

    /// Writes `v` into a reserved slot (`hole`: gives the place back
    /// instead), and tells a waiting receiver.
    #[inline]
    fn write(&self, token: Token, v: Option<T>) {
        let slot = &self.slots[token.index];
        let stamp = match v {
            Some(v) => {
                // SAFETY: the `tail` CAS gave this slot to us alone until
                // the stamp store below publishes it.
                slot.msg
                    .with_mut(|p| unsafe { p.write(MaybeUninit::new(v)) });
                token.tail + 1
            }
            None => (token.tail + 1) | self.mark_bit,
        };
        // Release pairs with the Acquire stamp load in `take`: the message
        // is written before a receiver may read it.
        slot.stamp.store(stamp, Release);
        self.receivers.notify();
    }

    /// Takes the message at `head`, skipping holes. A slot reserved and
    /// not yet written is waited for if `WAIT` (a receive), else taken as
    /// the end (the last receiver's drain: the slot's sender may be the
    /// very thread that drains, holding a `select` permit). `glance`: a
    /// slot not written for this lap is `Empty` at once, without the fence
    /// and the look at `tail` that tell "empty" from "being written" and
    /// "disconnected", for a receive that waits next, whose registration
    /// looks at both (`try_recv_glance`).
    #[inline(always)]
    fn take<const WAIT: bool>(&self, glance: bool) -> Take<T> {
        let mut backoff = Backoff::new();
        let mut head = self.head.0.load(Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let slot = &self.slots[index];
            // Acquire pairs with the Release stamp store in `write`.
            let stamp = slot.stamp.load(Acquire);
            if stamp & !self.mark_bit == head + 1 {
                let next = self.advance(head);
                // SeqCst: the partner's half of the Dekker pair with a
                // waiting sender (`waiters.rs`).
                match self
                    .head
                    .0
                    .compare_exchange_weak(head, next, SeqCst, Relaxed)
                {
                    Ok(_) => {
                        let msg = (stamp & self.mark_bit == 0).then(|| {
                            // SAFETY: the stamp says written, and the `head`
                            // CAS gave the slot to us alone until the store
                            // below frees it.
                            slot.msg.with(|p| unsafe { p.read().assume_init() })
                        });
                        // Release pairs with the Acquire stamp load in
                        // `reserve`: our read is done before the slot is
                        // written again.
                        slot.stamp.store(head.wrapping_add(self.one_lap), Release);
                        self.senders.notify();
                        match msg {
                            Some(v) => return Take::Msg(v),
                            None => {
                                head = next;
                                continue;
                            }
                        }
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                if glance {
                    return Take::Empty;
                }
                // Not written for this lap: empty, unless a sender has
                // reserved it and is writing it now (or, for a permit, has
                // yet to evaluate its value).
                // SeqCst: orders the stamp load before the tail load, as
                // the sender's tail CAS comes before its stamp store.
                fence(SeqCst);
                let tail = self.tail.0.load(Relaxed);
                if tail & !self.mark_bit == head {
                    return if tail & self.mark_bit != 0 {
                        Take::Disconnected
                    } else {
                        Take::Empty
                    };
                }
                if !WAIT {
                    return Take::Empty;
                }
                backoff.snooze();
                head = self.head.0.load(Relaxed);
            } else {
                // Another receiver moved `head` meanwhile.
                backoff.spin();
                head = self.head.0.load(Relaxed);
            }
        }
    }

    /// Whether no message is in the buffer or reserved now.
    #[inline]
    fn is_empty_now(&self) -> bool {
        let tail = self.tail.0.load(SeqCst);
        tail & !self.mark_bit == self.head.0.load(SeqCst)
    }

    /// Sends without waiting: straight to a lone waiting receiver if the
    /// buffer is empty (`Waiters::hand_off`), else into the buffer. The
    /// look for that receiver is one load and a branch here; the hand-off
    /// itself is out of line, so that a send nobody waits for costs what
    /// it cost before hand-offs (the value, the `Result` around it and the
    /// registers the hand-off needs stay off the common path). Forced
    /// inline, with [`try_recv`](Self::try_recv): called, each paid ~15
    /// instructions of prologue and epilogue a message.
    #[inline(always)]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        if self.receivers.lone_waiter() {
            return self.try_send_handing_off(v);
        }
        // A receiver of this LWP whose wait is not published yet (a
        // receive without a context, `recv_deferred`): served here, with
        // the buffer empty (no message is older), without a
        // read-modify-write.
        if let Some(wait) = block::take_deferred(self.receivers_key(), || self.is_empty_now()) {
            // SAFETY: taken from this LWP's deferral under our receivers'
            // key: a receive's record of this channel (`recv_deferred`),
            // its owner switched out until woken.
            unsafe { self.serve_deferred(wait, v) };
            return Ok(());
        }
        self.try_send_buffered(v)
    }

    /// What names this channel's receivers in a deferral.
    #[inline(always)]
    fn receivers_key(&self) -> *const () {
        std::ptr::addr_of!(self.receivers).cast()
    }

    /// Hands `v` to the receive whose record is `wait`, taken from its
    /// deferral, and wakes it: no context, no RMW (`deferred.rs`).
    ///
    /// # Safety
    ///
    /// `wait` is the record of a receive of this channel, deferred by
    /// `recv_deferred` and taken from the deferral by the caller.
    #[inline]
    unsafe fn serve_deferred(&self, wait: *const (), v: T) {
        // SAFETY: the caller's guarantee.
        unsafe { DeferredRecv::serve(wait, v) };
        // As `try_send_handing_off`: no place of the buffer was used.
        self.senders.notify();
    }

    /// [`try_send`](Self::try_send) when a lone receiver was seen waiting.
    ///
    /// A send handed over takes no place of the buffer, and it may be the
    /// retry of a sender that was notified of a free place (a waiting
    /// sender is notified, not served): that place is still free, so the
    /// notification goes on to the next waiting sender. Without this, the
    /// other senders slept beside an empty buffer while every receiver
    /// waited for them (4 + 4 threads on `bounded(1)`, two LWPs: about
    /// one run in two hung).
    #[cold]
    #[inline(never)]
    fn try_send_handing_off(&self, v: T) -> Result<(), TrySendError<T>> {
        // SAFETY: every receiver registers its `Option<T>` slot
        // (`register_recv`).
        match unsafe { self.receivers.hand_off(v, || self.is_empty_now()) } {
            Ok(()) => {
                self.senders.notify();
                Ok(())
            }
            Err(v) => self.try_send_buffered(v),
        }
    }

    /// Sends into the buffer without waiting.
    #[inline(always)]
    fn try_send_buffered(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.reserve() {
            Reserve::Slot(token) => {
                self.write(token, Some(v));
                Ok(())
            }
            Reserve::Full => Err(TrySendError::Full(v)),
            Reserve::Disconnected => Err(TrySendError::Disconnected(v)),
        }
    }

    /// Receives without waiting (forced inline: see `try_send`). With
    /// `glance`, for a receive without a deadline that waits if this
    /// fails, a slot not yet written is `Empty` without the fence that
    /// would tell it from one being written (`take`): the wait's
    /// registration looks at the indices again (`SeqCst`, `waiters.rs`)
    /// and withdraws, to retry, if a message is there or being written,
    /// or the channel is disconnected.
    #[inline(always)]
    pub(crate) fn try_recv_glance(&self, glance: bool) -> Result<T, TryRecvError> {
        match self.take::<true>(glance) {
            Take::Msg(v) => Ok(v),
            Take::Empty => Err(TryRecvError::Empty),
            Take::Disconnected => Err(TryRecvError::Disconnected),
        }
    }

    /// Secures a slot for a send whose value does not exist yet. `None` if
    /// full; `Some(None)` if disconnected.
    pub(crate) fn try_permit(&self) -> Option<Option<Token>> {
        match self.reserve() {
            Reserve::Slot(token) => Some(Some(token)),
            Reserve::Full => None,
            Reserve::Disconnected => Some(None),
        }
    }

    /// Completes a permit's send with its value now.
    pub(crate) fn complete(&self, token: Token, v: T) -> Result<(), SendError<T>> {
        if self.is_disconnected() {
            // The last receiver left after the permit: nobody could ever
            // take the value. Give the slot back (as a hole).
            self.write(token, None);
            return Err(SendError(v));
        }
        self.write(token, Some(v));
        Ok(())
    }

    /// Gives a permit's slot back: undoes the reservation if `tail` has not
    /// moved since, else leaves a hole.
    pub(crate) fn cancel(&self, token: Token) {
        // SeqCst: it moves `tail` as the reservation did, and a waiting
        // sender's check reads `tail` (`waiters.rs`); on failure the hole
        // is published by `write`'s Release.
        if self
            .tail
            .0
            .compare_exchange(token.next, token.tail, SeqCst, Relaxed)
            .is_ok()
        {
            // The place is free again: a sender may be waiting for it.
            self.senders.notify();
        } else {
            self.write(token, None);
        }
    }

    /// Messages in the buffer (holes and reserved slots count).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(SeqCst);
            let head = self.head.0.load(SeqCst);
            // A consistent pair: `tail` did not move while `head` was read.
            if self.tail.0.load(SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if tail & !self.mark_bit == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.0.load(SeqCst) & self.mark_bit != 0
    }

    /// Whether a receive would not wait now: a message is there (or being
    /// written), or the channel is disconnected.
    pub(crate) fn recv_ready(&self) -> bool {
        let tail = self.tail.0.load(SeqCst);
        tail & self.mark_bit != 0 || tail != self.head.0.load(SeqCst)
    }

    /// Whether a send would not wait now: a place is free (or being
    /// freed), or the channel is disconnected.
    pub(crate) fn send_ready(&self) -> bool {
        let tail = self.tail.0.load(SeqCst);
        let head = self.head.0.load(SeqCst);
        tail & self.mark_bit != 0 || head.wrapping_add(self.one_lap) != tail
    }

    /// Publishes a waiting sender; false (withdrawn) if a send could go
    /// ahead now.
    ///
    /// # Safety
    ///
    /// As for [`Waiters::register`].
    pub(crate) unsafe fn register_send(&self, ctx: &Context, op: usize) -> bool {
        // The waiter's check after its fence (`waiters.rs`): `send_ready`
        // loads `head`, which a receiver's CAS moves before it notifies.
        // SAFETY: the caller's guarantee; a sender is only notified, so no
        // value slot is needed.
        unsafe {
            self.senders
                .register_unless(ctx, op, std::ptr::null_mut(), || self.send_ready())
        }
    }

    /// Publishes a waiting receiver; false (withdrawn) if a receive could
    /// go ahead now. `slot` is the receive's value slot, where a sender
    /// may hand its message over directly (`Waiters::hand_off`).
    ///
    /// # Safety
    ///
    /// As for [`Waiters::register`].
    #[inline(always)]
    pub(crate) unsafe fn register_recv(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) -> bool {
        // As in `register_send`, with `tail`.
        // SAFETY: the caller's guarantee.
        unsafe {
            self.receivers
                .register_unless(ctx, op, slot.cast(), || self.recv_ready())
        }
    }

    /// A plain `recv` that found the buffer empty, waiting without a
    /// context (`deferred.rs`): its record on this stack, its publication
    /// in `receivers` left to its LWP. `Some(v)`: a send handed it `v` (on
    /// this LWP, or, once published, from anywhere). `None`: nothing
    /// received (a message came to the buffer, the channel was
    /// disconnected, a notification, a signal): the caller retries the
    /// full way (`select::run_tried`). `object` names the channel for the
    /// thread dump.
    #[inline(always)]
    pub(crate) fn recv_deferred(&self, object: usize) -> Option<T> {
        let rec = DeferredRecv::<T>::new();
        block::block_on_handed(block::BlockReason::Channel, None, object, |w| {
            // SAFETY: a new record, in place until `end` below; the key
            // names our receivers.
            unsafe { rec.register(w, self.receivers_key(), self) }
        });
        rec.end(self)
    }

    pub(crate) fn unregister_send(&self, ctx: &Context) {
        self.senders.unregister(ctx);
    }

    pub(crate) fn unregister_recv(&self, ctx: &Context) {
        self.receivers.unregister(ctx);
    }

    /// Marks the channel disconnected and wakes every waiter; true if this
    /// call set the mark.
    fn disconnect(&self) -> bool {
        // SeqCst: a waiter that registers after this sees the mark in its
        // check; one that registered before is in the list `disconnect`
        // drains under its lock.
        let tail = self.tail.0.fetch_or(self.mark_bit, SeqCst);
        self.senders.disconnect();
        self.receivers.disconnect();
        tail & self.mark_bit == 0
    }

    /// Every sender handle is gone.
    pub(crate) fn disconnect_senders(&self) {
        self.disconnect();
    }

    /// Every receiver handle is gone: wake the waiting senders, then drop
    /// the buffered messages (as std's receiver does). The mark stops new
    /// sends. A send that reserved a slot before it and has not written it
    /// yet is not waited for: from that slot on, what is written is
    /// dropped with the channel (a permit's send fails instead).
    pub(crate) fn disconnect_receivers(&self) {
        self.disconnect();
        let mut buffered = Vec::new();
        while let Take::Msg(v) = self.take::<false>(false) {
            buffered.push(v);
        }
        // User code: a panicking `Drop` does not stop the others (a
        // slice's drop goes on), and every waiter was woken before.
        drop(buffered);
    }
}

impl<T> RecvQueue<T> for Array<T> {
    #[inline(always)]
    unsafe fn publish_recv(&self, ctx: &Context, slot: *mut Option<T>) -> bool {
        // SAFETY: the caller's guarantee.
        unsafe { self.register_recv(ctx, 0, slot) }
    }

    #[inline(always)]
    fn withdraw_recv(&self, ctx: &Context) {
        self.unregister_recv(ctx);
    }
}

impl<T> Drop for Array<T> {
    fn drop(&mut self) {
        // Messages the last receiver's drain did not reach (written after
        // it): every sender is gone, so every reserved slot is written.
        while let Take::Msg(v) = self.take::<true>(false) {
            drop(v);
        }
    }
}

/// Spin, then yield: for the short waits on a partner between its index
/// CAS and its stamp store. A partner is never switched out there by
/// weave (no safe point), but an OS thread may be descheduled, and a
/// permit's holder runs user code there.
pub(super) struct Backoff(u32);

impl Backoff {
    /// Spins double up to `2^SPIN_LIMIT` pauses, about the cost of a
    /// cache miss or two: a CAS lost to a partner is retried soon.
    const SPIN_LIMIT: u32 = 6;

    pub(super) fn new() -> Backoff {
        Backoff(0)
    }

    /// After a lost CAS: the partner is running and will be done soon.
    #[inline]
    pub(super) fn spin(&mut self) {
        for _ in 0..1u32 << self.0.min(Self::SPIN_LIMIT) {
            crate::loom::spin_hint();
        }
        if self.0 <= Self::SPIN_LIMIT {
            self.0 += 1;
        }
    }

    /// Waiting for a partner to finish a step: spin a little, then let
    /// other threads (the partner, if it shares our LWP) run.
    #[cold]
    pub(super) fn snooze(&mut self) {
        if self.0 <= Self::SPIN_LIMIT {
            self.spin();
        } else {
            crate::sync::block::yield_now();
        }
    }
}

/// The message cell of a slot: loom's checked `UnsafeCell` under
/// `--cfg loom` (which reports a read that the stamp does not order after
/// its write), a plain one otherwise, with the same two calls.
#[cfg(loom)]
pub(super) use loom::cell::UnsafeCell as Cell;

#[cfg(not(loom))]
pub(super) struct Cell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> Cell<T> {
    pub(super) fn new(v: T) -> Cell<T> {
        Cell(std::cell::UnsafeCell::new(v))
    }

    #[inline]
    pub(super) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

//! The channel core that every handle of `mpsc` and `mpmc` points to: it
//! picks the flavour for a capacity, counts the handles of each side, and
//! passes each operation to the flavour. It blocks nobody (`select.rs`
//! does, with a [`Context`]).
//!
//! | flavour          | serves                                  | message path                     | waiting                          |
//! |------------------|-----------------------------------------|----------------------------------|----------------------------------|
//! | `array.rs`       | `bounded(n)`, `1 <= n <= 2^20`          | one CAS per send or receive, no lock | `waiters.rs`: notified, then retry; a lone receiver is handed the message |
//! | `list.rs`        | `unbounded()`                           | one CAS per send or receive, no lock | as `array.rs` (receivers only: a send never waits) |
//! | `locked.rs`      | `bounded(0)` (rendezvous), larger bounds | one short lock; a send to a lone waiting rendezvous receiver, none | queues under the lock, direct hand-off; a lone rendezvous receiver in one word, without the lock while no sender waits, or, on a ULT, left to its LWP |
//!
//! All speak the same wait protocol (`context.rs`): a waiting operation
//! publishes an entry naming its context, and a partner claims the
//! context with one CAS. The locked flavour *serves* the waiter it claims
//! (moves the value into or out of its slot); the lock-free flavours
//! mostly *notify* it, and the woken operation retries
//! ([`Chan::hands_over`]), except that a lone receiver waiting on an empty
//! buffer is handed the message (`waiters.rs`).

use std::sync::atomic::Ordering::{AcqRel, Relaxed};

use super::array::{self, Array};
use super::context::Context;
use super::error::{SendError, TryRecvError, TrySendError};
use super::list::{self, List};
use super::locked::{Locked, Reserved};
use crate::loom::AtomicUsize;

/// Capacity meaning "unbounded".
pub(crate) const UNBOUNDED: usize = usize::MAX;

/// What a send has secured before its value exists (a `select!` send arm
/// evaluates its value only once chosen).
pub(crate) enum Permit<T> {
    /// Every receiver is gone: the send fails with its value.
    Disconnected,
    /// A place in a locked buffer, counted in its `reserved`.
    Place,
    /// A waiting receiver of a locked channel, claimed and not released:
    /// it waits for the value.
    Receiver(Reserved<T>),
    /// A slot of an array channel, reserved and not yet written.
    Slot(array::Token),
    /// A slot of a list channel, reserved and not yet written.
    ListSlot(list::Token<T>),
}

// The array flavour is larger (its indices have a cache line pair each);
// a channel is allocated once, in its `Arc`, and boxing the variant would
// put a pointer chase on every send and receive.
#[allow(clippy::large_enum_variant)]
enum Flavor<T> {
    Array(Array<T>),
    List(List<T>),
    Locked(Locked<T>),
}

/// The shared state of one channel.
pub(crate) struct Chan<T> {
    flavor: Flavor<T>,
    /// Live `Sender` handles (all clones).
    sender_handles: AtomicUsize,
    /// Live `Receiver` handles (all clones).
    receiver_handles: AtomicUsize,
}

/// Passes a call to the flavour.
macro_rules! each {
    ($self:ident, $f:ident $(, $arg:expr)*) => {
        match &$self.flavor {
            Flavor::Array(c) => c.$f($($arg),*),
            Flavor::List(c) => c.$f($($arg),*),
            Flavor::Locked(c) => c.$f($($arg),*),
        }
    };
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver handle: capacity 0 is a
    /// rendezvous, [`UNBOUNDED`] has no bound.
    pub(crate) fn new(cap: usize) -> Chan<T> {
        let flavor = if (1..=array::MAX_CAP).contains(&cap) {
            Flavor::Array(Array::new(cap))
        } else if cap == UNBOUNDED {
            Flavor::List(List::new())
        } else {
            Flavor::Locked(Locked::new(cap))
        };
        Chan {
            flavor,
            sender_handles: AtomicUsize::new(1),
            receiver_handles: AtomicUsize::new(1),
        }
    }

    /// Whether a partner that claims a waiting operation always completes
    /// it (locked flavour), rather than waking it to retry (array, list:
    /// there a claimed receive finds a value in its slot only if it was
    /// handed one).
    #[inline]
    pub(crate) fn hands_over(&self) -> bool {
        matches!(self.flavor, Flavor::Locked(_))
    }

    pub(crate) fn capacity(&self) -> usize {
        each!(self, capacity)
    }

    /// Messages in the buffer now.
    pub(crate) fn len(&self) -> usize {
        each!(self, len)
    }

    /// Sends without waiting. Forced inline into `send` (see
    /// `Array::reserve`).
    #[inline(always)]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        each!(self, try_send, v)
    }

    /// [`try_send`](Self::try_send) for a blocking send's first try: a
    /// rendezvous' lock-free cases inline too (`Locked::try_send_first`).
    #[inline(always)]
    pub(crate) fn try_send_first(&self, v: T) -> Result<(), TrySendError<T>> {
        match &self.flavor {
            Flavor::Array(c) => c.try_send(v),
            Flavor::List(c) => c.try_send(v),
            Flavor::Locked(c) => c.try_send_first(v),
        }
    }

    /// Receives without waiting. Forced inline into `recv` (see
    /// `Array::reserve`); a rendezvous' receive out of line (its first
    /// try inline is `try_recv_glance`'s).
    #[inline(always)]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Locked(c) => c.try_recv(false),
            _ => self.try_recv_glance(false),
        }
    }

    /// As [`try_recv`](Self::try_recv); `glance` (a receive without a
    /// deadline, which waits next if this finds nothing): on an array
    /// channel an unwritten slot is `Empty` without a fence
    /// (`Array::try_recv_glance`; the wait looks again); on a locked one,
    /// a waiting sender whose value it takes gets this LWP at once
    /// (`Locked::try_recv`). Forced inline, as `try_recv`.
    #[inline(always)]
    pub(crate) fn try_recv_glance(&self, glance: bool) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Array(c) => c.try_recv_glance(glance),
            Flavor::List(c) => c.try_recv(),
            Flavor::Locked(c) => c.try_recv_first(glance),
        }
    }

    /// A receive without a deadline that found nothing
    /// ([`try_recv_glance`](Self::try_recv_glance)): on an array channel
    /// or a rendezvous, waits once without a context (`deferred.rs`); on
    /// an array channel woken with nothing in hand, then tries the buffer
    /// again. `Empty` (at once on the other flavours): the caller waits
    /// the full way (`select::run_tried`).
    #[inline(always)]
    pub(crate) fn recv_deferred(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Array(c) => match c.recv_deferred(self as *const Chan<T> as usize) {
                Some(v) => Ok(v),
                None => c.try_recv_glance(false),
            },
            // The full wait's registration looks again (a sender queued,
            // or none left): no second try here.
            _ => self.recv_deferred_other().ok_or(TryRecvError::Empty),
        }
    }

    /// [`recv_deferred`](Self::recv_deferred) on the other flavours: a
    /// rendezvous waits once without a context (`Some`: a send handed it
    /// a value); the others, and a rendezvous woken with nothing in hand,
    /// `None`. Out of line: a third arm in the receive's match cost
    /// `channel_pingpong` 6 instructions a round trip.
    #[inline(never)]
    fn recv_deferred_other(&self) -> Option<T> {
        match &self.flavor {
            Flavor::Locked(c) if c.capacity() == 0 => {
                c.recv_deferred(self as *const Chan<T> as usize)
            }
            _ => None,
        }
    }

    /// Secures a send whose value does not exist yet; `None` if a send
    /// would have to wait. See [`Permit`].
    pub(crate) fn try_permit(&self) -> Option<Permit<T>> {
        match &self.flavor {
            Flavor::Array(c) => c.try_permit().map(|t| match t {
                Some(token) => Permit::Slot(token),
                None => Permit::Disconnected,
            }),
            Flavor::List(c) => Some(match c.try_permit() {
                Some(token) => Permit::ListSlot(token),
                None => Permit::Disconnected,
            }),
            Flavor::Locked(c) => c.try_permit(),
        }
    }

    /// Completes the send `permit` secured, with its value now.
    pub(crate) fn complete_send(&self, permit: Permit<T>, v: T) -> Result<(), SendError<T>> {
        match (permit, &self.flavor) {
            (Permit::Disconnected, _) => Err(SendError(v)),
            (Permit::Receiver(r), _) => {
                r.finish(Some(v));
                Ok(())
            }
            (Permit::Place, Flavor::Locked(c)) => c.complete_place(v),
            (Permit::Slot(token), Flavor::Array(c)) => c.complete(token, v),
            (Permit::ListSlot(token), Flavor::List(c)) => c.complete(token, v),
            _ => crate::fatal("channel: a permit of another flavour"),
        }
    }

    /// Gives back a permit that will not be used (its value expression
    /// panicked, or a `SelectedOperation` was dropped).
    pub(crate) fn cancel_permit(&self, permit: Permit<T>) {
        match (permit, &self.flavor) {
            (Permit::Disconnected, _) => {}
            // The receiver goes back to waiting, as after a spurious wake.
            (Permit::Receiver(r), _) => r.finish(None),
            (Permit::Place, Flavor::Locked(c)) => c.cancel_place(),
            (Permit::Slot(token), Flavor::Array(c)) => c.cancel(token),
            (Permit::ListSlot(token), Flavor::List(c)) => c.cancel(token),
            _ => crate::fatal("channel: a permit of another flavour"),
        }
    }

    /// Whether a receive would complete now (a value, or disconnected).
    pub(crate) fn recv_ready(&self) -> bool {
        each!(self, recv_ready)
    }

    /// Whether a send would complete now (room, a receiver, or
    /// disconnected).
    pub(crate) fn send_ready(&self) -> bool {
        each!(self, send_ready)
    }

    /// Publishes a waiting sender whose value is in `*slot` (or, `lazy`,
    /// that has none yet; the array flavour never reads the slot: it only
    /// notifies). Returns false, publishing nothing, if a send could make
    /// progress now.
    ///
    /// # Safety
    ///
    /// `ctx` is armed and `slot` valid until the caller has withdrawn the
    /// entry ([`unregister_send`](Self::unregister_send)) or been claimed
    /// and released.
    #[inline]
    pub(crate) unsafe fn register_send(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
        lazy: bool,
    ) -> bool {
        match &self.flavor {
            // SAFETY: the caller's guarantee.
            Flavor::Array(c) => unsafe { c.register_send(ctx, op) },
            Flavor::List(c) => c.register_send(ctx, op),
            // SAFETY: the caller's guarantee.
            Flavor::Locked(c) => unsafe { c.register_send(ctx, op, slot, lazy) },
        }
    }

    /// Publishes a waiting receiver with the empty `*slot`. Returns false,
    /// publishing nothing, if a receive could make progress now.
    ///
    /// # Safety
    ///
    /// As for [`register_send`](Self::register_send).
    #[inline]
    pub(crate) unsafe fn register_recv(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) -> bool {
        match &self.flavor {
            // SAFETY: the caller's guarantee.
            Flavor::Array(c) => unsafe { c.register_recv(ctx, op, slot) },
            // SAFETY: the caller's guarantee.
            Flavor::List(c) => unsafe { c.register_recv(ctx, op, slot) },
            // SAFETY: the caller's guarantee.
            Flavor::Locked(c) => unsafe { c.register_recv(ctx, op, slot) },
        }
    }

    /// Withdraws every waiting-sender entry of `ctx`.
    pub(crate) fn unregister_send(&self, ctx: &Context) {
        each!(self, unregister_send, ctx)
    }

    /// Withdraws every waiting-receiver entry of `ctx`.
    pub(crate) fn unregister_recv(&self, ctx: &Context) {
        each!(self, unregister_recv, ctx)
    }

    /// Whether every receiver handle is gone (for a sender to ask).
    pub(crate) fn receivers_gone(&self) -> bool {
        match &self.flavor {
            // The mark means "the other side is gone" to whoever asks.
            Flavor::Array(c) => c.is_disconnected(),
            Flavor::List(c) => c.is_disconnected(),
            Flavor::Locked(c) => c.receivers_gone(),
        }
    }

    /// Whether every sender handle is gone (for a receiver to ask).
    pub(crate) fn senders_gone(&self) -> bool {
        match &self.flavor {
            Flavor::Array(c) => c.is_disconnected(),
            Flavor::List(c) => c.is_disconnected(),
            Flavor::Locked(c) => c.senders_gone(),
        }
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
        // sees 1 and it sees every other handle's sends.
        if self.sender_handles.fetch_sub(1, AcqRel) == 1 {
            each!(self, disconnect_senders)
        }
    }

    /// A receiver handle is dropped; the last one disconnects the senders
    /// and drops the buffered values.
    pub(crate) fn drop_receiver(&self) {
        // AcqRel: as in `drop_sender`.
        if self.receiver_handles.fetch_sub(1, AcqRel) == 1 {
            each!(self, disconnect_receivers)
        }
    }
}

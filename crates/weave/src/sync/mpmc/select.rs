//! Waiting on one or several channel operations: the loop every blocking
//! `send`, `recv` and `select!` runs, and the two kinds of operation.
//!
//! [`run`] owns a [`Context`] on its stack for each round of waiting:
//!
//! 1. Try every operation once (from a rotating start, so that a select
//!    does not favour its first arm); the first that completes wins.
//! 2. Otherwise block: inside `register` (the caller is already marked
//!    blocking, so no wake-up can be lost) arm the context with the waiter
//!    and publish one entry per operation on its channel. If a channel says
//!    its operation could go ahead now, stop publishing and do not block.
//!    The wait's deadline is the earliest of the caller's and of the time
//!    channels' (`after`, `tick`) among the operations.
//! 3. After waking (claimed, timed out, disconnected, spuriously, or not
//!    blocked at all), try to withdraw with `Context::try_abort` (a lone
//!    operation in a fast slot withdraws its word instead, and was claimed
//!    if a partner took it: `Context::end_fast`):
//!    - it fails: a partner claimed operation `i`; withdraw the other
//!      entries, wait for the partner's release (`context.rs`) and return
//!      `i` (or, if the partner gave its permit back without a value, go
//!      back to 1). On an array channel the partner only notified `i`:
//!      retry `i` alone first, and go back to 1 if someone else took what
//!      the notification was for;
//!    - it succeeds: nobody can claim any entry now; withdraw them all and
//!      go back to 1 (the deadline, if any, is checked there).
//!
//! Withdrawing takes each channel's lock, and a claimed slot is read only
//! after its release, so no partner touches a slot once `run` returns.
//!
//! A send arm of `select!` (and of [`Select`](super::Select)) is *lazy*: it
//! completes with a permit (`chan::Permit`) rather than a value, and the
//! caller evaluates the value only then, so the value of an arm that is
//! not chosen is never computed, as in crossbeam.

use std::time::Instant;

use super::chan::{Chan, Permit};
use super::context::{Context, Fast};
use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::Flavor;
use crate::sync::block::{block_on_handed, expired, BlockReason};

/// One operation of a select. Implemented by [`RecvOp`] and [`SendOp`]; the
/// result stays in the operation until the caller takes it.
pub trait Operation {
    /// Completes the operation now if it can (a disconnected channel
    /// counts: the error is the result). True if it completed.
    #[doc(hidden)]
    fn try_complete(&mut self) -> bool;

    /// Publishes an entry for `ctx`; false (publishing nothing) if the
    /// operation looks ready now.
    ///
    /// # Safety
    ///
    /// `ctx` is armed; `self` stays in place until
    /// [`unregister`](Self::unregister) or a claim of this operation.
    #[doc(hidden)]
    unsafe fn register(&mut self, ctx: &Context, op: usize) -> bool;

    /// Withdraws any entry of `ctx`.
    #[doc(hidden)]
    fn unregister(&mut self, ctx: &Context);

    /// A partner claimed this operation and released it: record the
    /// result (on an array channel, retry the operation now). False if
    /// it did not complete (no value came, or the retry found nothing).
    #[doc(hidden)]
    fn claimed(&mut self) -> bool;

    /// When this operation becomes ready by itself (a time channel).
    #[doc(hidden)]
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The address of the channel it waits on, for the thread dump (0:
    /// none, as for a time channel).
    #[doc(hidden)]
    fn wait_object(&self) -> usize {
        0
    }

    /// Whether it would complete now, without completing it.
    #[doc(hidden)]
    fn is_ready(&self) -> bool;
}

/// A receive, for [`run`] and `select!`.
pub struct RecvOp<'a, T> {
    flavor: &'a Flavor<T>,
    /// Where a claiming sender puts the value.
    slot: Option<T>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    /// What it receives from.
    pub(crate) fn flavor(&self) -> &'a Flavor<T> {
        self.flavor
    }

    pub(crate) fn new(flavor: &'a Flavor<T>) -> Self {
        RecvOp {
            flavor,
            slot: None,
            result: None,
        }
    }

    /// The result, once [`run`] chose this operation.
    pub fn take(&mut self) -> Result<T, RecvError> {
        self.result
            .take()
            .expect("select: took the result of an operation that did not complete")
    }
}

impl<T> Operation for RecvOp<'_, T> {
    fn wait_object(&self) -> usize {
        match self.flavor {
            Flavor::Chan(chan) => super::Arc::as_ptr(chan) as usize,
            _ => 0,
        }
    }

    fn try_complete(&mut self) -> bool {
        let got = match self.flavor {
            Flavor::Chan(chan) => chan.try_recv(),
            Flavor::Timer(timer, make) => timer.try_take().map(make).ok_or(TryRecvError::Empty),
            Flavor::Never => Err(TryRecvError::Empty),
        };
        self.result = match got {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
            Err(TryRecvError::Empty) => return false,
        };
        true
    }

    #[inline]
    unsafe fn register(&mut self, ctx: &Context, op: usize) -> bool {
        match self.flavor {
            // SAFETY: the caller keeps `self` (so the slot) in place while
            // the entry may be published.
            Flavor::Chan(chan) => unsafe { chan.register_recv(ctx, op, &mut self.slot) },
            // Nothing to publish: the deadline wakes the wait.
            Flavor::Timer(..) | Flavor::Never => true,
        }
    }

    fn unregister(&mut self, ctx: &Context) {
        if let Flavor::Chan(chan) = self.flavor {
            chan.unregister_recv(ctx);
        }
    }

    fn claimed(&mut self) -> bool {
        match self.slot.take() {
            Some(v) => {
                self.result = Some(Ok(v));
                true
            }
            // Notified, not served (`chan::Chan::hands_over`): retry this
            // operation before any other, so that the notification is not
            // spent on another arm while a receiver that could take the
            // message sleeps.
            None if matches!(self.flavor, Flavor::Chan(c) if !c.hands_over()) => {
                self.try_complete()
            }
            None => false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.flavor {
            Flavor::Timer(timer, _) => timer.deadline(),
            _ => None,
        }
    }

    fn is_ready(&self) -> bool {
        match self.flavor {
            Flavor::Chan(chan) => chan.recv_ready(),
            Flavor::Timer(timer, _) => timer.ready(),
            Flavor::Never => false,
        }
    }
}

/// A send on `chan`, for [`run`] and `select!`.
///
/// An *eager* send (`Sender::send`) holds its value from the start; if it
/// times out, it takes the value back. A *lazy* one (a `select!` arm)
/// completes with a permit, and the caller then hands the value to
/// [`complete`](Self::complete); a permit dropped unused is given back.
pub struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    /// The value (eager), until a receiver takes it.
    slot: Option<T>,
    lazy: bool,
    /// An eager send's result.
    result: Option<Result<(), SendError<T>>>,
    /// A lazy send's permit, until [`complete`](Self::complete).
    permit: Option<Permit<T>>,
}

impl<'a, T> SendOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, value: T) -> Self {
        SendOp {
            chan,
            slot: Some(value),
            lazy: false,
            result: None,
            permit: None,
        }
    }

    /// The channel it sends on.
    pub(crate) fn chan(&self) -> &'a Chan<T> {
        self.chan
    }

    /// A send whose value comes after it is chosen.
    pub(crate) fn lazy(chan: &'a Chan<T>) -> Self {
        SendOp {
            chan,
            slot: None,
            lazy: true,
            result: None,
            permit: None,
        }
    }

    /// An eager send's result, once [`run`] chose it.
    pub(crate) fn take(&mut self) -> Result<(), SendError<T>> {
        self.result
            .take()
            .expect("select: took the result of an operation that did not complete")
    }

    /// Sends `value` through the permit of a lazy send that [`run`] chose.
    pub fn complete(&mut self, value: T) -> Result<(), SendError<T>> {
        let permit = self
            .permit
            .take()
            .expect("select: completed a send that was not chosen");
        self.chan.complete_send(permit, value)
    }

    /// The value, if it was not sent.
    pub(crate) fn into_value(mut self) -> Option<T> {
        self.slot.take()
    }
}

impl<T> Drop for SendOp<'_, T> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            self.chan.cancel_permit(p);
        }
    }
}

impl<T> Operation for SendOp<'_, T> {
    fn wait_object(&self) -> usize {
        self.chan as *const Chan<T> as usize
    }

    fn try_complete(&mut self) -> bool {
        if self.lazy {
            self.permit = self.chan.try_permit();
            return self.permit.is_some();
        }
        let Some(v) = self.slot.take() else {
            return false;
        };
        self.result = match self.chan.try_send(v) {
            Ok(()) => Some(Ok(())),
            Err(TrySendError::Disconnected(v)) => Some(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                self.slot = Some(v);
                return false;
            }
        };
        true
    }

    #[inline]
    unsafe fn register(&mut self, ctx: &Context, op: usize) -> bool {
        // SAFETY: as in `RecvOp::register`.
        unsafe { self.chan.register_send(ctx, op, &mut self.slot, self.lazy) }
    }

    fn unregister(&mut self, ctx: &Context) {
        self.chan.unregister_send(ctx);
    }

    fn claimed(&mut self) -> bool {
        if !self.chan.hands_over() {
            // Notified, not served: retry first, as `RecvOp::claimed`.
            return self.try_complete();
        }
        debug_assert!(self.slot.is_none(), "a claimed send still has its value");
        if self.lazy {
            // A lazy send is claimed only to be granted a buffer place.
            self.permit = Some(Permit::Place);
        } else {
            self.result = Some(Ok(()));
        }
        true
    }

    fn is_ready(&self) -> bool {
        self.chan.send_ready()
    }
}

/// When [`run`] gives up.
#[derive(Clone, Copy, Debug)]
pub enum Wait {
    /// Never: block until an operation completes.
    Forever,
    /// At once if nothing is ready (`try_*`, a `default` arm).
    Never,
    /// At this instant.
    Until(Instant),
}

/// Completes exactly one of `ops` and returns its index, or `None` if
/// `wait` ran out first (then none completed). See the module doc. When
/// several are ready, a random one wins.
pub fn run(ops: &mut [&mut dyn Operation], wait: Wait) -> Option<usize> {
    run_with(ops, wait, false)
}

/// As [`run`]; `biased` tries the operations in order, so the first ready
/// one wins (`select_biased!`, `Select::new_biased`).
pub fn run_with(ops: &mut [&mut dyn Operation], wait: Wait, biased: bool) -> Option<usize> {
    run_inner(ops, wait, biased)
}

/// As [`run`], for a caller that has just tried its one operation itself
/// (the fast path of `send` and `recv`) and found it not ready, or, with
/// [`Wait::Forever`], seen at a glance that it is not (`recv`): the first
/// round starts at "wait", whose registration looks again. Equivalent to
/// [`run`] with one operation (that first try is the one `run` would
/// have made), written for one: no
/// rotation, no loops over operations, no count of published entries
/// (the general loop, even built for one operation, cost a wait ~40
/// instructions more).
#[inline]
pub(crate) fn run_tried<O: Operation>(op: &mut O, wait: Wait) -> Option<usize> {
    run_tried_or(op, wait, || false)
}

/// As [`run_tried`], also giving up (`None`, nothing completed) when
/// `stop` says so as the wait begins and after each wake-up: for a wait
/// that a signal handler or a cancellation request ends, which wake the
/// waiter as a spurious wake-up would (`signal::wait`).
#[inline]
pub(crate) fn run_tried_or<O: Operation>(
    op: &mut O,
    wait: Wait,
    stop: impl Fn() -> bool,
) -> Option<usize> {
    let wait_deadline = match wait {
        Wait::Until(at) => Some(at),
        _ => None,
    };
    loop {
        match wait {
            Wait::Never => return None,
            // Through the seam, as in `run_inner`.
            Wait::Until(at) if expired(at) => return None,
            _ if stop() => return None,
            _ => {}
        }
        let deadline = match (op.deadline(), wait_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ctx = Context::new(true);
        let mut published = false;
        // Handed, as in `run_inner`.
        block_on_handed(BlockReason::Channel, deadline, op.wait_object(), |w| {
            // SAFETY: a fresh context: nothing names it yet.
            unsafe { ctx.arm(w) };
            // SAFETY: `op` is borrowed for the whole call, and its entry
            // is withdrawn or claimed before it returns.
            published = unsafe { op.register(&ctx, 0) };
            published
        });
        // Step 3 of the module doc, for one operation.
        let claimed = if ctx.fast() != Fast::No {
            ctx.end_fast(|| op.unregister(&ctx))
        } else {
            let claimed = ctx.try_abort().is_err();
            if claimed {
                ctx.wait_released();
            } else if published {
                op.unregister(&ctx);
            }
            claimed
        };
        if (claimed && op.claimed()) || op.try_complete() {
            return Some(0);
        }
    }
}

#[inline]
fn run_inner<O: Operation + ?Sized>(ops: &mut [&mut O], wait: Wait, biased: bool) -> Option<usize> {
    let n = ops.len();
    let reason = if n == 1 {
        BlockReason::Channel
    } else {
        BlockReason::Select
    };
    let wait_deadline = match wait {
        Wait::Until(at) => Some(at),
        _ => None,
    };
    // The operation `k` places after `start`, in rotation.
    let at = |start: usize, k: usize| {
        let i = start + k;
        if i >= n {
            i - n
        } else {
            i
        }
    };
    loop {
        let start = if n > 1 && !biased { rotate(n) } else { 0 };
        for k in 0..n {
            let i = at(start, k);
            if ops[i].try_complete() {
                return Some(i);
            }
        }
        match wait {
            Wait::Never => return None,
            // Through the seam: under loom a deadline passes only once the
            // thread has blocked on it, so that models race the timeout.
            Wait::Until(at) if expired(at) => return None,
            _ => {}
        }
        // The earliest of the caller's deadline and the time channels'.
        let deadline = ops
            .iter()
            .filter_map(|op| op.deadline())
            .chain(wait_deadline)
            .min();
        let ctx = Context::new(n == 1);
        let mut published = 0;
        // A select of only a timeout has no operation to name.
        let object = ops.get(start).map_or(0, |op| op.wait_object());
        // Handed: the waiter goes out in the context, published by a
        // Release RMW or under a lock.
        block_on_handed(reason, deadline, object, |w| {
            // SAFETY: a fresh context: nothing names it yet.
            unsafe { ctx.arm(w) };
            for k in 0..n {
                let i = at(start, k);
                // SAFETY: `ops` is borrowed for the whole of `run`, and
                // every entry is withdrawn or claimed before it returns.
                if !unsafe { ops[i].register(&ctx, i) } {
                    return false;
                }
                published += 1;
            }
            true
        });
        let claimed = if ctx.fast() != Fast::No {
            // One operation, in a fast slot: its word decided, not the
            // context's state (`context.rs`).
            let op = &mut ops[start];
            ctx.end_fast(|| op.unregister(&ctx)).then_some(start)
        } else {
            let claimed = ctx.try_abort().err();
            for k in 0..published {
                let i = at(start, k);
                if Some(i) != claimed {
                    ops[i].unregister(&ctx);
                }
            }
            // Never in a fast slot on this path: `fast` was `No` above,
            // and only `publish` (in `register`, done) sets it from `No`;
            // the `unregister`s' withdraws act on a published entry only.
            // So only a claimer can still hold the context.
            debug_assert!(ctx.fast() == Fast::No, "a fast entry on the claim path");
            if claimed.is_some() {
                // The claimer is not done with it yet (`context.rs`).
                ctx.wait_released();
            }
            claimed
        };
        if let Some(i) = claimed {
            if ops[i].claimed() {
                return Some(i);
            }
        }
    }
}

/// Where a select that is not biased starts trying its `n` operations.
pub(crate) fn start_index(n: usize) -> usize {
    rotate(n)
}

/// A cheap per-thread pseudo-random start index in `0..n`, so that a
/// select under load serves its arms evenly.
#[cfg(not(loom))]
fn rotate(n: usize) -> usize {
    use std::cell::Cell;
    thread_local! {
        static SEED: Cell<u32> = const { Cell::new(0x9e37_79b9) };
    }
    SEED.with(|s| {
        // xorshift32: period 2^32 - 1, never 0 from a non-zero seed.
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.set(x);
        x as usize % n
    })
}

/// Under loom, a fixed order: the model explores the interleavings.
#[cfg(loom)]
fn rotate(_n: usize) -> usize {
    0
}

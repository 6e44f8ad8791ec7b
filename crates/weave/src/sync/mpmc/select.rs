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
//! 3. After waking (claimed, timed out, disconnected, spuriously, or not
//!    blocked at all), try to withdraw with `Context::try_abort`:
//!    - it fails: a partner claimed operation `i` and already moved the
//!      value; withdraw the other entries and return `i`;
//!    - it succeeds: nobody can claim any entry now; withdraw them all and
//!      go back to 1 (the deadline, if any, is checked there).
//!
//! Withdrawing takes each channel's lock, so a partner that was moving a
//! value in or out of a slot has finished (and put it back) before `run`
//! returns and the slots go away.

use std::time::Instant;

use super::chan::Chan;
use super::context::Context;
use crate::sync::block::{block_on, BlockReason};
use super::error::{RecvError, SendError, TryRecvError, TrySendError};

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

    /// A partner claimed this operation: record the completed result.
    #[doc(hidden)]
    fn claimed(&mut self);
}

/// A receive on `chan`, for [`run`] and `select!`.
pub struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    /// Where a claiming sender puts the value.
    slot: Option<T>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        RecvOp {
            chan,
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
    fn try_complete(&mut self) -> bool {
        self.result = match self.chan.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
            Err(TryRecvError::Empty) => return false,
        };
        true
    }

    unsafe fn register(&mut self, ctx: &Context, op: usize) -> bool {
        // SAFETY: the caller keeps `self` (so the slot) in place while the
        // entry may be published.
        unsafe { self.chan.register_recv(ctx, op, &mut self.slot) }
    }

    fn unregister(&mut self, ctx: &Context) {
        self.chan.unregister_recv(ctx);
    }

    fn claimed(&mut self) {
        let v = self.slot.take().expect("a claimed receive has its value");
        self.result = Some(Ok(v));
    }
}

/// A send of one value on `chan`, for [`run`] and `select!`. If another
/// operation of the select completes, the value is dropped with the
/// operation (a timed-out `send` takes it back).
pub struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    /// The value, until a receiver takes it.
    slot: Option<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, value: T) -> Self {
        SendOp {
            chan,
            slot: Some(value),
            result: None,
        }
    }

    /// The result, once [`run`] chose this operation.
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.result
            .take()
            .expect("select: took the result of an operation that did not complete")
    }

    /// The value, if it was not sent.
    pub(crate) fn into_value(self) -> Option<T> {
        self.slot
    }
}

impl<T> Operation for SendOp<'_, T> {
    fn try_complete(&mut self) -> bool {
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

    unsafe fn register(&mut self, ctx: &Context, op: usize) -> bool {
        // SAFETY: as in `RecvOp::register`.
        unsafe { self.chan.register_send(ctx, op, &mut self.slot) }
    }

    fn unregister(&mut self, ctx: &Context) {
        self.chan.unregister_send(ctx);
    }

    fn claimed(&mut self) {
        debug_assert!(self.slot.is_none(), "a claimed send still has its value");
        self.result = Some(Ok(()));
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
/// `wait` ran out first (then none completed). See the module doc.
pub fn run(ops: &mut [&mut dyn Operation], wait: Wait) -> Option<usize> {
    let n = ops.len();
    let reason = if n == 1 {
        BlockReason::Channel
    } else {
        BlockReason::Select
    };
    let deadline = match wait {
        Wait::Until(at) => Some(at),
        _ => None,
    };
    loop {
        let start = if n > 1 { rotate(n) } else { 0 };
        for k in 0..n {
            let i = (start + k) % n;
            if ops[i].try_complete() {
                return Some(i);
            }
        }
        match wait {
            Wait::Never => return None,
            Wait::Until(at) if Instant::now() >= at => return None,
            _ => {}
        }
        let ctx = Context::new();
        let mut published = 0;
        block_on(reason, deadline, |w| {
            // SAFETY: a fresh context: nothing names it yet.
            unsafe { ctx.arm(w) };
            for k in 0..n {
                let i = (start + k) % n;
                // SAFETY: `ops` is borrowed for the whole of `run`, and
                // every entry is withdrawn or claimed before it returns.
                if !unsafe { ops[i].register(&ctx, i) } {
                    return false;
                }
                published += 1;
            }
            true
        });
        let claimed = ctx.try_abort().err();
        for k in 0..published {
            let i = (start + k) % n;
            if Some(i) != claimed {
                ops[i].unregister(&ctx);
            }
        }
        if let Some(i) = claimed {
            ops[i].claimed();
            return Some(i);
        }
    }
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

//! Cancellation requests: one thread asks another to stop at its next
//! cancellation point, and a wait at such a point ends early for it. The
//! engine half of the C API's `pthread_cancel`.
//!
//! Owns the TCB's `cancel` bytes (their protocol is `cancel_word.rs`, with
//! its loom model) and nothing else. It decides nothing about
//! *what* a cancelled thread does (the C API runs its cleanup handlers and
//! ends it); it only records the request and ends the wait the thread is
//! in, through the same wake-up by epoch that ends a wait for a
//! thread-directed signal (`signal::kick`), but without the signal layer's
//! restart: the wait returns as from a spurious wake-up, and the
//! primitives that loop on spurious wake-ups (a semaphore's acquire, a
//! join, a sleep) return early when [`wait_cancelled`] says so.
//!
//! ## The bytes
//!
//! | byte        | set by                              | cleared by |
//! |-------------|-------------------------------------|------------|
//! | `requested` | [`Thread::request_cancel`]          | never (the thread ends; a new thread in the slot starts at 0) |
//! | `point`     | the thread itself, around a wait at a cancellation point ([`cancellation_point`]) | the thread itself |
//! | `asynchronous` | the thread itself, as it goes back to its own code with asynchronous cancellation in force ([`arm_async_cancel`]) | the thread itself, as it enters weave ([`disarm_async_cancel`]), for good as it ends ([`end_async_cancel`]); the interrupt's handler as it acts |
//!
//! **Asynchronous cancellation.** A request for a thread whose
//! `asynchronous` byte is armed interrupts the LWP it is placed on
//! (`signal/interrupt.rs`), whose handler stops the thread where it is and
//! runs the hook its user installed ([`set_async_cancel_hook`](crate::signal::set_async_cancel_hook)). The byte
//! and the request are a Dekker pair, as `point` and the request are: the
//! thread sees the request as it arms, or the requester sees it armed.
//!
//! **Why no request is lost.** Each side stores its byte, then reads the
//! other's (SeqCst: a Dekker pair), so one of them sees the other's. If
//! the thread marks `point` second, it sees the request and does not wait
//! at all. If the requester sets `requested` second, it sees `point` and ends the
//! current wait: a ULT that is blocking (`BLOCKING`) or blocked is woken by
//! its epoch; a ULT that has not reached its block yet is caught by its
//! LWP, which reads the byte after committing every block (a Dekker pair:
//! "request; read state" against "commit block; read byte", all SeqCst).
//! A block its LWP holds uncommitted and a wake there ends is never
//! committed (`lwp/handoff.rs`): that wait is over anyway, and the next
//! one is committed or ended the same way.
//! A registered OS thread (`main`) is unparked: std keeps the unpark token,
//! so a park it has not reached yet returns at once.
//!
//! Nothing here runs unless some thread sets `POINT`: Rust code that never
//! asks for cancellation points never has a wait ended by a request.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use super::cancel_word;
use super::table::table;
use super::tcb::{Kind, Tcb};
use super::{JoinHandle, Thread};
use crate::sched::{self, Waiter};
use crate::thread::id::BlockReason;
use crate::thread::state::WakeToken;

impl Thread {
    /// Asks this thread to stop at its next cancellation point (the C
    /// API's `pthread_cancel`): from now on [`cancel_requested`] is true
    /// on it, and a wait it makes inside [`cancellation_point`] ends early
    /// (or does not start). The request stays for the rest of the thread's
    /// life. Returns false if the thread has exited.
    pub fn request_cancel(&self) -> bool {
        let Ok(tcb) = table().lookup(self.id()) else {
            return false;
        };
        let r = cancel_word::request(&tcb.cancel);
        if r.at_point {
            end_wait(tcb);
        }
        if r.armed {
            super::interrupt_hook::interrupt(tcb);
        }
        true
    }
}

/// Arms asynchronous cancellation for the calling ULT as it goes back to
/// its own code: from now until [`disarm_async_cancel`], a cancellation
/// request stops it wherever it is (`signal/interrupt.rs`). Returns true
/// if a request is already pending: the caller is then left disarmed and
/// acts on it itself. Call it last, as nothing of weave's remains to be
/// done for the thread: a request may stop it from here on. An OS thread,
/// or a ULT that is ending ([`end_async_cancel`]), is not armed; the
/// answer still says whether a request is pending.
#[inline]
pub fn arm_async_cancel() -> bool {
    let tcb = crate::thread::current::current_tcb();
    if tcb.kind() == Kind::External || !super::interrupt_hook::ready() {
        return cancel_word::requested(&tcb.cancel, SeqCst);
    }
    // Nothing of the caller's moves below the arm.
    std::sync::atomic::compiler_fence(SeqCst);
    let due = cancel_word::arm(&tcb.cancel);
    if due {
        cancel_word::disarm(&tcb.cancel, 0);
        std::sync::atomic::compiler_fence(SeqCst);
    }
    due
}

/// Disarms asynchronous cancellation for the calling thread as it enters
/// weave (or leaves the asynchronous type): a request waits until it arms
/// again or reaches a cancellation point. Returns whether it was armed.
#[inline]
pub fn disarm_async_cancel() -> bool {
    // Only a ULT is ever armed: an OS thread is not looked up (nor
    // registered with weave by this call).
    let Some(tcb) = crate::thread::current::running() else {
        return false;
    };
    let was = cancel_word::armed(&tcb.cancel);
    if was {
        cancel_word::disarm(&tcb.cancel, 0);
    }
    // No access of weave's moves above the disarm: the handler, which runs
    // on this thread, sees it before any of them.
    std::sync::atomic::compiler_fence(SeqCst);
    was
}

/// The calling thread is ending (its start routine returned, or it
/// exits): disarmed for good; [`arm_async_cancel`] arms it no more.
#[inline]
pub fn end_async_cancel() {
    if let Some(tcb) = crate::thread::current::running() {
        cancel_word::disarm(&tcb.cancel, cancel_word::DONE);
    }
    std::sync::atomic::compiler_fence(SeqCst);
}

/// Whether a cancellation request ([`Thread::request_cancel`]) is pending
/// on the calling thread.
pub fn cancel_requested() -> bool {
    cancel_word::requested(&crate::thread::current::current_tcb().cancel, SeqCst)
}

/// Runs `f`, a wait, as a cancellation point: while it runs, a
/// cancellation request for the calling thread ends the weave wait it is
/// in, as a spurious wake-up would (a condition variable returns, a sleep
/// or a timed wait returns early, [`JoinHandle::wait_cancellable`] and
/// [`crate::sync::Semaphore::acquire_cancellable`] return without their
/// result). Returns `None`, without running `f`, if a request is already
/// pending; the caller looks at [`cancel_requested`] after `f` returns to
/// tell a request from an ordinary return.
#[inline]
pub fn cancellation_point<R>(f: impl FnOnce() -> R) -> Option<R> {
    cancellation_point_then(f).map(|(r, _)| r)
}

/// As [`cancellation_point`], with whether a request is pending once `f`
/// returned ([`cancel_requested`], read with the TCB the point already
/// holds: a C cancellation point asks both, and each look-up of the
/// caller is a thread-local read).
#[inline]
pub fn cancellation_point_then<R>(f: impl FnOnce() -> R) -> Option<(R, bool)> {
    let tcb = crate::thread::current::current_tcb();
    if !cancel_word::enter(&tcb.cancel) {
        return None;
    }
    // Cleared even if `f` unwinds: a later ordinary wait must not end early.
    struct Leave(&'static Tcb);
    impl Drop for Leave {
        #[inline]
        fn drop(&mut self) {
            cancel_word::leave(&self.0.cancel);
        }
    }
    let leave = Leave(tcb);
    let r = f();
    drop(leave);
    Some((r, cancel_word::requested(&tcb.cancel, SeqCst)))
}

/// Whether the calling thread waits at a cancellation point with a request
/// pending: the primitives that loop on spurious wake-ups stop looping.
#[inline]
pub(crate) fn wait_cancelled() -> bool {
    wait_cancelled_of(crate::thread::current::current_tcb())
}

/// As [`wait_cancelled`], for a caller whose TCB `tcb` is at hand.
#[inline]
pub(crate) fn wait_cancelled_of(tcb: &Tcb) -> bool {
    cancel_word::due(&tcb.cancel, Relaxed)
}

/// Ends whatever weave wait `tcb` is in (harmless if it is in none).
#[cold]
fn end_wait(tcb: &'static Tcb) {
    if tcb.kind() == Kind::External {
        let token = WakeToken {
            epoch: tcb.state.load().epoch(),
        };
        // Unparked whether or not it parks yet: the request has no
        // token of the wait, and a spurious return is allowed.
        tcb.state.wake_os(token);
        let os = tcb.os.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(t) = os {
            t.unpark();
        }
        return;
    }
    sched::woken(tcb, tcb.state.wake_any());
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish without taking its result (call
    /// [`join`](JoinHandle::join) after): true once it has finished, false
    /// if a cancellation request ended the wait (inside
    /// [`cancellation_point`]). The handle stays usable either way.
    pub fn wait_cancellable(&self) -> bool {
        self.wait_cancellable_until(None)
    }

    /// As [`wait_cancellable`](JoinHandle::wait_cancellable), giving up at
    /// `deadline` (`None`: never): false if time ran out or a cancellation
    /// request ended the wait ([`is_finished`](JoinHandle::is_finished) and
    /// [`cancel_requested`] tell which). The C API's
    /// `pthread_timedjoin_np`.
    pub fn wait_cancellable_until(&self, deadline: Option<std::time::Instant>) -> bool {
        if self.join.is_finished() {
            return true;
        }
        let holder = self.thread.id.index() + 1;
        match (deadline, crate::lwp::current_ult()) {
            // A ULT's wait with no deadline (`pthread_join`): one look-up
            // of the caller serves the deadlock detector's note, the check
            // for a request and the first block, as in `JoinHandle::join`
            // (three look-ups before). Later rounds, rare (a wake before
            // the end), look the caller up again: a migratable thread may
            // be woken on another LWP.
            (None, Some((l, me))) => {
                me.waits_for.store(holder, Relaxed);
                if wait_cancelled_of(me) {
                    return false;
                }
                sched::block_ult_handed(l, me, BlockReason::Join, |w: Waiter| {
                    self.join.register(w)
                });
                self.after_wake();
            }
            _ => sched::note_waits_for(holder),
        }
        while !self.join.is_finished() {
            if wait_cancelled() || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return false;
            }
            // The waiter reaches the ULT only through a Release RMW
            // (`join_state.rs`): the block's state store need not be locked.
            sched::block_on_handed(BlockReason::Join, deadline, None, |w: Waiter| {
                self.join.register(w)
            });
            self.after_wake();
        }
        true
    }

    /// After a wait's block: woken before the end (a request, a deadline,
    /// or a spurious OS-thread wake-up) while the thread finishes, its ULT
    /// has our waiter, and we may not store another: look again after a
    /// yield (or give up, in the caller's loop).
    #[inline]
    fn after_wake(&self) {
        if !self.join.is_finished() && !self.join.unregister() {
            crate::thread::yield_now();
        }
    }
}

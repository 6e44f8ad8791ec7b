//! A signal the program sends to its own process (`kill` or `sigqueue`
//! to its own pid), routed by the sender itself, in thread context, as the
//! top half would route it (steps 2-5 of `README.md` in this folder), and
//! held by weave when nobody takes it: so that the signal is somewhere
//! weave looks (a `wait` caller, the pending set of the thread that takes
//! it, or the held records that `sigpending` and an unblocking thread
//! read) before the send returns, and real-time signals keep their order.
//!
//! Through the kernel, a signal every ULT blocks would pass from LWP to
//! LWP (case 4: each blocks it and raises it again at the back of the
//! process's queue) before it settled as pending: for that while it was in
//! nobody's pending set, and a later signal of the same number could pass
//! it. Signals from other processes still take that path.
//!
//! Owns the decision only; it calls the top half's scan (`wrapper.rs`)
//! and the dispatcher's hand-offs (`dispatch.rs`), never the other way.

use std::sync::atomic::Ordering::Relaxed;

use super::dispatch;
use super::ring::{Record, Route};
use super::set::bit;
use super::slot::slot;
use super::wrapper::{self, claim_once, takes};
use super::{check, Disposition};
use crate::thread::state::{EXITED, FREE};
use crate::thread::table::table;
use crate::thread::tcb::{Kind, Tcb};

/// Sends `sig` to the calling process, as `kill(getpid(), sig)` (with
/// `value`: as `sigqueue(getpid(), sig, value)`, a real-time signal queued
/// with its value). A signal handled through weave is routed here, before
/// this returns: a `wait` caller takes it; else the caller, if it does not
/// block it (a ULT runs the handler before this returns); else another
/// thread that does not block it; else weave holds it, pending for the
/// process (`sigpending`), until a thread unblocks it or waits for it,
/// lowest number first and each number in the order sent, as POSIX asks
/// for real-time signals. Other signals (not handled through weave,
/// ignored, a synchronous one such as `SIGSEGV`, or a send from inside a
/// handler running in signal context) go to the kernel, as `kill` would.
/// Errors are the kernel's (`EINVAL` for a bad signal number, `EAGAIN` at
/// `RLIMIT_SIGPENDING`).
pub fn send_to_process(sig: i32, value: Option<usize>) -> std::io::Result<()> {
    if !routed_here(sig) {
        return kernel_send(sig, value);
    }
    // SAFETY: getpid/getuid have no preconditions.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let mut rec = Record {
        signo: sig,
        code: if value.is_some() {
            libc::SI_QUEUE
        } else {
            libc::SI_USER
        },
        pid,
        uid,
        value: value.unwrap_or(0) as u64,
        target: 0,
        route: Route::Running,
    };
    // Step 2: a `wait` caller takes it whatever the masks say.
    if slot(sig).waiting.load(Relaxed) > 0 && dispatch::route_to_waiter(&rec) {
        return Ok(());
    }
    let me = crate::thread::current::running();
    match me {
        // Case 1: the sender takes it; its handler runs before the send
        // returns (POSIX: at least one unblocked signal is delivered to the
        // sending thread before `kill` returns).
        Some(t) if takes(t, sig) => {
            if claim_once(sig, None) {
                rec.target = t.id().as_u64().get();
                dispatch::make_pending(t, &rec);
            }
            return Ok(());
        }
        Some(_) => {}
        // An OS thread whose kernel mask lets it in: the kernel delivers it
        // to the sender on the way out of the call, as it always has.
        None if !super::state::kernel_mask().contains(sig) => return kernel_send(sig, value),
        None => {}
    }
    // Cases 2 and 3, as the top half decides them.
    let here = crate::lwp::current().map(|l| l.index());
    let Some(mut rec) = wrapper::route_elsewhere(sig, rec, here) else {
        return Ok(());
    };
    // A registered OS thread whose kernel mask lets it in: the kernel
    // delivers it there (directed at it, the original fields kept).
    if let Some(t) = os_taker(sig) {
        rec.route = Route::OsThread;
        rec.target = t.id().as_u64().get();
        if wrapper::resend(sig, &rec, t.os_tid.load(Relaxed) as i32) {
            return Ok(());
        }
    }
    // Case 4: every thread blocks it. Held, pending for the process.
    if claim_once(sig, None) {
        rec.route = Route::Unblocked;
        rec.target = 0;
        dispatch::hold_now(rec);
    }
    Ok(())
}

/// Whether a send of `sig` to the process is routed by the sender: a
/// handled signal (a handler or a `wait` caller), not a synchronous one,
/// and not from signal context (where the locks of the hand-offs may be
/// held by the code interrupted).
fn routed_here(sig: i32) -> bool {
    if check(sig).is_err() || super::fault::is_synchronous(sig) || wrapper::in_signal_context() {
        return false;
    }
    if crate::runtime::try_rt().is_none() {
        return false;
    }
    if slot(sig).waiting.load(Relaxed) > 0 {
        return true;
    }
    super::state::HANDLED.load(Relaxed) & bit(sig) != 0
        && matches!(
            super::disposition(sig),
            Ok(Disposition::Immediate(_) | Disposition::Weave)
        )
}

/// `kill` or `sigqueue` to our own process, through the kernel.
fn kernel_send(sig: i32, value: Option<usize>) -> std::io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let rc = match value {
        // SAFETY: sigqueue to our own process with a plain value.
        Some(v) => unsafe {
            libc::sigqueue(
                pid,
                sig,
                libc::sigval {
                    sival_ptr: v as *mut libc::c_void,
                },
            )
        },
        // SAFETY: kill to our own process.
        None => unsafe { libc::kill(pid, sig) },
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A live registered OS thread, other than the caller, whose kernel mask
/// (as it last set it through weave) lets `sig` in.
fn os_taker(sig: i32) -> Option<&'static Tcb> {
    let me = crate::thread::current::external();
    (0..table().carved())
        .map(|k| table().slot(k as u32))
        .find(|t| {
            t.kind() == Kind::External
                && !matches!(t.state.load().run(), FREE | EXITED)
                && t.sig.mask.load(Relaxed) & bit(sig) == 0
                && t.os_tid.load(Relaxed) != 0
                && !me.is_some_and(|m| std::ptr::eq(m, *t))
        })
}

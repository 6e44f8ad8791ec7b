//! Cancellation: `pthread_cancel`, `pthread_setcancelstate`,
//! `pthread_setcanceltype`, `pthread_testcancel`, and the cancellation
//! points of the C API.
//!
//! Owns each C thread's cancelability (state and type, per ULT) and the
//! rule of when a pending request is acted on. The request itself is
//! weave's (`Thread::request_cancel`), and so is ending a wait for it
//! (`weave::thread::cancellation_point`: the wake-up by epoch that
//! thread-directed signals use). Acting on a request is `pthread_exit
//! (PTHREAD_CANCELED)`: the cleanup handlers run, newest first, then the
//! key destructors, and a join gets `PTHREAD_CANCELED`.
//!
//! **Where a request is acted on** (deferred type, the default): at
//! `pthread_testcancel`, and in the waits weave implements that POSIX
//! names as cancellation points: `pthread_join` (and the GNU timed
//! joins), `pthread_cond_wait`, `timedwait` and `clockwait`, `sem_wait`,
//! `sem_timedwait` and `sem_clockwait`, `sleep`, `usleep`, `nanosleep`,
//! `clock_nanosleep`, `sigsuspend` and `pause`, and the socket calls of
//! the header (`read`, `write`, `recv`, `send`, `recvfrom`, `sendto`,
//! `recvmsg`, `sendmsg`, `readv`, `writev`, `accept`, `accept4`,
//! `connect`, `close`) and `poll`, `ppoll`, `select`, `pselect`. A request
//! pending when one is called is acted on even if it would not wait (a
//! timed wait whose time has passed, a free permit, a zero timeout); a
//! thread blocked in one of them is woken by the request. So are the
//! message queue calls (`mq_receive`, `mq_send` and their timed forms,
//! `mq.rs`) and `waitpid`/`waitid` for one child's exit (`points.rs`).
//! `fcntl` with `F_SETLKW`/`F_OFD_SETLKW` acts on a request pending at
//! entry, and on one made during its wait (on the blocking pool) when
//! the wait ends without the lock. The other simple cancellation points
//! of `points.rs` (`open`, `fsync`, `wait`, `msgrcv`, ...) act on a
//! request pending at entry only, then block in the system's call
//! (`points.rs` says why each cannot be ended). A wait that completed (a permit taken, a thread
//! joined, data read) returns its result; the request is then acted on at
//! the next point, so that nothing is consumed and lost. A condition
//! variable wait that acts on a request holds the mutex again first, as
//! POSIX requires, and passes a signal it may have taken on to another
//! waiter.
//!
//! **`PTHREAD_CANCEL_ASYNCHRONOUS`**: with cancellation enabled and the
//! asynchronous type, a request stops the thread wherever it is in the
//! program's own code (a loop that calls nothing is stopped too), and is
//! acted on there, as `pthread_exit(PTHREAD_CANCELED)`: cleanup handlers,
//! key destructors, `PTHREAD_CANCELED` for the join. weave's half is
//! `weave::thread::arm_async_cancel` and its interrupt (weave's
//! `signal/interrupt.rs`: the requester interrupts the LWP that runs the
//! thread; the handler there leaves signal context and calls [`act`]).
//! The thread is *armed* only while it runs its own code: the calls a
//! program may make in that mode (`pthread_cancel`,
//! `pthread_setcancelstate`, `pthread_setcanceltype`, which POSIX names
//! async-cancel-safe, and `pthread_testcancel`, `sched_yield`/
//! `pthread_yield`, `pthread_cleanup_push`/`pop`) disarm it as they
//! enter and arm it again as they return ([`leave_weave`]), acting on a
//! request that came meanwhile; so a request never stops weave's own code
//! half-way. A thread not running when the request comes (it yielded)
//! acts on it as that call returns. A thread that is ending (its start
//! routine returned, or `pthread_exit` began) is never armed again. Other
//! calls are not async-cancel-safe (POSIX leaves their use in this mode
//! undefined), and weave does not disarm around them. An OS thread
//! (`main`) is not interrupted: it acts at its next cancellation point, or
//! at once when it cancels itself or enables cancellation with a request
//! pending.
//!
//! It must not touch the thread registry (`thread.rs` owns it) beyond the
//! hook `pthread_join` calls.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use libc::pthread_t;

use crate::thread::{ended_unjoined, live};
use crate::{glibc, guard};

/// `PTHREAD_CANCEL_ENABLE` / `PTHREAD_CANCEL_DISABLE` (glibc's values).
pub(crate) const ENABLE: c_int = 0;
pub(crate) const DISABLE: c_int = 1;
/// `PTHREAD_CANCEL_DEFERRED` / `PTHREAD_CANCEL_ASYNCHRONOUS`.
pub(crate) const DEFERRED: c_int = 0;
pub(crate) const ASYNCHRONOUS: c_int = 1;

/// What a cancellation point returns, instead of its result, when the
/// request is to be acted on: the exported function, once every Rust frame
/// of the call has returned, turns it into `pthread_exit(PTHREAD_CANCELED)`
/// ([`finish`]). No POSIX error number has this value.
pub(crate) const ACT: c_int = c_int::MIN;

weave_rt::thread_local! {
    /// The calling thread's cancelability state and type; a new thread
    /// starts enabled and deferred (POSIX).
    static STATE: Cell<c_int> = const { Cell::new(ENABLE) };
    static TYPE: Cell<c_int> = const { Cell::new(DEFERRED) };
}

/// Whether any thread of the process has ever disabled cancellation.
/// Until one does, every thread's state is `ENABLE`, and a cancellation
/// point (every `pthread_join` that waits) need not look its own up: the
/// state is a weave thread_local, a lookup of ~70 instructions.
static EVER_DISABLED: AtomicBool = AtomicBool::new(false);

/// Whether any thread of the process has ever set the asynchronous type.
/// Until one does, no thread is armed, and the calls that disarm a thread
/// as they enter (module doc) need not look it up: a thread-local access,
/// ~20 instructions in the shared library, on every `sched_yield`, cleanup
/// push and pop and thread end.
static EVER_ASYNC: AtomicBool = AtomicBool::new(false);

/// Disarms the calling thread as it enters weave (module doc); whether it
/// was armed (then [`leave_weave`] as the call returns).
#[inline]
pub(crate) fn enter_weave() -> bool {
    // Relaxed: a thread is armed only after it set the flag itself
    // (`weave_pthread_setcanceltype`), and sees its own store.
    EVER_ASYNC.load(Relaxed) && weave_rt::thread::disarm_async_cancel()
}

/// Whether the calling thread's cancelability state is `ENABLE`.
#[inline]
fn enabled() -> bool {
    // Relaxed: a thread's state is its own, and the thread that disables
    // its own sets the flag first ([`set_state`]): its later reads see the
    // flag in program order. Another thread's flag tells it nothing
    // about its own state, which is still ENABLE.
    !EVER_DISABLED.load(Relaxed) || STATE.get() == ENABLE
}

/// Sets the calling thread's cancelability state; returns the old one.
fn set_state(state: c_int) -> c_int {
    if state != ENABLE {
        // Relaxed: see `enabled`.
        EVER_DISABLED.store(true, Relaxed);
    }
    STATE.replace(state)
}

/// Whether a request pending on the calling thread is to be acted on at a
/// cancellation point now.
pub(crate) fn due() -> bool {
    // The request first: one load in the TCB, while the state may need a
    // lookup (`enabled`).
    weave_rt::thread::cancel_requested() && enabled()
}

/// Runs the wait `f` as a cancellation point. `Err(())` means the request
/// is to be acted on and `f` did not run; `Ok((r, due))` gives `f`'s
/// result and whether a request is due now (the caller decides: a wait
/// that completed keeps its result). With cancellation disabled, `f` is an
/// ordinary wait that no request ends.
pub(crate) fn point<R>(f: impl FnOnce() -> R) -> Result<(R, bool), ()> {
    if !enabled() {
        return Ok((f(), false));
    }
    weave_rt::thread::cancellation_point_then(f).ok_or(())
}

/// The last step of an exported cancellation point, in its own frame once
/// every Rust frame of the call has returned: [`ACT`] ends the thread as
/// cancelled, anything else is returned.
#[inline]
pub(crate) fn finish(r: c_int) -> c_int {
    if r == ACT {
        act()
    }
    r
}

/// Acts on the request: `pthread_exit(PTHREAD_CANCELED)`, with
/// cancelability disabled first, so that a cleanup handler or key
/// destructor that reaches a cancellation point runs to its end. Also
/// weave's hook for a request that stops an armed thread (module doc).
#[cold]
pub(crate) fn act() -> ! {
    // First: no asynchronous cancellation stops the exit half-way.
    weave_rt::thread::end_async_cancel();
    set_state(DISABLE);
    crate::thread::weave_pthread_exit(glibc::PTHREAD_CANCELED)
}

/// The last step of a call a thread may make with asynchronous
/// cancellation in force, once the call has done its work: arms the
/// thread again if it is enabled and asynchronous, and acts on a request
/// pending by then (module doc). Called outside `guard`, with no frame of
/// the call left that holds anything: from the arm on, a request may
/// leave it at any instruction.
pub(crate) fn leave_weave() {
    if TYPE.get() == ASYNCHRONOUS && enabled() && weave_rt::thread::arm_async_cancel() {
        act()
    }
}

/// Called by the landing pad (`landing.c`) as the start routine returns,
/// while the pad is still live: the thread is ending, and no request stops
/// it any more (the key destructors run after).
pub(crate) extern "C" fn start_returned() {
    // Relaxed: see `enter_weave`.
    if EVER_ASYNC.load(Relaxed) {
        weave_rt::thread::end_async_cancel();
    }
}

/// `pthread_cancel`: asks `thread` to end at its next cancellation point,
/// or at once where it is if it has the asynchronous type (module doc); a
/// thread blocked in a cancellation point is woken. 0 for a thread that
/// has ended but is not yet joined (its id is valid until the join, and
/// there is nothing left to cancel); `ESRCH` for an id that names no
/// thread (stale, joined, or made up). A thread with cancellation
/// disabled keeps the request until it enables it.
#[no_mangle]
pub extern "C-unwind" fn weave_pthread_cancel(thread: pthread_t) -> c_int {
    let armed = enter_weave();
    let r = guard("pthread_cancel", libc::ESRCH, || {
        let t = match live(thread) {
            Ok(t) => t,
            // Ended but not yet joined: its id is still valid (POSIX
            // keeps it until the join), and a request to a thread that
            // can no longer act on it has nothing to do.
            Err(_) if ended_unjoined(thread) => return 0,
            Err(e) => return e,
        };
        if !t.request_cancel() {
            // It ended between the lookup and the request.
            return if ended_unjoined(thread) {
                0
            } else {
                libc::ESRCH
            };
        }
        let me = weave_rt::thread::current_id();
        if t.id() == me && TYPE.get() == ASYNCHRONOUS && enabled() {
            return ACT;
        }
        0
    });
    let r = finish(r);
    if armed {
        leave_weave();
    }
    r
}

/// `pthread_setcancelstate`: `PTHREAD_CANCEL_ENABLE` or `_DISABLE`; the
/// old state into `oldstate` (may be null). `EINVAL` for another value.
/// Enabling with the asynchronous type and a request pending acts on it.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_setcancelstate(
    state: c_int,
    oldstate: *mut c_int,
) -> c_int {
    enter_weave();
    let r = guard("pthread_setcancelstate", libc::EINVAL, || {
        if state != ENABLE && state != DISABLE {
            return libc::EINVAL;
        }
        let old = set_state(state);
        // SAFETY: null or the program's int.
        if let Some(o) = unsafe { oldstate.as_mut() } {
            *o = old;
        }
        0
    });
    // Enabled with the asynchronous type: armed, and a pending request is
    // acted on at once.
    leave_weave();
    r
}

/// `pthread_setcanceltype`: `PTHREAD_CANCEL_DEFERRED` or
/// `_ASYNCHRONOUS` (module doc: what weave does with the latter); the old
/// type into `oldtype` (may be null). `EINVAL` for another value.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_setcanceltype(
    kind: c_int,
    oldtype: *mut c_int,
) -> c_int {
    enter_weave();
    let r = guard("pthread_setcanceltype", libc::EINVAL, || {
        if kind != DEFERRED && kind != ASYNCHRONOUS {
            return libc::EINVAL;
        }
        if kind == ASYNCHRONOUS {
            // Relaxed: see `enter_weave`.
            EVER_ASYNC.store(true, Relaxed);
            weave_rt::signal::set_async_cancel_hook(act);
        }
        let old = TYPE.replace(kind);
        // SAFETY: null or the program's int.
        if let Some(o) = unsafe { oldtype.as_mut() } {
            *o = old;
        }
        0
    });
    // Asynchronous and enabled: armed, and a pending request is acted on
    // at once.
    leave_weave();
    r
}

/// `pthread_testcancel`: acts on a pending request if cancellation is
/// enabled; otherwise returns.
#[no_mangle]
pub extern "C-unwind" fn weave_pthread_testcancel() {
    let armed = enter_weave();
    if due() {
        act()
    }
    if armed {
        leave_weave();
    }
}

//! `pthread_cond_t` and `pthread_condattr_t` over `weave::sync::Condvar`,
//! waiting with the C mutex's weave guard.
//!
//! Owns the clock a condition variable's timed waits use
//! (`pthread_condattr_setclock`: `CLOCK_REALTIME`, the default, or
//! `CLOCK_MONOTONIC`). It must not queue waiters itself.
//!
//! Storage: `object::Slot`, so `PTHREAD_COND_INITIALIZER` (all zero) is a
//! condition variable on `CLOCK_REALTIME`, created on first use. The slot
//! holds an `Arc`, and every call holds a reference of its own while it
//! runs: POSIX lets a program destroy (and free) a condition variable as
//! soon as every waiter has been woken, while the woken waiters, and the
//! thread that woke them, are still inside weave's calls on it.

use std::ffi::c_int;
use std::sync::Arc;
use std::time::Instant;

use libc::{pthread_cond_t, pthread_condattr_t, pthread_mutex_t, timespec};
use weave_rt::sync::Condvar;

use crate::mutex::cmutex;
use crate::object::{slot, Slot};
use crate::time::{wait_until, Clock};
use crate::{cancel, guard};

struct CCond {
    cv: Condvar,
    clock: Clock,
}

/// # Safety
///
/// `c` is null or the program's `pthread_cond_t`, alive while used.
unsafe fn ccond(c: *const pthread_cond_t) -> Result<Arc<CCond>, c_int> {
    // SAFETY: the caller's contract.
    let s: &Slot<Arc<CCond>> = unsafe { slot(c) }?;
    s.get(true, |_| {
        Arc::new(CCond {
            cv: Condvar::new(),
            clock: Clock::Realtime,
        })
    })
    .map(Arc::clone)
}

fn with_cond(name: &str, c: *const pthread_cond_t, f: impl FnOnce(&CCond) -> c_int) -> c_int {
    guard(name, libc::EINVAL, || {
        // SAFETY: the program's condition variable.
        match unsafe { ccond(c) } {
            Ok(cc) => f(&cc),
            Err(e) => e,
        }
    })
}

/// Waits on `cc` with the mutex `m`, which the caller must hold (`EPERM`
/// otherwise), until notified or `until`; true if the wait timed out. A
/// cancellation point: `Err(ACT)` when a cancellation request is to be
/// acted on, with the mutex held again (POSIX) and a notify this waiter
/// may have taken passed on to another.
fn wait(cc: &CCond, m: *const pthread_mutex_t, until: Option<Instant>) -> Result<bool, c_int> {
    // SAFETY: the program's mutex.
    let cm = unsafe { cmutex(m) }?;
    if !cm.is_owner() {
        return Err(libc::EPERM);
    }
    // A point that does not run the wait (a request is due) returns with
    // the mutex still held; one that runs it, with the mutex held again.
    let waited = cancel::point(|| cm.wait_on(&cc.cv, until));
    match waited {
        // A robust mutex whose owner died while this thread waited:
        // `EOWNERDEAD` (held) or `ENOTRECOVERABLE`, as a lock answers.
        Ok((timed_out, false)) => match cm.reacquired() {
            0 => Ok(timed_out),
            e => Err(e),
        },
        Ok((_, true)) => {
            // The wake-up may have been a notify meant for a waiter that
            // stays: hand it on (a spurious wake-up at worst).
            cc.cv.notify_one();
            Err(cancel::ACT)
        }
        Err(()) => Err(cancel::ACT),
    }
}

/// `pthread_cond_init`: with `attr`'s clock (null: `CLOCK_REALTIME`).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_cond_init(
    c: *mut pthread_cond_t,
    attr: *const pthread_condattr_t,
) -> c_int {
    guard("pthread_cond_init", libc::ENOMEM, || {
        let clock = if attr.is_null() {
            Clock::Realtime
        } else {
            // SAFETY: the program's condattr.
            match unsafe { condattr(attr) } {
                Ok(a) => a.clock,
                Err(e) => return e,
            }
        };
        // SAFETY: the program's condition variable.
        match unsafe { slot::<_, Arc<CCond>>(c) } {
            Ok(s) => {
                s.init(
                    0,
                    Arc::new(CCond {
                        cv: Condvar::new(),
                        clock,
                    }),
                );
                0
            }
            Err(e) => e,
        }
    })
}

/// `pthread_cond_destroy`: `EBUSY` while a thread is blocked on it and
/// not yet woken (its wait would never end: POSIX allows `EBUSY`); a
/// condition variable whose waiters have all been signalled may be
/// destroyed at once, before they return. `EINVAL` if destroyed or never
/// initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_cond_destroy(c: *mut pthread_cond_t) -> c_int {
    guard("pthread_cond_destroy", libc::EINVAL, || {
        // SAFETY: the program's condition variable.
        match unsafe { slot::<_, Arc<CCond>>(c) } {
            Ok(s) => s.destroy(|cc| cc.cv.has_waiters()),
            Err(e) => e,
        }
    })
}

/// `pthread_cond_wait`: releases `m` and blocks the calling ULT until
/// signalled, then holds `m` again. `EPERM` if the caller does not hold
/// `m`. Spurious wake-ups are possible, as POSIX allows. A cancellation
/// point (`pthread_cancel`): the cleanup handlers then run with `m` held.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_cond_wait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
) -> c_int {
    cancel::finish(with_cond("pthread_cond_wait", c, |cc| {
        match wait(cc, m, None) {
            Ok(_) => 0,
            Err(e) => e,
        }
    }))
}

/// `pthread_cond_timedwait`: as wait, until `abstime` on the condition
/// variable's clock; `ETIMEDOUT` then, `EINVAL` for a bad `abstime`. On
/// `CLOCK_REALTIME` the wait follows the clock if it is set meanwhile
/// (read again at least once a second, `time::REALTIME_STEP`).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_cond_timedwait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    cancel::finish(timedwait(c, m, abstime))
}

/// `pthread_cond_clockwait`: as timedwait, with `abstime` on `clock`
/// (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`; `EINVAL` for another) instead
/// of the condition variable's own. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_cond_clockwait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
    clock: libc::clockid_t,
    abstime: *const timespec,
) -> c_int {
    let Some(clock) = Clock::from_id(clock) else {
        return libc::EINVAL;
    };
    cancel::finish(timedwait_on(c, m, Some(clock), abstime))
}

fn timedwait(c: *mut pthread_cond_t, m: *mut pthread_mutex_t, abstime: *const timespec) -> c_int {
    timedwait_on(c, m, None, abstime)
}

/// A timed wait with `abstime` on `clock`, or on the condition variable's
/// clock if `None`.
fn timedwait_on(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
    clock: Option<Clock>,
    abstime: *const timespec,
) -> c_int {
    with_cond("pthread_cond_timedwait", c, |cc| {
        // The caller must hold the mutex (`EPERM`) whatever `abstime`
        // says: a time already past is `ETIMEDOUT` only for a holder.
        // SAFETY: the program's mutex.
        match unsafe { cmutex(m) } {
            Ok(cm) if !cm.is_owner() => return libc::EPERM,
            Err(e) => return e,
            Ok(_) => {}
        }
        // A cancellation point even when `abstime` has passed already (a
        // request pending as it is called is acted on, with the mutex held).
        if cancel::due() {
            return cancel::ACT;
        }
        // Each step that times out holds the mutex again and waits on;
        // the wait ends when `abstime` has passed on the clock as it reads
        // then (`time::wait_until`).
        let r = wait_until(clock.unwrap_or(cc.clock), abstime, |until| {
            match wait(cc, m, Some(until)) {
                Ok(true) => None,
                Ok(false) => Some(0),
                Err(e) => Some(e),
            }
        });
        r.unwrap_or_else(|e| e)
    })
}

/// `pthread_cond_signal`: wakes one waiter, if any.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_cond_signal(c: *mut pthread_cond_t) -> c_int {
    with_cond("pthread_cond_signal", c, |cc| {
        cc.cv.notify_one();
        0
    })
}

/// `pthread_cond_broadcast`: wakes every waiter.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_cond_broadcast(c: *mut pthread_cond_t) -> c_int {
    with_cond("pthread_cond_broadcast", c, |cc| {
        cc.cv.notify_all();
        0
    })
}

// ---- pthread_condattr_t: one int: MAGIC in bits 24..32, clock in 0..8 ----

const ATTR_MAGIC: u32 = 0xA6;

struct CondAttr {
    clock: Clock,
}

/// # Safety
///
/// `a` is null or the program's `pthread_condattr_t`.
unsafe fn condattr(a: *const pthread_condattr_t) -> Result<CondAttr, c_int> {
    // SAFETY: the caller's contract; the type is (at least) an int.
    let v = *unsafe { a.cast::<u32>().as_ref() }.ok_or(libc::EINVAL)?;
    if v >> 24 != ATTR_MAGIC {
        return Err(libc::EINVAL);
    }
    let clock = Clock::from_id((v & 0xff) as libc::clockid_t).ok_or(libc::EINVAL)?;
    Ok(CondAttr { clock })
}

fn write_condattr(a: *mut pthread_condattr_t, clock: Clock) {
    // SAFETY: the callers checked `a` non-null; the program's int.
    unsafe { a.cast::<u32>().write(ATTR_MAGIC << 24 | clock.id() as u32) };
}

/// `pthread_condattr_init`: `CLOCK_REALTIME`, process-private.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_condattr_init(a: *mut pthread_condattr_t) -> c_int {
    if a.is_null() {
        return libc::EINVAL;
    }
    write_condattr(a, Clock::Realtime);
    0
}

/// `pthread_condattr_destroy`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_condattr_destroy(a: *mut pthread_condattr_t) -> c_int {
    // SAFETY: the program's condattr.
    if let Err(e) = unsafe { condattr(a) } {
        return e;
    }
    // SAFETY: checked non-null above.
    unsafe { a.cast::<u32>().write(0) };
    0
}

/// `pthread_condattr_setclock`: `CLOCK_REALTIME` or `CLOCK_MONOTONIC`,
/// else `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_condattr_setclock(
    a: *mut pthread_condattr_t,
    clock: libc::clockid_t,
) -> c_int {
    // SAFETY: the program's condattr.
    if let Err(e) = unsafe { condattr(a) } {
        return e;
    }
    match Clock::from_id(clock) {
        Some(c) => {
            write_condattr(a, c);
            0
        }
        None => libc::EINVAL,
    }
}

/// `pthread_condattr_getclock`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_condattr_getclock(
    a: *const pthread_condattr_t,
    clock: *mut libc::clockid_t,
) -> c_int {
    // SAFETY: the program's condattr.
    match unsafe { condattr(a) } {
        Ok(at) if !clock.is_null() => {
            // SAFETY: non-null; the program's clockid_t.
            unsafe { clock.write(at.clock.id()) };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// `pthread_condattr_setpshared`: `PTHREAD_PROCESS_SHARED` is `ENOTSUP`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_condattr_setpshared(
    a: *mut pthread_condattr_t,
    pshared: c_int,
) -> c_int {
    // SAFETY: the program's condattr.
    if let Err(e) = unsafe { condattr(a) } {
        return e;
    }
    match crate::mutex::pshared_ok::<()>(pshared) {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// `pthread_condattr_getpshared`: always `PTHREAD_PROCESS_PRIVATE`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_condattr_getpshared(
    a: *const pthread_condattr_t,
    pshared: *mut c_int,
) -> c_int {
    // SAFETY: the program's condattr.
    match unsafe { condattr(a) } {
        Ok(_) if !pshared.is_null() => {
            // SAFETY: non-null; the program's int.
            unsafe { pshared.write(libc::PTHREAD_PROCESS_PRIVATE) };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

//! Unnamed semaphores (`sem_t`) over `weave::sync::Semaphore`. They
//! return -1 and set `errno`, as POSIX's semaphore calls do.
//!
//! Owns the conversion only; storage is `object::Slot` (zeroed memory,
//! which `sem_init` did not make, is a semaphore of value 0, as glibc's
//! zeroed `sem_t` is: made on first use, as a mutex's static initialiser;
//! a destroyed one, or garbage, is `EINVAL`), holding an `Arc`: every call holds a reference of its own while it
//! runs, because POSIX lets a program destroy (and free) a semaphore as
//! soon as no thread is blocked on it, while the thread that posted the
//! permit a waiter just took may still be inside `sem_post`.
//! Process-shared semaphores (`pshared` != 0) are `ENOSYS`. `sem_wait`
//! fails with `EINTR` when a signal handler installed without
//! `SA_RESTART` runs for the waiting thread (with it, the wait goes on, as
//! POSIX's `SA_RESTART` and glibc have it); `sem_timedwait` whatever the
//! flag says, as Linux's.
//! Named semaphores (`sem_open`) are the system's: every call here hands
//! them on (`named_sem.rs`).

use std::ffi::{c_int, c_uint};
use std::sync::Arc;
use std::time::Instant;

use libc::{sem_t, timespec};
use weave_rt::sync::Semaphore;

use crate::named_sem::{self, Op};
use crate::object::{slot, Slot};
use crate::time::{wait_until, Clock};
use crate::{cancel, guard, guard_errno};

/// glibc's `SEM_VALUE_MAX`.
const VALUE_MAX: usize = i32::MAX as usize;

fn with_sem(name: &str, s: *mut sem_t, named: Op, f: impl FnOnce(&Semaphore) -> c_int) -> c_int {
    errno_result(with_sem_code(name, s, named, f))
}

/// As [`with_sem`], returning the error number (0 for success). A
/// `sem_t` that is not weave's but a named semaphore the program opened
/// gets `named`, done by the system (`named_sem.rs`).
fn with_sem_code(
    name: &str,
    s: *mut sem_t,
    named: Op,
    f: impl FnOnce(&Semaphore) -> c_int,
) -> c_int {
    guard(name, libc::EINVAL, || {
        // SAFETY: the program's semaphore.
        let sl: &Slot<Arc<Semaphore>> = match unsafe { slot(s) } {
            Ok(sl) => sl,
            Err(e) => return e,
        };
        match sl.get(false, |_| unreachable!("not lazily")) {
            Ok(sem) => f(&Arc::clone(sem)),
            // A named semaphore's memory is the system's, which may read
            // as zeroed: asked first.
            Err(_) if named_sem::is_named(s) => named_sem::call(s, named),
            // Zeroed memory: a semaphore of value 0 (module doc).
            Err(_) => match sl.get(true, |_| Arc::new(Semaphore::new(0))) {
                Ok(sem) => f(&Arc::clone(sem)),
                Err(e) => e,
            },
        }
    })
}

/// The semaphore calls' convention: 0, or -1 with `errno` set.
fn errno_result(e: c_int) -> c_int {
    if e == 0 {
        return 0;
    }
    crate::set_errno(e);
    -1
}

/// `sem_init`: `value` permits. `EINVAL` above `SEM_VALUE_MAX`, `ENOSYS`
/// for a process-shared semaphore.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_init(s: *mut sem_t, pshared: c_int, value: c_uint) -> c_int {
    guard_errno("sem_init", libc::ENOMEM, || {
        if value as usize > VALUE_MAX {
            return libc::EINVAL;
        }
        if pshared != 0 {
            return libc::ENOSYS;
        }
        // SAFETY: the program's semaphore.
        match unsafe { slot::<_, Arc<Semaphore>>(s) } {
            Ok(sl) => {
                sl.init(0, Arc::new(Semaphore::new(value as usize)));
                0
            }
            Err(e) => e,
        }
    })
}

/// `sem_destroy`: `EINVAL` if destroyed or garbage (zeroed memory is a
/// semaphore of value 0: module doc).
#[no_mangle]
pub unsafe extern "C" fn weave_sem_destroy(s: *mut sem_t) -> c_int {
    guard_errno("sem_destroy", libc::EINVAL, || {
        // SAFETY: the program's semaphore.
        match unsafe { slot::<_, Arc<Semaphore>>(s) } {
            Ok(sl) => sl.destroy(|_| false),
            Err(e) => e,
        }
    })
}

/// `sem_wait`: takes a permit, blocking the calling ULT until one is
/// posted; `EINTR` if a signal handler without `SA_RESTART` ran for it
/// meanwhile. A
/// cancellation point (`pthread_cancel`).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sem_wait(s: *mut sem_t) -> c_int {
    errno_result(cancel::finish(with_sem_code(
        "sem_wait",
        s,
        Op::Wait,
        |sem| take(sem, None),
    )))
}

/// Takes a permit, until `until` if given, as a cancellation point: 0,
/// `ETIMEDOUT`, `EINTR` (a signal handler ran), or `cancel::ACT` when a cancellation request is to be
/// acted on (a permit that was taken is kept: the request waits for the
/// next point).
fn take(sem: &Semaphore, until: Option<Instant>) -> c_int {
    loop {
        let wait = || {
            if let Some(p) = sem.try_acquire() {
                return Ok(Some(p));
            }
            // A handler that ran before this wait is not this wait's
            // (cleared off the fast path, which has no wait to end).
            weave_rt::signal::take_interrupted_without_restart();
            sem.acquire_cancellable_interruptible(until)
        };
        return match cancel::point(wait) {
            Ok((Ok(Some(p)), _)) => {
                p.forget();
                0
            }
            Ok((Ok(None), false)) => libc::ETIMEDOUT,
            // A signal handler ran for the caller meanwhile: `sem_wait`
            // goes on if it was installed with SA_RESTART (POSIX: an
            // interruptible function restarts), as glibc's does; a timed
            // wait fails whatever the flag says, as Linux's.
            Ok((Err(_), false))
                if until.is_none() && !weave_rt::signal::take_interrupted_without_restart() =>
            {
                continue
            }
            Ok((Err(_), false)) => libc::EINTR,
            Ok((_, true)) | Err(()) => cancel::ACT,
        };
    }
}

/// `sem_trywait`: `EAGAIN` if no permit is free.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_trywait(s: *mut sem_t) -> c_int {
    with_sem("sem_trywait", s, Op::TryWait, |sem| {
        match sem.try_acquire() {
            Some(p) => {
                p.forget();
                0
            }
            None => libc::EAGAIN,
        }
    })
}

/// `sem_timedwait`: as wait, until `abstime` (`CLOCK_REALTIME`);
/// `ETIMEDOUT` then, `EINVAL` for a bad `abstime` when it would block. The
/// wait follows the realtime clock if it is set meanwhile (read again at
/// least once a second, `time::REALTIME_STEP`). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sem_timedwait(
    s: *mut sem_t,
    abstime: *const timespec,
) -> c_int {
    errno_result(cancel::finish(timed(s, Clock::Realtime, abstime)))
}

/// `sem_clockwait`: as timedwait, with `abstime` on `clock`
/// (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`; `EINVAL` for another). A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sem_clockwait(
    s: *mut sem_t,
    clock: libc::clockid_t,
    abstime: *const timespec,
) -> c_int {
    let Some(clock) = Clock::from_id(clock) else {
        return errno_result(libc::EINVAL);
    };
    errno_result(cancel::finish(timed(s, clock, abstime)))
}

fn timed(s: *mut sem_t, clock: Clock, abstime: *const timespec) -> c_int {
    with_sem_code(
        "sem_timedwait",
        s,
        Op::TimedWait(clock.id(), abstime),
        |sem| {
            // A cancellation point even with a permit free or `abstime`
            // passed: a request pending as it is called is acted on (as
            // `sem_wait` does), taking nothing.
            if cancel::due() {
                return cancel::ACT;
            }
            if let Some(p) = sem.try_acquire() {
                p.forget();
                return 0;
            }
            // In steps on CLOCK_REALTIME, read again after each
            // (`time::wait_until`).
            let r = wait_until(clock, abstime, |until| match take(sem, Some(until)) {
                libc::ETIMEDOUT => None,
                r => Some(r),
            });
            r.unwrap_or_else(|e| e)
        },
    )
}

/// `sem_post`: gives a permit back; `EOVERFLOW` at `SEM_VALUE_MAX`.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_post(s: *mut sem_t) -> c_int {
    with_sem("sem_post", s, Op::Post, |sem| {
        if sem.available_permits() >= VALUE_MAX {
            return libc::EOVERFLOW;
        }
        sem.release(1);
        0
    })
}

/// `sem_getvalue`: the free permits (never negative).
#[no_mangle]
pub unsafe extern "C" fn weave_sem_getvalue(s: *mut sem_t, value: *mut c_int) -> c_int {
    with_sem("sem_getvalue", s, Op::GetValue(value), |sem| {
        if value.is_null() {
            return libc::EINVAL;
        }
        let v = c_int::try_from(sem.available_permits()).unwrap_or(c_int::MAX);
        // SAFETY: non-null; the program's int.
        unsafe { value.write(v) };
        0
    })
}

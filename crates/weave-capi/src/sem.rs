//! Unnamed semaphores (`sem_t`) over `weave::sync::Semaphore`. They
//! return -1 and set `errno`, as POSIX's semaphore calls do.
//!
//! Owns the conversion only; storage is `object::Slot` (no static
//! initialiser: a `sem_t` that `sem_init` did not make is `EINVAL`).
//! Process-shared semaphores (`pshared` != 0) are `ENOSYS`. `EINTR` from
//! a signal handler is not given: signals are not in the C API yet.

use std::ffi::{c_int, c_uint};
use std::time::Instant;

use libc::{sem_t, timespec};
use weave_rt::sync::Semaphore;

use crate::guard_errno;
use crate::object::{slot, Slot};
use crate::time::{deadline, Clock};

/// glibc's `SEM_VALUE_MAX`.
const VALUE_MAX: usize = i32::MAX as usize;

fn with_sem(name: &str, s: *mut sem_t, f: impl FnOnce(&Semaphore) -> c_int) -> c_int {
    guard_errno(name, libc::EINVAL, || {
        // SAFETY: the program's semaphore.
        let sl: &Slot<Semaphore> = match unsafe { slot(s) } {
            Ok(sl) => sl,
            Err(e) => return e,
        };
        match sl.get(false, |_| {
            unreachable!("semaphores have no static initialiser")
        }) {
            Ok(sem) => f(sem),
            Err(e) => e,
        }
    })
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
        match unsafe { slot::<_, Semaphore>(s) } {
            Ok(sl) => {
                sl.init(0, Semaphore::new(value as usize));
                0
            }
            Err(e) => e,
        }
    })
}

/// `sem_destroy`: `EINVAL` if destroyed or never initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_destroy(s: *mut sem_t) -> c_int {
    guard_errno("sem_destroy", libc::EINVAL, || {
        // SAFETY: the program's semaphore.
        match unsafe { slot::<_, Semaphore>(s) } {
            Ok(sl) => sl.destroy(|_| false),
            Err(e) => e,
        }
    })
}

/// `sem_wait`: takes a permit, blocking the calling ULT until one is
/// posted.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_wait(s: *mut sem_t) -> c_int {
    with_sem("sem_wait", s, |sem| {
        sem.acquire().forget();
        0
    })
}

/// `sem_trywait`: `EAGAIN` if no permit is free.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_trywait(s: *mut sem_t) -> c_int {
    with_sem("sem_trywait", s, |sem| match sem.try_acquire() {
        Some(p) => {
            p.forget();
            0
        }
        None => libc::EAGAIN,
    })
}

/// `sem_timedwait`: as wait, until `abstime` (`CLOCK_REALTIME`);
/// `ETIMEDOUT` then, `EINVAL` for a bad `abstime` when it would block.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_timedwait(s: *mut sem_t, abstime: *const timespec) -> c_int {
    with_sem("sem_timedwait", s, |sem| {
        if let Some(p) = sem.try_acquire() {
            p.forget();
            return 0;
        }
        let until = match deadline(Clock::Realtime, abstime) {
            Ok(d) => d,
            Err(e) => return e,
        };
        match sem.acquire_timeout(until.saturating_duration_since(Instant::now())) {
            Some(p) => {
                p.forget();
                0
            }
            None => libc::ETIMEDOUT,
        }
    })
}

/// `sem_post`: gives a permit back; `EOVERFLOW` at `SEM_VALUE_MAX`.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_post(s: *mut sem_t) -> c_int {
    with_sem("sem_post", s, |sem| {
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
    with_sem("sem_getvalue", s, |sem| {
        if value.is_null() {
            return libc::EINVAL;
        }
        let v = c_int::try_from(sem.available_permits()).unwrap_or(c_int::MAX);
        // SAFETY: non-null; the program's int.
        unsafe { value.write(v) };
        0
    })
}

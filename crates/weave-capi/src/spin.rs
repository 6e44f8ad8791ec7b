//! `pthread_spinlock_t`: a test-and-set lock in the program's `int`.
//!
//! Owns the spin policy: on M:N the holder may be a ULT waiting for the
//! spinner's own LWP, so a spinner busy-waits only briefly
//! ([`SPINS_BEFORE_YIELD`]) and then yields to the other ULTs of its LWP
//! at each further try.
//!
//! | value | meaning |
//! |-------|---------|
//! | `UNLOCKED` | initialised, free |
//! | `LOCKED` | held |
//! | anything else (0 after destroy) | `EINVAL` |

use std::ffi::c_int;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use libc::pthread_spinlock_t;

/// "SPN": a magic value, so that an uninitialised lock is refused.
const UNLOCKED: c_int = 0x5350_4E00;
const LOCKED: c_int = UNLOCKED | 1;

/// Busy-wait rounds before a spinner starts yielding: about a
/// microsecond of `spin_loop` hints, long enough for a holder on another
/// LWP to finish a short critical section, short enough not to starve a
/// holder that shares the spinner's LWP.
const SPINS_BEFORE_YIELD: u32 = 100;

/// # Safety
///
/// `s` is null or the program's `pthread_spinlock_t` (an int).
unsafe fn word<'a>(s: *const pthread_spinlock_t) -> Result<&'a AtomicI32, c_int> {
    if s.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller's contract; an int is an AtomicI32 in memory.
    Ok(unsafe { AtomicI32::from_ptr(s.cast_mut()) })
}

/// `pthread_spin_init`: unlocked. `PTHREAD_PROCESS_SHARED` is `ENOTSUP`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_init(
    s: *mut pthread_spinlock_t,
    pshared: c_int,
) -> c_int {
    if let Err(e) = crate::mutex::pshared_ok::<()>(pshared) {
        return e;
    }
    // SAFETY: the program's spinlock.
    match unsafe { word(s) } {
        Ok(w) => {
            w.store(UNLOCKED, Relaxed);
            0
        }
        Err(e) => e,
    }
}

/// `pthread_spin_destroy`: `EBUSY` while held, `EINVAL` if not initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_destroy(s: *mut pthread_spinlock_t) -> c_int {
    // SAFETY: the program's spinlock.
    match unsafe { word(s) } {
        Ok(w) => match w.compare_exchange(UNLOCKED, 0, Relaxed, Relaxed) {
            Ok(_) => 0,
            Err(LOCKED) => libc::EBUSY,
            Err(_) => libc::EINVAL,
        },
        Err(e) => e,
    }
}

fn try_take(w: &AtomicI32) -> Result<(), c_int> {
    // Acquire: pairs with the Release store in unlock.
    match w.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed) {
        Ok(_) => Ok(()),
        Err(LOCKED) => Err(libc::EBUSY),
        Err(_) => Err(libc::EINVAL),
    }
}

/// `pthread_spin_lock`: spins, then yields between tries (module doc).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_lock(s: *mut pthread_spinlock_t) -> c_int {
    // SAFETY: the program's spinlock.
    let w = match unsafe { word(s) } {
        Ok(w) => w,
        Err(e) => return e,
    };
    let mut spins = 0;
    loop {
        match try_take(w) {
            Ok(()) => return 0,
            Err(libc::EBUSY) => {}
            Err(e) => return e,
        }
        while w.load(Relaxed) == LOCKED {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                weave_rt::thread::yield_now();
            }
        }
    }
}

/// `pthread_spin_trylock`: `EBUSY` if held.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_trylock(s: *mut pthread_spinlock_t) -> c_int {
    // SAFETY: the program's spinlock.
    match unsafe { word(s) } {
        Ok(w) => try_take(w).err().unwrap_or(0),
        Err(e) => e,
    }
}

/// `pthread_spin_unlock`: `EPERM` if not held, `EINVAL` if not initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_unlock(s: *mut pthread_spinlock_t) -> c_int {
    // SAFETY: the program's spinlock.
    match unsafe { word(s) } {
        // Release: pairs with the Acquire in `try_take`.
        Ok(w) => match w.compare_exchange(LOCKED, UNLOCKED, Release, Relaxed) {
            Ok(_) => 0,
            Err(UNLOCKED) => libc::EPERM,
            Err(_) => libc::EINVAL,
        },
        Err(e) => e,
    }
}

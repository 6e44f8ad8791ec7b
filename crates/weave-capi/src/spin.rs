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
//! | 0 | zeroed memory, never initialised: free, as `UNLOCKED` |
//! | `LOCKED` | held |
//! | `DESTROYED` | after `pthread_spin_destroy`: `EINVAL` |
//! | anything else | `EINVAL` |
//!
//! Zeroed memory is a free lock, as in glibc's generic spinlock (aarch64
//! and most targets; on x86-64 glibc's zeroed lock reads as held, and a
//! lock on it never returns). POSIX leaves using a lock that was not
//! initialised undefined; a program that `memset`s a struct and forgets
//! the init gets the lock it meant, where an `EINVAL` that it does not
//! check would leave its critical sections unguarded. A destroyed lock
//! holds `DESTROYED`, not 0, so a use after destroy is still `EINVAL`.

use std::ffi::c_int;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use libc::pthread_spinlock_t;

/// "SPN": a magic value, so that an uninitialised lock is refused.
const UNLOCKED: c_int = 0x5350_4E00;
const LOCKED: c_int = UNLOCKED | 1;
/// Written by `pthread_spin_destroy`.
const DESTROYED: c_int = UNLOCKED | 0xDD;
/// Zeroed memory (module doc): free.
const ZEROED: c_int = 0;

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

/// `pthread_spin_destroy`: `EBUSY` while held, `EINVAL` if destroyed or
/// not a lock (zeroed memory is a free lock: module doc).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_destroy(s: *mut pthread_spinlock_t) -> c_int {
    // SAFETY: the program's spinlock.
    match unsafe { word(s) } {
        Ok(w) => {
            let mut seen = w.load(Relaxed);
            loop {
                if seen == LOCKED {
                    return libc::EBUSY;
                }
                if seen != UNLOCKED && seen != ZEROED {
                    return libc::EINVAL;
                }
                match w.compare_exchange(seen, DESTROYED, Relaxed, Relaxed) {
                    Ok(_) => return 0,
                    Err(now) => seen = now,
                }
            }
        }
        Err(e) => e,
    }
}

fn try_take(w: &AtomicI32) -> Result<(), c_int> {
    // Acquire: pairs with the Release store in unlock.
    match w.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed) {
        Ok(_) => Ok(()),
        Err(LOCKED) => Err(libc::EBUSY),
        // Zeroed memory: a free lock (module doc). Acquire as above (a
        // zeroed lock has had no unlock to pair with, but costs nothing).
        Err(ZEROED) => match w.compare_exchange(ZEROED, LOCKED, Acquire, Relaxed) {
            Ok(_) => Ok(()),
            Err(LOCKED) => Err(libc::EBUSY),
            // Unlocked meanwhile by a holder that took it from zero: try
            // the ordinary way once more.
            Err(UNLOCKED) => try_take(w),
            Err(_) => Err(libc::EINVAL),
        },
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

/// `pthread_spin_unlock`: `EPERM` if not held (zeroed memory included),
/// `EINVAL` if destroyed or not a lock.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_spin_unlock(s: *mut pthread_spinlock_t) -> c_int {
    // SAFETY: the program's spinlock.
    match unsafe { word(s) } {
        // Release: pairs with the Acquire in `try_take`.
        Ok(w) => match w.compare_exchange(LOCKED, UNLOCKED, Release, Relaxed) {
            Ok(_) => 0,
            Err(UNLOCKED | ZEROED) => libc::EPERM,
            Err(_) => libc::EINVAL,
        },
        Err(e) => e,
    }
}

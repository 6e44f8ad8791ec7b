//! Named semaphores: the system's (`sem_open`, shared memory), told apart
//! from weave's unnamed ones so that `sem_wait` and friends, which the
//! header renames, hand them to the system.
//!
//! Owns the set of semaphores `sem_open` returned and not yet closed. A
//! named semaphore's storage is the system's (shared with other
//! processes), so weave cannot mark it: the set is consulted only when a
//! `sem_t` is not one of weave's (its slot is not initialised), which
//! keeps the unnamed semaphores' calls free of it. A wait on a named
//! semaphore runs on weave's blocking pool: only the ULT waits (it is not
//! a cancellation point). It must not touch weave's semaphores.

use std::collections::HashSet;
use std::ffi::c_int;
use std::sync::LazyLock;

use libc::{sem_t, timespec};
use weave_rt::sync::Mutex;

static NAMED: LazyLock<Mutex<HashSet<usize>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

extern "C" {
    // glibc 2.30 and later; not in the libc crate.
    fn sem_clockwait(s: *mut sem_t, clock: libc::clockid_t, abstime: *const timespec) -> c_int;
}

/// What the header's `sem_open` wraps the system's with: records the
/// semaphore it returned (unless `SEM_FAILED`) and returns it.
#[no_mangle]
pub extern "C" fn weave_sem_opened(s: *mut sem_t) -> *mut sem_t {
    if s != libc::SEM_FAILED {
        NAMED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s as usize);
    }
    s
}

/// `sem_close`: the system's, after forgetting the semaphore.
#[no_mangle]
pub unsafe extern "C" fn weave_sem_close(s: *mut sem_t) -> c_int {
    NAMED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(s as usize));
    // SAFETY: the program's semaphore, as it passed it.
    unsafe { libc::sem_close(s) }
}

/// Whether `s` is a named semaphore the program opened.
pub(crate) fn is_named(s: *mut sem_t) -> bool {
    NAMED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&(s as usize))
}

/// The error number of a system call's result (0 on success).
fn code(r: c_int) -> c_int {
    if r == 0 {
        0
    } else {
        // SAFETY: the calling thread's errno slot.
        unsafe { *libc::__errno_location() }
    }
}

/// Runs a semaphore call that may wait on weave's blocking pool; its
/// error number (errno read on the pool's thread, where the call ran).
fn on_pool(f: impl FnOnce() -> c_int + Send) -> c_int {
    weave_rt::blocking(move || code(f()))
}

/// A named semaphore's operation, as the system does it.
pub(crate) enum Op {
    Wait,
    TryWait,
    TimedWait(libc::clockid_t, *const timespec),
    Post,
    GetValue(*mut c_int),
}

/// Does `op` on the named semaphore `s`: its error number.
pub(crate) fn call(s: *mut sem_t, op: Op) -> c_int {
    // The pointers cross to the pool's thread as numbers.
    let (sp, addr) = (s as usize, |p: usize| p as *mut sem_t);
    match op {
        // SAFETY: a semaphore `sem_open` returned that the program has not
        // closed (it is in the set).
        Op::Wait => on_pool(move || unsafe { libc::sem_wait(addr(sp)) }),
        // SAFETY: as above.
        Op::TryWait => code(unsafe { libc::sem_trywait(s) }),
        Op::TimedWait(clock, at) => {
            let at = at as usize;
            // SAFETY: as above; `at` is the program's timespec, which it
            // keeps while the call runs (the ULT waits for it).
            on_pool(move || unsafe {
                let at = at as *const timespec;
                if clock == libc::CLOCK_REALTIME {
                    libc::sem_timedwait(addr(sp), at)
                } else {
                    sem_clockwait(addr(sp), clock, at)
                }
            })
        }
        // SAFETY: as for `Wait`.
        Op::Post => code(unsafe { libc::sem_post(s) }),
        // SAFETY: as for `Wait`; `v` is the program's int.
        Op::GetValue(v) => code(unsafe { libc::sem_getvalue(s, v) }),
    }
}

//! Named semaphores: the system's (`sem_open`, shared memory), told apart
//! from weave's unnamed ones so that `sem_wait` and friends, which the
//! header renames, hand them to the system.
//!
//! Owns the set of semaphores `sem_open` returned and not yet closed. A
//! named semaphore's storage is the system's (shared with other
//! processes), so weave cannot mark it: the set is consulted only when a
//! `sem_t` is not one of weave's (its slot is not initialised), which
//! keeps the unnamed semaphores' calls free of it. A wait on a named
//! semaphore runs on weave's blocking pool, in slices: only
//! the ULT waits, and between slices it looks for a cancellation request,
//! so `sem_wait` and `sem_timedwait` are cancellation points here too
//! (acted on within a slice, `SLICE_NS`). It must not touch weave's semaphores.

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
    let sp = s as usize;
    match op {
        // SAFETY: a semaphore `sem_open` returned that the program has not
        // closed (it is in the set).
        Op::Wait => wait_sliced(sp, libc::CLOCK_REALTIME, None),
        // SAFETY: as above.
        Op::TryWait => code(unsafe { libc::sem_trywait(s) }),
        Op::TimedWait(clock, at) => {
            // SAFETY: null or the program's timespec.
            match unsafe { at.as_ref() } {
                Some(at) if (0..1_000_000_000).contains(&at.tv_nsec) => {
                    wait_sliced(sp, clock, Some(*at))
                }
                _ => libc::EINVAL,
            }
        }
        // SAFETY: as for `Wait`.
        Op::Post => code(unsafe { libc::sem_post(s) }),
        // SAFETY: as for `Wait`; `v` is the program's int.
        Op::GetValue(v) => code(unsafe { libc::sem_getvalue(s, v) }),
    }
}

/// How long one wait on the pool lasts before the ULT looks for a
/// cancellation request: the longest a request waits to be acted on; each
/// slice costs a hand-off to the pool and back, so 50 ms makes that cost
/// nothing next to the wait.
const SLICE_NS: i64 = 50_000_000;

/// Waits for a permit of the named semaphore at `sp` on the pool, until
/// `until` on `clock` if given, in slices of `SLICE_NS`, as a
/// cancellation point: 0, the system's error number (`ETIMEDOUT` at
/// `until`), or `cancel::ACT` for a request to act on (no permit taken).
fn wait_sliced(sp: usize, clock: libc::clockid_t, until: Option<timespec>) -> c_int {
    loop {
        if crate::cancel::due() {
            return crate::cancel::ACT;
        }
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a clock the caller checked, and a timespec to write.
        unsafe { libc::clock_gettime(clock, &mut now) };
        let mut slice_end = now;
        slice_end.tv_nsec += SLICE_NS;
        if slice_end.tv_nsec >= 1_000_000_000 {
            slice_end.tv_sec += 1;
            slice_end.tv_nsec -= 1_000_000_000;
        }
        let (end, last) = match until {
            Some(u) if (u.tv_sec, u.tv_nsec) <= (slice_end.tv_sec, slice_end.tv_nsec) => (u, true),
            _ => (slice_end, false),
        };
        let (end_s, end_ns) = (end.tv_sec, end.tv_nsec);
        let r = on_pool(move || {
            let end = timespec {
                tv_sec: end_s,
                tv_nsec: end_ns,
            };
            // SAFETY: a semaphore `sem_open` returned that the program has
            // not closed (it is in the set); the ULT waits for the call.
            unsafe { sem_clockwait(sp as *mut sem_t, clock, &end) }
        });
        if r != libc::ETIMEDOUT || last {
            return r;
        }
    }
}

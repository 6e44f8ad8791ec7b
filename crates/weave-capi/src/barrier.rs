//! `pthread_barrier_t` and `pthread_barrierattr_t` over
//! `weave::sync::Barrier`. Owns the conversion and the count of arrivals
//! that tells `pthread_barrier_destroy` a round is under way (`EBUSY`, as
//! POSIX allows: the waiters of a destroyed barrier would wait forever);
//! there is no static initialiser, so an object `pthread_barrier_init`
//! did not make is `EINVAL`.

use std::ffi::{c_int, c_uint};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::Arc;

use libc::{pthread_barrier_t, pthread_barrierattr_t};
use weave_rt::sync::Barrier;

use crate::guard;
use crate::object::{slot, Slot};
use crate::word_attr::WordAttr;

/// glibc's `PTHREAD_BARRIER_SERIAL_THREAD`.
const SERIAL_THREAD: c_int = -1;

struct CBarrier {
    bar: Barrier,
    count: usize,
    /// Every thread that has entered a wait, counted as it enters: a
    /// round is under way while this is not a multiple of `count`. A
    /// round that has let its threads go is over even if some have not
    /// left yet, so the barrier may be destroyed then (POSIX).
    arrived: AtomicUsize,
}

impl CBarrier {
    fn in_use(&self) -> bool {
        // Acquire: pairs with the AcqRel add of each arrival.
        self.arrived.load(Acquire) % self.count != 0
    }
}

/// `pthread_barrier_init`: a barrier for `count` threads; `EINVAL` for a
/// count of 0 or an uninitialised `attr`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrier_init(
    b: *mut pthread_barrier_t,
    attr: *const pthread_barrierattr_t,
    count: c_uint,
) -> c_int {
    guard("pthread_barrier_init", libc::ENOMEM, || {
        // SAFETY: null or the program's barrierattr.
        if count == 0 || (!attr.is_null() && !unsafe { BARRIERATTR.ok(attr) }) {
            return libc::EINVAL;
        }
        // SAFETY: the program's barrier.
        match unsafe { slot::<_, Arc<CBarrier>>(b) } {
            Ok(s) => {
                let count = count as usize;
                s.init(
                    0,
                    Arc::new(CBarrier {
                        bar: Barrier::new(count),
                        count,
                        arrived: AtomicUsize::new(0),
                    }),
                );
                0
            }
            Err(e) => e,
        }
    })
}

/// `pthread_barrier_destroy`: `EBUSY` while threads wait in an
/// unfinished round, `EINVAL` if destroyed or never initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrier_destroy(b: *mut pthread_barrier_t) -> c_int {
    guard("pthread_barrier_destroy", libc::EINVAL, || {
        // SAFETY: the program's barrier.
        match unsafe { slot::<_, Arc<CBarrier>>(b) } {
            Ok(s) => s.destroy(|cb| cb.in_use()),
            Err(e) => e,
        }
    })
}

/// `pthread_barrier_wait`: blocks the calling ULT until `count` threads
/// have arrived; one of them gets `PTHREAD_BARRIER_SERIAL_THREAD`, the
/// others 0.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrier_wait(b: *mut pthread_barrier_t) -> c_int {
    guard("pthread_barrier_wait", libc::EINVAL, || {
        // SAFETY: the program's barrier.
        let s: &Slot<Arc<CBarrier>> = match unsafe { slot(b) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        match s.get(false, |_| {
            unreachable!("barriers have no static initialiser")
        }) {
            // A reference of its own while it waits: the thread that is
            // let through first may destroy (and free) the barrier while
            // the others are still leaving their wait.
            Ok(cb) => {
                let cb = Arc::clone(cb);
                cb.arrived.fetch_add(1, AcqRel);
                if cb.bar.wait().is_leader() {
                    SERIAL_THREAD
                } else {
                    0
                }
            }
            Err(e) => e,
        }
    })
}

/// `pthread_barrierattr_t`: initialised, process-private; nothing else.
const BARRIERATTR: WordAttr = WordAttr(0xA8 << 24);

/// `pthread_barrierattr_init`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrierattr_init(a: *mut pthread_barrierattr_t) -> c_int {
    // SAFETY: the program's attribute object.
    unsafe { BARRIERATTR.init(a) }
}

/// `pthread_barrierattr_destroy`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrierattr_destroy(a: *mut pthread_barrierattr_t) -> c_int {
    // SAFETY: the program's attribute object.
    unsafe { BARRIERATTR.destroy(a) }
}

/// `pthread_barrierattr_setpshared`: `PTHREAD_PROCESS_SHARED` is `ENOTSUP`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrierattr_setpshared(
    a: *mut pthread_barrierattr_t,
    pshared: c_int,
) -> c_int {
    // SAFETY: the program's attribute object.
    unsafe { BARRIERATTR.set_pshared(a, pshared) }
}

/// `pthread_barrierattr_getpshared`: always `PTHREAD_PROCESS_PRIVATE`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrierattr_getpshared(
    a: *const pthread_barrierattr_t,
    pshared: *mut c_int,
) -> c_int {
    // SAFETY: the program's attribute object and int.
    unsafe { BARRIERATTR.get_pshared(a, pshared) }
}

//! `pthread_barrier_t` and `pthread_barrierattr_t` over
//! `weave::sync::Barrier`. Owns only the conversion; there is no static
//! initialiser, so an object `pthread_barrier_init` did not make is
//! `EINVAL`.

use std::ffi::{c_int, c_uint};
use std::sync::Arc;

use libc::{pthread_barrier_t, pthread_barrierattr_t};
use weave_rt::sync::Barrier;

use crate::guard;
use crate::object::{slot, Slot};
use crate::word_attr::WordAttr;

/// glibc's `PTHREAD_BARRIER_SERIAL_THREAD`.
const SERIAL_THREAD: c_int = -1;

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
        match unsafe { slot::<_, Arc<Barrier>>(b) } {
            Ok(s) => {
                s.init(0, Arc::new(Barrier::new(count as usize)));
                0
            }
            Err(e) => e,
        }
    })
}

/// `pthread_barrier_destroy`: `EINVAL` if destroyed or never initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_barrier_destroy(b: *mut pthread_barrier_t) -> c_int {
    guard("pthread_barrier_destroy", libc::EINVAL, || {
        // SAFETY: the program's barrier.
        match unsafe { slot::<_, Arc<Barrier>>(b) } {
            Ok(s) => s.destroy(|_| false),
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
        let s: &Slot<Arc<Barrier>> = match unsafe { slot(b) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        match s.get(false, |_| {
            unreachable!("barriers have no static initialiser")
        }) {
            // A reference of its own while it waits: the thread that is
            // let through first may destroy (and free) the barrier while
            // the others are still leaving their wait.
            Ok(bar) if Arc::clone(bar).wait().is_leader() => SERIAL_THREAD,
            Ok(_) => 0,
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

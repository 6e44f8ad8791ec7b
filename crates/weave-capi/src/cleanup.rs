//! Cleanup handlers: `pthread_cleanup_push` / `pthread_cleanup_pop` as
//! macros (in `weave/pthread.h`) over weave's own cleanup records.
//!
//! Owns the per-thread stack of records. A record lives in the C frame
//! that pushed it (the macros declare it there), so the list is a chain
//! of pointers into the thread's stack, newest first. `pthread_exit` runs
//! the handlers still pushed, newest first, while those frames are still
//! intact, before it leaves them (see `thread`'s module doc).

use std::cell::Cell;
use std::ffi::{c_int, c_void};

/// One cleanup handler, declared by `pthread_cleanup_push` in the
/// caller's frame. Its fields are weave's; C code does not touch them.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct weave_cleanup_record {
    /// The handler.
    pub routine: Option<extern "C" fn(*mut c_void)>,
    /// Its argument.
    pub arg: *mut c_void,
    /// The record pushed before this one, or NULL.
    pub prev: *mut weave_cleanup_record,
}

weave_rt::thread_local! {
    /// The newest record of the calling thread, or null.
    static TOP: Cell<*mut weave_cleanup_record> = const { Cell::new(std::ptr::null_mut()) };
}

/// Pushes `routine(arg)` as the calling thread's newest cleanup handler,
/// in the record `rec` (in the caller's frame). What
/// `pthread_cleanup_push` expands to.
#[no_mangle]
pub unsafe extern "C" fn weave_cleanup_push(
    rec: *mut weave_cleanup_record,
    routine: Option<extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
) {
    // A thread of the asynchronous cancel type may push: not stopped
    // half-way (`cancel`'s module doc).
    let armed = crate::cancel::enter_weave();
    // SAFETY: null or the record the macro declared in the caller's frame,
    // which stays alive until the matching pop (POSIX: same scope).
    if let Some(r) = unsafe { rec.as_mut() } {
        r.routine = routine;
        r.arg = arg;
        r.prev = TOP.get();
        TOP.set(rec);
    }
    if armed {
        crate::cancel::leave_weave();
    }
}

/// Pops the record `rec` and, if `execute` is non-zero, runs its handler.
/// What `pthread_cleanup_pop` expands to.
#[no_mangle]
pub unsafe extern "C" fn weave_cleanup_pop(rec: *mut weave_cleanup_record, execute: c_int) {
    // SAFETY: null or the record of the matching push, still in the
    // caller's frame.
    let Some(r) = (unsafe { rec.as_ref() }) else {
        return;
    };
    let armed = crate::cancel::enter_weave();
    if TOP.get() == rec {
        TOP.set(r.prev);
    }
    // Armed again before the handler, the program's code, runs.
    if armed {
        crate::cancel::leave_weave();
    }
    if execute != 0 {
        if let Some(f) = r.routine {
            f(r.arg);
        }
    }
}

/// Runs and pops every handler the calling thread still has pushed,
/// newest first: `pthread_exit`, before it leaves the frames.
pub(crate) fn run_all() {
    loop {
        let rec = TOP.get();
        // SAFETY: every record on the chain is in a frame of this thread
        // that has not returned (push/pop pair within one scope), and
        // pthread_exit has not left any frame yet.
        let Some(r) = (unsafe { rec.as_ref() }) else {
            return;
        };
        TOP.set(r.prev);
        if let Some(f) = r.routine {
            f(r.arg);
        }
    }
}

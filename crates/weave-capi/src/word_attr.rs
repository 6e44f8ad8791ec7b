//! Attribute objects whose only state is "initialised" (and
//! process-private): `pthread_rwlockattr_t` and `pthread_barrierattr_t`.
//! Owns their encoding: a magic value in the object's first `int`, one
//! per type, so that an uninitialised or destroyed object is `EINVAL`.

use std::ffi::c_int;

/// The encoding of one attribute type: its magic value.
#[derive(Clone, Copy)]
pub(crate) struct WordAttr(pub(crate) u32);

impl WordAttr {
    /// Whether `a` is an initialised object of this type.
    ///
    /// # Safety
    ///
    /// `a` is null or the program's attribute object (at least an `int`).
    pub(crate) unsafe fn ok<T>(self, a: *const T) -> bool {
        // SAFETY: the caller's contract.
        !a.is_null() && unsafe { a.cast::<u32>().read() } == self.0
    }

    /// `*attr_init`.
    ///
    /// # Safety
    ///
    /// As [`ok`](Self::ok).
    pub(crate) unsafe fn init<T>(self, a: *mut T) -> c_int {
        if a.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: non-null; the caller's contract.
        unsafe { a.cast::<u32>().write(self.0) };
        0
    }

    /// `*attr_destroy`: further use is `EINVAL`.
    ///
    /// # Safety
    ///
    /// As [`ok`](Self::ok).
    pub(crate) unsafe fn destroy<T>(self, a: *mut T) -> c_int {
        // SAFETY: the caller's contract.
        if !unsafe { self.ok(a) } {
            return libc::EINVAL;
        }
        // SAFETY: checked non-null by `ok`.
        unsafe { a.cast::<u32>().write(0) };
        0
    }

    /// `*attr_setpshared`: `PTHREAD_PROCESS_SHARED` is `ENOTSUP`.
    ///
    /// # Safety
    ///
    /// As [`ok`](Self::ok).
    pub(crate) unsafe fn set_pshared<T>(self, a: *mut T, pshared: c_int) -> c_int {
        // SAFETY: the caller's contract.
        if !unsafe { self.ok(a) } {
            return libc::EINVAL;
        }
        match crate::mutex::pshared_ok::<()>(pshared) {
            Ok(_) => 0,
            Err(e) => e,
        }
    }

    /// `*attr_getpshared`: always `PTHREAD_PROCESS_PRIVATE`.
    ///
    /// # Safety
    ///
    /// As [`ok`](Self::ok); `out` is null or the program's `int`.
    pub(crate) unsafe fn get_pshared<T>(self, a: *const T, out: *mut c_int) -> c_int {
        // SAFETY: the caller's contract.
        if out.is_null() || !unsafe { self.ok(a) } {
            return libc::EINVAL;
        }
        // SAFETY: non-null; the program's int.
        unsafe { out.write(libc::PTHREAD_PROCESS_PRIVATE) };
        0
    }
}

//! The C objects' storage: a weave object behind a pointer, kept inside
//! the bytes of the glibc type the program declares.
//!
//! Owns the layout of `pthread_mutex_t`, `pthread_cond_t`,
//! `pthread_rwlock_t`, `pthread_barrier_t` and `sem_t` as weave uses them,
//! and their lazy initialisation. It must not know what the objects do.
//!
//! A program's objects keep glibc's size and alignment (the compat header
//! includes the system headers first), so that existing code compiles and
//! `PTHREAD_MUTEX_INITIALIZER` and friends still work:
//!
//! ```text
//!  offset 0        4          8                  16        (rest unused)
//!  +---------------+----------+------------------+---------+---------
//!  | glibc's first | state    | pointer to the   | kind    |
//!  | word (unused) | (below)  | boxed weave obj. | (glibc's __kind)
//!  +---------------+----------+------------------+---------+---------
//! ```
//!
//! | state     | meaning | who sets it |
//! |-----------|---------|-------------|
//! | 0         | static initialiser (all glibc initialisers have 0 here): unlocked, created on first use | the program |
//! | `BUSY`    | one thread is creating the object | the first user, by CAS from 0 |
//! | `READY`   | the pointer is valid | `init`, or the first user |
//! | `DEAD`    | destroyed: every call but `init` is `EINVAL` | `destroy` |
//! | any other | never initialised: `EINVAL` | garbage |
//!
//! The kind word sits where glibc keeps a mutex's kind, so glibc's
//! `PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP` and
//! `PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP` give those kinds.

use std::ffi::c_int;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32};

const STATIC: u32 = 0;
const BUSY: u32 = 1;
/// "WVRD": the pointer is valid. A magic value, so that an uninitialised
/// object is very unlikely to pass for an initialised one.
const READY: u32 = 0x5756_5244;
/// "WVDD": destroyed.
const DEAD: u32 = 0x5756_4444;

/// The prefix of a C object's storage that weave uses (module doc).
#[repr(C)]
pub(crate) struct Slot<T> {
    _glibc_word: u32,
    state: AtomicU32,
    ptr: AtomicPtr<T>,
    kind: AtomicI32,
}

// Every C type that holds a Slot is at least this large and 8-aligned.
const _: () = {
    use std::mem::{align_of, size_of};
    assert!(size_of::<Slot<()>>() <= size_of::<libc::pthread_mutex_t>());
    assert!(size_of::<Slot<()>>() <= size_of::<libc::pthread_cond_t>());
    assert!(size_of::<Slot<()>>() <= size_of::<libc::pthread_rwlock_t>());
    assert!(size_of::<Slot<()>>() <= size_of::<libc::pthread_barrier_t>());
    assert!(size_of::<Slot<()>>() <= size_of::<libc::sem_t>());
    assert!(align_of::<Slot<()>>() <= align_of::<libc::pthread_mutex_t>());
    assert!(align_of::<Slot<()>>() <= align_of::<libc::pthread_cond_t>());
    assert!(align_of::<Slot<()>>() <= align_of::<libc::pthread_rwlock_t>());
    assert!(align_of::<Slot<()>>() <= align_of::<libc::pthread_barrier_t>());
    assert!(align_of::<Slot<()>>() <= align_of::<libc::sem_t>());
};

/// The slot inside a C object, or `EINVAL` for a null pointer.
///
/// # Safety
///
/// `p`, if not null, points to a live C object of a type at least as large
/// and aligned as `Slot` (checked above for the types used), which the
/// program does not free while the returned reference is used.
pub(crate) unsafe fn slot<'a, C, T>(p: *const C) -> Result<&'a Slot<T>, c_int> {
    // SAFETY: the caller's contract; the fields are atomics or read only
    // under the state protocol, so a shared reference is sound.
    unsafe { p.cast::<Slot<T>>().as_ref() }.ok_or(libc::EINVAL)
}

impl<T> Slot<T> {
    /// The object, created on first use if the storage holds a static
    /// initialiser and `lazy` allows it (`make` gets the kind word).
    #[inline]
    pub(crate) fn get(&self, lazy: bool, make: impl FnOnce(c_int) -> T) -> Result<&T, c_int> {
        // Acquire: pairs with the Release store of READY in `publish`, so
        // the pointer and the object behind it are visible.
        let state = self.state.load(Acquire);
        if state == READY {
            return Ok(self.object());
        }
        self.get_unready(state, lazy, make)
    }

    #[cold]
    fn get_unready(
        &self,
        state: u32,
        lazy: bool,
        make: impl FnOnce(c_int) -> T,
    ) -> Result<&T, c_int> {
        match state {
            STATIC | BUSY if lazy => self.get_slow(make),
            _ => Err(libc::EINVAL),
        }
    }

    fn get_slow(&self, make: impl FnOnce(c_int) -> T) -> Result<&T, c_int> {
        // Acquire on success or failure: as in `get`.
        match self.state.compare_exchange(STATIC, BUSY, Acquire, Acquire) {
            Ok(_) => {
                self.publish(make(self.kind.load(Relaxed)));
                Ok(self.object())
            }
            Err(_) => {
                // Another thread is creating it: wait (briefly) for READY.
                loop {
                    match self.state.load(Acquire) {
                        READY => return Ok(self.object()),
                        BUSY => weave_rt::thread::yield_now(),
                        _ => return Err(libc::EINVAL),
                    }
                }
            }
        }
    }

    fn object(&self) -> &T {
        // SAFETY: READY was seen with Acquire, so the pointer is a live box
        // (module doc); it is freed only by `destroy`, and using an object
        // while destroying it is undefined in POSIX.
        unsafe { &*self.ptr.load(Relaxed) }
    }

    fn publish(&self, value: T) {
        self.ptr.store(Box::into_raw(Box::new(value)), Relaxed);
        // Release: pairs with the Acquire loads in `get`.
        self.state.store(READY, Release);
    }

    /// `pthread_*_init`: a fresh object, whatever the storage held. An
    /// object initialised twice without a destroy in between is leaked,
    /// not freed: it may be in use (POSIX leaves this undefined).
    pub(crate) fn init(&self, kind: c_int, value: T) {
        // Relaxed: published by the Release store of READY below.
        self.kind.store(kind, Relaxed);
        self.publish(value);
    }

    /// `pthread_*_destroy`: `busy` says whether the object is in use
    /// (`EBUSY`). A never-used static initialiser is destroyed too.
    pub(crate) fn destroy(&self, busy: impl FnOnce(&T) -> bool) -> c_int {
        match self.state.load(Acquire) {
            READY => {
                if busy(self.object()) {
                    return libc::EBUSY;
                }
                // Acquire: pairs with `publish`'s Release; only one destroy
                // wins the transition and frees the box.
                if self
                    .state
                    .compare_exchange(READY, DEAD, Acquire, Relaxed)
                    .is_err()
                {
                    return libc::EINVAL;
                }
                let p = self.ptr.swap(std::ptr::null_mut(), Relaxed);
                // SAFETY: the box was made by `publish` and this thread won
                // the only READY -> DEAD transition.
                drop(unsafe { Box::from_raw(p) });
                0
            }
            STATIC => {
                // Relaxed: nothing is published with it.
                let _ = self.state.compare_exchange(STATIC, DEAD, Relaxed, Relaxed);
                0
            }
            _ => libc::EINVAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Storage of a C object's size, as the program would declare it.
    #[repr(C, align(8))]
    struct Storage([u8; 40]);

    fn slot_in(s: &Storage) -> &Slot<u32> {
        // SAFETY: `Storage` is as large and aligned as a Slot.
        unsafe { slot(std::ptr::from_ref(s)) }.unwrap()
    }

    #[test]
    fn zeroed_storage_is_created_on_first_use_with_its_kind() {
        let mut s = Storage([0; 40]);
        s.0[16] = 2; // glibc's kind word
        let sl = slot_in(&s);
        assert_eq!(sl.get(true, |k| k as u32 + 40), Ok(&42));
        // Created once: a second `make` is not called.
        assert_eq!(sl.get(true, |_| unreachable!()), Ok(&42));
        assert_eq!(sl.destroy(|_| false), 0);
    }

    #[test]
    fn zeroed_storage_is_einval_where_there_is_no_static_initialiser() {
        let s = Storage([0; 40]);
        assert_eq!(slot_in(&s).get(false, |_| 1), Err(libc::EINVAL));
    }

    #[test]
    fn destroyed_and_garbage_storage_is_einval() {
        let s = Storage([0; 40]);
        let sl = slot_in(&s);
        sl.init(0, 7);
        assert_eq!(sl.destroy(|v| *v == 8), 0);
        assert_eq!(sl.get(true, |_| 1), Err(libc::EINVAL));
        assert_eq!(sl.destroy(|_| false), libc::EINVAL);
        let junk = Storage([0xAB; 40]);
        assert_eq!(slot_in(&junk).get(true, |_| 1), Err(libc::EINVAL));
    }

    #[test]
    fn destroy_of_a_busy_object_is_ebusy_and_keeps_it() {
        let s = Storage([0; 40]);
        let sl = slot_in(&s);
        sl.init(0, 5);
        assert_eq!(sl.destroy(|_| true), libc::EBUSY);
        assert_eq!(sl.get(true, |_| 1), Ok(&5));
        assert_eq!(sl.destroy(|_| false), 0);
    }

    #[test]
    fn null_is_einval() {
        // SAFETY: null is allowed.
        let r = unsafe { slot::<Storage, u32>(std::ptr::null()) };
        assert_eq!(r.err(), Some(libc::EINVAL));
    }
}

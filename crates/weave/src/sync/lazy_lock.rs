//! [`LazyLock`]: a value computed on first access, as
//! [`std::sync::LazyLock`], on a weave [`Once`], so a thread that reaches
//! it while another computes it blocks its ULT, not its LWP.
//!
//! The cell holds either the initialiser or the value (a union), and the
//! `Once` says which: INCOMPLETE, the function; COMPLETE, the value;
//! POISONED, neither (the function was consumed by an initialiser that
//! panicked). This module owns that union and nothing else: all waiting
//! goes through [`Once`].

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::once::Once;

/// std's message for a poisoned `LazyLock`, word for word.
const POISONED_MSG: &str = "LazyLock instance has previously been poisoned";

union Data<T, F> {
    value: ManuallyDrop<T>,
    f: ManuallyDrop<F>,
}

/// A value computed by `F` the first time it is used, as
/// [`std::sync::LazyLock`]. Threads that use it while the first one
/// computes it block their ULT (not the LWP) until the value is there.
///
/// ```
/// use std::collections::HashMap;
/// use weave::sync::LazyLock;
///
/// static TABLE: LazyLock<HashMap<u32, &str>> =
///     LazyLock::new(|| HashMap::from([(1, "one"), (2, "two")]));
///
/// let h = weave::thread::spawn(|| TABLE[&2]);
/// assert_eq!(h.join().unwrap(), "two");
/// assert_eq!(TABLE.len(), 2);
/// ```
///
/// If the initialiser panics the `LazyLock` is poisoned, as std's: that
/// use and every later one (and those that were waiting) panic with
/// "LazyLock instance has previously been poisoned".
pub struct LazyLock<T, F = fn() -> T> {
    once: Once,
    data: UnsafeCell<Data<T, F>>,
}

// SAFETY: the function is taken and run by the one thread that wins
// `once` (so `F: Send`: it may run on another thread than the creator's),
// and the value it makes is then shared by reference (`T: Sync`) and may
// be dropped on any thread (`T: Send`); as std.
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}

// As std: a panic in the initialiser poisons the cell, so nobody sees a
// half-made value across `catch_unwind`.
impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value that `f` will compute on first use; usable in a
    /// `static`.
    #[inline]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            once: Once::new(),
            data: UnsafeCell::new(Data {
                f: ManuallyDrop::new(f),
            }),
        }
    }

    /// The value, computing it first if nobody has; blocks (the ULT only)
    /// while another thread computes it. The same as `*this`.
    ///
    /// # Panics
    ///
    /// If the initialiser panics, or an earlier one did (poisoned).
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.once.call_once_force(|state| {
            if state.is_poisoned() {
                panic!("{POISONED_MSG}");
            }
            // SAFETY: we are the one thread inside the `Once`, and it was
            // not complete nor poisoned, so `data` holds the function and
            // nobody else touches `data` until the `Once` completes.
            let data = unsafe { &mut *this.data.get() };
            // SAFETY: the function is there (as above) and is taken once:
            // if it panics the `Once` is poisoned, and nothing reads or
            // drops `f` again.
            let f = unsafe { ManuallyDrop::take(&mut data.f) };
            data.value = ManuallyDrop::new(f());
        });
        // SAFETY: `call_once_force` returned, so the `Once` is complete
        // and the value was written before (its Release/Acquire).
        unsafe { &(*this.data.get()).value }
    }

    /// The value through a unique borrow, computing it first if needed;
    /// no waiting is possible. The same as `&mut *this`.
    ///
    /// # Panics
    ///
    /// If the initialiser panics, or an earlier one did (poisoned).
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        if !this.once.is_completed() {
            if this.once.is_poisoned() {
                panic!("{POISONED_MSG}");
            }
            /// Poisons the cell if the initialiser unwinds.
            struct PoisonOnUnwind<'a>(&'a mut Once);
            impl Drop for PoisonOnUnwind<'_> {
                fn drop(&mut self) {
                    self.0.set_exclusive(false);
                }
            }
            let guard = PoisonOnUnwind(&mut this.once);
            let data = this.data.get_mut();
            // SAFETY: not complete, not poisoned: the function is there;
            // taken once (a panic poisons through `guard`).
            let f = unsafe { ManuallyDrop::take(&mut data.f) };
            data.value = ManuallyDrop::new(f());
            std::mem::forget(guard);
            this.once.set_exclusive(true);
        }
        // SAFETY: complete, so the value is there; `&mut` is unique.
        unsafe { &mut this.data.get_mut().value }
    }

    /// The value if it has been computed, without computing it.
    #[inline]
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        if this.once.is_completed() {
            // SAFETY: complete (Acquire in `is_completed`): the value is
            // there and no longer written.
            Some(unsafe { &(*this.data.get()).value })
        } else {
            None
        }
    }

    /// The value through a unique borrow if it has been computed, without
    /// computing it.
    #[inline]
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        if this.once.is_completed() {
            // SAFETY: complete: the value is there; `&mut` is unique.
            Some(unsafe { &mut this.data.get_mut().value })
        } else {
            None
        }
    }
}

impl<T, F> Drop for LazyLock<T, F> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: complete: the value is there, and this is its last use.
            unsafe { ManuallyDrop::drop(&mut self.data.get_mut().value) };
        } else if !self.once.is_poisoned() {
            // SAFETY: neither complete nor poisoned (and nobody can be
            // running it: we hold `&mut`): the function is still there.
            unsafe { ManuallyDrop::drop(&mut self.data.get_mut().f) };
        }
        // Poisoned: the function was consumed and no value was made.
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    /// [`LazyLock::force`].
    #[inline]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    /// [`LazyLock::force_mut`].
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// A lazy `T::default()`.
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        if self.once.is_completed() {
            // SAFETY: complete: the value is there and no longer written.
            d.field(unsafe { &*(*self.data.get()).value });
        } else {
            d.field(&format_args!("<uninit>"));
        }
        d.finish()
    }
}

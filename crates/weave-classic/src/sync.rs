//! The facade between the algorithms and the machine.
//!
//! Every shared word an algorithm reads or writes (the lock variable, `turn`,
//! Peterson's `interested` flags, the TSL word, the ticket counters) and every
//! yield of a spin loop comes from here, so that `--cfg loom` swaps in
//! `loom`'s checked versions and the model tests in `tests/loom_*.rs` explore
//! the interleavings of the real code rather than of a copy. This module owns
//! no logic: one `cfg` picks the backend, nothing below it branches on `loom`.
//!
//! [`UnsafeCell`] follows loom's shape (`get_mut` hands out a tracked pointer
//! that lives as long as the access), so that [`Lock`](crate::Lock) lets loom
//! see every access to the data it protects and report any access that is not
//! ordered after the previous owner's by happens-before.

#[cfg(loom)]
pub(crate) use loom::{
    cell::{MutPtr, UnsafeCell},
    sync::atomic::{AtomicBool, AtomicU32, AtomicU8},
    thread::yield_now,
    thread_local,
};

#[cfg(not(loom))]
pub(crate) use self::std_backend::{MutPtr, UnsafeCell};
#[cfg(not(loom))]
pub(crate) use std::{
    sync::atomic::{AtomicBool, AtomicU32, AtomicU8},
    thread::yield_now,
    thread_local,
};

/// Turns of a spin loop between two yields of [`OsThread`]'s relax hook.
///
/// Under loom every turn must yield: loom only lets another thread run, and
/// only hands a spinning load a newer value, after a yield, so a loop that
/// spins without one never ends in the model.
///
/// [`OsThread`]: crate::OsThread
#[cfg(loom)]
pub(crate) const SPINS_PER_YIELD: u32 = 1;

/// Turns of a spin loop between two yields of [`OsThread`]'s relax hook.
///
/// A `pause` costs about 10 to 140 cycles depending on the CPU, so 64 turns
/// are roughly 1 to 10 µs: long enough that an ordinary handover (the
/// releasing store reaching this core takes ~100 ns) is caught while
/// spinning, short enough that when the holder has been descheduled (more
/// threads than CPUs, as in the lab on a 2-core machine) the waiter gives its
/// CPU back within microseconds instead of burning a whole time slice.
///
/// [`OsThread`]: crate::OsThread
#[cfg(not(loom))]
pub(crate) const SPINS_PER_YIELD: u32 = 64;

#[cfg(not(loom))]
mod std_backend {
    //! `std::cell::UnsafeCell` dressed in loom's API, with no checking.

    /// A cell whose accesses go through [`MutPtr`], as with loom's.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) fn new(data: T) -> Self {
            Self(std::cell::UnsafeCell::new(data))
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Starts a mutable access that lasts as long as the returned pointer.
        pub(crate) fn get_mut(&self) -> MutPtr<T> {
            MutPtr(self.0.get())
        }

        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// A raw pointer into an [`UnsafeCell`]; loom's version also records
    /// that the cell is being accessed while it lives.
    #[derive(Debug)]
    pub(crate) struct MutPtr<T>(*mut T);

    impl<T> MutPtr<T> {
        pub(crate) fn with<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0)
        }
    }
}

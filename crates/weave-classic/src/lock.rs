//! [`Lock<L, T>`]: data guarded by one of the algorithms.
//!
//! This module owns the only `unsafe` of the crate: turning "at most one
//! guard exists" into `&mut T`. It relies on [`MutualExclusion`] and on
//! nothing else about the algorithm; the broken proposals (the lock variable,
//! disabling interrupts on OS threads, the textbook Peterson) do not
//! implement it and cannot guard data.
//!
//! Two-thread algorithms are reached only through [`Lock::split`], which
//! hands out exactly one [`SideLock`] per side, so two threads can never
//! enter as the same side.

use crate::critical_section::{CriticalSection, MutualExclusion, Side};
use crate::sync::{MutPtr, UnsafeCell};
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// A value of type `T` that only the holder of the lock `L` can reach.
///
/// ```
/// use weave_classic::{Lock, TicketLock};
///
/// let counter = Lock::new(TicketLock::new(), 0_u64);
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             for _ in 0..1_000 {
///                 *counter.lock() += 1;
///             }
///         });
///     }
/// });
/// assert_eq!(counter.into_inner(), 4_000);
/// ```
///
/// Only algorithms that implement [`MutualExclusion`] can guard data; the
/// lock variable cannot:
///
/// ```compile_fail
/// use weave_classic::{Lock, LockVariable};
///
/// let broken = Lock::new(LockVariable::new(), 0);
/// *broken.lock() += 1; // no `lock`: `LockVariable` is not `MutualExclusion`
/// ```
///
/// and a two-thread algorithm is entered only through [`split`](Lock::split),
/// never by any number of threads through `&self`:
///
/// ```compile_fail
/// use weave_classic::{Lock, Peterson};
///
/// let two = Lock::new(Peterson::new(), 0);
/// *two.lock() += 1; // no `lock`: Peterson's needs a side
/// ```
pub struct Lock<L, T> {
    raw: L,
    data: UnsafeCell<T>,
}

// SAFETY: sharing a `Lock` lets several threads reach `T` by `&mut` in turn,
// one at a time: `lock`/`split` exist only for `L: MutualExclusion`, which
// promises exclusion and happens-before between owners, so `T: Send` is all
// that is needed (as for `std::sync::Mutex`).
unsafe impl<L: CriticalSection, T: Send> Sync for Lock<L, T> {}

impl<L, T> Lock<L, T> {
    /// Puts `data` under the protection of `raw`.
    pub fn new(raw: L, data: T) -> Self {
        Self {
            raw,
            data: UnsafeCell::new(data),
        }
    }

    /// Gives the data back; no one else can hold the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Reaches the data without locking: `&mut self` proves no one else can.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard and every other access for
        // the returned lifetime, so the pointer is valid and unaliased.
        self.data.with_mut(|data| unsafe { &mut *data })
    }
}

impl<L: MutualExclusion<Id = ()>, T> Lock<L, T> {
    /// Busy-waits until the lock is free, then gives access to the data until
    /// the guard drops.
    pub fn lock(&self) -> LockGuard<'_, L, T> {
        let raw = self.raw.enter(());
        LockGuard::new(raw, &self.data)
    }

    /// Takes the lock if it is free now.
    pub fn try_lock(&self) -> Option<LockGuard<'_, L, T>> {
        let raw = self.raw.try_enter(())?;
        Some(LockGuard::new(raw, &self.data))
    }
}

impl<L: MutualExclusion<Id = Side>, T> Lock<L, T> {
    /// Hands out the two sides of a two-thread lock, one per thread.
    ///
    /// `&mut self` makes sure no other pair exists while these live, so at
    /// most one thread at a time can enter as each side.
    ///
    /// ```
    /// use weave_classic::{Lock, Peterson};
    ///
    /// let mut counter = Lock::new(Peterson::new(), 0_u64);
    /// let (mut zero, mut one) = counter.split();
    /// std::thread::scope(|s| {
    ///     s.spawn(move || (0..1_000).for_each(|_| *zero.lock() += 1));
    ///     s.spawn(move || (0..1_000).for_each(|_| *one.lock() += 1));
    /// });
    /// assert_eq!(counter.into_inner(), 2_000);
    /// ```
    pub fn split(&mut self) -> (SideLock<'_, L, T>, SideLock<'_, L, T>) {
        let lock: &Self = self;
        (
            SideLock {
                lock,
                side: Side::Zero,
            },
            SideLock {
                lock,
                side: Side::One,
            },
        )
    }
}

impl<L, T> fmt::Debug for Lock<L, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

/// One side of a two-thread [`Lock`], from [`Lock::split`].
///
/// Move it to the thread that plays this side; `lock` takes `&mut self`, so
/// the side is never entered twice at once.
pub struct SideLock<'a, L, T> {
    lock: &'a Lock<L, T>,
    side: Side,
}

impl<L: MutualExclusion<Id = Side>, T> SideLock<'_, L, T> {
    /// Which side this is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Busy-waits until this side may enter, then gives access to the data
    /// until the guard drops.
    pub fn lock(&mut self) -> LockGuard<'_, L, T> {
        let lock: &Lock<L, T> = self.lock;
        let raw = lock.raw.enter(self.side);
        LockGuard::new(raw, &lock.data)
    }

    /// Enters if this side may do so now.
    pub fn try_lock(&mut self) -> Option<LockGuard<'_, L, T>> {
        let lock: &Lock<L, T> = self.lock;
        let raw = lock.raw.try_enter(self.side)?;
        Some(LockGuard::new(raw, &lock.data))
    }
}

impl<L, T> fmt::Debug for SideLock<'_, L, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SideLock")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

/// Access to the data of a [`Lock`]; the critical region ends when it drops.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct LockGuard<'a, L: CriticalSection + 'a, T> {
    // Declared first so it drops first: under loom the access to the data is
    // recorded as ended before the exit protocol of `raw` runs.
    data: MutPtr<T>,
    _raw: L::Guard<'a>,
    _borrow: PhantomData<&'a mut T>,
}

impl<'a, L: MutualExclusion + 'a, T> LockGuard<'a, L, T> {
    fn new(raw: L::Guard<'a>, data: &'a UnsafeCell<T>) -> Self {
        Self {
            data: data.get_mut(),
            _raw: raw,
            _borrow: PhantomData,
        }
    }
}

impl<'a, L: CriticalSection + 'a, T> Deref for LockGuard<'a, L, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard was built from a `MutualExclusion` guard (see
        // `new`), so no other `LockGuard` of this lock exists, and the data
        // outlives `'a`; the shared borrow of `self` keeps `deref_mut` away.
        self.data.with(|data| unsafe { &*data })
    }
}

impl<'a, L: CriticalSection + 'a, T> DerefMut for LockGuard<'a, L, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, this guard is the only way to the data, and
        // `&mut self` makes this the only reference derived from it.
        self.data.with(|data| unsafe { &mut *data })
    }
}

impl<'a, L: CriticalSection + 'a, T: fmt::Debug> fmt::Debug for LockGuard<'a, L, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

//! The TSL instruction: test and set in one indivisible step.
//!
//! ```text
//! enter_region:
//!     TSL REGISTER,LOCK   | copy lock to register and set lock to 1
//!     CMP REGISTER,#0     | was lock zero?
//!     JNE enter_region    | if it was nonzero, lock was set, so loop
//!     RET                 | critical region entered
//! leave_region:
//!     MOVE LOCK,#0        | store a 0 in lock
//!     RET
//! ```
//!
//! This is the lock variable with its window closed: the read and the write
//! are one atomic instruction (`xchg` or `lock cmpxchg` on x86, which own the
//! cache line for their duration so no other core's access falls between
//! them; see `test_and_set` for why the code uses compare-and-swap). Mutual
//! exclusion and progress hold for any number of threads; bounded waiting
//! does not: which waiter's test-and-set lands first after a release is up to the hardware, and one
//! thread can lose every time (the lab's "overtakes" column shows how often).
//! Neither loom nor a real-thread test can show starvation in finite time,
//! so that column is the evidence.
//!
//! [`TslLock`] tests-and-sets in every turn of its loop. Every attempt takes
//! the cache line in exclusive mode, so waiters on several cores bounce it between
//! them and slow the holder down. [`TtasLock`] (test-and-test-and-set) waits
//! with plain loads, which share the line, and tests-and-sets only when the lock
//! looks free.

use crate::critical_section::{CriticalSection, MutualExclusion};
use crate::hooks::{OsThread, Relax};
use crate::sync::AtomicBool;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// The TSL lock: spin on an atomic test-and-set. Any number of threads.
pub struct TslLock<R = OsThread> {
    /// `true` while held.
    locked: AtomicBool,
    _relax: PhantomData<fn() -> R>,
}

/// Test-and-test-and-set: wait with loads, test-and-set when it looks free. Any
/// number of threads.
pub struct TtasLock<R = OsThread> {
    /// `true` while held.
    locked: AtomicBool,
    _relax: PhantomData<fn() -> R>,
}

/// Inside a [`TslLock`] or [`TtasLock`]; dropping it stores 0.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct TslGuard<'a> {
    locked: &'a AtomicBool,
}

impl Drop for TslGuard<'_> {
    fn drop(&mut self) {
        // Release pairs with the Acquire test-and-set of the next holder.
        self.locked.store(false, Release);
    }
}

impl fmt::Debug for TslGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TslGuard").finish_non_exhaustive()
    }
}

/// One TSL: sets the word and reports whether it was clear, i.e. whether
/// the caller now holds the lock.
///
/// The hardware TSL writes 1 whether it finds 0 or 1 (`swap(true)`).
/// Writing 1 over a 1 changes nothing another thread can observe, so a
/// compare-and-swap from 0 to 1 is the same test-and-set, and this is the
/// form loom can check: loom fixes the order of concurrent writes to one word
/// lazily, so a waiter that keeps writing 1 with `swap` may have each of its
/// writes ordered just before the holder's release, forever, and the model
/// never ends; a failed compare-and-swap writes nothing. On x86 both forms
/// are one locked instruction (`xchg`, `lock cmpxchg`) that takes the cache
/// line exclusively and writes it back even on failure, so [`TslLock`] still
/// hammers the line and [`TtasLock`] still spares it.
#[inline]
fn test_and_set(locked: &AtomicBool) -> bool {
    // Acquire pairs with the Release store in `TslGuard::drop`. Relaxed on
    // failure: a failed attempt enters nothing.
    locked
        .compare_exchange(false, true, Acquire, Relaxed)
        .is_ok()
}

impl TslLock {
    /// An unlocked TSL lock.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> Default for TslLock<R> {
    fn default() -> Self {
        Self {
            locked: AtomicBool::new(false),
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for TslLock<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TslLock").finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for TslLock<R> {
    type Id = ();
    type Guard<'a>
        = TslGuard<'a>
    where
        Self: 'a;

    #[inline]
    fn enter(&self, (): ()) -> TslGuard<'_> {
        while !test_and_set(&self.locked) {
            R::relax();
        }
        TslGuard {
            locked: &self.locked,
        }
    }

    #[inline]
    fn try_enter(&self, (): ()) -> Option<TslGuard<'_>> {
        test_and_set(&self.locked).then_some(TslGuard {
            locked: &self.locked,
        })
    }
}

// SAFETY: only the test-and-set that finds `false` enters, and read-modify-
// writes of one word are totally ordered, each reading the latest value, so
// after each store of `false` at most one of them finds it. The entering one
// acquires the previous holder's Release store.
unsafe impl<R: Relax> MutualExclusion for TslLock<R> {}

impl TtasLock {
    /// An unlocked test-and-test-and-set lock.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> TtasLock<R> {
    #[cold]
    fn enter_slow(&self) {
        loop {
            // Only looking: a Relaxed load is enough, the test-and-set below is what
            // acquires.
            while self.locked.load(Relaxed) {
                R::relax();
            }
            if test_and_set(&self.locked) {
                return;
            }
            R::relax();
        }
    }
}

impl<R: Relax> Default for TtasLock<R> {
    fn default() -> Self {
        Self {
            locked: AtomicBool::new(false),
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for TtasLock<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtasLock").finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for TtasLock<R> {
    type Id = ();
    type Guard<'a>
        = TslGuard<'a>
    where
        Self: 'a;

    #[inline]
    fn enter(&self, (): ()) -> TslGuard<'_> {
        if !test_and_set(&self.locked) {
            self.enter_slow();
        }
        TslGuard {
            locked: &self.locked,
        }
    }

    #[inline]
    fn try_enter(&self, (): ()) -> Option<TslGuard<'_>> {
        // Looking first keeps a failed attempt from taking the line
        // exclusively.
        if self.locked.load(Relaxed) {
            return None;
        }
        test_and_set(&self.locked).then_some(TslGuard {
            locked: &self.locked,
        })
    }
}

// SAFETY: entry is decided by the same test-and-set as in `TslLock` (the
// loads only decide when to try it), so the same argument holds.
unsafe impl<R: Relax> MutualExclusion for TtasLock<R> {}

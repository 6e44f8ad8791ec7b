//! The lock variable: test a shared word, then set it. **Broken on purpose.**
//!
//! ```text
//! enter:  while (lock != 0) ;     /* read  */
//!         lock = 1;               /* write */
//! leave:  lock = 0;
//! ```
//!
//! Between the read that sees 0 and the write of 1 there is a window: a
//! second thread can read 0 in it too, and both go in. This is the race the
//! lock was meant to prevent, moved from the data to the lock itself. The
//! model test `lock_variable_lets_two_threads_in` has loom find the
//! interleaving; the lab shows it happening on real CPUs.
//!
//! Memory ordering is *not* the problem here: the read acquires and the exit
//! releases, as in a correct lock. The only flaw is that the test and the set
//! are two operations, which the TSL instruction ([`TslLock`](crate::TslLock))
//! fuses into one.
//!
//! # The teaching knob
//!
//! [`LockVariable::with_window`] makes the thread spin for a while between
//! the read and the write (pure delay: `core::hint::spin_loop`, no shared
//! memory, invisible to loom). It does not change what can happen, only how
//! often: with a window of a few dozen spins, two threads on two cores fall
//! into it many times a second, so the lab shows the failure reliably.

use crate::critical_section::CriticalSection;
use crate::hooks::{OsThread, Relax};
use crate::sync::AtomicBool;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// The lock variable, any number of threads; it does **not** give mutual
/// exclusion and does not implement [`MutualExclusion`].
///
/// [`MutualExclusion`]: crate::MutualExclusion
pub struct LockVariable<R = OsThread> {
    /// `true` while someone believes they are inside.
    locked: AtomicBool,
    /// Spins between the read and the write: the teaching knob.
    window: u32,
    _relax: PhantomData<fn() -> R>,
}

impl LockVariable {
    /// A free lock variable with no extra window, spinning like an OS thread.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> LockVariable<R> {
    /// The same lock, spinning `window` times between reading 0 and writing
    /// 1, to make the race easy to see (see the module docs).
    pub fn with_window(self, window: u32) -> Self {
        Self { window, ..self }
    }

    /// The first half of entering: busy-waits until the variable reads 0.
    ///
    /// Nothing is written yet; [`Observed::take`] is the second half. The
    /// two halves are exposed so that a test or a class can replay the bad
    /// interleaving by hand: two threads observe 0, then both take.
    pub fn wait_until_free(&self) -> Observed<'_, R> {
        // Acquire pairs with the Release store in `LockVariableGuard::drop`,
        // so that when this does work, the previous holder's writes are seen.
        while self.locked.load(Acquire) {
            R::relax();
        }
        Observed { lock: self }
    }

    /// The window between the read and the write.
    fn widen_window(&self) {
        for _ in 0..self.window {
            core::hint::spin_loop();
        }
    }
}

impl<R: Relax> Default for LockVariable<R> {
    fn default() -> Self {
        Self {
            locked: AtomicBool::new(false),
            window: 0,
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for LockVariable<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockVariable")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// A thread that has read 0 from the lock variable and has not written 1
/// yet: it is inside the race window.
#[must_use = "the second half of entering is `take`"]
pub struct Observed<'a, R: Relax = OsThread> {
    lock: &'a LockVariable<R>,
}

impl<'a, R: Relax> Observed<'a, R> {
    /// The second half of entering: writes 1 and goes in, whatever happened
    /// since the read.
    pub fn take(self) -> LockVariableGuard<'a, R> {
        self.lock.widen_window();
        self.lock.locked.store(true, Relaxed);
        LockVariableGuard { lock: self.lock }
    }
}

impl<R: Relax> fmt::Debug for Observed<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed").finish_non_exhaustive()
    }
}

/// Inside (as far as the lock variable knows); dropping it writes 0.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct LockVariableGuard<'a, R = OsThread> {
    lock: &'a LockVariable<R>,
}

impl<R> Drop for LockVariableGuard<'_, R> {
    fn drop(&mut self) {
        // Release pairs with the Acquire load in `wait_until_free`.
        self.lock.locked.store(false, Release);
    }
}

impl<R> fmt::Debug for LockVariableGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockVariableGuard").finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for LockVariable<R> {
    type Id = ();
    type Guard<'a>
        = LockVariableGuard<'a, R>
    where
        Self: 'a;

    fn enter(&self, (): ()) -> LockVariableGuard<'_, R> {
        self.wait_until_free().take()
    }

    fn try_enter(&self, (): ()) -> Option<LockVariableGuard<'_, R>> {
        // Acquire pairs with the Release store in `LockVariableGuard::drop`.
        if self.locked.load(Acquire) {
            return None;
        }
        Some(Observed { lock: self }.take())
    }
}

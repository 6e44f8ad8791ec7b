//! Strict alternation: two threads take turns, whether they want to or not.
//!
//! ```text
//! process 0:                        process 1:
//!   while (1) {                       while (1) {
//!     while (turn != 0) ;               while (turn != 1) ;
//!     critical_region();                critical_region();
//!     turn = 1;                         turn = 0;
//!     noncritical_region();             noncritical_region();
//!   }                                 }
//! ```
//!
//! Mutual exclusion holds: only the side named by `turn` can be inside, and
//! only that side changes `turn`. Progress does not: after process 0 leaves,
//! it cannot come back until process 1 has been in and out, so a process 1
//! that stays in its noncritical region (slow, or simply not interested)
//! blocks process 0 from outside its critical region, breaking the third
//! condition. The model test `strict_alternation_blocks_from_outside` has
//! loom confirm it in every interleaving; the lab shows the stall.
//!
//! It also assumes both threads want the region equally often, which breaks
//! the second condition (no assumptions about speeds): the faster thread runs
//! at the pace of the slower.

use crate::critical_section::{CriticalSection, MutualExclusion, Side};
use crate::hooks::{OsThread, Relax};
use crate::sync::AtomicU8;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::Ordering::{Acquire, Release};

/// Strict alternation between [`Side::Zero`] and [`Side::One`], starting
/// with `Zero`. Two threads only.
pub struct StrictAlternation<R = OsThread> {
    /// The side allowed in next, as `Side as u8`. Only the side it names
    /// writes it, when it leaves.
    turn: AtomicU8,
    _relax: PhantomData<fn() -> R>,
}

impl StrictAlternation {
    /// Side zero goes first.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> Default for StrictAlternation<R> {
    fn default() -> Self {
        Self {
            turn: AtomicU8::new(Side::Zero as u8),
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for StrictAlternation<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrictAlternation").finish_non_exhaustive()
    }
}

/// Inside as `side`; dropping it hands the turn to the other side.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct StrictAlternationGuard<'a, R = OsThread> {
    lock: &'a StrictAlternation<R>,
    side: Side,
}

impl<R> Drop for StrictAlternationGuard<'_, R> {
    fn drop(&mut self) {
        // Release pairs with the Acquire loads in `enter`/`try_enter` of the
        // other side.
        self.lock.turn.store(self.side.other() as u8, Release);
    }
}

impl<R> fmt::Debug for StrictAlternationGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrictAlternationGuard")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for StrictAlternation<R> {
    type Id = Side;
    type Guard<'a>
        = StrictAlternationGuard<'a, R>
    where
        Self: 'a;

    fn enter(&self, side: Side) -> StrictAlternationGuard<'_, R> {
        // Acquire pairs with the Release store in the other side's guard
        // drop, which is the only way `turn` comes to name this side.
        while self.turn.load(Acquire) != side as u8 {
            R::relax();
        }
        StrictAlternationGuard { lock: self, side }
    }

    fn try_enter(&self, side: Side) -> Option<StrictAlternationGuard<'_, R>> {
        // Acquire: as in `enter`.
        (self.turn.load(Acquire) == side as u8)
            .then_some(StrictAlternationGuard { lock: self, side })
    }
}

// SAFETY: `turn` names one side at a time, a side enters only when `turn`
// names it, and only the side inside changes `turn`, as it leaves; so the two
// sides are never inside together. Entry acquires the Release store that
// handed over the turn, so each critical region happens-after the previous.
unsafe impl<R: Relax> MutualExclusion for StrictAlternation<R> {}

//! Peterson's solution: two threads, a `turn` word and two `interested`
//! flags, mutual exclusion from ordinary memory alone.
//!
//! ```text
//! enter_region(process):             leave_region(process):
//!   other = 1 - process;               interested[process] = FALSE;
//!   interested[process] = TRUE;
//!   turn = process;
//!   while (turn == process && interested[other]) ;
//! ```
//!
//! `turn` records who arrived last. If both are interested, the one that
//! wrote `turn` last waits; if only one is, it goes straight in. All four
//! conditions hold: no two inside, no timing assumed, a thread outside has
//! `interested` false and blocks no one, and a waiter goes in as soon as the
//! other leaves or arrives again (which makes the other the one that waits),
//! so it is overtaken at most once.
//!
//! # Why the textbook version fails on a real CPU
//!
//! The proof assumes each thread's store to `interested[process]` is seen by
//! the other before its own load of `interested[other]`. An x86 core does not
//! promise that: a store goes into the core's *store buffer* and reaches
//! memory (where the other core can see it) some time later, and a later load
//! from a different address does not wait for it. That is the one reordering
//! x86 allows, store followed by load:
//!
//! ```text
//!   core 0                          core 1
//!   interested[0] = 1  (buffered)   interested[1] = 1  (buffered)
//!   turn = 0           (buffered)   turn = 1           (buffered)
//!   load interested[1] -> 0 (memory still has 0)
//!                                   load interested[0] -> 0
//!   enters                          enters
//!   ...the buffers drain, too late.
//! ```
//!
//! [`TextbookPeterson`] is that version, with `Relaxed` (plain `mov`) loads
//! and stores; loom finds the interleaving (test
//! `textbook_peterson_lets_two_threads_in`), and on a multi-core x86 the lab
//! catches it now and then.
//!
//! [`Peterson`] fixes it by writing `turn` with an atomic swap (`xchg` on
//! x86, whose implicit `lock` drains the store buffer before any later load,
//! the full fence the proof needs between the store and the load). In the
//! Rust (C++) memory model the swaps of the two threads are ordered, and the
//! later one reads the earlier one's value with `AcqRel`: it synchronizes
//! with it, sees the earlier thread's `interested = true`, finds `turn` naming
//! itself, and waits. The waiting loop's `Acquire` loads pair with the
//! other side's `Release` exit (`interested = false`) or with its `Release`
//! swap of `turn`, so each critical region happens-after the previous one.
//!
//! Two other fixes are common and were not chosen:
//! * every access `SeqCst`: correct in the memory model, but loom treats
//!   `SeqCst` loads and stores as `AcqRel` and reports a violation that
//!   cannot happen, so the model test could not check it;
//! * plain stores followed by `fence(SeqCst)`: enough on x86 (`mfence`) and
//!   ARMv8 (`dmb ish`) hardware, but not in the Rust memory model, which
//!   leaves two `Relaxed` stores to `turn` unordered with respect to the
//!   fences: the thread whose fence comes first can miss the other's
//!   `interested` while its own `turn` store is the one that lasts, and loom
//!   finds a run where both enter. The swap closes that: read-modify-writes
//!   of `turn` always read the latest value.

use crate::critical_section::{CriticalSection, MutualExclusion, Side};
use crate::hooks::{OsThread, Relax};
use crate::sync::{AtomicBool, AtomicU8};
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// Peterson's solution, correct on real CPUs. Two threads only.
pub struct Peterson<R = OsThread> {
    /// `interested[side]` is true from the start of `side`'s entry protocol
    /// until it leaves (or gives up in `try_enter`). Written only by `side`.
    interested: [AtomicBool; 2],
    /// The side that arrived last, as `Side as u8`; it is the one that waits
    /// when both are interested.
    turn: AtomicU8,
    _relax: PhantomData<fn() -> R>,
}

impl Peterson {
    /// Neither side interested.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> Peterson<R> {
    /// Announces interest and makes `side` the last to arrive; returns
    /// whether it must wait.
    fn arrive(&self, side: Side) -> bool {
        self.interested[side.index()].store(true, Relaxed);
        // The swap is the fence between the store above and the loads in
        // `must_wait`. AcqRel: Release publishes `interested[side] = true`
        // (and everything before it) to the other side's swap or its
        // `must_wait` Acquire load of `turn`; Acquire pairs with the other
        // side's earlier swap, whose `interested = true` this side must see.
        self.turn.swap(side as u8, AcqRel);
        self.must_wait(side)
    }

    /// The waiting condition: the other side is interested and `side`
    /// arrived last.
    fn must_wait(&self, side: Side) -> bool {
        // Acquire pairs with the other side's Release exit store of
        // `interested` (its critical region is over before this one starts).
        self.interested[side.other().index()].load(Acquire)
            // Acquire pairs with the other side's AcqRel swap: when it has
            // arrived after us, its previous critical region (before its
            // previous exit) happens-before ours.
            && self.turn.load(Acquire) == side as u8
    }
}

impl<R: Relax> Default for Peterson<R> {
    fn default() -> Self {
        Self {
            interested: [AtomicBool::new(false), AtomicBool::new(false)],
            turn: AtomicU8::new(Side::Zero as u8),
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Peterson<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peterson").finish_non_exhaustive()
    }
}

/// Inside as `side`; dropping it clears `interested[side]`.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct PetersonGuard<'a, R = OsThread> {
    lock: &'a Peterson<R>,
    side: Side,
}

impl<R> Drop for PetersonGuard<'_, R> {
    fn drop(&mut self) {
        // Release pairs with the Acquire load of `interested` in the other
        // side's `must_wait`.
        self.lock.interested[self.side.index()].store(false, Release);
    }
}

impl<R> fmt::Debug for PetersonGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PetersonGuard")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for Peterson<R> {
    type Id = Side;
    type Guard<'a>
        = PetersonGuard<'a, R>
    where
        Self: 'a;

    fn enter(&self, side: Side) -> PetersonGuard<'_, R> {
        self.enter_with_doorway(side, || {})
    }

    /// The doorway is `arrive`: `interested` raised and `turn` written.
    fn enter_with_doorway(&self, side: Side, passed: impl FnOnce()) -> PetersonGuard<'_, R> {
        let wait = self.arrive(side);
        passed();
        if wait {
            while self.must_wait(side) {
                R::relax();
            }
        }
        PetersonGuard { lock: self, side }
    }

    fn try_enter(&self, side: Side) -> Option<PetersonGuard<'_, R>> {
        if self.arrive(side) {
            // Withdraw: with `interested[side]` false the other side no
            // longer waits for us. Release pairs with the Acquire load in the
            // other side's `must_wait`, as an exit does, since this side's
            // previous critical region must still happen-before the other's
            // next one.
            self.interested[side.index()].store(false, Release);
            return None;
        }
        Some(PetersonGuard { lock: self, side })
    }
}

// SAFETY: the swaps of `turn` are totally ordered; the later one synchronizes
// with the earlier, so the later side sees the earlier side's
// `interested = true` and `turn` naming itself, and waits until the earlier
// side leaves (clearing `interested`, released to its Acquire load) or
// arrives again (its swap, acquired by the `turn` load). A side alone sees
// `interested[other]` false and goes in, but then the other, arriving, sees
// it. Both cases order the critical regions by happens-before (module docs).
unsafe impl<R: Relax> MutualExclusion for Peterson<R> {}

/// Peterson's solution exactly as printed, with plain (`Relaxed`) loads and
/// stores. **Broken on real CPUs**: see the module docs. It does not
/// implement [`MutualExclusion`] and exists to be shown failing.
pub struct TextbookPeterson<R = OsThread> {
    interested: [AtomicBool; 2],
    turn: AtomicU8,
    _relax: PhantomData<fn() -> R>,
}

impl TextbookPeterson {
    /// Neither side interested.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> TextbookPeterson<R> {
    fn arrive(&self, side: Side) -> bool {
        self.interested[side.index()].store(true, Relaxed);
        self.turn.store(side as u8, Relaxed);
        self.must_wait(side)
    }

    fn must_wait(&self, side: Side) -> bool {
        self.turn.load(Relaxed) == side as u8 && self.interested[side.other().index()].load(Relaxed)
    }
}

impl<R: Relax> Default for TextbookPeterson<R> {
    fn default() -> Self {
        Self {
            interested: [AtomicBool::new(false), AtomicBool::new(false)],
            turn: AtomicU8::new(Side::Zero as u8),
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for TextbookPeterson<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextbookPeterson").finish_non_exhaustive()
    }
}

/// Inside as `side`, as far as the textbook version can tell.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct TextbookPetersonGuard<'a, R = OsThread> {
    lock: &'a TextbookPeterson<R>,
    side: Side,
}

impl<R> Drop for TextbookPetersonGuard<'_, R> {
    fn drop(&mut self) {
        self.lock.interested[self.side.index()].store(false, Relaxed);
    }
}

impl<R> fmt::Debug for TextbookPetersonGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextbookPetersonGuard")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for TextbookPeterson<R> {
    type Id = Side;
    type Guard<'a>
        = TextbookPetersonGuard<'a, R>
    where
        Self: 'a;

    fn enter(&self, side: Side) -> TextbookPetersonGuard<'_, R> {
        self.enter_with_doorway(side, || {})
    }

    fn enter_with_doorway(
        &self,
        side: Side,
        passed: impl FnOnce(),
    ) -> TextbookPetersonGuard<'_, R> {
        let wait = self.arrive(side);
        passed();
        if wait {
            while self.must_wait(side) {
                R::relax();
            }
        }
        TextbookPetersonGuard { lock: self, side }
    }

    fn try_enter(&self, side: Side) -> Option<TextbookPetersonGuard<'_, R>> {
        if self.arrive(side) {
            self.interested[side.index()].store(false, Relaxed);
            return None;
        }
        Some(TextbookPetersonGuard { lock: self, side })
    }
}

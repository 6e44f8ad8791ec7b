//! The one shape every proposal takes: enter a critical region, get a guard,
//! leave by dropping it.
//!
//! [`CriticalSection`] is implemented by every algorithm, correct or not, so
//! that the lab and the model tests can run them all the same way.
//! [`MutualExclusion`] is the promise that an algorithm is correct, and only
//! it lets [`Lock`](crate::Lock) hand out `&mut T`.
//!
//! How many threads an algorithm supports is in its [`CriticalSection::Id`]:
//! `()` for algorithms any number of threads can share, [`Side`] for the
//! two-thread ones (strict alternation, Peterson's solution), which must be
//! told which of the two is entering.

/// One of the two threads of a two-thread algorithm: process 0 or process 1
/// in the textbook's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Process 0, the one whose turn it is first in strict alternation.
    Zero = 0,
    /// Process 1.
    One = 1,
}

impl Side {
    /// Both sides, in order.
    pub const BOTH: [Side; 2] = [Side::Zero, Side::One];

    /// The other thread.
    #[inline]
    pub const fn other(self) -> Side {
        match self {
            Side::Zero => Side::One,
            Side::One => Side::Zero,
        }
    }

    /// 0 or 1, to index per-side arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// An entry and exit protocol for a critical region.
///
/// `enter` busy-waits until the calling thread may go in and returns a guard;
/// the thread is inside its critical region while the guard lives and leaves
/// it when the guard drops. Nothing here promises that the protocol works:
/// the lock variable implements this trait and lets two threads in at once.
/// See [`MutualExclusion`] for the promise.
///
/// A two-thread algorithm has `Id = Side`: two threads that enter at the same
/// time must pass different sides. Passing the same side from two threads is
/// a logic error that can let both in (it cannot cause undefined behaviour
/// through this trait; [`Lock::split`](crate::Lock::split) makes it
/// impossible for the data a lock protects).
pub trait CriticalSection: Sync {
    /// How a thread names itself on entry: `()` if any number of threads may
    /// share the lock, [`Side`] for two-thread algorithms.
    type Id: Copy + Send + Sync + 'static;

    /// Proof of being inside; dropping it is the exit protocol.
    type Guard<'a>
    where
        Self: 'a;

    /// Runs the entry protocol, busy-waiting until the caller may enter.
    fn enter(&self, id: Self::Id) -> Self::Guard<'_>;

    /// Runs the entry protocol once without waiting: enters if the way is
    /// free now, otherwise returns `None` having left no trace.
    fn try_enter(&self, id: Self::Id) -> Option<Self::Guard<'_>>;

    /// [`enter`](Self::enter), calling `passed` as soon as the thread is
    /// through the *doorway*: the part of the entry protocol that finishes in
    /// a bounded number of its own steps, whatever the others do (taking a
    /// ticket; raising `interested` and writing `turn`). Bounded waiting is
    /// counted from there: once a thread is through the doorway, the others
    /// enter at most k times before it (k = 1 for Peterson's, threads - 1 for
    /// the ticket lock). The lab uses this to count overtakes exactly.
    ///
    /// The default calls `passed` before entering at all: an algorithm
    /// without a doorway (TSL, the lock variable) promises nothing from any
    /// point.
    fn enter_with_doorway(&self, id: Self::Id, passed: impl FnOnce()) -> Self::Guard<'_> {
        passed();
        self.enter(id)
    }
}

/// A [`CriticalSection`] that really excludes.
///
/// # Safety
///
/// Implement this only if, whenever no two threads use the same
/// [`Id`](CriticalSection::Id) at the same time:
///
/// * at most one guard exists at any moment (mutual exclusion), and
/// * everything a thread did before dropping its guard happens-before
///   everything the next thread does after its `enter` or `try_enter`
///   returns a guard (the exit is a release that the entry acquires).
///
/// [`Lock`](crate::Lock) relies on both to hand out `&mut T` to the data.
pub unsafe trait MutualExclusion: CriticalSection {}

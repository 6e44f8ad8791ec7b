//! [`Barrier`]: `std::sync::Barrier`'s shape on a weave [`Mutex`] and
//! [`Condvar`], so the threads that wait for the rest block only their
//! ULTs.

use std::fmt;
use std::sync::PoisonError;

use super::block::BlockReason;
use super::{Condvar, Mutex};

/// Lets `n` threads wait until all `n` have arrived, then releases them
/// together; reusable, one generation after another.
///
/// ```
/// use std::sync::Arc;
/// use weave::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(4));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let b = barrier.clone();
///         weave::thread::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs
///     .into_iter()
///     .map(|h| h.join().unwrap())
///     .filter(|&leader| leader)
///     .count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    state: Mutex<BarrierState>,
    cv: Condvar,
    n: usize,
}

struct BarrierState {
    /// Threads of the current generation that have arrived.
    arrived: usize,
    /// Bumped by each generation's last arrival; a waiter leaves once it
    /// changes, so a spurious wake-up cannot release it early and a fast
    /// thread re-entering cannot count towards the old generation.
    generation: u64,
}

/// What [`Barrier::wait`] returns: one waiter per generation is the leader.
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one thread per generation (the last to arrive).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads; `n == 0` behaves as 1, as std's.
    #[must_use]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            state: Mutex::new(BarrierState {
                arrived: 0,
                generation: 0,
            }),
            cv: Condvar::new(),
            n,
        }
    }

    /// Blocks until `n` threads have called `wait` in this generation.
    pub fn wait(&self) -> BarrierWaitResult {
        // No user code runs under this lock: poison cannot mean anything.
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.arrived += 1;
        if st.arrived >= self.n {
            st.arrived = 0;
            st.generation = st.generation.wrapping_add(1);
            drop(st);
            self.cv.notify_all();
            return BarrierWaitResult(true);
        }
        let mine = st.generation;
        while st.generation == mine {
            st = self.cv.wait_for(st, BlockReason::Barrier, None);
        }
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.0)
            .finish()
    }
}

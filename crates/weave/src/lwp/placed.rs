//! The count of started ULTs placed on an LWP that have not exited: what
//! keeps a retiring LWP from leaving, and what balancing weighs. This file
//! owns the count's protocol; its model is `loom_tests` below.
//!
//! The LWP's own thread counts its first runs and exits with a load and a
//! store (no read-modify-write: a spawn+join on one LWP made two locked
//! ones on this word). A sibling that makes this LWP the home of a new
//! ULT (`Lwp::adopt_new`) adds to a second word, `adopted`, *before* it
//! queues the ULT here; the queue's Release/Acquire then shows the
//! addition to this LWP before the ULT runs, so before it can exit. The
//! owner folds `adopted` into its own word at its next exit that finds it
//! non-zero (the exiting ULT may be an adopted one).
//!
//! A reader (another LWP, the monitor, the pool under its lock) reads
//! `adopted` (Acquire) then the owner's word: the fold adds to the owner's
//! word before its Release subtraction, so a reader that sees the
//! subtraction sees the addition; one that does not may count the
//! adoptions twice for a moment. The sum may be high for a moment, never
//! below what is placed.

use crate::loom::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

pub(crate) struct Placed {
    /// Counted by the owner: written only by the LWP's thread.
    own: AtomicUsize,
    /// Siblings' adoptions not yet folded into `own`.
    adopted: AtomicUsize,
}

impl Placed {
    pub(crate) fn new() -> Placed {
        Placed {
            own: AtomicUsize::new(0),
            adopted: AtomicUsize::new(0),
        }
    }

    /// Back to zero, for a reused LWP slot (no thread uses it).
    pub(crate) fn reset(&self) {
        self.own.store(0, Relaxed);
        self.adopted.store(0, Relaxed);
    }

    /// Started ULTs placed here that have not exited (a snapshot; see the
    /// module's note for why it may be high for a moment).
    pub(crate) fn get(&self) -> usize {
        // Acquire: pairs with the Release of `fold`'s subtraction.
        let adopted = self.adopted.load(Acquire);
        self.own.load(Relaxed).wrapping_add(adopted)
    }

    /// A ULT starts here for the first time. Owner only.
    #[inline]
    pub(crate) fn count_started(&self) {
        let p = self.own.load(Relaxed);
        self.own.store(p + 1, Relaxed);
    }

    /// A ULT placed here exited. Owner only. `lwp` names the LWP in the
    /// debug check.
    #[inline]
    pub(crate) fn count_exited(&self, lwp: usize) {
        if self.adopted.load(Relaxed) != 0 {
            self.fold();
        }
        let p = self.own.load(Relaxed);
        debug_assert!(p > 0, "an exit on LWP {lwp} with no ULT placed");
        self.own.store(p.wrapping_sub(1), Relaxed);
    }

    /// A sibling made this LWP the home of a new ULT; called before the
    /// ULT is queued here.
    pub(crate) fn adopt(&self) {
        self.adopted.fetch_add(1, Relaxed);
    }

    /// Moves the siblings' adoptions into the owner's word. Owner only.
    #[cold]
    fn fold(&self) {
        let a = self.adopted.load(Relaxed);
        self.own.store(self.own.load(Relaxed) + a, Relaxed);
        // Release: pairs with the Acquire in `get`: whoever sees this
        // subtraction sees the addition above.
        self.adopted.fetch_sub(a, Release);
    }

    #[cfg(test)]
    pub(crate) fn parts(&self) -> (usize, usize) {
        (self.own.load(Relaxed), self.adopted.load(Relaxed))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn adoptions_count_at_once_and_fold_in_at_an_exit() {
        let p = Placed::new();
        p.count_started();
        // A sibling's adoption counts at once, before the adopted ULT runs.
        p.adopt();
        p.adopt();
        assert_eq!(p.get(), 3);
        // The first exit here folds the adoptions into the owner's word.
        p.count_exited(0);
        assert_eq!(p.parts(), (2, 0));
        assert_eq!(p.get(), 2);
        p.count_exited(0);
        p.count_exited(0);
        assert_eq!(p.get(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::AtomicBool;
    use loom::sync::Arc;

    /// The owner runs a ULT of its own and one a sibling adopts for it
    /// (queued through a flag standing for the inbox), and both exit; a
    /// reader looks meanwhile. The owner's word never goes below zero
    /// (`count_exited`'s debug check), the reader never sees more than
    /// could be placed nor a wrapped sum, and all ends at zero. (It fails
    /// when the adoption is counted after the queueing. The fold's order
    /// against a reader, which only keeps a reader from counting the
    /// adoptions zero times for a moment, is argued in the module's note,
    /// not checked here.)
    #[test]
    fn placed_counts_adoptions_before_their_exit() {
        loom::model(|| {
            let p = Arc::new(Placed::new());
            let queued = Arc::new(AtomicBool::new(false));
            let sibling = {
                let (p, queued) = (p.clone(), queued.clone());
                loom::thread::spawn(move || {
                    p.adopt();
                    queued.store(true, Release);
                })
            };
            let reader = {
                let p = p.clone();
                loom::thread::spawn(move || {
                    let n = p.get();
                    assert!(n <= 3, "read {n}: more than could be placed");
                })
            };
            p.count_started();
            while !queued.load(Acquire) {
                loom::thread::yield_now();
            }
            // The adopted ULT runs and exits, then the owner's own.
            p.count_exited(0);
            p.count_exited(0);
            sibling.join().unwrap();
            reader.join().unwrap();
            assert_eq!(p.get(), 0);
            assert_eq!(p.parts(), (0, 0));
        });
    }
}

//! The count of C threads that have not finished, for `pthread_exit` in
//! `main`, which lets the others run and ends the process after the last.
//!
//! Owns the counters and the rule for reading "none live" off them; the
//! wait itself is `thread.rs`'s. Must not touch the threads.
//!
//! **Per-LWP counters, no RMW.** A single counter (one `fetch_add` per
//! create, one `fetch_sub` per end) cost two locked instructions per C
//! create+join, for a figure read once per process at most. Instead each
//! LWP has two monotonic counters, `created` and `ended`, written only by
//! the ULT running on that LWP with a load and a store: weave switches
//! ULTs only at safe points, and there is none between the two. A thread
//! is counted as created on its creator's LWP and as ended on the LWP it
//! ends on; creates from an OS thread (`main`), and from an LWP beyond the
//! table, use a shared pair with `fetch_add`.
//!
//! **Reading "none live".** [`Counts::none_live`] sums every `ended` first,
//! then every `created` (each load Acquire, each store Release). A thread's
//! creation is counted before it can run, so before its end is: a reader
//! that sees an end (Acquire) sees that thread's creation in the later
//! loads. The ends read are thus a subset, thread for thread, of the
//! creations read; equal sums mean every creation read has its end read.
//! A thread whose creation was missed was created by one still running
//! (whose own creation was read, hence unequal sums) or by an OS thread
//! other than the reader: `main`, reading, creates none, and threads of
//! other OS threads are outside what `pthread_exit` in `main` can wait
//! for. So equal sums mean no C thread is live, nor can one start.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;

/// One LWP's counters, on a cache line of their own: only that LWP writes
/// them, at every C create and end.
#[repr(align(64))]
struct Pair {
    created: AtomicU64,
    ended: AtomicU64,
}

impl Pair {
    #[cfg(not(loom))]
    const fn new() -> Pair {
        Pair {
            created: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Pair {
        Pair {
            created: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }
}

/// The counters of every LWP below `N`, and the shared pair.
pub(crate) struct Counts<const N: usize> {
    lwps: [Pair; N],
    shared: Pair,
}

/// Bumps a counter only its writer writes. Release: pairs with the
/// Acquire loads of `none_live`.
#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed).wrapping_add(1), Release);
}

impl<const N: usize> Counts<N> {
    /// Counters for LWPs `0..N`, all zero.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Counts<N> {
        Counts {
            lwps: [const { Pair::new() }; N],
            shared: Pair::new(),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Counts<N> {
        Counts {
            lwps: std::array::from_fn(|_| Pair::new()),
            shared: Pair::new(),
        }
    }

    /// A C thread is being created by the caller, on LWP `lwp` (`None`:
    /// an OS thread). Before the new thread can run.
    #[inline]
    pub(crate) fn created(&self, lwp: Option<usize>) {
        match lwp.and_then(|i| self.lwps.get(i)) {
            Some(p) => bump(&p.created),
            // Release: as in `bump`.
            None => _ = self.shared.created.fetch_add(1, Release),
        }
    }

    /// The calling C thread has finished, on LWP `lwp`.
    #[inline]
    pub(crate) fn ended(&self, lwp: Option<usize>) {
        match lwp.and_then(|i| self.lwps.get(i)) {
            Some(p) => bump(&p.ended),
            // Release: as in `bump`.
            None => _ = self.shared.ended.fetch_add(1, Release),
        }
    }

    /// A create that failed: counted as an end at once.
    pub(crate) fn undo_created(&self) {
        // Release: as in `bump`.
        self.shared.ended.fetch_add(1, Release);
    }

    /// Whether no C thread is live (module doc). For a reader that creates
    /// none meanwhile.
    pub(crate) fn none_live(&self) -> bool {
        // Acquire (all loads): pairs with the Release stores of `bump` and
        // the shared `fetch_add`s. Ends first, then creations.
        let mut ended = self.shared.ended.load(Acquire);
        for p in self.lwps.iter() {
            ended = ended.wrapping_add(p.ended.load(Acquire));
        }
        let mut created = self.shared.created.load(Acquire);
        for p in self.lwps.iter() {
            created = created.wrapping_add(p.created.load(Acquire));
        }
        created == ended
    }

    /// In a fork's child, where only the forking thread is left: `live`
    /// threads (1 if it is a C thread, else 0). Only thread there.
    pub(crate) fn reset(&self, live: u64) {
        for p in self.lwps.iter() {
            p.created.store(0, Relaxed);
            p.ended.store(0, Relaxed);
        }
        self.shared.created.store(live, Relaxed);
        self.shared.ended.store(0, Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_made_on_one_lwp_and_ended_on_another_is_counted_once() {
        let c = Counts::<2>::new();
        assert!(c.none_live());
        c.created(Some(0));
        assert!(!c.none_live());
        c.created(None);
        c.ended(Some(1));
        assert!(!c.none_live());
        c.ended(Some(7)); // beyond the table: the shared pair
        assert!(c.none_live());
        c.created(Some(1));
        c.undo_created();
        assert!(c.none_live());
        c.created(Some(0));
        c.reset(1);
        assert!(!c.none_live(), "the forking C thread is live in the child");
        c.ended(Some(0));
        assert!(c.none_live());
    }
}

/// A reader never sees "none live" while a thread is live: `main` makes a
/// thread, which makes a second on LWP 0 and ends on LWP 1; the second
/// ends on LWP 0, or on the shared pair (each counter has one writer at a
/// time, as on an LWP) (`RUSTFLAGS="--cfg loom" cargo test -p weave-capi
/// --lib --release live`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    /// Each thread's last work before its end is counted: a write of its
    /// cell, which a reader that saw "none live" must see (loom reports
    /// the race otherwise).
    struct Work([UnsafeCell<u32>; 2]);

    impl Work {
        fn done(&self, i: usize) {
            // SAFETY: only thread `i` writes its cell; loom checks readers.
            self.0[i].with_mut(|p| unsafe { *p = 1 });
        }

        fn is_done(&self, i: usize) -> bool {
            // SAFETY: as above.
            self.0[i].with(|p| unsafe { *p == 1 })
        }
    }

    fn model(second_ends_on: Option<usize>) {
        loom::model(move || {
            let c = Arc::new(Counts::<2>::new());
            let work = Arc::new(Work([UnsafeCell::new(0), UnsafeCell::new(0)]));
            // `main` creates the first from an OS thread.
            c.created(None);
            let first = {
                let (c, work) = (c.clone(), work.clone());
                loom::thread::spawn(move || {
                    // Runs on LWP 0, makes the second there.
                    c.created(Some(0));
                    let second = {
                        let (c, work) = (c.clone(), work.clone());
                        loom::thread::spawn(move || {
                            work.done(1);
                            c.ended(second_ends_on);
                        })
                    };
                    // Ends on LWP 1 (it moved, say, or it was bound).
                    work.done(0);
                    c.ended(Some(1));
                    second
                })
            };
            // `main` in pthread_exit.
            if c.none_live() {
                assert!(work.is_done(0) && work.is_done(1), "a thread is live");
            }
            first.join().unwrap().join().unwrap();
            assert!(c.none_live());
        });
    }

    #[test]
    fn none_live_is_never_seen_early_ends_on_two_lwps() {
        model(Some(0));
    }

    #[test]
    fn none_live_is_never_seen_early_an_end_on_the_shared_pair() {
        model(None);
    }
}

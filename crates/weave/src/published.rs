//! `Published<T>`: a value made on first use and published with one
//! compare-and-swap, for the runtime's process-wide singletons that a
//! `fork()` may catch at any instant.
//!
//! `std::sync::OnceLock` has a third state besides empty and full: being
//! made. A fork while another thread makes the value copies that state into
//! a child where the maker does not exist, and the child's first use waits
//! for ever. A `Published` has only the two: the value is made outside,
//! boxed, and swapped into a null pointer; a thread that loses the race
//! drops what it made and takes the winner's. So the maker may run more than
//! once (use it for values whose making has no effect outside the value:
//! a mapping, an fd the value owns and closes on drop), and the value is
//! never dropped (it lives as long as the process, as a static's does).
//!
//! Bottom layer: names nothing of weave's but the atomics facade. The
//! publication is loom-checked (the model below).

use crate::loom::AtomicPtr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

/// A value made on first use, without a being-made state (module doc).
pub(crate) struct Published<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: a `Published` hands out `&T` to every thread and moves the `T` a
// thread made into the shared cell: `T` must be `Sync` and `Send`.
unsafe impl<T: Send + Sync> Sync for Published<T> {}

impl<T> Published<T> {
    /// An empty cell.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Published<T> {
        Published {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// An empty cell (loom's atomics cannot be made in a `const`).
    #[cfg(loom)]
    pub(crate) fn new() -> Published<T> {
        Published {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The value, if some thread has published it.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        // Acquire: pairs with the AcqRel swap in `offer`, so the value's
        // fields are seen as its maker wrote them.
        let p = self.ptr.load(Acquire);
        // SAFETY: a non-null pointer is a leaked box that is never freed.
        unsafe { p.as_ref() }
    }

    /// The value, made by `make` if nobody has published one yet (`make`
    /// may run in several threads at once; all but one result is dropped).
    #[inline]
    pub(crate) fn get_or_make(&self, make: impl FnOnce() -> T) -> &T {
        match self.get() {
            Some(v) => v,
            None => self.offer(make()),
        }
    }

    /// As [`get_or_make`](Self::get_or_make), for a maker that can fail:
    /// its error is returned and nothing is published.
    pub(crate) fn get_or_try_make<E>(&self, make: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        match self.get() {
            Some(v) => Ok(v),
            None => Ok(self.offer(make()?)),
        }
    }

    /// Publishes `v` unless another value was published first; the value
    /// in the cell either way.
    #[cold]
    fn offer(&self, v: T) -> &T {
        let mine = Box::into_raw(Box::new(v));
        // AcqRel: the Release side publishes the value's fields to `get`'s
        // Acquire; the Acquire side (on failure) reads the winner's.
        match self
            .ptr
            .compare_exchange(std::ptr::null_mut(), mine, AcqRel, Acquire)
        {
            // SAFETY: our box, now in the cell for good.
            Ok(_) => unsafe { &*mine },
            Err(theirs) => {
                // SAFETY: `mine` was never shared; `theirs` is a published
                // box, never freed.
                unsafe {
                    drop(Box::from_raw(mine));
                    &*theirs
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[test]
    fn the_first_value_made_is_the_one_every_caller_gets() {
        static CELL: Published<u32> = Published::new();
        assert!(CELL.get().is_none());
        assert_eq!(*CELL.get_or_make(|| 7), 7);
        assert_eq!(*CELL.get_or_make(|| 8), 7);
        assert_eq!(CELL.get(), Some(&7));
    }

    #[test]
    fn a_maker_that_fails_publishes_nothing() {
        static CELL: Published<u32> = Published::new();
        assert_eq!(CELL.get_or_try_make(|| Err::<u32, _>("no")), Err("no"));
        assert!(CELL.get().is_none());
        assert_eq!(CELL.get_or_try_make(|| Ok::<_, ()>(3)), Ok(&3));
    }

    #[test]
    fn racing_makers_agree_and_the_losers_values_are_dropped() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted(usize);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Relaxed);
            }
        }
        static CELL: Published<Counted> = Published::new();
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let barrier = std::sync::Barrier::new(8);
        let seen: Vec<usize> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let b = &barrier;
                    s.spawn(move || {
                        b.wait();
                        CELL.get_or_make(|| {
                            MADE.fetch_add(1, Relaxed);
                            Counted(i)
                        })
                        .0
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.iter().all(|&v| v == seen[0]));
        // Every value made but the published one was dropped; the winner
        // never is.
        assert_eq!(DROPS.load(Relaxed), MADE.load(Relaxed) - 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// Values made and dropped, per test (tests run in parallel).
    struct Counts {
        made: AtomicUsize,
        drops: AtomicUsize,
    }

    impl Counts {
        const fn new() -> Counts {
            Counts {
                made: AtomicUsize::new(0),
                drops: AtomicUsize::new(0),
            }
        }
    }

    /// A value whose field its maker writes after making it, as a real
    /// value's constructor does: loom reports a read of it that the
    /// publication does not order after that write.
    struct Made(UnsafeCell<usize>, &'static Counts);

    fn make(v: usize, counts: &'static Counts) -> Made {
        counts.made.fetch_add(1, Relaxed);
        let m = Made(UnsafeCell::new(0), counts);
        // SAFETY: nobody else can see `m` yet.
        m.0.with_mut(|p| unsafe { *p = v });
        m
    }

    fn read(m: &Made) -> usize {
        // SAFETY: after publication the field is only read.
        m.0.with(|p| unsafe { *p })
    }

    impl Drop for Made {
        fn drop(&mut self) {
            self.1.drops.fetch_add(1, Relaxed);
        }
    }

    /// Two threads make and offer at once: both get the same value, whose
    /// field they see as its maker wrote it; exactly one of the values made
    /// survives.
    #[test]
    fn racing_offers_publish_one_whole_value() {
        static COUNTS: Counts = Counts::new();
        loom::model(|| {
            COUNTS.made.store(0, Relaxed);
            COUNTS.drops.store(0, Relaxed);
            let cell: &'static Published<Made> = Box::leak(Box::new(Published::new()));
            let t = loom::thread::spawn(move || read(cell.get_or_make(|| make(1, &COUNTS))));
            let mine = read(cell.get_or_make(|| make(2, &COUNTS)));
            let theirs = t.join().unwrap();
            assert_eq!(mine, theirs);
            assert_eq!(COUNTS.drops.load(Relaxed), COUNTS.made.load(Relaxed) - 1);
            // Nothing else holds the cell: free the published value.
            let p = cell.ptr.load(Acquire);
            // SAFETY: the published box; no reference to it is left.
            drop(unsafe { Box::from_raw(p) });
        });
    }

    /// A reader that only loads (`get`) while another thread publishes
    /// sees nothing or the whole value.
    #[test]
    fn a_reader_sees_nothing_or_the_whole_value() {
        static COUNTS: Counts = Counts::new();
        loom::model(|| {
            let cell: &'static Published<Made> = Box::leak(Box::new(Published::new()));
            let t = loom::thread::spawn(move || cell.get().map(read));
            assert_eq!(read(cell.get_or_make(|| make(5, &COUNTS))), 5);
            assert!(matches!(t.join().unwrap(), None | Some(5)));
            let p = cell.ptr.load(Acquire);
            // SAFETY: the published box; no reference to it is left.
            drop(unsafe { Box::from_raw(p) });
        });
    }
}

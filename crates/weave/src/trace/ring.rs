//! One thread's ring of trace slots: a bounded single-producer,
//! single-consumer queue. The producer is the thread that emits events
//! (an LWP, or any OS thread), the consumer the recorder's writer thread.
//!
//! ```text
//!   slots:  [ . . x x x x . . ]      x: written, not yet drained
//!                 ^head   ^tail      (positions grow forever; slot = pos & mask)
//! ```
//!
//! 1. The producer owns `tail` and the free slots `tail .. head + capacity`:
//!    it writes slots there, then publishes them with a Release store of
//!    `tail`.
//! 2. The consumer owns `head` and the slots `head .. tail`: after an
//!    Acquire load of `tail` it reads them, then frees them with a Release
//!    store of `head`.
//! 3. The producer's Acquire load of `head` before it writes makes the
//!    consumer's reads of those slots happen before the overwrite.
//!
//! A push that does not fit is dropped and counted (`dropped`, and
//! `unmarked` until a DROPPED slot announces it): the producer never
//! waits, it may be in the middle of a switch. The loom model below checks
//! that whatever the interleaving, the consumer sees pushed slots whole,
//! in order, each once, and that every push is either seen or counted as
//! dropped.
//!
//! Names nothing of weave's but the atomics facade; built under loom.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::loom::{AtomicU32, AtomicU64, AtomicUsize};

/// One slot: four words (see `format.rs`).
pub(crate) type Slot = [u64; 4];

/// The cell of a slot: loom's checked cell under loom, a plain one
/// otherwise (same `with`/`with_mut` shape).
#[cfg(loom)]
use loom::cell::UnsafeCell as UnsafeSlot;

#[cfg(not(loom))]
#[repr(transparent)]
struct UnsafeSlot<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeSlot<T> {
    #[cfg(test)]
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

pub(crate) struct Ring {
    slots: Box<[UnsafeSlot<Slot>]>,
    mask: usize,
    /// Next slot the consumer reads. Written by the consumer only.
    head: AtomicUsize,
    /// Next slot the producer writes. Written by the producer only.
    tail: AtomicUsize,
    /// Pushes dropped in all (the producer adds, anyone reads).
    pub(crate) dropped: AtomicU64,
    /// Dropped pushes not yet announced by a mark.
    pub(crate) unmarked: AtomicU64,
    /// The LWP of the producer's last dropped event (`NO_LWP`: none), for
    /// the drop report.
    pub(crate) lwp: AtomicU32,
}

pub(crate) const NO_LWP: u32 = u32::MAX;

// SAFETY: a slot is written only by the producer while it lies in
// `tail .. head + capacity`, and read only by the consumer while it lies in
// `head .. tail`; the Release/Acquire pairs on `tail` and `head` (steps 1
// to 3 of the module doc) hand each slot from one to the other.
unsafe impl Sync for Ring {}
// SAFETY: as above.
unsafe impl Send for Ring {}

impl Ring {
    /// A ring of `capacity` slots (rounded up to a power of two, at least 2).
    pub(crate) fn new(capacity: usize) -> Ring {
        let capacity = capacity.next_power_of_two().max(2);
        Ring {
            slots: cells(capacity),
            mask: capacity - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            unmarked: AtomicU64::new(0),
            lwp: AtomicU32::new(NO_LWP),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Pushes `slots` whole, preceded by `mark(n)` if `n` earlier pushes
    /// were dropped and not announced yet; or drops them all (counted as
    /// one dropped push). Producer only. Returns whether they were pushed.
    #[inline]
    pub(crate) fn push(&self, slots: &[Slot], mark: impl FnOnce(u64) -> Slot) -> bool {
        let tail = self.tail.load(Relaxed);
        // Acquire pairs with the consumer's Release store of `head` (step
        // 3): the slots it has read are ours to overwrite.
        let head = self.head.load(Acquire);
        let unmarked = self.unmarked.load(Relaxed);
        let extra = usize::from(unmarked != 0);
        if tail.wrapping_sub(head) + slots.len() + extra > self.capacity() {
            self.dropped.fetch_add(1, Relaxed);
            self.unmarked.fetch_add(1, Relaxed);
            return false;
        }
        let mut t = tail;
        if unmarked != 0 {
            self.unmarked.fetch_sub(unmarked, Relaxed);
            self.write(t, mark(unmarked));
            t = t.wrapping_add(1);
        }
        for s in slots {
            self.write(t, *s);
            t = t.wrapping_add(1);
        }
        // Release pairs with the consumer's Acquire load of `tail` (step 1).
        self.tail.store(t, Release);
        true
    }

    #[inline]
    fn write(&self, pos: usize, s: Slot) {
        self.slots[pos & self.mask].with_mut(|p| {
            // SAFETY: `pos` lies in `tail .. head + capacity`: the consumer
            // does not read this slot until `tail` passes it (module doc).
            unsafe { *p = s }
        });
    }

    /// Hands each slot the ring holds to `each`, oldest first, then frees
    /// them. Consumer only. Returns how many there were.
    #[cfg(any(test, loom))]
    pub(crate) fn drain<E>(
        &self,
        mut each: impl FnMut(&Slot) -> Result<(), E>,
    ) -> Result<usize, E> {
        let head = self.head.load(Relaxed);
        // Acquire pairs with the producer's Release store of `tail`.
        let tail = self.tail.load(Acquire);
        let mut pos = head;
        while pos != tail {
            // SAFETY: `pos` lies in `head .. tail`: written and published
            // by the producer, not overwritten until `head` moves past it.
            let s = self.slots[pos & self.mask].with(|p| unsafe { *p });
            each(&s)?;
            pos = pos.wrapping_add(1);
        }
        // Release pairs with the producer's Acquire load of `head`.
        self.head.store(tail, Release);
        Ok(tail.wrapping_sub(head))
    }
}

impl Ring {
    /// [`drain`](Ring::drain) in runs: hands the slots the ring holds to
    /// `each` as at most two contiguous slices (before and after the wrap),
    /// oldest first, then frees them. Consumer only. Returns how many
    /// there were. The writer copies each run to the file in one call
    /// (one call per slot cost it ~20 instructions a slot).
    #[cfg(not(loom))]
    pub(crate) fn drain_runs<E>(
        &self,
        mut each: impl FnMut(&[Slot]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let head = self.head.load(Relaxed);
        // Acquire pairs with the producer's Release store of `tail`.
        let tail = self.tail.load(Acquire);
        let n = tail.wrapping_sub(head);
        let start = head & self.mask;
        let first = n.min(self.capacity() - start);
        let base = self.slots.as_ptr().cast::<Slot>();
        // SAFETY: `UnsafeSlot<Slot>` has the layout of `Slot` (transparent
        // over `UnsafeCell`); the slots `head .. tail` (these two runs) are
        // written and published by the producer and not overwritten until
        // `head` moves past them (module doc, steps 1 and 3).
        each(unsafe { std::slice::from_raw_parts(base.add(start), first) })?;
        if n > first {
            // SAFETY: as above; the run after the wrap starts at slot 0.
            each(unsafe { std::slice::from_raw_parts(base, n - first) })?;
        }
        // Release pairs with the producer's Acquire load of `head`.
        self.head.store(tail, Release);
        Ok(n)
    }

    /// Under loom the cells are loom's: one run per slot.
    #[cfg(loom)]
    pub(crate) fn drain_runs<E>(
        &self,
        mut each: impl FnMut(&[Slot]) -> Result<(), E>,
    ) -> Result<usize, E> {
        self.drain(|s| each(std::slice::from_ref(s)))
    }
}

/// `n` zeroed cells. Outside loom, zeroed memory straight from the
/// allocator (`vec!` of zeros asks for it): the pages are touched only as
/// events fill them, so a thread's first event does not pay for writing
/// its whole ring (2 MiB by default; 10 ms in a debug build).
#[cfg(not(loom))]
fn cells(n: usize) -> Box<[UnsafeSlot<Slot>]> {
    let zeros: Box<[Slot]> = vec![[0u64; 4]; n].into_boxed_slice();
    // SAFETY: `UnsafeSlot<T>` is `repr(transparent)` over `UnsafeCell<T>`, which
    // has the layout of `T`: the slice's pointer and length describe the
    // same allocation as a slice of cells.
    unsafe { Box::from_raw(Box::into_raw(zeros) as *mut [UnsafeSlot<Slot>]) }
}

#[cfg(loom)]
fn cells(n: usize) -> Box<[UnsafeSlot<Slot>]> {
    (0..n).map(|_| UnsafeSlot::new([0; 4])).collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn slot(i: u64) -> Slot {
        [i, 2, 0, 0]
    }

    fn drained(r: &Ring) -> Vec<Slot> {
        let mut v = Vec::new();
        r.drain(|s| {
            v.push(*s);
            Ok::<(), ()>(())
        })
        .unwrap();
        v
    }

    #[test]
    fn a_full_ring_drops_and_announces_the_count_before_the_next_push() {
        let r = Ring::new(4);
        for i in 0..6 {
            r.push(&[slot(i)], |n| [0, 16, 0, n]);
        }
        assert_eq!(r.dropped.load(Relaxed), 2);
        assert_eq!(drained(&r).len(), 4);
        r.push(&[slot(9)], |n| [0, 16, 0, n]);
        assert_eq!(drained(&r), [[0, 16, 0, 2], slot(9)]);
    }

    #[test]
    fn drain_runs_splits_at_the_wrap_and_keeps_the_order() {
        let r = Ring::new(4);
        for i in 0..3 {
            r.push(&[slot(i)], |_| unreachable!());
        }
        drained(&r);
        for i in 3..6 {
            r.push(&[slot(i)], |_| unreachable!());
        }
        let mut runs = Vec::new();
        let n = r
            .drain_runs(|run| {
                runs.push(run.to_vec());
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(runs, [vec![slot(3)], vec![slot(4), slot(5)]]);
        assert!(drained(&r).is_empty());
    }

    #[test]
    fn a_drained_ring_takes_pushes_again_across_the_wrap() {
        let r = Ring::new(4);
        for round in 0..5u64 {
            for i in 0..3 {
                r.push(&[slot(round * 10 + i)], |_| unreachable!());
            }
            assert_eq!(drained(&r)[2], slot(round * 10 + 2));
        }
        assert_eq!(r.dropped.load(Relaxed), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    #[test]
    fn every_push_is_drained_whole_once_in_order_or_counted_as_dropped() {
        loom::model(|| {
            let ring: &'static Ring = Box::leak(Box::new(Ring::new(2)));
            let producer = loom::thread::spawn(move || {
                for i in 1..=3u64 {
                    ring.push(&[[i, i, i, i]], |n| [0, 0, 0, 100 + n]);
                }
            });
            let mut seen = Vec::new();
            let mut take = |s: &Slot| {
                seen.push(*s);
                Ok::<(), ()>(())
            };
            ring.drain(&mut take).unwrap();
            producer.join().unwrap();
            ring.drain(&mut take).unwrap();
            let mut last = 0;
            let mut got = 0;
            for s in &seen {
                if s[0] == 0 {
                    continue; // a mark
                }
                assert!(s.iter().all(|&w| w == s[0]), "a torn slot: {seen:?}");
                assert!(s[0] > last, "out of order or twice: {seen:?}");
                last = s[0];
                got += 1;
            }
            assert_eq!(got + ring.dropped.load(Relaxed), 3, "{seen:?}");
        });
    }
}

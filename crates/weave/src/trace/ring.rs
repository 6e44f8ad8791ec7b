//! One thread's ring of trace words: a bounded single-producer,
//! single-consumer queue of 8-byte words, holding whole records of two or
//! more words (see `format.rs`). The producer is the thread that emits
//! events (an LWP, or any OS thread), the consumer the recorder's writer
//! thread.
//!
//! ```text
//!   words:  [ . . x x x x . . ]      x: written, not yet drained
//!                 ^head   ^tail      (positions grow forever; word = pos & mask)
//! ```
//!
//! 1. The producer owns `tail` and the free words `tail .. head + capacity`:
//!    it writes a record's words there, then publishes them with a Release
//!    store of `tail` (on x86_64 a plain store: the only shared write of a
//!    push).
//! 2. The consumer owns `head` and the words `head .. tail`: after an
//!    Acquire load of `tail` it reads them, then frees them with a Release
//!    store of `head`.
//! 3. The producer's Acquire load of `head` before it writes makes the
//!    consumer's reads of those words happen before the overwrite. The
//!    producer keeps `head + capacity` in its [`Cursor`] and loads `head`
//!    again only when a record does not fit below it: one comparison per
//!    push, and the consumer's cache line is read once per lap, not once
//!    per event. The same limit stops at the end of the producer's lap, so
//!    a record the fast path writes lies in one piece of memory (one index,
//!    no mask per word); the one that would cross the end goes the slow
//!    way, which masks each word.
//!
//! A push that does not fit is dropped and counted (`dropped`, and
//! `unmarked` until a DROPPED record announces it): the producer never
//! waits, it may be in the middle of a switch. The loom model below checks
//! that whatever the interleaving, the consumer sees pushed records whole,
//! in order, each once, and that every push is either seen or counted as
//! dropped; and that a record written and left unpublished
//! ([`try_write`](Ring::try_write)) is seen only as its producer finished
//! it, with its open word filled ([`patch_last`](Ring::patch_last)) or
//! bits ORed into one of its words ([`or_back`](Ring::or_back)).
//!
//! Names nothing of weave's but the atomics facade; built under loom.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::loom::{AtomicU32, AtomicU64, AtomicUsize};

/// The cell of a word: loom's checked cell under loom, a plain one
/// otherwise (same `with`/`with_mut` shape).
#[cfg(loom)]
use loom::cell::UnsafeCell as UnsafeWord;

#[cfg(not(loom))]
#[repr(transparent)]
struct UnsafeWord<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeWord<T> {
    #[cfg(test)]
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// The producer's private view of its ring, kept by the producing thread
/// (the recorder keeps it in a thread-local): where the next record goes,
/// and how far it may write before it must look at `head` again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    /// The next word to write (the ring's `tail` as the producer knows it).
    pub(crate) tail: usize,
    /// `head + capacity` as last loaded (words below it are free), or the
    /// end of the lap `tail` is in if that comes first: a record below it
    /// lies in one piece of the ring's memory, so the fast path writes its
    /// words at one index plus constants, without a mask each. Set to 0 to
    /// send the next push to [`Ring::push_slow`].
    pub(crate) limit: usize,
    /// The ring's words as seen from the lap `limit` was set in: word
    /// `pos` of that lap is at `base + pos` (the words' address less the
    /// lap's first position, wrapping), so that the fast path finds a
    /// word with one load from the cursor, not through the ring's fields
    /// and its mask. Set with `limit` ([`Ring::push_slow`]); not used
    /// while `limit` is 0.
    base: *const UnsafeWord<u64>,
}

impl Cursor {
    /// A cursor whose first push takes the slow path (which loads `head`).
    pub(crate) const NEW: Cursor = Cursor {
        tail: 0,
        limit: 0,
        base: std::ptr::null(),
    };

    /// The word at `pos`, a position below `limit` in the lap `limit` was
    /// set in (the record `try_write` writes, or the open one it wrote).
    ///
    /// # Safety
    ///
    /// `pos` must lie in that lap and below `limit`: `base + pos` is then
    /// one of the ring's words.
    #[inline(always)]
    unsafe fn word<'a>(&self, pos: usize) -> &'a UnsafeWord<u64> {
        // SAFETY: the caller's promise; the ring outlives its producer's
        // use of the cursor.
        unsafe { &*self.base.wrapping_add(pos) }
    }
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor::NEW
    }
}

pub(crate) struct Ring {
    words: Box<[UnsafeWord<u64>]>,
    mask: usize,
    /// The mask of the stretch the fast path stays in (`fast_limit`): a
    /// quarter lap, or the whole lap in rings of fewer than 64 words.
    stretch: usize,
    /// Next word the consumer reads. Written by the consumer only.
    head: AtomicUsize,
    /// Next word the producer writes. Written by the producer only.
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

// SAFETY: a word is written only by the producer while it lies in
// `tail .. head + capacity`, and read only by the consumer while it lies in
// `head .. tail`; the Release/Acquire pairs on `tail` and `head` (steps 1
// to 3 of the module doc) hand each word from one to the other.
unsafe impl Sync for Ring {}
// SAFETY: as above.
unsafe impl Send for Ring {}

impl Ring {
    /// A ring of `capacity` words (rounded up to a power of two, at least 8).
    pub(crate) fn new(capacity: usize) -> Ring {
        let capacity = capacity.next_power_of_two().max(8);
        Ring {
            words: cells(capacity),
            mask: capacity - 1,
            stretch: if capacity >= 64 {
                capacity / 4 - 1
            } else {
                capacity - 1
            },
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

    /// Pushes the record `rec` if it fits below `c.limit`; returns false
    /// (having written nothing) if it does not, or if the cursor asks for
    /// the slow path. Producer only, with this ring's cursor. The fast
    /// path of every event: one comparison, `N` stores, one Release store.
    #[inline(always)]
    pub(crate) fn try_push<const N: usize>(&self, c: &mut Cursor, rec: [u64; N]) -> bool {
        if !self.try_write(c, rec, 0) {
            return false;
        }
        self.publish(c);
        true
    }

    /// Writes the record `rec` followed by `open` words left unwritten,
    /// like [`try_push`](Ring::try_push) but without publishing it: the
    /// producer writes the last of them later
    /// ([`patch_last`](Ring::patch_last), which publishes the record).
    /// Producer only.
    #[inline(always)]
    pub(crate) fn try_write<const N: usize>(
        &self,
        c: &mut Cursor,
        rec: [u64; N],
        open: usize,
    ) -> bool {
        if c.tail + N + open > c.limit {
            return false;
        }
        let at = c.tail;
        for (k, w) in rec.into_iter().enumerate() {
            // SAFETY: the check above keeps the record below `c.limit`,
            // which is never past the end of the lap it was set in, the
            // lap `c.tail` is in (`push_slow`).
            let cell = unsafe { c.word(at + k) };
            cell.with_mut(|p| {
                // SAFETY: the word lies in `tail .. head + capacity` (the
                // check above): the consumer does not read it until `tail`
                // passes it (module doc).
                unsafe { *p = w }
            });
        }
        c.tail += N + open;
        true
    }

    /// Sets the last word of the record that [`try_write`](Ring::try_write)
    /// left open to `w`, and publishes it. Producer only.
    #[inline(always)]
    pub(crate) fn patch_last(&self, c: &Cursor, w: u64) {
        // SAFETY: the open word is the last of a record `try_write` wrote
        // below `c.limit`, in its lap; nothing was written since (the
        // producer patches or closes an open record before anything else).
        let cell = unsafe { c.word(c.tail.wrapping_sub(1)) };
        cell.with_mut(|p| {
            // SAFETY: the word lies below `tail + 1`, in `tail .. head +
            // capacity` as the published `tail` stands: the consumer does
            // not read it until the store below (module doc).
            unsafe { *p = w }
        });
        self.publish(c);
    }

    /// ORs `bits` into the word `back` words before the cursor (1: the
    /// last) of the record [`try_write`](Ring::try_write) wrote and left
    /// unpublished, and publishes it. Producer only.
    #[inline]
    pub(crate) fn or_back(&self, c: &Cursor, back: usize, bits: u64) {
        // SAFETY: as in `patch_last`: the word is one of the unpublished
        // record's, below `c.limit` in its lap.
        let cell = unsafe { c.word(c.tail.wrapping_sub(back)) };
        cell.with_mut(|p| {
            // SAFETY: as in `patch_last`: the consumer does not read it
            // until the store below.
            unsafe { *p |= bits }
        });
        self.publish(c);
    }

    /// Publishes the words written up to the cursor. Producer only.
    #[inline(always)]
    pub(crate) fn publish(&self, c: &Cursor) {
        // Release pairs with the consumer's Acquire load of `tail` (step 1).
        self.tail.store(c.tail, Release);
    }

    /// Pushes `rec` whole, preceded by `mark(n)` if `n` earlier pushes
    /// were dropped and not announced yet; or drops it (counted). Loads
    /// `head` again first (step 3). Producer only, with this ring's
    /// cursor. Returns whether it was pushed.
    #[cold]
    #[inline(never)]
    pub(crate) fn push_slow(
        &self,
        c: &mut Cursor,
        rec: &[u64],
        mark: impl FnOnce(u64) -> [u64; 3],
    ) -> bool {
        let Some(free) = self.reserve(c, rec.len()) else {
            return false;
        };
        let unmarked = self.unmarked.load(Relaxed);
        if unmarked != 0 {
            self.unmarked.fetch_sub(unmarked, Relaxed);
            for (k, w) in mark(unmarked).into_iter().enumerate() {
                self.write(c.tail + k, w);
            }
            c.tail += 3;
        }
        for (k, &w) in rec.iter().enumerate() {
            self.write(c.tail + k, w);
        }
        c.tail += rec.len();
        // Release pairs with the consumer's Acquire load of `tail` (step 1).
        self.tail.store(c.tail, Release);
        // The next push takes the fast path only if nothing is left to
        // announce (a mark that did not fit stays counted in `unmarked`).
        let limit = if self.unmarked.load(Relaxed) != 0 {
            0
        } else {
            self.fast_limit(free, c.tail)
        };
        self.set_limit(c, limit);
        true
    }

    /// Whether a record of `len` words (and the DROPPED mark that must go
    /// before it, if drops wait to be announced) fits now: loads `head`
    /// again (step 3) and returns `head + capacity`; or, if it does not
    /// fit, counts it as dropped and returns `None`. Producer only, with
    /// this ring's cursor. The first half of [`push_slow`](Ring::push_slow),
    /// also asked before a record is built, so that one that will be
    /// dropped costs nothing more (its clock read).
    #[cold]
    #[inline(never)]
    pub(crate) fn reserve(&self, c: &mut Cursor, len: usize) -> Option<usize> {
        // Acquire pairs with the consumer's Release store of `head` (step
        // 3): the words it has read are ours to overwrite.
        let free = self.head.load(Acquire) + self.capacity();
        let extra = if self.unmarked.load(Relaxed) != 0 {
            3
        } else {
            0
        };
        if c.tail + len + extra > free {
            self.dropped.fetch_add(1, Relaxed);
            self.unmarked.fetch_add(1, Relaxed);
            self.set_limit(c, self.fast_limit(free, c.tail));
            return None;
        }
        Some(free)
    }

    /// Sets the cursor's fast-path `limit` ([`fast_limit`](Ring::fast_limit)
    /// or 0), and its `base` for the lap its
    /// tail is in (the lap `fast_limit` keeps the limit in).
    fn set_limit(&self, c: &mut Cursor, limit: usize) {
        c.limit = limit;
        c.base = self.words.as_ptr().wrapping_sub(c.tail & !self.mask);
    }

    /// The fast path's limit for a producer at `tail` with the words below
    /// `free` free: `free`, or the end of `tail`'s quarter of the lap (of
    /// the lap, in a ring of fewer than 64 words) if that comes first. A record that would cross the end of the lap takes
    /// the slow path, which masks each word; and the producer takes it
    /// once a quarter lap at least, where the recorder looks at how full
    /// the ring is ([`used`](Ring::used)) and wakes the consumer if it is
    /// half full.
    #[inline]
    fn fast_limit(&self, free: usize, tail: usize) -> usize {
        free.min((tail | self.stretch) + 1)
    }

    /// The words the consumer has not freed, as the producer at cursor
    /// `c` sees them (its own `tail`, the consumer's `head` now). Producer
    /// only; cold (a load of the consumer's line).
    pub(crate) fn used(&self, c: &Cursor) -> usize {
        c.tail.wrapping_sub(self.head.load(Relaxed))
    }

    #[inline(always)]
    fn write(&self, pos: usize, w: u64) {
        // SAFETY: `pos & mask` is below the length, `mask + 1`.
        let cell = unsafe { self.words.get_unchecked(pos & self.mask) };
        cell.with_mut(|p| {
            // SAFETY: `pos` lies in `tail .. head + capacity` (the published
            // `tail`): the consumer does not read this word until `tail`
            // passes it (module doc).
            unsafe { *p = w }
        });
    }

    /// Hands each word the ring holds to `each`, oldest first, then frees
    /// them. Consumer only. Returns how many there were.
    #[cfg(any(test, loom))]
    pub(crate) fn drain<E>(&self, mut each: impl FnMut(u64) -> Result<(), E>) -> Result<usize, E> {
        let head = self.head.load(Relaxed);
        // Acquire pairs with the producer's Release store of `tail`.
        let tail = self.tail.load(Acquire);
        let mut pos = head;
        while pos != tail {
            // SAFETY: `pos` lies in `head .. tail`: written and published
            // by the producer, not overwritten until `head` moves past it.
            let w = self.words[pos & self.mask].with(|p| unsafe { *p });
            each(w)?;
            pos = pos.wrapping_add(1);
        }
        // Release pairs with the producer's Acquire load of `head`.
        self.head.store(tail, Release);
        Ok(tail.wrapping_sub(head))
    }
}

impl Ring {
    /// [`drain`](Ring::drain) in runs: hands the words the ring holds to
    /// `each` as at most two contiguous slices (before and after the wrap),
    /// oldest first, with the total, then frees them. Consumer only.
    /// Returns how many there were. The writer copies each run to the file
    /// in one call.
    #[cfg(not(loom))]
    pub(crate) fn drain_runs<E>(
        &self,
        each: impl FnOnce(usize, &[u64], &[u64]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let head = self.head.load(Relaxed);
        // Acquire pairs with the producer's Release store of `tail`.
        let tail = self.tail.load(Acquire);
        let n = tail.wrapping_sub(head);
        if n == 0 {
            return Ok(0);
        }
        let start = head & self.mask;
        let first = n.min(self.capacity() - start);
        let base = self.words.as_ptr().cast::<u64>();
        // SAFETY: `UnsafeWord<u64>` has the layout of `u64` (transparent
        // over `UnsafeCell`); the words `head .. tail` (these two runs) are
        // written and published by the producer and not overwritten until
        // `head` moves past them (module doc, steps 1 and 3).
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(base.add(start), first),
                std::slice::from_raw_parts(base, n - first),
            )
        };
        each(n, a, b)?;
        // Release pairs with the producer's Acquire load of `head`.
        self.head.store(tail, Release);
        Ok(n)
    }
}

/// `n` zeroed cells. Outside loom, zeroed memory straight from the
/// allocator (`vec!` of zeros asks for it): the pages are touched only as
/// events fill them, so a thread's first event does not pay for writing
/// its whole ring (4 MiB by default; tens of ms in a debug build).
#[cfg(not(loom))]
fn cells(n: usize) -> Box<[UnsafeWord<u64>]> {
    let zeros: Box<[u64]> = vec![0u64; n].into_boxed_slice();
    // SAFETY: `UnsafeWord<T>` is `repr(transparent)` over `UnsafeCell<T>`, which
    // has the layout of `T`: the slice's pointer and length describe the
    // same allocation as a slice of cells.
    unsafe { Box::from_raw(Box::into_raw(zeros) as *mut [UnsafeWord<u64>]) }
}

#[cfg(loom)]
fn cells(n: usize) -> Box<[UnsafeWord<u64>]> {
    (0..n).map(|_| UnsafeWord::new(0)).collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const MARK: u64 = 99;

    fn mark(n: u64) -> [u64; 3] {
        [MARK, 0, n]
    }

    fn push(r: &Ring, c: &mut Cursor, rec: [u64; 2]) -> bool {
        r.try_push(c, rec) || r.push_slow(c, &rec, mark)
    }

    fn drained(r: &Ring) -> Vec<u64> {
        let mut v = Vec::new();
        r.drain(|w| {
            v.push(w);
            Ok::<(), ()>(())
        })
        .unwrap();
        v
    }

    #[test]
    fn a_full_ring_drops_and_announces_the_count_before_the_next_push() {
        let r = Ring::new(8);
        let mut c = Cursor::default();
        for i in 0..6 {
            push(&r, &mut c, [i, i]);
        }
        assert_eq!(r.dropped.load(Relaxed), 2);
        assert_eq!(drained(&r).len(), 8);
        push(&r, &mut c, [9, 9]);
        assert_eq!(drained(&r), [MARK, 0, 2, 9, 9]);
        assert_eq!(r.unmarked.load(Relaxed), 0);
    }

    #[test]
    fn the_fast_path_refuses_what_it_has_not_seen_room_for() {
        let r = Ring::new(8);
        let mut c = Cursor::default();
        assert!(!r.try_push(&mut c, [1, 1]), "a new cursor has no room yet");
        assert!(r.push_slow(&mut c, &[1, 1], mark));
        assert!(r.try_push(&mut c, [2, 2]), "room was seen by the slow path");
        assert_eq!(drained(&r), [1, 1, 2, 2]);
    }

    #[test]
    fn drain_runs_splits_at_the_wrap_and_keeps_the_order() {
        let r = Ring::new(8);
        let mut c = Cursor::default();
        for i in 0..3 {
            push(&r, &mut c, [i, i]);
        }
        drained(&r);
        for i in 3..6 {
            push(&r, &mut c, [i, i]);
        }
        let mut runs = Vec::new();
        let n = r
            .drain_runs(|n, a, b| {
                runs.push((n, a.to_vec(), b.to_vec()));
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(n, 6);
        assert_eq!(runs, [(6, vec![3, 3], vec![4, 4, 5, 5])]);
        assert!(drained(&r).is_empty());
    }

    #[test]
    fn a_written_record_is_unseen_until_patched_and_published() {
        let r = Ring::new(8);
        let mut c = Cursor::default();
        push(&r, &mut c, [1, 1]);
        assert!(r.try_write(&mut c, [2, 2], 1));
        assert_eq!(drained(&r), [1, 1], "not published yet");
        r.patch_last(&c, 7);
        assert_eq!(drained(&r), [2, 2, 7]);
    }

    #[test]
    fn a_record_across_the_end_of_the_ring_goes_the_slow_way_and_comes_out_whole() {
        let r = Ring::new(8);
        let mut c = Cursor::default();
        for i in 0..3 {
            push(&r, &mut c, [i, i]);
        }
        drained(&r);
        assert!(
            !r.try_push(&mut c, [4, 4, 4]),
            "words 6, 7 and 0: across the end"
        );
        assert!(r.push_slow(&mut c, &[4, 4, 4], mark));
        assert!(
            r.try_push(&mut c, [5, 5]),
            "back in one piece: the fast path"
        );
        assert_eq!(drained(&r), [4, 4, 4, 5, 5]);
    }

    #[test]
    fn the_fast_path_stops_at_each_quarter_lap_of_a_large_ring() {
        let r = Ring::new(64);
        let mut c = Cursor::default();
        assert!(r.push_slow(&mut c, &[1, 1], mark));
        for i in 0..7 {
            assert!(r.try_push(&mut c, [i, i]), "inside the first quarter");
        }
        assert_eq!(r.used(&c), 16);
        assert!(
            !r.try_push(&mut c, [8, 8]),
            "the quarter's end: the slow way"
        );
        assert!(r.push_slow(&mut c, &[8, 8], mark));
        assert!(r.try_push(&mut c, [9, 9]), "the next quarter");
        assert_eq!(r.dropped.load(Relaxed), 0);
        assert_eq!(drained(&r).len(), 20);
    }

    #[test]
    fn a_drained_ring_takes_pushes_again_across_the_wrap() {
        let r = Ring::new(8);
        let mut c = Cursor::default();
        for round in 0..5u64 {
            for i in 0..3 {
                push(&r, &mut c, [round * 10 + i, 0]);
            }
            assert_eq!(drained(&r)[4], round * 10 + 2);
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
            // Room for four records of two words: the producer's five
            // pushes (and a mark) must overrun it unless the consumer
            // frees words in between.
            let ring: &'static Ring = Box::leak(Box::new(Ring::new(8)));
            let producer = loom::thread::spawn(move || {
                let mut c = Cursor::default();
                for i in 1..=5u64 {
                    if !ring.try_push(&mut c, [i, i]) {
                        ring.push_slow(&mut c, &[i, i], |n| [0, 0, 100 + n]);
                    }
                }
            });
            let mut seen = Vec::new();
            let mut take = |w: u64| {
                seen.push(w);
                Ok::<(), ()>(())
            };
            ring.drain(&mut take).unwrap();
            producer.join().unwrap();
            ring.drain(&mut take).unwrap();
            let (mut last, mut got, mut i) = (0, 0, 0);
            while i < seen.len() {
                if seen[i] == 0 {
                    i += 3; // a mark
                    continue;
                }
                assert_eq!(seen[i], seen[i + 1], "a torn record: {seen:?}");
                assert!(seen[i] > last, "out of order or twice: {seen:?}");
                last = seen[i];
                got += 1;
                i += 2;
            }
            assert_eq!(got + ring.dropped.load(Relaxed), 5, "{seen:?}");
        });
    }

    #[test]
    fn a_record_written_open_is_drained_only_with_its_patched_word() {
        loom::model(|| {
            let ring: &'static Ring = Box::leak(Box::new(Ring::new(8)));
            let producer = loom::thread::spawn(move || {
                let mut c = Cursor::default();
                ring.push_slow(&mut c, &[1, 1], |n| [0, 0, n]);
                if ring.try_write(&mut c, [2, 2], 1) {
                    ring.patch_last(&c, 2);
                }
            });
            let mut seen = Vec::new();
            let mut take = |w: u64| {
                seen.push(w);
                Ok::<(), ()>(())
            };
            ring.drain(&mut take).unwrap();
            producer.join().unwrap();
            ring.drain(&mut take).unwrap();
            assert_eq!(seen, [1, 1, 2, 2, 2], "a torn or unpatched record");
        });
    }

    /// `or_back` changes a word of the record `try_write` wrote whole and
    /// left unpublished (a LEAN_WOKE record marked LEAN_NORUN), as
    /// `patch_last` fills its open word: the consumer sees the record
    /// only with the bits in it.
    #[test]
    fn a_record_written_unpublished_is_drained_only_with_its_ored_bits() {
        loom::model(|| {
            let ring: &'static Ring = Box::leak(Box::new(Ring::new(8)));
            let producer = loom::thread::spawn(move || {
                let mut c = Cursor::default();
                ring.push_slow(&mut c, &[1, 1], |n| [0, 0, n]);
                if ring.try_write(&mut c, [2, 3], 0) {
                    ring.or_back(&c, 2, 4);
                }
            });
            let mut seen = Vec::new();
            let mut take = |w: u64| {
                seen.push(w);
                Ok::<(), ()>(())
            };
            ring.drain(&mut take).unwrap();
            producer.join().unwrap();
            ring.drain(&mut take).unwrap();
            assert_eq!(seen, [1, 1, 6, 3], "a torn record or one without its bits");
        });
    }
}

//! room: the count behind a stack promise (`Pool::promise`), per size class.
//!
//! A spawn promises its ULT a stack that the first run takes; the promise
//! must be good, so the class keeps reserved (uncarved, untouched) address
//! space for every promise outstanding. The count is
//!
//! ```text
//!   room = carvable - promised
//! ```
//!
//! where `carvable` is the stacks the class's reserved chunks can still
//! give (kept under the class lock) and `promised` the promises not yet
//! kept. The steps, and who may take them:
//!
//! 1. **promise** (any spawner, no lock): `room -= 1`; if it was above 0,
//!    done.
//! 2. **cover** (that spawner, under the class lock): while `room < 0`,
//!    reserve a chunk (`carvable += k`, `room += k`); if the reservation
//!    fails, `room += 1` (the promise is withdrawn) and the spawn fails.
//! 3. **keep from a cache or list** (the first run, no lock): the stack is
//!    not carved, so `room += 1`.
//! 4. **keep by carving** (the first run, under the class lock): its own
//!    stack is its promise's (`carvable -= 1`, `promised -= 1`: room is
//!    unchanged); the batch's extra stacks must *claim* room (`room -= j`
//!    for some `j` with room staying at least 0), then `carvable -= 1 + j`.
//!
//! 5. **credit** (a spawner, no lock): a thread's stack cache may take
//!    room ahead for its next spawns, by step 4's claim (never below 0),
//!    and keeps the room of promises that its cached stacks kept instead
//!    of giving it back (step 3); it gives back what it holds beyond a
//!    bound, and all of it when drained (`Cache` in `stack/mod.rs`). Room
//!    held so counts as promised: the count is only ever smaller for it.
//!
//! Why a carve never goes past the reserved space: room below 0 means
//! promisers are in step 2, not yet covered, so a claim takes nothing; a
//! covered promise had `room >= 0` after it, so `carvable >= promised`
//! counting it, and only its own keep or a claim that leaves `room >= 0`
//! lowers `carvable`. The loom model below checks it over every
//! interleaving of three threads.
//!
//! Owns only the count; `stack/mod.rs` owns the chunks and the lock.

use std::io;

use crate::loom::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

/// One class's room. The count is an `isize` kept in an `AtomicUsize`
/// (the loom facade has no signed atomics); wrapping arithmetic on the
/// word is signed arithmetic on the value. Relaxed throughout: it counts,
/// and the address space it stands for is handed out under the class lock.
pub(crate) struct Room {
    n: AtomicUsize,
}

impl Room {
    pub(crate) fn new() -> Room {
        Room {
            n: AtomicUsize::new(0),
        }
    }

    /// The room now (step 1's result may make it negative for a while).
    pub(crate) fn get(&self) -> isize {
        self.n.load(Relaxed) as isize
    }

    /// Step 1: takes one; true if it was there. On false the caller must
    /// go on to [`cover`](Self::cover), under the class lock.
    #[inline]
    pub(crate) fn promise(&self) -> bool {
        self.n.fetch_sub(1, Relaxed) as isize > 0
    }

    /// Step 2, under the class lock: reserves with `reserve` (which
    /// returns the stacks it added to the class's carvable count) until
    /// the room is not negative; on a failed reservation withdraws the
    /// caller's promise and returns the error.
    pub(crate) fn cover(&self, mut reserve: impl FnMut() -> io::Result<usize>) -> io::Result<()> {
        while self.get() < 0 {
            match reserve() {
                Ok(k) => self.give(k),
                Err(e) => {
                    self.give(1);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Steps 3 and the undoing of step 1 (a promise given back), or room
    /// `k` more carvable stacks brought (a reservation).
    #[inline]
    pub(crate) fn give(&self, k: usize) {
        self.n.fetch_add(k, Relaxed);
    }

    /// Step 4's claim (under the class lock) and step 5's (a spawner's,
    /// without it): takes up to `want` without taking the room below 0;
    /// returns how many.
    pub(crate) fn claim(&self, want: usize) -> usize {
        let mut r = self.get();
        while want > 0 && r > 0 {
            let k = want.min(r as usize);
            match self.n.compare_exchange_weak(
                r as usize,
                (r - k as isize) as usize,
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return k,
                Err(now) => r = now as isize,
            }
        }
        0
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Mutex};

    /// The class's side: the stacks its reserved chunks can still give,
    /// and how many more chunks (of 2 stacks) may be reserved.
    struct Chunks {
        carvable: usize,
        left: usize,
    }

    /// A spawn's promise (steps 1-2) and its first run's carve of its own
    /// stack and up to two more (step 4), as `Pool::promise` and
    /// `Pool::carve` take them.
    fn spawn_and_run(room: &Room, chunks: &Mutex<Chunks>) {
        if !room.promise() {
            let mut c = chunks.lock().unwrap();
            let covered = room.cover(|| {
                if c.left == 0 {
                    return Err(io::Error::from(io::ErrorKind::OutOfMemory));
                }
                c.left -= 1;
                c.carvable += 2;
                Ok(2)
            });
            if covered.is_err() {
                return;
            }
        }
        let mut c = chunks.lock().unwrap();
        let extra = room.claim(2);
        c.carvable = c
            .carvable
            .checked_sub(1 + extra)
            .expect("a carve went past the reserved address space");
    }

    /// Bounded to 3 preemptions (~0.2 CPU s; unbounded it took ~30): it
    /// still fails at 1, 2 and 3 ("a carve went past the reserved address
    /// space") with `claim` taking what it wants regardless of the room,
    /// and with its compare-exchange made a load and a store.
    #[test]
    fn carves_stay_within_the_reserved_space_and_the_count_comes_back() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let room = Arc::new(Room::new());
            let chunks = Arc::new(Mutex::new(Chunks {
                carvable: 2,
                left: 1,
            }));
            room.give(2);
            let others: Vec<_> = (0..2)
                .map(|_| {
                    let (room, chunks) = (room.clone(), chunks.clone());
                    loom::thread::spawn(move || spawn_and_run(&room, &chunks))
                })
                .collect();
            spawn_and_run(&room, &chunks);
            for t in others {
                t.join().unwrap();
            }
            // No promise is outstanding: the room is the carvable count.
            let c = chunks.lock().unwrap();
            assert_eq!(room.get(), c.carvable as isize);
        });
    }
}

//! The spill: where the top half leaves a real-time record when its
//! signal's ring is full, so that it never waits for the dispatcher. The
//! dispatcher may itself wait for a lock that the code the signal
//! interrupted holds (a lane's, the queues of thread-directed records):
//! a top half that waited for room in the ring would then wait for good.
//!
//! A fixed array of slots shared by every signal, atomics only
//! (async-signal-safe, re-entrant), each record stamped with a ticket from
//! one counter: the order the records were spilled in.
//!
//! | `state` | meaning                                  | moved by                 |
//! |---------|------------------------------------------|--------------------------|
//! | `FREE`  | unused                                   | `put` (CAS to `BUSY`)    |
//! | `BUSY`  | being written (or orphaned by a `fork`)  | its writer               |
//! | `FULL`  | holds a record and its ticket            | `take_all` (CAS to `BUSY`, then `FREE`) |
//!
//! ## Order
//!
//! Two records of one signal spilled by one thread are spilled one after
//! the other (the kernel blocks a signal while its handler runs): the
//! first's `FULL` store comes before the second's ticket. `take_all`
//! (the one consumer) takes every `FULL` record it sees, then looks again
//! for records with a lower ticket than the highest it took, until a look
//! takes none: having acquired the second's `FULL`, a later look sees the
//! first's. Sorted by ticket, a thread's records come out in the order it
//! spilled them. Records of different threads spilled at once have no
//! order to keep. Loom-checked below.
//!
//! Names nothing of weave's but the atomics facade.

use super::ring::{Record, Words};
use crate::loom::{AtomicU32, AtomicU64, AtomicUsize};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

const FREE: u32 = 0;
const BUSY: u32 = 1;
const FULL: u32 = 2;

struct Slot {
    state: AtomicU32,
    ticket: AtomicU64,
    words: Words,
}

pub(crate) struct Spill {
    slots: Box<[Slot]>,
    /// The next ticket.
    next: AtomicU64,
    /// Records taken out by `take_all` (only the consumer moves it): equal
    /// to `next` when nothing is spilled or being spilled.
    taken: AtomicU64,
    /// Where the next `put` starts looking.
    hint: AtomicUsize,
}

impl Spill {
    pub(crate) fn new(n: usize) -> Spill {
        Spill {
            slots: (0..n)
                .map(|_| Slot {
                    state: AtomicU32::new(FREE),
                    ticket: AtomicU64::new(0),
                    words: Words::new(),
                })
                .collect(),
            next: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            hint: AtomicUsize::new(0),
        }
    }

    /// Keeps `r`; false if every slot is in use.
    // ASYNC-SIGNAL-SAFE: atomics only.
    pub(crate) fn put(&self, r: &Record) -> bool {
        let n = self.slots.len();
        let start = self.hint.fetch_add(1, Relaxed) % n;
        for k in 0..n {
            let s = &self.slots[(start + k) % n];
            // Acquire pairs with the Release in `take_all` that freed it:
            // the consumer's reads are done before we overwrite.
            if s.state
                .compare_exchange(FREE, BUSY, Acquire, Relaxed)
                .is_ok()
            {
                // The ticket is drawn after the slot is ours: every ticket
                // ends in a record (a full spill draws none).
                s.ticket.store(self.next.fetch_add(1, Relaxed), Relaxed);
                s.words.write(r);
                // Release pairs with the Acquire loads in `take_all`: the
                // words and the ticket, and everything this thread did
                // before (an earlier spill, an earlier ring push), are
                // visible to whoever sees FULL.
                s.state.store(FULL, Release);
                return true;
            }
        }
        false
    }

    /// Whether records may be spilled (a cheap look before `take_all`).
    pub(crate) fn is_empty(&self) -> bool {
        self.next.load(Relaxed) == self.taken.load(Relaxed)
    }

    /// Takes the spilled records, appends them to `out` oldest first (see
    /// the module doc). Only the one consumer calls this.
    pub(crate) fn take_all(&self, out: &mut Vec<Record>) {
        let mut got: Vec<(u64, Record)> = Vec::new();
        self.take_below(u64::MAX, &mut got);
        if let Some(top) = got.iter().map(|(t, _)| *t).max() {
            while self.take_below(top, &mut got) {}
        }
        got.sort_unstable_by_key(|(t, _)| *t);
        self.taken.fetch_add(got.len() as u64, Relaxed);
        out.extend(got.into_iter().map(|(_, r)| r));
    }

    /// One look: takes the `FULL` records with a ticket below `top`.
    fn take_below(&self, top: u64, got: &mut Vec<(u64, Record)>) -> bool {
        let mut any = false;
        for s in self.slots.iter() {
            // Acquire pairs with the Release store of FULL in `put`.
            if s.state.load(Acquire) != FULL {
                continue;
            }
            let t = s.ticket.load(Relaxed);
            if t >= top && top != u64::MAX {
                continue;
            }
            // Only the consumer moves a FULL slot: this cannot fail.
            s.state.store(BUSY, Relaxed);
            got.push((t, s.words.read()));
            // Release pairs with the Acquire CAS of the next `put`.
            s.state.store(FREE, Release);
            any = true;
        }
        any
    }

    /// In the child of a fork (one thread, nobody in `put`): frees the
    /// slots the parent's other threads were writing, and counts the
    /// records the parent's consumer had taken and not delivered as gone.
    /// Returns each signal's count of records still held, by signal.
    pub(crate) fn after_fork(&self, counts: &mut [u32]) {
        let mut full = 0;
        for s in self.slots.iter() {
            match s.state.load(Relaxed) {
                BUSY => s.state.store(FREE, Relaxed),
                FULL => {
                    full += 1;
                    let sig = s.words.read().signo as usize;
                    if let Some(c) = counts.get_mut(sig) {
                        *c += 1;
                    }
                }
                _ => {}
            }
        }
        self.taken
            .store(self.next.load(Relaxed).wrapping_sub(full), Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::ring::sample;
    use super::*;

    #[test]
    fn spilled_records_come_out_once_in_the_order_spilled() {
        let sp = Spill::new(4);
        assert!(sp.is_empty());
        for v in 0..4 {
            assert!(sp.put(&sample(34, v)));
        }
        assert!(!sp.put(&sample(34, 9)), "a full spill refuses");
        assert!(!sp.is_empty());
        let mut out = Vec::new();
        sp.take_all(&mut out);
        assert_eq!(out, (0..4).map(|v| sample(34, v)).collect::<Vec<_>>());
        assert!(sp.is_empty());
        assert!(sp.put(&sample(34, 10)), "taken slots are free again");
        out.clear();
        sp.take_all(&mut out);
        assert_eq!(out, vec![sample(34, 10)]);
    }

    #[test]
    fn after_a_fork_orphaned_slots_are_freed_and_held_records_counted() {
        let sp = Spill::new(4);
        assert!(sp.put(&sample(34, 1)));
        assert!(sp.put(&sample(35, 2)));
        // A slot a parent thread was writing at the fork.
        sp.slots[3].state.store(BUSY, Relaxed);
        sp.next.fetch_add(1, Relaxed);
        let mut counts = [0u32; 65];
        sp.after_fork(&mut counts);
        assert_eq!((counts[34], counts[35]), (1, 1));
        let mut out = Vec::new();
        sp.take_all(&mut out);
        assert_eq!(out.len(), 2);
        assert!(sp.is_empty(), "the orphan's ticket is not waited for");
        assert!((0..4).all(|_| sp.put(&sample(34, 3))), "every slot free");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::ring::sample;
    use super::*;
    use loom::sync::Arc;

    /// One thread spills two records of a signal while the consumer takes
    /// what is there, twice: each record comes out once, the two in the
    /// order they were spilled.
    #[test]
    fn a_threads_spilled_records_come_out_once_in_order() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let sp = Arc::new(Spill::new(3));
            let s2 = sp.clone();
            let other = loom::thread::spawn(move || assert!(s2.put(&sample(35, 7))));
            let sp3 = sp.clone();
            let t = loom::thread::spawn(move || {
                assert!(sp3.put(&sample(34, 1)));
                assert!(sp3.put(&sample(34, 2)));
            });
            let ours = |out: &[Record]| -> Vec<u64> {
                out.iter()
                    .filter(|r| r.signo == 34)
                    .map(|r| r.value)
                    .collect()
            };
            let mut out = Vec::new();
            sp.take_all(&mut out);
            let first = ours(&out);
            assert!(
                first.is_empty() || first == [1] || first == [1, 2],
                "{first:?}"
            );
            t.join().unwrap();
            other.join().unwrap();
            sp.take_all(&mut out);
            assert_eq!(ours(&out), [1, 2]);
            assert_eq!(out.len(), 3);
            assert!(sp.is_empty());
        });
    }
}

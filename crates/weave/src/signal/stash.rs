//! The stash: where the top half keeps the `siginfo` of a signal it sends
//! on (case 3, to another LWP) or raises again (case 4, for the process).
//!
//! The kernel does not let a thread re-send a signal with its original
//! `siginfo` when that says "from `kill`" (`si_code >= 0`, or `SI_TKILL`):
//! only the main thread may, to its own process. So the top half puts the
//! original record here and re-sends the signal as a `sigqueue` whose value
//! is a token naming the slot (tag, generation, index); the top half that
//! takes it there swaps the original back in. The sender's pid, the value
//! of a real-time signal and the case it went through survive the trip.
//!
//! A fixed array of slots, atomics only (async-signal-safe, re-entrant):
//!
//! | `state` | meaning                                   | moved by               |
//! |---------|-------------------------------------------|------------------------|
//! | `FREE`  | unused                                    | `put` (CAS to `BUSY`)  |
//! | `BUSY`  | being written or being read               | its owner              |
//! | `FULL`  | holds a record for the token's generation | `take` (CAS to `BUSY`) |
//!
//! The generation, bumped at each `take`, makes a stale or forged token
//! (a user's own `sigqueue` value that happens to carry the tag) find
//! nothing. Names nothing of weave's but the atomics facade.
//!
//! ## Standard signals: one record per key
//!
//! The kernel may drop a standard signal's `siginfo` (it merges a signal
//! already pending on the same queue into that one; at
//! `RLIMIT_SIGPENDING` it queues a `sigqueue`d one without its `siginfo`,
//! delivered as `SI_USER` from pid 0): its token then never comes back. So
//! standard signals have a stash of their own ([`Stash::put_keyed`]), that
//! keeps at most one record per key (the signal and the thread it was sent
//! to, 0 for the process), as the kernel keeps at most one such signal
//! pending per queue: a second send while the first is kept overwrites the
//! record behind the same token (the two merge in the kernel, or the first
//! takes the second's record and the second finds its token stale), and a
//! delivery without the token takes the record by its key
//! ([`Stash::take_key`]), `siginfo` and all.

use super::ring::{Record, Words};
use crate::loom::{AtomicU32, AtomicU64, AtomicUsize};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

const FREE: u32 = 0;
const BUSY: u32 = 1;
const FULL: u32 = 2;

/// High bits of a stash token: a `sigqueue` value weave made ("WS"; the
/// stash of standard signals uses [`KEYED_TAG`]).
pub(crate) const TAG: u64 = 0x5753_0000_0000_0000;
/// The tag of the stash of standard signals ("WK").
pub(crate) const KEYED_TAG: u64 = 0x574b_0000_0000_0000;
const TAG_MASK: u64 = 0xffff_0000_0000_0000;

struct Slot {
    state: AtomicU32,
    generation: AtomicU32,
    /// For [`Stash::put_keyed`]: the record's key, written while `BUSY`.
    key: AtomicU64,
    words: Words,
}

pub(crate) struct Stash {
    slots: Box<[Slot]>,
    /// Where the next `put` starts looking (spreads the slots in use).
    hint: AtomicUsize,
    /// The high bits of this stash's tokens.
    tag: u64,
}

impl Stash {
    pub(crate) fn new(n: usize, tag: u64) -> Stash {
        assert!(n <= u16::MAX as usize);
        Stash {
            slots: (0..n)
                .map(|_| Slot {
                    state: AtomicU32::new(FREE),
                    generation: AtomicU32::new(0),
                    key: AtomicU64::new(0),
                    words: Words::new(),
                })
                .collect(),
            hint: AtomicUsize::new(0),
            tag,
        }
    }

    /// Whether `token` is one of this stash's (live or stale).
    // ASYNC-SIGNAL-SAFE
    pub(crate) fn owns(&self, token: u64) -> bool {
        token & TAG_MASK == self.tag
    }

    /// Slots in use now (for tests: none once every signal sent on has
    /// been taken).
    pub(crate) fn in_use(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state.load(Relaxed) != FREE)
            .count()
    }

    /// As [`Stash::put`], keeping at most one record per `key` (see the
    /// module doc): if one is kept, `r` replaces it behind its token.
    // ASYNC-SIGNAL-SAFE: atomics only.
    pub(crate) fn put_keyed(&self, r: &Record, key: u64) -> Option<u64> {
        let Some((i, s)) = self.claim_key(key) else {
            return self.put_with(r, key);
        };
        s.words.write(r);
        let g = s.generation.load(Relaxed);
        // Release pairs with the Acquire CAS in `take`/`claim_key`.
        s.state.store(FULL, Release);
        Some(self.tag | u64::from(g) << 16 | i as u64)
    }

    /// The record kept for `key`, if any; frees its slot.
    // ASYNC-SIGNAL-SAFE: atomics only.
    pub(crate) fn take_key(&self, key: u64) -> Option<Record> {
        self.claim_key(key).map(|(_, s)| Self::take_held(s))
    }

    /// The slot holding the record kept for `key`, moved to `BUSY` (the
    /// caller's until it stores `FULL` or frees it), and its index.
    // ASYNC-SIGNAL-SAFE: atomics only.
    fn claim_key(&self, key: u64) -> Option<(usize, &Slot)> {
        for (i, s) in self.slots.iter().enumerate() {
            if s.key.load(Relaxed) != key {
                continue;
            }
            // Acquire pairs with the Release store of FULL in `put`.
            if s.state
                .compare_exchange(FULL, BUSY, Acquire, Relaxed)
                .is_err()
            {
                continue;
            }
            if s.key.load(Relaxed) == key {
                return Some((i, s));
            }
            // Taken and used again for another key meanwhile.
            s.state.store(FULL, Release);
        }
        None
    }

    // ASYNC-SIGNAL-SAFE: atomics only.
    pub(crate) fn put(&self, r: &Record) -> Option<u64> {
        self.put_with(r, 0)
    }

    // ASYNC-SIGNAL-SAFE: atomics only.
    fn put_with(&self, r: &Record, key: u64) -> Option<u64> {
        let n = self.slots.len();
        let start = self.hint.fetch_add(1, Relaxed) % n;
        for k in 0..n {
            let i = (start + k) % n;
            let s = &self.slots[i];
            // Acquire pairs with the Release in `take` that freed it: the
            // taker's reads are done before we overwrite.
            if s.state
                .compare_exchange(FREE, BUSY, Acquire, Relaxed)
                .is_ok()
            {
                s.words.write(r);
                s.key.store(key, Relaxed);
                let g = s.generation.load(Relaxed);
                // Release pairs with the Acquire CAS in `take`.
                s.state.store(FULL, Release);
                return Some(self.tag | u64::from(g) << 16 | i as u64);
            }
        }
        None
    }

    /// The record behind `token`, if it is a live token of this stash;
    /// frees its slot.
    // ASYNC-SIGNAL-SAFE: atomics only.
    pub(crate) fn take(&self, token: u64) -> Option<Record> {
        if !self.owns(token) {
            return None;
        }
        let i = (token & 0xffff) as usize;
        let g = (token >> 16) as u32;
        let s = self.slots.get(i)?;
        // Acquire pairs with the Release store of FULL in `put`.
        if s.state
            .compare_exchange(FULL, BUSY, Acquire, Relaxed)
            .is_err()
        {
            return None;
        }
        if s.generation.load(Relaxed) != g {
            // Not our generation: leave the slot to its real token.
            s.state.store(FULL, Release);
            return None;
        }
        Some(Self::take_held(s))
    }

    /// Reads the record of slot `s`, which the caller moved to `BUSY`, and
    /// frees the slot for the next generation.
    // ASYNC-SIGNAL-SAFE: atomics only.
    fn take_held(s: &Slot) -> Record {
        let r = s.words.read();
        s.key.store(0, Relaxed);
        s.generation
            .store(s.generation.load(Relaxed).wrapping_add(1), Relaxed);
        // Release pairs with the Acquire CAS of the next `put`.
        s.state.store(FREE, Release);
        r
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::ring::sample;
    use super::*;

    #[test]
    fn a_token_gives_its_record_back_once() {
        let st = Stash::new(2, TAG);
        let t = st.put(&sample(10, 5)).unwrap();
        assert_eq!(st.take(t), Some(sample(10, 5)));
        assert_eq!(st.take(t), None, "a used token is stale");
    }

    #[test]
    fn a_key_keeps_one_record_taken_by_token_or_by_key() {
        let st = Stash::new(4, KEYED_TAG);
        let t = st.put_keyed(&sample(10, 1), 77).unwrap();
        assert_eq!(st.put_keyed(&sample(10, 2), 77), Some(t), "merged");
        let u = st.put_keyed(&sample(10, 3), 78).unwrap();
        assert_ne!(t, u);
        assert_eq!(st.in_use(), 2);
        assert_eq!(st.take(t), Some(sample(10, 2)));
        assert_eq!(st.take_key(77), None, "taken by its token");
        assert_eq!(st.take_key(78), Some(sample(10, 3)));
        assert_eq!(st.take(u), None, "taken by its key");
        assert_eq!(st.in_use(), 0);
        assert!(!st.owns(t & !TAG_MASK | TAG), "the other stash's tag");
    }

    #[test]
    fn foreign_values_and_full_stash_are_refused() {
        let st = Stash::new(1, TAG);
        assert_eq!(st.take(12345), None);
        let t = st.put(&sample(10, 1)).unwrap();
        assert_eq!(st.put(&sample(10, 2)), None, "one slot, in use");
        assert_eq!(st.take(t ^ (1 << 16)), None, "another generation");
        assert_eq!(st.take(t), Some(sample(10, 1)));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::ring::sample;
    use super::*;
    use loom::sync::Arc;

    /// Two concurrent puts into a two-slot stash never share a slot, and
    /// each token gives back exactly its own record.
    #[test]
    fn stash_puts_do_not_collide() {
        loom::model(|| {
            let st = Arc::new(Stash::new(2, TAG));
            let hs: Vec<_> = (0..2u64)
                .map(|v| {
                    let st = st.clone();
                    loom::thread::spawn(move || st.put(&sample(34, v)).unwrap())
                })
                .collect();
            let toks: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            assert_ne!(toks[0], toks[1]);
            for (v, t) in toks.into_iter().enumerate() {
                assert_eq!(st.take(t), Some(sample(34, v as u64)));
            }
        });
    }
}

//! The per-signal record ring: where the top half (the kernel-level
//! handler, in signal context) leaves each signal it took, for the
//! dispatcher to pick up (its router, or when a top half waits for room,
//! its drainer; one at a time: `dispatch.rs`'s consumer flag).
//!
//! A bounded multi-producer, single-consumer queue (Vyukov's), one per
//! handled signal, made of atomics only, so that a push is
//! async-signal-safe: no lock, no allocation, and re-entrant. A push
//! interrupted between claiming its slot and publishing it by another
//! signal on the same thread is not in the way of the nested push (that
//! one claims the next slot); the consumer waits for the older slot, so
//! records of one signal leave in the order they were claimed, which is
//! the order real-time signals must be delivered in.
//!
//! Each slot:
//!
//! | `seq` of slot `i` | meaning                                              |
//! |-------------------|------------------------------------------------------|
//! | `i`, `i + k·cap`  | free for the push whose ticket is `seq`             |
//! | ticket + 1        | written by that push: the consumer may take it       |
//!
//! A push reads `tail` (its ticket `t`), checks the slot's `seq == t`,
//! claims with a CAS `tail: t -> t + 1`, writes the record's words and
//! publishes `seq = t + 1` (Release). The consumer takes slot `head` when
//! `seq == head + 1` (Acquire), reads the words, frees the slot for the
//! next lap (`seq = head + cap`, Release) and advances `head`.
//!
//! Names nothing of weave's but the atomics facade (`crate::loom`): the
//! model test below checks the real code.

use crate::loom::{AtomicU64, AtomicUsize};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// How a signal reached the thread charged with it: the lecture's four
/// cases, and the ways that are not process-directed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// Case 1: the ULT running on the interrupted LWP does not block it.
    Running,
    /// Case 2: a ULT of the interrupted LWP that was not running (runnable,
    /// or waiting in weave) does not block it.
    Switched,
    /// Case 3: a ULT running on another LWP does not block it: weave sent
    /// the signal on to that LWP (`tgkill`), where it took it.
    Directed,
    /// Case 4: every ULT blocked it; it waited in the kernel (blocked in the
    /// LWPs' kernel masks) until a ULT unblocked it.
    Unblocked,
    /// Sent to one thread with `Thread::kill`.
    Thread,
    /// Taken by a plain OS thread, whose kernel mask let it through.
    OsThread,
    /// Handed to a `signal::wait` caller.
    Waited,
}

impl Route {
    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> Route {
        match v {
            0 => Route::Running,
            1 => Route::Switched,
            2 => Route::Directed,
            3 => Route::Unblocked,
            4 => Route::Thread,
            5 => Route::OsThread,
            _ => Route::Waited,
        }
    }
}

/// One signal taken: what the kernel said about it (`siginfo_t`) and whom
/// weave charged with it. Plain data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) signo: i32,
    pub(crate) code: i32,
    pub(crate) pid: i32,
    pub(crate) uid: u32,
    /// `si_value` (the `sigqueue` value), as its pointer-sized bits.
    pub(crate) value: u64,
    /// The target's `ThreadId` bits, 0 for none.
    pub(crate) target: u64,
    pub(crate) route: Route,
}

impl Record {
    /// A process-directed record nobody took and the kernel refused to
    /// queue again (case 4 with `RLIMIT_SIGPENDING` reached): it names no
    /// target yet, and the dispatcher holds it until a ULT takes it.
    // ASYNC-SIGNAL-SAFE
    pub(crate) fn is_held(&self) -> bool {
        self.route == Route::Unblocked && self.target == 0
    }

    fn pack(&self) -> [u64; 4] {
        [
            u64::from(self.signo as u8)
                | u64::from(self.route.to_u8()) << 8
                | u64::from(self.code as u32) << 32,
            u64::from(self.pid as u32) | u64::from(self.uid) << 32,
            self.value,
            self.target,
        ]
    }

    fn unpack(w: [u64; 4]) -> Record {
        Record {
            signo: i32::from(w[0] as u8),
            route: Route::from_u8((w[0] >> 8) as u8),
            code: (w[0] >> 32) as u32 as i32,
            pid: w[1] as u32 as i32,
            uid: (w[1] >> 32) as u32,
            value: w[2],
            target: w[3],
        }
    }
}

/// A record's words, each an atomic so that no slot needs an `UnsafeCell`
/// (and loom sees every access); the slot's `seq` orders them.
pub(crate) struct Words([AtomicU64; 4]);

impl Words {
    pub(crate) fn new() -> Words {
        Words([
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
        ])
    }

    // ASYNC-SIGNAL-SAFE
    pub(crate) fn write(&self, r: &Record) {
        for (w, v) in self.0.iter().zip(r.pack()) {
            w.store(v, Relaxed);
        }
    }

    pub(crate) fn read(&self) -> Record {
        Record::unpack([
            self.0[0].load(Relaxed),
            self.0[1].load(Relaxed),
            self.0[2].load(Relaxed),
            self.0[3].load(Relaxed),
        ])
    }
}

struct Slot {
    seq: AtomicUsize,
    words: Words,
}

/// What [`Ring::pop`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pop {
    Item(Record),
    Empty,
    /// A push has claimed the next slot and not published it yet (it runs
    /// in a signal handler that was itself interrupted): try again shortly.
    Busy,
}

pub(crate) struct Ring {
    slots: Box<[Slot]>,
    cap: usize,
    tail: AtomicUsize,
    /// Only the consumer moves it; atomic so that `is_empty` may read it.
    head: AtomicUsize,
}

impl Ring {
    /// A ring of `cap` records (a power of two).
    pub(crate) fn new(cap: usize) -> Ring {
        assert!(cap.is_power_of_two());
        Ring {
            slots: (0..cap)
                .map(|i| Slot {
                    seq: AtomicUsize::new(i),
                    words: Words::new(),
                })
                .collect(),
            cap,
            tail: AtomicUsize::new(0),
            head: AtomicUsize::new(0),
        }
    }

    /// Appends a record; false if the ring is full.
    // ASYNC-SIGNAL-SAFE: atomics only.
    pub(crate) fn push(&self, r: &Record) -> bool {
        let mut t = self.tail.load(Relaxed);
        loop {
            let slot = &self.slots[t & (self.cap - 1)];
            // Acquire pairs with the consumer's Release that freed the slot:
            // its read of the previous lap's words is done.
            let seq = slot.seq.load(Acquire);
            let diff = seq.wrapping_sub(t) as isize;
            if diff == 0 {
                match self
                    .tail
                    .compare_exchange_weak(t, t.wrapping_add(1), Relaxed, Relaxed)
                {
                    Ok(_) => {
                        slot.words.write(r);
                        // Release pairs with the consumer's Acquire load of
                        // `seq`: the words are visible before the slot is.
                        slot.seq.store(t.wrapping_add(1), Release);
                        return true;
                    }
                    Err(now) => t = now,
                }
            } else if diff < 0 {
                return false;
            } else {
                t = self.tail.load(Relaxed);
            }
        }
    }

    /// Takes the oldest record. Only the one consumer calls this (the
    /// holder of the dispatcher's consumer flag, whose Acquire and Release
    /// order one holder's pops before the next one's).
    pub(crate) fn pop(&self) -> Pop {
        let h = self.head.load(Relaxed);
        let slot = &self.slots[h & (self.cap - 1)];
        // Acquire pairs with the push's Release store of `seq`.
        let seq = slot.seq.load(Acquire);
        if seq == h.wrapping_add(1) {
            let r = slot.words.read();
            // Release pairs with the next lap's push Acquire: our reads of
            // the words come before its writes.
            slot.seq.store(h.wrapping_add(self.cap), Release);
            self.head.store(h.wrapping_add(1), Relaxed);
            Pop::Item(r)
        } else if self.tail.load(Relaxed) == h {
            Pop::Empty
        } else {
            Pop::Busy
        }
    }
}

#[cfg(test)]
pub(crate) fn sample(signo: i32, value: u64) -> Record {
    Record {
        signo,
        code: -1,
        pid: 42,
        uid: 7,
        value,
        target: 0,
        route: Route::Running,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_their_words() {
        let r = Record {
            signo: 64,
            code: -3,
            pid: 123_456,
            uid: u32::MAX,
            value: u64::MAX - 5,
            target: 99,
            route: Route::Directed,
        };
        assert_eq!(Record::unpack(r.pack()), r);
    }

    #[test]
    fn ring_keeps_order_and_reports_full() {
        let ring = Ring::new(4);
        for v in 0..4 {
            assert!(ring.push(&sample(34, v)));
        }
        assert!(!ring.push(&sample(34, 9)), "a full ring refuses");
        for v in 0..4 {
            assert_eq!(ring.pop(), Pop::Item(sample(34, v)));
        }
        assert_eq!(ring.pop(), Pop::Empty);
        assert!(ring.push(&sample(34, 10)), "the next lap reuses the slots");
        assert_eq!(ring.pop(), Pop::Item(sample(34, 10)));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two producers (one pushing twice) and the consumer: every record
    /// comes out once, and each producer's in the order it pushed them.
    /// Preemptions are bounded to keep the model to seconds.
    #[test]
    fn ring_two_producers_no_loss_in_order() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let ring = Arc::new(Ring::new(4));
            let hs: Vec<_> = [(0u64, 2u64), (1, 1)]
                .into_iter()
                .map(|(p, n)| {
                    let ring = ring.clone();
                    loom::thread::spawn(move || {
                        for k in 0..n {
                            assert!(ring.push(&sample(34, p * 10 + k)));
                        }
                    })
                })
                .collect();
            let mut got = Vec::new();
            while got.len() < 3 {
                match ring.pop() {
                    Pop::Item(r) => got.push(r.value),
                    Pop::Empty | Pop::Busy => loom::thread::yield_now(),
                }
            }
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(ring.pop(), Pop::Empty);
            assert_eq!(
                got.iter().filter(|v| **v < 10).collect::<Vec<_>>(),
                vec![&0, &1]
            );
            assert!(got.contains(&10));
        });
    }
}

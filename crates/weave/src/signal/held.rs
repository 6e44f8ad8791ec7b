//! Records of process-directed signals that weave holds itself, as the
//! kernel holds a pending signal: nobody took them (case 4) and the kernel
//! refused to queue them again (`RLIMIT_SIGPENDING` reached). Owns the
//! list and the word of signals it holds; the dispatcher (`dispatch.rs`)
//! decides who takes them. Thread context only (a lock); must not be
//! touched by the top half.
//!
//! ## The hand-off
//!
//! A record leaves the list when a ULT does not block its signal. Two
//! parties look: the ULT that unblocks the signal (after its mask store, a
//! SeqCst [`fence`], then [`Held::signals`]) and the dispatcher that holds
//! a record ([`Held::hold`], a SeqCst [`fence`], then a scan of the ULT
//! masks). The fences make a pair: one of the two sees the other. Records
//! move out under the lock ([`Held::take_of`]): whoever comes second finds
//! none. Loom-checked below.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use super::ring::Record;
use super::set::bit;
use crate::loom::{fence, AtomicU64, Mutex};

/// The held records, oldest first, and their signals.
pub(crate) struct Held {
    list: Mutex<VecDeque<Record>>,
    /// The signals with a record in `list`: set and cleared under its lock,
    /// read without it.
    sigs: AtomicU64,
}

impl Held {
    pub(crate) fn new() -> Held {
        Held {
            list: Mutex::new(VecDeque::new()),
            sigs: AtomicU64::new(0),
        }
    }

    /// Holds `rec` (at the back, or at the front if `again`: it was taken
    /// out and nobody took it). With `coalesce` (a standard signal), not if
    /// a record of its signal is held already.
    pub(crate) fn hold(&self, rec: Record, again: bool, coalesce: bool) {
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if coalesce && l.iter().any(|r| r.signo == rec.signo) {
            return;
        }
        if again {
            l.push_front(rec);
        } else {
            l.push_back(rec);
        }
        self.sigs.fetch_or(bit(rec.signo), Relaxed);
    }

    /// The signals held now (a filter: read after the pair's fence).
    pub(crate) fn signals(&self) -> u64 {
        self.sigs.load(Relaxed)
    }

    /// Takes every held record of the signals in `sigs`, oldest first.
    /// `None` if `wait` is false and the lock is taken (the caller may run
    /// in a handler that interrupted the holder).
    pub(crate) fn take_of(&self, sigs: u64, wait: bool) -> Option<Vec<Record>> {
        let mut l = if wait {
            self.list.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            match self.list.try_lock() {
                Ok(l) => l,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            }
        };
        let mut out = Vec::new();
        l.retain(|r| {
            let take = sigs & bit(r.signo) != 0;
            if take {
                out.push(*r);
            }
            !take
        });
        self.sigs.fetch_and(!sigs, Relaxed);
        Some(out)
    }

    /// Takes the oldest record of the lowest-numbered signal of `sigs`
    /// (what a `wait` returns first), if any.
    pub(crate) fn take_first(&self, sigs: u64) -> Option<Record> {
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let low = l
            .iter()
            .filter(|r| sigs & bit(r.signo) != 0)
            .map(|r| r.signo)
            .min()?;
        let i = l.iter().position(|r| r.signo == low)?;
        let r = l.remove(i)?;
        if !l.iter().any(|x| x.signo == low) {
            self.sigs.fetch_and(!bit(low), Relaxed);
        }
        Some(r)
    }

    /// Forgets every record (in the child of a fork: what was pending for
    /// the parent is not the child's). Gives up if the lock is taken.
    pub(crate) fn clear(&self) {
        if let Ok(mut l) = self.list.try_lock() {
            l.clear();
            self.sigs.store(0, Relaxed);
        }
    }
}

/// One side of the hand-off's fence pair (see the module doc).
pub(crate) fn pair_fence() {
    fence(SeqCst);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::ring::sample;
    use super::*;

    #[test]
    fn held_records_leave_once_by_signal_in_order() {
        let h = Held::new();
        let rt = crate::signal::sigrtmin();
        h.hold(sample(rt, 1), false, false);
        h.hold(sample(10, 2), false, true);
        h.hold(sample(rt, 3), false, false);
        assert_eq!(h.signals(), bit(rt) | bit(10));
        let got = h.take_of(bit(rt), true).unwrap();
        assert_eq!(got, vec![sample(rt, 1), sample(rt, 3)]);
        assert_eq!(h.signals(), bit(10));
        assert_eq!(h.take_of(bit(rt), true).unwrap(), vec![]);
    }

    #[test]
    fn a_held_standard_signal_coalesces() {
        let h = Held::new();
        h.hold(sample(10, 1), false, true);
        h.hold(sample(10, 2), false, true);
        assert_eq!(h.take_of(bit(10), true).unwrap(), vec![sample(10, 1)]);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::ring::sample;
    use super::*;
    use loom::sync::Arc;

    /// A ULT unblocks the signal while the dispatcher holds a record of it
    /// and scans the masks: the record is taken exactly once (by the ULT,
    /// by the scan, or by the dispatcher's next look after the ULT found
    /// the lock busy and woke it).
    #[test]
    fn a_held_record_goes_to_an_unblocking_ult_exactly_once() {
        const S: i32 = 34;
        loom::model(|| {
            let h = Arc::new(Held::new());
            let mask = Arc::new(AtomicU64::new(bit(S)));
            let (h2, m2) = (h.clone(), mask.clone());
            let ult = loom::thread::spawn(move || {
                m2.store(0, Relaxed);
                pair_fence();
                if h2.signals() & bit(S) == 0 {
                    return (0, false);
                }
                match h2.take_of(bit(S), false) {
                    Some(v) => (v.len(), false),
                    None => (0, true),
                }
            });
            h.hold(sample(S, 1), false, false);
            pair_fence();
            let mut n = 0;
            if mask.load(Relaxed) & bit(S) == 0 {
                n += h.take_of(bit(S), true).unwrap().len();
            }
            let (u, woke) = ult.join().unwrap();
            n += u;
            if woke {
                // The dispatcher's look after the wake-up.
                n += h.take_of(bit(S), true).unwrap().len();
            }
            assert_eq!(n, 1);
        });
    }
}

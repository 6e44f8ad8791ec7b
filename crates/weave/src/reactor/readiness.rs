//! The readiness word of a registered fd, and the rule that keeps a
//! would-block result from erasing an event that came in meanwhile (the
//! lock-free part of the reactor, model-checked under loom).
//!
//! The word holds the readiness bits (low 32) and a tick (high 32) that
//! every event bumps. A caller takes a snapshot before its system call; on
//! `EAGAIN` it clears the bit it relied on only if the word still equals the
//! snapshot. If an event came in between, the CAS fails, the bit stays set,
//! and the caller retries the call instead of sleeping through the event.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

use crate::loom::AtomicU64;

pub(crate) const READABLE: u32 = 1;
pub(crate) const WRITABLE: u32 = 2;
pub(crate) const READ_CLOSED: u32 = 4;
pub(crate) const WRITE_CLOSED: u32 = 8;
pub(crate) const ERROR: u32 = 16;
/// The fd was closed under its waiters (`os::fd::close`): every wait on
/// the registration ends, and stays ended until the record is reused.
/// Never cleared by a would-block result.
pub(crate) const CLOSED: u32 = 32;

/// Which way a caller waits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    Read,
    Write,
}

impl Dir {
    /// The bits that end a wait in this direction.
    pub(crate) fn ready_mask(self) -> u32 {
        match self {
            Dir::Read => READABLE | READ_CLOSED | ERROR | CLOSED,
            Dir::Write => WRITABLE | WRITE_CLOSED | ERROR | CLOSED,
        }
    }

    /// The bits a would-block result clears: the readiness, and an error
    /// the socket no longer holds (a UDP socket reports an ICMP refusal to
    /// one call and is usable again after it).
    fn clear_mask(self) -> u32 {
        match self {
            Dir::Read => READABLE | ERROR,
            Dir::Write => WRITABLE | ERROR,
        }
    }
}

pub(crate) struct Readiness(AtomicU64);

impl Readiness {
    pub(crate) fn new() -> Readiness {
        Readiness(AtomicU64::new(0))
    }

    /// Back to "not known" for a new registration: both ways marked
    /// ready, so that the next call is tried rather than waited for (a
    /// caller skips the system call while its bit is clear; see
    /// `net::Evented::io_timeout`).
    #[cfg(not(loom))]
    pub(crate) fn reset(&self) {
        self.0.store(
            u64::from(READABLE | WRITABLE),
            std::sync::atomic::Ordering::Release,
        );
    }

    /// Whether the word `snap` says the fd may be ready in `dir`.
    #[inline]
    pub(crate) fn says_ready(snap: u64, dir: Dir) -> bool {
        snap as u32 & dir.ready_mask() != 0
    }

    /// The word, read before a system call.
    #[inline]
    pub(crate) fn snapshot(&self) -> u64 {
        self.0.load(Acquire)
    }

    /// Whether the [`CLOSED`] bit is set.
    #[cfg(not(loom))]
    pub(crate) fn is_closed(&self) -> bool {
        self.0.load(Acquire) as u32 & CLOSED != 0
    }

    pub(crate) fn is_ready(&self, dir: Dir) -> bool {
        self.0.load(Acquire) as u32 & dir.ready_mask() != 0
    }

    /// A call made after `snap` would block: clear the readiness it
    /// assumed, unless an event came in since.
    pub(crate) fn clear(&self, snap: u64, dir: Dir) {
        let bits = snap as u32 & dir.clear_mask();
        if bits != 0 {
            let _ = self
                .0
                .compare_exchange(snap, snap & !u64::from(bits), AcqRel, Relaxed);
        }
    }

    /// An event: adds `bits` and bumps the tick, so that a `clear` based on
    /// an older word fails.
    pub(crate) fn set(&self, bits: u32) {
        let _ = self.0.fetch_update(AcqRel, Acquire, |s| {
            let tick = (s >> 32).wrapping_add(1);
            Some(tick << 32 | u64::from(s as u32 | bits))
        });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::{Arc, Mutex};
    use std::sync::atomic::Ordering::SeqCst;

    /// A reader and the poller, with the fd's data as a flag: the reader's
    /// "system call" sees the data or would block. Every interleaving must
    /// end with the reader having the data, never asleep with nobody left
    /// to wake it.
    fn reader_and_event(clear: fn(&Readiness, u64, Dir)) {
        loom::model(move || {
            let r = Arc::new((Readiness::new(), Mutex::new(false), AtomicBool::new(false)));
            // (readiness, "a waiter is queued", the fd has data)
            let data = Arc::new(AtomicBool::new(false));
            let woken = Arc::new(AtomicBool::new(false));
            let poller = {
                let (r, data, woken) = (r.clone(), data.clone(), woken.clone());
                loom::thread::spawn(move || {
                    data.store(true, SeqCst); // the peer's write arrives
                    r.0.set(READABLE); // epoll reports it
                    let had_waiter = std::mem::take(&mut *r.1.lock().unwrap());
                    if had_waiter {
                        woken.store(true, SeqCst);
                    }
                })
            };
            // The reader: try, and on would-block queue and "sleep".
            let mut slept = false;
            loop {
                let snap = r.0.snapshot();
                if data.load(SeqCst) {
                    break;
                }
                clear(&r.0, snap, Dir::Read);
                let mut q = r.1.lock().unwrap();
                if r.0.is_ready(Dir::Read) {
                    continue; // ready already: retry the call
                }
                *q = true;
                drop(q);
                slept = true;
                break;
            }
            poller.join().unwrap();
            if slept {
                assert!(
                    woken.load(SeqCst),
                    "the reader sleeps and nobody will wake it"
                );
            }
        });
    }

    #[test]
    fn a_would_block_never_erases_a_later_event() {
        reader_and_event(|r, snap, dir| r.clear(snap, dir));
    }

    /// The mutation the tick is there for: clearing with a plain store
    /// loses the event. The model must find it.
    #[test]
    #[should_panic(expected = "nobody will wake it")]
    fn clearing_without_the_tick_loses_events() {
        reader_and_event(|r, _snap, dir| {
            r.0.fetch_and(!u64::from(dir.clear_mask()), AcqRel);
        });
    }
}

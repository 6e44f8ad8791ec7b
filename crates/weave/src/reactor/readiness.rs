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
    /// assumed, unless an event came in since. False when an event came
    /// (the bits stay as they are: look again).
    pub(crate) fn clear(&self, snap: u64, dir: Dir) -> bool {
        let bits = snap as u32 & dir.clear_mask();
        bits == 0
            || self
                .0
                .compare_exchange(snap, snap & !u64::from(bits), AcqRel, Relaxed)
                .is_ok()
    }

    /// A look without a system call of the caller's own (`os::fd::wait`
    /// on a new registration): whether `ready_now` (a `poll(2)`) says the
    /// fd is ready in `dir`; if not, the readiness assumed for `dir` is
    /// cleared, so that a wait blocks. An event between the look and the
    /// clear fails the clear whichever way it went (the tick moved), and
    /// a new registration gets one at once on a writable fd (epoll reports
    /// the writable edge of an `EPOLL_CTL_ADD`): then look again rather
    /// than leave the assumed bit set, which would end a read wait at once
    /// with nothing to read.
    pub(crate) fn settle<E>(
        &self,
        dir: Dir,
        mut ready_now: impl FnMut() -> Result<bool, E>,
    ) -> Result<bool, E> {
        loop {
            let snap = self.snapshot();
            if ready_now()? {
                return Ok(true);
            }
            if self.clear(snap, dir) {
                return Ok(false);
            }
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_event_of_the_other_direction_during_settle_leaves_no_read_readiness() {
        let r = Readiness::new();
        r.reset(); // a new registration: both ways assumed ready
        let mut looks = 0;
        let ready = r.settle(Dir::Read, || {
            looks += 1;
            if looks == 1 {
                r.set(WRITABLE); // epoll's writable edge, between look and clear
            }
            Ok::<_, ()>(false)
        });
        assert_eq!(ready, Ok(false));
        assert!(!r.is_ready(Dir::Read), "a read wait would end at once");
        assert_eq!(looks, 2, "the raced clear looked again");
    }

    #[test]
    fn settle_reports_a_ready_fd_and_keeps_its_bit() {
        let r = Readiness::new();
        r.reset();
        assert_eq!(r.settle(Dir::Read, || Ok::<_, ()>(true)), Ok(true));
        assert!(r.is_ready(Dir::Read));
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
        reader_and_event(|r, snap, dir| {
            r.clear(snap, dir);
        });
    }

    /// `settle` against the poller: the fd's data arrives and epoll
    /// reports it while the reader settles a new registration. Either the
    /// settle saw the data, or the read bit is set afterwards: a wait then
    /// ends (it is never asleep with the data there).
    #[test]
    fn settle_never_erases_an_event_that_raced_it() {
        loom::model(|| {
            let r = Arc::new(Readiness::new());
            r.0.store(u64::from(READABLE | WRITABLE), SeqCst);
            let data = Arc::new(AtomicBool::new(false));
            let poller = {
                let (r, data) = (r.clone(), data.clone());
                loom::thread::spawn(move || {
                    r.set(WRITABLE); // the registration's writable edge
                    data.store(true, SeqCst); // the peer's write arrives
                    r.set(READABLE); // epoll reports it
                })
            };
            let ready = r
                .settle(Dir::Read, || Ok::<_, ()>(data.load(SeqCst)))
                .unwrap();
            poller.join().unwrap();
            assert!(ready || r.is_ready(Dir::Read), "the event was erased");
        });
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

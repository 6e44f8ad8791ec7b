//! time: each LWP's timer heap, and the cheap clock of run-time accounting.
//!
//! A ULT that sleeps, or parks with a timeout, puts an entry in the heap of
//! the LWP it is placed on and blocks; the LWP fires due entries at each
//! scheduling point and, when idle, sleeps in the kernel no longer than the
//! earliest deadline. A timer wakes with the [`WakeToken`] of the wait it
//! was made for, so one that fires after that wait ended (an `unpark` came
//! first) does nothing. The io issue folds these heaps into the reactor.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::thread::state::WakeToken;
use crate::thread::tcb::Tcb;

struct Entry {
    at: Instant,
    seq: u64,
    tcb: &'static Tcb,
    token: WakeToken,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// An LWP's timers. Owned by the LWP.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl Timers {
    pub(crate) fn insert(&mut self, at: Instant, tcb: &'static Tcb, token: WakeToken) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            tcb,
            token,
        }));
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.0.at)
    }

    /// Removes and returns one entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(&'static Tcb, WakeToken)> {
        if self.heap.peek()?.0.at <= now {
            let e = self.heap.pop()?.0;
            Some((e.tcb, e.token))
        } else {
            None
        }
    }
}

static ACCOUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether LWPs measure each ULT's run time (see `crate::set_accounting`).
#[inline]
pub(crate) fn accounting() -> bool {
    ACCOUNTING.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn set_accounting(on: bool) {
    ACCOUNTING.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A monotonic tick counter for per-thread run time: the TSC on x86_64
/// (a few ns, no syscall, constant-rate on every CPU this runs on), the
/// monotonic clock elsewhere. Convert with [`ticks_to_ns`].
#[inline]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC is available on every x86_64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        epoch().elapsed().as_nanos() as u64
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds per 2^20 ticks, measured once against the monotonic clock.
fn ns_per_mega_tick() -> u64 {
    static SCALE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        if cfg!(not(target_arch = "x86_64")) {
            return 1 << 20;
        }
        let (t0, c0) = (Instant::now(), ticks());
        std::thread::sleep(std::time::Duration::from_millis(10));
        let (ns, c) = (t0.elapsed().as_nanos() as u64, ticks().wrapping_sub(c0));
        (ns << 20) / c.max(1)
    })
}

/// Converts a tick count to nanoseconds.
pub(crate) fn ticks_to_ns(t: u64) -> u64 {
    ((t as u128 * ns_per_mega_tick() as u128) >> 20) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advance_at_a_plausible_rate() {
        let t0 = ticks();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let ns = ticks_to_ns(ticks() - t0);
        assert!(ns >= 4_000_000, "5 ms measured as {ns} ns");
    }
}

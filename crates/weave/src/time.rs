//! Time: sleeping, intervals, and the timeouts of blocking calls.
//!
//! A ULT that sleeps, or waits with a timeout, puts an entry in the timer
//! heap of its LWP and blocks; the LWP fires due entries at each
//! scheduling point and, when idle, sleeps in the kernel (on its futex, or
//! in the reactor's `epoll_wait`) no longer than its earliest deadline. A
//! sleeping ULT costs no CPU and about 40 bytes of heap beside its stack.
//! A timer wakes with the token of the wait it was made for, so one that
//! fires after that wait ended (an `unpark` came first) does nothing.
//!
//! Every blocking call of weave has a form with a timeout:
//!
//! | blocks in                         | with a timeout                                   |
//! |-----------------------------------|--------------------------------------------------|
//! | [`sleep`], [`sleep_until`]        | (they are timeouts)                              |
//! | `thread::park`                    | `thread::park_timeout`                           |
//! | `sync::Mutex::lock`               | `try_lock_for`, `try_lock_until`                 |
//! | `sync::Condvar::wait`             | `wait_timeout`, `wait_timeout_while`             |
//! | `sync::Semaphore::acquire`        | `acquire_timeout`, `acquire_many_timeout`        |
//! | `sync::WaitGroup::wait`           | `wait_timeout`                                   |
//! | `sync::mpsc` / `mpmc` `recv`, `send` | `recv_timeout`, `send_timeout`, `*_deadline`  |
//! | `net` reads and writes            | `set_read_timeout`, `set_write_timeout`          |
//! | `net::TcpStream::connect`         | `connect_timeout`                                |
//! | `net::TcpListener::accept`        | `accept_timeout` (and the unix listener's)       |
//!
//! A timeout ends the wait with the call's own timeout result
//! (`ErrorKind::TimedOut` for io). `RwLock`, `Barrier`, `Once` and
//! `JoinHandle::join` have none, as in std: wait for a channel message with
//! `recv_timeout` where a bound is needed.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::thread::state::WakeToken;
use crate::thread::tcb::Tcb;

pub use crate::thread::{sleep, sleep_until};

/// What [`Interval::tick`] does about ticks it missed because the thread
/// was late (busy, or not scheduled in time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTicks {
    /// Return the missed ticks at once, one per call, until caught up: the
    /// count of ticks over a long time is exact.
    #[default]
    Burst,
    /// Start counting again from the late tick: the next comes one period
    /// after it.
    Delay,
    /// Drop the missed ticks: the next tick is the next multiple of the
    /// period from the start.
    Skip,
}

/// Ticks at a fixed period: a loop that calls [`tick`](Interval::tick)
/// runs once per period, however long its body takes (as long as it takes
/// less than the period). Made by [`interval`] or [`interval_at`].
///
/// ```
/// use std::time::Duration;
/// let mut every = weave::time::interval(Duration::from_millis(2));
/// let first = every.tick(); // at once
/// let second = every.tick(); // 2 ms after the first
/// assert!(second - first >= Duration::from_millis(2));
/// ```
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: std::time::Duration,
    missed: MissedTicks,
}

/// An interval whose first tick is now.
///
/// # Panics
/// If `period` is zero: an interval that never waits would spin.
pub fn interval(period: std::time::Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// An interval whose first tick is at `start`.
///
/// # Panics
/// If `period` is zero.
pub fn interval_at(start: Instant, period: std::time::Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "weave::time::interval: the period must be above zero (a zero period would spin)"
    );
    Interval {
        next: start,
        period,
        missed: MissedTicks::default(),
    }
}

impl Interval {
    /// Sleeps until the next tick and returns the instant it was due at.
    /// On a ULT only the ULT sleeps.
    pub fn tick(&mut self) -> Instant {
        let due = self.next;
        sleep_until(due);
        let now = Instant::now();
        self.next = match self.missed {
            MissedTicks::Burst => due + self.period,
            MissedTicks::Delay if now > due + self.period => now + self.period,
            MissedTicks::Skip if now >= due + self.period => {
                let behind = (now - due).as_nanos() / self.period.as_nanos();
                due + self.period * (behind as u32 + 1)
            }
            _ => due + self.period,
        };
        due
    }

    /// Restarts the interval: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = Instant::now() + self.period;
    }

    /// The period.
    pub fn period(&self) -> std::time::Duration {
        self.period
    }

    /// Chooses what happens to missed ticks (default: `Burst`).
    pub fn set_missed_tick_behavior(&mut self, missed: MissedTicks) {
        self.missed = missed;
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTicks {
        self.missed
    }
}

/// Timer slack: deadlines are rounded up to a multiple of this many
/// nanoseconds (2^16 ns = 65.5 µs, about Linux's default slack of 50 µs),
/// so that timers due close together share one slot and fire as a batch.
/// A timer never fires early; it may fire up to one slot late.
const SLOT_NS_SHIFT: u32 = 16;

/// The instant slot numbers count from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn slot_of(at: Instant) -> u64 {
    let ns = at.saturating_duration_since(epoch()).as_nanos();
    let ns = u64::try_from(ns).unwrap_or(u64::MAX >> 1);
    // Round up: a slot fires at its end, never before a deadline in it.
    ns.div_ceil(1 << SLOT_NS_SHIFT)
}

/// The last slot that has started by `now` (its entries are due).
pub(crate) fn now_slot(now: Instant) -> u64 {
    let ns = now.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX >> 1) >> SLOT_NS_SHIFT
}

fn slot_start(slot: u64) -> Instant {
    epoch() + std::time::Duration::from_nanos(slot << SLOT_NS_SHIFT)
}

/// An LWP's timers: entries grouped by deadline slot, in deadline order.
/// Owned by the LWP.
///
/// We had a binary heap of (deadline, tcb, token). With 100,000 sleeping
/// ULTs its pops (17 levels of cache-missing sift-down each) took 11% of a
/// sleep-heavy run; a slot's entries sit together in one vector, pushed and
/// drained in order.
#[derive(Default)]
pub(crate) struct Timers {
    slots: BTreeMap<u64, Vec<(&'static Tcb, WakeToken)>>,
    /// Emptied vectors, kept for the next slots.
    spare: Vec<Vec<(&'static Tcb, WakeToken)>>,
    len: usize,
}

impl Timers {
    pub(crate) fn insert(&mut self, at: Instant, tcb: &'static Tcb, token: WakeToken) {
        let spare = &mut self.spare;
        self.slots
            .entry(slot_of(at))
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push((tcb, token));
        self.len += 1;
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.slots.keys().next().map(|&s| slot_start(s))
    }

    /// Takes the entries of the earliest slot if it is due at `now`,
    /// appending them to `out`; returns whether it took any.
    #[cfg(test)]
    fn take_due(&mut self, now: Instant, out: &mut Vec<(&'static Tcb, WakeToken)>) -> bool {
        self.take_due_slot(now_slot(now), out)
    }

    /// As `take_due`, with `now` as from [`now_slot`] (one clock
    /// conversion for a whole batch).
    pub(crate) fn take_due_slot(
        &mut self,
        now: u64,
        out: &mut Vec<(&'static Tcb, WakeToken)>,
    ) -> bool {
        let Some(mut first) = self.slots.first_entry() else {
            return false;
        };
        if *first.key() > now {
            return false;
        }
        let mut v = std::mem::take(first.get_mut());
        first.remove();
        self.len -= v.len();
        out.append(&mut v);
        if self.spare.len() < 8 {
            self.spare.push(v);
        }
        true
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
    use std::time::Duration;

    #[test]
    fn interval_ticks_once_per_period_and_bursts_missed_ticks() {
        let t0 = Instant::now();
        let mut i = interval_at(t0, Duration::from_millis(3));
        assert_eq!(i.tick(), t0);
        assert_eq!(i.tick(), t0 + Duration::from_millis(3));
        assert!(Instant::now() >= t0 + Duration::from_millis(3));
        // Late by several periods: Burst returns each missed tick.
        std::thread::sleep(Duration::from_millis(12));
        assert_eq!(i.tick(), t0 + Duration::from_millis(6));
        assert_eq!(i.tick(), t0 + Duration::from_millis(9));
    }

    #[test]
    fn interval_skip_and_delay_drop_missed_ticks() {
        let t0 = Instant::now();
        let p = Duration::from_millis(3);
        let mut skip = interval_at(t0, p);
        skip.set_missed_tick_behavior(MissedTicks::Skip);
        let mut delay = interval_at(t0, p);
        delay.set_missed_tick_behavior(MissedTicks::Delay);
        skip.tick();
        delay.tick();
        std::thread::sleep(Duration::from_millis(10));
        let s1 = skip.tick();
        let s2 = skip.tick();
        assert_eq!(s1, t0 + p);
        assert!(s2 >= t0 + 4 * p, "skip kept a missed tick: {:?}", s2 - t0);
        assert_eq!((s2 - t0).as_nanos() % p.as_nanos(), 0, "off the grid");
        let d1 = delay.tick();
        let after = Instant::now();
        let d2 = delay.tick();
        assert_eq!(d1, t0 + p);
        assert!(
            d2 >= after + p - Duration::from_millis(1),
            "delay did not restart"
        );
    }

    #[test]
    #[should_panic(expected = "period must be above zero")]
    fn a_zero_period_is_refused() {
        interval(Duration::ZERO);
    }

    #[test]
    fn timers_fire_in_deadline_order_and_never_early() {
        // Entries need TCBs only as identities here: leak a few.
        let tcbs: Vec<&'static Tcb> = (0..3)
            .map(|_| &*Box::leak(Box::new(Tcb::new(u32::MAX - 1))))
            .collect();
        let mut t = Timers::default();
        let t0 = Instant::now();
        let tok = WakeToken { epoch: 1 };
        t.insert(t0 + Duration::from_millis(5), tcbs[0], tok);
        t.insert(t0 + Duration::from_millis(1), tcbs[1], tok);
        t.insert(
            t0 + Duration::from_millis(1) + Duration::from_nanos(10),
            tcbs[2],
            tok,
        );
        let next = t.next_deadline().unwrap();
        assert!(
            next >= t0 + Duration::from_millis(1),
            "a slot would fire early"
        );
        assert!(next <= t0 + Duration::from_millis(1) + Duration::from_micros(70));
        let mut out = Vec::new();
        assert!(!t.take_due(t0, &mut out));
        assert!(t.take_due(next, &mut out));
        let fired: Vec<_> = out.iter().map(|e| e.0 as *const Tcb).collect();
        assert_eq!(fired, [tcbs[1] as *const Tcb, tcbs[2] as *const Tcb]);
        assert!(!t.is_empty());
        out.clear();
        assert!(t.take_due(t0 + Duration::from_millis(6), &mut out));
        assert_eq!(out.len(), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn ticks_advance_at_a_plausible_rate() {
        let t0 = ticks();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let ns = ticks_to_ns(ticks() - t0);
        assert!(ns >= 4_000_000, "5 ms measured as {ns} ns");
    }
}

//! Time: sleeping, intervals, and the timeouts of blocking calls.
//!
//! A ULT that sleeps, or waits with a timeout, puts an entry in its LWP's
//! timers (deadline slots of 65.5 µs) and blocks; the LWP fires due entries at each
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

use std::time::Instant;

pub(crate) mod clock;
pub(crate) mod timers;

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
}

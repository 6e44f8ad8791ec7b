//! Time: the deadlines of the timed waits (`abstime` on a POSIX clock
//! turned into a weave `Instant`) and `sleep`, `usleep`, `nanosleep`,
//! `clock_nanosleep` as ULT sleeps.
//!
//! Owns the clock conversion; it must not wait itself (weave's timed
//! calls do).

use std::ffi::{c_int, c_uint};
use std::time::{Duration, Instant};

use libc::timespec;

use crate::guard_errno;

/// The clock an `abstime` is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    Realtime,
    Monotonic,
}

impl Clock {
    pub(crate) fn from_id(id: libc::clockid_t) -> Option<Clock> {
        match id {
            libc::CLOCK_REALTIME => Some(Clock::Realtime),
            libc::CLOCK_MONOTONIC => Some(Clock::Monotonic),
            _ => None,
        }
    }

    pub(crate) fn id(self) -> libc::clockid_t {
        match self {
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
        }
    }
}

fn valid(ts: &timespec) -> bool {
    ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec)
}

/// The `Instant` at which `abstime` (on `clock`) passes: now, if it has.
/// `EINVAL` for null or a `tv_nsec` outside `0..1e9` (POSIX).
pub(crate) fn deadline(clock: Clock, abstime: *const timespec) -> Result<Instant, c_int> {
    deadline_on(&SystemClocks, clock, abstime)
}

/// Reads the POSIX clocks and weave's monotonic `Instant` together: the
/// system's ([`SystemClocks`]), or a test's that it sets.
pub(crate) trait Clocks {
    /// `clock`'s current time.
    fn read(&self, clock: Clock) -> timespec;
    /// The `Instant` of the same moment.
    fn instant(&self) -> Instant;
}

/// The system's clocks.
pub(crate) struct SystemClocks;

impl Clocks for SystemClocks {
    fn read(&self, clock: Clock) -> timespec {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a timespec to write.
        unsafe { libc::clock_gettime(clock.id(), &mut now) };
        now
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// [`deadline`] on `clocks`.
fn deadline_on(
    clocks: &impl Clocks,
    clock: Clock,
    abstime: *const timespec,
) -> Result<Instant, c_int> {
    // SAFETY: null or the program's timespec.
    let at = unsafe { abstime.as_ref() }.ok_or(libc::EINVAL)?;
    if !(0..1_000_000_000).contains(&at.tv_nsec) {
        return Err(libc::EINVAL);
    }
    let start = clocks.instant();
    let now = clocks.read(clock);
    let ns = |t: &timespec| i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    let left = ns(at) - ns(&now);
    if left <= 0 {
        return Ok(start);
    }
    let left = u64::try_from(left).unwrap_or(u64::MAX);
    Ok(start
        .checked_add(Duration::from_nanos(left))
        .unwrap_or_else(|| start + Duration::from_secs(u64::from(u32::MAX))))
}

/// How long a wait for an `abstime` on `CLOCK_REALTIME` waits before it
/// reads that clock again ([`wait_until`]): weave's timers run on the
/// monotonic clock, so a step of the system clock (`clock_settime`, NTP)
/// reaches such a wait at its next reading. A second keeps the cost to
/// one wake-up a second of a long wait, and the lateness after a step
/// forward under a second; a step back never ends a wait early.
pub(crate) const REALTIME_STEP: Duration = Duration::from_secs(1);

/// The `Instant` a wait for `abstime` (on `clock`, read from `clocks`)
/// waits until next, or `None` once `abstime` has passed on that clock:
/// the deadline itself on `CLOCK_MONOTONIC`, at most [`REALTIME_STEP`]
/// away on `CLOCK_REALTIME`, after which the waiter calls this again (so
/// the wait follows the realtime clock as it is set). `EINVAL` as
/// [`deadline`].
fn wait_step(
    clocks: &impl Clocks,
    clock: Clock,
    abstime: *const timespec,
) -> Result<Option<Instant>, c_int> {
    let d = deadline_on(clocks, clock, abstime)?;
    let now = clocks.instant();
    if d <= now {
        return Ok(None);
    }
    Ok(Some(match clock {
        Clock::Realtime => d.min(now + REALTIME_STEP),
        Clock::Monotonic => d,
    }))
}

/// A timed wait for `abstime` on `clock`, as POSIX has it: over when
/// `abstime` has passed on that clock, even if the clock was set
/// meanwhile. Calls `wait` with the end of each step ([`wait_step`]: the
/// deadline itself on `CLOCK_MONOTONIC`, at most [`REALTIME_STEP`] ahead
/// on `CLOCK_REALTIME`); `wait` returns `Some(result)` when the wait is
/// over for another reason (the lock taken, a wake-up, a cancellation),
/// `None` when the step ended. `Err(ETIMEDOUT)` once `abstime` has
/// passed, `Err(EINVAL)` for a bad `abstime` (before `wait` runs). Every
/// realtime timed wait of the C API (joins, mutexes, condition variables,
/// semaphores, rwlocks) goes through here.
pub(crate) fn wait_until<T>(
    clock: Clock,
    abstime: *const timespec,
    wait: impl FnMut(Instant) -> Option<T>,
) -> Result<T, c_int> {
    wait_until_on(&SystemClocks, clock, abstime, wait)
}

/// [`wait_until`] on `clocks`.
fn wait_until_on<T>(
    clocks: &impl Clocks,
    clock: Clock,
    abstime: *const timespec,
    mut wait: impl FnMut(Instant) -> Option<T>,
) -> Result<T, c_int> {
    loop {
        let Some(until) = wait_step(clocks, clock, abstime)? else {
            return Err(libc::ETIMEDOUT);
        };
        if let Some(r) = wait(until) {
            return Ok(r);
        }
    }
}

/// How a sleep ended.
#[derive(Debug, PartialEq, Eq)]
enum Slept {
    /// The whole time passed.
    Done,
    /// A signal handler ran on the thread (`EINTR`), with this much left.
    Interrupted(Duration),
    /// A cancellation request is to be acted on (`cancel::ACT`).
    Cancel,
}

/// Sleeps for `dur` as a cancellation point (a request ends the sleep
/// early). A signal handler that runs on the thread ends it too, as the
/// kernel's `nanosleep` is ended, whatever `SA_RESTART` says.
fn sleep_for(dur: Duration) -> Slept {
    let now = Instant::now();
    let until = now
        .checked_add(dur)
        .unwrap_or_else(|| now + Duration::from_secs(u64::from(u32::MAX)));
    loop {
        match crate::cancel::point(|| weave_rt::thread::sleep_until_interruptible(until)) {
            Ok((Err(_), false)) => {
                return Slept::Interrupted(until.saturating_duration_since(Instant::now()))
            }
            Ok((Ok(()), false)) => {}
            Ok((_, true)) | Err(()) => return Slept::Cancel,
        }
        if Instant::now() >= until {
            return Slept::Done;
        }
    }
}

/// [`Slept`] as `usleep` and `clock_nanosleep` report it: 0, `EINTR`, or
/// `cancel::ACT`.
fn slept_code(s: Slept) -> c_int {
    match s {
        Slept::Done => 0,
        Slept::Interrupted(_) => libc::EINTR,
        Slept::Cancel => crate::cancel::ACT,
    }
}

/// Writes the time left into the program's `rem`, if it gave one.
///
/// # Safety
/// `rem` is null or the program's timespec.
unsafe fn write_rem(rem: *mut timespec, left: Duration) {
    // SAFETY: the caller's contract.
    if let Some(rem) = unsafe { rem.as_mut() } {
        rem.tv_sec = left.as_secs().min(libc::time_t::MAX as u64) as libc::time_t;
        rem.tv_nsec = left.subsec_nanos() as libc::c_long;
    }
}

/// `sleep`: the calling ULT sleeps (its LWP runs others); returns 0, or
/// the whole seconds left when a signal handler that ran on the thread
/// ended it. A cancellation point.
#[no_mangle]
pub extern "C-unwind" fn weave_sleep(seconds: c_uint) -> c_uint {
    match sleep_for(Duration::from_secs(u64::from(seconds))) {
        Slept::Done => 0,
        // The whole seconds not slept, as glibc's `sleep` counts them.
        Slept::Interrupted(left) => c_uint::try_from(left.as_secs()).unwrap_or(c_uint::MAX),
        Slept::Cancel => {
            crate::cancel::finish(crate::cancel::ACT);
            0
        }
    }
}

/// `usleep`: the calling ULT sleeps for `usec` microseconds; `-1` with
/// `errno` `EINTR` when a signal handler that ran on the thread ended it.
/// A cancellation point.
#[no_mangle]
pub extern "C-unwind" fn weave_usleep(usec: libc::useconds_t) -> c_int {
    match crate::cancel::finish(slept_code(sleep_for(Duration::from_micros(u64::from(
        usec,
    ))))) {
        0 => 0,
        e => {
            crate::set_errno(e);
            -1
        }
    }
}

/// `nanosleep`: the calling ULT sleeps; `-1` with `errno` `EINVAL` for a
/// `tv_nsec` outside `0..1e9` or a negative time, `EFAULT` for null.
/// A signal handler that runs on the thread ends it with `-1` and `EINTR`,
/// the time left in `rem` if given (zero in `rem` after a whole sleep). A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: the caller's contract, passed on.
    crate::cancel::finish(unsafe { nanosleep(req, rem) })
}

unsafe fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    let mut act = false;
    let r = guard_errno("nanosleep", libc::EINVAL, || {
        // SAFETY: null or the program's timespec.
        let Some(r) = (unsafe { req.as_ref() }) else {
            return libc::EFAULT;
        };
        if !valid(r) {
            return libc::EINVAL;
        }
        match sleep_for(Duration::new(r.tv_sec as u64, r.tv_nsec as u32)) {
            Slept::Done => {
                // SAFETY: null or the program's timespec.
                unsafe { write_rem(rem, Duration::ZERO) };
                0
            }
            Slept::Interrupted(left) => {
                // SAFETY: null or the program's timespec.
                unsafe { write_rem(rem, left) };
                libc::EINTR
            }
            Slept::Cancel => {
                act = true;
                0
            }
        }
    });
    if act {
        crate::cancel::ACT
    } else {
        r
    }
}

/// `clock_nanosleep`: the calling ULT sleeps for `*req` on `clock`, or
/// until `*req` on it with `TIMER_ABSTIME`. Returns the error number
/// itself, as POSIX says (not `-1` and `errno`): `EINVAL` for a `tv_nsec`
/// outside `0..1e9`, a negative time (relative or absolute), or
/// `CLOCK_THREAD_CPUTIME_ID` (as Linux); `EFAULT` for null. Flags other
/// than `TIMER_ABSTIME` are ignored, as Linux ignores them. On
/// `CLOCK_REALTIME` and `CLOCK_MONOTONIC` only the ULT waits; other clocks
/// (`CLOCK_BOOTTIME`, `CLOCK_TAI`, `CLOCK_PROCESS_CPUTIME_ID`) go to the
/// system's call on weave's blocking pool, so that the LWP does not wait
/// either. A signal handler that runs on the thread ends the sleep with
/// `EINTR`, and the time left in `rem` (if given) for a relative one. A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    crate::cancel::finish(unsafe { clock_nanosleep(clock, flags, req, rem) })
}

unsafe fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    crate::guard("clock_nanosleep", libc::EINVAL, || {
        // SAFETY: null or the program's timespec.
        let Some(r) = (unsafe { req.as_ref() }) else {
            return libc::EFAULT;
        };
        // Only TIMER_ABSTIME means anything; other bits are ignored, as
        // the kernel ignores them.
        let absolute = flags & libc::TIMER_ABSTIME != 0;
        // A negative time is invalid, absolute too (the kernel's check).
        if !valid(r) || clock == libc::CLOCK_THREAD_CPUTIME_ID {
            return libc::EINVAL;
        }
        let Some(c) = Clock::from_id(clock) else {
            let (r, rem) = (*r, rem as usize);
            // Another clock: the system's call, off the LWP.
            return weave_rt::blocking(move || {
                // SAFETY: `r` is a copy; `rem` is null or the program's
                // timespec, which the program keeps while it waits.
                unsafe { libc::clock_nanosleep(clock, flags, &r, rem as *mut timespec) }
            });
        };
        let dur = if absolute {
            match deadline(c, r) {
                Ok(at) => at.saturating_duration_since(Instant::now()),
                Err(e) => return e,
            }
        } else {
            Duration::new(r.tv_sec as u64, r.tv_nsec as u32)
        };
        let slept = sleep_for(dur);
        if let Slept::Interrupted(left) = slept {
            if !absolute {
                // SAFETY: null or the program's timespec.
                unsafe { write_rem(rem, left) };
            }
        }
        slept_code(slept)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstime_out_of_range_or_null_is_einval() {
        let bad = timespec {
            tv_sec: 1,
            tv_nsec: 1_000_000_000,
        };
        assert_eq!(deadline(Clock::Realtime, &bad), Err(libc::EINVAL));
        assert_eq!(
            deadline(Clock::Monotonic, std::ptr::null()),
            Err(libc::EINVAL)
        );
    }

    #[test]
    fn a_realtime_wait_steps_a_second_at_most_and_a_monotonic_one_does_not() {
        for clock in [Clock::Realtime, Clock::Monotonic] {
            let mut now = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid clock id and a timespec to write.
            unsafe { libc::clock_gettime(clock.id(), &mut now) };
            let hour = timespec {
                tv_sec: now.tv_sec + 3600,
                tv_nsec: now.tv_nsec,
            };
            let before = Instant::now();
            let step = wait_step(&SystemClocks, clock, &hour).unwrap().unwrap();
            match clock {
                Clock::Realtime => assert!(step <= Instant::now() + REALTIME_STEP),
                Clock::Monotonic => assert!(step >= before + Duration::from_secs(3599)),
            }
            let past = timespec {
                tv_sec: now.tv_sec - 1,
                tv_nsec: 0,
            };
            assert_eq!(wait_step(&SystemClocks, clock, &past), Ok(None));
        }
    }

    #[test]
    fn past_abstime_is_now() {
        let past = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let before = Instant::now();
        let d = deadline(Clock::Realtime, &past).unwrap();
        assert!(d >= before && d <= Instant::now());
    }

    /// Clocks a test sets: `Instant`s from a fixed base plus the time that
    /// has "passed", and a realtime clock that also moves when "set".
    struct TestClocks {
        base: Instant,
        passed: std::cell::Cell<Duration>,
        realtime_ns: std::cell::Cell<i128>,
    }

    impl TestClocks {
        fn new(realtime_s: i64) -> TestClocks {
            TestClocks {
                base: Instant::now(),
                passed: std::cell::Cell::new(Duration::ZERO),
                realtime_ns: std::cell::Cell::new(i128::from(realtime_s) * 1_000_000_000),
            }
        }
        /// Lets time pass until `until`: both clocks move by as much.
        fn pass_until(&self, until: Instant) {
            let d = until.saturating_duration_since(self.instant());
            self.passed.set(self.passed.get() + d);
            self.set_realtime_by(d.as_nanos() as i128);
        }
        /// `clock_settime`: the realtime clock alone moves.
        fn set_realtime_by(&self, ns: i128) {
            self.realtime_ns.set(self.realtime_ns.get() + ns);
        }
    }

    impl Clocks for TestClocks {
        fn read(&self, clock: Clock) -> timespec {
            assert_eq!(clock, Clock::Realtime);
            let ns = self.realtime_ns.get();
            timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            }
        }
        fn instant(&self) -> Instant {
            self.base + self.passed.get()
        }
    }

    const AT_100: timespec = timespec {
        tv_sec: 100,
        tv_nsec: 0,
    };

    #[test]
    fn a_realtime_wait_ends_soon_after_the_clock_is_set_past_its_abstime() {
        // At realtime 0, a wait for 100 s; after the first step the clock
        // is set forward to 150.
        let clocks = TestClocks::new(0);
        let mut steps = 0;
        let r: Result<(), c_int> = wait_until_on(&clocks, Clock::Realtime, &AT_100, |until| {
            steps += 1;
            assert!(until <= clocks.instant() + REALTIME_STEP);
            clocks.pass_until(until);
            if steps == 1 {
                clocks.set_realtime_by(149 * 1_000_000_000);
            }
            None
        });
        assert_eq!(r, Err(libc::ETIMEDOUT));
        assert_eq!(steps, 1, "waited on past its abstime");
        assert_eq!(clocks.passed.get(), REALTIME_STEP);
    }

    #[test]
    fn a_realtime_wait_goes_on_while_the_clock_is_set_back() {
        // At realtime 99, a wait for 100 s; after the first step the clock
        // is set back by 10 s: it must wait the 10 s more, in steps.
        let clocks = TestClocks::new(99);
        let mut steps = 0;
        let r: Result<(), c_int> = wait_until_on(&clocks, Clock::Realtime, &AT_100, |until| {
            steps += 1;
            clocks.pass_until(until);
            if steps == 1 {
                clocks.set_realtime_by(-10 * 1_000_000_000);
            }
            None
        });
        assert_eq!(r, Err(libc::ETIMEDOUT));
        assert_eq!(steps, 11);
        assert_eq!(clocks.passed.get(), Duration::from_secs(11));
    }

    #[test]
    fn a_timed_wait_returns_what_ended_it_and_einval_before_waiting() {
        let clocks = TestClocks::new(0);
        let r = wait_until_on(&clocks, Clock::Realtime, &AT_100, |_| Some(7));
        assert_eq!(r, Ok(7));
        let bad = timespec {
            tv_sec: 100,
            tv_nsec: -1,
        };
        let r: Result<(), c_int> =
            wait_until_on(&clocks, Clock::Realtime, &bad, |_| panic!("waited"));
        assert_eq!(r, Err(libc::EINVAL));
    }
}

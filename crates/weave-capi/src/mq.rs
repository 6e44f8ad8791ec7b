//! POSIX message queues that block only the ULT: `mq_receive`,
//! `mq_timedreceive`, `mq_send` and `mq_timedsend` as the compatibility
//! header maps them (opt out with `WEAVE_NO_IO`). All four are
//! cancellation points (POSIX).
//!
//! On Linux a message queue descriptor is an fd that `poll` reports
//! readable while the queue holds a message and writable while it has
//! room. So, on a ULT, a call on a queue opened without `O_NONBLOCK` is
//! first made with a deadline already past (`mq_timedreceive` /
//! `mq_timedsend` at the epoch: the system's answer now, `ETIMEDOUT`
//! for "would block", with no change to the queue's flags, which other
//! threads share); while it would block, the ULT waits for the queue in
//! weave's reactor (`io::wait`, a private copy of the descriptor) and
//! tries again. A cancellation request ends that wait (the request is
//! acted on; nothing was taken or sent), and so does a signal handler
//! installed without `SA_RESTART` (`EINTR`, as the system's calls do;
//! with `SA_RESTART` the wait goes on). A queue opened with `O_NONBLOCK`
//! gets its `EAGAIN` at once, and every call from a plain OS thread is
//! the system's (after acting on a pending request).
//!
//! The timed calls' `abs_timeout` is on `CLOCK_REALTIME`: the wait is
//! made in steps of at most a second, reading that clock again after
//! each, so it follows the clock if it is set (as weave's other realtime
//! waits). An invalid `abs_timeout` is `EINVAL`, as Linux answers
//! whether or not the call would block (POSIX lets a call that need not
//! wait skip that check).

use std::ffi::{c_char, c_int, c_uint};
use std::time::{Duration, Instant};

use libc::{mqd_t, ssize_t, timespec};
use weave_rt::os::fd::Interest;

use crate::cancel;
use crate::io::{errno, on_ult, wait, Waited};

/// A deadline already past: the system's answer at once.
const NOW: timespec = timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// The longest single wait before the realtime clock is read again.
const REALTIME_STEP: Duration = Duration::from_secs(1);

/// How long until the `CLOCK_REALTIME` time `abs` (zero once passed).
fn realtime_left(abs: &timespec) -> Duration {
    let mut now = NOW;
    // SAFETY: an out-value for the clock.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let ns = |t: &timespec| t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
    let left = ns(abs) - ns(&now);
    Duration::from_nanos(left.clamp(0, u64::MAX as i128) as u64)
}

/// Whether the queue was opened with `O_NONBLOCK` (then the system's call
/// answers `EAGAIN` itself).
fn nonblocking(q: mqd_t) -> bool {
    // SAFETY: an out-value for the queue's attributes.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: as above; a bad descriptor is an error.
    let r = unsafe { libc::mq_getattr(q, &mut attr) };
    r == 0 && attr.mq_flags & libc::O_NONBLOCK as libc::c_long != 0
}

/// A call on queue `q` that would block, made by `attempt(timeout)`
/// (the system's timed call with that `abs_timeout`); `timeout` is the
/// caller's (`None`: untimed). `None` when a cancellation request is to
/// be acted on; otherwise the result, `errno` set.
fn transfer(
    q: mqd_t,
    interest: Interest,
    timeout: Option<&timespec>,
    mut attempt: impl FnMut(&timespec) -> ssize_t,
) -> Option<ssize_t> {
    loop {
        let r = attempt(&NOW);
        if r >= 0 || errno() != libc::ETIMEDOUT {
            return Some(r);
        }
        let deadline = match timeout {
            None => None,
            Some(t) => {
                let left = realtime_left(t);
                if left.is_zero() {
                    crate::set_errno(libc::ETIMEDOUT);
                    return Some(-1);
                }
                Instant::now().checked_add(left.min(REALTIME_STEP))
            }
        };
        match wait(q, interest, deadline) {
            Waited::Ready | Waited::TimedOut => {}
            Waited::Cancel => return None,
            Waited::Interrupted => {
                crate::set_errno(libc::EINTR);
                return Some(-1);
            }
            Waited::Failed(e) => {
                crate::set_errno(e);
                return Some(-1);
            }
        }
    }
}

/// Acts on a due cancellation request at the entry of a call; whether
/// the call is the system's as it stands (a plain OS thread, or a queue
/// that does not block).
fn entry(q: mqd_t) -> bool {
    if cancel::due() {
        cancel::act();
    }
    !on_ult() || nonblocking(q)
}

/// `mq_timedreceive` or `mq_timedsend` on queue `q`: `call(t)` is the
/// system's call with the program's arguments and `t` for `abs_timeout`.
/// The program's `abs_timeout` is read and checked as the system's calls
/// do: a bad pointer is `EFAULT` (read as `poll::read_arg` reads, never
/// crashing; where the copy cannot be made here, the system's call
/// answers), a `tv_nsec` outside 0 to 999,999,999 is `EINVAL` (module
/// doc).
fn timed(
    q: mqd_t,
    interest: Interest,
    abs_timeout: *const timespec,
    mut call: impl FnMut(*const timespec) -> ssize_t,
) -> ssize_t {
    if entry(q) || abs_timeout.is_null() {
        return call(abs_timeout);
    }
    // SAFETY: a timespec is valid with any bytes; `abs_timeout` may be
    // any pointer.
    let read = unsafe { crate::poll::read_arg(abs_timeout, std::mem::size_of::<timespec>()) };
    let timeout = match read {
        Ok(t) => t.unwrap_or(NOW),
        Err(e) => return crate::poll::unreadable(e, || call(abs_timeout)),
    };
    if !(0..1_000_000_000).contains(&timeout.tv_nsec) {
        crate::set_errno(libc::EINVAL);
        return -1;
    }
    finish(transfer(q, interest, Some(&timeout), |t| call(t)))
}

fn finish(r: Option<ssize_t>) -> ssize_t {
    crate::io::finish(r)
}

/// `mq_receive`: on a ULT, waits (only the ULT) until the queue holds a
/// message, then takes the oldest of the highest priority (module doc).
/// A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_mq_receive(
    q: mqd_t,
    msg: *mut c_char,
    len: usize,
    prio: *mut c_uint,
) -> ssize_t {
    if entry(q) {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::mq_receive(q, msg, len, prio) };
    }
    // SAFETY: as above, with a deadline of ours.
    finish(transfer(q, Interest::Read, None, |t| unsafe {
        libc::mq_timedreceive(q, msg, len, prio, t)
    }))
}

/// `mq_timedreceive`: `mq_receive` that fails with `ETIMEDOUT` once the
/// `CLOCK_REALTIME` time `abs_timeout` passes (module doc). A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_mq_timedreceive(
    q: mqd_t,
    msg: *mut c_char,
    len: usize,
    prio: *mut c_uint,
    abs_timeout: *const timespec,
) -> ssize_t {
    // SAFETY: the program's arguments, as it passed them, with its
    // `abs_timeout` or a deadline of ours.
    timed(q, Interest::Read, abs_timeout, |t| unsafe {
        libc::mq_timedreceive(q, msg, len, prio, t)
    })
}

/// `mq_send`: on a ULT, waits (only the ULT) until the queue has room,
/// then sends (module doc). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_mq_send(
    q: mqd_t,
    msg: *const c_char,
    len: usize,
    prio: c_uint,
) -> c_int {
    if entry(q) {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::mq_send(q, msg, len, prio) };
    }
    // SAFETY: as above, with a deadline of ours.
    finish(transfer(q, Interest::Write, None, |t| unsafe {
        libc::mq_timedsend(q, msg, len, prio, t) as ssize_t
    })) as c_int
}

/// `mq_timedsend`: `mq_send` that fails with `ETIMEDOUT` once the
/// `CLOCK_REALTIME` time `abs_timeout` passes (module doc). A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_mq_timedsend(
    q: mqd_t,
    msg: *const c_char,
    len: usize,
    prio: c_uint,
    abs_timeout: *const timespec,
) -> c_int {
    // SAFETY: the program's arguments, as it passed them, with its
    // `abs_timeout` or a deadline of ours.
    timed(q, Interest::Write, abs_timeout, |t| unsafe {
        libc::mq_timedsend(q, msg, len, prio, t) as ssize_t
    }) as c_int
}

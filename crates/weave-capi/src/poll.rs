//! `poll`, `ppoll`, `select` and `pselect` that block only the ULT, as the
//! compatibility header maps them (opt out with `WEAVE_NO_IO`).
//!
//! Owns the loop of a wait on several fds; the waiting is weave's
//! (`weave::os::fd::wait_any`: a private epoll instance of the fds, watched
//! by the reactor). On a ULT with a timeout other than zero, the call is
//! first made with a zero timeout (the system's answer: `revents`, the
//! rewritten fd sets, `EBADF`, `EINVAL`, `POLLNVAL`); while nothing is
//! ready the ULT waits until one of the fds may be, then asks again. So
//! the readiness reported is always the system's own, and an fd the
//! reactor cannot watch (a regular file, which POSIX reports always ready)
//! is answered by that first call. A timeout of zero, and every call from
//! a plain OS thread, is the system's call.
//!
//! Each call is a cancellation point: a request pending at entry is acted
//! on, and a ULT waiting in one is woken by `pthread_cancel`. A signal
//! handler that runs on the waiting ULT ends the call with `EINTR`,
//! whatever its `SA_RESTART` (as Linux never restarts these calls).
//! `ppoll` and `pselect` put their signal mask in place as the ULT's own
//! (weave keeps masks per ULT) for the call and put the old one back at
//! its end: a signal pending and let through by it is delivered at once
//! and the call fails with `EINTR`. `select` writes the time left into
//! its `timeout`, as Linux does; `pselect` does not.
//!
//! If the wait cannot be set up (no fd left for the epoll instance,
//! `max_user_watches`), the call falls back to the system's, which blocks
//! the LWP for the time left.

use std::ffi::c_int;
use std::time::{Duration, Instant};

use libc::{fd_set, nfds_t, pollfd, sigset_t, timespec, timeval};
use weave_rt::os::fd::PollFd;
use weave_rt::signal::{How, SigSet};

use crate::cancel::{self, ACT};

fn on_ult() -> bool {
    weave_rt::thread::current_lwp().is_some()
}

/// Milliseconds from now until `deadline` for a system call that blocks
/// (rounded up, so it does not return before the deadline); -1 for none.
fn ms_until(deadline: Option<Instant>) -> c_int {
    match deadline {
        None => -1,
        Some(d) => d
            .saturating_duration_since(Instant::now())
            .as_nanos()
            .div_ceil(1_000_000)
            .min(c_int::MAX as u128) as c_int,
    }
}

/// A deadline `d` from now (`None`: too far to represent, no deadline).
fn after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// Clears the marks of a handler that ran before this wait (they are not
/// this wait's).
fn forget_handlers() {
    weave_rt::signal::take_interrupted();
    weave_rt::signal::take_interrupted_without_restart();
}

/// Whether a signal handler ran on the ULT while it waited.
fn handler_ran() -> bool {
    // Both marks are taken: `|` not `||`.
    weave_rt::signal::take_interrupted() | weave_rt::signal::take_interrupted_without_restart()
}

/// The wait of a call on a ULT. `check(ms)` is the system's call with
/// that timeout (0: an answer now), returning its result with `errno`
/// set; `set()` the fds and events to wait for, asked once the first
/// answer was "none ready" (so the arguments were valid); `mask` the
/// signal mask for the call (`ppoll`, `pselect`). The result, or [`ACT`].
fn wait_loop(
    mut check: impl FnMut(c_int) -> c_int,
    set: impl FnOnce() -> Vec<PollFd>,
    deadline: Option<Instant>,
    mask: Option<SigSet>,
) -> c_int {
    let swapped = mask.map(|m| {
        let blocked_pending = weave_rt::signal::pending();
        // Opening the mask delivers a pending signal it lets through.
        let old = weave_rt::signal::mask(How::SetMask, &m);
        let let_in = blocked_pending.bits() & !m.bits() != 0;
        (old, let_in)
    });
    let r = if swapped.is_some_and(|(_, let_in)| let_in) {
        crate::set_errno(libc::EINTR);
        -1
    } else {
        wait_for_any(&mut check, set, deadline)
    };
    if let Some((old, _)) = swapped {
        let e = errno();
        weave_rt::signal::mask(How::SetMask, &old);
        crate::set_errno(e);
    }
    r
}

fn wait_for_any(
    check: &mut impl FnMut(c_int) -> c_int,
    set: impl FnOnce() -> Vec<PollFd>,
    deadline: Option<Instant>,
) -> c_int {
    let mut set = Some(set);
    let mut fds = Vec::new();
    loop {
        let n = check(0);
        if n != 0 {
            return n;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
        if let Some(make) = set.take() {
            fds = make();
        }
        forget_handlers();
        match cancel::point(|| weave_rt::os::fd::wait_any(&fds, deadline)) {
            Err(()) | Ok((_, true)) => return ACT,
            Ok((_, false)) if handler_ran() => {
                crate::set_errno(libc::EINTR);
                return -1;
            }
            Ok((Ok(true), false)) => {}
            Ok((Ok(false), false)) => return check(0),
            // No wait in the reactor to be had (module doc).
            Ok((Err(_), false)) => return check(ms_until(deadline)),
        }
    }
}

fn errno() -> c_int {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// The fds and events of a `pollfd` array, for the wait.
///
/// # Safety
///
/// `fds` points to `nfds` readable `pollfd`s (or `nfds` is 0).
unsafe fn poll_set(fds: *const pollfd, nfds: nfds_t) -> Vec<PollFd> {
    if nfds == 0 || fds.is_null() {
        return Vec::new();
    }
    // SAFETY: the caller's array (the contract above).
    let fds = unsafe { std::slice::from_raw_parts(fds, nfds as usize) };
    fds.iter()
        .map(|p| PollFd {
            fd: p.fd,
            events: p.events,
        })
        .collect()
}

/// `poll`: on a ULT with a timeout other than 0, waits (only the ULT) in
/// weave's reactor until one of the fds is ready for its events, the
/// timeout passes (0), a signal handler runs on the thread (`EINTR`), or
/// a cancellation request comes; `revents` are the system's. From an OS
/// thread, or with a timeout of 0, the system's `poll`. A cancellation
/// point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_poll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || timeout == 0 {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::poll(fds, nfds, timeout) };
    }
    let deadline = if timeout < 0 {
        None
    } else {
        after(Duration::from_millis(timeout as u64))
    };
    // SAFETY: the program's arguments; `poll(2)` checks them.
    let check = |ms| unsafe { libc::poll(fds, nfds, ms) };
    // SAFETY: `nfds` pollfds at `fds`: `poll(2)` read them (no EFAULT).
    let set = || unsafe { poll_set(fds, nfds) };
    cancel::finish(wait_loop(check, set, deadline, None))
}

/// A `timespec` timeout as a duration; `None` if it is invalid (a negative
/// field, or nanoseconds past a second).
fn timespec_duration(t: &timespec) -> Option<Duration> {
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return None;
    }
    Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

/// The signal mask a `ppoll`/`pselect` caller passed, as weave's.
///
/// # Safety
///
/// `m` is null or a readable `sigset_t`.
unsafe fn mask_of(m: *const sigset_t) -> Option<SigSet> {
    // SAFETY: the caller's set (the contract above).
    unsafe { m.as_ref() }.map(|m| crate::signal::without_reserved(SigSet::from_sigset_t(m)))
}

/// `ppoll`: `poll` with a `timespec` timeout (null: none) and a signal mask
/// (null: the thread's) in force for the call; on a ULT the mask is the
/// ULT's (module doc). `EINVAL` for a bad timeout. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    // SAFETY: null or the program's timespec.
    let limit = unsafe { timeout.as_ref() }.map(timespec_duration);
    if !on_ult() || limit == Some(None) {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::ppoll(fds, nfds, timeout, sigmask) };
    }
    let deadline = limit.flatten().and_then(after);
    // SAFETY: the program's arguments; `poll(2)` checks them.
    let check = |ms| unsafe { libc::poll(fds, nfds, ms) };
    // SAFETY: `nfds` pollfds at `fds`: `poll(2)` read them (no EFAULT).
    let set = || unsafe { poll_set(fds, nfds) };
    // SAFETY: null or the program's set.
    let mask = unsafe { mask_of(sigmask) };
    cancel::finish(wait_loop(check, set, deadline, mask))
}

/// The three fd sets of a `select`, as the caller passed them (null: none).
#[derive(Clone, Copy)]
struct Sets {
    read: *mut fd_set,
    write: *mut fd_set,
    except: *mut fd_set,
}

impl Sets {
    /// The fds and events to wait for, from the sets as the caller
    /// passed them (`saved`: the calls since have rewritten its own):
    /// read, write and exceptional conditions as `poll`'s `POLLIN`,
    /// `POLLOUT` and `POLLPRI`. `nfds` at most `FD_SETSIZE`.
    fn poll_set(saved: &[Option<fd_set>; 3], nfds: c_int) -> Vec<PollFd> {
        let has = |s: &Option<fd_set>, fd| {
            // SAFETY: a set of ours, fd < FD_SETSIZE.
            s.as_ref().is_some_and(|s| unsafe { libc::FD_ISSET(fd, s) })
        };
        (0..nfds)
            .filter_map(|fd| {
                let mut events = 0;
                if has(&saved[0], fd) {
                    events |= libc::POLLIN;
                }
                if has(&saved[1], fd) {
                    events |= libc::POLLOUT;
                }
                if has(&saved[2], fd) {
                    events |= libc::POLLPRI;
                }
                (events != 0).then_some(PollFd { fd, events })
            })
            .collect()
    }

    /// A copy of each set, to ask again from the same question.
    ///
    /// # Safety
    ///
    /// Each set is null or readable.
    unsafe fn saved(self) -> [Option<fd_set>; 3] {
        // SAFETY: each is null or readable (the contract above).
        [self.read, self.write, self.except].map(|s| unsafe { s.as_ref() }.copied())
    }

    /// `select(2)` with the caller's sets as they were (`saved`), which the
    /// answer rewrites; `timeout` as given to the system.
    ///
    /// # Safety
    ///
    /// As [`Sets::poll_set`], and each set is writable.
    unsafe fn select(
        self,
        nfds: c_int,
        saved: &[Option<fd_set>; 3],
        timeout: *mut timeval,
    ) -> c_int {
        for (s, v) in [self.read, self.write, self.except].into_iter().zip(saved) {
            if let Some(v) = v {
                // SAFETY: non-null where a copy was saved; the caller's set.
                unsafe { s.write(*v) };
            }
        }
        // SAFETY: the caller's sets and nfds (the contract above).
        unsafe { libc::select(nfds, self.read, self.write, self.except, timeout) }
    }
}

/// Whether the system answers a `select` at once: bad `nfds` or timeout
/// (`EINVAL`).
fn select_args_bad(nfds: c_int, limit: Option<Option<Duration>>) -> bool {
    !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) || limit == Some(None)
}

/// `select`: on a ULT with a timeout other than zero, waits (only the ULT)
/// in weave's reactor until one of the fds in the sets is ready, the
/// timeout passes, a signal handler runs on the thread (`EINTR`) or a
/// cancellation request comes; the sets are rewritten to the ready fds,
/// as the system's call does, and `timeout` holds the time left (as on
/// Linux). From an OS thread, or with a zero timeout, the system's
/// `select`. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_select(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *mut timeval,
) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    // SAFETY: null or the program's timeval.
    let limit = unsafe { timeout.as_ref() }.map(|t| {
        (t.tv_sec >= 0 && (0..1_000_000).contains(&t.tv_usec))
            .then(|| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000))
    });
    if !on_ult() || select_args_bad(nfds, limit) || limit == Some(Some(Duration::ZERO)) {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::select(nfds, readfds, writefds, exceptfds, timeout) };
    }
    let deadline = limit.flatten().and_then(after);
    let sets = Sets {
        read: readfds,
        write: writefds,
        except: exceptfds,
    };
    // SAFETY: the program's sets (`select`'s contract), nfds checked.
    let saved = unsafe { sets.saved() };
    let set = || Sets::poll_set(&saved, nfds);
    let check = |ms: c_int| {
        let mut tv = timeval {
            tv_sec: (ms / 1000) as _,
            tv_usec: ((ms % 1000) * 1000) as _,
        };
        let tv = if ms < 0 {
            std::ptr::null_mut()
        } else {
            &mut tv
        };
        // SAFETY: as above.
        unsafe { sets.select(nfds, &saved, tv) }
    };
    let r = wait_loop(check, set, deadline, None);
    if r != ACT && !timeout.is_null() {
        let left = deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        // SAFETY: non-null; the program's timeval.
        unsafe {
            timeout.write(timeval {
                tv_sec: left.as_secs() as _,
                tv_usec: left.subsec_micros() as _,
            })
        };
    }
    cancel::finish(r)
}

/// `pselect`: `select` with a `timespec` timeout (not written back) and a
/// signal mask (null: the thread's) in force for the call; on a ULT the
/// mask is the ULT's (module doc). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pselect(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    // SAFETY: null or the program's timespec.
    let limit = unsafe { timeout.as_ref() }.map(timespec_duration);
    if !on_ult() || select_args_bad(nfds, limit) {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::pselect(nfds, readfds, writefds, exceptfds, timeout, sigmask) };
    }
    let deadline = limit.flatten().and_then(after);
    let sets = Sets {
        read: readfds,
        write: writefds,
        except: exceptfds,
    };
    // SAFETY: the program's sets (`pselect`'s contract), nfds checked.
    let saved = unsafe { sets.saved() };
    let set = || Sets::poll_set(&saved, nfds);
    let check = |ms: c_int| {
        let mut tv = timeval {
            tv_sec: (ms / 1000) as _,
            tv_usec: ((ms % 1000) * 1000) as _,
        };
        let tv = if ms < 0 {
            std::ptr::null_mut()
        } else {
            &mut tv
        };
        // SAFETY: as above.
        unsafe { sets.select(nfds, &saved, tv) }
    };
    // SAFETY: null or the program's set.
    let mask = unsafe { mask_of(sigmask) };
    cancel::finish(wait_loop(check, set, deadline, mask))
}

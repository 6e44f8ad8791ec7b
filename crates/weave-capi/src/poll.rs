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
//! whatever its `SA_RESTART` (as Linux never restarts these calls),
//! unless an fd is ready when the call looks again: readiness comes
//! first, as in Linux's own order (it scans the fds, then looks at
//! signals). `ppoll` and `pselect` put their signal mask in place as the
//! ULT's own (weave keeps masks per ULT) for the call and put the old one
//! back at its end; the fds are asked first, so a ready one is reported
//! and a pending signal the mask would let in stays pending, as on Linux;
//! with none ready, such a signal is delivered at once and the call fails
//! with `EINTR`. `select` writes the time left into its `timeout`, as
//! Linux does; `pselect` does not.
//!
//! **`close` under a wait.** Another thread's `close` of one of the fds
//! ends the wait (`weave::os::fd::close`), as it ends a `read` or
//! `accept` on that fd with `EBADF`; the call then answers as it would if
//! made after the close: `poll` and `ppoll` report `POLLNVAL` for that fd
//! (the others' `revents` are the system's), `select` and `pselect` fail
//! with `EBADF`, their sets left as passed. The closed number is not
//! asked about again (it may name another file by then). Linux keeps such
//! a call waiting; POSIX leaves it unspecified.
//!
//! **Bad pointers** never crash: on a ULT the fd sets, the timeout and
//! the signal mask are read as the system reads them (`process_vm_readv`
//! of the calling process, which fails with `EFAULT` where the memory
//! cannot be read), and only the bytes the system reads and writes of an
//! fd set (`nfds` bits, in whole `long`s) are written back. A bad
//! `pollfd` array, or a set the system cannot write, is the system's
//! `EFAULT` from the first call. Where that copy cannot be made
//! (`process_vm_readv` refused by a filter), the call is the system's,
//! blocking the LWP.
//!
//! If the wait cannot be set up (no fd left for the epoll instance,
//! `max_user_watches`), the call falls back to the system's, which blocks
//! the LWP for the time left.

use std::ffi::c_int;
use std::time::{Duration, Instant};

use std::os::fd::RawFd;

use libc::{fd_set, nfds_t, pollfd, sigset_t, timespec, timeval};
use weave_rt::os::fd::{AnyWait, PollFd};
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
/// answer was "none ready" (so the arguments were valid); `closed(fds)`
/// the answer when `close` closed those fds of the set during the wait
/// (module doc); `mask` the signal mask for the call (`ppoll`,
/// `pselect`). The result, or [`ACT`].
fn wait_loop(
    mut check: impl FnMut(c_int) -> c_int,
    set: impl FnOnce() -> Vec<PollFd>,
    closed: impl FnOnce(&[RawFd]) -> c_int,
    deadline: Option<Instant>,
    mask: Option<SigSet>,
) -> c_int {
    // The fds first, before the mask is in place: one ready at the call is
    // reported even if the mask lets a pending signal in, which stays
    // pending (Linux scans the fds before it looks at signals).
    let n = check(0);
    if n != 0 || deadline.is_some_and(|d| Instant::now() >= d) {
        return n;
    }
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
        wait_for_any(&mut check, set(), closed, deadline)
    };
    if let Some((old, _)) = swapped {
        let e = errno();
        weave_rt::signal::mask(How::SetMask, &old);
        crate::set_errno(e);
    }
    r
}

/// The waits of [`wait_loop`] once the first answer was "none ready".
fn wait_for_any(
    check: &mut impl FnMut(c_int) -> c_int,
    fds: Vec<PollFd>,
    closed: impl FnOnce(&[RawFd]) -> c_int,
    deadline: Option<Instant>,
) -> c_int {
    loop {
        forget_handlers();
        let woken = match cancel::point(|| weave_rt::os::fd::wait_any(&fds, deadline)) {
            Err(()) | Ok((_, true)) => return ACT,
            Ok((Ok(w), false)) => w,
            // No wait in the reactor to be had (module doc).
            Ok((Err(_), false)) => return check(ms_until(deadline)),
        };
        let interrupted = handler_ran();
        if let AnyWait::Closed(fds) = woken {
            return closed(&fds);
        }
        // Readiness before EINTR, as at the call: an fd ready when the
        // call looks again is reported, a handler having run or not.
        let n = check(0);
        if n != 0 {
            return n;
        }
        if interrupted {
            crate::set_errno(libc::EINTR);
            return -1;
        }
        if woken == AnyWait::TimedOut || deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
    }
}

/// Copies `len` bytes at `src`, memory of the program's that a system call
/// would read, to `dst`; `Err(errno)` if they cannot be read (`EFAULT`, as
/// the system call would fail: a bad pointer never crashes), or if the
/// copy cannot be made here (`ENOSYS`, `EPERM` under a filter: the caller
/// falls back to the system's call).
///
/// # Safety
///
/// `dst` is writable for `len` bytes.
unsafe fn copy_in(src: *const u8, dst: *mut u8, len: usize) -> Result<(), c_int> {
    if len == 0 {
        return Ok(());
    }
    let local = libc::iovec {
        iov_base: dst.cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: src.cast_mut().cast(),
        iov_len: len,
    };
    // SAFETY: the kernel writes `len` bytes at `dst` (the contract above)
    // and reads `src` through the page tables, failing with EFAULT where
    // it cannot: nothing here touches `src`.
    let r = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    match r {
        r if r == len as isize => Ok(()),
        r if r >= 0 => Err(libc::EFAULT),
        _ => Err(errno()),
    }
}

/// Copies `len` bytes from `src` to `dst`, memory of the program's that a
/// system call would write: where it cannot be written, nothing is (and
/// nothing crashes).
///
/// # Safety
///
/// `src` is readable for `len` bytes.
unsafe fn copy_out(dst: *mut u8, src: *const u8, len: usize) {
    let local = libc::iovec {
        iov_base: src.cast_mut().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: dst.cast(),
        iov_len: len,
    };
    // SAFETY: the kernel reads `len` bytes at `src` (the contract above)
    // and writes `dst` through the page tables, failing where it cannot.
    unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
}

/// A `T` the program passed by pointer (null: `None`), read as a system
/// call would: `Err(errno)` as [`copy_in`]. Reads `len` bytes (at most
/// `size_of::<T>()`, the rest zero): what the system reads of it.
///
/// # Safety
///
/// `T` is valid with any bytes (a plain C struct).
pub(crate) unsafe fn read_arg<T: Copy>(p: *const T, len: usize) -> Result<Option<T>, c_int> {
    if p.is_null() {
        return Ok(None);
    }
    let len = len.min(std::mem::size_of::<T>());
    let mut v = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `v` has room for `len <= size_of::<T>()` bytes.
    unsafe { copy_in(p.cast(), v.as_mut_ptr().cast(), len) }?;
    // SAFETY: zeroed, then bytes of a `T` (the contract above).
    Ok(Some(unsafe { v.assume_init() }))
}

/// The end of a call whose argument could not be read: `EFAULT` as the
/// system's answer; any other error means the copy cannot be made here,
/// and `fallback` (the system's call, blocking the LWP) answers.
pub(crate) fn unreadable<R: From<i8>>(e: c_int, fallback: impl FnOnce() -> R) -> R {
    if e == libc::EFAULT {
        crate::set_errno(libc::EFAULT);
        return R::from(-1);
    }
    fallback()
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

/// The answer of `poll`/`ppoll` when `close` closed the fds `closed` of
/// the set during the wait: the system's for the others (`check(0)`),
/// and `POLLNVAL` for those, without asking the system about their
/// numbers (which may name other files by now), counted as ready.
///
/// # Safety
///
/// `fds` points to `nfds` writable `pollfd`s (`poll(2)` wrote them).
unsafe fn poll_closed(
    fds: *mut pollfd,
    nfds: nfds_t,
    closed: &[RawFd],
    check: impl FnOnce(c_int) -> c_int,
) -> c_int {
    let n = check(0);
    if n < 0 {
        return n;
    }
    // SAFETY: the program's array (the contract above).
    let all = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    let mut count = n;
    for p in all.iter_mut().filter(|p| closed.contains(&p.fd)) {
        if p.revents == 0 {
            count += 1;
        }
        p.revents = libc::POLLNVAL;
    }
    count
}

/// `poll`: on a ULT with a timeout other than 0, waits (only the ULT) in
/// weave's reactor until one of the fds is ready for its events, the
/// timeout passes (0), a signal handler runs on the thread (`EINTR`, if
/// no fd is ready by then), another thread closes one of the fds
/// (`POLLNVAL` for it), or a cancellation request comes; `revents` are
/// the system's. From an OS thread, or with a timeout of 0, the system's
/// `poll`. A cancellation point.
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
    // SAFETY: as above; `poll(2)` wrote them.
    let closed = |c: &[RawFd]| unsafe { poll_closed(fds, nfds, c, check) };
    cancel::finish(wait_loop(check, set, closed, deadline, None))
}

/// A `timespec` timeout as a duration; `None` if it is invalid (a negative
/// field, or nanoseconds past a second).
fn timespec_duration(t: &timespec) -> Option<Duration> {
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return None;
    }
    Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

/// The bytes of a signal mask the system reads (`_NSIG / 8`: the kernel's
/// set, not glibc's larger `sigset_t`).
const KERNEL_SIGSET: usize = 8;

/// The signal mask a `ppoll`/`pselect` caller passed, as weave's (null:
/// none); `Err(errno)` as [`read_arg`].
///
/// # Safety
///
/// None beyond the call's: `m` may be any pointer.
unsafe fn mask_of(m: *const sigset_t) -> Result<Option<SigSet>, c_int> {
    // SAFETY: a sigset_t is valid with any bytes.
    let m = unsafe { read_arg(m, KERNEL_SIGSET) }?;
    Ok(m.map(|m| crate::signal::without_reserved(SigSet::from_sigset_t(&m))))
}

/// `ppoll`: `poll` with a `timespec` timeout (null: none) and a signal mask
/// (null: the thread's) in force for the call; on a ULT the mask is the
/// ULT's (module doc). `EINVAL` for a bad timeout, `EFAULT` for a timeout
/// or mask that cannot be read. A cancellation point.
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
    // SAFETY: the program's arguments, as it passed them.
    let system = || unsafe { libc::ppoll(fds, nfds, timeout, sigmask) };
    if !on_ult() {
        return system();
    }
    // SAFETY: a timespec is valid with any bytes.
    let limit = match unsafe { read_arg(timeout, std::mem::size_of::<timespec>()) } {
        Ok(t) => t.map(|t| timespec_duration(&t)),
        Err(e) => return unreadable(e, system),
    };
    // SAFETY: any pointer (`mask_of`'s contract).
    let mask = match unsafe { mask_of(sigmask) } {
        Ok(m) => m,
        Err(e) => return unreadable(e, system),
    };
    if limit == Some(None) {
        return system();
    }
    let deadline = limit.flatten().and_then(after);
    // SAFETY: the program's arguments; `poll(2)` checks them.
    let check = |ms| unsafe { libc::poll(fds, nfds, ms) };
    // SAFETY: `nfds` pollfds at `fds`: `poll(2)` read them (no EFAULT).
    let set = || unsafe { poll_set(fds, nfds) };
    // SAFETY: as above; `poll(2)` wrote them.
    let closed = |c: &[RawFd]| unsafe { poll_closed(fds, nfds, c, check) };
    cancel::finish(wait_loop(check, set, closed, deadline, mask))
}

/// The three fd sets of a `select`, as the caller passed them (null: none).
#[derive(Clone, Copy)]
struct Sets {
    read: *mut fd_set,
    write: *mut fd_set,
    except: *mut fd_set,
}

/// The bytes of an fd set the system reads and writes for `nfds`
/// (`nfds` bits, in whole `long`s), which may be fewer than an `fd_set`'s.
fn set_bytes(nfds: c_int) -> usize {
    const LONG_BITS: usize = 8 * std::mem::size_of::<libc::c_long>();
    (nfds.max(0) as usize).div_ceil(LONG_BITS) * std::mem::size_of::<libc::c_long>()
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

    /// A copy of the part of each set the system reads (null: `None`), to
    /// ask again from the same question; `Err(errno)` as [`read_arg`]
    /// where one cannot be read (a bad pointer: `EFAULT`).
    fn saved(self, nfds: c_int) -> Result<[Option<fd_set>; 3], c_int> {
        let mut out = [None; 3];
        for (o, s) in out.iter_mut().zip([self.read, self.write, self.except]) {
            // SAFETY: an fd_set is valid with any bytes; `s` may be any
            // pointer (`read_arg` reads it as the system would).
            *o = unsafe { read_arg(s.cast_const(), set_bytes(nfds)) }?;
        }
        Ok(out)
    }

    /// Puts the caller's sets back as they were (`saved`), the part the
    /// system reads and writes only.
    ///
    /// # Safety
    ///
    /// Each set of `saved` is writable for [`set_bytes`]: the system wrote
    /// it already.
    unsafe fn restore(self, nfds: c_int, saved: &[Option<fd_set>; 3]) {
        for (s, v) in [self.read, self.write, self.except].into_iter().zip(saved) {
            if let Some(v) = v {
                // SAFETY: non-null where a copy was saved; the caller's
                // set, `set_bytes(nfds) <= size_of::<fd_set>()` bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        (v as *const fd_set).cast::<u8>(),
                        s.cast::<u8>(),
                        set_bytes(nfds),
                    )
                };
            }
        }
    }

    /// `select(2)` with the caller's sets as they were (`saved`), which the
    /// answer rewrites (the first call, `fresh`, finds them as they were);
    /// a timeout of `ms` (-1: none).
    ///
    /// # Safety
    ///
    /// As [`Sets::restore`] unless `fresh`.
    unsafe fn select(
        self,
        nfds: c_int,
        saved: &[Option<fd_set>; 3],
        fresh: &mut bool,
        ms: c_int,
    ) -> c_int {
        if !std::mem::take(fresh) {
            // SAFETY: the system wrote the sets (the contract above).
            unsafe { self.restore(nfds, saved) };
        }
        let mut tv = timeval {
            tv_sec: (ms / 1000) as _,
            tv_usec: ((ms % 1000) * 1000) as _,
        };
        let tv = if ms < 0 {
            std::ptr::null_mut()
        } else {
            &mut tv
        };
        // SAFETY: the caller's sets and nfds; the system checks them.
        unsafe { libc::select(nfds, self.read, self.write, self.except, tv) }
    }

    /// The answer of a `select` when `close` closed fds of the sets during
    /// the wait: `EBADF`, as the system answers for a closed fd, with the
    /// sets as the caller passed them.
    ///
    /// # Safety
    ///
    /// As [`Sets::restore`].
    unsafe fn closed(self, nfds: c_int, saved: &[Option<fd_set>; 3]) -> c_int {
        // SAFETY: the contract above.
        unsafe { self.restore(nfds, saved) };
        crate::set_errno(libc::EBADF);
        -1
    }
}

/// Whether the system answers a `select` at once: bad `nfds` or timeout
/// (`EINVAL`).
fn select_args_bad(nfds: c_int, limit: Option<Option<Duration>>) -> bool {
    !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) || limit == Some(None)
}

/// The wait of `select` and `pselect` on a ULT, once the arguments were
/// read: `sets` as the caller passed them; the result, or [`ACT`].
fn select_wait(
    nfds: c_int,
    sets: Sets,
    deadline: Option<Instant>,
    mask: Option<SigSet>,
    system: impl FnOnce() -> c_int,
) -> c_int {
    let saved = match sets.saved(nfds) {
        Ok(saved) => saved,
        Err(e) => return unreadable(e, system),
    };
    let set = || Sets::poll_set(&saved, nfds);
    let mut fresh = true;
    // SAFETY: the program's sets, read above; the system checks that it
    // may write them on the first call, before any write of ours.
    let check = |ms: c_int| unsafe { sets.select(nfds, &saved, &mut fresh, ms) };
    // SAFETY: the wait began after the system wrote the sets.
    let closed = |_: &[RawFd]| unsafe { sets.closed(nfds, &saved) };
    wait_loop(check, set, closed, deadline, mask)
}

/// `select`: on a ULT with a timeout other than zero, waits (only the ULT)
/// in weave's reactor until one of the fds in the sets is ready, the
/// timeout passes, a signal handler runs on the thread (`EINTR`, if no fd
/// is ready by then), another thread closes one of the fds (`EBADF`, the
/// sets left as passed) or a cancellation request comes; the sets are
/// rewritten to the ready fds, as the system's call does, and `timeout`
/// holds the time left (as on Linux). A set or timeout that cannot be read
/// is `EFAULT`, as the system says. From an OS thread, or with a zero
/// timeout, the system's `select`. A cancellation point.
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
    // SAFETY: the program's arguments, as it passed them.
    let system = || unsafe { libc::select(nfds, readfds, writefds, exceptfds, timeout) };
    if !on_ult() {
        return system();
    }
    // SAFETY: a timeval is valid with any bytes.
    let limit = match unsafe { read_arg(timeout.cast_const(), std::mem::size_of::<timeval>()) } {
        Ok(t) => t.map(|t| {
            (t.tv_sec >= 0 && (0..1_000_000).contains(&t.tv_usec))
                .then(|| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000))
        }),
        Err(e) => return unreadable(e, system),
    };
    if select_args_bad(nfds, limit) || limit == Some(Some(Duration::ZERO)) {
        return system();
    }
    let deadline = limit.flatten().and_then(after);
    let sets = Sets {
        read: readfds,
        write: writefds,
        except: exceptfds,
    };
    let r = select_wait(nfds, sets, deadline, None, system);
    if r != ACT && !timeout.is_null() && !(r < 0 && errno() == libc::EFAULT) {
        let left = deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let left = timeval {
            tv_sec: left.as_secs() as _,
            tv_usec: left.subsec_micros() as _,
        };
        // Written as the system writes it, which ignores a timeout it
        // cannot write back: memory it could read may be read-only.
        // SAFETY: `left` is a readable timeval.
        unsafe {
            copy_out(
                timeout.cast(),
                (&left as *const timeval).cast(),
                std::mem::size_of::<timeval>(),
            )
        };
    }
    cancel::finish(r)
}

/// `pselect`: `select` with a `timespec` timeout (not written back) and a
/// signal mask (null: the thread's) in force for the call; on a ULT the
/// mask is the ULT's (module doc). `EFAULT` for a set, timeout or mask
/// that cannot be read. A cancellation point.
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
    // SAFETY: the program's arguments, as it passed them.
    let system = || unsafe { libc::pselect(nfds, readfds, writefds, exceptfds, timeout, sigmask) };
    if !on_ult() {
        return system();
    }
    // SAFETY: a timespec is valid with any bytes.
    let limit = match unsafe { read_arg(timeout, std::mem::size_of::<timespec>()) } {
        Ok(t) => t.map(|t| timespec_duration(&t)),
        Err(e) => return unreadable(e, system),
    };
    if select_args_bad(nfds, limit) {
        return system();
    }
    // SAFETY: any pointer (`mask_of`'s contract).
    let mask = match unsafe { mask_of(sigmask) } {
        Ok(m) => m,
        Err(e) => return unreadable(e, system),
    };
    let deadline = limit.flatten().and_then(after);
    let sets = Sets {
        read: readfds,
        write: writefds,
        except: exceptfds,
    };
    cancel::finish(select_wait(nfds, sets, deadline, mask, system))
}

//! Socket calls that block only the ULT: `read`, `write`, `recv`, `send`,
//! `accept`, `accept4`, `connect` as the compatibility header maps them
//! (opt out with `WEAVE_NO_IO`); the ones with addresses, messages and
//! buffer arrays are in `io_msg.rs`, `poll` and `select` in `poll.rs`,
//! both built on the helpers here.
//!
//! Owns the choice of how each call waits; the waiting is weave's
//! (`weave::os::fd::wait`, the reactor). On a ULT, a call on a socket in
//! blocking mode is made without blocking (`MSG_DONTWAIT`, or the socket
//! briefly non-blocking for `connect`); if it would block, the ULT waits
//! for readiness and tries again, honouring the socket's `SO_RCVTIMEO` /
//! `SO_SNDTIMEO` (`EAGAIN` when they pass, as the kernel says). A socket
//! the program made non-blocking gets its `EAGAIN` as before. `read` and
//! `write` on what is not a socket go to `io_pipe.rs`: pipes, eventfds and
//! the other files the kernel will try without blocking wait the same
//! way, only the ULT; regular files, and the files the kernel refuses to
//! try so (a FIFO opened by name, a terminal), are the system's calls.
//! Every call from a plain OS thread goes to the system unchanged.
//!
//! Each call is a cancellation point (`cancel.rs`): a ULT waiting in one
//! is woken by `pthread_cancel`. A signal handler installed without
//! `SA_RESTART` that runs on the waiting ULT ends the call with `EINTR` (or
//! the count already transferred), as the kernel ends its own; with
//! `SA_RESTART` the wait goes on.
//!
//! `close` is mapped too (`weave::os::fd::close`). It is a cancellation
//! point (POSIX), and it ends the waits of the ULTs blocked here on the
//! fd: each such call returns `-1` with `errno` `EBADF` at once (a
//! writer that had sent part returns that count), as some systems do for
//! a call blocked on an fd that another thread closes. Linux itself keeps
//! such a call blocked, holding the file open; on a ULT that would keep a
//! socket open that the program believes closed. Other copies of the
//! socket (a `dup`, a forked child's) and the ULTs waiting on them are
//! untouched: the file is closed only when its last copy is, as always.
//! Each wait registers a private copy of the fd with weave's reactor, so a
//! closed fd's number is safe to reuse at once. `poll`, `ppoll`, `select`
//! and `pselect` waiting on the fd are ended too, with the answer a call
//! made after the close gets (`POLLNVAL` for it, or `EBADF`: `poll.rs`),
//! so that every call blocked on an fd behaves alike when it is closed.
//!
//! `read`, `write`, `readv` and `writev` tell a socket from the rest by
//! the socket call itself (`ENOTSOCK` on anything else), or by `fstat`
//! first where the fd number was not a socket the last time
//! (`io_kind.rs`: a hint of which probe to make first, never trusted for
//! the kind): a socket costs one system call, a regular file or a pipe
//! `fstat` and the call.
//!
//! The one piece of state about fds here: the lock by which accepters of
//! one listening fd take turns (`accept_lock`), made on first use for any
//! fd number (the hint bits are `io_kind.rs`'s).

use std::ffi::{c_int, c_void};
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::{Duration, Instant};

use libc::{sockaddr, socklen_t, ssize_t};
use weave_rt::os::fd::Interest;
use weave_rt::sync::RawLock;

use crate::cancel;
use crate::io_kind::{self, Kind};

pub(crate) fn errno() -> c_int {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

pub(crate) fn on_ult() -> bool {
    weave_rt::thread::current_lwp().is_some()
}

/// Whether the program made `fd` non-blocking.
fn nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL reads flags; a bad fd is an error.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    fl >= 0 && fl & libc::O_NONBLOCK != 0
}

/// Whether `fd` is a stream socket (where a receive may be continued
/// after part of the data, and a send can be partial).
pub(crate) fn is_stream(fd: c_int) -> bool {
    let mut ty: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: an int-sized out-value for SO_TYPE.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut c_int).cast(),
            &mut len,
        )
    };
    r == 0 && ty == libc::SOCK_STREAM
}

/// When the socket's own timeout for `interest` (`SO_RCVTIMEO` /
/// `SO_SNDTIMEO`) passes, counted from now; `None` if it has none.
fn socket_deadline(fd: c_int, interest: Interest) -> Option<Instant> {
    weave_rt::os::fd::socket_timeout(fd, interest).and_then(|d| Instant::now().checked_add(d))
}

/// How a wait for readiness ended.
pub(crate) enum Waited {
    Ready,
    /// The socket's timeout passed: `EAGAIN`.
    TimedOut,
    /// The wait failed: this errno.
    Failed(c_int),
    /// A cancellation request is to be acted on.
    Cancel,
    /// A handler installed without `SA_RESTART` ran on the thread: `EINTR`.
    Interrupted,
}

pub(crate) fn wait(fd: c_int, interest: Interest, deadline: Option<Instant>) -> Waited {
    // A handler that ran before this wait is not this wait's.
    weave_rt::signal::take_interrupted_without_restart();
    let r = cancel::point(|| weave_rt::os::fd::wait(fd, interest, deadline));
    match r {
        Err(()) | Ok((_, true)) => Waited::Cancel,
        Ok((Ok(true), false)) if weave_rt::signal::take_interrupted_without_restart() => {
            Waited::Interrupted
        }
        Ok((Ok(true), false)) => Waited::Ready,
        Ok((Ok(false), false)) => Waited::TimedOut,
        Ok((Err(e), false)) => Waited::Failed(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// A call that transfers data, made without blocking by `attempt` (which
/// returns the system call's result, errno set on -1); `None` when a
/// cancellation request is to be acted on. `all`: keep going after a
/// partial transfer until `len` is done (a blocking stream write).
pub(crate) fn transfer(
    fd: c_int,
    interest: Interest,
    len: usize,
    all: bool,
    mut attempt: impl FnMut(usize) -> ssize_t,
) -> Option<ssize_t> {
    let mut done = 0usize;
    let mut deadline = None;
    let mut first_wait = true;
    loop {
        let r = attempt(done);
        if r >= 0 {
            done += r as usize;
            if !all || done >= len || r == 0 {
                return Some(done as ssize_t);
            }
            continue;
        }
        let e = errno();
        if e != libc::EAGAIN && e != libc::EWOULDBLOCK {
            return Some(if done > 0 { done as ssize_t } else { -1 });
        }
        if first_wait {
            if nonblocking(fd) {
                return Some(if done > 0 { done as ssize_t } else { -1 });
            }
            deadline = socket_deadline(fd, interest);
            first_wait = false;
        }
        match wait(fd, interest, deadline) {
            Waited::Ready => {}
            Waited::Cancel if done == 0 => return None,
            Waited::Cancel => return Some(done as ssize_t),
            // Interrupted after part of the transfer: that part's count.
            Waited::Interrupted if done > 0 => return Some(done as ssize_t),
            Waited::Interrupted => {
                crate::set_errno(libc::EINTR);
                return Some(-1);
            }
            Waited::TimedOut | Waited::Failed(_) if done > 0 => return Some(done as ssize_t),
            Waited::TimedOut => {
                crate::set_errno(libc::EAGAIN);
                return Some(-1);
            }
            Waited::Failed(e) => {
                crate::set_errno(e);
                return Some(-1);
            }
        }
    }
}

/// The end of every exported call: act on a cancellation request (`None`)
/// once the Rust frames of the call have returned.
pub(crate) fn finish(r: Option<ssize_t>) -> ssize_t {
    match r {
        Some(r) => r,
        None => cancel::act(),
    }
}

/// The start of `read`, `write`, `readv` and `writev`: acts on a due
/// cancellation request, then, on a ULT, tells what kind of file `fd` is
/// (`io_kind.rs`): by the call made without blocking (`nonblocking`),
/// which on a socket is the first try and on anything else fails with
/// `ENOTSOCK`, or, where the fd was not a socket the last time, by
/// `fstat` first. `Err(result)` is the whole answer, for `finish`: the
/// system's call (`plain`) on an OS thread, or `not_socket` (`io_pipe.rs`,
/// told whether the file can be waited for) on a ULT for what is not a
/// socket. `Ok(result)` is the first try on a socket.
pub(crate) fn socket_first_try(
    fd: c_int,
    plain: impl FnOnce() -> ssize_t,
    nonblocking: impl FnOnce() -> ssize_t,
    not_socket: impl FnOnce(bool) -> Option<ssize_t>,
) -> Result<ssize_t, Option<ssize_t>> {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() {
        return Err(Some(plain()));
    }
    if io_kind::seen_not_socket(fd) {
        match io_kind::kind(fd) {
            // The number names a socket now (a `dup2`, or a close and a
            // reuse weave did not see): the socket calls.
            Kind::Socket => io_kind::forget(fd),
            kind => return Err(not_socket(kind == Kind::Waitable)),
        }
    }
    let first = nonblocking();
    if first < 0 && errno() == libc::ENOTSOCK {
        io_kind::remember_not_socket(fd);
        // A socket here is one that took the number since the probe:
        // `io_pipe.rs` waits for it as for a pipe.
        return Err(not_socket(io_kind::kind(fd) != Kind::System));
    }
    Ok(first)
}

/// One buffer of the program's, as an `iovec` for `io_pipe.rs`.
fn one_buffer(buf: *const c_void, count: usize) -> libc::iovec {
    libc::iovec {
        iov_base: buf.cast_mut(),
        iov_len: count,
    }
}

/// `read`: on a socket, and on a pipe, an eventfd and the other files
/// `io_pipe.rs` takes, blocks only the ULT (module doc); on anything else,
/// the system's `read`. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_read(fd: c_int, buf: *mut c_void, count: usize) -> ssize_t {
    // SAFETY: the program's buffer of `count` bytes.
    let plain = || unsafe { libc::read(fd, buf, count) };
    // SAFETY: as above.
    let nonblocking = || unsafe { libc::recv(fd, buf, count, libc::MSG_DONTWAIT) };
    let v = one_buffer(buf, count);
    // SAFETY: as above.
    let not_socket = |waitable| unsafe { crate::io_pipe::transfer(fd, &v, 1, false, waitable) };
    let first = match socket_first_try(fd, plain, nonblocking, not_socket) {
        Ok(first) => first,
        Err(r) => return finish(r),
    };
    let mut pending = Some(first);
    finish(transfer(fd, Interest::Read, count, false, |_| {
        // SAFETY: as above.
        pending
            .take()
            .unwrap_or_else(|| unsafe { libc::recv(fd, buf, count, libc::MSG_DONTWAIT) })
    }))
}

/// `write`: on a socket, and on a pipe and the other files `io_pipe.rs`
/// takes, blocks only the ULT and writes everything (as a blocking write
/// does; a pipe write of at most `PIPE_BUF` bytes whole) unless an error,
/// timeout or signal stops it after part; on anything else, the system's
/// `write`. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_write(
    fd: c_int,
    buf: *const c_void,
    count: usize,
) -> ssize_t {
    // SAFETY: the program's buffer of `count` bytes.
    let plain = || unsafe { libc::write(fd, buf, count) };
    // SAFETY: as above.
    let nonblocking = || unsafe { libc::send(fd, buf, count, libc::MSG_DONTWAIT) };
    let v = one_buffer(buf, count);
    // SAFETY: as above.
    let not_socket = |waitable| unsafe { crate::io_pipe::transfer(fd, &v, 1, true, waitable) };
    let first = match socket_first_try(fd, plain, nonblocking, not_socket) {
        Ok(first) => first,
        Err(r) => return finish(r),
    };
    let mut pending = Some(first);
    finish(transfer(fd, Interest::Write, count, true, |done| {
        if let Some(r) = pending.take() {
            return r;
        }
        // SAFETY: `done <= count`: the rest of the program's buffer.
        unsafe {
            libc::send(
                fd,
                buf.cast::<u8>().add(done).cast(),
                count - done,
                libc::MSG_DONTWAIT,
            )
        }
    }))
}

/// `recv`: as `read` with `flags`; `MSG_DONTWAIT` in `flags` keeps its
/// meaning (no wait), and `MSG_WAITALL` fills the buffer on a stream
/// socket only (on others a receive is one message, as the system's).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_recv(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
) -> ssize_t {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the program's buffer of `len` bytes.
        return unsafe { libc::recv(fd, buf, len, flags) };
    }
    let all = flags & libc::MSG_WAITALL != 0 && is_stream(fd);
    finish(transfer(fd, Interest::Read, len, all, |done| {
        // SAFETY: `done <= len`: the rest of the program's buffer.
        unsafe {
            libc::recv(
                fd,
                buf.cast::<u8>().add(done).cast(),
                len - done,
                (flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT,
            )
        }
    }))
}

/// `send`: as `write` with `flags`; `MSG_DONTWAIT` in `flags` keeps its
/// meaning.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_send(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> ssize_t {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the program's buffer of `len` bytes.
        return unsafe { libc::send(fd, buf, len, flags) };
    }
    finish(transfer(fd, Interest::Write, len, true, |done| {
        // SAFETY: `done <= len`: the rest of the program's buffer.
        unsafe {
            libc::send(
                fd,
                buf.cast::<u8>().add(done).cast(),
                len - done,
                flags | libc::MSG_DONTWAIT,
            )
        }
    }))
}

/// `accept`: on a listening socket in blocking mode, the ULT waits until a
/// connection is pending, then takes it. Threads accepting on one
/// listener take turns (`accept_lock`), so none blocks its LWP in the
/// kernel for a connection another took. A cancellation point, waiting
/// for its turn included.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_accept(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    accept_with(fd, addr, len, None)
}

/// `accept4`: `accept` whose new socket gets `flags` (`SOCK_NONBLOCK`,
/// `SOCK_CLOEXEC`; others are `EINVAL`, as the system says). Waits as
/// `accept` does. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    accept_with(fd, addr, len, Some(flags))
}

/// The system's `accept`, or `accept4` with `flags`.
fn accept_now(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: Option<c_int>) -> c_int {
    match flags {
        // SAFETY: the program's arguments, as it passed them.
        None => unsafe { libc::accept(fd, addr, len) },
        // SAFETY: as above.
        Some(f) => unsafe { libc::accept4(fd, addr, len, f) },
    }
}

fn accept_with(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: Option<c_int>) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || nonblocking(fd) {
        return accept_now(fd, addr, len, flags);
    }
    let lock = accept_lock(fd);
    // One accepter of this fd at a time polls and accepts (module doc of
    // `accept_lock`); the others wait for the lock, a cancellation point.
    while !lock.lock_until(Instant::now() + ACCEPT_LOCK_CHECK) {
        if cancel::due() {
            cancel::act();
        }
    }
    let r = accept_when_ready(fd, addr, len, flags);
    lock.unlock();
    match r {
        Some(r) => r,
        None => cancel::act(),
    }
}

/// How often a thread waiting for another's accept on the same fd looks
/// for a cancellation request (the lock wait itself is not a cancellation
/// point): rare enough to cost nothing, soon enough for a cancel.
const ACCEPT_LOCK_CHECK: Duration = Duration::from_millis(10);

/// The accepts of one listening fd, serialised: `accept` waits for a
/// pending connection (poll, then the reactor) and then calls the
/// system's blocking `accept`, which cannot block if the connection is
/// still there. Two ULTs doing that at once on one fd would both see it
/// pending, and the one that lost the race would block its LWP in the
/// kernel. So the look and the accept are made under a lock per fd
/// number (a weave lock: the others wait as ULTs). Made on first use for
/// any fd number, never freed: one per number a program ever accepted on.
///
/// Found without a lock (so a `fork` never leaves one held in the child):
/// a directory of chunks of [`ACCEPT_CHUNK`] slots by fd number, each
/// chunk and each lock published by a CAS. The directory covers every
/// non-negative `int`: 4 MiB of zeroed static memory, touched only as far
/// as fd numbers go.
fn accept_lock(fd: c_int) -> &'static RawLock {
    static DIR: [AtomicPtr<AcceptChunk>; ACCEPT_DIR] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; ACCEPT_DIR];
    let i = fd.unsigned_abs() as usize;
    let chunk = publish(&DIR[i / ACCEPT_CHUNK], || {
        (0..ACCEPT_CHUNK)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect::<Box<[_]>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!("ACCEPT_CHUNK slots were made"))
    });
    publish(&chunk[i % ACCEPT_CHUNK], || Box::new(RawLock::new()))
}

/// Slots of a chunk of the accept-lock directory (32 KiB a chunk).
const ACCEPT_CHUNK: usize = 4096;
/// Chunks in the directory: `ACCEPT_CHUNK * ACCEPT_DIR` is 2^31, every
/// fd number.
const ACCEPT_DIR: usize = (1 << 31) / ACCEPT_CHUNK;

type AcceptChunk = [AtomicPtr<RawLock>; ACCEPT_CHUNK];

/// The value behind `slot`, made by `make` and published there if there
/// is none yet (never freed).
fn publish<T>(slot: &AtomicPtr<T>, make: impl FnOnce() -> Box<T>) -> &'static T {
    // Acquire: pairs with the Release of the CAS that published the value.
    let mut p = slot.load(Acquire);
    if p.is_null() {
        let fresh = Box::into_raw(make());
        // Release (success): the value is initialised before it is seen;
        // Acquire (failure): pairs with the winner's Release.
        p = match slot.compare_exchange(std::ptr::null_mut(), fresh, Release, Acquire) {
            Ok(_) => fresh,
            Err(won) => {
                // SAFETY: `fresh` was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                won
            }
        };
    }
    // SAFETY: published values are never freed.
    unsafe { &*p }
}

/// Waits (the ULT only) until a connection is pending on `fd` or an error
/// is, then accepts it; `None` when a cancellation request is to be acted
/// on (the caller acts, once it holds no lock).
fn accept_when_ready(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: Option<c_int>,
) -> Option<c_int> {
    let deadline = socket_deadline(fd, Interest::Read);
    loop {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n != 0 {
            break; // pending, or an error the accept reports
        }
        match wait(fd, Interest::Read, deadline) {
            Waited::Ready => {}
            Waited::Cancel => return None,
            Waited::TimedOut => {
                crate::set_errno(libc::EAGAIN);
                return Some(-1);
            }
            Waited::Interrupted => {
                crate::set_errno(libc::EINTR);
                return Some(-1);
            }
            // Closed under us: the number may name another file now.
            Waited::Failed(libc::EBADF) => {
                crate::set_errno(libc::EBADF);
                return Some(-1);
            }
            Waited::Failed(_) => break, // let the accept report it
        }
    }
    Some(accept_now(fd, addr, len, flags))
}

/// `connect`: on a socket in blocking mode, the ULT waits for the
/// connection to be made (the socket is non-blocking meanwhile); the
/// result is the connection's (`SO_ERROR`). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_connect(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    // SAFETY: F_GETFL reads flags.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if !on_ult() || fl < 0 || fl & libc::O_NONBLOCK != 0 {
        // SAFETY: the program's arguments.
        return unsafe { libc::connect(fd, addr, len) };
    }
    // SAFETY: setting flags on the program's socket; restored below.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) };
    // SAFETY: the program's arguments.
    let r = unsafe { libc::connect(fd, addr, len) };
    let e = errno();
    // SAFETY: back to the program's flags.
    unsafe { libc::fcntl(fd, libc::F_SETFL, fl) };
    if r == 0 || e != libc::EINPROGRESS {
        crate::set_errno(e);
        return r;
    }
    match wait(fd, Interest::Write, socket_deadline(fd, Interest::Write)) {
        Waited::Ready => {}
        Waited::Cancel => cancel::act(),
        Waited::TimedOut => {
            crate::set_errno(libc::ETIMEDOUT);
            return -1;
        }
        // The connection goes on in the background, as the kernel's does.
        Waited::Interrupted => {
            crate::set_errno(libc::EINTR);
            return -1;
        }
        Waited::Failed(e) => {
            crate::set_errno(e);
            return -1;
        }
    }
    let mut err: c_int = 0;
    let mut elen = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: an int-sized out-value for SO_ERROR.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut c_int).cast(),
            &mut elen,
        )
    };
    if err != 0 {
        crate::set_errno(err);
        return -1;
    }
    0
}

/// `close`: closes `fd`, first ending the waits of the ULTs blocked on it
/// in the socket calls here (they fail with `EBADF`: module doc). A
/// cancellation point: a due request is acted on before the fd is
/// closed. `-1` and `errno` as the system's `close`.
#[no_mangle]
pub extern "C-unwind" fn weave_close(fd: c_int) -> c_int {
    if cancel::due() {
        cancel::act();
    }
    // The number may be a socket's next (a hint only: `io_kind.rs`).
    io_kind::forget(fd);
    // SAFETY: the program's fd, which it closes: the system's close with
    // the waits on it ended first.
    match unsafe { weave_rt::os::fd::close(fd) } {
        Ok(()) => 0,
        Err(e) => {
            crate::set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            -1
        }
    }
}

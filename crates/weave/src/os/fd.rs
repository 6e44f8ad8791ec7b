//! Waiting for a raw file descriptor that weave did not open: the seam the
//! C API's socket calls (`read`, `write`, `accept`, ... on a socket the
//! program made) block the ULT through.
//!
//! Owns nothing: each wait registers the fd with the reactor for its
//! length and takes it out again, so weave keeps no state about fds it
//! does not own (the program may close or reuse them at any time). Two
//! syscalls a wait, paid only by a call that would block. It must not
//! change the fd's flags.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::reactor::{self, Dir};

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Readable (data, a connection to accept, end of file, an error).
    Read,
    /// Writable (room to send, a connect that finished, an error).
    Write,
}

/// Blocks the calling thread until `fd` may be ready for `interest`, or
/// until `deadline`: `Ok(false)` when the deadline passed. On a ULT only
/// the ULT waits (the reactor wakes it); on an OS thread, `poll(2)`. The
/// wake-up may be spurious, as readiness in general is: retry the call
/// that would have blocked, and wait again if it still would. Inside a
/// [`cancellation_point`](crate::thread::cancellation_point), a
/// cancellation request ends the wait (`Ok(true)`).
///
/// Errors: those of `epoll_ctl` for an fd epoll cannot watch (`EPERM`
/// for a regular file, `EBADF` for a closed fd).
pub fn wait(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<bool> {
    let dir = match interest {
        Interest::Read => Dir::Read,
        Interest::Write => Dir::Write,
    };
    if crate::lwp::current_ult().is_none() {
        return reactor::poll_fd(fd, dir, deadline);
    }
    let r = reactor::get()?;
    match r.register(fd) {
        Ok(reg) => wait_registered(&reg, fd, dir, deadline),
        // Another thread waits on this very fd number (a reader and a
        // writer of one socket): watch a duplicate of it, which epoll
        // tells apart, for this wait.
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            // SAFETY: dup of an fd the caller holds open; the copy is
            // closed below, after its registration is dropped.
            let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if copy < 0 {
                return Err(io::Error::last_os_error());
            }
            let ready = r
                .register(copy)
                .and_then(|reg| wait_registered(&reg, copy, dir, deadline));
            // SAFETY: our own copy, no longer registered.
            unsafe { libc::close(copy) };
            ready
        }
        Err(e) => Err(e),
    }
}

/// The socket's own timeout for `interest` (`SO_RCVTIMEO` or
/// `SO_SNDTIMEO`), which a blocking call on it would honour; `None` if it
/// has none (or `fd` is not a socket).
pub fn socket_timeout(fd: RawFd, interest: Interest) -> Option<Duration> {
    let opt = match interest {
        Interest::Read => libc::SO_RCVTIMEO,
        Interest::Write => libc::SO_SNDTIMEO,
    };
    crate::net::kernel_timeout(fd, opt)
}

/// A new registration assumes the fd ready (the reactor's rule for a handle
/// that has made no call yet): check once with `poll(2)`, after a snapshot,
/// and clear that assumption unless an event came since; then wait.
fn wait_registered(
    reg: &reactor::Registration,
    fd: RawFd,
    dir: Dir,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    let snap = reg.record().snapshot();
    if reactor::ready_now(fd, dir)? {
        return Ok(true);
    }
    reg.record().clear(snap, dir);
    Ok(reg.wait(dir, deadline))
}

//! `read`, `write`, `readv` and `writev` on a ULT for what can be waited
//! for but is not a socket: pipes, eventfds, timerfds and the character
//! devices that allow it. `io.rs` and `io_msg.rs` send such an fd here
//! once the socket call has said `ENOTSOCK`.
//!
//! The file stays in blocking mode (`O_NONBLOCK` is never set on it: the
//! open file may be shared with other processes). Each call is made
//! without blocking by its own flag, `preadv2`/`pwritev2` with
//! `RWF_NOWAIT` at the file's position (offset -1); while it would block
//! (`EAGAIN`), the ULT waits for readiness in weave's reactor and tries
//! again, as a socket call does (`io.rs`): a cancellation request ends the
//! wait, a handler without `SA_RESTART` ends it with `EINTR` (or the count
//! done so far), and `close` by another thread with `EBADF`. A file the
//! program made non-blocking gets its `EAGAIN` as before.
//!
//! A write goes on until all of it is written, as a blocking write does.
//! On a pipe, a write of at most `PIPE_BUF` bytes is made whole or not at
//! all (the kernel's rule for a write that must not wait), so it stays
//! atomic among several writers; a longer one may be written in parts
//! with other writers' data between them, as POSIX allows for it. A write
//! to a pipe with no reader gets `SIGPIPE` and `EPIPE` from the kernel, as
//! the system's `write` does (after part of the data: that part's count).
//!
//! Which fd comes here is decided on each call by the file's type
//! (`io_kind.rs`: `fstat`, made on every call, so a `dup2` or a `close`
//! cannot make an answer stale): a regular file, a directory and a block
//! device are the system's calls (their waits are disk waits, and
//! `RWF_NOWAIT` there would turn a page cache miss into a short read);
//! every other type is tried without blocking.
//! Where the kernel refuses `RWF_NOWAIT` for the file (`EOPNOTSUPP`: on
//! Linux 6.18 a FIFO opened by name, a terminal or pseudo-terminal, an
//! inotify fd, an eventfd's write, a signalfd), the call is the system's
//! and blocks the LWP if it blocks. A wait that epoll refuses for the fd
//! (`EPERM`) makes the system's call too.

use std::ffi::c_int;

use libc::{iovec, ssize_t};
use weave_rt::os::fd::Interest;

use crate::io::{errno, wait, Waited};
use crate::io_msg::{iov_len, iov_rest};

/// Whether the program made `fd` non-blocking.
fn nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL reads flags; a bad fd is an error.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    fl >= 0 && fl & libc::O_NONBLOCK != 0
}

/// The system's `readv` or `writev` (`write`) on `cnt` buffers at `iov`:
/// blocks the LWP if it blocks.
///
/// # Safety
///
/// `iov` points to `cnt` `iovec`s naming buffers that may be written
/// (read, for a write).
unsafe fn system(fd: c_int, iov: *const iovec, cnt: usize, write: bool) -> ssize_t {
    // SAFETY: the caller's buffers (the contract above).
    unsafe {
        if write {
            libc::writev(fd, iov, cnt as c_int)
        } else {
            libc::readv(fd, iov, cnt as c_int)
        }
    }
}

/// `readv` or `writev` (`write`) at the file's position without blocking
/// (`RWF_NOWAIT`): `EAGAIN` where the call would wait.
///
/// # Safety
///
/// As [`system`].
unsafe fn nowait(fd: c_int, iov: *const iovec, cnt: usize, write: bool) -> ssize_t {
    // SAFETY: the caller's buffers (the contract above); offset -1 is the
    // file's own position, which a pipe or a device also accepts.
    unsafe {
        if write {
            libc::pwritev2(fd, iov, cnt as c_int, -1, libc::RWF_NOWAIT)
        } else {
            libc::preadv2(fd, iov, cnt as c_int, -1, libc::RWF_NOWAIT)
        }
    }
}

/// `readv` or `writev` (`write`) of the program's `cnt` buffers at `iov`
/// on a ULT, for an fd that is not a socket (module doc); `waitable`: its
/// type is neither a regular file, a directory nor a block device
/// (`io_kind::Kind::Waitable`). `None` when a cancellation request is to
/// be acted on (nothing was transferred).
///
/// # Safety
///
/// As [`system`]; `cnt` is at most `IOV_MAX`.
pub(crate) unsafe fn transfer(
    fd: c_int,
    iov: *const iovec,
    cnt: usize,
    write: bool,
    waitable: bool,
) -> Option<ssize_t> {
    if !waitable {
        // SAFETY: the caller's buffers.
        return Some(unsafe { system(fd, iov, cnt, write) });
    }
    let interest = if write {
        Interest::Write
    } else {
        Interest::Read
    };
    // SAFETY: the caller's buffers.
    let len = unsafe { iov_len(iov, cnt) };
    let partial = |done: usize| Some(if done > 0 { done as ssize_t } else { -1 });
    let mut done = 0usize;
    let mut first_wait = true;
    loop {
        // The buffers after the part done (a write goes on after part).
        // SAFETY: the caller's buffers.
        let rest = (done > 0).then(|| unsafe { iov_rest(iov, cnt, done) });
        let (p, n) = rest.as_ref().map_or((iov, cnt), |r| (r.as_ptr(), r.len()));
        // SAFETY: `p` names the caller's buffers or their rest.
        let mut r = unsafe { nowait(fd, p, n, write) };
        if r < 0 && errno() == libc::EOPNOTSUPP {
            // The kernel does not try this file without blocking: the
            // system's call (module doc).
            // SAFETY: as above.
            r = unsafe { system(fd, p, n, write) };
            if r < 0 {
                return partial(done);
            }
        }
        if r >= 0 {
            done += r as usize;
            if !write || done >= len || r == 0 {
                return Some(done as ssize_t);
            }
            continue;
        }
        let e = errno();
        if e != libc::EAGAIN {
            return partial(done);
        }
        if first_wait {
            if nonblocking(fd) {
                return partial(done);
            }
            first_wait = false;
        }
        match wait(fd, interest, None) {
            Waited::Ready | Waited::TimedOut => {}
            Waited::Cancel if done == 0 => return None,
            Waited::Cancel => return Some(done as ssize_t),
            Waited::Interrupted if done > 0 => return Some(done as ssize_t),
            Waited::Interrupted => {
                crate::set_errno(libc::EINTR);
                return Some(-1);
            }
            // epoll cannot watch this file: the system's call for the rest.
            Waited::Failed(libc::EPERM) => {
                // SAFETY: as above.
                let r = unsafe { system(fd, p, n, write) };
                return if r < 0 {
                    partial(done)
                } else {
                    Some((done + r as usize) as ssize_t)
                };
            }
            Waited::Failed(_) if done > 0 => return Some(done as ssize_t),
            Waited::Failed(e) => {
                crate::set_errno(e);
                return Some(-1);
            }
        }
    }
}

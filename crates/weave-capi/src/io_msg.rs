//! The socket calls with addresses, messages and scatter/gather buffers
//! that block only the ULT: `recvfrom`, `sendto`, `recvmsg`, `sendmsg`,
//! `readv`, `writev` (`accept4` is beside `accept` in `io.rs`).
//!
//! Each is made as `io.rs` makes `recv` and `send` (its module doc): on a
//! ULT, a call on a socket in blocking mode is made with `MSG_DONTWAIT`
//! and, while it would block, the ULT waits in weave's reactor, with the
//! socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` (`EAGAIN`), `EINTR` after a
//! handler without `SA_RESTART`, `EBADF` when another thread closes the
//! fd, and a cancellation request ending the wait. A non-blocking socket
//! and `MSG_DONTWAIT` keep their `EAGAIN`. The sends write everything on
//! a stream socket, as a blocking send does, unless an error, timeout or
//! signal stops them after part (that part's count). `MSG_WAITALL` keeps
//! a stream receive going until the buffers are full; on other sockets
//! (datagrams, sequenced packets) a receive returns one message, as the
//! system's does. `readv` and `writev` on anything that is not a socket
//! are made as `read` and `write` there (`io_pipe.rs`: a pipe waits only
//! the ULT, a regular file is the system's call); every call from a plain
//! OS thread is the system's (a cancellation request pending at entry
//! acted on first). All are cancellation points.

use std::ffi::{c_int, c_void};

use libc::{iovec, msghdr, sockaddr, socklen_t, ssize_t};
use weave_rt::os::fd::Interest;

use crate::cancel;
use crate::io::{finish, is_stream, on_ult, socket_first_try, transfer};

/// The most buffers a `readv`/`writev` takes (`IOV_MAX`; more is `EINVAL`).
const IOV_MAX: c_int = 1024;

/// The buffers of `iov` after their first `done` bytes, as a new array
/// (for a call that goes on after part of a transfer).
///
/// # Safety
///
/// `iov` points to `cnt` readable `iovec`s.
pub(crate) unsafe fn iov_rest(iov: *const iovec, cnt: usize, mut done: usize) -> Vec<iovec> {
    if cnt == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's array (the contract above).
    let all = unsafe { std::slice::from_raw_parts(iov, cnt) };
    let mut rest = Vec::with_capacity(cnt);
    for v in all {
        if done >= v.iov_len {
            done -= v.iov_len;
            continue;
        }
        rest.push(iovec {
            // SAFETY: `done < iov_len`: inside this buffer.
            iov_base: unsafe { v.iov_base.cast::<u8>().add(done).cast() },
            iov_len: v.iov_len - done,
        });
        done = 0;
    }
    rest
}

/// The total length of `cnt` buffers at `iov` (saturating).
///
/// # Safety
///
/// As [`iov_rest`].
pub(crate) unsafe fn iov_len(iov: *const iovec, cnt: usize) -> usize {
    if cnt == 0 || iov.is_null() {
        return 0;
    }
    // SAFETY: the caller's array (the contract above).
    unsafe { std::slice::from_raw_parts(iov, cnt) }
        .iter()
        .fold(0usize, |a, v| a.saturating_add(v.iov_len))
}

/// A `msghdr` with just the buffers `iov`.
fn msg_of(iov: *const iovec, cnt: usize) -> msghdr {
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut m: msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.cast_mut();
    m.msg_iovlen = cnt as _;
    m
}

/// `recvmsg` or `sendmsg` (`send`) on `msg` after its first `done` bytes,
/// with `flags`: the program's `msg` itself for the first try; then a copy
/// with the rest of the buffers, and (a send) without the ancillary data,
/// which went with the first part.
///
/// # Safety
///
/// `msg` is a valid message whose buffers may be read and written.
unsafe fn msg_call(fd: c_int, msg: *mut msghdr, done: usize, flags: c_int, send: bool) -> ssize_t {
    if done == 0 {
        // SAFETY: the program's message (the contract above).
        return unsafe {
            if send {
                libc::sendmsg(fd, msg, flags)
            } else {
                libc::recvmsg(fd, msg, flags)
            }
        };
    }
    // SAFETY: as above.
    let m = unsafe { &mut *msg };
    // SAFETY: the message's buffers.
    let rest = unsafe { iov_rest(m.msg_iov, m.msg_iovlen, done) };
    let mut part = msg_of(rest.as_ptr(), rest.len());
    part.msg_name = m.msg_name;
    part.msg_namelen = m.msg_namelen;
    // SAFETY: `part` names the rest of the program's buffers.
    unsafe {
        if send {
            libc::sendmsg(fd, &part, flags)
        } else {
            let r = libc::recvmsg(fd, &mut part, flags);
            m.msg_flags |= part.msg_flags;
            r
        }
    }
}

/// `recvfrom`: as `recv`, with the sender's address. Blocks only the ULT
/// on a socket in blocking mode (module doc). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::recvfrom(fd, buf, len, flags, addr, addrlen) };
    }
    let all = flags & libc::MSG_WAITALL != 0 && is_stream(fd);
    finish(transfer(fd, Interest::Read, len, all, |done| {
        // SAFETY: `done <= len`: the rest of the program's buffer; its
        // address out-values.
        unsafe {
            libc::recvfrom(
                fd,
                buf.cast::<u8>().add(done).cast(),
                len - done,
                (flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT,
                addr,
                addrlen,
            )
        }
    }))
}

/// `sendto`: as `send`, to `addr` (a datagram socket's destination).
/// Blocks only the ULT on a socket in blocking mode (module doc). A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sendto(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::sendto(fd, buf, len, flags, addr, addrlen) };
    }
    finish(transfer(fd, Interest::Write, len, true, |done| {
        // SAFETY: `done <= len`: the rest of the program's buffer.
        unsafe {
            libc::sendto(
                fd,
                buf.cast::<u8>().add(done).cast(),
                len - done,
                flags | libc::MSG_DONTWAIT,
                addr,
                addrlen,
            )
        }
    }))
}

/// `recvmsg`: blocks only the ULT on a socket in blocking mode (module
/// doc); the name, ancillary data and `msg_flags` are the system's. A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_recvmsg(
    fd: c_int,
    msg: *mut msghdr,
    flags: c_int,
) -> ssize_t {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || flags & libc::MSG_DONTWAIT != 0 || msg.is_null() {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::recvmsg(fd, msg, flags) };
    }
    // SAFETY: the program's message.
    let len = unsafe { iov_len((*msg).msg_iov, (*msg).msg_iovlen) };
    let all = flags & libc::MSG_WAITALL != 0 && is_stream(fd);
    let flags = (flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT;
    // SAFETY: as above.
    finish(transfer(fd, Interest::Read, len, all, |done| unsafe {
        msg_call(fd, msg, done, flags, false)
    }))
}

/// `sendmsg`: blocks only the ULT on a socket in blocking mode, and on a
/// stream socket sends all the buffers (module doc); the ancillary data
/// goes with the first part. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sendmsg(
    fd: c_int,
    msg: *const msghdr,
    flags: c_int,
) -> ssize_t {
    if cancel::due() {
        cancel::act();
    }
    if !on_ult() || flags & libc::MSG_DONTWAIT != 0 || msg.is_null() {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::sendmsg(fd, msg, flags) };
    }
    // SAFETY: the program's message.
    let len = unsafe { iov_len((*msg).msg_iov, (*msg).msg_iovlen) };
    let flags = flags | libc::MSG_DONTWAIT;
    // SAFETY: as above; a send only reads the message.
    finish(transfer(fd, Interest::Write, len, true, |done| unsafe {
        msg_call(fd, msg.cast_mut(), done, flags, true)
    }))
}

/// `readv`: on a socket and on what `io_pipe.rs` takes (a pipe, an
/// eventfd), blocks only the ULT (as `read`); on anything else, the
/// system's `readv`. `EINVAL` for a count out of `0..=IOV_MAX`. A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_readv(
    fd: c_int,
    iov: *const iovec,
    iovcnt: c_int,
) -> ssize_t {
    // SAFETY: the program's arguments, as it passed them.
    let plain = || unsafe { libc::readv(fd, iov, iovcnt) };
    if !(0..=IOV_MAX).contains(&iovcnt) {
        if cancel::due() {
            cancel::act();
        }
        return plain();
    }
    let cnt = iovcnt as usize;
    let nonblocking = || {
        let mut m = msg_of(iov, cnt);
        // SAFETY: the program's buffers.
        unsafe { libc::recvmsg(fd, &mut m, libc::MSG_DONTWAIT) }
    };
    // SAFETY: the program's buffers.
    let not_socket = |waitable| unsafe { crate::io_pipe::transfer(fd, iov, cnt, false, waitable) };
    let first = match socket_first_try(fd, plain, nonblocking, not_socket) {
        Ok(first) => first,
        Err(r) => return finish(r),
    };
    // SAFETY: the program's buffers.
    let len = unsafe { iov_len(iov, cnt) };
    let mut pending = Some(first);
    finish(transfer(fd, Interest::Read, len, false, |_| {
        pending.take().unwrap_or_else(|| {
            let mut m = msg_of(iov, cnt);
            // SAFETY: as above.
            unsafe { libc::recvmsg(fd, &mut m, libc::MSG_DONTWAIT) }
        })
    }))
}

/// `writev`: on a socket and on what `io_pipe.rs` takes (a pipe), blocks
/// only the ULT and writes all the buffers (as `write`); on anything else,
/// the system's `writev`. A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_writev(
    fd: c_int,
    iov: *const iovec,
    iovcnt: c_int,
) -> ssize_t {
    // SAFETY: the program's arguments, as it passed them.
    let plain = || unsafe { libc::writev(fd, iov, iovcnt) };
    if !(0..=IOV_MAX).contains(&iovcnt) {
        if cancel::due() {
            cancel::act();
        }
        return plain();
    }
    let cnt = iovcnt as usize;
    let mut m = msg_of(iov, cnt);
    let nonblocking = || {
        // SAFETY: the program's buffers, read only.
        unsafe { libc::sendmsg(fd, &m, libc::MSG_DONTWAIT) }
    };
    // SAFETY: the program's buffers, read only.
    let not_socket = |waitable| unsafe { crate::io_pipe::transfer(fd, iov, cnt, true, waitable) };
    let first = match socket_first_try(fd, plain, nonblocking, not_socket) {
        Ok(first) => first,
        Err(r) => return finish(r),
    };
    // SAFETY: the program's buffers.
    let len = unsafe { iov_len(iov, cnt) };
    let mut pending = Some(first);
    finish(transfer(fd, Interest::Write, len, true, |done| {
        if let Some(r) = pending.take() {
            return r;
        }
        // SAFETY: the program's buffers, read only.
        unsafe { msg_call(fd, &mut m, done, libc::MSG_DONTWAIT, true) }
    }))
}

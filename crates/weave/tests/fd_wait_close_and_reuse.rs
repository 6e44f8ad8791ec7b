//! `weave::os::fd`: a wait on a raw fd that weave does not own, while the
//! program closes the fd or gives its number to another file. The wait
//! registers a private copy of the fd, so ending it never takes a later
//! file's registration out of the reactor; `fd::close` ends the waits on the
//! fd it closes with `EBADF`, and only those.
//!
//! A hang is the failure: each waiter is joined under a watchdog.

mod wait_common;
use wait_common::{join_or_fail, wait_blocked};

use std::io::Write;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;

use weave::os::fd::{self, Interest};
use weave::thread::{self, BlockReason};

/// A ULT waiting on `fd` for reading, blocked in the reactor when this
/// returns; its result is the wait's (as an errno on error).
fn blocked_reader(fd: RawFd) -> thread::JoinHandle<Result<bool, i32>> {
    let h = thread::spawn(move || {
        fd::wait(fd, Interest::Read, None).map_err(|e| e.raw_os_error().unwrap_or(0))
    });
    wait_blocked(h.thread().id(), BlockReason::Net);
    h
}

#[test]
fn a_replaced_fd_number_keeps_the_new_files_waiter() {
    let (old, mut old_peer) = UnixStream::pair().unwrap();
    let (new, mut new_peer) = UnixStream::pair().unwrap();
    let number = old.as_raw_fd();
    // The old file stays open through `old_copy` once `number` is reused.
    let old_copy = old.try_clone().unwrap();
    let first = blocked_reader(number);
    // SAFETY: `number` is `old`'s, which is forgotten below: dup2 closes
    // its file there and puts the new socket's in its place.
    assert_eq!(unsafe { libc::dup2(new.as_raw_fd(), number) }, number);
    let _ = old.into_raw_fd();
    let second = blocked_reader(number);
    // The first wait ends on its file's event and deregisters...
    old_peer.write_all(b"old").unwrap();
    assert_eq!(join_or_fail(first, "the waiter"), Ok(true));
    // ...which must not have taken the second wait's registration along.
    new_peer.write_all(b"new").unwrap();
    assert_eq!(join_or_fail(second, "the waiter"), Ok(true));
    // SAFETY: the number now holds a copy of `new`'s file, ours to close.
    unsafe { libc::close(number) };
    drop(old_copy);
}

#[test]
fn close_ends_the_waits_on_the_fd_with_ebadf() {
    let (a, _peer) = UnixStream::pair().unwrap();
    let number = a.into_raw_fd();
    let reader = blocked_reader(number);
    // SAFETY: the number is ours (taken out of `a`).
    unsafe { fd::close(number) }.unwrap();
    assert_eq!(join_or_fail(reader, "the waiter"), Err(libc::EBADF));
}

#[test]
fn close_leaves_the_waits_on_another_copy_of_the_file() {
    let (a, mut peer) = UnixStream::pair().unwrap();
    let copy = a.try_clone().unwrap();
    let number = a.into_raw_fd();
    let on_closed = blocked_reader(number);
    let on_copy = blocked_reader(copy.as_raw_fd());
    // SAFETY: the number is ours (taken out of `a`).
    unsafe { fd::close(number) }.unwrap();
    assert_eq!(join_or_fail(on_closed, "the waiter"), Err(libc::EBADF));
    wait_blocked(on_copy.thread().id(), BlockReason::Net);
    peer.write_all(b"x").unwrap();
    assert_eq!(join_or_fail(on_copy, "the waiter"), Ok(true));
}

#[test]
fn close_of_an_fd_nobody_waits_on_is_the_systems_close() {
    let (a, _peer) = UnixStream::pair().unwrap();
    // The highest number the process may have: the kernel gives each new
    // file the lowest free one, so no other test of this process is given
    // it between the two closes (the second would close that test's file,
    // and its own close would then abort on a closed fd).
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    let top = libc::c_int::try_from(limit.rlim_cur.min(1 << 20) - 1).unwrap();
    // SAFETY: duplicates our own open fd onto a number nothing else uses.
    let number = unsafe { libc::dup2(a.as_raw_fd(), top) };
    assert_eq!(number, top, "dup2: {}", std::io::Error::last_os_error());
    drop(a);
    // SAFETY: the number is ours (made by the dup2 above).
    unsafe { fd::close(number) }.unwrap();
    // SAFETY: closing a number that is no longer open is an error.
    let again = unsafe { fd::close(number) }.unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::EBADF));
}

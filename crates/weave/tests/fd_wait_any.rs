//! `weave::os::fd::wait_any`: a ULT waits on several raw fds at once
//! (C's `poll` and `select`) in the reactor. The wait ends when any one
//! becomes ready, blocks only the ULT, leaves out the fds epoll cannot
//! watch (a regular file), times out when its deadline passes, and is
//! ended by a `close` of one of its fds, which it names.
//!
//! A hang is the failure: each waiter is joined under a watchdog.

mod wait_common;
use wait_common::{join_or_fail, wait_blocked};

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use std::os::fd::IntoRawFd;

use weave::os::fd::{self, AnyWait, PollFd};
use weave::thread::{self, BlockReason};

fn readable(fd: &impl AsRawFd) -> PollFd {
    PollFd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
    }
}

#[test]
fn the_second_of_two_fds_ends_the_wait_and_only_the_ult_waits() {
    let (a, _a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    let set = [readable(&a), readable(&b)];
    let waiter = thread::spawn(move || fd::wait_any(&set, None).map_err(|e| e.raw_os_error()));
    wait_blocked(waiter.thread().id(), BlockReason::Net);
    b_peer.write_all(b"x").unwrap();
    assert_eq!(join_or_fail(waiter, "the waiter"), Ok(AnyWait::Woken));
    drop((a, b));
}

#[test]
fn a_writable_fd_in_the_set_ends_the_wait_at_once() {
    let (a, _peer) = UnixStream::pair().unwrap();
    let (b, _b_peer) = UnixStream::pair().unwrap();
    let set = [
        readable(&a),
        PollFd {
            fd: b.as_raw_fd(),
            events: libc::POLLOUT,
        },
    ];
    let h = thread::spawn(move || fd::wait_any(&set, None).map_err(|e| e.raw_os_error()));
    assert_eq!(join_or_fail(h, "the waiter"), Ok(AnyWait::Woken));
}

#[test]
fn nothing_ready_times_out_and_a_regular_file_is_left_out() {
    let (a, _peer) = UnixStream::pair().unwrap();
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    // A regular file asked for POLLPRI is never ready: only the deadline
    // ends the wait (epoll refuses the file, which must not be an error).
    let set = [
        readable(&a),
        PollFd {
            fd: file.as_raw_fd(),
            events: libc::POLLPRI,
        },
        PollFd {
            fd: -1,
            events: libc::POLLIN,
        },
    ];
    let h = thread::spawn(move || {
        fd::wait_any(&set, Some(Instant::now() + Duration::from_millis(20)))
            .map_err(|e| e.raw_os_error())
    });
    assert_eq!(join_or_fail(h, "the waiter"), Ok(AnyWait::TimedOut));
    drop(file);
}

#[test]
fn an_fd_given_twice_waits_for_both_events() {
    let (a, mut peer) = UnixStream::pair().unwrap();
    let set = [readable(&a), readable(&a)];
    let waiter = thread::spawn(move || fd::wait_any(&set, None).map_err(|e| e.raw_os_error()));
    wait_blocked(waiter.thread().id(), BlockReason::Net);
    peer.write_all(b"x").unwrap();
    assert_eq!(join_or_fail(waiter, "the waiter"), Ok(AnyWait::Woken));
}

#[test]
fn an_os_thread_waits_with_poll() {
    let (a, mut peer) = UnixStream::pair().unwrap();
    peer.write_all(b"x").unwrap();
    assert_eq!(fd::wait_any(&[readable(&a)], None).unwrap(), AnyWait::Woken);
    let (b, _b_peer) = UnixStream::pair().unwrap();
    let soon = Instant::now() + Duration::from_millis(10);
    assert_eq!(
        fd::wait_any(&[readable(&b)], Some(soon)).unwrap(),
        AnyWait::TimedOut
    );
}

#[test]
fn close_of_one_fd_ends_the_wait_and_names_it() {
    let (a, _a_peer) = UnixStream::pair().unwrap();
    let (b, _b_peer) = UnixStream::pair().unwrap();
    let b = b.into_raw_fd();
    let set = [
        readable(&a),
        PollFd {
            fd: b,
            events: libc::POLLIN,
        },
    ];
    let waiter = thread::spawn(move || fd::wait_any(&set, None).map_err(|e| e.raw_os_error()));
    wait_blocked(waiter.thread().id(), BlockReason::Net);
    // SAFETY: `b` is ours (`into_raw_fd`), closed once.
    unsafe { fd::close(b) }.unwrap();
    assert_eq!(
        join_or_fail(waiter, "the waiter"),
        Ok(AnyWait::Closed(vec![b]))
    );
    // The wait left the table: a later close of `a` finds nothing of it.
    let a = a.into_raw_fd();
    // SAFETY: as above.
    unsafe { fd::close(a) }.unwrap();
}

//! `Thread::request_cancel` and `thread::cancellation_point`: a request
//! ends the weave wait of a thread inside a cancellation point (as a
//! spurious wake-up would), and only there; the primitives that loop on
//! spurious wake-ups give up (`Semaphore::acquire_cancellable`,
//! `JoinHandle::wait_cancellable`, `os::fd::wait`).
//!
//! A hang is the failure: each test waits for the cancelled thread with a
//! watchdog.

use crate::wait_common::{join_or_fail, wait_blocked};

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::os::fd;
use weave::sync::Semaphore;
use weave::thread::{self, BlockReason};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn request_ends_a_sleep_inside_a_cancellation_point() {
    let t = thread::spawn(|| {
        let r = thread::cancellation_point(|| thread::sleep(HOUR));
        (r.is_some(), thread::cancel_requested())
    });
    wait_blocked(t.thread().id(), BlockReason::Sleep);
    assert!(t.thread().request_cancel());
    assert_eq!(join_or_fail(t, "the cancelled thread"), (true, true));
}

#[test]
fn a_pending_request_skips_the_wait() {
    let t = thread::spawn(|| {
        thread::current().request_cancel();
        thread::cancellation_point(|| thread::sleep(HOUR)).is_none()
    });
    assert!(join_or_fail(t, "the cancelled thread"));
}

#[test]
fn a_sleep_outside_a_cancellation_point_runs_to_its_end() {
    // Sleeps until the request has been made, so that the test cannot miss
    // the sleep (one sleep of 50 ms ended before a descheduled test thread
    // looked); every sleep, the one the request lands in included, lasts.
    let requested = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = requested.clone();
    let t = thread::spawn(move || {
        let mut shortest = Duration::MAX;
        loop {
            let start = Instant::now();
            thread::sleep(Duration::from_millis(50));
            shortest = shortest.min(start.elapsed());
            if seen.load(std::sync::atomic::Ordering::SeqCst) {
                return shortest;
            }
        }
    });
    wait_blocked(t.thread().id(), BlockReason::Sleep);
    t.thread().request_cancel();
    requested.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(join_or_fail(t, "the cancelled thread") >= Duration::from_millis(50));
}

#[test]
fn acquire_cancellable_gives_up_on_a_request_without_a_permit() {
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let t = thread::spawn(move || {
        thread::cancellation_point(|| s.acquire_cancellable(None).map(|p| p.forget()))
            .flatten()
            .is_none()
    });
    wait_blocked(t.thread().id(), BlockReason::Semaphore);
    t.thread().request_cancel();
    assert!(join_or_fail(t, "the cancelled thread"));
    sem.release(1);
    assert!(
        sem.try_acquire().is_some(),
        "the cancelled waiter took no permit"
    );
}

#[test]
fn wait_cancellable_gives_up_and_the_handle_still_joins() {
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let target = thread::spawn(move || {
        g.acquire().forget();
        7
    });
    let joiner = thread::spawn(move || {
        let done = thread::cancellation_point(|| target.wait_cancellable());
        (done, target)
    });
    wait_blocked(joiner.thread().id(), BlockReason::Join);
    joiner.thread().request_cancel();
    let (done, target) = join_or_fail(joiner, "the cancelled thread");
    assert_eq!(done, Some(false));
    gate.release(1);
    assert_eq!(join_or_fail(target, "the cancelled thread"), 7);
}

#[test]
fn fd_wait_returns_when_the_fd_becomes_readable() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let t = thread::spawn(move || fd::wait(fd, fd::Interest::Read, None).unwrap());
    wait_blocked(t.thread().id(), BlockReason::Net);
    (&b).write_all(b"x").unwrap();
    assert!(join_or_fail(t, "the cancelled thread"));
    drop((a, b));
}

#[test]
fn fd_wait_inside_a_cancellation_point_ends_on_a_request() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let t = thread::spawn(move || {
        let r = thread::cancellation_point(|| fd::wait(fd, fd::Interest::Read, None).unwrap());
        (r, thread::cancel_requested())
    });
    wait_blocked(t.thread().id(), BlockReason::Net);
    t.thread().request_cancel();
    assert_eq!(join_or_fail(t, "the cancelled thread"), (Some(true), true));
    drop((a, b));
}

//! `after`, `tick` and `never`, as crossbeam-channel's: time channels whose
//! waits block only the ULT.

use std::time::{Duration, Instant};

use weave::sync::mpmc::{self, after, never, select, tick, RecvTimeoutError, TryRecvError};
use weave::thread::{self, BlockReason, ThreadState};

#[test]
fn after_delivers_its_instant_once_it_is_due() {
    let start = Instant::now();
    let rx = after(Duration::from_millis(20));
    let at = rx.recv().unwrap();
    assert!(
        at >= start + Duration::from_millis(20),
        "delivered before it was due"
    );
    assert!(Instant::now() >= at);
}

#[test]
fn after_delivers_only_one_message() {
    let rx = after(Duration::ZERO);
    assert!(rx.recv().is_ok());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
}

#[test]
fn after_is_not_ready_before_it_is_due() {
    let rx = after(Duration::from_secs(3600));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
    assert!(!rx.is_disconnected());
}

#[test]
fn waiting_on_after_blocks_only_the_ult() {
    // The thread table shows the ULT blocked on its channel (an LWP
    // blocked in the kernel would show it running) for the whole wait.
    let waiting = thread::spawn(|| after(Duration::from_millis(500)).recv().is_ok());
    let id = waiting.thread().id();
    let mut seen_blocked = false;
    while !waiting.is_finished() && !seen_blocked {
        seen_blocked = thread::threads()
            .iter()
            .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Channel));
        std::thread::yield_now();
    }
    assert!(waiting.join().unwrap());
    assert!(
        seen_blocked,
        "the wait never showed as a ULT blocked on a channel"
    );
}

#[test]
fn tick_delivers_repeatedly_and_never_early() {
    let period = Duration::from_millis(5);
    let start = Instant::now();
    let rx = tick(period);
    let mut last = start;
    for _ in 0..4 {
        let at = rx.recv().unwrap();
        assert!(
            at >= last + period,
            "a tick came less than a period after the last"
        );
        last = at;
    }
}

#[test]
fn never_times_out_and_is_never_disconnected() {
    let rx = never::<u32>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(!rx.is_disconnected());
}

#[test]
fn after_in_a_select_times_out_a_wait() {
    let (_tx, rx) = mpmc::unbounded::<u32>();
    let timeout = after(Duration::from_millis(10));
    let timed_out = select! {
        recv(rx) -> _ => false,
        recv(timeout) -> at => { assert!(at.is_ok()); true }
    };
    assert!(timed_out);
}

#[test]
fn never_switches_off_a_select_arm() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    tx.send(1).unwrap();
    // An optional channel that is absent today.
    let off = std::hint::black_box(None::<mpmc::Receiver<u32>>);
    let got = select! {
        recv(off.unwrap_or_else(never)) -> _ => 0,
        recv(rx) -> m => m.unwrap(),
    };
    assert_eq!(got, 1);
}

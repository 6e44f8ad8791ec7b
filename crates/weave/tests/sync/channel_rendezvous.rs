//! A rendezvous send waits for a receiver: it completes only once the
//! value is taken.

use crate::wait_common::wait_blocked;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::sync::mpsc;
use weave::thread::{self, BlockReason};

#[test]
fn rendezvous_send_blocks_until_a_receiver_arrives() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let s = thread::spawn(move || {
        tx.send(11).unwrap();
        d.store(true, Ordering::SeqCst);
    });
    // The sender reaches the channel and blocks there...
    wait_blocked(s.thread().id(), BlockReason::Channel);
    // ...and has not completed: nobody has received.
    assert!(!done.load(Ordering::SeqCst));
    assert_eq!(rx.recv(), Ok(11));
    s.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn try_send_on_a_rendezvous_needs_a_waiting_receiver() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    assert_eq!(tx.try_send(1), Err(mpsc::TrySendError::Full(1)));
    let r = thread::spawn(move || rx.recv());
    loop {
        match tx.try_send(2) {
            Ok(()) => break,
            Err(mpsc::TrySendError::Full(_)) => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(r.join().unwrap(), Ok(2));
}

#[test]
fn try_recv_on_a_rendezvous_takes_a_waiting_senders_value() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    let s = thread::spawn(move || tx.send(21));
    // Polls only: the value can come from the waiting sender alone. (A
    // thread shows as blocked a little before its entry is queued, so
    // the first polls may still find nothing; the deadline only turns a
    // sender that is never seen into a failure.)
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        match rx.try_recv() {
            Err(mpsc::TryRecvError::Empty) if Instant::now() < deadline => thread::yield_now(),
            other => break other,
        }
    };
    assert_eq!(got, Ok(21));
    assert_eq!(s.join().unwrap(), Ok(()));
}

#[test]
fn try_recv_on_a_rendezvous_without_senders_is_disconnected() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    drop(tx);
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
}

#[test]
fn a_rendezvous_receiver_waiting_alone_gets_each_value_once_in_order() {
    // One receiver waits (alone, so without the channel's lock) for each
    // of many values from a sender that sometimes finds it waiting and
    // sometimes has to wait for it.
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    let s = thread::spawn(move || {
        for i in 0..10_000 {
            tx.send(i).unwrap();
            if i % 7 == 0 {
                thread::yield_now();
            }
        }
    });
    for i in 0..10_000 {
        assert_eq!(rx.recv(), Ok(i));
        if i % 5 == 0 {
            thread::yield_now();
        }
    }
    s.join().unwrap();
    assert_eq!(rx.recv(), Err(mpsc::RecvError));
}

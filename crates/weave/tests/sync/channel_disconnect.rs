//! Disconnection is reported like std's, both ways, and a failed send
//! gives its value back.

use crate::wait_common::wait_blocked;

use weave::sync::{mpmc, mpsc};
use weave::thread::{self, BlockReason};

#[test]
fn send_to_a_dropped_receiver_returns_the_value() {
    let (tx, rx) = mpsc::channel::<String>();
    drop(rx);
    let err = tx.send("kept".to_owned()).unwrap_err();
    assert_eq!(err.into_inner(), "kept");
    let (tx, rx) = mpmc::bounded::<u8>(1);
    drop(rx);
    assert_eq!(tx.try_send(3), Err(mpmc::TrySendError::Disconnected(3)));
    assert!(tx.is_disconnected());
}

#[test]
fn receiver_drains_the_buffer_before_reporting_disconnection() {
    let (tx, rx) = mpsc::sync_channel(4);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    assert_eq!(rx.recv(), Err(mpsc::RecvError));
}

#[test]
fn dropping_the_last_sender_wakes_a_blocked_receiver() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let tx2 = tx.clone();
    let r = thread::spawn(move || rx.recv());
    wait_blocked(r.thread().id(), BlockReason::Channel);
    drop(tx);
    // One sender remains: the receiver must still be waiting.
    assert!(
        !r.is_finished() || r.join().is_err(),
        "woken by a non-last drop"
    );
    drop(tx2);
}

#[test]
fn a_blocked_receiver_sees_recv_error_when_senders_go() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let r = thread::spawn(move || rx.recv());
    wait_blocked(r.thread().id(), BlockReason::Channel);
    drop(tx);
    assert_eq!(r.join().unwrap(), Err(mpmc::RecvError));
}

#[test]
fn a_blocked_sender_gets_its_value_back_when_receivers_go() {
    let (tx, rx) = mpmc::bounded::<Vec<u8>>(0);
    let rx2 = rx.clone();
    let s = thread::spawn(move || tx.send(vec![1, 2, 3]));
    wait_blocked(s.thread().id(), BlockReason::Channel);
    drop(rx);
    drop(rx2);
    assert_eq!(s.join().unwrap(), Err(mpmc::SendError(vec![1, 2, 3])));
}

#[test]
fn dropping_the_receiver_drops_buffered_messages() {
    let (tx, rx) = mpmc::bounded(4);
    let token = std::sync::Arc::new(());
    tx.send(token.clone()).unwrap();
    tx.send(token.clone()).unwrap();
    assert_eq!(std::sync::Arc::strong_count(&token), 3);
    drop(rx);
    assert_eq!(std::sync::Arc::strong_count(&token), 1);
}

//! Model checks of the channel core and the claim protocol under every
//! interleaving (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib`).
//!
//! A deadline here means "time out at once" (see `context.rs`), so every
//! timed call races its withdrawal against every partner. A lost wake-up
//! shows up as loom's deadlock report (every thread parked).

use std::time::Instant;

use loom::thread;

use super::{bounded, unbounded, RecvTimeoutError, SendError, SendTimeoutError};

/// Bounds the preemptions loom explores in the three-thread models, which
/// are otherwise too many to finish; two already cover each race here
/// (tokio's loom tests use the same bound).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

#[test]
fn receiver_blocked_before_the_send_is_woken() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(rx.recv(), Ok(7));
        t.join().unwrap();
    });
}

#[test]
fn unbounded_send_wakes_the_receiver() {
    model(|| {
        let (tx, rx) = unbounded::<u32>();
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        t.join().unwrap();
    });
}

#[test]
fn rendezvous_hands_the_value_over_once() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || tx.send(9));
        assert_eq!(rx.recv(), Ok(9));
        assert_eq!(t.join().unwrap(), Ok(()));
        assert!(rx.try_recv().is_err(), "a rendezvous delivered twice");
    });
}

#[test]
fn dropping_the_receiver_gives_a_waiting_sender_its_value_back() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || tx.send(5));
        drop(rx);
        assert_eq!(t.join().unwrap(), Err(SendError(5)));
    });
}

#[test]
fn dropping_the_last_sender_wakes_a_waiting_receiver() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let tx2 = tx.clone();
        let a = thread::spawn(move || drop(tx));
        let b = thread::spawn(move || drop(tx2));
        assert!(rx.recv().is_err());
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_timeout_racing_a_rendezvous_loses_nothing() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        // The sender hands its handle back, so the channel stays connected
        // and the only way to fail is the timeout.
        let t = thread::spawn(move || (tx.send_deadline(3, Instant::now()), tx));
        let got = rx.recv_deadline(Instant::now());
        let (sent, _tx) = t.join().unwrap();
        match (sent, got) {
            (Ok(()), Ok(3)) => {}
            (Err(SendTimeoutError::Timeout(3)), Err(RecvTimeoutError::Timeout)) => {}
            other => panic!("send and receive disagree: {other:?}"),
        }
    });
}

#[test]
fn select_completes_exactly_one_operation() {
    model(|| {
        let (tx_a, rx_a) = bounded::<u32>(0);
        let (tx_b, rx_b) = bounded::<u32>(0);
        // One sender waits for as long as it takes; the other gives up at
        // once, racing its withdrawal with the select's claim.
        // Both hand their handles back: a disconnected channel would make
        // its receive ready, which is not the race under test.
        let a = thread::spawn(move || (tx_a.send(1), tx_a));
        let b = thread::spawn(move || (tx_b.send_deadline(2, Instant::now()), tx_b));
        let first = crate::select! {
            recv(rx_a) -> m => m.unwrap(),
            recv(rx_b) -> m => m.unwrap(),
        };
        if first == 2 {
            // The select took b's value, so a still waits: release it.
            assert_eq!(rx_a.recv(), Ok(1));
        }
        assert_eq!(a.join().unwrap().0, Ok(()));
        let (b_sent, _tx_b) = b.join().unwrap();
        assert_eq!(
            b_sent.is_ok(),
            first == 2,
            "b's send and the select disagree: {b_sent:?}, select got {first}"
        );
        assert!(rx_a.try_recv().is_err() && rx_b.try_recv().is_err());
    });
}

#[test]
fn a_waiting_select_send_meets_a_receiver_on_a_rendezvous() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        // The send arm waits without a value; the receiver that arrives
        // wakes it, it secures the receiver, then hands the value over.
        let t = thread::spawn(move || {
            crate::select! {
                send(tx, 5) -> r => r.unwrap(),
            }
        });
        assert_eq!(rx.recv(), Ok(5));
        t.join().unwrap();
    });
}

#[test]
fn a_freed_place_is_granted_to_a_waiting_select_send() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(0).unwrap();
        let t = thread::spawn(move || {
            crate::select! {
                send(tx, 1) -> r => r.unwrap(),
            }
        });
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(rx.recv(), Ok(1));
        t.join().unwrap();
    });
}

#[test]
fn a_select_send_and_a_plain_send_share_a_rendezvous_receiver() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let tx2 = tx.clone();
        let a = thread::spawn(move || {
            crate::select! {
                send(tx, 1) -> r => r.unwrap(),
            }
        });
        let b = thread::spawn(move || tx2.send(2).unwrap());
        let mut got = [rx.recv().unwrap(), rx.recv().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        a.join().unwrap();
        b.join().unwrap();
    });
}

// The array flavour (`array.rs`, `waiters.rs`): `bounded(n)` with n >= 1.
// Its message cells are loom's checked cells, so a receive that the stamp
// does not order after its send is reported; a lost notification shows as
// every thread parked.

#[test]
fn array_messages_arrive_whole_and_in_order() {
    model(|| {
        let (tx, rx) = bounded::<u32>(2);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            tx.send(3).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Ok(3));
        t.join().unwrap();
    });
}

#[test]
fn array_full_buffer_wakes_its_waiting_sender() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(1).unwrap();
        let t = thread::spawn(move || tx.send(2).unwrap());
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        t.join().unwrap();
    });
}

#[test]
fn array_two_receivers_share_two_messages() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let rx2 = rx.clone();
        let t = thread::spawn(move || rx2.recv().unwrap());
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        let mine = rx.recv().unwrap();
        let theirs = t.join().unwrap();
        assert_eq!(mine + theirs, 3, "a message was lost or duplicated");
    });
}

#[test]
fn array_cancelled_permit_is_skipped_by_the_receiver() {
    model(|| {
        let chan = std::sync::Arc::new(super::chan::Chan::<u32>::new(2));
        let permit = chan.try_permit().expect("an empty buffer has room");
        let c = chan.clone();
        // Sends after the permit's slot: the receiver must skip the hole
        // the cancelled permit leaves (or the undone reservation).
        let t = thread::spawn(move || c.try_send(7).is_ok());
        chan.cancel_permit(permit);
        let sent = t.join().unwrap();
        assert_eq!(chan.try_recv().ok(), sent.then_some(7));
        assert!(chan.try_recv().is_err());
        // Every place is free again.
        assert!(chan.try_send(1).is_ok() && chan.try_send(2).is_ok());
    });
}

#[test]
fn array_dropping_the_receiver_releases_a_waiting_sender() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(1).unwrap();
        let t = thread::spawn(move || tx.send(2));
        drop(rx);
        assert_eq!(t.join().unwrap(), Err(SendError(2)));
    });
}

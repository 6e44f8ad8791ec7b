//! A `select!` send arm's value expression is evaluated only if that arm
//! is chosen, after the send has been secured (crossbeam's order); a value
//! expression that panics gives the secured place back.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use weave::sync::mpmc::{self, select};
use weave::thread::{self, BlockReason, ThreadState};

/// A value expression that panics.
fn failing_value() -> u32 {
    panic!("value expression fails")
}

#[test]
fn a_send_value_is_not_evaluated_when_another_arm_wins() {
    let (full_tx, _full_rx) = mpmc::bounded::<u32>(0);
    let (tx, rx) = mpmc::unbounded::<u32>();
    tx.send(1).unwrap();
    let evaluated = Cell::new(0);
    let got = select! {
        send(full_tx, { evaluated.set(evaluated.get() + 1); 5 }) -> _ => None,
        recv(rx) -> m => Some(m.unwrap()),
    };
    assert_eq!(got, Some(1));
    assert_eq!(
        evaluated.get(),
        0,
        "the value of a send that was not chosen was evaluated"
    );
}

#[test]
fn a_send_value_is_not_evaluated_when_default_wins() {
    let (full_tx, _full_rx) = mpmc::bounded::<u32>(0);
    let evaluated = Cell::new(false);
    select! {
        send(full_tx, { evaluated.set(true); 5 }) -> _ => panic!("a rendezvous without a receiver completed"),
        default => {},
    }
    assert!(!evaluated.get());
}

#[test]
fn a_chosen_send_value_is_evaluated_once_and_delivered() {
    let (tx, rx) = mpmc::bounded::<u32>(1);
    let evaluated = Cell::new(0);
    select! {
        send(tx, { evaluated.set(evaluated.get() + 1); 9 }) -> r => r.unwrap(),
    }
    assert_eq!(evaluated.get(), 1);
    assert_eq!(rx.try_recv(), Ok(9));
}

#[test]
fn a_waiting_send_arm_is_evaluated_when_a_receiver_arrives_on_a_rendezvous() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let evaluated = Arc::new(AtomicUsize::new(0));
    let e = evaluated.clone();
    let s = thread::spawn(move || {
        select! {
            send(tx, { e.fetch_add(1, Ordering::SeqCst); 11 }) -> r => r.unwrap(),
        }
    });
    assert_eq!(rx.recv(), Ok(11));
    s.join().unwrap();
    assert_eq!(evaluated.load(Ordering::SeqCst), 1);
}

#[test]
fn a_waiting_send_arm_on_a_full_buffer_is_evaluated_when_a_place_frees() {
    let (tx, rx) = mpmc::bounded::<u32>(1);
    tx.send(1).unwrap();
    let evaluated = Arc::new(AtomicUsize::new(0));
    let e = evaluated.clone();
    let s = thread::spawn(move || {
        select! {
            send(tx, { e.fetch_add(1, Ordering::SeqCst); 2 }) -> r => r.unwrap(),
        }
    });
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Ok(2));
    s.join().unwrap();
    assert_eq!(evaluated.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_send_value_gives_the_place_back() {
    let (tx, rx) = mpmc::bounded::<u32>(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        select! {
            send(tx, failing_value()) -> _ => {},
        }
    }));
    assert!(r.is_err());
    // The place the select secured is free again.
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn a_panicking_send_value_releases_the_waiting_receiver() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let r = thread::spawn(move || rx.recv());
    // Wait until the receiver waits, so the select secures it.
    let id = r.thread().id();
    while !thread::threads()
        .iter()
        .any(|t| t.id == id && matches!(t.state, ThreadState::Blocked(BlockReason::Channel)))
    {
        thread::yield_now();
    }
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        select! {
            send(tx, failing_value()) -> _ => {},
        }
    }));
    assert!(failed.is_err());
    // The receiver went back to waiting and takes the next value.
    tx.send(4).unwrap();
    assert_eq!(r.join().unwrap(), Ok(4));
}

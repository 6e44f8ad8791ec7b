//! A message whose `Drop` panics does not poison the channel or lose its
//! other messages.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use weave::sync::mpmc::{self, SendError};
use weave::thread::{self, BlockReason, ThreadState};

/// Counts its drops; panics in its drop if `bomb`.
struct Msg {
    bomb: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.bomb {
            panic!("this message's drop panics");
        }
    }
}

fn msg(bomb: bool, drops: &Arc<AtomicUsize>) -> Msg {
    Msg {
        bomb,
        drops: drops.clone(),
    }
}

#[test]
fn dropping_the_last_receiver_drops_every_message_despite_a_panicking_one() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpmc::bounded::<Msg>(5);
    for i in 0..5 {
        tx.send(msg(i == 1, &drops)).unwrap();
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rx)));
    assert!(
        r.is_err(),
        "the panic of the message's drop reaches the dropper"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 5, "a message was not dropped");
    // The senders see the disconnection and get their value back.
    match tx.send(msg(false, &drops)) {
        Err(SendError(m)) => drop(m),
        Ok(()) => panic!("sent to a channel without receivers"),
    }
}

#[test]
fn a_waiting_sender_is_released_when_a_dropped_message_panics() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpmc::bounded::<Msg>(2);
    tx.send(msg(true, &drops)).unwrap();
    tx.send(msg(false, &drops)).unwrap();
    let d = drops.clone();
    let waiting = thread::spawn(move || tx.send(msg(false, &d)).is_err());
    let id = waiting.thread().id();
    while !thread::threads()
        .iter()
        .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Channel))
    {
        thread::yield_now();
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rx)));
    assert!(r.is_err());
    // A watchdog, generous, turns a stranded sender into a failure.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !waiting.is_finished() {
        assert!(
            std::time::Instant::now() < give_up,
            "the waiting sender was never woken"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(waiting.join().unwrap(), "the waiting send did not fail");
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn a_receiver_keeps_receiving_after_a_received_message_panics_in_drop() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpmc::unbounded::<Msg>();
    for i in 0..4 {
        tx.send(msg(i == 0, &drops)).unwrap();
    }
    let first = rx.recv().unwrap();
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(first))).is_err());
    assert_eq!(rx.try_iter().count(), 3);
    tx.send(msg(false, &drops)).unwrap();
    assert!(rx.recv().is_ok());
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[test]
fn a_clone_of_the_receiver_keeps_the_messages_when_another_clone_drops() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpmc::unbounded::<Msg>();
    let rx2 = rx.clone();
    for i in 0..3 {
        tx.send(msg(i == 0, &drops)).unwrap();
    }
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "a clone's drop dropped messages"
    );
    let got: Vec<Msg> = rx2.try_iter().collect();
    assert_eq!(got.len(), 3);
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(got))).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

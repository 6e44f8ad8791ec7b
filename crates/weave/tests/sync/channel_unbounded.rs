//! Unbounded channels (`unbounded()`, `mpsc::channel()`) run on the
//! lock-free list of blocks: a send never waits, each sender's messages
//! keep their order, nothing is lost or duplicated across many blocks and
//! many threads (ULTs and OS threads), and disconnection behaves as
//! std's and crossbeam's: receivers drain what was sent, then fail; the
//! last receiver drops what is left; sends then fail with their value.

use std::collections::HashMap;
use std::sync::Arc;

use weave::sync::mpmc::{self, Select};
use weave::thread;

/// Encodes (sender, sequence number) in one message.
fn msg(sender: u64, seq: u64) -> u64 {
    sender << 32 | seq
}

#[test]
fn send_never_waits_for_a_receiver() {
    // On a ULT, with nobody receiving: 100,000 sends (thousands of blocks)
    // all complete at once.
    let rx = thread::spawn(|| {
        let (tx, rx) = mpmc::unbounded::<u32>();
        for i in 0..100_000 {
            tx.send(i).unwrap();
        }
        assert_eq!(tx.len(), 100_000);
        rx
    })
    .join()
    .unwrap();
    assert_eq!(rx.try_iter().count(), 100_000);
}

#[test]
fn len_counts_the_messages_across_block_ends() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    for i in 0..100 {
        tx.send(i).unwrap();
        assert_eq!(rx.len(), i as usize + 1);
    }
    for i in 0..100 {
        assert_eq!(rx.recv(), Ok(i));
        assert_eq!(tx.len(), 99 - i as usize);
    }
    assert!(rx.is_empty());
    assert_eq!(tx.capacity(), None);
}

#[test]
fn each_senders_messages_arrive_in_order_at_each_receiver() {
    const SENDERS: u64 = 4;
    const RECEIVERS: usize = 4;
    const PER: u64 = 25_000;
    let (tx, rx) = mpmc::unbounded::<u64>();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            thread::spawn(move || (0..PER).for_each(|i| tx.send(msg(s, i)).unwrap()))
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                // What one receiver sees of one sender is in that sender's
                // order (a FIFO queue hands each receiver later places).
                let mut last: HashMap<u64, u64> = HashMap::new();
                let mut n = 0u64;
                for m in rx.iter() {
                    let (s, seq) = (m >> 32, m & 0xffff_ffff);
                    if let Some(prev) = last.insert(s, seq) {
                        assert!(prev < seq, "sender {s}: {seq} after {prev}");
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    senders.into_iter().for_each(|h| h.join().unwrap());
    let got: u64 = receivers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(got, SENDERS * PER);
}

#[test]
fn ults_and_os_threads_on_both_sides_lose_and_duplicate_nothing() {
    const PER: u64 = 20_000;
    let (tx, rx) = mpmc::unbounded::<u64>();
    let mut senders = Vec::new();
    for s in 0..3u64 {
        let tx = tx.clone();
        senders.push(thread::spawn(move || {
            (0..PER).for_each(|i| tx.send(msg(s, i)).unwrap())
        }));
    }
    let mut os_senders = Vec::new();
    for s in 3..5u64 {
        let tx = tx.clone();
        os_senders.push(std::thread::spawn(move || {
            (0..PER).for_each(|i| tx.send(msg(s, i)).unwrap())
        }));
    }
    drop(tx);
    let collect = |rx: mpmc::Receiver<u64>| rx.iter().collect::<Vec<_>>();
    let ult_rx: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || collect(rx))
        })
        .collect();
    let os_rx: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || collect(rx))
        })
        .collect();
    drop(rx);
    senders.into_iter().for_each(|h| h.join().unwrap());
    os_senders.into_iter().for_each(|h| h.join().unwrap());
    let mut all: Vec<u64> = ult_rx
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .chain(os_rx.into_iter().flat_map(|h| h.join().unwrap()))
        .collect();
    all.sort_unstable();
    let want: Vec<u64> = (0..5u64)
        .flat_map(|s| (0..PER).map(move |i| msg(s, i)))
        .collect();
    assert_eq!(all.len(), want.len(), "lost or duplicated messages");
    assert!(all == want, "lost or duplicated messages");
}

#[test]
fn receivers_drain_every_block_before_seeing_the_disconnection() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    (0..1_000).for_each(|i| tx.send(i).unwrap());
    drop(tx);
    assert!(rx.is_disconnected());
    assert_eq!(
        rx.iter().collect::<Vec<_>>(),
        (0..1_000).collect::<Vec<_>>()
    );
    assert_eq!(rx.try_recv(), Err(mpmc::TryRecvError::Disconnected));
    assert_eq!(rx.recv(), Err(mpmc::RecvError));
}

#[test]
fn dropping_the_last_receiver_drops_the_messages_of_every_block() {
    let (tx, rx) = mpmc::unbounded();
    let token = Arc::new(());
    (0..200).for_each(|_| tx.send(token.clone()).unwrap());
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(Arc::strong_count(&token), 201, "a receiver is still there");
    drop(rx2);
    assert_eq!(Arc::strong_count(&token), 1);
    // And the next send fails with its value.
    let err = tx.send(token.clone()).unwrap_err();
    assert!(Arc::ptr_eq(&err.into_inner(), &token));
    assert!(tx.is_disconnected());
}

#[test]
fn the_channel_drops_what_was_sent_after_the_last_receivers_drain() {
    let token = Arc::new(());
    let t = token.clone();
    thread::spawn(move || {
        let (tx, rx) = mpmc::unbounded::<Arc<()>>();
        tx.send(t.clone()).unwrap();
        let mut sel = Select::new();
        sel.send(&tx);
        // This thread holds a chosen send's place while it drops the last
        // receiver: the drain cannot wait for it, and the send then fails.
        let oper = sel.try_select().unwrap();
        drop(rx);
        assert!(oper.send(&tx, t.clone()).is_err());
    })
    .join()
    .unwrap();
    assert_eq!(Arc::strong_count(&token), 1, "a message was leaked");
}

#[test]
fn a_dropped_select_send_leaves_no_gap_in_the_queue() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let mut sel = Select::new();
    sel.send(&tx);
    let oper = sel.try_select().unwrap();
    tx.send(5).unwrap();
    // Dropping a chosen operation uncompleted panics (as crossbeam's) and
    // gives its place back first.
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(oper)));
    assert!(dropped.is_err());
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(rx.try_recv(), Err(mpmc::TryRecvError::Empty));
}

#[test]
fn a_blocked_receiver_is_woken_by_a_send_from_an_os_thread() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let h = thread::spawn(move || (rx.recv(), rx.recv()));
    std::thread::spawn(move || {
        tx.send(1).unwrap();
        tx.send(2).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(h.join().unwrap(), (Ok(1), Ok(2)));
}

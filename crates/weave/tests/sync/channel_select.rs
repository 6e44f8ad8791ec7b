//! `select!` completes exactly one ready operation, waits for one when
//! none is ready, and honours `default`.

use std::time::Duration;

use weave::sync::mpmc::{self, select};
use weave::thread;

#[test]
fn select_completes_exactly_one_of_two_ready_receives() {
    let (tx1, rx1) = mpmc::bounded::<u32>(1);
    let (tx2, rx2) = mpmc::bounded::<u32>(1);
    tx1.send(1).unwrap();
    tx2.send(2).unwrap();
    let got = select! {
        recv(rx1) -> m => m.unwrap(),
        recv(rx2) -> m => m.unwrap(),
    };
    // The other message is still there: only one operation ran.
    let rest: Vec<u32> = rx1.try_iter().chain(rx2.try_iter()).collect();
    assert_eq!(rest.len(), 1);
    assert_eq!(got + rest[0], 3);
}

#[test]
fn select_waits_for_the_one_that_becomes_ready() {
    let (_tx1, rx1) = mpmc::bounded::<u32>(0);
    let (tx2, rx2) = mpmc::bounded::<u32>(0);
    let s = thread::spawn(move || tx2.send(9).unwrap());
    let got = select! {
        recv(rx1) -> _m => unreachable!("nobody sends on rx1"),
        recv(rx2) -> m => m.unwrap(),
    };
    assert_eq!(got, 9);
    s.join().unwrap();
}

#[test]
fn select_default_runs_when_nothing_is_ready() {
    let (_tx, rx) = mpmc::unbounded::<u32>();
    let r = select! {
        recv(rx) -> _m => "received",
        default => "default",
    };
    assert_eq!(r, "default");
    let r = select! {
        recv(rx) -> _m => "received",
        default(Duration::from_millis(10)) => "timed out",
    };
    assert_eq!(r, "timed out");
}

#[test]
fn select_send_arm_hands_over_to_a_receiver() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let (_tx2, rx2) = mpmc::bounded::<u32>(0);
    let r = thread::spawn(move || rx.recv());
    let which = select! {
        send(tx, 5) -> res => { res.unwrap(); "sent" }
        recv(rx2) -> _m => "received",
    };
    assert_eq!(which, "sent");
    assert_eq!(r.join().unwrap(), Ok(5));
}

#[test]
fn a_disconnected_channel_is_ready_with_an_error() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let (_keep, rx2) = mpmc::unbounded::<u32>();
    drop(tx);
    let r = select! {
        recv(rx) -> m => m,
        recv(rx2) -> m => m,
    };
    assert_eq!(r, Err(mpmc::RecvError));
}

#[test]
fn selecting_consumers_lose_and_duplicate_nothing() {
    const PER: u64 = 20_000;
    let (tx_a, rx_a) = mpmc::bounded::<u64>(8);
    let (tx_b, rx_b) = mpmc::bounded::<u64>(0);
    let pa = thread::spawn(move || (0..PER).for_each(|i| tx_a.send(i).unwrap()));
    let pb = thread::spawn(move || (PER..2 * PER).for_each(|i| tx_b.send(i).unwrap()));
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let (rx_a, rx_b) = (rx_a.clone(), rx_b.clone());
            thread::spawn(move || {
                let (mut a_open, mut b_open) = (true, true);
                let mut seen = Vec::new();
                // A disconnected channel is always ready, so once one
                // closes the select would spin on it: drain the other.
                while a_open && b_open {
                    select! {
                        recv(rx_a) -> m => match m { Ok(v) => seen.push(v), Err(_) => a_open = false },
                        recv(rx_b) -> m => match m { Ok(v) => seen.push(v), Err(_) => b_open = false },
                    }
                }
                seen.extend(if a_open { rx_a.iter() } else { rx_b.iter() });
                seen
            })
        })
        .collect();
    drop((rx_a, rx_b));
    pa.join().unwrap();
    pb.join().unwrap();
    let mut all: Vec<u64> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * PER).collect::<Vec<_>>());
}

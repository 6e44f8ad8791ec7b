//! Producers and consumers spread over the LWPs lose and duplicate no
//! message, whatever the flavour of channel.

use weave::sync::{mpmc, mpsc};
use weave::thread;

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const MESSAGES: u64 = 100_000;

/// Runs 4 producers and 4 consumers over one channel, checks that every
/// message 0..MESSAGES arrived exactly once.
fn four_by_four(tx: mpmc::Sender<u64>, rx: mpmc::Receiver<u64>) {
    let per = MESSAGES / PRODUCERS;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..per {
                    tx.send(p * per + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                let mut seen = Vec::new();
                for v in rx.iter() {
                    seen.push(v);
                }
                seen
            })
        })
        .collect();
    drop(rx);
    for p in producers {
        p.join().unwrap();
    }
    let mut hits = vec![false; MESSAGES as usize];
    let (mut count, mut sum) = (0u64, 0u64);
    for c in consumers {
        for v in c.join().unwrap() {
            assert!(!hits[v as usize], "message {v} received twice");
            hits[v as usize] = true;
            count += 1;
            sum += v;
        }
    }
    assert_eq!(count, MESSAGES, "messages lost");
    assert_eq!(sum, MESSAGES * (MESSAGES - 1) / 2);
}

#[test]
fn bounded_four_by_four_loses_nothing() {
    let (tx, rx) = mpmc::bounded(16);
    four_by_four(tx, rx);
}

#[test]
fn bounded_one_four_by_four_loses_nothing() {
    let (tx, rx) = mpmc::bounded(1);
    four_by_four(tx, rx);
}

#[test]
fn rendezvous_four_by_four_loses_nothing() {
    let (tx, rx) = mpmc::bounded(0);
    four_by_four(tx, rx);
}

#[test]
fn unbounded_four_by_four_loses_nothing() {
    let (tx, rx) = mpmc::unbounded();
    four_by_four(tx, rx);
}

#[test]
fn mpsc_keeps_each_producers_order() {
    let (tx, rx) = mpsc::sync_channel(4);
    let per = 20_000u64;
    let hs: Vec<_> = (0..4u64)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || (0..per).for_each(|i| tx.send((p, i)).unwrap()))
        })
        .collect();
    drop(tx);
    let mut next = [0u64; 4];
    for (p, i) in rx.iter() {
        assert_eq!(i, next[p as usize], "producer {p}'s messages out of order");
        next[p as usize] += 1;
    }
    assert_eq!(next, [per; 4]);
    hs.into_iter().for_each(|h| h.join().unwrap());
}

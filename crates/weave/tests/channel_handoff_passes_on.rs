//! A waiting sender of a bounded channel is notified of a free place, not
//! given it: if its retry hands its value straight to a waiting receiver
//! instead, the place stays free, and the next waiting sender must hear of
//! it. One LWP, so that the woken sender runs only once the receiver waits.

mod wait_common;
use wait_common::wait_blocked;

use std::time::Duration;

use weave::sync::mpmc;
use weave::thread::{self, BlockReason};

#[test]
fn a_woken_sender_that_hands_off_passes_the_free_place_on() {
    weave::set_concurrency(1).unwrap();
    thread::spawn(|| {
        let (tx, rx) = mpmc::bounded::<u32>(1);
        tx.send(0).unwrap();
        // Two senders wait for the one place.
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|v| {
                let tx = tx.clone();
                thread::spawn(move || tx.send(v).unwrap())
            })
            .collect();
        for s in &senders {
            wait_blocked(s.thread().id(), BlockReason::Channel);
        }
        // Frees the place: one sender is woken to retry...
        assert_eq!(rx.recv(), Ok(0));
        // ...and finds this receiver waiting alone on the empty buffer:
        // it hands its value over, leaving the place free.
        let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        // The other sender must have been told of that place. (The long
        // timeout only turns a lost wake-up into a failure.)
        let second = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the second waiting sender was never woken");
        let mut got = [first, second];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        senders.into_iter().for_each(|s| s.join().unwrap());
    })
    .join()
    .unwrap();
}

//! A lone waiting receiver is handed the message by the sender that finds
//! it (the fast slot of the lock-free flavours): ping-pong keeps every
//! value and its order, a receiver that gave up is not handed anything,
//! and a handed message never overtakes one already buffered.

use std::time::Duration;

use weave::sync::mpmc;
use weave::thread;

/// `n` round trips between two threads through two channels made by
/// `make`; returns what the first side received.
fn pingpong(
    n: u32,
    make: fn() -> (mpmc::Sender<u32>, mpmc::Receiver<u32>),
    os_partner: bool,
) -> Vec<u32> {
    let (to_b, from_a) = make();
    let (to_a, from_b) = make();
    let partner = move || {
        for v in from_a.iter() {
            if to_a.send(v + 1).is_err() {
                break;
            }
        }
    };
    let os = os_partner.then(|| std::thread::spawn(partner.clone()));
    let ult = (!os_partner).then(|| thread::spawn(partner));
    let got = thread::spawn(move || {
        (0..n)
            .map(|i| {
                to_b.send(i * 2).unwrap();
                from_b.recv().unwrap()
            })
            .collect()
    })
    .join()
    .unwrap();
    if let Some(h) = os {
        h.join().unwrap();
    }
    if let Some(h) = ult {
        h.join().unwrap();
    }
    got
}

/// Lets a receive on `rx` (alone on an empty channel: the fast slot) time
/// out on a ULT, and gives the receiver back.
fn wait_out(rx: mpmc::Receiver<u32>) -> mpmc::Receiver<u32> {
    thread::spawn(move || {
        let r = rx.recv_timeout(Duration::from_millis(5));
        assert_eq!(r, Err(mpmc::RecvTimeoutError::Timeout));
        rx
    })
    .join()
    .unwrap()
}

#[test]
fn bounded_one_pingpong_between_ults_keeps_every_value() {
    let got = pingpong(20_000, || mpmc::bounded(1), false);
    assert_eq!(got, (0..20_000).map(|i| i * 2 + 1).collect::<Vec<_>>());
}

#[test]
fn unbounded_pingpong_with_an_os_thread_keeps_every_value() {
    let got = pingpong(5_000, mpmc::unbounded, true);
    assert_eq!(got, (0..5_000).map(|i| i * 2 + 1).collect::<Vec<_>>());
}

#[test]
fn a_receiver_that_timed_out_is_not_handed_a_later_message() {
    let (tx, rx) = mpmc::bounded::<u32>(1);
    let rx = wait_out(rx);
    // The receiver's wait is over: the message goes into the buffer.
    tx.send(7).unwrap();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.try_recv(), Ok(7));
}

#[test]
fn a_handed_message_does_not_overtake_a_buffered_one() {
    // One producer, one consumer that keeps finding the buffer empty and
    // waiting: whatever mix of hand-offs and buffered messages happens,
    // the consumer sees the producer's order.
    for cap in [1, 2] {
        let (tx, rx) = mpmc::bounded::<u32>(cap);
        let producer = std::thread::spawn(move || (0..20_000).for_each(|i| tx.send(i).unwrap()));
        let got: Vec<u32> = thread::spawn(move || rx.iter().collect()).join().unwrap();
        producer.join().unwrap();
        assert_eq!(got, (0..20_000).collect::<Vec<_>>(), "cap {cap}");
    }
}

#[test]
fn rendezvous_pingpong_between_ults_keeps_every_value() {
    let got = pingpong(20_000, || mpmc::bounded(0), false);
    assert_eq!(got, (0..20_000).map(|i| i * 2 + 1).collect::<Vec<_>>());
}

#[test]
fn a_rendezvous_receiver_that_timed_out_takes_no_value() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let rx = wait_out(rx);
    // Nobody waits to receive: a send that does not wait has no taker.
    assert_eq!(tx.try_send(7), Err(mpmc::TrySendError::Full(7)));
    drop(rx);
}

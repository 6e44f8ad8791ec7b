//! `select!` takes what crossbeam-channel's takes: temporaries as channel
//! operands, trailing commas, a select of only `default`, and
//! `select_biased!`.

use std::time::Duration;

use weave::sync::mpmc::{self, select, select_biased, Receiver};

fn ready_receiver(v: u32) -> Receiver<u32> {
    let (tx, rx) = mpmc::unbounded();
    tx.send(v).unwrap();
    rx
}

#[test]
fn a_receive_on_a_temporary_receiver_compiles_and_runs() {
    let got = select! {
        recv(ready_receiver(3)) -> m => m.unwrap(),
    };
    assert_eq!(got, 3);
}

#[test]
fn a_send_on_a_cloned_sender_compiles_and_runs() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    select! {
        send(tx.clone(), 8) -> r => r.unwrap(),
    }
    assert_eq!(rx.try_recv(), Ok(8));
}

#[test]
fn trailing_commas_are_accepted_everywhere() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let got = select! {
        send(tx, 1,) -> r => { r.unwrap(); 0 }
        recv(rx,) -> m => m.unwrap(),
        default(Duration::from_secs(1),) => 9,
    };
    // The send is ready (unbounded), the receive is not until it ran.
    assert_eq!(got, 0);
    assert_eq!(rx.try_recv(), Ok(1));
    let got = select! {
        recv(ready_receiver(4)) -> m => m.unwrap(),
    };
    assert_eq!(got, 4);
}

#[test]
fn a_select_of_only_default_runs_its_body() {
    let got = select! {
        default => 5,
    };
    assert_eq!(got, 5);
}

#[test]
fn a_select_of_only_a_timeout_waits_and_runs_its_body() {
    let start = std::time::Instant::now();
    let got = select! {
        default(Duration::from_millis(20)) => 6,
    };
    assert_eq!(got, 6);
    assert!(
        start.elapsed() >= Duration::from_millis(20),
        "returned before its timeout"
    );
}

#[test]
fn select_biased_takes_the_first_ready_arm() {
    let (tx_a, rx_a) = mpmc::unbounded::<u32>();
    let (tx_b, rx_b) = mpmc::unbounded::<u32>();
    for _ in 0..100 {
        tx_a.send(1).unwrap();
        tx_b.send(2).unwrap();
        let first = select_biased! {
            recv(rx_a) -> m => m.unwrap(),
            recv(rx_b) -> m => m.unwrap(),
        };
        assert_eq!(first, 1);
        assert_eq!(rx_b.try_recv(), Ok(2));
    }
}

#[test]
fn select_without_bias_serves_every_ready_arm() {
    let (tx_a, rx_a) = mpmc::unbounded::<u32>();
    let (tx_b, rx_b) = mpmc::unbounded::<u32>();
    let mut seen = [0; 2];
    for _ in 0..200 {
        tx_a.send(0).unwrap();
        tx_b.send(1).unwrap();
        let i = select! {
            recv(rx_a) -> m => m.unwrap(),
            recv(rx_b) -> m => m.unwrap(),
        };
        seen[i as usize] += 1;
        let _ = rx_a.try_recv();
        let _ = rx_b.try_recv();
    }
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "one arm was never chosen: {seen:?}"
    );
}

//! Timed channel calls give `Timeout` (with the value back, for a send)
//! when nothing happens, on a ULT and on an OS thread.

use std::time::Duration;

use weave::sync::{mpmc, mpsc};
use weave::thread;

const SHORT: Duration = Duration::from_millis(20);

fn timeouts() {
    let (tx, rx) = mpsc::channel::<u8>();
    assert_eq!(rx.recv_timeout(SHORT), Err(mpsc::RecvTimeoutError::Timeout));
    let (full_tx, _full_rx) = mpmc::bounded::<String>(1);
    full_tx.send("first".into()).unwrap();
    match full_tx.send_timeout("second".into(), SHORT) {
        Err(mpmc::SendTimeoutError::Timeout(v)) => assert_eq!(v, "second"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // A message that is there is received, however short the timeout.
    tx.send(4).unwrap();
    assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(4));
    drop(tx);
    assert_eq!(
        rx.recv_timeout(SHORT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn timeouts_on_a_ult() {
    thread::spawn(timeouts).join().unwrap();
}

#[test]
fn timeouts_on_an_os_thread() {
    timeouts();
}

#[test]
fn a_timed_receive_gets_a_message_sent_before_its_deadline() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let r = thread::spawn(move || rx.recv_timeout(Duration::from_secs(60)));
    tx.send(8).unwrap();
    assert_eq!(r.join().unwrap(), Ok(8));
}

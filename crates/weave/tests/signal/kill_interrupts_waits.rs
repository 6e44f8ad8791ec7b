//! `Thread::kill` (pthread_kill) to a ULT: pending while it blocks the
//! signal; a ULT waiting inside weave is woken to deliver it and goes back
//! to its wait (SA_RESTART), and `take_interrupted` says so.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use crate::signal_common::{wait_blocked, wait_for, wait_until};
use weave::signal::{self, How, Route, SigInfo, SigSet};
use weave::thread;

const SIG: i32 = libc::SIGUSR2;

fn record() -> Arc<StdMutex<Vec<SigInfo>>> {
    let got = Arc::new(StdMutex::new(Vec::new()));
    let g = got.clone();
    signal::handle(SIG, move |i| g.lock().unwrap().push(*i)).unwrap();
    got
}

fn one_delivery_to(got: &StdMutex<Vec<SigInfo>>, id: thread::ThreadId) {
    wait_until(|| !got.lock().unwrap().is_empty());
    let v = got.lock().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].target, Some(id));
    assert_eq!(v[0].route, Route::Thread);
    assert_eq!(v[0].code, libc::SI_TKILL);
}

#[test]
fn kill_wakes_a_sleeping_ult_which_sleeps_on() {
    if !in_child!("kill_wakes_a_sleeping_ult_which_sleeps_on") {
        return;
    }
    let got = record();
    let t = thread::spawn(|| {
        let start = Instant::now();
        thread::sleep(Duration::from_millis(300));
        (start.elapsed(), signal::take_interrupted())
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    one_delivery_to(&got, t.thread().id());
    let (slept, interrupted) = t.join().unwrap();
    assert!(
        slept >= Duration::from_millis(300),
        "restarted: slept {slept:?}"
    );
    assert!(interrupted, "the sleep was interrupted by the handler");
}

#[test]
fn kill_wakes_a_ult_in_mutex_lock_which_still_gets_the_lock() {
    if !in_child!("kill_wakes_a_ult_in_mutex_lock_which_still_gets_the_lock") {
        return;
    }
    let got = record();
    let m = Arc::new(weave::sync::Mutex::new(0));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let t = thread::spawn(move || {
        *m2.lock().unwrap() += 1;
        signal::take_interrupted()
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    // The handler runs while the ULT still waits for the lock we hold.
    one_delivery_to(&got, t.thread().id());
    drop(g);
    assert!(t.join().unwrap(), "interrupted");
    assert_eq!(*m.lock().unwrap(), 1);
}

#[test]
fn kill_wakes_a_ult_in_channel_recv_which_still_gets_the_value() {
    if !in_child!("kill_wakes_a_ult_in_channel_recv_which_still_gets_the_value") {
        return;
    }
    let got = record();
    let (tx, rx) = weave::sync::mpsc::channel::<u32>();
    let t = thread::spawn(move || (rx.recv().unwrap(), signal::take_interrupted()));
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    one_delivery_to(&got, t.thread().id());
    tx.send(7).unwrap();
    assert_eq!(t.join().unwrap(), (7, true));
}

#[test]
fn kill_wakes_a_ult_in_socket_read_which_still_gets_the_data() {
    if !in_child!("kill_wakes_a_ult_in_socket_read_which_still_gets_the_data") {
        return;
    }
    let got = record();
    let listener = weave::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = weave::net::TcpStream::connect(addr).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let t = thread::spawn(move || {
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).unwrap();
        (buf, signal::take_interrupted())
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    one_delivery_to(&got, t.thread().id());
    client.write_all(b"hello").unwrap();
    assert_eq!(t.join().unwrap(), (*b"hello", true));
}

#[test]
fn kill_stays_pending_while_the_ult_blocks_it() {
    if !in_child!("kill_stays_pending_while_the_ult_blocks_it") {
        return;
    }
    let got = record();
    let (masked, sent, unmasked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (m, s, u) = (masked.clone(), sent.clone(), unmasked.clone());
    let g = got.clone();
    let t = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[SIG]));
        m.store(true, SeqCst);
        wait_for(&s); // yields: many safe points with the signal pending
        for _ in 0..100 {
            thread::yield_now();
        }
        let before = g.lock().unwrap().len();
        u.store(true, SeqCst);
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        before
    });
    wait_for(&masked);
    t.thread().kill(SIG).unwrap();
    sent.store(true, SeqCst);
    let id = t.thread().id();
    let before = t.join().unwrap();
    assert_eq!(before, 0, "nothing delivered while the ULT blocked it");
    one_delivery_to(&got, id);
}

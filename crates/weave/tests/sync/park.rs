//! park/unpark, with std's semantics, on ULTs and OS threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use weave::thread;

#[test]
fn unpark_before_park_returns_at_once() {
    thread::spawn(|| {
        thread::current().unpark();
        let t = Instant::now();
        thread::park();
        t.elapsed()
    })
    .join()
    .unwrap();
}

#[test]
fn park_then_unpark_from_another_ult() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let parker = thread::spawn(move || {
        while !f.load(Ordering::SeqCst) {
            thread::park();
        }
    });
    thread::sleep(Duration::from_millis(20));
    let t = parker.thread().clone();
    thread::spawn(move || {
        flag.store(true, Ordering::SeqCst);
        t.unpark();
    })
    .join()
    .unwrap();
    parker.join().unwrap();
}

#[test]
fn park_then_unpark_from_an_os_thread() {
    let (tx, rx) = mpsc::channel();
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let parker = thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        while !f.load(Ordering::SeqCst) {
            thread::park();
        }
    });
    let t = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    flag.store(true, Ordering::SeqCst);
    t.unpark();
    parker.join().unwrap();
}

#[test]
fn a_ult_unparks_a_parked_os_thread() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let (tx, rx) = mpsc::channel();
    let os = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        while !f.load(Ordering::SeqCst) {
            thread::park();
        }
    });
    let me = rx.recv().unwrap();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        flag.store(true, Ordering::SeqCst);
        me.unpark();
    })
    .join()
    .unwrap();
    os.join().unwrap();
}

#[test]
fn park_timeout_returns_after_the_timeout() {
    let waited = thread::spawn(|| {
        let t = Instant::now();
        thread::park_timeout(Duration::from_millis(30));
        t.elapsed()
    })
    .join()
    .unwrap();
    assert!(waited >= Duration::from_millis(30), "woke after {waited:?}");
}

#[test]
fn a_late_timer_does_not_end_a_later_park() {
    // park_timeout is ended early by unpark; its timer fires later, while
    // the thread is in a second, untimed park that must not end then.
    let woke_early = Arc::new(AtomicBool::new(false));
    let w = woke_early.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = thread::spawn(move || {
        thread::park_timeout(Duration::from_millis(20));
        let t = Instant::now();
        while !s.load(Ordering::SeqCst) {
            thread::park();
            if !s.load(Ordering::SeqCst) && t.elapsed() < Duration::from_millis(60) {
                w.store(true, Ordering::SeqCst);
            }
        }
    });
    let t = h.thread().clone();
    t.unpark(); // ends the timed park (or pre-empts it)
    thread::sleep(Duration::from_millis(80));
    stop.store(true, Ordering::SeqCst);
    t.unpark();
    h.join().unwrap();
    assert!(
        !woke_early.load(Ordering::SeqCst),
        "a stale timer woke the second park"
    );
}

#[test]
fn ping_pong_with_park_many_rounds() {
    const ROUNDS: usize = 20_000;
    let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<thread::Thread>();
    let t2 = turn.clone();
    let b = thread::spawn(move || {
        let a = rx.recv().unwrap();
        for i in 0..ROUNDS {
            while t2.load(Ordering::Acquire) != 2 * i + 1 {
                thread::park();
            }
            t2.store(2 * i + 2, Ordering::Release);
            a.unpark();
        }
    });
    let bt = b.thread().clone();
    let t1 = turn.clone();
    let a = thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        for i in 0..ROUNDS {
            t1.store(2 * i + 1, Ordering::Release);
            bt.unpark();
            while t1.load(Ordering::Acquire) != 2 * i + 2 {
                thread::park();
            }
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(turn.load(Ordering::SeqCst), 2 * ROUNDS);
}

//! A notify that follows the waiter's release of the mutex inside `wait`
//! always reaches it: thousands of hand-shakes between two threads, each
//! of which would hang if one notify were lost. Covers ULT-ULT, OS-OS and
//! mixed pairs; every scenario runs under a watchdog so a lost wake-up
//! fails the test instead of hanging it.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::{Condvar, Mutex};

const ROUNDS: u64 = 5_000;

/// Two threads take turns: each waits for the counter to reach its parity,
/// bumps it, and notifies the other.
fn turn_taker(s: Arc<(Mutex<u64>, Condvar)>, parity: u64) -> impl FnOnce() + Send + 'static {
    move || {
        let (m, cv) = &*s;
        for _ in 0..ROUNDS {
            let mut n = cv
                .wait_while(m.lock().unwrap(), |n| *n % 2 != parity)
                .unwrap();
            *n += 1;
            drop(n);
            cv.notify_one();
        }
    }
}

fn with_watchdog(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what}: a notify was lost (still waiting after 60 s)"));
}

#[test]
fn two_ults_alternate_without_losing_a_notify() {
    with_watchdog("ULT-ULT", || {
        let s = Arc::new((Mutex::new(0), Condvar::new()));
        let a = weave::thread::spawn(turn_taker(s.clone(), 0));
        let b = weave::thread::spawn(turn_taker(s.clone(), 1));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(*s.0.lock().unwrap(), 2 * ROUNDS);
    });
}

#[test]
fn two_os_threads_alternate_without_losing_a_notify() {
    with_watchdog("OS-OS", || {
        let s = Arc::new((Mutex::new(0), Condvar::new()));
        let a = std::thread::spawn(turn_taker(s.clone(), 0));
        let b = std::thread::spawn(turn_taker(s.clone(), 1));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(*s.0.lock().unwrap(), 2 * ROUNDS);
    });
}

#[test]
fn a_ult_and_an_os_thread_alternate_without_losing_a_notify() {
    with_watchdog("ULT-OS", || {
        let s = Arc::new((Mutex::new(0), Condvar::new()));
        let a = weave::thread::spawn(turn_taker(s.clone(), 0));
        turn_taker(s.clone(), 1)();
        a.join().unwrap();
        assert_eq!(*s.0.lock().unwrap(), 2 * ROUNDS);
    });
}

/// Notify without holding the mutex, right after releasing it: the classic
/// window between "waiter checked" and "waiter blocked".
#[test]
fn a_notify_outside_the_mutex_is_not_lost() {
    with_watchdog("notify outside the lock", || {
        for _ in 0..2_000 {
            let s = Arc::new((Mutex::new(false), Condvar::new()));
            let s2 = s.clone();
            let w = weave::thread::spawn(move || {
                let (m, cv) = &*s2;
                let mut g = m.lock().unwrap();
                while !*g {
                    g = cv.wait(g).unwrap();
                }
            });
            *s.0.lock().unwrap() = true;
            s.1.notify_one();
            w.join().unwrap();
        }
    });
}

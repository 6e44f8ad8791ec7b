//! Timed condvar waits: they time out with the mutex held again when
//! nobody notifies, report a notify that came in time as no timeout, and
//! `wait_timeout_while` returns early once the condition is met. On ULTs
//! and OS threads.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::{Condvar, Mutex};

fn times_out_with_the_lock_held() -> u32 {
    let m = Mutex::new(0u32);
    let cv = Condvar::new();
    let g = m.lock().unwrap();
    let (mut g, r) = cv.wait_timeout(g, Duration::from_millis(10)).unwrap();
    assert!(r.timed_out());
    *g += 1;
    drop(g);
    assert!(m.try_lock().is_ok(), "the guard did not unlock");
    let (g, r) = cv
        .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(10), |n| *n < 5)
        .unwrap();
    assert!(r.timed_out(), "the condition never became false");
    *g
}

#[test]
fn a_ult_times_out_and_holds_the_lock_again() {
    assert_eq!(
        weave::thread::spawn(times_out_with_the_lock_held)
            .join()
            .unwrap(),
        1
    );
}

#[test]
fn an_os_thread_times_out_and_holds_the_lock_again() {
    assert_eq!(times_out_with_the_lock_held(), 1);
}

fn notified_in_time(waiter_is_ult: bool) {
    let s = Arc::new((Mutex::new(false), Condvar::new()));
    let s2 = s.clone();
    let wait = move || {
        let (m, cv) = &*s2;
        let (g, r) = cv
            .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(600), |r| !*r)
            .unwrap();
        (*g, r.timed_out())
    };
    let (ready, timed_out) = if waiter_is_ult {
        let h = weave::thread::spawn(wait);
        *s.0.lock().unwrap() = true;
        s.1.notify_all();
        h.join().unwrap()
    } else {
        let h = std::thread::spawn(wait);
        let n = weave::thread::spawn(move || {
            *s.0.lock().unwrap() = true;
            s.1.notify_all();
        });
        n.join().unwrap();
        h.join().unwrap()
    };
    assert!(ready);
    assert!(!timed_out);
}

#[test]
fn a_ult_notified_in_time_does_not_time_out() {
    notified_in_time(true);
}

#[test]
fn an_os_thread_notified_by_a_ult_in_time_does_not_time_out() {
    notified_in_time(false);
}

#[test]
fn a_plain_wait_timeout_reports_a_notify_as_no_timeout() {
    let s = Arc::new((Mutex::new(0u32), Condvar::new()));
    let s2 = s.clone();
    let h = weave::thread::spawn(move || {
        let (m, cv) = &*s2;
        let mut g = m.lock().unwrap();
        *g = 1; // we are about to wait
        let (g, r) = cv.wait_timeout(g, Duration::from_secs(600)).unwrap();
        (*g, r.timed_out())
    });
    loop {
        let g = s.0.lock().unwrap();
        if *g == 1 {
            // The waiter is queued (it released the mutex inside wait).
            drop(g);
            *s.0.lock().unwrap() = 2;
            s.1.notify_one();
            break;
        }
        drop(g);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(h.join().unwrap(), (2, false));
}

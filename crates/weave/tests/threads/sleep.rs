//! sleep blocks only the ULT, and never wakes early.

use std::time::{Duration, Instant};
use weave::thread;

#[test]
fn sleep_wakes_no_earlier_than_asked() {
    let hs: Vec<_> = [1u64, 5, 20, 35]
        .into_iter()
        .map(|ms| {
            thread::spawn(move || {
                let t = Instant::now();
                thread::sleep(Duration::from_millis(ms));
                (ms, t.elapsed())
            })
        })
        .collect();
    for h in hs {
        let (ms, took) = h.join().unwrap();
        assert!(
            took >= Duration::from_millis(ms),
            "asked {ms} ms, woke after {took:?}"
        );
    }
}

#[test]
fn sleeping_ults_do_not_hold_their_lwp() {
    // Far more sleepers than LWPs, each sleeping 50 ms: if a sleep blocked
    // its LWP this would take at least 1000 × 50 ms / LWPs.
    let t = Instant::now();
    let hs: Vec<_> = (0..1000)
        .map(|_| thread::spawn(|| thread::sleep(Duration::from_millis(50))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "1000 sleeps of 50 ms took {:?}",
        t.elapsed()
    );
}

#[test]
fn sleep_until_a_past_instant_returns() {
    thread::spawn(|| thread::sleep_until(Instant::now() - Duration::from_millis(1)))
        .join()
        .unwrap();
    thread::sleep(Duration::ZERO);
}

//! Many sleepers due in the same timer slot on one LWP: the slot is fired
//! as one batch (its threads' TCBs and stack tops asked for ahead of the
//! wakes and switches), and every thread of it runs, none before its
//! deadline, and in deadline order with the threads of the other slots.
//! The pool is set to one LWP, so that "in order" is the LWP's order; the
//! tests of this binary run one at a time.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weave::thread;

use crate::one_lwp;

/// Runs `n` ULTs; once all have started, ULT `i` sleeps until `start +
/// deadline(i, round)` for each round, and logs `(round, deadline, armed
/// in time)` as it wakes, after checking that it is not early. Returns the
/// log in wake order.
fn sleepers(
    n: usize,
    rounds: u32,
    deadline: impl Fn(usize, u32) -> Duration + Send + Sync + 'static,
) -> Vec<(u32, Duration, bool)> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    thread::spawn(move || {
        let deadline = Arc::new(deadline);
        let start = Arc::new(std::sync::OnceLock::new());
        let arrived = Arc::new(AtomicUsize::new(0));
        // Held until every ULT waits at it: the sleeps are armed together.
        let gate = Arc::new(weave::sync::RwLock::new(()));
        let held = gate.write().unwrap();
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (l, deadline) = (l.clone(), deadline.clone());
                let (start, arrived, gate) = (start.clone(), arrived.clone(), gate.clone());
                thread::spawn(move || {
                    arrived.fetch_add(1, SeqCst);
                    drop(gate.read().unwrap());
                    let start: Instant = *start.get().unwrap();
                    for r in 0..rounds {
                        let at = start + deadline(i, r);
                        let in_time = Instant::now() < at;
                        thread::sleep_until(at);
                        let now = Instant::now();
                        assert!(now >= at, "ULT {i} woke {:?} early", at - now);
                        l.lock().unwrap().push((r, deadline(i, r), in_time));
                    }
                })
            })
            .collect();
        while arrived.load(SeqCst) < n {
            thread::yield_now();
        }
        start
            .set(Instant::now() + Duration::from_millis(5))
            .unwrap();
        drop(held);
        for h in handles {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

#[test]
fn a_slot_of_many_sleepers_wakes_them_all_and_none_early() {
    let _g = one_lwp();
    // Every ULT re-arms into the slot its siblings opened (the same
    // deadline), three times.
    let n = 2_000;
    let log = sleepers(n, 3, |_, r| Duration::from_millis(2 * (u64::from(r) + 1)));
    assert_eq!(log.len(), 3 * n, "a sleeper of the batch never woke");
    let rounds: Vec<u32> = log.iter().map(|e| e.0).collect();
    assert!(
        rounds.windows(2).all(|w| w[0] <= w[1]),
        "a thread of a later slot ran before one of an earlier slot"
    );
}

#[test]
fn sleepers_of_interleaved_slots_wake_in_deadline_order() {
    let _g = one_lwp();
    // Deadlines a whole millisecond apart (many slots), armed out of
    // order: each insert either opens a slot before the latest one, or
    // joins the latest. A sleep armed after its deadline (the machine
    // stalled the LWP for milliseconds) fires at the next look, out of
    // order by right: left out of the order check.
    let n = 1_000;
    let log = sleepers(n, 1, |i, _| Duration::from_millis(1 + (i * 7 % 5) as u64));
    assert_eq!(log.len(), n);
    let at: Vec<Duration> = log.iter().filter(|e| e.2).map(|e| e.1).collect();
    assert!(
        at.windows(2).all(|w| w[0] <= w[1]),
        "woke out of deadline order: {at:?}"
    );
}

//! Priority order in the mutex's and the rwlock writers' wait queues is
//! bounded by age: a low-priority waiter behind a stream of high-priority
//! lockers, which keep the queue full of higher priorities, still gets the
//! lock. The watchdog only turns a starvation into a failure; nothing here
//! asserts a time.

use crate::wait_common::wait_blocked;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weave::sync::{Mutex, RwLock};
use weave::thread::BlockReason;

/// Anything held for its drop: a lock guard of either kind.
trait Held {}
impl<T> Held for T {}

/// Runs the scenario: `hold()` takes the lock and returns a guard-like
/// value; the low-priority thread queues first, then eight high-priority
/// ones loop lock/yield/unlock until it got in (or the watchdog fires).
fn low_priority_waiter_gets_in<L: Send + Sync + 'static>(
    lock: Arc<L>,
    reason: BlockReason,
    take: fn(&L) -> Box<dyn Held + '_>,
) {
    let got = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let first = take(&lock);
    let low = {
        let (lock, got) = (lock.clone(), got.clone());
        weave::thread::Builder::new()
            .priority(2)
            .spawn(move || {
                let _g = take(&lock);
                got.store(true, SeqCst);
            })
            .unwrap()
    };
    wait_blocked(low.thread().id(), reason);
    let highs: Vec<_> = (0..8)
        .map(|_| {
            let (lock, got, stop) = (lock.clone(), got.clone(), stop.clone());
            weave::thread::Builder::new()
                .priority(30)
                .spawn(move || {
                    while !got.load(SeqCst) && !stop.load(SeqCst) {
                        let _g = take(&lock);
                        // Holding the lock while not running: the others
                        // queue (nobody spins for a holder that is not
                        // running), so the queue always holds highs.
                        weave::thread::yield_now();
                    }
                })
                .unwrap()
        })
        .collect();
    for h in &highs {
        wait_blocked(h.thread().id(), reason);
    }
    drop(first);
    let watchdog = Instant::now() + Duration::from_secs(60);
    while !got.load(SeqCst) && Instant::now() < watchdog {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, SeqCst);
    for h in highs {
        h.join().unwrap();
    }
    low.join().unwrap();
    assert!(
        got.load(SeqCst),
        "the low-priority waiter starved behind high-priority lockers"
    );
}

#[test]
fn a_low_priority_mutex_waiter_gets_the_lock_behind_a_high_priority_stream() {
    low_priority_waiter_gets_in(Arc::new(Mutex::new(())), BlockReason::Mutex, |m| {
        Box::new(m.lock().unwrap())
    });
}

#[test]
fn a_low_priority_writer_gets_the_lock_behind_a_high_priority_stream() {
    low_priority_waiter_gets_in(Arc::new(RwLock::new(())), BlockReason::RwLock, |l| {
        Box::new(l.write().unwrap())
    });
}

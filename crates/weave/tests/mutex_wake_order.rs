//! Who gets a contended weave Mutex: a higher-priority waiter first, and a
//! waiter that has waited too long and lost a retry to a barger gets the
//! lock handed to it; one that only waited long is woken to retry.

mod wait_common;
use wait_common::wait_blocked;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, TryLockError};
use std::time::Duration;
use weave::sync::Mutex;
use weave::thread::{BlockReason, ThreadState};

#[test]
fn a_higher_priority_waiter_is_woken_first() {
    let m = Arc::new(Mutex::new(Vec::new()));
    let g = m.lock().unwrap();
    let spawn = |prio: u8, tag: &'static str| {
        let m = m.clone();
        weave::thread::Builder::new()
            .priority(prio)
            .spawn(move || m.lock().unwrap().push(tag))
            .unwrap()
    };
    let low = spawn(4, "low");
    wait_blocked(low.thread().id(), BlockReason::Mutex);
    let high = spawn(28, "high");
    wait_blocked(high.thread().id(), BlockReason::Mutex);
    drop(g);
    low.join().unwrap();
    high.join().unwrap();
    assert_eq!(*m.lock().unwrap(), ["high", "low"]);
}

/// What the holder saw when it tried the lock again right after its
/// unlock, on the same LWP as the waiter (so the waiter cannot have run in
/// between): whether it could barge in.
fn holder_relocks_after_a_waiter_queued_long(beat_the_waiter_once: bool) -> bool {
    // One LWP: the holder and the waiter take turns, and nothing else runs
    // the waiter between the holder's unlock and its `try_lock`.
    weave::set_concurrency(1).unwrap();
    let m = Arc::new(Mutex::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let (m1, go1) = (m.clone(), go.clone());
    let holder = weave::thread::spawn(move || {
        let mut g = m1.lock().unwrap();
        while !go1.load(SeqCst) {
            weave::thread::park();
        }
        // Well past the 1 ms starvation threshold since the waiter queued.
        weave::thread::sleep(Duration::from_millis(20));
        if beat_the_waiter_once {
            drop(g);
            // The waiter was woken to retry; we take the lock first ...
            g = m1
                .try_lock()
                .expect("a waiter woken to retry can be barged");
            // ... and it finds the lock held when it retries, and queues
            // again.
            weave::thread::yield_now();
        }
        drop(g);
        let barged = match m1.try_lock() {
            Ok(_) => true,
            Err(TryLockError::WouldBlock) => false,
            Err(TryLockError::Poisoned(_)) => unreachable!(),
        };
        barged
    });
    let m2 = m.clone();
    let waiter = weave::thread::spawn(move || {
        *m2.lock().unwrap() += 1;
    });
    wait_blocked(waiter.thread().id(), BlockReason::Mutex);
    go.store(true, SeqCst);
    holder.thread().unpark();
    let barged = holder.join().unwrap();
    waiter.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 1);
    barged
}

#[test]
fn a_starving_waiter_that_lost_a_retry_gets_the_lock_handed_to_it() {
    assert!(
        !holder_relocks_after_a_waiter_queued_long(true),
        "barged in ahead of a waiter that had already lost a retry"
    );
}

#[test]
fn a_waiter_that_only_queued_long_is_woken_to_retry_not_handed_the_lock() {
    // Handing it the lock would stop every running thread until its LWP
    // runs it; with many such waiters that went on for a whole run.
    assert!(
        holder_relocks_after_a_waiter_queued_long(false),
        "the lock was handed to a waiter that never lost a retry"
    );
}

#[test]
fn a_waiter_handed_the_lock_runs_before_the_others_of_its_lwp() {
    // One LWP: the order in which ULTs run is its ready queue's.
    weave::set_concurrency(1).unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let m = Arc::new(Mutex::new(()));
    let go = Arc::new(AtomicBool::new(false));
    let log = |order: &Arc<std::sync::Mutex<Vec<&'static str>>>, what| {
        order.lock().unwrap().push(what);
    };
    // Another thread of the LWP, parked until the holder makes it runnable
    // just before the hand-off.
    let runnable = Arc::new(AtomicBool::new(false));
    let other = {
        let (order, runnable) = (order.clone(), runnable.clone());
        weave::thread::spawn(move || {
            while !runnable.load(SeqCst) {
                weave::thread::park();
            }
            log(&order, "other");
        })
    };
    let (m1, go1, order1, other_t) = (m.clone(), go.clone(), order.clone(), other.thread().clone());
    let holder = weave::thread::spawn(move || {
        let mut g = m1.lock().unwrap();
        while !go1.load(SeqCst) {
            weave::thread::park();
        }
        weave::thread::sleep(Duration::from_millis(20));
        // The waiter is woken to retry, loses to us, and queues again: the
        // next unlock hands it the lock.
        drop(g);
        g = m1
            .try_lock()
            .expect("a waiter woken to retry can be barged");
        weave::thread::yield_now();
        runnable.store(true, SeqCst);
        other_t.unpark();
        drop(g);
        weave::thread::yield_now();
        log(&order1, "holder");
    });
    let (m2, order2) = (m.clone(), order.clone());
    let waiter = weave::thread::spawn(move || {
        let _g = m2.lock().unwrap();
        log(&order2, "waiter");
    });
    wait_blocked(waiter.thread().id(), BlockReason::Mutex);
    while !weave::thread::threads()
        .iter()
        .any(|t| t.id == other.thread().id() && t.state == ThreadState::Blocked(BlockReason::Park))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    go.store(true, SeqCst);
    holder.thread().unpark();
    holder.join().unwrap();
    waiter.join().unwrap();
    other.join().unwrap();
    assert_eq!(*order.lock().unwrap(), ["waiter", "other", "holder"]);
}

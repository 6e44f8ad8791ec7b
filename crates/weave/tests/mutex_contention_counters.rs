//! `trace::counters()` says what contended `sync::Mutex` locks did: a
//! locker that finds the lock held by a thread that is not running (so it
//! does not spin) counts one contended lock and one block.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weave::sync::Mutex;
use weave::thread::BlockReason;

mod wait_common;
use wait_common::wait_blocked;

#[test]
fn a_locker_that_waits_for_a_parked_owner_counts_a_contended_lock_and_a_block() {
    let before = weave::trace::counters();
    let m = Arc::new(Mutex::new(0u32));
    let (locked_tx, locked_rx) = weave::sync::mpsc::channel();
    let release = Arc::new(AtomicBool::new(false));
    let owner = {
        let (m, release) = (m.clone(), release.clone());
        weave::thread::spawn(move || {
            let mut g = m.lock().unwrap();
            locked_tx.send(()).unwrap();
            // Holds the lock while parked: not running, so nobody spins
            // for it (a loop: a park may return spuriously).
            while !release.load(Ordering::Acquire) {
                weave::thread::park();
            }
            *g += 1;
        })
    };
    locked_rx.recv().unwrap();
    let locker = {
        let m = m.clone();
        weave::thread::spawn(move || *m.lock().unwrap() += 1)
    };
    wait_blocked(locker.thread().id(), BlockReason::Mutex);
    release.store(true, Ordering::Release);
    owner.thread().unpark();
    owner.join().unwrap();
    locker.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 2);

    // Each LWP publishes its counts when it goes idle: give them a moment
    // (a generous watchdog, not a timing assertion).
    let start = std::time::Instant::now();
    loop {
        let now = weave::trace::counters();
        let contended = now.lock_contended - before.lock_contended;
        let blocks = now.lock_blocks - before.lock_blocks;
        if contended >= 1 && blocks >= 1 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "after a lock that waited for a parked owner: {contended} contended locks, \
             {blocks} blocks counted (expected at least 1 each)"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

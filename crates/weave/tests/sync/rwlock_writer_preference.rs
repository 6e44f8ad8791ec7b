//! A waiting writer shuts out new readers (writer preference): it gets
//! the lock before a reader that arrived after it, and while it waits the
//! thread table shows `BlockReason::RwLock`.

use crate::wait_common::wait_blocked;

use std::sync::{Arc, TryLockError};
use weave::sync::RwLock;
use weave::thread::BlockReason;

#[test]
fn a_waiting_writer_goes_before_a_later_reader() {
    let l = Arc::new(RwLock::new(Vec::new()));
    let first_read = l.read().unwrap();
    let l2 = l.clone();
    let writer = weave::thread::spawn(move || l2.write().unwrap().push("writer"));
    wait_blocked(writer.thread().id(), BlockReason::RwLock);
    // The writer waits for us: new readers must wait for it.
    assert!(matches!(l.try_read(), Err(TryLockError::WouldBlock)));
    let l3 = l.clone();
    let reader = weave::thread::spawn(move || {
        let g = l3.read().unwrap();
        g.clone()
    });
    wait_blocked(reader.thread().id(), BlockReason::RwLock);
    drop(first_read);
    writer.join().unwrap();
    assert_eq!(
        reader.join().unwrap(),
        ["writer"],
        "the later reader got in first"
    );
}

#[test]
fn a_stream_of_readers_does_not_starve_a_writer() {
    let l = Arc::new(RwLock::new(0u32));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Readers overlap each other continuously: without writer preference
    // the count of readers would never reach zero.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (l, stop) = (l.clone(), stop.clone());
            weave::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _g = l.read().unwrap();
                    weave::thread::yield_now();
                }
            })
        })
        .collect();
    for _ in 0..20 {
        *l.write().unwrap() += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in readers {
        h.join().unwrap();
    }
    assert_eq!(*l.read().unwrap(), 20);
}

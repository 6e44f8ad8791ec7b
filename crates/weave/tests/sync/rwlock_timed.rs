//! `RwLock`'s timed acquires (`try_read_for/until`,
//! `try_read_preferring_until`, `try_write_for/until`): they block in the
//! lock (the thread table shows `BlockReason::RwLock`, not a sleep), give
//! up with `WouldBlock` at the deadline, take a lock that frees in time,
//! and a writer that gives up no longer holds back the readers that queued
//! behind it.

use crate::wait_common::wait_blocked;

use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};
use weave::sync::RwLock;
use weave::thread::BlockReason;

#[test]
fn a_timed_writer_waits_in_the_lock_and_gives_up_with_would_block() {
    let l = Arc::new(RwLock::new(0u32));
    let held = l.read().unwrap();
    let l2 = l.clone();
    let writer = weave::thread::spawn(move || {
        matches!(
            l2.try_write_for(Duration::from_millis(200)),
            Err(TryLockError::WouldBlock)
        )
    });
    wait_blocked(writer.thread().id(), BlockReason::RwLock);
    assert!(writer.join().unwrap(), "the writer got in past a read lock");
    drop(held);
    *l.try_write().expect("free once the reader left") += 1;
    assert_eq!(*l.read().unwrap(), 1);
}

#[test]
fn a_writer_that_gives_up_lets_the_readers_queued_behind_it_in() {
    let l = Arc::new(RwLock::new(()));
    let held = l.read().unwrap();
    let l2 = l.clone();
    let writer = weave::thread::spawn(move || l2.try_write_for(Duration::from_millis(300)).is_ok());
    wait_blocked(writer.thread().id(), BlockReason::RwLock);
    // While the writer waits, new readers queue behind it.
    assert!(matches!(l.try_read(), Err(TryLockError::WouldBlock)));
    let l3 = l.clone();
    let reader = weave::thread::spawn(move || drop(l3.read().unwrap()));
    wait_blocked(reader.thread().id(), BlockReason::RwLock);
    assert!(!writer.join().unwrap());
    // `held` is still ours: the reader can only have got in beside it.
    reader.join().unwrap();
    drop(held);
}

#[test]
fn a_timed_reader_gets_in_when_the_writer_leaves_in_time() {
    let l = Arc::new(RwLock::new(0u32));
    let mut w = l.write().unwrap();
    let l2 = l.clone();
    let reader = weave::thread::spawn(move || {
        *l2.try_read_for(Duration::from_secs(60))
            .expect("the writer leaves long before the deadline")
    });
    wait_blocked(reader.thread().id(), BlockReason::RwLock);
    *w = 7;
    drop(w);
    assert_eq!(reader.join().unwrap(), 7);
}

#[test]
fn a_timed_reader_behind_a_writer_gives_up_with_would_block() {
    let l = Arc::new(RwLock::new(()));
    let w = l.write().unwrap();
    let l2 = l.clone();
    let reader = weave::thread::spawn(move || {
        matches!(
            l2.try_read_until(Instant::now() + Duration::from_millis(100)),
            Err(TryLockError::WouldBlock)
        )
    });
    assert!(reader.join().unwrap());
    drop(w);
    drop(l.try_write().expect("no read count was left behind"));
}

#[test]
fn a_preferring_timed_reader_passes_a_waiting_writer() {
    let l = Arc::new(RwLock::new(()));
    let held = l.read().unwrap();
    let l2 = l.clone();
    let writer = weave::thread::spawn(move || drop(l2.write().unwrap()));
    wait_blocked(writer.thread().id(), BlockReason::RwLock);
    let deadline = Instant::now() + Duration::from_secs(60);
    let again = l
        .try_read_preferring_until(deadline)
        .expect("a preferring reader gets in while readers hold the lock");
    drop(again);
    drop(held);
    writer.join().unwrap();
}

#[test]
fn a_past_deadline_still_takes_a_free_lock() {
    let l = RwLock::new(1u32);
    let past = Instant::now();
    assert_eq!(*l.try_read_until(past).unwrap(), 1);
    *l.try_write_until(past).unwrap() += 1;
    assert_eq!(*l.try_write_for(Duration::ZERO).unwrap(), 2);
}

#[test]
fn a_timed_acquire_of_a_poisoned_lock_reports_the_poison() {
    let l = Arc::new(RwLock::new(0u32));
    let l2 = l.clone();
    let _ = weave::thread::spawn(move || {
        let _g = l2.write().unwrap();
        panic!("poison the lock");
    })
    .join();
    assert!(matches!(
        l.try_write_for(Duration::from_secs(1)),
        Err(TryLockError::Poisoned(_))
    ));
    assert!(matches!(
        l.try_read_for(Duration::from_secs(1)),
        Err(TryLockError::Poisoned(_))
    ));
}

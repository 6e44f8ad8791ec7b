//! `RwLockWriteGuard::downgrade` turns the write lock into a read lock
//! with no writer able to get in between, and `RwLockReadGuard` is
//! covariant in `T` as std's.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use weave::thread::{BlockReason, ThreadState};

/// Compiles only if the guard is covariant in `T`.
fn _shorten<'a, 'g>(g: RwLockReadGuard<'g, &'static str>) -> RwLockReadGuard<'g, &'a str> {
    g
}

#[test]
fn a_downgraded_guard_reads_what_it_wrote_though_a_writer_waits() {
    let lock = Arc::new(RwLock::new(0));
    let mut w = lock.write().unwrap();
    *w = 1;
    let l = lock.clone();
    let writer = weave::thread::spawn(move || *l.write().unwrap() = 2);
    let id = writer.thread().id();
    while !weave::thread::threads()
        .iter()
        .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::RwLock))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = RwLockWriteGuard::downgrade(w);
    // Give the waiting writer every chance to slip in, were it able to.
    for _ in 0..10 {
        weave::thread::yield_now();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(*r, 1, "a writer got in between the write and the read");
    drop(r);
    writer.join().unwrap();
    assert_eq!(*lock.read().unwrap(), 2);
}

#[test]
fn a_downgraded_lock_is_shared_with_other_readers() {
    let lock = RwLock::new(5);
    let r = RwLockWriteGuard::downgrade(lock.write().unwrap());
    let other = lock.try_read().expect("a second reader was refused");
    assert_eq!((*r, *other), (5, 5));
    assert!(lock.try_write().is_err());
}

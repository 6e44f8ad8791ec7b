//! `weave::sync::RawLock`: the lock of `Mutex` without a guard, locked and
//! unlocked by separate calls, and `Condvar::wait_raw` with it.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::sync::{Condvar, RawLock};

#[test]
fn raw_lock_excludes_across_ults() {
    struct Shared {
        lock: RawLock,
        // Read and written only under `lock`: a lost update shows a
        // failure of exclusion (Relaxed is enough; the lock orders it).
        count: AtomicU64,
    }
    let s = Arc::new(Shared {
        lock: RawLock::new(),
        count: AtomicU64::new(0),
    });
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            weave::thread::spawn(move || {
                for _ in 0..2000 {
                    s.lock.lock();
                    let v = s.count.load(Relaxed);
                    weave::thread::yield_now();
                    s.count.store(v + 1, Relaxed);
                    assert!(s.lock.unlock());
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(s.count.load(Relaxed), 16_000);
    assert!(!s.lock.is_locked());
}

#[test]
fn unlock_by_a_thread_that_does_not_hold_it_is_refused_and_changes_nothing() {
    let lock = Arc::new(RawLock::new());
    assert!(!lock.unlock(), "an unlocked lock is held by nobody");
    lock.lock();
    let other = lock.clone();
    let refused = weave::thread::spawn(move || (other.unlock(), other.is_held_by_current()))
        .join()
        .unwrap();
    assert_eq!(refused, (false, false));
    assert!(lock.is_locked());
    assert!(lock.is_held_by_current());
    assert!(lock.unlock());
    assert!(!lock.is_locked());
}

#[test]
fn try_lock_fails_while_held_and_lock_until_times_out() {
    let lock = Arc::new(RawLock::new());
    lock.lock();
    let other = lock.clone();
    let (tried, timed) = weave::thread::spawn(move || {
        let tried = other.try_lock();
        let timed = other.lock_until(Instant::now() + Duration::from_millis(20));
        (tried, timed)
    })
    .join()
    .unwrap();
    assert!(!tried);
    assert!(!timed);
    assert!(lock.unlock());
}

#[test]
fn condvar_wait_raw_releases_the_lock_and_holds_it_again_on_return() {
    let pair = Arc::new((RawLock::new(), Condvar::new(), AtomicU64::new(0)));
    let p2 = pair.clone();
    let waiter = weave::thread::spawn(move || {
        let (lock, cv, flag) = &*p2;
        lock.lock();
        while flag.load(Relaxed) == 0 {
            let r = cv.wait_raw(lock, None);
            assert!(!r.timed_out());
            assert!(lock.is_held_by_current());
        }
        assert!(lock.unlock());
    });
    let (lock, cv, flag) = &*pair;
    // The waiter can only be notified once it has released the lock.
    lock.lock();
    flag.store(1, Relaxed);
    cv.notify_all();
    assert!(lock.unlock());
    waiter.join().unwrap();
}

#[test]
fn condvar_wait_raw_with_a_past_deadline_times_out_holding_the_lock() {
    let lock = RawLock::new();
    let cv = Condvar::new();
    lock.lock();
    let r = cv.wait_raw(&lock, Some(Instant::now()));
    assert!(r.timed_out());
    assert!(lock.is_held_by_current());
    assert!(lock.unlock());
}

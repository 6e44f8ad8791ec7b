//! Poisoning, try_lock and the std-shaped accessors of weave's Mutex.

use std::sync::{Arc, TryLockError};
use std::time::Duration;
use weave::sync::Mutex;

#[test]
fn a_panic_while_holding_the_lock_poisons_it() {
    let m = Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let r = weave::thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert!(m.is_poisoned());
    let g = m.lock().unwrap_err().into_inner();
    assert_eq!(*g, 1, "the data is still reachable through the error");
    drop(g);
    m.clear_poison();
    assert!(!m.is_poisoned());
    assert_eq!(*m.lock().unwrap(), 1);
}

#[test]
fn a_panic_without_the_lock_does_not_poison() {
    let m = Arc::new(Mutex::new(()));
    let m2 = m.clone();
    let _ = weave::thread::spawn(move || {
        drop(m2.lock().unwrap());
        panic!("after unlock");
    })
    .join();
    assert!(!m.is_poisoned());
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let m = Arc::new(Mutex::new(5));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let held = weave::thread::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock)))
        .join()
        .unwrap();
    assert!(held);
    drop(g);
    let m2 = m.clone();
    let got = weave::thread::spawn(move || *m2.try_lock().unwrap())
        .join()
        .unwrap();
    assert_eq!(got, 5);
}

#[test]
fn a_timed_lock_gives_up_on_a_ult_and_succeeds_once_free() {
    let m = Arc::new(Mutex::new(0));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let timed_out = weave::thread::spawn(move || {
        matches!(
            m2.try_lock_for(Duration::from_millis(5)),
            Err(TryLockError::WouldBlock)
        )
    })
    .join()
    .unwrap();
    assert!(timed_out);
    drop(g);
    assert!(m.try_lock_for(Duration::from_millis(5)).is_ok());
}

#[test]
fn into_inner_and_get_mut_need_no_lock() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().unwrap().push(2);
    assert_eq!(m.into_inner().unwrap(), vec![1, 2]);
    static S: Mutex<u32> = Mutex::new(7);
    assert_eq!(*S.lock().unwrap(), 7);
}

/// Locks `m` in its destructor, which runs while its thread unwinds.
struct LockOnDrop(Arc<Mutex<u32>>);

impl Drop for LockOnDrop {
    fn drop(&mut self) {
        assert!(std::thread::panicking());
        *self.0.lock().unwrap() += 1;
    }
}

/// std's rule: only a panic that started after the guard was taken
/// poisons. A lock taken and released by a destructor during an unwind
/// (the thread panicking at the lock and at the unlock) leaves it clean.
#[test]
fn a_lock_taken_and_released_while_unwinding_does_not_poison() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let r = weave::thread::spawn(move || {
        let _d = LockOnDrop(m2);
        panic!("unwinding through a destructor that locks");
    })
    .join();
    assert!(r.is_err());
    assert!(!m.is_poisoned());
    assert_eq!(*m.lock().unwrap(), 1);
}

/// A panic caught on the same thread poisons as one that ends it, and a
/// poisoned lock answers `Err` everywhere, with the data inside: `lock`,
/// `try_lock`, `get_mut`, `into_inner`; `clear_poison` makes it clean.
#[test]
fn a_caught_panic_poisons_and_every_accessor_says_so() {
    weave::thread::spawn(|| {
        let mut m = Mutex::new(3);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = m.lock().unwrap();
            panic!("while holding");
        }));
        assert!(r.is_err());
        assert!(!std::thread::panicking());
        assert!(m.is_poisoned());
        assert_eq!(*m.lock().unwrap_err().into_inner(), 3);
        match m.try_lock() {
            Err(TryLockError::Poisoned(e)) => assert_eq!(*e.into_inner(), 3),
            _ => panic!("try_lock of a poisoned lock"),
        }
        *m.get_mut().unwrap_err().into_inner() = 4;
        m.clear_poison();
        assert!(m.lock().is_ok());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = m.lock().unwrap();
            panic!("again");
        }));
        assert!(r.is_err());
        assert_eq!(m.into_inner().unwrap_err().into_inner(), 4);
    })
    .join()
    .unwrap();
}

/// A guard taken during an unwind and kept past it (stored by the
/// destructor where the code after the `catch_unwind` finds it) is dropped
/// by a thread that no longer panics: no poison. What it took the lock
/// with must not carry over to the next holder, whose own panic while
/// holding poisons as any does.
#[test]
fn a_guard_taken_while_unwinding_and_dropped_after_leaves_no_trace() {
    use std::cell::RefCell;
    use weave::sync::MutexGuard;

    struct StashOnDrop<'s, 'm> {
        m: &'m Mutex<u32>,
        stash: &'s RefCell<Option<MutexGuard<'m, u32>>>,
    }
    impl Drop for StashOnDrop<'_, '_> {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            *self.stash.borrow_mut() = Some(self.m.lock().unwrap());
        }
    }

    weave::thread::spawn(|| {
        let m = Mutex::new(0);
        let stash = RefCell::new(None);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _s = StashOnDrop {
                m: &m,
                stash: &stash,
            };
            panic!("unwinding through a destructor that keeps a guard");
        }));
        assert!(r.is_err());
        assert!(!std::thread::panicking());
        drop(stash.take().expect("the destructor took the lock"));
        assert!(!m.is_poisoned(), "dropped without a panic");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = m.lock().unwrap();
            panic!("the next holder panics");
        }));
        assert!(r.is_err());
        assert!(m.is_poisoned(), "the next holder's panic did not poison");
    })
    .join()
    .unwrap();
}

/// A guard taken during an unwind waits on a condvar, which lets the lock
/// go (another thread takes and releases it meanwhile) and takes it
/// again: the guard still counts as taken while panicking, so its drop in
/// the same unwind does not poison.
#[test]
fn a_condvar_wait_keeps_what_the_guard_was_taken_with() {
    use weave::sync::Condvar;

    struct WaitOnDrop(Arc<(Mutex<bool>, Condvar)>);
    impl Drop for WaitOnDrop {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            let (m, cv) = &*self.0;
            let mut g = m.lock().unwrap();
            while !*g {
                g = cv.wait_timeout(g, Duration::from_millis(5)).unwrap().0;
            }
        }
    }

    let shared = Arc::new((Mutex::new(false), Condvar::new()));
    let s = shared.clone();
    let waiter = weave::thread::spawn(move || {
        let _w = WaitOnDrop(s);
        panic!("unwinding through a destructor that waits");
    });
    let s = shared.clone();
    weave::thread::spawn(move || {
        weave::thread::sleep(Duration::from_millis(2));
        *s.0.lock().unwrap() = true;
        s.1.notify_all();
    })
    .join()
    .unwrap();
    assert!(waiter.join().is_err());
    assert!(!shared.0.is_poisoned());
}

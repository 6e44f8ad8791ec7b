//! Poisoning and the non-blocking forms of weave's `RwLock`, as std's: a
//! panicking writer poisons, a panicking reader does not; `try_*` fail
//! with `WouldBlock` while the other kind holds the lock.

use std::sync::{Arc, TryLockError};
use weave::sync::RwLock;

#[test]
fn a_panicking_writer_poisons_and_a_panicking_reader_does_not() {
    let l = Arc::new(RwLock::new(1));
    let l2 = l.clone();
    let r = weave::thread::spawn(move || {
        let _g = l2.read().unwrap();
        panic!("reader");
    })
    .join();
    assert!(r.is_err());
    assert!(!l.is_poisoned(), "a reader's panic poisoned the lock");
    let l2 = l.clone();
    let r = weave::thread::spawn(move || {
        let mut g = l2.write().unwrap();
        *g = 2;
        panic!("writer");
    })
    .join();
    assert!(r.is_err());
    assert!(l.is_poisoned());
    assert_eq!(*l.read().unwrap_err().into_inner(), 2);
    assert_eq!(*l.write().unwrap_err().into_inner(), 2);
    l.clear_poison();
    assert_eq!(*l.read().unwrap(), 2);
}

#[test]
fn try_forms_fail_while_the_other_kind_holds_it() {
    let l = RwLock::new(5);
    {
        let _r = l.read().unwrap();
        assert!(matches!(l.try_write(), Err(TryLockError::WouldBlock)));
        assert_eq!(*l.try_read().unwrap(), 5, "readers share");
    }
    {
        let mut w = l.try_write().unwrap();
        *w = 6;
        // From another thread (a guard on this one would deadlock on read).
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(matches!(l.try_read(), Err(TryLockError::WouldBlock)));
                assert!(matches!(l.try_write(), Err(TryLockError::WouldBlock)));
            });
        });
    }
    assert_eq!(*l.read().unwrap(), 6);
}

#[test]
fn get_mut_and_into_inner_need_no_lock() {
    let mut l = RwLock::new(vec![1]);
    l.get_mut().unwrap().push(2);
    assert_eq!(l.into_inner().unwrap(), [1, 2]);
}

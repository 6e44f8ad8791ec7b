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

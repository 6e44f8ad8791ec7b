//! The non-blocking and timed forms of `Semaphore::acquire`, on a ULT and
//! an OS thread, and the thread table naming a semaphore wait.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::Semaphore;
use weave::thread::{BlockReason, ThreadState};

fn try_and_time_out(s: &Semaphore) {
    assert!(
        s.try_acquire().is_none(),
        "no permits, yet try_acquire got one"
    );
    assert!(s.acquire_timeout(Duration::from_millis(10)).is_none());
    assert!(s
        .acquire_many_timeout(2, Duration::from_millis(10))
        .is_none());
    s.release(1);
    let p = s.try_acquire().expect("a released permit is free");
    assert!(s.try_acquire().is_none());
    drop(p);
    assert_eq!(s.available_permits(), 1, "dropping a permit gives it back");
    let p = s.acquire_timeout(Duration::from_secs(600)).unwrap();
    p.forget();
    assert_eq!(s.available_permits(), 0, "forget keeps the permit");
}

#[test]
fn a_ult_tries_and_times_out() {
    let s = Arc::new(Semaphore::new(0));
    let s2 = s.clone();
    weave::thread::spawn(move || try_and_time_out(&s2))
        .join()
        .unwrap();
}

#[test]
fn an_os_thread_tries_and_times_out() {
    try_and_time_out(&Semaphore::new(0));
}

#[test]
fn a_blocked_ult_shows_a_semaphore_wait_and_a_release_frees_it() {
    let s = Arc::new(Semaphore::new(0));
    let s2 = s.clone();
    let h = weave::thread::spawn(move || s2.acquire().forget());
    let id = h.thread().id();
    while !weave::thread::threads()
        .iter()
        .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Semaphore))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    s.release(1);
    h.join().unwrap();
    assert_eq!(s.available_permits(), 0);
}

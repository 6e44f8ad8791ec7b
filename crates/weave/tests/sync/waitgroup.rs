//! `WaitGroup`: `wait` returns only once every `add` is matched by a
//! `done`, from ULTs and OS threads; `wait_timeout` gives up while work is
//! outstanding; an extra `done` panics and leaves the group usable.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use weave::sync::WaitGroup;

#[test]
fn wait_returns_after_every_done_from_ults_and_os_threads() {
    let wg = Arc::new(WaitGroup::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let work = |wg: Arc<WaitGroup>, finished: Arc<AtomicUsize>| {
        move || {
            for _ in 0..10 {
                weave::thread::yield_now();
            }
            finished.fetch_add(1, SeqCst);
            wg.done();
        }
    };
    wg.add(110);
    for _ in 0..100 {
        weave::thread::spawn(work(wg.clone(), finished.clone()));
    }
    for _ in 0..10 {
        std::thread::spawn(work(wg.clone(), finished.clone()));
    }
    // Waiters of both kinds.
    let (wg2, f2) = (wg.clone(), finished.clone());
    let ult_waiter = weave::thread::spawn(move || {
        wg2.wait();
        f2.load(SeqCst)
    });
    wg.wait();
    assert_eq!(
        finished.load(SeqCst),
        110,
        "wait returned before all were done"
    );
    assert_eq!(ult_waiter.join().unwrap(), 110);
    assert_eq!(wg.count(), 0);
}

#[test]
fn wait_timeout_gives_up_while_work_is_outstanding() {
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let wg2 = wg.clone();
    let on_ult = weave::thread::spawn(move || wg2.wait_timeout(Duration::from_millis(10)))
        .join()
        .unwrap();
    assert!(!on_ult);
    assert!(!wg.wait_timeout(Duration::from_millis(10)));
    wg.done();
    assert!(wg.wait_timeout(Duration::from_millis(10)));
}

#[test]
fn a_wait_with_a_count_of_zero_returns_at_once() {
    let wg = WaitGroup::new();
    wg.wait();
    assert!(wg.wait_timeout(Duration::ZERO));
}

#[test]
fn an_extra_done_panics_and_the_group_stays_usable() {
    let wg = WaitGroup::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wg.done()));
    assert!(r.is_err(), "done() on zero did not panic");
    wg.add(2);
    wg.done();
    wg.done();
    wg.wait();
    assert_eq!(wg.count(), 0);
}

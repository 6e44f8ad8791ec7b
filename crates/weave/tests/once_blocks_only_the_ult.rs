//! While one thread runs a `Once` / `OnceLock` initialiser, the others
//! that arrive block their ULTs (shown as `BlockReason::Once`) and their
//! LWP runs other threads; the initialiser runs exactly once.

mod wait_common;
use wait_common::wait_blocked;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use weave::sync::{Once, OnceLock, Semaphore};
use weave::thread::BlockReason;

/// On one LWP: the initialiser waits for a go-ahead that only a third ULT,
/// placed on the same LWP, can give, after a second caller has blocked on
/// the `Once`. If that caller blocked the LWP, the go-ahead would never run.
#[test]
fn a_caller_waiting_for_the_initialiser_leaves_the_lwp_to_others() {
    weave::set_concurrency(1).unwrap();
    let runs = weave::thread::spawn(|| {
        let once = Arc::new(Once::new());
        let go = Arc::new(Semaphore::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let caller = |once: Arc<Once>, go: Arc<Semaphore>, runs: Arc<AtomicUsize>| {
            move || {
                once.call_once(|| {
                    go.acquire().forget();
                    runs.fetch_add(1, SeqCst);
                });
                assert!(once.is_completed());
            }
        };
        let first = weave::thread::spawn(caller(once.clone(), go.clone(), runs.clone()));
        let second = weave::thread::spawn(caller(once.clone(), go.clone(), runs.clone()));
        wait_blocked(second.thread().id(), BlockReason::Once);
        let go2 = go.clone();
        weave::thread::spawn(move || go2.release(1)).join().unwrap();
        first.join().unwrap();
        second.join().unwrap();
        runs.load(SeqCst)
    })
    .join()
    .unwrap();
    assert_eq!(runs, 1);
}

#[test]
fn ults_and_os_threads_racing_get_or_init_see_one_value() {
    let cell = Arc::new(OnceLock::new());
    let inits = Arc::new(AtomicUsize::new(0));
    let racer = |cell: Arc<OnceLock<usize>>, inits: Arc<AtomicUsize>, me: usize| {
        move || {
            *cell.get_or_init(|| {
                inits.fetch_add(1, SeqCst);
                weave::thread::yield_now();
                me
            })
        }
    };
    let ults: Vec<_> = (0..32)
        .map(|i| weave::thread::spawn(racer(cell.clone(), inits.clone(), i)))
        .collect();
    let oss: Vec<_> = (100..104)
        .map(|i| std::thread::spawn(racer(cell.clone(), inits.clone(), i)))
        .collect();
    let mut seen: Vec<usize> = ults.into_iter().map(|h| h.join().unwrap()).collect();
    seen.extend(oss.into_iter().map(|h| h.join().unwrap()));
    assert_eq!(inits.load(SeqCst), 1, "the initialiser ran more than once");
    let v = *cell.get().unwrap();
    assert!(
        seen.iter().all(|&s| s == v),
        "callers saw different values: {seen:?}"
    );
}

//! Waiters of equal priority get permits in the order they arrived, and a
//! thread that arrives while others wait queues behind them even if
//! permits are free for it (no barging past a waiter).

use crate::wait_common::wait_blocked;

use std::sync::{Arc, Mutex};
use weave::sync::Semaphore;
use weave::thread::BlockReason;

#[test]
fn equal_priority_waiters_get_permits_in_arrival_order() {
    let sem = Arc::new(Semaphore::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let hs: Vec<_> = (0..6)
        .map(|i| {
            let (sem, order) = (sem.clone(), order.clone());
            let h = weave::thread::spawn(move || {
                let _p = sem.acquire();
                order.lock().unwrap().push(i);
            });
            wait_blocked(h.thread().id(), BlockReason::Semaphore);
            h
        })
        .collect();
    // One permit, passed on by each waiter's drop to the next.
    sem.release(1);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_waiter_for_many_permits_is_not_overtaken_by_a_later_small_request() {
    let sem = Arc::new(Semaphore::new(1));
    let s = sem.clone();
    let big = weave::thread::spawn(move || {
        let p = s.acquire_many(3);
        p.num_permits()
    });
    wait_blocked(big.thread().id(), BlockReason::Semaphore);
    assert!(
        sem.try_acquire().is_none(),
        "a try_acquire took a free permit past a waiter"
    );
    sem.release(2);
    assert_eq!(big.join().unwrap(), 3);
    assert_eq!(sem.available_permits(), 3);
}

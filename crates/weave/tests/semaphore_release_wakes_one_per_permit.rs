//! A release of one permit with ten threads waiting wakes exactly one of
//! them (the one it serves), not all ten to re-check. Alone in its file:
//! it counts the runtime's wake-ups, which other tests would add to.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use weave::sync::Semaphore;
use weave::thread::{BlockReason, ThreadState};

fn blocked_on_semaphore() -> usize {
    weave::thread::threads()
        .iter()
        .filter(|t| t.state == ThreadState::Blocked(BlockReason::Semaphore))
        .count()
}

#[test]
fn release_of_one_permit_with_ten_waiters_wakes_exactly_one() {
    let sem = Arc::new(Semaphore::new(0));
    // Where a served waiter parks afterwards, so that it wakes nobody.
    let hold = Arc::new(Semaphore::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let (sem, hold, served) = (sem.clone(), hold.clone(), served.clone());
            weave::thread::spawn(move || {
                sem.acquire().forget();
                served.fetch_add(1, SeqCst);
                hold.acquire().forget();
            })
        })
        .collect();
    while blocked_on_semaphore() < 10 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let before = weave::trace::counters().wakes;
    sem.release(1);
    // The served waiter goes on to block on `hold`: back to 10 blocked.
    while served.load(SeqCst) < 1 || blocked_on_semaphore() < 10 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let woken = weave::trace::counters().wakes - before;
    assert_eq!(served.load(SeqCst), 1);
    assert_eq!(woken, 1, "release(1) woke {woken} threads");
    sem.release(9);
    hold.release(10);
    for h in hs {
        h.join().unwrap();
    }
}

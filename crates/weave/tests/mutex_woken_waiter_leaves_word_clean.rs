//! A waiter woken to retry leaves the lock word clean until it runs: the
//! holder's next locks and unlocks take the fast path (one CAS each), and
//! the woken waiter still wakes the one it left queued. The word used to
//! keep a "woken waiter on its way" bit (and the queued bit) for as long as
//! the woken waiter waited for its LWP, and every lock and unlock meanwhile
//! took the slow path: the slow rounds of `weave bench c_mutex`.
//!
//! One test in its own process, on one LWP: the counters it reads are this
//! process's, and the woken waiter cannot run while the holder loops.

use std::sync::Arc;

use weave::sync::RawLock;
use weave::thread::BlockReason;

mod wait_common;
use wait_common::{join_or_fail, wait_blocked};

#[test]
fn the_holder_keeps_the_fast_path_while_a_woken_waiter_waits_for_its_lwp() {
    weave::set_concurrency(1).unwrap();
    let lock = Arc::new(RawLock::new());
    let l = lock.clone();
    let holder = weave::thread::spawn(move || {
        l.lock();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let l = l.clone();
                weave::thread::spawn(move || {
                    l.lock();
                    assert!(l.unlock());
                })
            })
            .collect();
        for w in &waiters {
            wait_blocked(w.thread().id(), BlockReason::Mutex);
        }
        // Wakes one waiter to retry and leaves the other queued. Neither
        // can run until this thread blocks or ends: one LWP.
        assert!(l.unlock());
        // The calling thread's own counts are exact (trace::counters).
        let before = weave::trace::counters().lock_contended;
        for _ in 0..1000 {
            l.lock();
            assert!(l.unlock());
        }
        let slow = weave::trace::counters().lock_contended - before;
        // Both waiters finish (the woken one speaks for the other); a lost
        // wake-up shows as the holder's join below failing.
        for w in waiters {
            w.join().unwrap();
        }
        slow
    });
    let slow = join_or_fail(holder, "the holder");
    // 0 unless the monitor preempted the holder mid-loop and the woken
    // waiter queued again; 1,000 when the word kept its waiters' bits.
    assert!(
        slow < 100,
        "{slow} of 1,000 locks took the slow path while a woken waiter waited for its LWP"
    );
    assert!(!lock.is_locked());
    weave::set_concurrency(0).unwrap();
}

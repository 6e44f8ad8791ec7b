//! Who gets a contended weave Mutex: a higher-priority waiter first, and a
//! waiter that has waited too long gets the lock handed to it.

use std::sync::{Arc, TryLockError};
use std::time::Duration;
use weave::sync::Mutex;
use weave::thread::{BlockReason, ThreadId, ThreadState};

/// Polls the thread table until `id` is blocked on a mutex.
fn wait_blocked_on_mutex(id: ThreadId) {
    loop {
        let blocked = weave::thread::threads()
            .iter()
            .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Mutex));
        if blocked {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_higher_priority_waiter_is_woken_first() {
    let m = Arc::new(Mutex::new(Vec::new()));
    let g = m.lock().unwrap();
    let spawn = |prio: u8, tag: &'static str| {
        let m = m.clone();
        weave::thread::Builder::new()
            .priority(prio)
            .spawn(move || m.lock().unwrap().push(tag))
            .unwrap()
    };
    let low = spawn(4, "low");
    wait_blocked_on_mutex(low.thread().id());
    let high = spawn(28, "high");
    wait_blocked_on_mutex(high.thread().id());
    drop(g);
    low.join().unwrap();
    high.join().unwrap();
    assert_eq!(*m.lock().unwrap(), ["high", "low"]);
}

#[test]
fn a_starving_waiter_gets_the_lock_handed_to_it() {
    let m = Arc::new(Mutex::new(0));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let waiter = weave::thread::spawn(move || {
        *m2.lock().unwrap() += 1;
    });
    wait_blocked_on_mutex(waiter.thread().id());
    // Well past the 1 ms starvation threshold.
    std::thread::sleep(Duration::from_millis(20));
    drop(g);
    // Handed over, not merely released: nobody can barge in before the
    // waiter has run.
    match m.try_lock() {
        Err(TryLockError::WouldBlock) => {}
        Ok(g) => assert_eq!(*g, 1, "barged in ahead of a starving waiter"),
        Err(TryLockError::Poisoned(_)) => unreachable!(),
    }
    waiter.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 1);
}

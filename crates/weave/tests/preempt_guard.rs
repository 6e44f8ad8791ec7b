//! disable_preemption: a pending preemption waits until the guard drops,
//! like a masked interrupt.

use std::sync::{Arc, Mutex};
use weave::thread;

#[test]
fn a_pending_preemption_waits_for_the_guard_to_drop() {
    weave::set_concurrency(1).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    thread::spawn(move || {
        let guard = thread::disable_preemption();
        let l2 = l.clone();
        // A higher-priority thread becomes runnable: spawn is a safe point,
        // but preemption is off, so it waits.
        let high = thread::Builder::new()
            .priority(30)
            .spawn(move || l2.lock().unwrap().push("high"))
            .unwrap();
        for _ in 0..100 {
            thread::preempt_point();
        }
        l.lock().unwrap().push("critical section done");
        drop(guard); // the pending switch happens here
        l.lock().unwrap().push("after guard");
        high.join().unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        vec!["critical section done", "high", "after guard"]
    );
}

#[test]
fn the_guard_belongs_to_its_ult_and_is_harmless_on_os_threads() {
    weave::set_concurrency(1).unwrap();
    // Held across a voluntary yield, the guard does not leak to the next ULT.
    thread::spawn(|| {
        let _g = thread::disable_preemption();
        let other = thread::spawn(|| {
            let log = Arc::new(Mutex::new(Vec::new()));
            let l = log.clone();
            let high = thread::Builder::new()
                .priority(30)
                .spawn(move || l.lock().unwrap().push("high"))
                .unwrap();
            // This ULT holds no guard: the high one ran at the spawn.
            let ran_first = log.lock().unwrap().len() == 1;
            high.join().unwrap();
            ran_first
        });
        thread::yield_now();
        assert!(other.join().unwrap());
    })
    .join()
    .unwrap();
    drop(thread::disable_preemption());
}

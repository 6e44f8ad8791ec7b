//! `notify_one` wakes the highest-priority waiter first, and the longest
//! waiting among equals.

use crate::wait_common::wait_blocked;

use std::sync::Arc;
use std::time::Duration;
use weave::sync::{Condvar, Mutex};
use weave::thread::BlockReason;

#[derive(Default)]
struct State {
    /// Tokens handed out by the test, one per notify.
    tokens: u32,
    order: Vec<&'static str>,
}

#[test]
fn notify_one_picks_by_priority_then_arrival() {
    let s = Arc::new((Mutex::new(State::default()), Condvar::new()));
    let spawn = |prio: u8, tag: &'static str| {
        let s = s.clone();
        let h = weave::thread::Builder::new()
            .priority(prio)
            .spawn(move || {
                let (m, cv) = &*s;
                let mut g = cv
                    .wait_while(m.lock().unwrap(), |st| st.tokens == 0)
                    .unwrap();
                g.tokens -= 1;
                g.order.push(tag);
            })
            .unwrap();
        wait_blocked(h.thread().id(), BlockReason::Condvar);
        h
    };
    let hs = [
        spawn(8, "low"),
        spawn(20, "high-first"),
        spawn(20, "high-second"),
    ];
    for expected_len in 1..=3 {
        s.0.lock().unwrap().tokens += 1;
        s.1.notify_one();
        while s.0.lock().unwrap().order.len() < expected_len {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(
        s.0.lock().unwrap().order,
        ["high-first", "high-second", "low"]
    );
}

//! Spurious wake-ups (a `notify_all` with the condition still false, a
//! stray `unpark` of a waiting OS thread) never make `wait_while` return
//! with the condition unmet: it re-checks every time.

use std::sync::Arc;
use weave::sync::{Condvar, Mutex};

#[derive(Default)]
struct State {
    ready: bool,
    /// How many times the waiter's predicate ran.
    checks: u32,
}

const FALSE_ALARMS: u32 = 50;

/// Runs the waiter, raises `FALSE_ALARMS` false alarms, each only once the
/// waiter has re-checked after the previous one, then the real one.
fn check(
    spawn_waiter: impl FnOnce(Box<dyn FnOnce() -> (bool, u32) + Send>) -> (bool, u32),
    unpark: bool,
) {
    let s = Arc::new((Mutex::new(State::default()), Condvar::new()));
    let s2 = s.clone();
    let (os_tx, os_rx) = std::sync::mpsc::channel::<std::thread::Thread>();
    let waiter = Box::new(move || {
        let _ = os_tx.send(std::thread::current());
        let (m, cv) = &*s2;
        let g = cv
            .wait_while(m.lock().unwrap(), |st| {
                st.checks += 1;
                !st.ready
            })
            .unwrap();
        (g.ready, g.checks)
    });
    let notifier = std::thread::spawn(move || {
        let os = os_rx.recv().unwrap();
        let (m, cv) = &*s;
        for i in 1..=FALSE_ALARMS {
            // Wait (politely, with the weave condvar's own mutex) until the
            // waiter has checked `i` times, i.e. is queued again.
            loop {
                let g = m.lock().unwrap();
                if g.checks >= i {
                    break;
                }
                drop(g);
                std::thread::yield_now();
            }
            if unpark {
                os.unpark();
            }
            cv.notify_all();
        }
        m.lock().unwrap().ready = true;
        cv.notify_all();
    });
    let (ready, checks) = spawn_waiter(waiter);
    notifier.join().unwrap();
    assert!(ready, "wait_while returned with the condition unmet");
    assert!(
        checks > FALSE_ALARMS,
        "the waiter re-checked {checks} times for {FALSE_ALARMS} false alarms"
    );
}

#[test]
fn false_notifies_do_not_release_a_ult_waiter() {
    check(|w| weave::thread::spawn(w).join().unwrap(), false);
}

#[test]
fn false_notifies_and_stray_unparks_do_not_release_an_os_waiter() {
    check(|w| std::thread::spawn(w).join().unwrap(), true);
}

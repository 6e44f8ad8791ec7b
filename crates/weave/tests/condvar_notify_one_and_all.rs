//! `notify_one` wakes exactly one waiter, `notify_all` every one, whether
//! the waiters are ULTs, OS threads or both; a ULT waiting on a condvar
//! shows `BlockReason::Condvar` and leaves its LWP to others.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::{Condvar, Mutex};
use weave::thread::{BlockReason, ThreadId, ThreadState};

#[derive(Default)]
struct State {
    /// Waiters that have entered `wait`.
    waiting: usize,
    /// Waiters that have come back out.
    woke: usize,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// One `wait` call, no predicate: a ULT is never woken spuriously, so it
/// returns only for a notify.
fn waiter(s: Shared) -> impl FnOnce() + Send + 'static {
    move || {
        let (m, cv) = &*s;
        let mut g = m.lock().unwrap();
        g.waiting += 1;
        let mut g = cv.wait(g).unwrap();
        g.woke += 1;
    }
}

/// Until `n` waiters are queued: they bumped `waiting` under the mutex,
/// and a waiter releases the mutex only once queued.
fn until_waiting(s: &Shared, n: usize) {
    while s.0.lock().unwrap().waiting < n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn until_woke(s: &Shared, n: usize) {
    while s.0.lock().unwrap().woke < n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn blocked_on_condvar(id: ThreadId) -> bool {
    weave::thread::threads()
        .iter()
        .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Condvar))
}

#[test]
fn notify_one_wakes_exactly_one_ult() {
    let s: Shared = Arc::default();
    let hs: Vec<_> = (0..4)
        .map(|_| weave::thread::spawn(waiter(s.clone())))
        .collect();
    until_waiting(&s, 4);
    for h in &hs {
        assert!(
            blocked_on_condvar(h.thread().id()),
            "the TCB names the condvar"
        );
    }
    s.1.notify_one();
    until_woke(&s, 1);
    let still: Vec<_> = hs
        .iter()
        .filter(|h| blocked_on_condvar(h.thread().id()))
        .collect();
    assert_eq!(still.len(), 3, "notify_one woke more than one waiter");
    s.1.notify_all();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(s.0.lock().unwrap().woke, 4);
}

#[test]
fn notify_all_wakes_ults_and_os_threads_alike() {
    let s: Shared = Arc::default();
    let ults: Vec<_> = (0..8)
        .map(|_| weave::thread::spawn(waiter(s.clone())))
        .collect();
    let oss: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(waiter(s.clone())))
        .collect();
    until_waiting(&s, 12);
    s.1.notify_all();
    for h in ults {
        h.join().unwrap();
    }
    for h in oss {
        h.join().unwrap();
    }
    assert_eq!(s.0.lock().unwrap().woke, 12);
}

#[test]
fn a_notify_with_nobody_waiting_is_not_remembered() {
    let s: Shared = Arc::default();
    s.1.notify_one();
    s.1.notify_all();
    let (m, cv) = &*s;
    let g = m.lock().unwrap();
    let (_g, r) = cv.wait_timeout(g, Duration::from_millis(20)).unwrap();
    assert!(r.timed_out(), "an earlier notify woke a later waiter");
}

#[test]
fn a_condvar_waiter_leaves_its_lwp_to_the_notifier() {
    weave::set_concurrency(1).unwrap();
    let s = Arc::new((Mutex::new(false), Condvar::new()));
    let s2 = s.clone();
    let got = weave::thread::spawn(move || {
        let (m, cv) = &*s2;
        let s3 = s2.clone();
        // Spawned on this (only) LWP: it runs only if our wait frees it.
        let notifier = weave::thread::spawn(move || {
            *s3.0.lock().unwrap() = true;
            s3.1.notify_one();
        });
        let g = cv.wait_while(m.lock().unwrap(), |r| !*r).unwrap();
        notifier.join().unwrap();
        *g
    })
    .join()
    .unwrap();
    assert!(got);
    drop(s);
}

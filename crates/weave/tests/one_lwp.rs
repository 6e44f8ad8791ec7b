//! Scheduling order on a single LWP: yield alternation and priorities.
//! The pool is set to one LWP, and the tests of this file run one at a time.

use std::sync::{Arc, Mutex};
use weave::thread;

static SERIAL: Mutex<()> = Mutex::new(());

fn one_lwp() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    g
}

#[test]
fn two_ults_on_one_lwp_alternate_on_yield() {
    let _g = one_lwp();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    thread::spawn(move || {
        let lwp = thread::current_lwp();
        let mk = |tag: char| {
            let l = l.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    l.lock().unwrap().push((tag, thread::current_lwp()));
                    thread::yield_now();
                }
            })
        };
        let (a, b) = (mk('A'), mk('B'));
        a.join().unwrap();
        b.join().unwrap();
        lwp
    })
    .join()
    .unwrap();
    let log = log.lock().unwrap();
    let tags: String = log.iter().map(|e| e.0).collect();
    assert_eq!(tags, "AB".repeat(50), "the two ULTs did not alternate");
    assert!(
        log.windows(2).all(|w| w[0].1 == w[1].1),
        "they shared one LWP"
    );
}

#[test]
fn higher_priority_runs_first() {
    let _g = one_lwp();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    thread::spawn(move || {
        let mut hs = Vec::new();
        for (i, prio) in [2u8, 30, 5, 25, 10, 31].into_iter().enumerate() {
            let l = l.clone();
            hs.push(
                thread::Builder::new()
                    .priority(prio)
                    .spawn(move || l.lock().unwrap().push((prio, i)))
                    .unwrap(),
            );
        }
        for h in hs {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    let prios: Vec<u8> = log.lock().unwrap().iter().map(|e| e.0).collect();
    // Each child above the spawner's priority (16) runs as soon as it is
    // spawned (spawn is a safe point); the rest run by priority once the
    // spawner blocks in join.
    assert_eq!(prios, vec![30, 25, 31, 10, 5, 2]);
}

#[test]
fn a_raised_priority_preempts_at_the_next_safe_point() {
    let _g = one_lwp();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    thread::spawn(move || {
        let l2 = l.clone();
        let low = thread::Builder::new()
            .priority(3)
            .spawn(move || l2.lock().unwrap().push("low"))
            .unwrap();
        // The low thread is queued; we hog the LWP with safe points.
        for _ in 0..1000 {
            thread::preempt_point();
        }
        l.lock().unwrap().push("spawner-before");
        // Drop below it: the next safe point hands the LWP over.
        thread::current().set_priority(1).unwrap();
        l.lock().unwrap().push("spawner-after");
        low.join().unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        vec!["spawner-before", "low", "spawner-after"]
    );
}

//! Scheduling order on a single LWP: yield alternation and priorities.
//! The pool is set to one LWP, and the tests of this binary run one at a time.

use std::sync::{Arc, Mutex};
use weave::thread;

use crate::one_lwp;

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

/// After a yield new work goes first (`sched/pick.rs`), also when the
/// yield could switch straight to a started ULT: a ULT spawned just before
/// the yield runs before the started one waiting in the ready queue.
#[test]
fn a_ult_spawned_before_a_yield_runs_before_the_started_ones() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let _g = one_lwp();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    thread::spawn(move || {
        let (armed, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (l2, a2, s2) = (l.clone(), armed.clone(), stop.clone());
        let started = thread::spawn(move || {
            l2.lock().unwrap().push("started");
            while !s2.load(Relaxed) {
                if a2.load(Relaxed) {
                    l2.lock().unwrap().push("started");
                }
                thread::yield_now();
            }
        });
        // Until it has run once: then it waits in the ready queue.
        while l.lock().unwrap().is_empty() {
            thread::yield_now();
        }
        armed.store(true, Relaxed);
        let l3 = l.clone();
        let new = thread::spawn(move || l3.lock().unwrap().push("new"));
        l.lock().unwrap().push("yield");
        thread::yield_now();
        stop.store(true, Relaxed);
        new.join().unwrap();
        started.join().unwrap();
    })
    .join()
    .unwrap();
    let log = log.lock().unwrap();
    let at = log.iter().position(|&e| e == "yield").unwrap();
    assert_eq!(
        log.get(at + 1),
        Some(&"new"),
        "after the yield a started ULT ran before the new one: {log:?}"
    );
}

/// A busy LWP adds its runs to the LWP table as it goes, not only when it
/// idles: after some thousands of switches with always something to run,
/// its row shows them (within the 1,024 it may hold back).
#[test]
fn a_busy_lwp_shows_its_runs_without_idling() {
    let _g = one_lwp();
    let runs = || {
        let me = thread::current_lwp().unwrap();
        weave::lwps()
            .into_iter()
            .find(|l| l.index == me)
            .unwrap()
            .runs
    };
    let grew = thread::spawn(move || {
        let other = thread::spawn(|| {
            for _ in 0..3_000 {
                thread::yield_now();
            }
        });
        let before = runs();
        for _ in 0..3_000 {
            thread::yield_now();
        }
        let after = runs();
        other.join().unwrap();
        after - before
    })
    .join()
    .unwrap();
    // 6,000 switches or so; up to 1,024 of them not added yet on each look.
    assert!(grew >= 4_096, "the table showed {grew} more runs");
}

/// The switch saves only `rbx` and `rbp` itself and leaves the rest to
/// the compiler (`context/x86_64.rs`): values a ULT keeps live across its
/// yields, as many as there are registers to hold them, come back intact
/// while another ULT of the same code runs with its own values in the same
/// registers between them.
#[test]
fn values_live_across_yields_survive_the_other_ults_run() {
    let _g = one_lwp();
    thread::spawn(|| {
        let mk = |seed: u64| {
            thread::spawn(move || {
                let mut v: [u64; 14] =
                    std::array::from_fn(|i| std::hint::black_box(seed * 1000 + i as u64));
                for round in 0..200u64 {
                    let [a, b, c, d, e, f, g, h, i, j, k, l, m, n] = v;
                    thread::yield_now();
                    v = [
                        a + 1,
                        b + 1,
                        c + 1,
                        d + 1,
                        e + 1,
                        f + 1,
                        g + 1,
                        h + 1,
                        i + 1,
                        j + 1,
                        k + 1,
                        l + 1,
                        m + 1,
                        n + 1,
                    ];
                    for (x, &y) in v.iter().enumerate() {
                        assert_eq!(
                            y,
                            seed * 1000 + x as u64 + round + 1,
                            "ULT {seed}, value {x}"
                        );
                    }
                }
            })
        };
        let (a, b) = (mk(1), mk(2));
        a.join().unwrap();
        b.join().unwrap();
    })
    .join()
    .unwrap();
}

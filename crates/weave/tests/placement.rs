//! Where ULTs run: a started ULT stays on its LWP; a bound ULT has an LWP
//! of its own.

use std::time::Duration;
use weave::thread;

#[test]
fn a_pinned_ult_stays_on_its_lwp() {
    weave::set_concurrency(2).unwrap();
    // Busy neighbours so that both LWPs have work and stealing happens.
    let noise: Vec<_> = (0..20)
        .map(|_| {
            thread::spawn(|| {
                for _ in 0..200 {
                    thread::yield_now();
                }
            })
        })
        .collect();
    let watchers: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(|| {
                let first = thread::current_lwp().expect("a ULT runs on an LWP");
                for i in 0..100 {
                    match i % 3 {
                        0 => thread::yield_now(),
                        1 => thread::sleep(Duration::from_micros(200)),
                        _ => thread::park_timeout(Duration::from_micros(100)),
                    }
                    assert_eq!(thread::current_lwp(), Some(first), "moved off its LWP");
                }
                first
            })
        })
        .collect();
    for w in watchers {
        w.join().unwrap();
    }
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn a_bound_ult_has_an_lwp_of_its_own() {
    let h = thread::Builder::new()
        .name("bound-one".into())
        .bound()
        .spawn(|| {
            let me = thread::current_lwp().unwrap();
            thread::sleep(Duration::from_millis(5));
            let again = thread::current_lwp().unwrap();
            let table = weave::lwps();
            let row = table.iter().find(|l| l.index == me).unwrap().clone();
            let tids_elsewhere: Vec<i32> = table
                .iter()
                .filter(|l| l.alive && l.index != me)
                .map(|l| l.tid)
                .collect();
            (me, again, row, tids_elsewhere)
        })
        .unwrap();
    let (me, again, row, others) = h.join().unwrap();
    assert_eq!(me, again);
    assert!(row.bound, "the LWP is marked bound");
    assert_eq!(row.placed, 1, "only the bound ULT is placed on it");
    assert!(!others.contains(&row.tid), "its kernel thread is its own");
    // Pool LWPs never take it as a home for other ULTs.
    let homes: Vec<_> = (0..50)
        .map(|_| thread::spawn(thread::current_lwp))
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert!(!homes.contains(&me));
}

#[test]
fn a_bound_thread_may_be_pinned_to_a_cpu() {
    let h = thread::Builder::new()
        .cpu_affinity(vec![0])
        .spawn(|| {
            // SAFETY: sched_getcpu has no preconditions.
            unsafe { libc_getcpu() }
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), 0);
    let err = thread::Builder::new()
        .cpu_affinity(vec![100_000])
        .spawn(|| ())
        .unwrap_err();
    assert!(
        err.to_string().contains("CPU 100000 does not exist"),
        "{err}"
    );
}

extern "C" {
    #[link_name = "sched_getcpu"]
    fn libc_getcpu() -> i32;
}

#[test]
fn busy_ults_spread_over_idle_lwps() {
    // Spreading relies on waking the idle LWP within DEFER_NEW_WORK (5 ms);
    // a machine loaded by other processes can miss that once in a while.
    // Three tries: a broken balancer fails every one.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let homes = busy_ults_homes();
        if homes.len() == 2 {
            return;
        }
        seen.push(homes);
    }
    panic!("four yielding ULTs all on one LWP, three times: {seen:?}");
}

fn busy_ults_homes() -> std::collections::HashSet<usize> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    weave::set_concurrency(2).unwrap();
    // Let both LWPs go idle first.
    std::thread::sleep(Duration::from_millis(20));
    let stop = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::yield_now();
                }
                thread::current_lwp().unwrap()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    hs.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn a_migratable_ult_may_move_and_still_finishes_correctly() {
    use std::collections::HashSet;
    weave::set_concurrency(2).unwrap();
    let noise: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(|| {
                for _ in 0..2000 {
                    thread::yield_now();
                }
            })
        })
        .collect();
    // SAFETY: the closure holds no !Send value and no std thread-local
    // reference across its yields, sleeps and parks.
    let b = unsafe { thread::Builder::new().name("wanderer".into()).migratable() };
    let h = b
        .spawn(|| {
            let mut seen = HashSet::new();
            let mut acc = 0u64;
            for i in 0..3000u64 {
                acc += i;
                match i % 50 {
                    0 => thread::sleep(Duration::from_micros(50)),
                    1 => thread::park_timeout(Duration::from_micros(20)),
                    _ => thread::yield_now(),
                }
                seen.insert(thread::current_lwp().unwrap());
            }
            (acc, seen)
        })
        .unwrap();
    let (acc, seen) = h.join().unwrap();
    assert_eq!(acc, 2999 * 3000 / 2);
    assert!(!seen.is_empty() && seen.len() <= 2, "{seen:?}");
    // Its exit did not unbalance any LWP's count of placed ULTs (it wrapped
    // below zero when the wanderer finished away from where it started).
    for l in weave::lwps() {
        assert!(
            l.placed < 1 << 20,
            "LWP {} counts {} placed ULTs",
            l.index,
            l.placed
        );
    }
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn a_migratable_ult_woken_on_a_busy_lwp_runs_on_an_idle_one() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Instant;
    const NONE: usize = usize::MAX;
    weave::set_concurrency(2).unwrap();
    // The waker's LWP, where the migratable ULT parks before its wake; the
    // LWP it runs on after the wake.
    let waker_lwp = Arc::new(AtomicUsize::new(NONE));
    let after = Arc::new(AtomicUsize::new(NONE));
    let parked_there = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let (w, a, p, g) = (
        waker_lwp.clone(),
        after.clone(),
        parked_there.clone(),
        go.clone(),
    );
    // SAFETY: the closure holds no !Send value and no std thread-local
    // reference across its yields and parks.
    let mover = unsafe { thread::Builder::new().name("mover".into()).migratable() }
        .spawn(move || {
            // Park on the waker's LWP, so that a wake that sent it back
            // where it last ran would leave it behind the busy waker.
            while w.load(SeqCst) == NONE || thread::current_lwp() != Some(w.load(SeqCst)) {
                thread::yield_now();
            }
            p.store(true, SeqCst);
            while !g.load(SeqCst) {
                thread::park();
            }
            a.store(thread::current_lwp().unwrap(), SeqCst);
        })
        .unwrap();
    let target = mover.thread().clone();
    let (w, a) = (waker_lwp.clone(), after.clone());
    let waker = thread::spawn(move || {
        let me = thread::current_lwp().unwrap();
        w.store(me, SeqCst);
        while !parked_there.load(SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        // Long enough for the mover to be parked, not just about to.
        thread::sleep(Duration::from_millis(20));
        go.store(true, SeqCst);
        target.unpark();
        // Hold this LWP without a safe point until the mover has run: only
        // the other LWP can run it. (A guard, not a timing: a woken
        // migratable ULT queued for this LWP alone would wait forever.)
        let guard = Instant::now();
        while a.load(SeqCst) == NONE {
            assert!(
                guard.elapsed() < Duration::from_secs(60),
                "the woken ULT waited for its waker's busy LWP"
            );
            std::hint::spin_loop();
        }
        me
    });
    let me = waker.join().unwrap();
    mover.join().unwrap();
    assert_ne!(after.load(SeqCst), me, "it ran on the busy LWP");
}

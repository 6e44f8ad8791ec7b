//! `yield_now` among the ULTs of one LWP, which switches from one ULT
//! straight to the next (the symmetric switch) instead of through the
//! LWP's loop: what each ULT sees across it, panics and thread dumps of
//! ULTs entered that way. The pool is set to one LWP, and the tests of
//! this binary run one at a time.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use weave::thread;

use crate::one_lwp;

weave::thread_local! {
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Yields `rounds` times; after each yield checks that a buffer on its own
/// stack, its thread-local and its identity are still its own.
#[inline(never)]
fn yield_and_check(tag: usize, rounds: usize, log: &Mutex<Vec<usize>>) {
    let me = thread::current().id();
    let buf = std::hint::black_box([tag as u64 * 0x0101_0101; 32]);
    MINE.set(tag);
    for _ in 0..rounds {
        log.lock().unwrap().push(tag);
        thread::yield_now();
        assert_eq!(
            std::hint::black_box(&buf),
            &[tag as u64 * 0x0101_0101; 32],
            "ULT {tag}: its stack changed under it"
        );
        assert_eq!(MINE.get(), tag, "ULT {tag}: its thread-local changed");
        assert_eq!(thread::current().id(), me, "ULT {tag}: it is someone else");
    }
}

#[test]
fn yield_ping_pong_keeps_each_ults_stack_thread_locals_and_turn() {
    let _g = one_lwp();
    const N: usize = 4;
    const ROUNDS: usize = 500;
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    // Spawned from a ULT of the one LWP, then all started before the
    // first of them yields (the spawner holds the LWP until it joins).
    thread::spawn(move || {
        let started = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..N)
            .map(|tag| {
                let (l, started) = (l.clone(), started.clone());
                thread::spawn(move || {
                    started.fetch_add(1, SeqCst);
                    while started.load(SeqCst) < N {
                        thread::yield_now();
                    }
                    yield_and_check(tag, ROUNDS, &l);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    // Each yield handed the LWP to the next in turn: a round-robin order.
    let log = log.lock().unwrap();
    assert_eq!(log.len(), N * ROUNDS);
    for w in log.windows(N + 1) {
        assert_eq!(w[0], w[N], "not a round-robin: {w:?}");
    }
}

#[test]
fn a_panic_in_a_ult_entered_by_a_yield_unwinds_and_is_reported_to_join() {
    let _g = one_lwp();
    let r = thread::spawn(|| {
        let panicker = thread::spawn(|| {
            for _ in 0..10 {
                thread::yield_now();
            }
            std::panic::panic_any(String::from("boom after yields"));
        });
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let other = thread::spawn(move || {
            let mut n = 0u64;
            while !d.load(SeqCst) {
                thread::yield_now();
                n += 1;
            }
            n
        });
        let err = panicker.join().expect_err("the ULT panicked");
        done.store(true, SeqCst);
        let yields = other.join().expect("its neighbour was not disturbed");
        (err.downcast::<String>().map(|s| *s).ok(), yields)
    })
    .join()
    .unwrap();
    assert_eq!(r.0.as_deref(), Some("boom after yields"));
    assert!(r.1 > 0, "the neighbour yielded to it");
}

/// The function whose frame the dump must show.
#[inline(never)]
fn yields_here(count: &AtomicUsize, stop: &AtomicBool) {
    while !stop.load(SeqCst) {
        count.fetch_add(1, SeqCst);
        thread::yield_now();
    }
    std::hint::black_box(());
}

#[test]
fn a_dump_shows_the_stacks_of_ults_switched_out_by_a_yield() {
    let _g = one_lwp();
    let stop = Arc::new(AtomicBool::new(false));
    let stalling = Arc::new(AtomicBool::new(false));
    let dumped = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let yielders: Vec<_> = (0..2)
        .map(|i| {
            let (stop, counts) = (stop.clone(), counts.clone());
            thread::Builder::new()
                .name(format!("yielder-{i}"))
                .spawn(move || yields_here(&counts[i], &stop))
                .unwrap()
        })
        .collect();
    // Once both yielders are at it, this one takes the LWP (a yield
    // switched to it) and keeps it, without a safe point, until the dump
    // is taken: the yielders sit switched out by their yields meanwhile.
    let staller = {
        let (counts, stalling, dumped) = (counts.clone(), stalling.clone(), dumped.clone());
        thread::spawn(move || {
            while counts.iter().any(|c| c.load(SeqCst) < 100) {
                thread::yield_now();
            }
            stalling.store(true, SeqCst);
            while !dumped.load(SeqCst) {
                std::hint::spin_loop();
            }
        })
    };
    let mut watchdog = 0u64;
    while !stalling.load(SeqCst) {
        watchdog += 1;
        assert!(watchdog < 1 << 34, "the staller never ran");
        std::hint::spin_loop();
    }
    let d = weave::dump();
    dumped.store(true, SeqCst);
    stop.store(true, SeqCst);
    staller.join().unwrap();
    for h in yielders {
        h.join().unwrap();
    }
    for i in 0..2 {
        let name = format!("yielder-{i}");
        let t = d
            .threads
            .iter()
            .find(|t| t.name.as_deref() == Some(name.as_str()))
            .expect("the yielder is in the dump");
        assert!(
            t.stack.iter().any(|f| f
                .function
                .as_deref()
                .is_some_and(|n| n.ends_with("yield_switch::yields_here"))),
            "{name}'s stack does not show where it yielded:\n{d}"
        );
    }
}

//! Readers and writers alternate in phases: a writer's unlock lets in
//! every reader queued at that moment before the next writer, so a stream
//! of writers cannot starve readers (as a stream of readers cannot starve
//! a writer: sync/rwlock_writer_preference.rs).

mod wait_common;
use wait_common::wait_blocked;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weave::sync::RwLock;
use weave::thread::BlockReason;

#[test]
fn a_writer_unlock_lets_the_queued_readers_in_before_the_next_writer() {
    let l = Arc::new(RwLock::new(vec!["first"]));
    let mut held = l.write().unwrap();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let l = l.clone();
            let r = weave::thread::spawn(move || l.read().unwrap().clone());
            wait_blocked(r.thread().id(), BlockReason::RwLock);
            r
        })
        .collect();
    let l2 = l.clone();
    let writer = weave::thread::spawn(move || l2.write().unwrap().push("second"));
    wait_blocked(writer.thread().id(), BlockReason::RwLock);
    held.push("by the holder");
    drop(held);
    for r in readers {
        assert_eq!(
            r.join().unwrap(),
            ["first", "by the holder"],
            "a reader queued before the unlock saw the next writer's write"
        );
    }
    writer.join().unwrap();
    assert_eq!(*l.read().unwrap(), ["first", "by the holder", "second"]);
}

#[test]
fn a_stream_of_writers_does_not_starve_a_reader() {
    // One LWP: the writers and the reader take turns in a fixed order, so
    // a writer is always queued when another unlocks. Without phases the
    // reader would wait behind them for ever (writer preference alone);
    // with them it gets in at the first unlock after it queued.
    weave::set_concurrency(1).unwrap();
    let l = Arc::new(RwLock::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    // Two writers that yield while they hold the lock: the other one is
    // queued by the time the holder unlocks.
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (l, stop, rounds) = (l.clone(), stop.clone(), rounds.clone());
            weave::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut g = l.write().unwrap();
                    *g += 1;
                    rounds.fetch_add(1, Ordering::Relaxed);
                    weave::thread::yield_now();
                }
            })
        })
        .collect();
    // A watchdog turns a starved reader (a hang) into a failure.
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        if !d.load(Ordering::SeqCst) {
            eprintln!("a reader starved behind a stream of writers for 60 s");
            std::process::abort();
        }
    });
    let (l2, r2) = (l.clone(), rounds.clone());
    let reader = weave::thread::spawn(move || {
        while r2.load(Ordering::Relaxed) < 100 {
            weave::thread::yield_now();
        }
        (0..20).map(|_| *l2.read().unwrap()).collect::<Vec<u64>>()
    });
    let seen = reader.join().unwrap();
    done.store(true, Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    weave::set_concurrency(0).unwrap();
    assert!(seen.iter().all(|&v| v >= 100), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}

//! Where new ULTs first run when the LWP that spawns them is much heavier
//! than a sibling that is busy too (`sched/place.rs`, rule 5): a server's
//! accept loop spawns connections while every LWP already serves some,
//! and no LWP is idle to steal them.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use weave::thread;

/// New ULTs the spawner makes in one burst.
const BURST: usize = 200;

/// Starts ULTs that yield until `stop` (so that their LWP is never idle,
/// and never steals) until both LWPs of the pool run one. Returns their
/// handles.
fn busy_on_both_lwps(stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<()>> {
    let (tx, rx) = mpsc::channel();
    let mut busy = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no busy ULT ever ran on the second LWP"
        );
        let (stop, tx) = (stop.clone(), tx.clone());
        busy.push(thread::spawn(move || {
            tx.send(thread::current_lwp().unwrap()).unwrap();
            while !stop.load(SeqCst) {
                thread::yield_now();
            }
        }));
        seen.insert(rx.recv_timeout(Duration::from_secs(60)).unwrap());
    }
    busy
}

#[test]
fn a_much_heavier_lwp_hands_new_ults_to_a_busy_sibling() {
    weave::set_concurrency(2).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let busy = busy_on_both_lwps(&stop);

    // A spawner on one of the (busy) LWPs makes a burst of ULTs that stay
    // alive, as a server's connections do, and says where each first ran.
    let done = Arc::new(AtomicBool::new(false));
    let spawner = {
        let done = done.clone();
        thread::spawn(move || {
            let home = thread::current_lwp().unwrap();
            // weave's channel: a ULT waiting on std's would hold its LWP.
            let (tx, rx) = weave::sync::mpsc::channel();
            let probes: Vec<_> = (0..BURST)
                .map(|_| {
                    let (tx, done) = (tx.clone(), done.clone());
                    thread::spawn(move || {
                        tx.send(thread::current_lwp().unwrap()).unwrap();
                        while !done.load(SeqCst) {
                            thread::sleep(Duration::from_millis(1));
                        }
                    })
                })
                .collect();
            let firsts: Vec<usize> = (0..BURST)
                .map(|_| rx.recv_timeout(Duration::from_secs(60)).unwrap())
                .collect();
            (home, firsts, probes)
        })
    };
    let (home, firsts, probes) = spawner.join().unwrap();
    done.store(true, SeqCst);
    stop.store(true, SeqCst);
    for h in probes.into_iter().chain(busy) {
        h.join().unwrap();
    }

    // The sibling never idles, so it steals nothing: without the hand-off
    // every one of the burst started on the spawner's LWP. With it, the
    // spawner's LWP starts them only while it is not much heavier (16
    // ULTs, or an eighth, more than the sibling).
    let elsewhere = firsts.iter().filter(|&&l| l != home).count();
    assert!(
        elsewhere >= BURST / 4,
        "{elsewhere} of {BURST} new ULTs started away from the spawner's LWP {home}: {firsts:?}"
    );
}

//! Where new ULTs first run when the LWP that would start them already
//! has ULTs placed on it (`sched/place.rs`): rule 5, a much heavier LWP
//! hands new ULTs to a sibling that is busy too (a server's accept loop
//! spawns connections while every LWP already serves some, and no LWP is
//! idle to steal them); rule 6, an LWP with two placed hands one to an
//! empty sibling (a waiter and a busy waker that would otherwise share an
//! LWP for good).
//!
//! The tests take turns: each needs the pool to itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use weave::thread;

/// Held by each test for its whole run.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static POOL: Mutex<()> = Mutex::new(());
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

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
    let _turn = one_at_a_time();
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

/// Rounds of rule 6 the test wants to see: without the rule, each is lost
/// unless the sibling happens to steal the waker in the moment between its
/// spawn and its first run.
const SPREAD_ROUNDS: usize = 5;

/// How long a waker spins for its woken waiter to run: far longer than a
/// wake takes on a loaded machine, so only a waiter stuck behind the
/// spinning waker on one LWP reaches it.
const WAITER_BOUND: Duration = Duration::from_secs(10);

#[test]
fn a_waker_started_beside_two_placed_ults_runs_on_an_empty_sibling() {
    let _turn = one_at_a_time();
    weave::set_concurrency(2).unwrap();
    let mut shared = 0;
    for _ in 0..100 {
        if shared == SPREAD_ROUNDS {
            break;
        }
        // Longer than rule 6's window (at most ~2 ms), and time for the
        // last round's ULTs to be counted off their LWPs.
        std::thread::sleep(Duration::from_millis(20));
        let round = thread::spawn(|| {
            let here = thread::current_lwp().unwrap();
            let (tx, rx) = weave::sync::mpsc::sync_channel::<()>(1);
            let (at_tx, at_rx) = weave::sync::mpsc::channel();
            let received = Arc::new(AtomicBool::new(false));
            let waiter = {
                let received = received.clone();
                thread::spawn(move || {
                    at_tx.send(thread::current_lwp().unwrap()).unwrap();
                    // An error: a round that ended early dropped the sender.
                    if rx.recv().is_ok() {
                        received.store(true, SeqCst);
                    }
                })
            };
            // Blocking here lets this LWP start the waiter (or the sibling
            // steal it).
            let waiter_at = at_rx.recv().unwrap();
            if waiter_at != here {
                drop(tx);
                waiter.join().unwrap();
                return None;
            }
            // Two ULTs placed here (this one, the waiter), none on the
            // sibling. The join starts the waker: on the sibling by rule 6
            // (or a steal), else here, where it spins without a safe point
            // while the waiter it woke waits for this LWP.
            let waker_at = Arc::new(AtomicUsize::new(usize::MAX));
            let waker = {
                let (received, waker_at) = (received.clone(), waker_at.clone());
                thread::spawn(move || {
                    waker_at.store(thread::current_lwp().unwrap(), SeqCst);
                    tx.send(()).unwrap();
                    let t0 = Instant::now();
                    while !received.load(SeqCst) && t0.elapsed() < WAITER_BOUND {
                        std::hint::spin_loop();
                    }
                    received.load(SeqCst)
                })
            };
            let ran = waker.join().unwrap();
            waiter.join().unwrap();
            Some((here, waker_at.load(SeqCst), ran))
        })
        .join()
        .unwrap();
        if let Some((here, waker_at, ran)) = round {
            assert!(
                ran,
                "the waiter on LWP {here} did not run while the waker on LWP {waker_at} spun"
            );
            assert_ne!(waker_at, here, "the waiter ran, yet shared its waker's LWP");
            shared += 1;
        }
    }
    assert_eq!(
        shared, SPREAD_ROUNDS,
        "the sibling stole the waiter in too many rounds"
    );
}

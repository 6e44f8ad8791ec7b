//! The LWP's trace gate (`trace::Gate`): while nobody listens, a switch
//! looks at one flag of its LWP instead of the trace's listeners and its
//! thread's open record. A listener installed while ULTs switch must open
//! it, and the events of their next switches reach that listener; a
//! listener removed lets it close, and the next one opens it again.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use weave::thread;
use weave::trace::{self, Event};

use crate::one_lwp;

/// The id (`ThreadId::as_u64`) of the ULT whose Runs the hook counts.
static WATCHED: AtomicU64 = AtomicU64::new(0);
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn count_runs(e: &Event) {
    if let Event::Run { ult, .. } = *e {
        if ult.as_u64().get() == WATCHED.load(SeqCst) {
            RUNS.fetch_add(1, SeqCst);
        }
    }
}

/// How many yields the watched ULT makes with the hook on, each round.
const YIELDS: usize = 200;

#[test]
fn a_hook_installed_while_ults_yield_sees_their_next_switches() {
    let _g = one_lwp();
    let yielded = Arc::new(AtomicUsize::new(0));
    let round = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let watched = {
        let (yielded, round, finished, stop) = (
            yielded.clone(),
            round.clone(),
            finished.clone(),
            stop.clone(),
        );
        thread::spawn(move || {
            // Its partner, on the same LWP: each yield is a direct switch.
            let partner = {
                let stop = stop.clone();
                thread::spawn(move || {
                    while !stop.load(SeqCst) {
                        thread::yield_now();
                    }
                })
            };
            for r in 1..=2 {
                // Unheard yields first (the gate closes), until the main
                // thread has installed the hook for round `r`.
                while round.load(SeqCst) < r {
                    yielded.fetch_add(1, SeqCst);
                    thread::yield_now();
                }
                for _ in 0..YIELDS {
                    thread::yield_now();
                }
                finished.store(r, SeqCst);
            }
            stop.store(true, SeqCst);
            partner.join().unwrap();
        })
    };
    WATCHED.store(watched.thread().id().as_u64().get(), SeqCst);
    for r in 1..=2 {
        // Wait until the ULTs switch with nobody listening, so that the
        // gate has closed (its LWP closes it at the first such event).
        let from = yielded.load(SeqCst);
        while yielded.load(SeqCst) < from + 100 {
            std::thread::yield_now();
        }
        RUNS.store(0, SeqCst);
        trace::set_hook(Some(count_runs));
        round.store(r, SeqCst);
        while finished.load(SeqCst) < r {
            std::thread::yield_now();
        }
        trace::set_hook(None);
        // Each of its yields switched to its partner and back: a Run.
        let runs = RUNS.load(SeqCst);
        assert!(
            runs >= YIELDS,
            "round {r}: the hook saw {runs} Runs of a ULT that yielded {YIELDS} times under it"
        );
    }
    watched.join().unwrap();
}

//! Run-time accounting while a trace is recorded: the switch's accounting
//! takes the timestamp of the Block just before it (one clock read for
//! both): what it charges must still add up to no more than the wall time.
//!
//! Accounting and the recording are process-wide: the tests take a lock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use weave::thread::{self, ThreadState};
use weave::trace;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("weave-{}-{name}.trace", std::process::id()))
}

/// Spawns a ULT that parks `rounds` times (unparked each time from here),
/// then reads its run time while it is parked a last time. Returns the run
/// time and the wall time from before the spawn to the read.
fn run_time_of_a_parking_ult(rounds: usize) -> (Duration, Duration) {
    let start = Instant::now();
    let h = thread::spawn(move || {
        for _ in 0..=rounds {
            thread::park();
        }
    });
    let id = h.thread().id();
    let parked = || {
        thread::threads()
            .into_iter()
            .find(|t| t.id == id)
            .is_some_and(|t| matches!(t.state, ThreadState::Blocked(_)))
    };
    for _ in 0..rounds {
        while !parked() {
            thread::yield_now();
        }
        h.thread().unpark();
    }
    while !parked() {
        thread::yield_now();
    }
    let run = thread::threads()
        .into_iter()
        .find(|t| t.id == id)
        .and_then(|t| t.run_time)
        .expect("accounting is on: a ULT has a run time");
    let wall = start.elapsed();
    h.thread().unpark();
    h.join().unwrap();
    (run, wall)
}

#[test]
fn run_time_stays_within_the_wall_time_while_a_trace_is_recorded() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_accounting(true);
    let path = temp("accounting-on");
    trace::record(&path).unwrap();
    let (run, wall) = run_time_of_a_parking_ult(200);
    trace::stop().unwrap();
    weave::set_accounting(false);
    std::fs::remove_file(&path).ok();
    assert!(run <= wall, "ran {run:?} in {wall:?} of wall time");
}

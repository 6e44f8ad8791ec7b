//! A ULT of high priority that parks while a ULT of lower priority is
//! ready on its LWP switches straight to it (the direct block), and its
//! block stays held by the LWP while the other runs. Woken from another
//! thread, it must still run at the low-priority ULT's next safe point, as
//! it would had its block gone through the loop: time slices are off
//! here, so with nothing asking the LWP to switch it would never run while
//! the other spins at `preempt_point`. A hang is the failure; the waits
//! give up after a long while so that it fails instead.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::thread;

/// Puts the time slice back when the test ends, failed or not.
struct SliceBack(Option<Duration>);

impl Drop for SliceBack {
    fn drop(&mut self) {
        weave::set_time_slice(self.0);
    }
}

/// Waits on this OS thread until `done`, for at most 20 s; false if it
/// gave up.
fn wait_for(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(20) {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    true
}

#[test]
fn a_high_priority_ult_woken_from_an_os_thread_while_its_block_is_held_runs_at_the_next_safe_point()
{
    held_wake();
}

/// The scenario, the wakes made by this OS thread. (A bound ULT as the
/// waker made no test: with a bound LWP in the process the high-priority
/// ULT's park went through its LWP's loop in every run, its block
/// committed, never held.)
fn held_wake() {
    const ROUNDS: u32 = 20;
    let _one = crate::one_lwp();
    let _back = SliceBack(weave::time_slice());
    weave::set_time_slice(None);
    let parks = Arc::new(AtomicU32::new(0));
    let runs = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (p, r) = (parks.clone(), runs.clone());
    let high = thread::Builder::new()
        .priority(28)
        .spawn(move || {
            for _ in 0..ROUNDS {
                p.fetch_add(1, SeqCst);
                thread::park();
                r.fetch_add(1, SeqCst);
            }
        })
        .unwrap();
    assert!(
        wait_for(|| parks.load(SeqCst) == 1),
        "the high-priority ULT did not start"
    );
    // The low-priority ULT never blocks: its LWP goes back to its loop only
    // if a safe point asks it to switch. Once woken, the high one preempts
    // it, and each time it parks again its LWP switches straight back here,
    // holding its block.
    let s = stop.clone();
    let low = thread::Builder::new()
        .priority(2)
        .spawn(move || {
            let start = Instant::now();
            while !s.load(SeqCst) && start.elapsed() < Duration::from_secs(60) {
                thread::preempt_point();
            }
        })
        .unwrap();
    let t = high.thread().clone();
    let (r, s) = (runs.clone(), stop.clone());
    let drive = move || {
        for round in 1..=ROUNDS {
            // Past the park's switch: a held block by now, after round 1.
            std::thread::sleep(Duration::from_millis(1));
            t.unpark();
            if !wait_for(|| r.load(SeqCst) >= round) {
                s.store(true, SeqCst);
                return Err(format!(
                    "round {round}: the priority-28 ULT, woken elsewhere, did not run in 20 s \
                     of safe points of the priority-2 ULT on its LWP"
                ));
            }
            if !wait_for(|| round == ROUNDS || parks.load(SeqCst) > round) {
                return Err(format!(
                    "round {round}: the high-priority ULT did not park again"
                ));
            }
        }
        Ok(())
    };
    let driven = drive();
    if let Err(e) = driven {
        panic!("{e}");
    }
    high.join().unwrap();
    stop.store(true, SeqCst);
    low.join().unwrap();
}

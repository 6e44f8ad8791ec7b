//! A contender spins, instead of blocking, while the holder runs on another
//! LWP: the spin path of the adaptive mutex is taken and wins the lock.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::Mutex;

#[test]
fn contenders_spin_for_an_owner_running_on_another_lwp() {
    weave::set_concurrency(2).unwrap();
    let before = weave::trace::counters().lock_spins;
    // The two LWPs must overlap for contention to cross them; a round can
    // finish on one LWP before the other wakes, and on a loaded machine the
    // kernel may rarely run both at once: run rounds until a spin is seen,
    // with a generous watchdog (it only turns "never" into a failure).
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        run_round();
        if published_spins(before) > 0 {
            return;
        }
    }
    panic!("no contended lock was won by spinning in 120 s of rounds");
}

fn published_spins(before: u64) -> u64 {
    // Counters are published by each LWP when it goes idle.
    for _ in 0..50 {
        let spins = weave::trace::counters().lock_spins - before;
        if spins > 0 {
            return spins;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    0
}

fn run_round() {
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let m = m.clone();
            weave::thread::spawn(move || {
                for _ in 0..20_000 {
                    let mut g = m.lock().unwrap();
                    // A critical section long enough to be caught in.
                    for _ in 0..20 {
                        *g = std::hint::black_box(*g + 1);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), 8 * 20_000 * 20);
}

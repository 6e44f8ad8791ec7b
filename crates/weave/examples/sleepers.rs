//! `weave bench sleepers` reduced to its sleeping ULTs, for profilers:
//! `N` ULTs (default 20,000) each sleep `SLEEPS` times (default 10) 1 ms.
//! Run it with `SLEEPS=0` too and subtract, to get the cost of the sleeps
//! alone (spawning, joining and start-up cancel out):
//!
//! ```text
//! WEAVE_LWPS=1 valgrind --tool=callgrind --cache-sim=yes \
//!     target/release/examples/sleepers 20000 10
//! ```

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(20_000, |a| a.parse().expect("N"));
    let sleeps: u32 = args.next().map_or(10, |a| a.parse().expect("SLEEPS"));
    let wall = weave::thread::spawn(move || {
        // Everyone waits at the gate, so the sleeps start together.
        let gate = std::sync::Arc::new(weave::sync::RwLock::new(()));
        let held = gate.write().unwrap();
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let gate = gate.clone();
                weave::thread::spawn(move || {
                    drop(gate.read().unwrap());
                    for _ in 0..sleeps {
                        weave::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        weave::thread::yield_now();
        let t0 = Instant::now();
        drop(held);
        for h in handles {
            h.join().unwrap();
        }
        t0.elapsed()
    })
    .join()
    .unwrap();
    println!("{n} ULTs x {sleeps} sleeps of 1 ms: {wall:?}");
}

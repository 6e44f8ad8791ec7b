//! Blocks, wakes and exits that happen on LWPs reach `trace::counters()`
//! once the LWPs go idle, as the counters' documentation says, though no
//! trace hook is installed (the LWPs count them in bulk then). Alone in
//! its file: it reads process-wide counters.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn blocks_wakes_and_exits_made_on_lwps_reach_the_counters() {
    const N: u64 = 50;
    let before = weave::trace::counters();
    // Each sleeper parks (a block on its LWP) and is unparked by a waker
    // ULT (a wake made on an LWP), then exits.
    let go = Arc::new(AtomicBool::new(false));
    let sleepers: Vec<_> = (0..N)
        .map(|_| {
            let go = go.clone();
            weave::thread::spawn(move || {
                while !go.load(SeqCst) {
                    weave::thread::park();
                }
            })
        })
        .collect();
    let threads: Vec<_> = sleepers.iter().map(|h| h.thread().clone()).collect();
    weave::thread::spawn(move || {
        // Let every sleeper reach its park first, then wake them all.
        while weave::thread::threads()
            .iter()
            .filter(|t| threads.iter().any(|s| s.id() == t.id))
            .any(|t| {
                t.state != weave::thread::ThreadState::Blocked(weave::thread::BlockReason::Park)
            })
        {
            weave::thread::yield_now();
        }
        go.store(true, SeqCst);
        for t in &threads {
            t.unpark();
        }
    })
    .join()
    .unwrap();
    for h in sleepers {
        h.join().unwrap();
    }
    // The LWPs publish when they next go idle: wait for that, under a
    // generous watchdog that only turns a hang into a failure.
    let watchdog = Instant::now() + Duration::from_secs(60);
    loop {
        let c = weave::trace::counters();
        let (blocks, wakes, exits) = (
            c.blocks - before.blocks,
            c.wakes - before.wakes,
            c.exits - before.exits,
        );
        if blocks >= N && wakes >= N && exits > N {
            break;
        }
        assert!(
            Instant::now() < watchdog,
            "counted {blocks} blocks, {wakes} wakes, {exits} exits; expected at least {N}, {N}, {}",
            N + 1
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

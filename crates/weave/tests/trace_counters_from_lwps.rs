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
    let before_blocks = before.blocks;
    weave::thread::spawn(move || {
        // Let every sleeper block in its park first, then wake them all.
        // A thread the table shows parked may still be on its way out of
        // its LWP (BLOCKING), where an unpark cancels the block: so wait
        // until the counters hold a block for each sleeper too (the LWPs
        // publish when they go idle, as they do while this thread sleeps;
        // its own sleeps are blocks as well).
        let mut own = 0;
        let watchdog = Instant::now() + Duration::from_secs(60);
        loop {
            let parked = weave::thread::threads()
                .iter()
                .filter(|t| threads.iter().any(|s| s.id() == t.id))
                .all(|t| {
                    t.state == weave::thread::ThreadState::Blocked(weave::thread::BlockReason::Park)
                });
            let blocks = weave::trace::counters().blocks - before_blocks;
            if parked && blocks >= N + own {
                break;
            }
            assert!(
                Instant::now() < watchdog,
                "the sleepers did not all block: {blocks} blocks counted, {own} of them the waker's"
            );
            weave::thread::sleep(Duration::from_millis(1));
            own += 1;
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

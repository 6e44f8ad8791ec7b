//! Trimming parked stacks (`lwp/trim.rs`): the pages below a long-parked
//! ULT's stack pointer are given back, and the ULT neither notices nor
//! loses anything above it.
//!
//! The trim period is shortened to 20 ms for this test binary (set before
//! the runtime starts); waits are watchdogs, not timings.

use std::hint::black_box;
use std::sync::Once;
use std::time::Duration;

use weave::sync::mpmc;
use weave::thread as wt;

mod stack_common;
use stack_common::{deep, wait_until};

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var("WEAVE_TRIM", "20ms"));
}

/// A raw pointer into a parked ULT's frame, sent to another thread.
struct FramePtr(*const u64);
// SAFETY: the frame it points into outlives every read (the ULT waits for
// the reader's go-ahead before it returns).
unsafe impl Send for FramePtr {}

#[test]
fn pages_below_a_parked_ult_are_given_back_and_its_frames_survive() {
    setup();
    let before = weave::stack_stats().trimmed_bytes;
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (go_tx, go_rx) = mpmc::bounded::<()>(0);
    let h = wt::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            // Run deep once: ~200 KiB of stack touched.
            let first = deep(50, 1);
            // Then park shallow, with a frame someone else reads.
            let kept: [u64; 64] = std::array::from_fn(|i| 0xfeed_0000 + i as u64);
            ptr_tx.send(FramePtr(kept.as_ptr())).unwrap();
            go_rx.recv().unwrap();
            let again = deep(50, 1);
            assert_eq!(black_box(&kept)[63], 0xfeed_0000 + 63);
            (first, again)
        })
        .unwrap();
    let p = ptr_rx.recv().unwrap();
    wait_until("a trim of at least 150 KiB", || {
        weave::stack_stats().trimmed_bytes - before >= 150 * 1024
    });
    // The parked frame, above the stack pointer, is intact.
    for i in 0..64 {
        // SAFETY: the ULT is parked in `go_rx.recv()` with `kept` live.
        let v = unsafe { p.0.add(i).read_volatile() };
        assert_eq!(v, 0xfeed_0000 + i as u64);
    }
    go_tx.send(()).unwrap();
    let (first, again) = h.join().unwrap();
    assert_eq!(
        first, again,
        "running deep again after the trim gave another result"
    );
}

#[test]
fn ults_woken_around_trims_keep_running_correctly() {
    setup();
    const ULTS: usize = 32;
    const ROUNDS: usize = 4;
    let (tx, rx) = mpmc::unbounded::<usize>();
    let mut wakers = Vec::new();
    let mut handles = Vec::new();
    for u in 0..ULTS {
        let (wake_tx, wake_rx) = mpmc::bounded::<()>(0);
        wakers.push(wake_tx);
        let tx = tx.clone();
        handles.push(wt::spawn(move || {
            let mut sums = Vec::new();
            for r in 0..ROUNDS {
                sums.push(deep(20, (u * ROUNDS + r) as u64));
                tx.send(u).unwrap();
                wake_rx.recv().unwrap();
            }
            sums
        }));
    }
    for r in 0..ROUNDS {
        for _ in 0..ULTS {
            rx.recv().unwrap();
        }
        // Every other round, wait until a pass has trimmed some of them;
        // otherwise wake them at once, racing the monitor's requests.
        if r % 2 == 0 {
            let trims = weave::stack_stats().trimmed;
            wait_until("a trim pass", || weave::stack_stats().trimmed > trims);
        }
        for w in &wakers {
            w.send(()).unwrap();
        }
    }
    for (u, h) in handles.into_iter().enumerate() {
        let sums = h.join().unwrap();
        for (r, s) in sums.into_iter().enumerate() {
            assert_eq!(s, deep(20, (u * ROUNDS + r) as u64));
        }
    }
}

/// As `deep`, but yields `yields` times at the bottom, with every frame
/// above live: a ULT switched out deep must keep all of them.
#[inline(never)]
fn deep_yielding(depth: usize, seed: u64, yields: usize) -> u64 {
    let mut frame = [0u64; 512];
    for (i, v) in frame.iter_mut().enumerate() {
        *v = seed ^ (i as u64) ^ (depth as u64) << 32;
    }
    let below = if depth > 1 {
        deep_yielding(depth - 1, seed, yields)
    } else {
        for _ in 0..yields {
            wt::yield_now();
        }
        0
    };
    let frame = black_box(&frame);
    for (i, v) in frame.iter().enumerate() {
        assert_eq!(
            *v,
            seed ^ (i as u64) ^ (depth as u64) << 32,
            "frame {depth} changed"
        );
    }
    below.wrapping_add(frame[7])
}

#[test]
fn a_ult_woken_after_its_trim_was_asked_and_switched_out_deep_keeps_its_frames() {
    setup();
    // Each ULT parks long enough to be handed to its LWP for a trim, then
    // wakes, runs deep and yields there while the others keep the LWPs
    // busy: the trim asked for during its park must not be applied to the
    // deeper stack it has when it is switched out again.
    const ULTS: usize = 24;
    const ROUNDS: usize = 6;
    let handles: Vec<_> = (0..ULTS)
        .map(|u| {
            wt::spawn(move || {
                let mut sums = Vec::new();
                for r in 0..ROUNDS {
                    wt::sleep(Duration::from_millis(
                        30 + (u as u64 * 7 + r as u64 * 13) % 40,
                    ));
                    sums.push(deep_yielding(24, (u * ROUNDS + r) as u64, 50));
                }
                sums
            })
        })
        .collect();
    for (u, h) in handles.into_iter().enumerate() {
        let sums = h.join().unwrap();
        for (r, s) in sums.into_iter().enumerate() {
            assert_eq!(s, deep(24, (u * ROUNDS + r) as u64));
        }
    }
}

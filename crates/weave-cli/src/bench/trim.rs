//! `idle_trim`: what a thread that once ran deep keeps once it parks.
//!
//! Each of N threads runs ~200 KiB deep once, returns, and parks. An OS
//! thread keeps every page it touched; a weave ULT keeps them until the
//! monitor trims it (`WEAVE_TRIM`, shortened here to 200 ms so that the
//! run is short), then only the pages its parked frames use. Both run in a
//! fresh child process each, as the other memory workloads do.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::thread as wt;

use super::common::{in_child, rss, Measurement, Opts};

/// How deep each thread runs once, in 4 KiB frames: 50 frames, 200 KiB.
const FRAMES: usize = 50;

/// Stack of every thread, weave's default: room for `FRAMES` and more.
const STACK: usize = 256 * 1024;

/// The trim period the weave child runs with.
const TRIM: &str = "200ms";

/// Touches `depth` frames of 4 KiB; returns something that depends on all.
#[inline(never)]
fn deep(depth: usize) -> u64 {
    let mut frame = [0u8; 4096];
    for (i, b) in frame.iter_mut().enumerate().step_by(512) {
        *b = (i ^ depth) as u8;
    }
    let below = if depth > 1 { deep(depth - 1) } else { 0 };
    below.wrapping_add(u64::from(black_box(&frame)[512]))
}

pub(super) fn idle_trim(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 2_000 } else { 10_000 };
    let w = in_child(&["trim-weave", &n.to_string()])?;
    let s = in_child(&["trim-std", &n.to_string()])?;
    Ok(Measurement {
        name: "idle_trim",
        unit: "bytes",
        weave: w[1],
        baseline: Some(s[0]),
        n,
        note: Some(format!(
            "each thread ran {} KiB deep once, then parked; weave before its trim {:.0} B, \
             trimmed after {:.2} s (WEAVE_TRIM={TRIM}); std: {n} OS threads at {} KiB stacks, \
             which keep their pages",
            FRAMES * 4,
            w[0],
            w[2],
            STACK / 1024
        )),
        extra: vec![("before_trim_bytes", w[0]), ("seconds_to_trim", w[2])],
    })
}

/// Child side: prints `RESULT <bytes per thread before> <after> <seconds>`
/// (std: after = before, seconds = 0).
pub(super) fn child(lib: &str, n: usize) -> Result<(), String> {
    match lib {
        "trim-weave" => {
            // Read once, when the runtime starts: set before it does.
            std::env::set_var("WEAVE_TRIM", TRIM);
            // The trim alone: a slow run must not reach the compaction's
            // threshold (on by default) and measure that instead.
            std::env::set_var("WEAVE_COMPACT", "0");
            wt::spawn(|| ())
                .join()
                .map_err(|_| "the first ULT panicked")?;
            let base = rss()?;
            let (started, release) = (
                Arc::new(AtomicUsize::new(0)),
                Arc::new(AtomicBool::new(false)),
            );
            let stats0 = weave::stack_stats();
            let trims0 = stats0.trimmed;
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let (s, r) = (started.clone(), release.clone());
                    wt::Builder::new().stack_size(STACK).spawn(move || {
                        black_box(deep(FRAMES));
                        s.fetch_add(1, Ordering::Release);
                        while !r.load(Ordering::Acquire) {
                            wt::park();
                        }
                    })
                })
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            wait(|| started.load(Ordering::Acquire) == n)?;
            let parked = Instant::now();
            // What the threads held before any trim: on a slow run the
            // first ones park for a trim period before the last one is
            // spawned, and are trimmed already; what those trims gave back
            // is counted back in.
            let given_back = weave::stack_stats().trimmed_bytes - stats0.trimmed_bytes;
            let before = (rss()?.saturating_sub(base) + given_back) as f64 / n as f64;
            wait(|| weave::stack_stats().trimmed - trims0 >= n)?;
            let secs = parked.elapsed().as_secs_f64();
            let after = rss()?.saturating_sub(base) as f64 / n as f64;
            release.store(true, Ordering::Release);
            for h in hs {
                h.thread().unpark();
                h.join().map_err(|_| "a ULT panicked")?;
            }
            println!("RESULT {before} {after} {secs}");
        }
        "trim-std" => {
            let base = rss()?;
            let (started, release) = (
                Arc::new(AtomicUsize::new(0)),
                Arc::new(AtomicBool::new(false)),
            );
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let (s, r) = (started.clone(), release.clone());
                    std::thread::Builder::new()
                        .stack_size(STACK)
                        .spawn(move || {
                            black_box(deep(FRAMES));
                            s.fetch_add(1, Ordering::Release);
                            while !r.load(Ordering::Acquire) {
                                std::thread::park();
                            }
                        })
                })
                .collect::<Result<_, _>>()
                .map_err(|e| format!("std::thread spawn failed: {e}"))?;
            wait(|| started.load(Ordering::Acquire) == n)?;
            let per = rss()?.saturating_sub(base) as f64 / n as f64;
            release.store(true, Ordering::Release);
            for h in hs {
                h.thread().unpark();
                h.join().map_err(|_| "a thread panicked")?;
            }
            println!("RESULT {per} {per} 0");
        }
        other => return Err(format!("bench --child: no library '{other}'")),
    }
    Ok(())
}

/// Waits for `done`, up to a generous bound (a hang becomes an error).
fn wait(mut done: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(60) {
            return Err("idle_trim: the threads did not get there within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

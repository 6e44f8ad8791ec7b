//! The mode report of `weave bench` (`WEAVE_BENCH_ADDRS=1`, on stderr):
//! where the hot objects of the one-LWP `yield` and `channel_pingpong`
//! rows sit, and each round of those rows timed in windows, so that a
//! process's speed can be read window by window beside what could set it.
//!
//! On this kind of host a process's `yield` and ping-pong come in two
//! speeds (`docs/PERFORMANCE.md`, "yield's and ping-pong's two speeds").
//! The report gives, per round:
//!
//! - `ADDRS <side> sp=.. lwp=.. tcb=.. ..`: each side's stack pointer in
//!   the timed loop and the addresses of `weave::__hot_addresses` (the
//!   LWP's record and ready queue, the TCB and its saved context, the
//!   thread-locals): they stay fixed for the whole round.
//! - `ADDRS <row> series T/A/F ..`: one entry per window: TSC ticks per
//!   switch (yield, 1,000 switches a window) or per round trip
//!   (ping-pong, 100 a window) `T`; right after the window, in the same
//!   ULT, ticks per add of a 2,000-add dependent chain `A` (no memory: no
//!   address weave places can move it); for `yield`, ns per switch of a
//!   bare switch of 1,000 switches `F` (0 for ping-pong).
//! - `ADDRS <row> win min=.. p10=.. p50=..`: the windows' ticks per
//!   operation, sorted.
//!
//! `WEAVE_BENCH_PAD=N` runs the second side of the yield below N padding
//! frames: the two yielding stacks then differ in the low 12 bits of their
//! stack pointers (equal otherwise). `WEAVE_BENCH_NOCAL=1` leaves out the
//! add chain and the bare switch between the yield's windows.
//! The windows cost a `rdtsc` each: the row's own figure is kept, but
//! read the report's, not the row's, while it is on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::floor::add_chain;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Adds of the chain timed after each window: 20 steps of 100.
const CHAIN_STEPS: usize = 20;
const CHAIN_ADDS: usize = CHAIN_STEPS * 100;

/// Whether the report is on (`WEAVE_BENCH_ADDRS` set).
pub(super) fn on() -> bool {
    std::env::var_os("WEAVE_BENCH_ADDRS").is_some()
}

fn env_usize(k: &str) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn note(s: String) {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).push(s);
}

/// Records where the calling ULT's hot objects are, under `who`.
pub(super) fn record(who: &str) {
    let sp = &who as *const &str as usize;
    let mut s = format!("{who} sp={sp:#x}");
    for (k, v) in weave::__hot_addresses().unwrap_or_default() {
        s.push_str(&format!(" {k}={v:#x}"));
    }
    note(s);
}

/// Writes the report to stderr (once the rows have run).
pub(super) fn flush() {
    for l in LINES.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        eprintln!("ADDRS {l}");
    }
}

#[inline]
fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `rdtsc` reads the time-stamp counter; no memory.
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Ticks of a dependent chain of [`CHAIN_ADDS`] adds.
fn chain_ticks() -> u64 {
    let s = tsc();
    std::hint::black_box(add_chain(CHAIN_STEPS));
    tsc() - s
}

/// One window per entry of `w` (ticks for `per` operations), with the
/// chain's ticks `c` and the bare switch's ns `f` measured after it.
fn series(what: &str, w: &[u64], per: usize, c: &[u64], f: &[f64]) {
    let mut s = format!("{what} series");
    for ((t, a), f) in w.iter().zip(c).zip(f) {
        s.push_str(&format!(
            " {:.1}/{:.3}/{:.2}",
            *t as f64 / per as f64,
            *a as f64 / CHAIN_ADDS as f64,
            f
        ));
    }
    note(s);
}

/// min, p10 and median of windows of `per` operations, in ticks per op.
fn windows(what: &str, mut w: Vec<u64>, per: usize) {
    w.sort_unstable();
    if w.is_empty() {
        return;
    }
    let at = |i: usize| w[i.min(w.len() - 1)] as f64 / per as f64;
    note(format!(
        "{what} win min={:.1} p10={:.1} p50={:.1} n={}",
        at(0),
        at(w.len() / 10),
        at(w.len() / 2),
        w.len()
    ));
}

/// Runs `f` below `levels` frames of padding on this stack.
#[inline(never)]
fn padded(levels: usize, f: &mut dyn FnMut() -> Duration) -> Duration {
    if levels == 0 {
        return f();
    }
    let pad = std::hint::black_box([0u8; 64]);
    let r = padded(levels - 1, f);
    std::hint::black_box(&pad);
    r
}

/// One side of the yield row, `per` yields timed in windows. `go` counts
/// the sides that reached the loop (2 by now): the first side to count
/// again leads and times the chain and the bare switch after each window
/// (its windows leave them out; the other side's include them).
pub(super) fn yield_probe(go: &AtomicUsize, per: usize) -> Duration {
    const W: usize = 500;
    let lead = go.fetch_add(1, Ordering::SeqCst) == 2;
    let pad = if lead {
        0
    } else {
        env_usize("WEAVE_BENCH_PAD")
    };
    let cal = lead && std::env::var_os("WEAVE_BENCH_NOCAL").is_none();
    padded(pad, &mut || {
        record(if lead { "yield lead" } else { "yield other" });
        let (mut w, mut c, mut f) = (Vec::new(), Vec::new(), Vec::new());
        let t = Instant::now();
        for _ in 0..per / W {
            let s = tsc();
            for _ in 0..W {
                weave::thread::yield_now();
            }
            w.push(tsc() - s);
            if cal {
                c.push(chain_ticks());
                let r = weave::__switch_floor(2 * W as u64);
                f.push(r.elapsed.as_nanos() as f64 / r.switches as f64);
            } else {
                c.push(0);
                f.push(0.0);
            }
        }
        let d = t.elapsed();
        if lead {
            series("yield", &w, 2 * W, &c, &f);
        }
        windows("yield", w, 2 * W);
        d
    })
}

/// The pinging side's `n` timed round trips, in windows of 100, each
/// followed by the chain.
pub(super) fn pingpong_probe(mut trip: impl FnMut(usize), n: usize) -> Duration {
    const W: usize = 100;
    record("ping");
    let (mut w, mut c) = (Vec::new(), Vec::new());
    let t = Instant::now();
    for k in 0..n / W {
        let s = tsc();
        for i in k * W..(k + 1) * W {
            trip(i);
        }
        w.push(tsc() - s);
        c.push(chain_ticks());
    }
    let d = t.elapsed();
    series("pingpong", &w, W, &c, &vec![0.0; c.len()]);
    windows("pingpong", w, W);
    d
}

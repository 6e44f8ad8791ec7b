//! `spawn_cold`, `spawn_live` and `burst_rss`: what spawning costs in a
//! fresh process and as the number of live threads grows, and what a
//! process keeps once a burst of threads is gone.
//!
//! - `spawn_cold` spawns 100,000 threads from one ULT on one LWP (all live:
//!   the spawner never blocks), joins them, and does it again: the first
//!   round in a fresh process (cold: every TCB and join packet is new
//!   memory, and so were the stacks while they were taken at spawn; taken
//!   at the first run, the children share the few stacks of death row)
//!   against the second (warm: they come back from death row). Issue 14's
//!   target is a cold round at most 2x the warm one.
//! - `spawn_live` parks N threads, spawned from one ULT, and times each
//!   window of `WINDOW` spawns: a spawn should cost the same with 10,000
//!   threads alive as with 300,000 (issue 14's "spawn flat in the number of
//!   live threads").
//! - `burst_rss` parks a burst of N threads, lets all but S of them (spread
//!   evenly over the burst, the worst case for a table that can only give
//!   back whole pages) exit, waits for the reaper, and reads the resident
//!   set. Its baseline is a process that only ever had the S survivors: the
//!   target is a resident set within 2x of it.
//!
//! Each runs in a fresh child process, as the other memory workloads do.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::thread as wt;

use super::common::{in_child, rss, Measurement, Opts};

/// Threads per round of `spawn_cold`: the peers' `spawn_join` workload.
const COLD_N: usize = 100_000;

/// Spawns per timed window of `spawn_live`.
const WINDOW: usize = 10_000;

/// How long `burst_rss` waits at least after the burst exits before reading
/// the resident set: a few reap periods (500 ms each), the time the reaper
/// needs to give back what the burst left behind. On a loaded machine the
/// LWPs finish the exited threads later: it waits on while the resident
/// set still falls, up to `SETTLE_MAX`.
const SETTLE: Duration = Duration::from_millis(2500);
const SETTLE_MAX: Duration = Duration::from_secs(15);

pub(super) fn spawn_live(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 100_000 } else { 300_000 };
    let runs = if o.quick { 1 } else { 3 };
    let mut low = Vec::new();
    let mut high = Vec::new();
    for _ in 0..runs {
        let r = in_child(&["spawn-live", &n.to_string()])?;
        low.push(r[0]);
        high.push(r[1]);
    }
    let (low, high) = (super::common::median(low), super::common::median(high));
    Ok(Measurement {
        name: "spawn_live",
        unit: "ns",
        weave: high,
        baseline: None,
        n,
        note: Some(format!(
            "ns per spawn of a thread that parks, with {n} live against 10,000 live \
             ({low:.0} ns): {:.2}x; median of {runs} processes",
            high / low
        )),
        extra: vec![("at_10k_ns", low)],
    })
}

pub(super) fn spawn_cold(o: &Opts) -> Result<Measurement, String> {
    let runs = if o.quick { 3 } else { 5 };
    let (mut cold, mut warm, mut ratio, mut faults, mut cpu) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let r = in_child(&["spawn-cold", &COLD_N.to_string()])?;
        cold.push(r[0]);
        warm.push(r[1]);
        ratio.push(r[0] / r[1]);
        faults.push(r[2]);
        cpu.push(r[3] / r[4]);
    }
    let median = super::common::median;
    let (cold, warm, ratio, faults, cpu) = (
        median(cold),
        median(warm),
        median(ratio),
        median(faults),
        median(cpu),
    );
    Ok(Measurement {
        name: "spawn_cold",
        unit: "ns",
        weave: cold,
        baseline: None,
        n: COLD_N,
        note: Some(format!(
            "ns per spawn+join, {COLD_N} live on one LWP, first round of a fresh process; \
             second round {warm:.0} ns; cold/warm {ratio:.2}x (target <= 2); \
             in CPU time (user and system) {cpu:.2}x; {faults:.2} page faults per thread in \
             the cold round; median of {runs} processes"
        )),
        extra: vec![
            ("warm_ns", warm),
            ("cold_over_warm", ratio),
            ("cpu_cold_over_warm", cpu),
        ],
    })
}

pub(super) fn burst_rss(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 200_000 } else { 1_000_000 };
    let survivors = 1_000;
    let w = in_child(&["burst", &format!("{n}:{survivors}")])?;
    let only = in_child(&["burst", &format!("{survivors}:{survivors}")])?;
    Ok(Measurement {
        name: "burst_rss",
        unit: "bytes",
        weave: w[0],
        baseline: Some(only[0]),
        n,
        note: Some(format!(
            "resident set at least {:.1} s after {n} parked threads exited but {survivors} \
             (spread over the burst), once it stopped falling, against a process that only \
             had the {survivors} (the baseline column); target: within 2x; peak {:.0} MiB",
            SETTLE.as_secs_f64(),
            w[1] / f64::from(1 << 20)
        )),
        extra: vec![("peak_bytes", w[1])],
    })
}

/// Child side of the workloads: `spawn-cold N` prints `RESULT <ns per
/// thread, first round> <ns, second round> <page faults per thread, first
/// round> <CPU ns per thread, first round> <CPU ns, second round>`;
/// `spawn-live N` prints `RESULT <ns per spawn at 10k live> <ns per spawn
/// at N live>`; `burst N:S` prints `RESULT <resident bytes after
/// settling> <resident bytes at the peak>`.
pub(super) fn child(lib: &str, n: usize) -> Result<(), String> {
    if lib == "spawn-cold" {
        weave::set_concurrency(1).map_err(|e| e.to_string())?;
    }
    // Start the runtime before anything is measured.
    wt::spawn(|| ()).join().unwrap();
    match lib {
        "spawn-cold" => {
            let r = wt::spawn(move || {
                let (f0, c0) = usage();
                let cold = spawn_round(n);
                let (f1, c1) = usage();
                let warm = spawn_round(n);
                let (_, c2) = usage();
                let per = |d: f64| d / n as f64;
                [cold, warm, per(f1 - f0), per(c1 - c0), per(c2 - c1)]
            })
            .join()
            .unwrap();
            println!("RESULT {} {} {} {} {}", r[0], r[1], r[2], r[3], r[4]);
        }
        "spawn-live" => {
            let (low, high) = live_windows(n)?;
            println!("RESULT {low} {high}");
        }
        other => return Err(format!("bench --child: no workload '{other}'")),
    }
    Ok(())
}

/// `burst N:S` (its argument does not fit the `N` of `--child LIB N`).
pub(super) fn burst_child(spec: &str) -> Result<(), String> {
    let (n, s) = spec
        .split_once(':')
        .and_then(|(n, s)| Some((n.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
        .ok_or("bench --child burst takes N:S")?;
    wt::spawn(|| ()).join().unwrap();
    let (after, peak) = burst(n, s.clamp(1, n))?;
    println!("RESULT {after} {peak}");
    Ok(())
}

/// Spawns `n` threads that return at once, all before the first join;
/// ns per thread.
fn spawn_round(n: usize) -> f64 {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| wt::spawn(move || i)).collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Minor page faults of this process so far, and the CPU time (user and
/// system, all its threads) it used, in ns: on a loaded machine the CPU
/// time of a round says more than its wall time.
fn usage() -> (f64, f64) {
    // SAFETY: `getrusage` fills the zeroed struct we pass and nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ns = |t: libc::timeval| t.tv_sec as f64 * 1e9 + t.tv_usec as f64 * 1e3;
    (u.ru_minflt as f64, ns(u.ru_utime) + ns(u.ru_stime))
}

/// A thread that counts itself started, then parks until `release` (the
/// parked thread of the other memory workloads).
fn parked(
    started: &Arc<AtomicUsize>,
    release: &Arc<AtomicBool>,
) -> Result<wt::JoinHandle<()>, String> {
    <wt::JoinHandle<()> as super::Parkable>::spawn_parked(started.clone(), release.clone())
}

/// Spawns `n` parked threads from one ULT; returns the ns per spawn of the
/// window starting at 10,000 live and of the last window.
fn live_windows(n: usize) -> Result<(f64, f64), String> {
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let (s, r) = (started.clone(), release.clone());
    let (hs, times) = wt::spawn(move || -> Result<_, String> {
        let mut hs = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n / WINDOW + 1);
        let mut t = Instant::now();
        for i in 0..n {
            hs.push(parked(&s, &r).map_err(|e| format!("after {i} threads: {e}"))?);
            if (i + 1) % WINDOW == 0 {
                let now = Instant::now();
                times.push((now - t).as_nanos() as f64 / WINDOW as f64);
                t = now;
            }
        }
        Ok((hs, times))
    })
    .join()
    .unwrap()?;
    release.store(true, Ordering::Release);
    for h in &hs {
        h.thread().unpark();
    }
    for h in hs {
        h.join().unwrap();
    }
    let at = |live: usize| times[(live / WINDOW).min(times.len() - 1)];
    Ok((at(10_000), at(n - WINDOW)))
}

/// Parks `n` threads, lets all but `s` of them (every `n / s`-th stays)
/// exit, waits `SETTLE`, and returns the resident set then and at the peak.
fn burst(n: usize, s: usize) -> Result<(f64, f64), String> {
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let stay = Arc::new(AtomicBool::new(false));
    let every = n / s;
    let mut go = Vec::with_capacity(n - s);
    let mut kept = Vec::with_capacity(s);
    for i in 0..n {
        let survivor = i % every == 0 && kept.len() < s;
        let r = if survivor { &stay } else { &release };
        let h = parked(&started, r).map_err(|e| format!("after {i} threads: {e}"))?;
        if survivor {
            kept.push(h);
        } else {
            go.push(h);
        }
    }
    while started.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let peak = rss()? as f64;
    release.store(true, Ordering::Release);
    for h in &go {
        h.thread().unpark();
    }
    for h in go {
        h.join().unwrap();
    }
    let settled = Instant::now();
    std::thread::sleep(SETTLE);
    let mut after = rss()?;
    while settled.elapsed() < SETTLE_MAX {
        std::thread::sleep(Duration::from_millis(500));
        let now = rss()?;
        if now + after / 100 >= after {
            after = now;
            break;
        }
        after = now;
    }
    let after = after as f64;
    stay.store(true, Ordering::Release);
    for h in &kept {
        h.thread().unpark();
    }
    for h in kept {
        h.join().unwrap();
    }
    Ok((after, peak))
}

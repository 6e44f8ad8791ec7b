//! `weave bench --trace-cost`: what recording a trace costs. Each selected
//! workload (by default `spawn_join` and `channel_pingpong`) runs in pairs,
//! once with tracing off and once recording (`weave::trace::record` to a
//! temporary file), alternating so that a machine's drift hits both; the
//! table shows the medians of weave's figure and their ratio, and the
//! ratio of the fastest runs (on a shared machine the load moves the
//! medians by more than tracing does; the fastest run of each side is the
//! one least disturbed). The caller
//! (`bench.rs`) hands in the lookup of a workload by name, so that this
//! file names only `common.rs`.

use super::common::{Measurement, Opts};

/// How a workload is run: `bench.rs`'s table gives one by name.
pub(super) type RunFn = fn(&Opts) -> Result<Measurement, String>;

/// The workloads measured when none is named.
const DEFAULT: [&str; 2] = ["spawn_join", "channel_pingpong"];

pub(super) fn run(
    opts: &Opts,
    names: &[String],
    workload: impl Fn(&str) -> Option<RunFn>,
) -> Result<(), String> {
    let names: Vec<&str> = if names.is_empty() {
        DEFAULT.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let pairs = if opts.quick { 3 } else { 7 };
    let path = std::env::temp_dir().join(format!("weave-bench-{}.trace", std::process::id()));
    println!(
        "weave bench --trace-cost: weave with tracing off and on, alternating, median of {pairs} pairs"
    );
    println!(
        "{:<16} {:>6} {:>12} {:>12} {:>9} {:>12} {:>12} {:>9}   note",
        "workload", "unit", "off", "on", "on/off", "off fastest", "on fastest", "on/off"
    );
    for name in names {
        let run = workload(name).ok_or_else(|| format!("bench: no workload '{name}'"))?;
        let (mut off, mut on) = (Vec::new(), Vec::new());
        let mut dropped = 0;
        for _ in 0..pairs {
            off.push(run(opts).map_err(|e| format!("bench {name}: {e}"))?);
            weave::trace::record(&path).map_err(|e| format!("bench {name}: {e}"))?;
            let m = run(opts);
            let stats = weave::trace::stop().map_err(|e| format!("bench {name}: {e}"))?;
            dropped += stats.map_or(0, |s| s.dropped);
            on.push(m.map_err(|e| format!("bench {name}: {e}"))?);
        }
        std::fs::remove_file(&path).ok();
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let unit = off[0].unit;
        let (o, n) = (
            median(&mut off.iter().map(|m| m.weave).collect()),
            median(&mut on.iter().map(|m| m.weave).collect()),
        );
        // The best run: the lowest cost, or the highest rate.
        let fastest = |v: &[Measurement]| {
            let it = v.iter().map(|m| m.weave);
            if v[0].is_rate() {
                it.fold(0.0, f64::max)
            } else {
                it.fold(f64::INFINITY, f64::min)
            }
        };
        let (fo, fnn) = (fastest(&off), fastest(&on));
        println!(
            "{:<16} {:>6} {:>12.1} {:>12.1} {:>8.2}x {:>12.1} {:>12.1} {:>8.2}x   {}",
            name,
            unit,
            o,
            n,
            n / o,
            fo,
            fnn,
            fnn / fo,
            if dropped > 0 {
                format!("{dropped} events dropped while on")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

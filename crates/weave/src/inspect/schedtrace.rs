//! `WEAVE_SCHEDTRACE=1s`: one line per interval on stderr saying what the
//! scheduler did, as Go's `GODEBUG=schedtrace=1000`.
//!
//! ```text
//! weave schedtrace 1000ms: lwps 2 (busy 1, idle 1, in kernel 0) runqueue [3 0] global 0
//!   threads 12 (running 1, runnable 3, blocked 8) spawns/s 120 switches/s 4000 steals 3
//!   wakes 200 preempts 1
//! ```
//! (one line; folded here). `busy` LWPs run ULTs, `idle` ones sleep
//! waiting for work, `in kernel` ones are busy but the kernel has them
//! asleep (a blocking system call). `runqueue` lists the runnable ULTs
//! placed on each LWP, `global` the runnable ones placed nowhere yet.
//! Rates are over the interval; the counters of a busy LWP reach the
//! shared ones in batches (see `trace::counters`), so a line may lag by a
//! batch per LWP.
//!
//! A thread of its own (`weave-schedtrace`); reads the LWP and thread
//! tables and the trace counters, nothing else.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::thread::state;
use crate::thread::table::table;
use crate::thread::tcb::NO_LWP;
use crate::trace::{counters, Counters};

/// The interval of `WEAVE_SCHEDTRACE`, parsed as `weave env` checks it
/// (`config`: `1s`, `250ms`, `500us`, a bare number of milliseconds);
/// `None` for 0 (off). At least 1 ms.
pub(crate) fn parse_interval(raw: &str) -> Result<Option<Duration>, String> {
    let var = crate::config::variable("WEAVE_SCHEDTRACE").expect("in the table");
    match var.parse(raw).map_err(|e| e.to_string())? {
        crate::config::Value::Duration(d) if d.is_zero() => Ok(None),
        crate::config::Value::Duration(d) if d < Duration::from_millis(1) => Err(format!(
            "WEAVE_SCHEDTRACE={raw:?} is shorter than 1ms: a line per interval would flood stderr"
        )),
        crate::config::Value::Duration(d) => Ok(Some(d)),
        other => Err(format!(
            "WEAVE_SCHEDTRACE={raw:?} read as {other}, not an interval"
        )),
    }
}

/// Starts the thread that prints a line every `every`.
pub(crate) fn start(every: Duration) {
    let r = crate::os::threads::spawn(
        std::thread::Builder::new()
            .name("weave-schedtrace".into())
            .stack_size(256 * 1024),
        move || {
            let mut last = counters();
            let mut at = Instant::now();
            loop {
                std::thread::sleep(every);
                let now = Instant::now();
                let c = counters();
                eprintln!("{}", line(now - at, &last, &c));
                last = c;
                at = now;
            }
        },
    );
    if let Err(e) = r {
        eprintln!("weave: WEAVE_SCHEDTRACE: no thread for it: {e}");
    }
}

/// Whether the kernel has the thread `tid` asleep (`S` or `D`).
fn asleep_in_kernel(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_some_and(|c| c == 'S' || c == 'D')
}

/// One line for an interval of length `dt` between the counters `a` and `b`.
fn line(dt: Duration, a: &Counters, b: &Counters) -> String {
    let rt = crate::runtime::try_rt();
    let lwps: Vec<_> = rt
        .map(|rt| rt.lwps().filter(|l| l.is_alive()).collect())
        .unwrap_or_default();
    let idle = lwps.iter().filter(|l| l.is_sleeping()).count();
    let in_kernel = lwps
        .iter()
        .filter(|l| !l.is_sleeping() && crate::lwp::running_ult(l.running.load(Relaxed)).is_some())
        .filter(|l| asleep_in_kernel(l.tid()))
        .count();
    let max_index = lwps.iter().map(|l| l.index()).max().map_or(0, |m| m + 1);
    let mut queue = vec![0usize; max_index];
    let (mut running, mut runnable, mut blocked, mut global) = (0, 0, 0, 0);
    let t = table();
    for i in 0..t.carved() {
        let tcb = t.slot(i as u32);
        match tcb.state.load().run() {
            state::RUNNING => running += 1,
            state::RUNNABLE => {
                runnable += 1;
                match tcb.home.load(Relaxed) {
                    NO_LWP => global += 1,
                    h => {
                        if let Some(q) = queue.get_mut(h as usize) {
                            *q += 1;
                        }
                    }
                }
            }
            state::BLOCKING | state::BLOCKED => blocked += 1,
            _ => {}
        }
    }
    let secs = dt.as_secs_f64().max(1e-9);
    let rate = |x: u64, y: u64| (y.saturating_sub(x) as f64 / secs).round() as u64;
    let mut q = String::new();
    for (i, n) in lwps.iter().map(|l| queue[l.index()]).enumerate() {
        let _ = write!(q, "{}{n}", if i > 0 { " " } else { "" });
    }
    format!(
        "weave schedtrace {}ms: lwps {} (busy {}, idle {idle}, in kernel {in_kernel}) \
         runqueue [{q}] global {global} threads {} (running {running}, runnable {runnable}, \
         blocked {blocked}) spawns/s {} switches/s {} steals {} wakes {} preempts {}",
        dt.as_millis(),
        lwps.len(),
        lwps.len() - idle,
        running + runnable + blocked,
        rate(a.spawns, b.spawns),
        rate(a.runs, b.runs),
        b.steals.saturating_sub(a.steals),
        b.wakes.saturating_sub(a.wakes),
        b.preempts.saturating_sub(a.preempts),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_s_ms_us_or_bare_milliseconds() {
        assert_eq!(parse_interval("1s"), Ok(Some(Duration::from_secs(1))));
        assert_eq!(
            parse_interval("250ms"),
            Ok(Some(Duration::from_millis(250)))
        );
        assert_eq!(parse_interval("20"), Ok(Some(Duration::from_millis(20))));
        assert_eq!(parse_interval("2000us"), Ok(Some(Duration::from_millis(2))));
        assert_eq!(parse_interval("0"), Ok(None));
        assert!(parse_interval("10us")
            .unwrap_err()
            .contains("shorter than 1ms"));
        assert!(parse_interval("fast")
            .unwrap_err()
            .contains("expected a duration"));
    }
}

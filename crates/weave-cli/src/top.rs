//! `weave top PID`: a refreshed terminal view of a running weave program's
//! LWP and thread tables, as `top` shows processes. The program opens the
//! socket when started with `WEAVE_TOP=1` (`weave::top_socket_name`); each
//! connection gets one JSON frame, parsed here with `serde_json`. Rates
//! (switches per second, per LWP and per thread) come from two frames in a
//! row, so `--once` shows totals only.
//!
//! The view is redrawn with two ANSI sequences (cursor home, clear) and
//! plain lines: a table that refreshes needs no terminal UI crate, and
//! Ctrl-C ends it (nothing of the terminal's state is changed).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The options of `weave top`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The process id of a weave program started with WEAVE_TOP=1
    pid: u32,
    /// Print one frame and exit (no rates: they need two frames)
    #[arg(long)]
    once: bool,
    /// Time between refreshes, in milliseconds
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..))]
    interval: u64,
    /// Threads listed, busiest first
    #[arg(long, default_value_t = 20)]
    rows: usize,
}

pub fn run(args: &Args) -> Result<(), String> {
    let mut last: Option<(Instant, Value)> = None;
    loop {
        let frame = match fetch(args.pid) {
            Ok(f) => f,
            // The program ended between two refreshes: the view ends too.
            Err(e) if last.is_some() => {
                println!("weave top: process {} is gone ({e})", args.pid);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let prev = last.as_ref().map(|(at, f)| (now - *at, f));
        let text = render(&frame, prev, args.rows);
        if args.once {
            print!("{text}");
            return Ok(());
        }
        print!("\x1b[H\x1b[2J{text}");
        last = Some((now, frame));
        std::thread::sleep(Duration::from_millis(args.interval));
    }
}

/// One frame of process `pid`.
pub fn fetch(pid: u32) -> Result<Value, String> {
    let name = weave::top_socket_name(pid);
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| e.to_string())?;
    let mut s = UnixStream::connect_addr(&addr).map_err(|e| {
        format!(
            "cannot reach process {pid} (socket @{name}: {e}); start the program with \
             WEAVE_TOP=1 to let weave top read it"
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .map_err(|e| format!("reading a frame of process {pid}: {e}"))?;
    serde_json::from_str(&raw).map_err(|e| format!("process {pid} sent a bad frame: {e}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Per-second rate of the counter `now - before` over `dt`, or "-".
fn rate(now: u64, before: Option<u64>, dt: Option<Duration>) -> String {
    match (before, dt) {
        (Some(b), Some(dt)) if dt.as_secs_f64() > 0.0 => {
            format!("{:.0}", now.saturating_sub(b) as f64 / dt.as_secs_f64())
        }
        _ => "-".into(),
    }
}

/// The frame as text: a header, the LWP table, the busiest threads.
pub fn render(f: &Value, prev: Option<(Duration, &Value)>, rows: usize) -> String {
    let dt = prev.map(|p| p.0);
    let pf = prev.map(|p| p.1);
    let mut o = String::new();
    let st = &f["states"];
    let lwps = f["lwps"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(
        o,
        "weave top: pid {}, up {:.1} s, {} LWPs, {} threads (running {}, runnable {}, blocked {})",
        u(&f["pid"]),
        u(&f["uptimeMs"]) as f64 / 1000.0,
        lwps.len(),
        u(&f["threadsTotal"]),
        u(&st["running"]),
        u(&st["runnable"]),
        u(&st["blocked"])
    );
    let c = &f["counters"];
    let mut line = String::new();
    for k in ["spawns", "runs", "blocks", "wakes", "steals", "preempts"] {
        let before = pf.map(|p| u(&p["counters"][k]));
        let shown = if k == "runs" { "switches" } else { k };
        let _ = write!(
            line,
            "{shown} {} ({}/s)  ",
            u(&c[k]),
            rate(u(&c[k]), before, dt)
        );
    }
    let _ = writeln!(o, "{}\n", line.trim_end());
    let _ = writeln!(
        o,
        "{:<5} {:>8} {:<6} {:<5} {:>7} {:>10} {:>9}",
        "LWP", "TID", "KIND", "STATE", "PLACED", "SWITCHES", "SW/S"
    );
    let before_lwp: HashMap<u64, u64> = pf
        .and_then(|p| p["lwps"].as_array())
        .map(|a| {
            a.iter()
                .map(|l| (u(&l["index"]), u(&l["switches"])))
                .collect()
        })
        .unwrap_or_default();
    for l in &lwps {
        let sw = u(&l["switches"]);
        let _ = writeln!(
            o,
            "{:<5} {:>8} {:<6} {:<5} {:>7} {:>10} {:>9}",
            u(&l["index"]),
            u(&l["tid"]),
            if l["bound"].as_bool() == Some(true) {
                "bound"
            } else {
                "pool"
            },
            if l["idle"].as_bool() == Some(true) {
                "idle"
            } else {
                "busy"
            },
            u(&l["placed"]),
            sw,
            rate(sw, before_lwp.get(&u(&l["index"])).copied(), dt)
        );
    }
    let _ = writeln!(
        o,
        "\n{:<14} {:<20} {:<10} {:<20} {:>4} {:>4} {:>10} {:>8}",
        "THREAD", "NAME", "KIND", "STATE", "LWP", "PRIO", "SWITCHES", "SW/S"
    );
    let before_t: HashMap<u64, u64> = pf
        .and_then(|p| p["threads"].as_array())
        .map(|a| {
            a.iter()
                .map(|t| (u(&t["tid"]), u(&t["switches"])))
                .collect()
        })
        .unwrap_or_default();
    let mut threads = f["threads"].as_array().cloned().unwrap_or_default();
    // Busiest over the last interval first when there is one, else by total.
    let key = |t: &Value| {
        let sw = u(&t["switches"]);
        match dt {
            Some(_) => sw.saturating_sub(*before_t.get(&u(&t["tid"])).unwrap_or(&sw)),
            None => sw,
        }
    };
    threads.sort_by_key(|t| std::cmp::Reverse(key(t)));
    for t in threads.iter().take(rows) {
        let state = match t["reason"].as_str() {
            Some(r) => format!("{}({r})", t["state"].as_str().unwrap_or("?")),
            None => t["state"].as_str().unwrap_or("?").to_string(),
        };
        let sw = u(&t["switches"]);
        let name: String = t["name"].as_str().unwrap_or("-").chars().take(20).collect();
        let _ = writeln!(
            o,
            "{:<14} {:<20} {:<10} {:<20} {:>4} {:>4} {:>10} {:>8}",
            format!("ULT {}", u(&t["index"])),
            name,
            t["kind"].as_str().unwrap_or("?"),
            state,
            t["lwp"].as_u64().map_or("-".into(), |l| l.to_string()),
            u(&t["priority"]),
            sw,
            rate(sw, before_t.get(&u(&t["tid"])).copied(), dt)
        );
    }
    let total = u(&f["threadsTotal"]) as usize;
    if total > rows.min(threads.len()) {
        let _ = writeln!(o, "... {} more threads", total - rows.min(threads.len()));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(switches: u64) -> Value {
        serde_json::json!({
            "weaveTop": 1, "pid": 7, "uptimeMs": 1500,
            "counters": {"spawns": 3, "runs": switches, "blocks": 1, "wakes": 1, "steals": 0, "preempts": 0, "exits": 0},
            "lwps": [{"index": 0, "tid": 8, "bound": false, "idle": true, "placed": 2, "switches": switches}],
            "states": {"running": 0, "runnable": 0, "blocked": 2}, "threadsTotal": 2,
            "threads": [
                {"tid": 11, "index": 1, "name": "quiet", "kind": "ult", "state": "blocked", "reason": "Park", "lwp": 0, "priority": 16, "switches": 5},
                {"tid": 12, "index": 2, "name": "busy", "kind": "ult", "state": "runnable", "reason": null, "lwp": 0, "priority": 16, "switches": switches}
            ]
        })
    }

    #[test]
    fn a_second_frame_gives_rates_and_puts_the_busiest_thread_first() {
        let (a, b) = (frame(100), frame(600));
        let text = render(&b, Some((Duration::from_millis(500), &a)), 10);
        assert!(text.contains("switches 600 (1000/s)"), "{text}");
        let busy = text.find("busy ").unwrap();
        let quiet = text.find("quiet").unwrap();
        assert!(busy < quiet, "{text}");
        assert!(text.contains("blocked(Park)"), "{text}");
    }

    #[test]
    fn one_frame_shows_totals_and_no_rates() {
        let text = render(&frame(100), None, 1);
        assert!(text.contains("switches 100 (-/s)"), "{text}");
        assert!(text.contains("... 1 more threads"), "{text}");
    }
}

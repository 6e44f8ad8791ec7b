//! `weave top PID`: a refreshed terminal view of a running weave program's
//! LWP and thread tables, as `top` shows processes. The program opens the
//! socket when started with `WEAVE_TOP=1` (`weave::top_socket_name`); each
//! connection gets one JSON frame, parsed here with `serde_json`. Rates
//! (switches per second, per LWP and per thread) come from two frames in a
//! row, so `--once` shows totals only.
//!
//! The view is redrawn in place with plain lines and three ANSI
//! sequences: cursor home, then each line followed by "clear to the end
//! of the line", then "clear below". The screen is never blanked between
//! two frames, so nothing flickers however the terminal splits the
//! write, and the frame is cut to the terminal's height (the thread rows
//! go first) so that it never scrolls. Ctrl-C ends it: nothing of the
//! terminal's state (raw mode, alternate screen) is changed, so nothing
//! needs restoring. Why no terminal UI crate (ratatui, measured): see
//! `docs/DEPENDENCIES.md`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write as _};
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
        if args.once {
            print!("{}", render(&frame, prev, args.rows));
            return Ok(());
        }
        let height = terminal_height();
        let listed = frame["threads"].as_array().map_or(0, Vec::len);
        let text = fit(height, args.rows, listed, |rows| render(&frame, prev, rows));
        let mut out = std::io::stdout().lock();
        out.write_all(redraw(&text).as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| format!("writing the view: {e}"))?;
        drop(out);
        last = Some((now, frame));
        std::thread::sleep(Duration::from_millis(args.interval));
    }
}

/// The rows of the terminal on stdout, when stdout is one.
fn terminal_height() -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points to a local of that type; a bad fd only makes it fail.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some(usize::from(ws.ws_row))
}

/// The frame `render(rows)` gives with as many of its `rows` thread rows
/// (at most the `listed` threads of the frame) as fit in `height` lines,
/// all of them when the height is unknown; cut to `height` lines if even
/// the tables without threads do not fit.
fn fit(
    height: Option<usize>,
    rows: usize,
    listed: usize,
    render: impl Fn(usize) -> String,
) -> String {
    let mut rows = rows.min(listed);
    let mut text = render(rows);
    let Some(h) = height else { return text };
    // Each pass drops as many rows as lines overflow; leaving threads out
    // adds the one "... more threads" line, so this ends within a few.
    loop {
        let over = text.lines().count().saturating_sub(h);
        if over == 0 || rows == 0 {
            break;
        }
        rows = rows.saturating_sub(over);
        text = render(rows);
    }
    text.lines().take(h).collect::<Vec<_>>().join("\n")
}

/// The bytes that replace the previous frame with `text` in place: cursor
/// home, each line then "clear to the end of the line", then "clear
/// below". No "clear screen": the old frame stays until each line is
/// overwritten.
fn redraw(text: &str) -> String {
    let mut o = String::from("\x1b[H");
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        o.push_str(line);
        o.push_str("\x1b[K");
    }
    o.push_str("\x1b[J");
    o
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
    fn a_redraw_overwrites_in_place_and_never_blanks_the_screen() {
        let bytes = redraw("first\nsecond");
        assert_eq!(bytes, "\x1b[Hfirst\x1b[K\nsecond\x1b[K\x1b[J");
        assert!(!bytes.contains("\x1b[2J"));
    }

    #[test]
    fn a_short_terminal_gets_fewer_thread_rows_not_a_scroll() {
        let f = frame(100);
        let full = render(&f, None, 10);
        let lines = full.lines().count();
        // One line short: dropping one row adds the "more threads" line,
        // so both rows go, and that line says so.
        let text = fit(Some(lines - 1), 10, 2, |rows| render(&f, None, rows));
        assert_eq!(text.lines().count(), lines - 1, "{text}");
        assert!(text.ends_with("... 2 more threads"), "{text}");
    }

    #[test]
    fn without_a_terminal_height_every_row_is_kept() {
        let f = frame(100);
        assert_eq!(
            fit(None, 10, 2, |rows| render(&f, None, rows)),
            render(&f, None, 10)
        );
    }

    #[test]
    fn one_frame_shows_totals_and_no_rates() {
        let text = render(&frame(100), None, 1);
        assert!(text.contains("switches 100 (-/s)"), "{text}");
        assert!(text.contains("... 1 more threads"), "{text}");
    }
}

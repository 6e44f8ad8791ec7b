//! `weave top PID`: a refreshed terminal view of a running weave program's
//! LWP and thread tables, as `top` shows processes. The program opens the
//! socket when started with `WEAVE_TOP=1` (`weave::top_socket_name`); each
//! connection gets one JSON frame (`inspect/top.rs` in the library),
//! parsed here by serde into [`Frame`]: a key the view needs that is
//! missing, or of another type, is an error that names it, rather than a
//! column of zeros; keys the view does not know are ignored. Rates
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

use serde::Deserialize;

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

/// The frame format this view reads (the frame's `weaveTop`).
const FRAME_VERSION: u32 = 1;

/// One frame of a running program, as its socket sends it.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    weave_top: u32,
    pid: u32,
    uptime_ms: u64,
    counters: Counters,
    lwps: Vec<Lwp>,
    states: States,
    threads_total: usize,
    /// The busiest threads (the program caps how many it sends).
    threads: Vec<Thread>,
}

/// The runtime's event counters since it started.
#[derive(Deserialize, Debug)]
struct Counters {
    spawns: u64,
    /// Switches onto an LWP.
    runs: u64,
    blocks: u64,
    wakes: u64,
    steals: u64,
    preempts: u64,
}

#[derive(Deserialize, Debug)]
struct Lwp {
    index: u64,
    tid: u64,
    bound: bool,
    idle: bool,
    placed: u64,
    switches: u64,
}

/// Threads by state, all of them (not only those sent).
#[derive(Deserialize, Debug)]
struct States {
    running: u64,
    runnable: u64,
    blocked: u64,
}

#[derive(Deserialize, Debug)]
struct Thread {
    tid: u64,
    index: u64,
    name: Option<String>,
    kind: String,
    state: String,
    /// Why it waits, when blocked ("Park", "Mutex", ...).
    reason: Option<String>,
    lwp: Option<u64>,
    priority: u64,
    switches: u64,
}

pub fn run(args: &Args) -> Result<(), String> {
    let mut last: Option<(Instant, Frame)> = None;
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
        let text = fit(height, args.rows, frame.threads.len(), |rows| {
            render(&frame, prev, rows)
        });
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
pub fn fetch(pid: u32) -> Result<Frame, String> {
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
    parse(pid, &raw)
}

/// The frame process `pid` sent as `raw`, or what is wrong with it.
fn parse(pid: u32, raw: &str) -> Result<Frame, String> {
    let f: Frame =
        serde_json::from_str(raw).map_err(|e| format!("process {pid} sent a bad frame: {e}"))?;
    if f.weave_top != FRAME_VERSION {
        return Err(format!(
            "process {pid} sends frames of format {}, this weave top reads format \
             {FRAME_VERSION}: use the weave command of the weave version the program was \
             built with",
            f.weave_top
        ));
    }
    Ok(f)
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

/// The frame as text: a header, the LWP table, the busiest `rows` threads.
pub fn render(f: &Frame, prev: Option<(Duration, &Frame)>, rows: usize) -> String {
    let dt = prev.map(|p| p.0);
    let pf = prev.map(|p| p.1);
    let mut o = String::new();
    let st = &f.states;
    let _ = writeln!(
        o,
        "weave top: pid {}, up {:.1} s, {} LWPs, {} threads (running {}, runnable {}, blocked {})",
        f.pid,
        f.uptime_ms as f64 / 1000.0,
        f.lwps.len(),
        f.threads_total,
        st.running,
        st.runnable,
        st.blocked
    );
    let counters = |c: &Counters| {
        [
            ("spawns", c.spawns),
            ("switches", c.runs),
            ("blocks", c.blocks),
            ("wakes", c.wakes),
            ("steals", c.steals),
            ("preempts", c.preempts),
        ]
    };
    let before = pf.map(|p| counters(&p.counters));
    let mut line = String::new();
    for (i, (shown, now)) in counters(&f.counters).into_iter().enumerate() {
        let b = before.map(|b| b[i].1);
        let _ = write!(line, "{shown} {now} ({}/s)  ", rate(now, b, dt));
    }
    let _ = writeln!(o, "{}\n", line.trim_end());
    let _ = writeln!(
        o,
        "{:<5} {:>8} {:<6} {:<5} {:>7} {:>10} {:>9}",
        "LWP", "TID", "KIND", "STATE", "PLACED", "SWITCHES", "SW/S"
    );
    let before_lwp: HashMap<u64, u64> = pf
        .map(|p| p.lwps.iter().map(|l| (l.index, l.switches)).collect())
        .unwrap_or_default();
    for l in &f.lwps {
        let _ = writeln!(
            o,
            "{:<5} {:>8} {:<6} {:<5} {:>7} {:>10} {:>9}",
            l.index,
            l.tid,
            if l.bound { "bound" } else { "pool" },
            if l.idle { "idle" } else { "busy" },
            l.placed,
            l.switches,
            rate(l.switches, before_lwp.get(&l.index).copied(), dt)
        );
    }
    let _ = writeln!(
        o,
        "\n{:<14} {:<20} {:<10} {:<20} {:>4} {:>4} {:>10} {:>8}",
        "THREAD", "NAME", "KIND", "STATE", "LWP", "PRIO", "SWITCHES", "SW/S"
    );
    let before_t: HashMap<u64, u64> = pf
        .map(|p| p.threads.iter().map(|t| (t.tid, t.switches)).collect())
        .unwrap_or_default();
    let mut threads: Vec<&Thread> = f.threads.iter().collect();
    // Busiest over the last interval first when there is one, else by total.
    let key = |t: &Thread| match dt {
        Some(_) => t
            .switches
            .saturating_sub(*before_t.get(&t.tid).unwrap_or(&t.switches)),
        None => t.switches,
    };
    threads.sort_by_key(|t| std::cmp::Reverse(key(t)));
    for t in threads.iter().take(rows) {
        let state = match &t.reason {
            Some(r) => format!("{}({r})", t.state),
            None => t.state.clone(),
        };
        let name: String = t.name.as_deref().unwrap_or("-").chars().take(20).collect();
        let _ = writeln!(
            o,
            "{:<14} {:<20} {:<10} {:<20} {:>4} {:>4} {:>10} {:>8}",
            format!("ULT {}", t.index),
            name,
            t.kind,
            state,
            t.lwp.map_or("-".into(), |l| l.to_string()),
            t.priority,
            t.switches,
            rate(t.switches, before_t.get(&t.tid).copied(), dt)
        );
    }
    let shown = rows.min(threads.len());
    if f.threads_total > shown {
        let _ = writeln!(o, "... {} more threads", f.threads_total - shown);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(switches: u64) -> Frame {
        serde_json::from_value(frame_json(switches)).unwrap()
    }

    fn frame_json(switches: u64) -> serde_json::Value {
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
    fn a_frame_without_a_key_the_view_needs_is_refused_with_its_name() {
        let mut v = frame_json(1);
        v.as_object_mut().unwrap().remove("uptimeMs");
        let e = parse(7, &v.to_string()).unwrap_err();
        assert!(e.contains("process 7 sent a bad frame"), "{e}");
        assert!(e.contains("uptimeMs"), "{e}");
    }

    #[test]
    fn a_frame_of_another_format_is_refused() {
        let mut v = frame_json(1);
        v["weaveTop"] = 2.into();
        let e = parse(7, &v.to_string()).unwrap_err();
        assert!(e.contains("format 2"), "{e}");
    }

    #[test]
    fn keys_the_view_does_not_know_are_ignored() {
        let mut v = frame_json(1);
        v["threads"][0]["newKey"] = "later".into();
        assert!(parse(7, &v.to_string()).is_ok());
    }

    #[test]
    fn one_frame_shows_totals_and_no_rates() {
        let text = render(&frame(100), None, 1);
        assert!(text.contains("switches 100 (-/s)"), "{text}");
        assert!(text.contains("... 1 more threads"), "{text}");
    }
}

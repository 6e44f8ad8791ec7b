//! `WEAVE_SCHEDTRACE`: one line per interval on stderr, in a fixed shape.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CHILD: &str = "WEAVE_SCHEDTRACE_CHILD";

/// The child: keeps a few ULTs spawning and yielding until its stdin
/// closes (the parent closes it once it has read the lines it needs, so
/// however slowly the machine runs the child, it runs long enough).
#[test]
fn schedtrace_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("watchdog: the parent did not close stdin in 60 s");
        std::process::exit(3);
    });
    let stop = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            weave::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    weave::thread::spawn(|| ()).join().unwrap();
                    weave::thread::yield_now();
                }
            })
        })
        .collect();
    std::io::stdin().read_to_end(&mut Vec::new()).unwrap();
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.join().unwrap();
    }
}

/// The numbers of a line, by field name.
fn field(line: &str, name: &str) -> u64 {
    let rest = &line[line
        .find(name)
        .unwrap_or_else(|| panic!("{name} missing: {line}"))
        + name.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name} has no number: {line}"))
}

/// Checks the shape of one line; returns its spawns per second.
fn check_line(l: &str) -> u64 {
    let ms = field(l, "weave schedtrace ");
    assert!(ms >= 20, "an interval of {ms} ms: {l}");
    assert_eq!(field(l, "lwps "), 2, "{l}");
    let busy = field(l, "busy ");
    let idle = field(l, "idle ");
    assert_eq!(busy + idle, 2, "{l}");
    field(l, "in kernel ");
    assert!(l.contains("runqueue ["), "{l}");
    let threads = field(l, "threads ");
    let by_state = field(l, "running ") + field(l, "runnable ") + field(l, "blocked ");
    assert_eq!(threads, by_state, "{l}");
    for f in ["switches/s ", "steals ", "wakes ", "preempts "] {
        field(l, f);
    }
    field(l, "spawns/s ")
}

/// The child prints a line per 20 ms while it works; the parent reads them
/// as they come and lets the child stop at the first line that counted
/// spawns. A busy LWP's counters reach the shared ones in batches, so the
/// first lines may count none: how many lines that takes depends on the
/// machine's speed, not on a number of milliseconds.
#[test]
fn schedtrace_prints_lines_that_parse_at_the_interval() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "schedtrace_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("WEAVE_SCHEDTRACE", "20ms")
        .env("WEAVE_LWPS", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take();
    let mut err = String::new();
    let (mut lines, mut counted_spawns) = (0, false);
    for l in BufReader::new(child.stderr.take().unwrap()).lines() {
        let l = l.unwrap();
        err.push_str(&l);
        err.push('\n');
        if !l.starts_with("weave schedtrace ") {
            continue;
        }
        lines += 1;
        if check_line(&l) > 0 && !counted_spawns {
            counted_spawns = true;
            drop(stdin.take()); // the child stops and exits
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}\n{err}");
    assert!(lines > 0, "no schedtrace line:\n{err}");
    assert!(counted_spawns, "no line counted the spawns:\n{err}");
}

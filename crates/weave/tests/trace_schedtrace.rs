//! `WEAVE_SCHEDTRACE`: one line per interval on stderr, in a fixed shape.

use std::process::Command;
use std::time::Duration;

const CHILD: &str = "WEAVE_SCHEDTRACE_CHILD";

/// The child: keeps a few ULTs busy for a while (many intervals).
#[test]
fn schedtrace_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let end = std::time::Instant::now() + Duration::from_millis(400);
    let hs: Vec<_> = (0..4)
        .map(|_| {
            weave::thread::spawn(move || {
                while std::time::Instant::now() < end {
                    weave::thread::spawn(|| ()).join().unwrap();
                    weave::thread::yield_now();
                }
            })
        })
        .collect();
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

#[test]
fn schedtrace_prints_lines_that_parse_at_the_interval() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "schedtrace_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("WEAVE_SCHEDTRACE", "20ms")
        .env("WEAVE_LWPS", "2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("weave schedtrace "))
        .collect();
    // 400 ms of work at a 20 ms interval: about 20 lines; one is enough
    // to check the shape, and any machine prints it.
    assert!(!lines.is_empty(), "{err}");
    for l in &lines {
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
        for f in ["spawns/s ", "switches/s ", "steals ", "wakes ", "preempts "] {
            field(l, f);
        }
    }
    let spawns: u64 = lines.iter().map(|l| field(l, "spawns/s ")).sum();
    assert!(spawns > 0, "spawns were counted: {lines:?}");
}

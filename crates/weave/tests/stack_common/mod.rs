//! What the stack tests share (`stack_trim.rs`, `stack_compact.rs`,
//! `burst_memory.rs`, `monitor.rs`): a recursion that writes and checks a
//! pattern in every 4 KiB frame, a watchdog wait, and the resident set.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Recurses `depth` frames of 4 KiB each, writing and then checking a
/// pattern in every frame; returns a checksum.
#[inline(never)]
pub fn deep(depth: usize, seed: u64) -> u64 {
    let mut frame = [0u64; 512];
    for (i, v) in frame.iter_mut().enumerate() {
        *v = seed ^ (i as u64) ^ (depth as u64) << 32;
    }
    let below = if depth > 1 { deep(depth - 1, seed) } else { 0 };
    let frame = black_box(&frame);
    for (i, v) in frame.iter().enumerate() {
        assert_eq!(
            *v,
            seed ^ (i as u64) ^ (depth as u64) << 32,
            "frame {depth} changed"
        );
    }
    below.wrapping_add(frame[7])
}

/// Waits until `ok`, polling; a minute without it fails the test (a
/// watchdog, not a timing).
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "watchdog: {what} did not happen"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The resident set of this process, in bytes.
pub fn vm_rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 1024
}

/// Runs the test `child` of this test binary alone in a child process with
/// `env` set (the memory tests measure a resident set no other test
/// moves), checks that it passed, and returns the number it printed after
/// `tag` (the harness's own output may share a line with it).
pub fn child_number(child: &str, env: &str, tag: &str) -> usize {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once(tag).map(|(_, v)| v.trim().to_owned()))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {tag} line: {stdout}"))
}

//! What the peers harnesses share: the command line, the workload sizes,
//! the JSON line each process prints, resident-memory and percentile
//! helpers, and the HTTP "hello" request handling. The workloads
//! themselves are `src/blocking.rs` (std-shaped: the weave, std and may
//! binaries include it) and `src/tokio.rs` (the tokio binaries), each
//! binary in `src/bin/` naming its runtime's own primitives;
//! `benches/peers/go/main.go` is the Go twin and must keep the same sizes,
//! names and output.
//!
//! Command line of every harness (the Go one too):
//!
//! ```text
//! <harness> <workload> <workers> [--quick] [--port P]
//! ```
//!
//! It runs one workload once in this process and prints one JSON line:
//! `{"runtime":..,"workload":..,"workers":..,"n":..,"metrics":{..},"note":..}`,
//! or `{"runtime":..,"workload":..,"workers":..,"skipped":"why"}` when the
//! runtime has nothing to measure it with. `http` serves until killed and
//! prints `{"listening":PORT}` once it accepts.

use std::io::Write;
use std::time::Duration;

/// The workloads, in the order the runner shows them.
pub const WORKLOADS: &[&str] = &[
    "spawn_join",
    "spawn_batch",
    "yield",
    "pingpong_rendezvous",
    "pingpong_bounded1",
    "os_pingpong",
    "mutex",
    "idle_memory",
    "idle_long",
    "wake_busy",
    "sleepers",
    "http",
];

/// A parsed command line.
pub struct Args {
    pub workload: String,
    pub workers: usize,
    pub quick: bool,
    pub port: u16,
}

impl Args {
    /// Parses `std::env::args()`; exits with a usage message on an error.
    pub fn parse(runtime: &str) -> Args {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let usage = || -> ! {
            eprintln!(
                "usage: {runtime} <workload> <workers> [--quick] [--port P]\nworkloads: {}",
                WORKLOADS.join(" ")
            );
            std::process::exit(2)
        };
        if argv.len() < 2 || !WORKLOADS.contains(&argv[0].as_str()) {
            usage();
        }
        let workers = match argv[1].parse::<usize>() {
            Ok(w) if w >= 1 => w,
            _ => usage(),
        };
        let mut a = Args {
            workload: argv[0].clone(),
            workers,
            quick: false,
            port: 8080,
        };
        let mut rest = argv[2..].iter();
        while let Some(flag) = rest.next() {
            match flag.as_str() {
                "--quick" => a.quick = true,
                "--port" => match rest.next().and_then(|p| p.parse().ok()) {
                    Some(p) => a.port = p,
                    None => usage(),
                },
                _ => usage(),
            }
        }
        a
    }

    /// Full size, or the `--quick` one.
    pub fn size(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// Workload sizes, shared so that every runtime runs the same counts. The
/// std harness uses smaller counts where noted (OS threads cost ~10 µs to
/// spawn and two memory mappings each, so 100,000 of them would pass the
/// kernel's default `vm.max_map_count`); per-item figures stay comparable.
pub mod size {
    /// Threads spawned, then joined, per round of `spawn_join`.
    pub const SPAWN: (usize, usize) = (100_000, 20_000);
    pub const SPAWN_STD: (usize, usize) = (20_000, 5_000);
    /// Batches of `BATCH` in `spawn_batch`.
    pub const BATCHES: (usize, usize) = (100, 20);
    pub const BATCHES_STD: (usize, usize) = (20, 5);
    pub const BATCH: usize = 1_000;
    /// Yields per thread.
    pub const YIELDS: (usize, usize) = (1_000_000, 200_000);
    pub const YIELDS_STD: (usize, usize) = (100_000, 25_000);
    /// Round trips of the ping-pongs.
    pub const TRIPS: (usize, usize) = (200_000, 50_000);
    pub const TRIPS_STD: (usize, usize) = (20_000, 5_000);
    /// Round trips between an OS thread and a runtime thread.
    pub const OS_TRIPS: (usize, usize) = (50_000, 10_000);
    /// Contending threads, and locks each.
    pub const MUTEX_THREADS: usize = 1_000;
    pub const MUTEX_PER: (usize, usize) = (1_000, 200);
    /// Parked threads whose resident memory is measured.
    pub const PARKED: (usize, usize) = (100_000, 20_000);
    pub const PARKED_STD: (usize, usize) = (10_000, 5_000);
    /// How long `idle_memory` waits after the last thread reached its wait
    /// before it reads the resident set (it parks after counting itself).
    pub const SETTLE: std::time::Duration = std::time::Duration::from_millis(200);
    /// How long `idle_long` does: past weave's default compaction
    /// threshold (10 s) and its next trim pass (1 s).
    pub const LONG_IDLE: std::time::Duration = std::time::Duration::from_secs(12);
    /// Wakes sampled, and how long the waker stays busy after each.
    pub const WAKES: (usize, usize) = (2_000, 500);
    pub const WAKER_BUSY: std::time::Duration = std::time::Duration::from_micros(100);
    /// Threads that each sleep `SLEEPS` times `NAP` in `sleepers`: the
    /// figure is the wall time from their common start to the last one's
    /// end, against the ideal `SLEEPS * NAP` (10 ms).
    pub const SLEEPERS: (usize, usize) = (100_000, 20_000);
    pub const SLEEPERS_STD: (usize, usize) = (10_000, 5_000);
    pub const SLEEPS: u32 = 10;
    pub const NAP: std::time::Duration = std::time::Duration::from_millis(1);
}

/// A measured value, named.
pub type Metric = (&'static str, f64);

/// Prints the result line of a measured workload.
pub fn emit(runtime: &str, a: &Args, n: usize, metrics: &[Metric], note: &str) {
    let ms: Vec<String> = metrics
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v:.3}"))
        .collect();
    line(&format!(
        "{{\"runtime\":\"{runtime}\",\"workload\":\"{}\",\"workers\":{},\"n\":{n},\"metrics\":{{{}}},\"note\":\"{}\"}}",
        a.workload,
        a.workers,
        ms.join(","),
        escape(note)
    ));
}

/// Prints the line of a workload this runtime cannot run, and why.
pub fn skip(runtime: &str, a: &Args, why: &str) {
    line(&format!(
        "{{\"runtime\":\"{runtime}\",\"workload\":\"{}\",\"workers\":{},\"skipped\":\"{}\"}}",
        a.workload,
        a.workers,
        escape(why)
    ));
}

/// Prints the line that tells the runner an `http` server accepts.
pub fn listening(port: u16) {
    line(&format!("{{\"listening\":{port}}}"));
}

fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Nanoseconds per item.
pub fn per(d: Duration, items: usize) -> f64 {
    d.as_nanos() as f64 / items as f64
}

/// The process's resident set (VmRSS) in bytes.
pub fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

/// The `q` quantile (0..=1) of `v`, nearest rank.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Restricts this process's threads created from now on (and the caller)
/// to CPUs `0..n`: the std harness's meaning of "workers".
pub fn limit_cpus(n: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; pid 0 is the caller.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in 0..n {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
    }
}

/// Raises the open-files limit to its hard limit (for 1,000 connections).
pub fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit on a valid rlimit struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// The one response of the hello server (keep-alive).
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";

/// The hello server's request handling, the same in every harness (the Go
/// one has a line-for-line twin): bytes in, one `RESPONSE` out per complete
/// request head (a request ends at its blank line; wrk sends no bodies),
/// pipelining allowed.
pub struct Hello {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of a head.
    scanned: usize,
    pub out: Vec<u8>,
}

impl Default for Hello {
    fn default() -> Self {
        Hello {
            buf: Vec::with_capacity(4096),
            scanned: 0,
            out: Vec::with_capacity(4096),
        }
    }
}

impl Hello {
    /// Takes what a read returned; fills `out` with the responses due.
    pub fn received(&mut self, bytes: &[u8]) {
        self.out.clear();
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        let mut i = self.scanned.saturating_sub(3);
        while i + 4 <= self.buf.len() {
            if &self.buf[i..i + 4] == b"\r\n\r\n" {
                self.out.extend_from_slice(RESPONSE);
                start = i + 4;
                i = start;
            } else {
                i += 1;
            }
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_and_split_requests_get_one_response_each() {
        let mut h = Hello::default();
        h.received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n");
        assert_eq!(h.out, RESPONSE);
        h.received(b"Host: x\r\n\r");
        assert!(h.out.is_empty());
        h.received(b"\n");
        assert_eq!(h.out, RESPONSE);
    }
}

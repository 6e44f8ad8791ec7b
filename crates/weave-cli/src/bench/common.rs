//! What every `weave bench` workload file shares: the measurement a
//! workload returns, the run options, medians, the one-LWP pool, the
//! resident set, and the fresh child process of the memory workloads.

use std::process::Command;

/// One measured workload.
pub(super) struct Measurement {
    pub(super) name: &'static str,
    /// Ends in `/s` for a rate (higher is better), as `msg/s`.
    pub(super) unit: &'static str,
    pub(super) weave: f64,
    pub(super) baseline: Option<f64>,
    pub(super) n: usize,
    pub(super) note: Option<String>,
    /// Extra figures worth printing (e.g. seconds to spawn a million).
    pub(super) extra: Vec<(&'static str, f64)>,
}

impl Measurement {
    pub(super) fn is_rate(&self) -> bool {
        self.unit.ends_with("/s")
    }

    /// How many times better weave did than the baseline: std/weave for
    /// a cost, weave/std for a rate.
    pub(super) fn ratio(&self) -> Option<f64> {
        let b = self.baseline?;
        Some(if self.is_rate() {
            self.weave / b
        } else {
            b / self.weave
        })
    }
}

pub(super) struct Opts {
    pub(super) quick: bool,
}

impl Opts {
    pub(super) fn rounds(&self) -> usize {
        if self.quick {
            3
        } else {
            7
        }
    }
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `f` `rounds` times and returns the median of what it returns;
/// the progress line (on a terminal) shows the round running.
pub(super) fn rounds(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    median(
        (0..n)
            .map(|k| {
                super::progress::round(k + 1, n);
                f()
            })
            .collect(),
    )
}

/// Runs `f` on a pool of one LWP, restoring automatic concurrency after.
pub(super) fn on_one_lwp<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    weave::set_concurrency(1).map_err(|e| e.to_string())?;
    let r = f();
    weave::set_concurrency(0).map_err(|e| e.to_string())?;
    Ok(r)
}

/// Resident set size of this process, in bytes.
pub(super) fn rss() -> Result<usize, String> {
    let s = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS in /proc/self/status")?;
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or("unreadable VmRSS")?;
    Ok(kb * 1024)
}

/// Runs this executable as `bench --child ARGS` and returns its RESULT line.
pub(super) fn in_child(args: &[&str]) -> Result<Vec<f64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("bench")
        .arg("--child")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run the child process: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .ok_or_else(|| {
            format!(
                "the child process for {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    line.split_whitespace()
        .skip(1)
        .map(|v| v.parse::<f64>().map_err(|e| e.to_string()))
        .collect()
}

/// Median and 99th percentile of samples in ns.
pub(super) fn median_p99(mut v: Vec<u64>) -> (f64, f64) {
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99))
}

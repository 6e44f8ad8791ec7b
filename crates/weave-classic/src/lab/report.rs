//! What the lab saw, as data, as a table and as JSON.

use super::{LabOptions, PROBE_ENTRIES};
use std::fmt;
use std::time::Duration;

/// Everything [`run`](super::run) measured, one row per algorithm.
///
/// `Display` prints the table a person reads; [`to_json`](Self::to_json)
/// gives the same figures to a program.
#[derive(Clone, Debug, PartialEq)]
pub struct LabReport {
    /// The options the lab ran with.
    pub options: LabOptions,
    /// One row per algorithm, in the order of the course notes.
    pub rows: Vec<AlgorithmReport>,
}

/// What one algorithm did in the lab.
#[derive(Clone, Debug, PartialEq)]
pub struct AlgorithmReport {
    /// The algorithm, as the course notes name it.
    pub name: &'static str,
    /// One line on what to look for in this row.
    pub note: &'static str,
    /// Threads in the contention phase.
    pub threads: usize,
    /// Entries into the critical region in the contention phase.
    pub entries: u64,
    /// Entries that found another thread already inside: mutual-exclusion
    /// violations seen.
    pub violations: u64,
    /// Increments of the load-then-store counter lost to overlapping
    /// critical regions (`entries` minus the counter's final value).
    pub lost_updates: u64,
    /// Whether thread 0 could enter while every other thread stayed out.
    pub progress: Progress,
    /// Entries of the thread that entered least.
    pub min_thread_entries: u64,
    /// The longest time one thread waited between wanting in and being in.
    pub max_wait: Duration,
    /// The most entries by others between one thread's passing the doorway
    /// and its own entry (see the [module docs](super)).
    pub max_overtakes: u64,
    /// Wall-clock length of the contention phase.
    pub elapsed: Duration,
}

/// The result of the progress probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Thread 0 got in every time it asked.
    Ok,
    /// Thread 0 got in `entered` times out of `wanted`, then waited in vain
    /// while no one else was inside or trying.
    Stalled {
        /// Entries granted before the stall.
        entered: u32,
        /// Entries asked for.
        wanted: u32,
    },
}

impl AlgorithmReport {
    /// Entries per second in the contention phase.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.entries as f64 / secs
        } else {
            0.0
        }
    }

    /// The least lucky thread's entries as a fraction of an even split: 1.0
    /// when every thread entered equally often, near 0 when one starved.
    pub fn min_share(&self) -> f64 {
        if self.entries == 0 {
            return 0.0;
        }
        self.min_thread_entries as f64 * self.threads as f64 / self.entries as f64
    }
}

impl LabReport {
    /// The row of the algorithm called `name`, if the lab ran it.
    pub fn row(&self, name: &str) -> Option<&AlgorithmReport> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// The report as one JSON object: `options`, then `algorithms` with one
    /// object per row. Durations are in nanoseconds (`duration_ns`,
    /// `patience_ns`, `max_wait_ns`, `elapsed_ns`); the progress probe is
    /// `progress` (`"ok"` or `"stalled"`) with `progress_entered` and
    /// `progress_wanted`; `entries_per_second` is a whole number.
    ///
    /// Only with the crate's `json` feature, which brings `serde` and
    /// `serde_json`; the locks themselves need neither.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        serde_json::to_string(&json::Report::of(self))
            .expect("a lab report serialises: its keys are strings and its figures integers")
    }
}

/// The shape of [`LabReport::to_json`]: one struct per JSON object, so the
/// keys and their order are declarations, not format strings.
#[cfg(feature = "json")]
mod json {
    use super::{AlgorithmReport, LabReport, Progress, PROBE_ENTRIES};
    use serde::Serialize;

    #[derive(Serialize)]
    pub(super) struct Report<'a> {
        options: Options,
        algorithms: Vec<Row<'a>>,
    }

    #[derive(Serialize)]
    struct Options {
        duration_ns: u128,
        threads: usize,
        lock_variable_window: u32,
        critical_work: u32,
        noncritical_work: u32,
        patience_ns: u128,
    }

    #[derive(Serialize)]
    struct Row<'a> {
        name: &'a str,
        note: &'a str,
        threads: usize,
        entries: u64,
        violations: u64,
        lost_updates: u64,
        progress: &'static str,
        progress_entered: u32,
        progress_wanted: u32,
        min_thread_entries: u64,
        max_wait_ns: u128,
        max_overtakes: u64,
        elapsed_ns: u128,
        entries_per_second: u64,
    }

    impl<'a> Report<'a> {
        pub(super) fn of(report: &'a LabReport) -> Self {
            let o = &report.options;
            Report {
                options: Options {
                    duration_ns: o.duration.as_nanos(),
                    threads: o.threads,
                    lock_variable_window: o.lock_variable_window,
                    critical_work: o.critical_work,
                    noncritical_work: o.noncritical_work,
                    patience_ns: o.patience.as_nanos(),
                },
                algorithms: report.rows.iter().map(Row::of).collect(),
            }
        }
    }

    impl<'a> Row<'a> {
        fn of(r: &'a AlgorithmReport) -> Self {
            let (progress, progress_entered, progress_wanted) = match r.progress {
                Progress::Ok => ("ok", PROBE_ENTRIES, PROBE_ENTRIES),
                Progress::Stalled { entered, wanted } => ("stalled", entered, wanted),
            };
            Row {
                name: r.name,
                note: r.note,
                threads: r.threads,
                entries: r.entries,
                violations: r.violations,
                lost_updates: r.lost_updates,
                progress,
                progress_entered,
                progress_wanted,
                min_thread_entries: r.min_thread_entries,
                max_wait_ns: r.max_wait.as_nanos(),
                max_overtakes: r.max_overtakes,
                elapsed_ns: r.elapsed.as_nanos(),
                entries_per_second: r.throughput().round() as u64,
            }
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Ok => f.pad("ok"),
            Progress::Stalled { entered, wanted } => f.pad(&format!("STALLED {entered}/{wanted}")),
        }
    }
}

impl fmt::Display for LabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "weave lab: {} per algorithm on OS threads, {} threads for the N-thread locks, \
             2 for the two-thread ones and disabling interrupts; lock-variable window {} spins",
            human_duration(o.duration),
            o.threads,
            o.lock_variable_window
        )?;
        writeln!(f)?;
        let name_width = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max("algorithm".len());
        writeln!(
            f,
            "{:<name_width$}  {:>3}  {:>9}  {:>10}  {:>7}  {:<13}  {:>9}  {:>9}  {:>5}  {:>10}",
            "algorithm",
            "thr",
            "entries",
            "violations",
            "lost",
            "progress",
            "max wait",
            "overtakes",
            "share",
            "entries/s",
        )?;
        writeln!(f, "{}", "-".repeat(name_width + 93))?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<name_width$}  {:>3}  {:>9}  {:>10}  {:>7}  {:<13}  {:>9}  {:>9}  {:>4.0}%  {:>10}",
                r.name,
                r.threads,
                r.entries,
                r.violations,
                r.lost_updates,
                r.progress,
                human_duration(r.max_wait),
                r.max_overtakes,
                r.min_share() * 100.0,
                human_rate(r.throughput()),
            )?;
        }
        writeln!(f)?;
        for r in &self.rows {
            writeln!(f, "{:<name_width$}  {}", r.name, r.note)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "violations: entries that found another thread inside. lost: increments lost by \
             overlapping `counter = counter + 1`.\n\
             progress: could thread 0 enter {PROBE_ENTRIES} times while the others stayed \
             outside. max wait: longest time from wanting in to being in.\n\
             overtakes: most entries by others while one thread waited after its doorway \
             (ticket taken, flag raised), or after wanting in for locks without one.\n\
             share: entries of the least lucky thread against an even split."
        )
    }
}

/// `1.2 µs`, `3.4 ms`: three significant digits, an SI unit.
fn human_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `12.3 M`, `456 k`: entries per second at a glance.
fn human_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "json")]
    fn report() -> LabReport {
        let row = |name, progress| AlgorithmReport {
            name,
            note: "a \"quoted\" note\twith a tab \\ and a backslash",
            threads: 4,
            entries: 1_000,
            violations: 3,
            lost_updates: 2,
            progress,
            min_thread_entries: 200,
            max_wait: Duration::from_micros(1_500),
            max_overtakes: 7,
            elapsed: Duration::from_millis(3),
        };
        LabReport {
            options: LabOptions::quick(),
            rows: vec![
                row("Peterson", Progress::Ok),
                row(
                    "strict alternation",
                    Progress::Stalled {
                        entered: 1,
                        wanted: 3,
                    },
                ),
            ],
        }
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_notes_keep_their_quotes_tabs_and_backslashes() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(
            v["algorithms"][0]["note"],
            "a \"quoted\" note\twith a tab \\ and a backslash"
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_of_a_stalled_probe_says_how_far_it_got() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        let ok = &v["algorithms"][0];
        assert_eq!(ok["progress"], "ok");
        assert_eq!(ok["progress_entered"], PROBE_ENTRIES);
        let row = &v["algorithms"][1];
        assert_eq!(row["progress"], "stalled");
        assert_eq!(row["progress_entered"], 1);
        assert_eq!(row["progress_wanted"], 3);
        assert_eq!(row["max_wait_ns"], 1_500_000);
        assert_eq!(row["entries_per_second"], 333_333);
        assert_eq!(
            v["options"]["duration_ns"],
            LabOptions::quick().duration.as_nanos() as u64
        );
    }

    #[test]
    fn durations_print_in_the_unit_that_fits() {
        assert_eq!(human_duration(Duration::from_nanos(850)), "850 ns");
        assert_eq!(human_duration(Duration::from_nanos(12_345)), "12.3 µs");
        assert_eq!(human_duration(Duration::from_micros(4_560)), "4.6 ms");
        assert_eq!(human_duration(Duration::from_millis(1_500)), "1.50 s");
    }

    #[test]
    fn stalled_progress_prints_how_far_it_got() {
        let stalled = Progress::Stalled {
            entered: 1,
            wanted: 3,
        };
        assert_eq!(stalled.to_string(), "STALLED 1/3");
        assert_eq!(format!("{:<6}|", Progress::Ok), "ok    |");
    }
}

//! `weave lab`: the classic mutual-exclusion proposals run for a moment on
//! real threads, with a table of which conditions each one met. All the
//! work is in `weave_classic::lab`; this applies the options and, for
//! `--json`, writes the report through serde.
//!
//! The JSON is the shape `LabReport::to_json` documents (and the lab's
//! example prints): `options`, then `algorithms` with one object per row,
//! durations in nanoseconds, the progress probe as `progress` ("ok" or
//! "stalled") with `progress_entered` and `progress_wanted`. A test below
//! holds the two to the same value, so neither can drift alone.

use serde::Serialize;
use weave_classic::lab::{self, AlgorithmReport, LabOptions, LabReport, Progress, PROBE_ENTRIES};

/// The options of `weave lab`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run each algorithm for a shorter time
    #[arg(long)]
    quick: bool,
    /// Print the table as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<(), String> {
    let opts = if args.quick {
        LabOptions::quick()
    } else {
        LabOptions::default()
    };
    let report = lab::run(opts);
    if args.json {
        println!("{}", to_json(&report));
    } else {
        print!("{report}");
    }
    Ok(())
}

/// The report as `--json` prints it.
#[derive(Serialize)]
struct Report<'a> {
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
    /// Whole entries per second: a count, so no fraction.
    entries_per_second: u64,
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

fn to_json(report: &LabReport) -> String {
    let o = &report.options;
    let report = Report {
        options: Options {
            duration_ns: o.duration.as_nanos(),
            threads: o.threads,
            lock_variable_window: o.lock_variable_window,
            critical_work: o.critical_work,
            noncritical_work: o.noncritical_work,
            patience_ns: o.patience.as_nanos(),
        },
        algorithms: report.rows.iter().map(Row::of).collect(),
    };
    serde_json::to_string(&report).expect("a lab report serialises: its keys are strings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::time::Duration;

    fn report() -> LabReport {
        let row = |name, progress| AlgorithmReport {
            name,
            note: "a \"quoted\" note\twith a tab",
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

    #[test]
    fn the_json_is_the_value_the_library_documents() {
        let r = report();
        let ours: Value = serde_json::from_str(&to_json(&r)).unwrap();
        let library: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(ours, library);
    }

    #[test]
    fn a_stalled_probe_says_how_far_it_got() {
        let v: Value = serde_json::from_str(&to_json(&report())).unwrap();
        let row = &v["algorithms"][1];
        assert_eq!(row["progress"], "stalled");
        assert_eq!(row["progress_entered"], 1);
        assert_eq!(row["progress_wanted"], 3);
        assert_eq!(row["entries_per_second"], 333_333);
    }
}

//! `weave trace`: a recorded trace (`WEAVE_TRACE`, `weave::trace::record`)
//! turned into something to look at.
//!
//! - `weave trace view FILE -o OUT.html`: one self-contained HTML page, a
//!   timeline with a lane per LWP (`html.rs`);
//! - `weave trace export FILE -o OUT.json`: the Chrome trace event format,
//!   which Perfetto and `chrome://tracing` open (`chrome.rs`);
//! - `weave trace wakes FILE`: how long woken ULTs waited for their run, by
//!   the path the wake took (same LWP, another LWP while theirs slept or
//!   ran, off the pool): a table (`wakes.rs`), with the part of the waits
//!   during which a sibling LWP slept, and each LWP's busy and asleep time.
//!
//! Both read the file with `weave::trace::format::read` and start from the
//! [`Timeline`] that `timeline.rs` builds: which ULT ran on which LWP when, the
//! wake-ups as flows from the waker's LWP to the run they led to, idle
//! spans, marks (steals, preemption requests, LWPs blocked in the kernel,
//! LWPs started and retired, lost events), each ULT's state history, and
//! the summaries per ULT and per LWP.

mod chrome;
mod html;
mod timeline;
mod wakes;

use std::path::{Path, PathBuf};

use weave::trace::format;

use timeline::Timeline;

/// The options of `weave trace`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Write a self-contained HTML timeline of a trace: a lane per LWP,
    /// wake-ups as flows, summaries per ULT and per LWP
    View {
        /// The trace file (from WEAVE_TRACE=FILE or weave::trace::record)
        trace: PathBuf,
        /// The HTML file to write
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write a trace in the Chrome trace event format (opens in Perfetto
    /// and chrome://tracing)
    Export {
        /// The trace file (from WEAVE_TRACE=FILE or weave::trace::record)
        trace: PathBuf,
        /// The JSON file to write
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print how long woken ULTs waited for their run, by the path of the
    /// wake: on their own LWP, from another LWP while theirs slept or ran,
    /// or off the LWPs (p50, p90, p99, max); how much of those waits a
    /// sibling LWP slept through; each LWP's busy and asleep time
    Wakes {
        /// The trace file (from WEAVE_TRACE=FILE or weave::trace::record)
        trace: PathBuf,
    },
}

pub fn run(args: &Args) -> Result<(), String> {
    let (input, output, html) = match &args.command {
        Command::View { trace, output } => (trace, output, true),
        Command::Export { trace, output } => (trace, output, false),
        Command::Wakes { trace } => {
            let t = format::read(trace).map_err(|e| format!("cannot read the trace: {e}"))?;
            print!("{}", wakes::table(&Timeline::build(&t)));
            return Ok(());
        }
    };
    println!("weave trace: {}", write(input, output, html)?);
    Ok(())
}

/// Reads the trace at `input` and writes its HTML view (`html`) or its
/// Chrome export to `output`; returns a one-line summary ending with the
/// output's path.
pub fn write(input: &Path, output: &Path, html: bool) -> Result<String, String> {
    let trace = format::read(input).map_err(|e| format!("cannot read the trace: {e}"))?;
    let tl = Timeline::build(&trace);
    let text = if html {
        html::page(&tl, &input.display().to_string())
    } else {
        chrome::json(&tl)
    };
    std::fs::write(output, text).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(format!(
        "{} events, {} LWPs, {} threads, {} ms{} -> {}",
        trace.entries.len(),
        tl.lanes.len(),
        tl.ults.len(),
        tl.end_ns / 1_000_000,
        if trace.dropped_total() > 0 {
            format!(", {} events dropped", trace.dropped_total())
        } else {
            String::new()
        },
        output.display()
    ))
}

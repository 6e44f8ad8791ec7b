//! The `weave` command: a tour of the runtime (`demo`), its benchmarks
//! against the 1:1 baseline (`bench`), the mutual-exclusion lab (`lab`),
//! the runtime's environment variables (`env`), and a porting aid that
//! finds the std items a crate should take from weave instead (`port`),
//! recorded traces turned into timelines (`trace`), and a live view of a
//! running program (`top`).
//! No logic of its own beyond presenting what the library does, except
//! `port`, which reads Rust sources.
//!
//! The arguments are parsed by clap; each subcommand's options are a
//! struct beside the code that uses them.

mod bench;
mod demo;
mod demo_steps;
mod demo_text;
mod env;
mod lab;
mod port;
mod top;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// weave: a two-level (M:N) threading runtime for Rust. This command
/// shows it at work, measures it, and helps port programs to it.
#[derive(Parser, Debug)]
#[command(name = "weave", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A tour of the M:N runtime, printed for a person to read
    Demo,
    /// Measure weave against std::thread in the same run
    Bench(bench::Args),
    /// Run the classic mutual-exclusion algorithms and show which
    /// conditions each one meets
    Lab(lab::Args),
    /// List the WEAVE_* environment variables: default, value set here,
    /// and whether that value is valid
    Env,
    /// List the lines of a crate that use a std item weave replaces, with
    /// the replacement; --fix rewrites the use lines it can
    Port(port::Args),
    /// Turn a recorded trace (WEAVE_TRACE=FILE) into an HTML timeline or
    /// a Chrome/Perfetto trace
    Trace(trace::Args),
    /// Show a running weave program's LWPs and threads, refreshed (the
    /// program must run with WEAVE_TOP=1)
    Top(top::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo => demo::run(),
        Command::Bench(args) => bench::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Env => env::run(),
        Command::Port(args) => port::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Top(args) => top::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weave: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

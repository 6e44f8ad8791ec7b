//! The `weave` command: a tour of the runtime (`demo`), its benchmarks
//! against the 1:1 baseline (`bench`), and the mutual-exclusion lab (`lab`).
//! No logic of its own beyond presenting what the library does.

mod bench;
mod demo;
mod lab;

use std::process::ExitCode;

const USAGE: &str = "\
usage: weave <command> [options]

commands:
  demo                 a tour of the M:N runtime, printed for a person to read
  bench [--quick] [--json] [WORKLOAD...]
                       measure weave against std::thread in the same run
  bench --list         list the workloads
  lab [--quick] [--json]
                       run the classic mutual-exclusion algorithms and show
                       which conditions each one meets
  help                 this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "lab" => lab::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weave: {e}");
            ExitCode::from(2)
        }
    }
}

//! `weave lab`: the classic mutual-exclusion proposals run for a moment on
//! real threads, with a table of which conditions each one met. All the
//! work is in `weave_classic::lab`; this applies the options. `--json`
//! prints `LabReport::to_json`, which the library writes through serde
//! (its `json` feature) in the shape its documentation gives.

use weave_classic::lab::{self, LabOptions};

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
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(())
}

//! `weave lab`: the classic mutual-exclusion proposals run for a moment on
//! real threads, with a table of which conditions each one met. All the
//! work is in `weave_classic::lab`; this only reads the options.

use weave_classic::lab::{self, LabOptions};

pub fn run(args: &[String]) -> Result<(), String> {
    let mut opts = LabOptions::default();
    let mut json = false;
    for a in args {
        match a.as_str() {
            "--quick" => opts = LabOptions::quick(),
            "--json" => json = true,
            other => {
                return Err(format!(
                    "lab: unknown option '{other}'; it takes --quick and --json"
                ))
            }
        }
    }
    let report = lab::run(opts);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(())
}

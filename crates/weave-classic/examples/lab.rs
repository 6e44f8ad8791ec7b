//! Runs the lab and prints its table, as `weave lab` does.
//!
//! ```text
//! cargo run --release -p weave-classic --features json --example lab [-- --quick] [--json]
//! ```

#[cfg(not(loom))]
fn main() {
    use weave_classic::lab::{self, LabOptions};

    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = if args.iter().any(|a| a == "--quick") {
        LabOptions::quick()
    } else {
        LabOptions::default()
    };
    let report = lab::run(opts);
    if args.iter().any(|a| a == "--json") {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
}

/// The lab runs real threads for real time, which loom does not model: under
/// `--cfg loom` there is no `lab` module and nothing to run.
#[cfg(loom)]
fn main() {}

//! `weave bench` selects workloads by name, lists them, and runs the io
//! workloads to the end with the fields a reader of `--json` needs; on a
//! terminal (a pseudo terminal opened here) the table run shows its
//! progress on stderr, and `--json` or a stderr that is not a terminal
//! gets none. No figure is checked: the machine running the tests decides
//! those.

mod pty;

use std::process::{Command, Output};

fn weave(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(args)
        .env_remove("WEAVE_LWPS")
        .output()
        .expect("the weave binary runs")
}

/// The JSON object of workload `name` in `bench --json` output (the
/// objects hold no nested braces).
fn workload<'a>(json: &'a str, name: &str) -> &'a str {
    let key = format!("{{\"name\":\"{name}\"");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json}"));
    let end = json[start..].find('}').expect("the object ends") + start;
    &json[start..=end]
}

#[test]
fn list_names_the_io_workloads() {
    let out = weave(&["bench", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["tcp_pingpong", "tcp_echo_1k", "sleepers"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
}

#[test]
fn unknown_workload_is_an_error_that_lists_the_names() {
    let out = weave(&["bench", "tcp_nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no workload 'tcp_nope'"), "{err}");
    assert!(err.contains("tcp_echo_1k"), "{err}");
}

#[test]
fn io_workloads_run_and_say_which_way_is_better() {
    let out = weave(&[
        "bench",
        "--quick",
        "--json",
        "tcp_pingpong",
        "tcp_echo_1k",
        "sleepers",
    ]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {:?}\nstdout:\n{json}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let pingpong = workload(&json, "tcp_pingpong");
    assert!(pingpong.contains("\"better\":\"lower\""), "{pingpong}");
    assert!(pingpong.contains("\"one_lwp_ns\":"), "{pingpong}");
    let echo = workload(&json, "tcp_echo_1k");
    assert!(echo.contains("\"unit\":\"msg/s\""), "{echo}");
    assert!(echo.contains("\"better\":\"higher\""), "{echo}");
    assert!(echo.contains("target >= 2x std: "), "{echo}");
    assert!(echo.contains("\"cpu_us_per_msg\":"), "{echo}");
    let sleepers = workload(&json, "sleepers");
    for field in [
        "\"wall_ms\":",
        "\"x_ideal\":",
        "\"spawn_ms\":",
        "\"cpu_s\":",
        "\"std_wall_ms\":",
    ] {
        assert!(sleepers.contains(field), "{field} missing: {sleepers}");
    }
    assert!(sleepers.contains("target wall <= 2x ideal: "), "{sleepers}");
    // Rust prints a non-finite f64 as NaN or inf, which is not JSON.
    for bad in [":NaN", ":inf", ":-inf"] {
        assert!(!json.contains(bad), "{bad} in {json}");
    }
}

/// Runs `weave ARGS` with stderr on the slave side of a new pseudo
/// terminal and stdout on a pipe; returns (stdout, what the terminal got).
fn weave_with_terminal_stderr(args: &[&str]) -> (String, String) {
    let pty = pty::open(24, 80);
    let child = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(args)
        .env_remove("WEAVE_LWPS")
        .stdout(std::process::Stdio::piped())
        .stderr(pty.slave)
        .spawn()
        .expect("the weave binary runs");
    let terminal = pty::Drain::start(pty.master);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        terminal.finish(),
    )
}

#[test]
fn on_a_terminal_the_table_run_shows_the_workload_and_round() {
    let (stdout, terminal) = weave_with_terminal_stderr(&["bench", "--quick", "yield"]);
    assert!(
        terminal.contains("bench 1/1 yield: round 1/3"),
        "{terminal:?}"
    );
    // The baseline's rounds are a second pass.
    assert!(
        terminal.contains("bench 1/1 yield, pass 2: round 1/3"),
        "{terminal:?}"
    );
    // The line is wiped once the run is over.
    assert!(terminal.ends_with("\r\x1b[K"), "{terminal:?}");
    assert!(
        !stdout.contains('\r'),
        "the progress stays off stdout: {stdout:?}"
    );
}

#[test]
fn with_json_a_terminal_gets_no_progress() {
    let (stdout, terminal) = weave_with_terminal_stderr(&["bench", "--quick", "--json", "yield"]);
    assert!(!terminal.contains("bench 1/1"), "{terminal:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON object");
    assert_eq!(v["workloads"][0]["name"], "yield");
}

#[test]
fn stderr_not_a_terminal_gets_no_progress() {
    let out = weave(&["bench", "--quick", "yield"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\r'), "{err:?}");
    assert!(!err.contains("round"), "{err:?}");
}

#[test]
fn the_mode_report_gives_each_round_its_addresses_and_windows() {
    let out = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(["bench", "--quick", "--json", "yield", "channel_pingpong"])
        .env_remove("WEAVE_LWPS")
        .env("WEAVE_BENCH_ADDRS", "1")
        .env("WEAVE_BENCH_PAD", "2")
        .output()
        .expect("the weave binary runs");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = |prefix: &str| -> Vec<&str> {
        err.lines()
            .filter(|l| l.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    let field = |l: &str, k: &str| -> String {
        let key = format!(" {k}=");
        let at = l.find(&key).unwrap_or_else(|| panic!("no {k} in {l}")) + key.len();
        l[at..].split(' ').next().unwrap().to_owned()
    };
    // Each round: both sides of the yield on one LWP, in two TCBs, the
    // padded side's stack pointer off the lead's in its low 12 bits.
    let (lead, other) = (lines("ADDRS yield lead "), lines("ADDRS yield other "));
    assert_eq!(lead.len(), 3, "{err}");
    assert_eq!(other.len(), 3, "{err}");
    for (a, b) in lead.iter().zip(&other) {
        assert_eq!(field(a, "lwp"), field(b, "lwp"));
        assert_ne!(field(a, "tcb"), field(b, "tcb"));
        let sp = |l: &str| usize::from_str_radix(field(l, "sp").trim_start_matches("0x"), 16);
        assert_ne!(sp(a).unwrap() % 4096, sp(b).unwrap() % 4096);
    }
    // The lead's windows with the chain and the bare switch after each;
    // the ping-pong's with the chain.
    for l in lines("ADDRS yield series ") {
        let w: Vec<&str> = l.split(' ').skip(3).collect();
        assert_eq!(w.len(), 400, "{l}");
        let positive = |e: &&str| e.split('/').all(|x| x.parse::<f64>().unwrap() > 0.0);
        assert!(w.iter().all(positive), "{l}");
    }
    assert_eq!(lines("ADDRS pingpong series ").len(), 3, "{err}");
    assert_eq!(lines("ADDRS ping ").len(), 3, "{err}");
    // The rows themselves still come out.
    let json = String::from_utf8_lossy(&out.stdout);
    workload(&json, "yield");
    workload(&json, "channel_pingpong");
}

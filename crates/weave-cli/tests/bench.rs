//! `weave bench` selects workloads by name, lists them, and runs the io
//! workloads to the end with the fields a reader of `--json` needs. No
//! figure is checked: the machine running the tests decides those.

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

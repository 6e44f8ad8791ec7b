//! A panic on a ULT is reported as std reports a thread's panic: the ULT's
//! name (or `<unnamed>`), the location and the message, then what
//! `RUST_BACKTRACE` asks for; and a hook the program sets with
//! `std::panic::set_hook` runs instead. Each scenario runs in a child
//! process (this test binary, selected by an environment variable), and
//! the test asserts on its stderr.

use std::process::Command;

const SCENARIO: &str = "WEAVE_TEST_PANIC_SCENARIO";

#[inline(never)]
fn fail_here() {
    panic!("boom {}", 42);
}

fn spawn_and_fail(name: Option<&str>) {
    let mut b = weave::thread::Builder::new();
    if let Some(n) = name {
        b = b.name(n.to_owned());
    }
    assert!(b.spawn(fail_here).unwrap().join().is_err());
}

#[test]
fn scenario() {
    let Ok(which) = std::env::var(SCENARIO) else {
        return; // Only meaningful in the child process.
    };
    match which.as_str() {
        "named" => spawn_and_fail(Some("reporter")),
        "unnamed" => spawn_and_fail(None),
        "hook-before-start" => {
            std::panic::set_hook(Box::new(|_| eprintln!("custom hook ran")));
            spawn_and_fail(Some("reporter"));
        }
        "hook-after-start" => {
            weave::thread::spawn(|| ()).join().unwrap();
            std::panic::set_hook(Box::new(|_| eprintln!("custom hook ran")));
            spawn_and_fail(Some("reporter"));
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn run(which: &str, backtrace: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "scenario", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, which);
    match backtrace {
        Some(v) => cmd.env("RUST_BACKTRACE", v),
        None => cmd.env_remove("RUST_BACKTRACE"),
    };
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {stderr}");
    stderr
}

fn report_head(name: &str) -> String {
    format!("\nthread '{name}' (ULT ")
}

#[test]
fn panic_on_a_named_ult_prints_std_report_with_its_name() {
    let err = run("named", Some("0"));
    let head = report_head("reporter");
    let at = err
        .find(&head)
        .unwrap_or_else(|| panic!("no report: {err}"));
    let rest = &err[at + head.len()..];
    let expected = format!(") panicked at {}:", file!());
    assert!(rest.contains(&expected), "{err}");
    assert!(rest.contains(":\nboom 42\n"), "{err}");
}

#[test]
fn panic_on_an_unnamed_ult_says_unnamed() {
    let err = run("unnamed", Some("0"));
    assert!(err.contains(&report_head("<unnamed>")), "{err}");
}

#[test]
fn rust_backtrace_unset_prints_the_note() {
    let err = run("named", None);
    assert!(
        err.contains(
            "boom 42\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
        ),
        "{err}"
    );
    assert!(!err.contains("stack backtrace:"), "{err}");
}

#[test]
fn rust_backtrace_0_prints_the_note_only() {
    let err = run("named", Some("0"));
    assert!(err.contains("note: run with `RUST_BACKTRACE=1`"), "{err}");
    assert!(!err.contains("stack backtrace:"), "{err}");
}

/// What follows the report's message: the backtrace.
fn backtrace_in(err: &str) -> &str {
    err.split_once("boom 42\nstack backtrace:\n")
        .unwrap_or_else(|| panic!("no backtrace: {err}"))
        .1
}

#[test]
fn rust_backtrace_1_prints_the_ults_own_frames() {
    let err = run("named", Some("1"));
    let bt = backtrace_in(&err);
    assert!(bt.contains("panic_report::fail_here"), "{err}");
    assert!(bt.trim_start().starts_with("0: "), "{err}");
    // Cut at the ULT's entry: neither the runtime's frames under it nor the
    // hook's above the panic.
    assert!(!bt.contains("weave::lwp"), "{err}");
    assert!(!bt.contains("__rust_begin_short_backtrace"), "{err}");
    assert!(!bt.contains("weave::thread::panic::report"), "{err}");
    assert!(
        bt.contains(
            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace."
        ),
        "{err}"
    );
}

#[test]
fn rust_backtrace_full_prints_every_frame() {
    let err = run("named", Some("full"));
    let bt = backtrace_in(&err);
    assert!(bt.contains("panic_report::fail_here"), "{err}");
    assert!(bt.contains("__rust_begin_short_backtrace"), "{err}");
    assert!(!bt.contains("Some details are omitted"), "{err}");
}

#[test]
fn a_hook_set_before_the_runtime_starts_runs_for_ult_panics() {
    let err = run("hook-before-start", Some("0"));
    assert!(err.contains("custom hook ran"), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
}

#[test]
fn a_hook_set_after_the_runtime_started_runs_for_ult_panics() {
    let err = run("hook-after-start", Some("0"));
    assert!(err.contains("custom hook ran"), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
}

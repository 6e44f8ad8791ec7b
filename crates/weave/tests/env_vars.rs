//! The `WEAVE_*` variables as the runtime reads them at start-up: the
//! spellings users type take effect, and a bad value costs one line on
//! stderr and leaves the default in force. Each case runs in a child
//! process (this test binary, re-run with `CHILD` set), since the runtime
//! reads its environment once per process.

use std::process::{Command, Output};

const CHILD: &str = "WEAVE_TEST_ENV_VARS_CHILD";

const VARS: &[&str] = &[
    "WEAVE_LWPS",
    "WEAVE_STACK_SIZE",
    "WEAVE_PREEMPT",
    "WEAVE_TIME_SLICE",
    "WEAVE_WARN",
    "WEAVE_ACCOUNTING",
];

/// Child: starts the runtime and prints what it took from the environment.
#[test]
fn report_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    weave::thread::spawn(|| ()).join().unwrap();
    println!("requested={}", weave::requested_concurrency());
    println!("slice={:?}", weave::time_slice());
}

/// Runs the child with `vars` set and every other `WEAVE_*` variable unset.
fn child(vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "report_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for v in VARS {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr lines that weave printed (the test harness prints none).
fn weave_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("weave:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn lwps_from_the_environment_sets_the_pool() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = child(&[("WEAVE_LWPS", " 3 ")]);
    assert!(stdout(&out).contains("requested=3\n"), "{}", stdout(&out));
    assert_eq!(weave_lines(&out), Vec::<String>::new());
}

#[test]
fn preempt_off_in_words_turns_slices_off() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = child(&[("WEAVE_PREEMPT", "Off")]);
    assert!(stdout(&out).contains("slice=None\n"), "{}", stdout(&out));
}

#[test]
fn time_slice_takes_a_unit() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = child(&[("WEAVE_TIME_SLICE", "2500us")]);
    assert!(
        stdout(&out).contains("slice=Some(2.5ms)\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn time_slice_bare_number_is_milliseconds() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = child(&[("WEAVE_TIME_SLICE", "3")]);
    assert!(
        stdout(&out).contains("slice=Some(3ms)\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn invalid_value_is_one_line_and_the_default_is_used() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = child(&[("WEAVE_LWPS", "many")]);
    assert!(stdout(&out).contains("requested=0\n"), "{}", stdout(&out));
    let lines = weave_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(line.contains("WEAVE_LWPS=\"many\""), "{line}");
    assert!(line.contains("a whole number from 0 to 256"), "{line}");
    assert!(line.contains("using the default, 0"), "{line}");
}

#[test]
fn out_of_range_value_is_reported_and_the_default_is_used() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = child(&[("WEAVE_TIME_SLICE", "5us")]);
    assert!(
        stdout(&out).contains("slice=Some(10ms)\n"),
        "{}",
        stdout(&out)
    );
    let lines = weave_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("WEAVE_TIME_SLICE=\"5us\""), "{lines:?}");
}

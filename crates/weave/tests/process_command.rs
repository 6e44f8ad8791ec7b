//! `weave::process`: std's `Command` builder and `Child`, run from ULTs.
//! Output and exit status are exact; the environment, arguments and
//! working directory reach the child; `output` gives the child a null
//! stdin; pipes carry data both ways; `kill` then `wait` gives a signal
//! status; a child's stdout can feed another command. Each scenario runs
//! under a watchdog, so a lost wake-up fails instead of hanging.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::mpsc;
use std::time::Duration;

use weave::process::{Command, Stdio};
use weave::thread;

/// Runs `f` on a ULT and fails the test if it has not finished after a
/// minute (far beyond any scenario here, even on a loaded machine).
fn on_a_ult<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        let v = f();
        let _ = tx.send(());
        v
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "still waiting after 60 s; threads: {:#?}",
            thread::threads()
        ),
        _ => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
    }
}

#[test]
fn output_captures_stdout_stderr_and_the_exit_code_exactly() {
    let out = on_a_ult(|| {
        Command::new("sh")
            .args(["-c", "printf 'out\\n1'; printf err >&2; exit 7"])
            .output()
            .unwrap()
    });
    assert_eq!(out.stdout, b"out\n1");
    assert_eq!(out.stderr, b"err");
    assert_eq!(out.status.code(), Some(7));
    assert!(!out.status.success());
}

#[test]
fn status_of_a_sleeping_child_is_its_exit_code() {
    let status = on_a_ult(|| {
        Command::new("sh")
            .args(["-c", "sleep 0.2; exit 3"])
            .status()
            .unwrap()
    });
    assert_eq!(status.code(), Some(3));
    assert_eq!(status.signal(), None);
}

#[test]
fn args_env_and_current_dir_reach_the_child() {
    let out = on_a_ult(|| {
        Command::new("sh")
            .args([
                "-c",
                "printf '%s|%s|%s|%s|' \"$1\" \"$KEEP\" \"${GONE-unset}\" \"$MORE\"; pwd",
            ])
            .arg("sh")
            .arg("first arg")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("KEEP", "kept")
            .env("GONE", "x")
            .env_remove("GONE")
            .envs([("MORE", "more")])
            .current_dir("/")
            .output()
            .unwrap()
    });
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "first arg|kept|unset|more|/\n"
    );
    assert!(out.status.success());
}

#[test]
fn env_clear_leaves_only_the_variables_set_after_it() {
    let out = on_a_ult(|| {
        Command::new("/usr/bin/env")
            .env("BEFORE", "1")
            .env_clear()
            .env("ONLY", "1")
            .output()
            .unwrap()
    });
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ONLY=1\n");
}

#[test]
fn output_gives_the_child_a_null_stdin() {
    // `cat` with an inherited stdin would wait for the test's own input.
    let out = on_a_ult(|| Command::new("cat").output().unwrap());
    assert_eq!(out.stdout, b"");
    assert!(out.status.success());
}

#[test]
fn output_leaves_a_stream_that_was_set_alone() {
    let out = on_a_ult(|| {
        Command::new("sh")
            .args(["-c", "echo to-null; echo err >&2"])
            .stdout(Stdio::null())
            .output()
            .unwrap()
    });
    assert_eq!(out.stdout, b"", "stdout was set to null, not captured");
    assert_eq!(out.stderr, b"err\n");
}

#[test]
fn pipes_carry_a_megabyte_both_ways() {
    // More than a pipe holds in either direction: the writer and the
    // reader must run at once, each blocking only its own ULT.
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let expect = data.clone();
    let (got, status) = on_a_ult(move || {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = thread::spawn(move || stdin.write_all(&data));
        let mut got = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
        writer.join().unwrap().unwrap();
        (got, child.wait().unwrap())
    });
    assert!(
        got == expect,
        "cat gave back {} bytes, not the same",
        got.len()
    );
    assert!(status.success());
}

#[test]
fn kill_then_wait_gives_a_signal_status() {
    let (status, again) = on_a_ult(|| {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert_eq!(child.try_wait().unwrap(), None, "sleep 30 ended at once");
        child.kill().unwrap();
        let status = child.wait().unwrap();
        (status, child.try_wait().unwrap())
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(status.code(), None);
    assert!(!status.success());
    assert_eq!(again, Some(status), "the status is kept after the reap");
}

#[test]
fn a_child_stdout_feeds_another_command() {
    let out = on_a_ult(|| {
        let mut first = Command::new("printf")
            .arg("b\\na\\nc\\n")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new("sort")
            .stdin(Stdio::from(first.stdout.take().unwrap()))
            .output()
            .unwrap();
        assert!(first.wait().unwrap().success());
        out
    });
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "a\nb\nc\n");
    assert!(out.status.success());
}

#[test]
fn a_missing_program_is_not_found() {
    let e = on_a_ult(|| {
        Command::new("weave-test-no-such-program")
            .status()
            .unwrap_err()
    });
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn os_threads_wait_for_children_too() {
    let out = Command::new("sh")
        .args(["-c", "sleep 0.1; echo done"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"done\n");
    assert!(out.status.success());
}

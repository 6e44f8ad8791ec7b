//! Running a scenario of a test binary in a child process whose standard
//! streams are pipes the test controls: the standard streams are the
//! process's, so each scenario needs a process of its own.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use weave::thread::{self, BlockReason, ThreadId, ThreadState};

/// The variable that names the scenario a child runs.
pub const SCENARIO: &str = "WEAVE_TEST_IO_SCENARIO";

/// The line a child prints on stderr when its threads are in place and
/// the parent may go on.
pub const READY: &str = "WEAVE-TEST-READY";

/// What a child printed.
pub struct Printed {
    pub stdout: String,
    pub stderr: String,
}

/// Runs the test `child` of this binary with `SCENARIO=scenario`. If
/// `ready` is set, waits for the child's `READY` line on stderr, and only
/// then writes `input` to its stdin (and closes it) and reads its stdout.
/// A child still running after a minute is killed and the test fails.
pub fn run(scenario: &str, ready: bool, input: &[u8], stdin: Option<Stdio>) -> Printed {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, scenario)
        .stdin(stdin.unwrap_or_else(Stdio::piped))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, watch) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let hung =
            watch.recv_timeout(Duration::from_secs(60)) == Err(mpsc::RecvTimeoutError::Timeout);
        if hung {
            // SAFETY: kill sends a signal to our own unreaped child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        hung
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut err = String::new();
    if ready {
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 || line.trim_end() == READY {
                break;
            }
            err.push_str(&line);
        }
    }
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).unwrap();
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    stderr.read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    let _ = done.send(());
    assert!(
        !watchdog.join().unwrap(),
        "the child hung and was killed: {err}"
    );
    assert!(status.success(), "the child failed ({status}): {err}");
    Printed {
        stdout: out,
        stderr: err,
    }
}

/// The text a child printed between `<<` and `>>`.
pub fn between_marks(s: &str) -> &str {
    let start = s.find("<<").expect("no << in the output") + 2;
    let end = s[start..].find(">>").expect("no >> in the output") + start;
    &s[start..end]
}

/// Waits (on an OS thread) until the thread table shows `id` blocked for
/// `reason`.
pub fn wait_until_blocked(id: ThreadId, reason: BlockReason) {
    let want = Some(ThreadState::Blocked(reason));
    while thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.state)
        != want
    {
        std::thread::yield_now();
    }
}

/// On a runtime of one LWP where `busy` waits for its stream: runs
/// another ULT to its end (it can only run if `busy` left the LWP), checks
/// that both ran on the same LWP, and tells the parent to go on.
pub fn another_ult_runs_then_ready(busy: ThreadId, reason: BlockReason) -> Option<usize> {
    wait_until_blocked(busy, reason);
    let lwp = thread::spawn(thread::current_lwp).join().unwrap();
    assert!(lwp.is_some());
    eprintln!("{READY}");
    lwp
}

//! `weave top PID`: a program started with `WEAVE_TOP=1` answers on its
//! socket, and `weave top --once` prints one frame of its LWP and thread
//! tables; on a terminal (a pseudo terminal opened here) the view redraws
//! in place within the terminal's height; a program without
//! `WEAVE_TOP=1` is refused with the fix in the message.
//!
//! The program is this test binary, re-run with `WEAVE_TOP_TEST_CHILD`
//! set: `top_child` parks a named ULT, says "ready" and waits for its
//! stdin to close.

mod pty;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "WEAVE_TOP_TEST_CHILD";

#[test]
fn top_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let parked = weave::thread::Builder::new()
        .name("top-visible".into())
        .spawn(weave::thread::park)
        .unwrap();
    let id = parked.thread().id();
    while !weave::thread::threads()
        .iter()
        .any(|t| t.id == id && matches!(t.state, weave::thread::ThreadState::Blocked(_)))
    {
        weave::thread::yield_now();
    }
    println!("ready");
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
    parked.thread().unpark();
    parked.join().unwrap();
}

/// Starts `top_child` with `WEAVE_TOP=1` and waits until its ULT is
/// parked; the child runs until its stdin is closed. Its stdout comes
/// back too, to be kept open until it ends (libtest writes to it last).
fn start_watched_program() -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["top_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("WEAVE_TOP", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // A watchdog turns a child that never gets ready into a failure.
    let watchdog = Instant::now() + Duration::from_secs(120);
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
        assert!(Instant::now() < watchdog, "the child never got ready");
    }
    (child, out)
}

#[test]
fn weave_top_on_a_terminal_redraws_in_place_within_its_height() {
    let (mut child, _out) = start_watched_program();
    let pty = pty::open(8, 120);
    let mut top = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(["top", &child.id().to_string(), "--interval", "50"])
        .stdout(pty.slave)
        .spawn()
        .unwrap();
    let terminal = pty::Drain::start(pty.master);
    // Three frame starts mean two whole frames; the watchdog turns a view
    // that never refreshes into a failure.
    let watchdog = Instant::now() + Duration::from_secs(120);
    while terminal.so_far().matches("\x1b[H").count() < 3 {
        assert!(
            Instant::now() < watchdog,
            "no refresh: {:?}",
            terminal.so_far()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    top.kill().unwrap();
    top.wait().unwrap();
    drop(child.stdin.take());
    child.wait().unwrap();
    let got = terminal.finish();
    assert!(!got.contains("\x1b[2J"), "the screen was blanked: {got:?}");
    let second = got.split("\x1b[H").nth(2).unwrap();
    assert!(second.ends_with("\x1b[J"), "{second:?}");
    // The terminal turns each \n into \r\n; 8 rows hold 8 lines (the
    // frame without a limit has more: two tables, their headers, threads).
    assert!(second.lines().count() <= 8, "{second:?}");
    assert!(second.starts_with("weave top: pid"), "{second:?}");
}

#[test]
fn weave_top_once_prints_the_tables_of_a_running_program() {
    let (mut child, _out) = start_watched_program();
    let top = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(["top", &child.id().to_string(), "--once"])
        .output()
        .unwrap();
    drop(child.stdin.take());
    child.wait().unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(
        top.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&top.stderr)
    );
    assert!(
        text.starts_with(&format!("weave top: pid {}", child.id())),
        "{text}"
    );
    let lwp_rows = text
        .lines()
        .skip_while(|l| !l.starts_with("LWP"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .count();
    assert!(lwp_rows >= 1, "no LWP rows:\n{text}");
    let row = text
        .lines()
        .find(|l| l.contains("top-visible"))
        .unwrap_or_else(|| panic!("the parked thread is not listed:\n{text}"));
    assert!(row.contains("blocked(Park)"), "{row}");
}

#[test]
fn weave_top_of_a_program_without_weave_top_says_how_to_enable_it() {
    // This test process never set WEAVE_TOP: no socket.
    let top = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(["top", &std::process::id().to_string(), "--once"])
        .output()
        .unwrap();
    assert!(!top.status.success());
    let err = String::from_utf8_lossy(&top.stderr);
    assert!(err.contains("WEAVE_TOP=1"), "{err}");
}

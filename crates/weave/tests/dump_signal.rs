//! `WEAVE_DUMP_SIGNAL=SIGQUIT`: the process prints a thread dump, stacks
//! included, when it gets the signal, and goes on running.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHILD: &str = "WEAVE_DUMP_SIGNAL_CHILD";

#[inline(never)]
fn waits_for_the_signal() {
    weave::thread::park();
    std::hint::black_box(());
}

/// The child: parks a named ULT, says so, and waits to be killed.
#[test]
fn signal_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let h = weave::thread::Builder::new()
        .name("patient".into())
        .spawn(waits_for_the_signal)
        .unwrap();
    let id = h.thread().id();
    while !matches!(
        weave::thread::threads()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.state),
        Some(weave::thread::ThreadState::Blocked(_))
    ) {
        weave::thread::yield_now();
    }
    println!("ready");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn sigquit_prints_a_dump_with_the_parked_ults_stack() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "signal_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("WEAVE_DUMP_SIGNAL", "SIGQUIT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(format!("out: {l}"));
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("err: {l}"));
        }
    });
    // Watchdogs: a hang becomes a failure, not a stuck test run.
    let watchdog = Duration::from_secs(60);
    let mut seen = Vec::new();
    let result: Result<(), &str> = (|| {
        loop {
            let l = rx
                .recv_timeout(watchdog)
                .map_err(|_| "child never got ready")?;
            let ready = l.contains("ready");
            seen.push(l);
            if ready {
                break;
            }
        }
        // SAFETY: kill with a valid pid and signal has no memory effects.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
        let (mut header, mut headline) = (false, false);
        loop {
            let l = rx.recv_timeout(watchdog).map_err(|_| "no dump")?;
            header |= l.contains("weave thread dump:");
            headline |= l.contains("thread 'patient'") && l.contains("parked");
            let found = header && headline && l.contains("waits_for_the_signal");
            seen.push(l);
            if found {
                return Ok(());
            }
        }
    })();
    child.kill().ok();
    child.wait().ok();
    if let Err(e) = result {
        panic!("{e}:\n{}", seen.join("\n"));
    }
}

const REFUSE_CHILD: &str = "WEAVE_DUMP_SIGNAL_REFUSE_CHILD";

/// The child: tries to handle the signal the dump owns, prints the error.
#[test]
fn refuse_child() {
    if std::env::var_os(REFUSE_CHILD).is_none() {
        return;
    }
    match weave::signal::handle(libc::SIGUSR2, |_| {}) {
        Ok(()) => println!("accepted"),
        Err(e) => println!("refused: {e}"),
    }
    match weave::signal::handle(libc::SIGUSR1, |_| {}) {
        Ok(()) => println!("other accepted"),
        Err(e) => println!("other refused: {e}"),
    }
}

#[test]
fn handling_the_dump_signal_is_refused_with_the_variable_named() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "refuse_child", "--nocapture", "--test-threads=1"])
        .env(REFUSE_CHILD, "1")
        .env("WEAVE_DUMP_SIGNAL", "usr2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("refused: SIGUSR2 (12) is not available to programs on weave: WEAVE_DUMP_SIGNAL takes it"),
        "child said: {stdout}"
    );
    assert!(stdout.contains("other accepted"), "child said: {stdout}");
}

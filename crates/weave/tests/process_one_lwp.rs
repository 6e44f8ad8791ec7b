//! `weave::process` on a runtime of one LWP: a ULT waiting for a child, or
//! reading a child's stdout, leaves that LWP free for other ULTs. Each
//! child here ends only when another ULT on the same LWP acts, so if the
//! waiting ULT held the LWP the test would hang (the watchdog turns that
//! into a failure) rather than pass by luck of timing.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use weave::process::{Command, Stdio};
use weave::thread::{self, BlockReason, ThreadId, ThreadState};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` on a ULT of a one-LWP runtime, under a one-minute watchdog.
fn on_one_lwp<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        let v = f();
        let _ = tx.send(());
        v
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "still waiting after 60 s (the LWP is held?); threads: {:#?}",
            thread::threads()
        ),
        _ => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
    }
}

fn state_of(id: ThreadId) -> Option<ThreadState> {
    thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.state)
}

/// Yields (letting the other ULT on the LWP run) until `id` waits in the
/// reactor.
fn yield_until_waiting_in_the_reactor(id: ThreadId) {
    while state_of(id) != Some(ThreadState::Blocked(BlockReason::Net)) {
        thread::yield_now();
    }
}

#[test]
fn a_ult_waiting_for_a_child_leaves_its_one_lwp_free() {
    let status = on_one_lwp(|| {
        // `sleep 30`, ended by the other ULT: it can only do so if the
        // waiter left the LWP.
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let waiter = thread::spawn(move || {
            let mut child = child;
            (thread::current_lwp(), child.wait())
        });
        yield_until_waiting_in_the_reactor(waiter.thread().id());
        // SAFETY: kill sends a signal to our own unreaped child.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
        let (lwp, status) = waiter.join().unwrap();
        assert_eq!(lwp, thread::current_lwp(), "the two ULTs share one LWP");
        status.unwrap()
    });
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

#[test]
fn a_ult_reading_a_child_pipe_leaves_its_one_lwp_free() {
    let got = on_one_lwp(|| {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = thread::spawn(move || {
            let mut got = String::new();
            stdout.read_to_string(&mut got).unwrap();
            (thread::current_lwp(), got)
        });
        yield_until_waiting_in_the_reactor(reader.thread().id());
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"ping\npong\n").unwrap();
        drop(stdin);
        let (lwp, got) = reader.join().unwrap();
        assert_eq!(lwp, thread::current_lwp(), "the two ULTs share one LWP");
        assert!(child.wait().unwrap().success());
        got
    });
    assert_eq!(got, "ping\npong\n");
}

//! `std::thread::panicking()` (and `weave::thread::panicking()`) answer for
//! the calling ULT: a ULT that blocks in a destructor while it unwinds does
//! not make the next ULT on its LWP look panicking, so the locks that ULT
//! drops are not poisoned; and the unwinding ULT is still panicking when it
//! resumes. Runs in a child process with one LWP (`WEAVE_LWPS=1`), so that
//! both ULTs share it.

use std::process::Command;
use std::sync::mpsc as std_mpsc;

use weave::sync::{mpsc, Mutex, RwLock};

const SCENARIO: &str = "WEAVE_TEST_PANIC_COUNT_SCENARIO";

/// What the second ULT saw while the first was blocked mid-unwind, and what
/// the first saw after it resumed. The child prints it; the tests read its
/// `Debug` output back (the only reader of the fields).
#[derive(Debug, Default)]
#[allow(dead_code)]
struct Seen {
    same_lwp: bool,
    std_panicking_in_other: bool,
    weave_panicking_in_other: bool,
    mutex_poisoned: bool,
    rwlock_poisoned: bool,
    panicking_after_resume: bool,
}

fn lwp_of_current() -> Option<usize> {
    let me = weave::thread::current().id();
    weave::thread::threads()
        .into_iter()
        .find(|t| t.id == me)
        .and_then(|t| t.lwp)
}

/// Blocks the ULT in its destructor: tells `blocked`, waits for `go`.
struct BlockOnDrop {
    blocked: mpsc::Sender<Option<usize>>,
    go: mpsc::Receiver<()>,
    after: std_mpsc::Sender<bool>,
}

impl Drop for BlockOnDrop {
    fn drop(&mut self) {
        self.blocked.send(lwp_of_current()).unwrap();
        self.go.recv().unwrap();
        self.after.send(std::thread::panicking()).unwrap();
    }
}

fn blocked_unwinder_and_its_neighbour() -> Seen {
    let (blocked_tx, blocked_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let (locked_tx, locked_rx) = mpsc::channel::<()>();
    let (after_tx, after_rx) = std_mpsc::channel();
    let unwinder = weave::thread::spawn(move || {
        locked_rx.recv().unwrap();
        let _g = BlockOnDrop {
            blocked: blocked_tx,
            go: go_rx,
            after: after_tx,
        };
        panic!("unwinding through a blocking destructor");
    });
    let mutex = std::sync::Arc::new(Mutex::new(0));
    let rwlock = std::sync::Arc::new(RwLock::new(0));
    let (m, r) = (mutex.clone(), rwlock.clone());
    let neighbour = weave::thread::spawn(move || {
        // Taken before the other ULT panics, dropped while it is blocked
        // mid-unwind: poisoned if this ULT then looked panicking.
        let mut mg = m.lock().unwrap();
        let mut rg = r.write().unwrap();
        locked_tx.send(()).unwrap();
        let unwinder_lwp = blocked_rx.recv().unwrap();
        let seen = (
            unwinder_lwp.is_some() && unwinder_lwp == lwp_of_current(),
            std::thread::panicking(),
            weave::thread::panicking(),
        );
        *mg += 1;
        *rg += 1;
        drop((mg, rg));
        go_tx.send(()).unwrap();
        seen
    });
    let (same_lwp, std_p, weave_p) = neighbour.join().unwrap();
    assert!(unwinder.join().is_err());
    Seen {
        same_lwp,
        std_panicking_in_other: std_p,
        weave_panicking_in_other: weave_p,
        mutex_poisoned: mutex.is_poisoned(),
        rwlock_poisoned: rwlock.is_poisoned(),
        panicking_after_resume: after_rx.recv().unwrap(),
    }
}

#[test]
fn scenario() {
    if std::env::var_os(SCENARIO).is_none() {
        return; // Only meaningful in the child process.
    }
    std::panic::set_hook(Box::new(|_| ())); // keep the child's stderr short
    println!("\nSEEN {:?}", blocked_unwinder_and_its_neighbour());
}

fn seen() -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "scenario", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, "1")
        .env("WEAVE_LWPS", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("SEEN ").map(|(_, s)| s))
        .unwrap_or_else(|| panic!("no result: {stdout}"))
        .to_owned();
    assert!(line.contains("same_lwp: true"), "not on one LWP: {line}");
    line
}

#[test]
fn next_ult_on_the_lwp_is_not_panicking_while_another_blocks_unwinding() {
    let s = seen();
    assert!(s.contains("std_panicking_in_other: false"), "{s}");
    assert!(s.contains("weave_panicking_in_other: false"), "{s}");
}

#[test]
fn locks_dropped_by_the_next_ult_are_not_poisoned() {
    let s = seen();
    assert!(s.contains("mutex_poisoned: false"), "{s}");
    assert!(s.contains("rwlock_poisoned: false"), "{s}");
}

#[test]
fn the_unwinding_ult_is_still_panicking_when_it_resumes() {
    let s = seen();
    assert!(s.contains("panicking_after_resume: true"), "{s}");
}

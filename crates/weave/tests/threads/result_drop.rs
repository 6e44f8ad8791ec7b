//! A thread's result, or its panic payload, is dropped on a live thread,
//! wherever that happens: a `Drop` that blocks (a lock, a channel, a sleep,
//! a join) works, and `thread::scope` returns only after those drops ran.

use crate::wait_common::wait_blocked;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use weave::sync::{mpsc, Mutex};
use weave::thread::{self, BlockReason};

/// Turns a hang into a failure: runs `f` on an OS thread and waits for it
/// for a generous time.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what}: still not done after 60 s"))
}

/// A result whose drop blocks: it waits for a go-ahead on a channel, takes
/// a contended lock, sleeps, then reports that it ran.
struct BlocksOnDrop {
    gate: mpsc::Receiver<()>,
    lock: &'static Mutex<u32>,
    done: std_mpsc::Sender<u32>,
}

impl Drop for BlocksOnDrop {
    fn drop(&mut self) {
        self.gate.recv().unwrap();
        let mut g = self.lock.lock().unwrap();
        *g += 1;
        thread::sleep(Duration::from_millis(2));
        let _ = self.done.send(*g);
    }
}

/// Detaches the thread of `h`, lets it finish, and takes it through each
/// blocking step of its value's drop: the gate, then the contended lock.
/// Returns what the drop reported, or fails if it never finished.
fn detach_and_drive<T>(
    h: thread::JoinHandle<T>,
    lock: &'static Mutex<u32>,
    start_tx: mpsc::Sender<()>,
    gate_tx: mpsc::Sender<()>,
    done_rx: std_mpsc::Receiver<u32>,
) -> u32 {
    let id = h.thread().id();
    drop(h); // detached before it finishes: the ULT drops its own value
    let held = lock.lock().unwrap();
    start_tx.send(()).unwrap();
    wait_blocked(id, BlockReason::Channel);
    gate_tx.send(()).unwrap();
    wait_blocked(id, BlockReason::Mutex);
    drop(held);
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the drop never finished")
}

#[test]
fn detached_result_with_blocking_drop_is_dropped() {
    static LOCK: Mutex<u32> = Mutex::new(0);
    let (start_tx, start_rx) = mpsc::channel::<()>();
    let (gate_tx, gate_rx) = mpsc::channel();
    let (done_tx, done_rx) = std_mpsc::channel();
    let h = thread::Builder::new()
        .name("detached-result".into())
        .spawn(move || {
            start_rx.recv().unwrap();
            BlocksOnDrop {
                gate: gate_rx,
                lock: &LOCK,
                done: done_tx,
            }
        })
        .unwrap();
    assert_eq!(detach_and_drive(h, &LOCK, start_tx, gate_tx, done_rx), 1);
}

#[test]
fn scoped_result_with_blocking_drop_is_dropped() {
    let dropped = within("scope", || {
        let dropped = AtomicUsize::new(0);
        struct SleepsOnDrop<'a>(&'a AtomicUsize);
        impl Drop for SleepsOnDrop<'_> {
            fn drop(&mut self) {
                thread::sleep(Duration::from_millis(5));
                // Joining another thread blocks too.
                thread::spawn(|| thread::sleep(Duration::from_millis(5)))
                    .join()
                    .unwrap();
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (start_tx, start_rx) = mpsc::channel::<()>();
        let dropped = &dropped;
        thread::scope(|s| {
            let h = s.spawn(move || {
                start_rx.recv().unwrap();
                SleepsOnDrop(dropped)
            });
            drop(h); // not joined: the result is the ULT's to drop
            start_tx.send(()).unwrap();
        });
        dropped.load(Ordering::SeqCst)
    });
    assert_eq!(dropped, 1);
}

#[test]
fn panic_payload_with_blocking_drop_is_dropped() {
    static LOCK: Mutex<u32> = Mutex::new(0);
    let (start_tx, start_rx) = mpsc::channel::<()>();
    let (gate_tx, gate_rx) = mpsc::channel();
    let (done_tx, done_rx) = std_mpsc::channel();
    let h = thread::Builder::new()
        .name("panics-with-payload".into())
        .spawn(move || {
            start_rx.recv().unwrap();
            std::panic::panic_any(BlocksOnDrop {
                gate: gate_rx,
                lock: &LOCK,
                done: done_tx,
            })
        })
        .unwrap();
    assert_eq!(detach_and_drive(h, &LOCK, start_tx, gate_tx, done_rx), 1);
}

#[test]
fn scope_returns_only_after_every_result_is_dropped() {
    const N: usize = 16;
    let dropped = within("scope", || {
        let dropped = AtomicUsize::new(0);
        struct Slow<'a>(&'a AtomicUsize);
        impl Drop for Slow<'_> {
            fn drop(&mut self) {
                thread::sleep(Duration::from_millis(10));
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        thread::scope(|s| {
            let mut kept = Vec::new();
            for i in 0..N {
                let h = s.spawn(|| Slow(&dropped));
                // Half are detached at once (dropped by their ULT), half
                // are still held when the scope's closure returns (dropped
                // by the handle, maybe after the thread exited).
                if i % 2 == 0 {
                    kept.push(h);
                }
            }
            drop(kept);
        });
        dropped.load(Ordering::SeqCst)
    });
    assert_eq!(dropped, N);
}

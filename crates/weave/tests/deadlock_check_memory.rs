//! The deadlock detector is asked to look each time the last LWP goes idle.
//! While an OS thread runs outside a weave wait (here a helper thread,
//! while `main` waits in a join) the process cannot be deadlocked, and the
//! check must find that out without a walk over every parked thread: that
//! walk described each one in a line of text, so each check with 200,000
//! parked threads cost the monitor thread tens of MB of heap, which its
//! malloc arena kept resident. Runs in a child process, whose resident set
//! no other test moves.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weave::thread;

mod stack_common;
use stack_common::{child_number, vm_rss, wait_until};

const CHILD: &str = "WEAVE_TEST_DEADLOCK_MEMORY_CHILD";

/// Parked threads: enough that a check which describes each one needs
/// more than `SLACK` of heap.
const PARKED: usize = 200_000;

/// Checks asked for while they are parked.
const CHECKS: usize = 20;

/// What the resident set may grow by over the checks: the few threads
/// that wake the LWPs, and noise; a walk that describes 200,000 threads
/// takes ~20 MB.
const SLACK: usize = 6 << 20;

#[test]
fn deadlock_child() {
    if std::env::var(CHILD).is_err() {
        return; // Only meaningful in the child process.
    }
    thread::spawn(|| ()).join().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let park_until_released = |s: Arc<AtomicUsize>, r: Arc<AtomicBool>| {
        move || {
            s.fetch_add(1, Ordering::Release);
            while !r.load(Ordering::Acquire) {
                thread::park();
            }
        }
    };
    let hs: Vec<_> = (0..PARKED)
        .map(|_| {
            thread::Builder::new()
                .stack_size(16 * 1024)
                .spawn(park_until_released(started.clone(), release.clone()))
                .unwrap()
        })
        .collect();
    wait_until("every thread parked", || {
        started.load(Ordering::Acquire) == PARKED
    });
    // Let the monitor's first passes over the parked threads (the trim
    // pass lists them) happen before the baseline.
    std::thread::sleep(Duration::from_secs(3));
    let base = vm_rss();
    // Main waits inside weave (a join) for a thread that only the helper,
    // a plain OS thread, releases: no deadlock, but every check runs with
    // main blocked and must find the helper to know it.
    let waiter = thread::spawn(park_until_released(started.clone(), release.clone()));
    let waiter_thread = waiter.thread().clone();
    let helper = std::thread::spawn({
        let release = release.clone();
        move || {
            for _ in 0..CHECKS {
                // The LWP that runs it goes idle after it: a deadlock check.
                drop(thread::spawn(|| ()));
                std::thread::sleep(Duration::from_millis(100));
            }
            let grew = vm_rss().saturating_sub(base);
            release.store(true, Ordering::Release);
            waiter_thread.unpark();
            grew
        }
    });
    waiter.join().unwrap();
    let grew = helper.join().unwrap();
    for h in &hs {
        h.thread().unpark();
    }
    for h in hs {
        h.join().unwrap();
    }
    println!("GREW {grew}");
}

#[test]
fn deadlock_checks_beside_a_running_os_thread_take_no_memory_per_parked_thread() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let grew = child_number("deadlock_child", CHILD, "GREW ");
    assert!(
        grew < SLACK,
        "the resident set grew by {grew} bytes over {CHECKS} deadlock checks with \
         {PARKED} threads parked, main in a join and a plain OS thread running: the \
         checks walked and described every parked thread"
    );
}

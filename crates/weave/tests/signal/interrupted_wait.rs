//! "Interrupted" stays visible to callers that ask for it:
//! `Semaphore::acquire_interruptible` (the C API's `sem_wait`) returns
//! `Err(Interrupted)` when a handler runs for the waiting ULT, where
//! `acquire` waits on (`SA_RESTART`).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use crate::signal_common::{wait_blocked, wait_until};
use weave::signal;
use weave::sync::{Interrupted, Semaphore};
use weave::thread;

const SIG: i32 = libc::SIGUSR1;

#[test]
fn interruptible_acquire_returns_interrupted_after_the_handler_ran() {
    if !in_child!("interruptible_acquire_returns_interrupted_after_the_handler_ran") {
        return;
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    signal::handle_on_target(SIG, move |_| {
        r.fetch_add(1, SeqCst);
    })
    .unwrap();
    let sem = Arc::new(Semaphore::new(0));
    let (s, r2) = (sem.clone(), runs.clone());
    let t = thread::spawn(move || {
        let got = s.acquire_interruptible().map(|p| p.forget());
        (got, r2.load(SeqCst))
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    let (got, runs_then) = t.join().unwrap();
    assert_eq!(got, Err(Interrupted));
    assert_eq!(runs_then, 1, "the handler ran before the wait returned");
    assert_eq!(sem.available_permits(), 0, "no permit was taken");
}

#[test]
fn plain_acquire_waits_on_after_a_handler() {
    if !in_child!("plain_acquire_waits_on_after_a_handler") {
        return;
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    signal::handle_on_target(SIG, move |_| {
        r.fetch_add(1, SeqCst);
    })
    .unwrap();
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let t = thread::spawn(move || {
        s.acquire().forget();
        signal::take_interrupted()
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    wait_until(|| runs.load(SeqCst) == 1);
    wait_blocked(t.thread().id());
    sem.release(1);
    assert!(t.join().unwrap(), "take_interrupted reports the handler");
}

static IMMEDIATE_RUNS: AtomicUsize = AtomicUsize::new(0);

fn count_run(_: &signal::SigInfo) {
    IMMEDIATE_RUNS.fetch_add(1, SeqCst);
}

/// Installs an immediate handler for `SIG` that counts its runs.
fn count_immediate_runs() {
    // SAFETY: the handler only increments an atomic.
    unsafe {
        signal::handle_immediate(
            SIG,
            signal::Immediate::new(signal::ImmediateFn::Rust(count_run)),
        )
    }
    .unwrap();
}

#[test]
fn a_plain_os_threads_interruptible_wait_ends_when_a_handler_runs_on_it() {
    if !in_child!("a_plain_os_threads_interruptible_wait_ends_when_a_handler_runs_on_it") {
        return;
    }
    count_immediate_runs();
    // This test's thread is a plain OS thread; a ULT signals it once it
    // waits.
    let me = thread::current();
    let sender = thread::spawn(move || {
        wait_blocked(me.id());
        me.kill(SIG).unwrap();
    });
    let sem = Semaphore::new(0);
    assert_eq!(
        sem.acquire_interruptible().map(|p| p.forget()),
        Err(Interrupted)
    );
    assert_eq!(IMMEDIATE_RUNS.load(SeqCst), 1);
    sender.join().unwrap();
    // A plain acquire waits on after a handler, as on a ULT.
    let me = thread::current();
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let sender = thread::spawn(move || {
        wait_blocked(me.id());
        me.kill(SIG).unwrap();
        wait_until(|| IMMEDIATE_RUNS.load(SeqCst) == 2);
        wait_blocked(me.id());
        s.release(1);
    });
    sem.acquire().forget();
    assert!(
        signal::take_interrupted(),
        "take_interrupted reports the handler"
    );
    sender.join().unwrap();
}

#[test]
fn an_interruptible_sleep_ends_when_a_handler_runs_on_a_ult_or_an_os_thread() {
    if !in_child!("an_interruptible_sleep_ends_when_a_handler_runs_on_a_ult_or_an_os_thread") {
        return;
    }
    count_immediate_runs();
    let long = std::time::Duration::from_secs(30);
    // On a ULT.
    let t = thread::spawn(move || {
        let r = thread::sleep_until_interruptible(std::time::Instant::now() + long);
        (r, IMMEDIATE_RUNS.load(SeqCst))
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    assert_eq!(t.join().unwrap(), (Err(Interrupted), 1));
    // On this plain OS thread.
    let me = thread::current();
    let sender = thread::spawn(move || {
        wait_blocked(me.id());
        me.kill(SIG).unwrap();
    });
    let start = std::time::Instant::now();
    assert_eq!(
        thread::sleep_until_interruptible(start + long),
        Err(Interrupted)
    );
    assert!(start.elapsed() < long);
    assert_eq!(IMMEDIATE_RUNS.load(SeqCst), 2);
    sender.join().unwrap();
    // Not interrupted: the whole time passes.
    let start = std::time::Instant::now();
    let short = std::time::Duration::from_millis(20);
    assert_eq!(thread::sleep_until_interruptible(start + short), Ok(()));
    assert!(start.elapsed() >= short);
}

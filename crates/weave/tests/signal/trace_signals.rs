//! Signals in a recorded trace: each one the signal layer routes and each
//! handler run it starts is an event (`Event::Signal`,
//! `Event::SignalHandler`), emitted on a thread after the signal was taken
//! (never in signal context), and the file holds as many of each as were
//! emitted; an immediate handler run at its target's safe point is a
//! SignalHandler event on that ULT. Each scenario installs a process-wide
//! handler, so it runs in a child process (`in_child!`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use crate::signal_common::{wait_blocked, wait_for, wait_until};
use weave::signal::{self, How, Immediate, ImmediateFn, SigInfo, SigSet};
use weave::thread;
use weave::trace::{self, format, Event};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static HANDLERS: AtomicUsize = AtomicUsize::new(0);

fn count_hook(e: &Event) {
    match e {
        Event::Signal { .. } => SIGNALS.fetch_add(1, SeqCst),
        Event::SignalHandler { .. } => HANDLERS.fetch_add(1, SeqCst),
        _ => 0,
    };
}

#[test]
fn the_file_holds_every_signal_and_handler_run_that_was_emitted() {
    if !in_child!("the_file_holds_every_signal_and_handler_run_that_was_emitted") {
        return;
    }
    static RAN: AtomicUsize = AtomicUsize::new(0);
    signal::handle(libc::SIGUSR1, |_| {
        RAN.fetch_add(1, SeqCst);
    })
    .unwrap();
    // This OS thread (and the trace's writer thread, started from it)
    // blocks the signal: a ULT takes it.
    let sigusr1 = SigSet::of(&[libc::SIGUSR1]);
    signal::mask(How::Block, &sigusr1);
    let path =
        std::env::temp_dir().join(format!("weave-trace-signals-{}.trace", std::process::id()));
    trace::record(&path).unwrap();
    trace::set_hook(Some(count_hook));
    // A ULT that lets the signal through, waiting on a channel.
    let ready = Arc::new(AtomicBool::new(false));
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let r = ready.clone();
    let t = thread::spawn(move || {
        signal::mask(How::SetMask, &SigSet::empty());
        r.store(true, SeqCst);
        rx.recv().unwrap()
    });
    wait_for(&ready);
    // Three sent to the process, one at a time (a standard signal sent
    // again before its handler ran would coalesce).
    for i in 1..=3 {
        // SAFETY: kill to our own process.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        wait_until(|| RAN.load(SeqCst) >= i);
    }
    // One sent to the ULT: it routes it at its safe point, naming itself.
    t.thread().kill(libc::SIGUSR1).unwrap();
    wait_until(|| RAN.load(SeqCst) >= 4);
    tx.send(()).unwrap();
    let target = t.thread().id();
    t.join().unwrap();
    trace::set_hook(None);
    trace::stop().unwrap().expect("a recording was running");
    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(tr.dropped_total(), 0);
    let in_file = |f: fn(&Event) -> bool| tr.entries.iter().filter(|e| f(&e.event)).count();
    let signals = in_file(|e| matches!(e, Event::Signal { .. }));
    let handlers = in_file(|e| matches!(e, Event::SignalHandler { .. }));
    assert_eq!(
        (signals, handlers),
        (SIGNALS.load(SeqCst), HANDLERS.load(SeqCst)),
        "(routed, handler runs) in the file against emitted"
    );
    assert!(
        signals >= 4 && handlers == 4,
        "{signals} routed, {handlers} handler runs"
    );
    assert!(
        tr.entries.iter().any(|e| matches!(
            e.event,
            Event::Signal { sig, to: Some(to), .. } if i32::from(sig) == libc::SIGUSR1 && to == target
        )),
        "the signal sent to {target:?} is routed naming it"
    );
}

static IMMEDIATE_RUNS: AtomicUsize = AtomicUsize::new(0);

fn count_run(_: &SigInfo) {
    IMMEDIATE_RUNS.fetch_add(1, SeqCst);
}

#[test]
fn an_immediate_handler_run_at_a_safe_point_is_a_handler_event_on_its_ult() {
    if !in_child!("an_immediate_handler_run_at_a_safe_point_is_a_handler_event_on_its_ult") {
        return;
    }
    let sig = libc::SIGUSR2;
    // SAFETY: `count_run` only adds to an atomic.
    unsafe { signal::handle_immediate(sig, Immediate::new(ImmediateFn::Rust(count_run))) }.unwrap();
    // Only the ULT below lets it through.
    signal::mask(How::Block, &SigSet::of(&[sig]));
    let path = std::env::temp_dir().join(format!(
        "weave-trace-immediate-{}.trace",
        std::process::id()
    ));
    trace::record(&path).unwrap();
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let t = thread::spawn(move || {
        signal::mask(How::Unblock, &SigSet::of(&[libc::SIGUSR2]));
        let _ = rx.recv();
    });
    let target = t.thread().id();
    // Sent to the ULT while it waits: the wait ends and the handler runs
    // on it as it is switched in, at a safe point, not in signal context.
    wait_blocked(target);
    t.thread().kill(sig).unwrap();
    wait_until(|| IMMEDIATE_RUNS.load(SeqCst) == 1);
    drop(tx);
    t.join().unwrap();
    trace::stop().unwrap().expect("a recording was running");
    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let on_target: Vec<_> = tr
        .entries
        .iter()
        .filter(|e| {
            matches!(e.event, Event::SignalHandler { sig: s, ult, .. }
                if i32::from(s) == sig && ult == target)
        })
        .collect();
    assert_eq!(
        on_target.len(),
        1,
        "handler runs on {target:?}: {on_target:?}"
    );
}

//! The ULTs of the signal handler pool never take a signal for a handler
//! that runs on its target: not even before they first run, while they
//! still wait in a run queue with the mask they were spawned with. A
//! signal routed to one of them would be lost (it blocks every signal once
//! it runs).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use crate::signal_common::{spin_for, tgkill, wait_for};
use weave::signal::{self, How, Immediate, ImmediateFn, SigInfo, SigSet};
use weave::thread;

static RAN: AtomicBool = AtomicBool::new(false);

fn record(_: &SigInfo) {
    RAN.store(true, SeqCst);
}

#[test]
fn a_signal_routed_while_the_handler_pool_has_not_run_reaches_the_ult_that_takes_it() {
    if !in_child!(
        "a_signal_routed_while_the_handler_pool_has_not_run_reaches_the_ult_that_takes_it"
    ) {
        return;
    }
    let sig = signal::sigrtmin() + 6;
    weave::set_concurrency(1).unwrap();
    // A plain OS thread, not weave's, with the signal open: the kernel
    // gives the signal to it, and weave's wrapper routes it to a ULT from
    // there (no LWP of its own to prefer).
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let plain = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        // Nothing of weave's here: the thread stays unknown to it.
        while !RAN.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let plain_tid = tid_rx.recv().unwrap();
    // The one LWP stays busy, so that the ULTs spawned from here on wait
    // in its queue without running: the handler pool's, which the install
    // spawns (and which the wrapper's scan of the thread table meets
    // first), then the one ULT that takes the signal, its mask open.
    let (stop, spinning) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (s, r) = (stop.clone(), spinning.clone());
    let spinner = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[sig]));
        r.store(true, SeqCst);
        spin_for(&s);
    });
    wait_for(&spinning);
    // SAFETY: `record` is one atomic store: async-signal-safe.
    unsafe { signal::handle_immediate(sig, Immediate::new(ImmediateFn::Rust(record))) }.unwrap();
    let taker = thread::spawn(|| wait_for(&RAN));
    signal::mask(How::Block, &SigSet::of(&[sig]));
    tgkill(plain_tid, sig);
    // Room for the wrapper and the dispatcher to route it while the pool
    // ULTs still wait (a slow machine only makes the test less sharp).
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, SeqCst);
    spinner.join().unwrap();
    wait_for(&RAN);
    taker.join().unwrap();
    plain.join().unwrap();
}

//! `signal::suspend` (`sigsuspend`, `pause`): the thread waits with the
//! given mask until a handler has run on it, then gets its old mask back.
//! On a ULT only the ULT waits.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use crate::signal_common::wait_blocked;
use weave::signal::{self, How, Immediate, ImmediateFn, SigInfo, SigSet};
use weave::thread;

static RAN_ON: AtomicU32 = AtomicU32::new(0);

fn record(info: &SigInfo) {
    RAN_ON.store(info.signo as u32, SeqCst);
}

fn install(sig: i32) {
    // SAFETY: `record` is one atomic store: async-signal-safe.
    unsafe { signal::handle_immediate(sig, Immediate::new(ImmediateFn::Rust(record))) }.unwrap();
}

#[test]
fn suspend_returns_after_a_handler_runs_on_the_ult_and_restores_its_mask() {
    if !in_child!("suspend_returns_after_a_handler_runs_on_the_ult_and_restores_its_mask") {
        return;
    }
    // One LWP: the thread that sends the signal runs while the other waits.
    weave::set_concurrency(1).unwrap();
    install(libc::SIGUSR1);
    let blocked = SigSet::of(&[libc::SIGUSR1]);
    let waiter = thread::spawn(move || {
        signal::mask(How::Block, &blocked);
        signal::suspend(&SigSet::empty());
        (RAN_ON.load(SeqCst), signal::current_mask())
    });
    wait_blocked(waiter.thread().id());
    assert!(matches!(
        thread::threads()
            .iter()
            .find(|t| t.id == waiter.thread().id())
            .map(|t| t.state),
        Some(thread::ThreadState::Blocked(thread::BlockReason::Signal))
    ));
    let me = waiter.thread().clone();
    thread::spawn(move || me.kill(libc::SIGUSR1).unwrap())
        .join()
        .unwrap();
    let (ran, mask) = waiter.join().unwrap();
    assert_eq!(
        ran,
        libc::SIGUSR1 as u32,
        "the handler ran before suspend returned"
    );
    assert!(mask.contains(libc::SIGUSR1), "the old mask is back");
}

#[test]
fn suspend_delivers_a_pending_signal_its_mask_lets_through_at_once() {
    if !in_child!("suspend_delivers_a_pending_signal_its_mask_lets_through_at_once") {
        return;
    }
    install(libc::SIGUSR2);
    let ran = thread::spawn(|| {
        signal::mask(How::Block, &SigSet::of(&[libc::SIGUSR2]));
        thread::current().kill(libc::SIGUSR2).unwrap();
        assert_eq!(RAN_ON.load(SeqCst), 0, "blocked: still pending");
        signal::suspend(&SigSet::empty());
        RAN_ON.load(SeqCst)
    })
    .join()
    .unwrap();
    assert_eq!(ran, libc::SIGUSR2 as u32);
}

#[test]
fn a_process_signal_goes_to_the_suspended_ult_whose_mask_lets_it_through() {
    if !in_child!("a_process_signal_goes_to_the_suspended_ult_whose_mask_lets_it_through") {
        return;
    }
    let sig = signal::sigrtmin() + 4;
    install(sig);
    // This OS thread and every other ULT block it; the suspended ULT's
    // suspend mask alone lets it through.
    signal::mask(How::Block, &SigSet::of(&[sig]));
    let waiter = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[sig]));
        signal::suspend(&SigSet::empty());
        RAN_ON.load(SeqCst)
    });
    wait_blocked(waiter.thread().id());
    // SAFETY: kill to our own process.
    unsafe { libc::kill(libc::getpid(), sig) };
    assert_eq!(waiter.join().unwrap(), sig as u32);
}

#[test]
fn a_process_signal_sent_while_every_thread_blocks_it_reaches_a_later_suspend() {
    if !in_child!("a_process_signal_sent_while_every_thread_blocks_it_reaches_a_later_suspend") {
        return;
    }
    let sig = signal::sigrtmin() + 5;
    install(sig);
    signal::mask(How::Block, &SigSet::of(&[sig]));
    let (go_tx, go_rx) = weave::sync::mpmc::bounded::<()>(1);
    let waiter = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[sig]));
        go_rx.recv().unwrap();
        signal::suspend(&SigSet::empty());
        RAN_ON.load(SeqCst)
    });
    wait_blocked(waiter.thread().id());
    // SAFETY: kill to our own process.
    unsafe { libc::kill(libc::getpid(), sig) };
    std::thread::sleep(std::time::Duration::from_millis(50));
    go_tx.send(()).unwrap();
    assert_eq!(waiter.join().unwrap(), sig as u32);
}

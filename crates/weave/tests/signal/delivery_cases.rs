//! The four delivery cases of a process-directed signal (lecture 004,
//! sections 33-36), each with the thread that took it asserted. The kernel
//! is made to pick a given LWP with `tgkill`; what weave does from there
//! is the behaviour under test.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::signal_common::{
    blocked_by_every_thread, bound_spinner, lwp_tid, pending_here, spin_for, tgkill, wait_for,
    wait_until,
};
use weave::signal::{self, How, Route, SigInfo, SigSet};
use weave::thread;

const SIG: i32 = libc::SIGUSR1;

/// Installs a handler recording every delivery, and blocks SIG on the
/// calling OS thread (so that only ULTs are candidates). ULTs it spawns
/// inherit that mask: those meant to take SIG unblock it.
fn record() -> Arc<Mutex<Vec<SigInfo>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    signal::handle(SIG, move |i| g.lock().unwrap().push(*i)).unwrap();
    signal::mask(How::Block, &SigSet::of(&[SIG]));
    got
}

fn deliveries(got: &Mutex<Vec<SigInfo>>) -> usize {
    got.lock().unwrap().len()
}

#[test]
fn case1_running_ult_that_unblocks_it_takes_it() {
    if !in_child!("case1_running_ult_that_unblocks_it_takes_it") {
        return;
    }
    let got = record();
    let stop = Arc::new(AtomicBool::new(false));
    let (a, lwp) = bound_spinner(How::Unblock, SigSet::of(&[SIG]), &stop);
    tgkill(lwp_tid(lwp), SIG);
    wait_until(|| deliveries(&got) == 1);
    stop.store(true, SeqCst);
    let a_id = a.join().unwrap();
    let info = got.lock().unwrap()[0];
    assert_eq!(info.signo, SIG);
    assert_eq!(info.target, Some(a_id), "the running ULT took it");
    assert_eq!(info.route, Route::Running);
}

#[test]
fn case2_not_running_ult_of_that_lwp_takes_it() {
    if !in_child!("case2_not_running_ult_of_that_lwp_takes_it") {
        return;
    }
    weave::set_concurrency(1).unwrap();
    let got = record();
    // C does not block SIG and waits (not running) on the one pool LWP.
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let c_ready = Arc::new(AtomicBool::new(false));
    let r = c_ready.clone();
    let c = thread::spawn(move || {
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        r.store(true, SeqCst);
        let _ = rx.recv();
        thread::current().id()
    });
    wait_for(&c_ready);
    // B blocks SIG and runs on the same LWP.
    let (started, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (s, st, l) = (started.clone(), stop.clone(), lwp.clone());
    let b = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[SIG]));
        l.store(thread::current_lwp().unwrap(), SeqCst);
        s.store(true, SeqCst);
        spin_for(&st);
    });
    wait_for(&started);
    tgkill(lwp_tid(lwp.load(SeqCst)), SIG);
    stop.store(true, SeqCst);
    b.join().unwrap();
    wait_until(|| deliveries(&got) == 1);
    let info = got.lock().unwrap()[0];
    drop(tx);
    let c_id = c.join().unwrap();
    assert_eq!(
        info.target,
        Some(c_id),
        "the waiting ULT that unblocks it took it"
    );
    assert_eq!(info.route, Route::Switched);
}

#[test]
fn case3_ult_running_on_another_lwp_takes_it() {
    if !in_child!("case3_ult_running_on_another_lwp_takes_it") {
        return;
    }
    let got = record();
    let stop = Arc::new(AtomicBool::new(false));
    let (a, _) = bound_spinner(How::Unblock, SigSet::of(&[SIG]), &stop);
    let (b, b_lwp) = bound_spinner(How::Block, SigSet::of(&[SIG]), &stop);
    // The kernel gives it to B's LWP; B blocks it; A runs elsewhere.
    tgkill(lwp_tid(b_lwp), SIG);
    wait_until(|| deliveries(&got) == 1);
    stop.store(true, SeqCst);
    let a_id = a.join().unwrap();
    let b_id = b.join().unwrap();
    let info = got.lock().unwrap()[0];
    assert_eq!(info.target, Some(a_id), "sent on to A's LWP");
    assert_ne!(info.target, Some(b_id));
    assert_eq!(info.route, Route::Directed);
}

#[test]
fn case4_blocked_everywhere_waits_in_kernel_until_a_ult_unblocks_it() {
    if !in_child!("case4_blocked_everywhere_waits_in_kernel_until_a_ult_unblocks_it") {
        return;
    }
    let got = record();
    // B blocks SIG and waits; it must never get it.
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let b = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[SIG]));
        let _ = rx.recv();
        thread::current().id()
    });
    let (started, unblock) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (s, u, l) = (started.clone(), unblock.clone(), lwp.clone());
    let a = thread::Builder::new()
        .bound()
        .spawn(move || {
            signal::mask(How::Block, &SigSet::of(&[SIG]));
            l.store(thread::current_lwp().unwrap(), SeqCst);
            s.store(true, SeqCst);
            spin_for(&u);
            signal::mask(How::Unblock, &SigSet::of(&[SIG]));
            thread::current().id()
        })
        .unwrap();
    wait_for(&started);
    let changes_before = signal::kernel_mask_changes();
    tgkill(lwp_tid(lwp.load(SeqCst)), SIG);
    // Raised again until every thread's kernel mask blocks it: pending for
    // the process, delivered to nobody. (Pending alone comes first: a
    // thread the kernel picked, an LWP or one of the harness's, may not
    // have blocked it yet; it would route it while A unblocks, and after
    // A has ended find nobody to take it.)
    wait_until(|| pending_here(SIG) && blocked_by_every_thread(SIG));
    assert_eq!(
        deliveries(&got),
        0,
        "nobody took it while everyone blocked it"
    );
    unblock.store(true, SeqCst);
    wait_until(|| deliveries(&got) == 1);
    let a_id = a.join().unwrap();
    drop(tx);
    let b_id = b.join().unwrap();
    let info = got.lock().unwrap()[0];
    assert_eq!(info.target, Some(a_id), "the ULT that unblocked it took it");
    assert_ne!(info.target, Some(b_id));
    assert_eq!(info.route, Route::Unblocked);
    assert_eq!(
        signal::kernel_mask_changes() - changes_before,
        1,
        "one kernel mask change for the unblock"
    );
}

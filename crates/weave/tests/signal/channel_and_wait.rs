//! The ways Rust programs take signals besides a handler: a receiver
//! (`signal::channel`, Go's `signal.Notify`) and `signal::wait` (sigwait),
//! both blocking only the calling ULT.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use crate::signal_common::{pending_here, sigqueue_self, wait_for, wait_until};
use weave::signal::{self, How, Route, SigSet};
use weave::thread;

#[test]
fn channel_receives_each_signal_it_was_made_for() {
    if !in_child!("channel_receives_each_signal_it_was_made_for") {
        return;
    }
    let rx = signal::channel(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
    // A ULT takes them; this OS thread blocks them.
    signal::mask(How::Block, &SigSet::of(&[libc::SIGUSR1, libc::SIGUSR2]));
    let (tx, stop) = weave::sync::mpsc::channel::<()>();
    let t = thread::spawn(move || {
        signal::mask(How::SetMask, &SigSet::empty());
        let _ = stop.recv();
    });
    for sig in [libc::SIGUSR1, libc::SIGUSR2] {
        // SAFETY: kill to our own process.
        unsafe { libc::kill(libc::getpid(), sig) };
        let info = rx.recv().unwrap();
        assert_eq!(info.signo, sig);
        assert_eq!(info.code, libc::SI_USER);
        // SAFETY: getpid has no preconditions.
        assert_eq!(info.pid, unsafe { libc::getpid() });
    }
    drop(tx);
    t.join().unwrap();
}

#[test]
fn wait_takes_a_signal_the_waiting_ult_blocks_and_blocks_only_that_ult() {
    if !in_child!("wait_takes_a_signal_the_waiting_ult_blocks_and_blocks_only_that_ult") {
        return;
    }
    weave::set_concurrency(1).unwrap();
    let sig = signal::sigrtmin();
    let set = SigSet::of(&[sig]);
    signal::mask(How::Block, &set);
    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (tk, st) = (ticks.clone(), stop.clone());
    // On the same (only) LWP: keeps running while the waiter waits.
    let other = thread::spawn(move || {
        while !st.load(SeqCst) {
            tk.fetch_add(1, SeqCst);
            thread::yield_now();
        }
    });
    let waiter = thread::spawn(move || {
        signal::mask(How::Block, &set);
        signal::wait(&set).unwrap()
    });
    crate::signal_common::wait_blocked(waiter.thread().id());
    let t0 = ticks.load(SeqCst);
    wait_until(|| ticks.load(SeqCst) > t0 + 100);
    sigqueue_self(sig, 77);
    let info = waiter.join().unwrap();
    stop.store(true, SeqCst);
    other.join().unwrap();
    assert_eq!(
        (info.signo, info.value, info.route),
        (sig, 77, Route::Waited)
    );
    assert!(!pending_here(sig), "taken, not left pending");
}

#[test]
fn wait_returns_a_signal_already_pending_on_the_ult() {
    if !in_child!("wait_returns_a_signal_already_pending_on_the_ult") {
        return;
    }
    let sig = libc::SIGUSR2;
    let set = SigSet::of(&[sig]);
    let (masked, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (m, s) = (masked.clone(), sent.clone());
    let t = thread::spawn(move || {
        signal::mask(How::Block, &set);
        m.store(true, SeqCst);
        wait_for(&s);
        signal::wait(&set).unwrap()
    });
    wait_for(&masked);
    t.thread().kill(sig).unwrap();
    sent.store(true, SeqCst);
    let id = t.thread().id();
    let info = t.join().unwrap();
    assert_eq!(
        (info.signo, info.route, info.target),
        (sig, Route::Thread, Some(id))
    );
}

#[test]
fn wait_timeout_gives_none_when_nothing_comes_and_the_next_signal_is_not_lost() {
    if !in_child!("wait_timeout_gives_none_when_nothing_comes_and_the_next_signal_is_not_lost") {
        return;
    }
    let sig = signal::sigrtmin() + 1;
    let set = SigSet::of(&[sig]);
    let got = thread::spawn(move || {
        signal::mask(How::Block, &set);
        let first = signal::wait_timeout(&set, std::time::Duration::from_millis(30)).unwrap();
        // The timed-out wait left nothing registered: this signal waits
        // for the next wait, blocked in the ULT's mask.
        sigqueue_self(sig, 5);
        let second = signal::wait_timeout(&set, std::time::Duration::from_secs(60)).unwrap();
        (first, second)
    })
    .join()
    .unwrap();
    assert!(
        got.0.is_none(),
        "nothing was sent before the first deadline"
    );
    let info = got.1.expect("the signal sent between the two waits");
    assert_eq!((info.signo, info.value), (sig, 5));
}

#[test]
fn wait_timeout_returns_a_signal_that_comes_before_the_deadline() {
    if !in_child!("wait_timeout_returns_a_signal_that_comes_before_the_deadline") {
        return;
    }
    let sig = signal::sigrtmin() + 2;
    let set = SigSet::of(&[sig]);
    signal::mask(How::Block, &set);
    let waiter = thread::spawn(move || {
        signal::mask(How::Block, &set);
        signal::wait_timeout(&set, std::time::Duration::from_secs(60)).unwrap()
    });
    crate::signal_common::wait_blocked(waiter.thread().id());
    sigqueue_self(sig, 9);
    let info = waiter
        .join()
        .unwrap()
        .expect("sent long before the deadline");
    assert_eq!(
        (info.signo, info.value, info.route),
        (sig, 9, Route::Waited)
    );
}

#[test]
fn a_plain_os_thread_waits_for_a_signal_its_kernel_mask_blocks() {
    if !in_child!("a_plain_os_thread_waits_for_a_signal_its_kernel_mask_blocks") {
        return;
    }
    // This test's thread is a plain OS thread: its mask is the kernel's.
    let set = SigSet::of(&[libc::SIGUSR1]);
    signal::mask(How::Block, &set);
    // Sent to it before the wait: pending in the kernel, taken at once.
    thread::current().kill(libc::SIGUSR1).unwrap();
    assert_eq!(signal::wait(&set).unwrap().signo, libc::SIGUSR1);
    // Sent by a ULT during the wait.
    let me = thread::current();
    let sender = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(20));
        me.kill(libc::SIGUSR1).unwrap();
    });
    assert_eq!(signal::wait(&set).unwrap().signo, libc::SIGUSR1);
    sender.join().unwrap();
    // The kernel mask still blocks it after the waits.
    // SAFETY: a zeroed sigset_t is a valid out-value.
    let mut now: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new set only reads the mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now) };
    // SAFETY: a valid set, a valid signal number.
    assert_eq!(unsafe { libc::sigismember(&now, libc::SIGUSR1) }, 1);
}

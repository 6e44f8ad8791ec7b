//! Real-time signals queue: n raised give n deliveries, in order, each with
//! its value (lecture 004, section 26). Standard signals coalesce: n raised
//! give between 1 and n.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};

use crate::signal_common::{bound_spinner, lwp_tid, tgkill, wait_for, wait_until};
use weave::signal::{self, How, SigInfo, SigSet};
use weave::thread;

const N: usize = 200;

fn record(sig: i32) -> Arc<StdMutex<Vec<SigInfo>>> {
    let got = Arc::new(StdMutex::new(Vec::new()));
    let g = got.clone();
    signal::handle(sig, move |i| g.lock().unwrap().push(*i)).unwrap();
    signal::mask(How::Block, &SigSet::of(&[sig]));
    got
}

/// A bound ULT that takes `sig`, running until `stop`; returns its LWP.
fn taker(sig: i32, stop: &Arc<AtomicBool>) -> (thread::JoinHandle<thread::ThreadId>, usize) {
    bound_spinner(How::Unblock, SigSet::of(&[sig]), stop)
}

#[test]
fn realtime_signals_from_the_kernel_arrive_n_times_in_order_with_values() {
    if !in_child!("realtime_signals_from_the_kernel_arrive_n_times_in_order_with_values") {
        return;
    }
    let sig = signal::sigrtmin() + 1;
    let got = record(sig);
    let stop = Arc::new(AtomicBool::new(false));
    let (h, lwp) = taker(sig, &stop);
    let tid = lwp_tid(lwp);
    // SAFETY: getpid/getuid have no preconditions.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    for v in 0..N {
        // siginfo_t for rt_tgsigqueueinfo: signo, errno, code, pad, pid, uid, value.
        let mut info = [0u64; 16];
        info[0] = sig as u32 as u64;
        info[1] = libc::SI_QUEUE as u32 as u64;
        info[2] = pid as u32 as u64 | (uid as u64) << 32;
        info[3] = v as u64 + 1000;
        // SAFETY: a valid 128-byte siginfo to a thread of our own process.
        while unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, tid, sig, info.as_ptr()) }
            != 0
        {
            // The queue of pending signals is full (`RLIMIT_SIGPENDING`
            // counts every process of the user): try again.
            let e = std::io::Error::last_os_error().raw_os_error();
            assert_eq!(e, Some(libc::EAGAIN));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    wait_until(|| got.lock().unwrap().len() >= N);
    stop.store(true, SeqCst);
    h.join().unwrap();
    let values: Vec<usize> = got.lock().unwrap().iter().map(|i| i.value).collect();
    assert_eq!(values, (1000..1000 + N).collect::<Vec<_>>());
}

#[test]
fn realtime_signals_queued_on_a_ult_arrive_n_times_in_order_with_values() {
    if !in_child!("realtime_signals_queued_on_a_ult_arrive_n_times_in_order_with_values") {
        return;
    }
    let sig = signal::sigrtmin() + 2;
    let got = record(sig);
    let (masked, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (m, s) = (masked.clone(), sent.clone());
    let t = thread::spawn(move || {
        // Held pending on the ULT until it unblocks them all at once.
        signal::mask(How::Block, &SigSet::of(&[sig]));
        m.store(true, SeqCst);
        wait_for(&s);
        signal::mask(How::Unblock, &SigSet::of(&[sig]));
    });
    wait_for(&masked);
    for v in 0..N {
        t.thread().sigqueue(sig, v).unwrap();
    }
    sent.store(true, SeqCst);
    let id = t.thread().id();
    t.join().unwrap();
    wait_until(|| got.lock().unwrap().len() >= N);
    let v = got.lock().unwrap();
    assert_eq!(
        v.iter().map(|i| i.value).collect::<Vec<_>>(),
        (0..N).collect::<Vec<_>>()
    );
    assert!(v
        .iter()
        .all(|i| i.target == Some(id) && i.code == libc::SI_QUEUE));
}

#[test]
fn standard_signals_raised_n_times_arrive_between_once_and_n_times() {
    if !in_child!("standard_signals_raised_n_times_arrive_between_once_and_n_times") {
        return;
    }
    let sig = libc::SIGUSR1;
    let got = record(sig);
    let stop = Arc::new(AtomicBool::new(false));
    let (h, lwp) = taker(sig, &stop);
    let tid = lwp_tid(lwp);
    for _ in 0..N {
        tgkill(tid, sig);
    }
    wait_until(|| !got.lock().unwrap().is_empty());
    stop.store(true, SeqCst);
    h.join().unwrap();
    let n = got.lock().unwrap().len();
    assert!((1..=N).contains(&n), "{n} deliveries for {N} raises");
}

#[test]
fn records_queued_on_ults_that_exited_are_dropped() {
    if !in_child!("records_queued_on_ults_that_exited_are_dropped") {
        return;
    }
    let sig = signal::sigrtmin() + 2;
    signal::handle(sig, |_| {}).unwrap();
    // 100 ULTs each get a record while they block the signal, and exit
    // without taking it.
    for i in 0..100 {
        let (tx, rx) = weave::sync::mpsc::channel::<()>();
        let t = weave::thread::spawn(move || {
            signal::mask(signal::How::Block, &signal::SigSet::of(&[sig]));
            let _ = rx.recv();
        });
        crate::signal_common::wait_blocked(t.thread().id());
        t.thread().sigqueue(sig, i).unwrap();
        drop(tx);
        t.join().unwrap();
    }
    assert!(
        signal::queued_for_threads() < 100,
        "{} queues kept for 100 exited ULTs",
        signal::queued_for_threads()
    );
}

//! Stress: another process sends many real-time signals while ULTs block
//! and unblock them at random (at times all of them at once, so that the
//! signals wait in the kernel, case 4). Every signal is delivered exactly
//! once, with its value, to a ULT that took it by one of the four cases.

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use crate::signal_common::wait_until;
use weave::signal::{self, How, Route, SigSet};
use weave::thread;

/// Signals sent; sized to run in seconds in a debug build.
const SIGNALS: usize = 100_000;
/// ULTs masking and unmasking.
const ULTS: usize = 10_000;
const SENDER: &str = "WEAVE_SIGNAL_STRESS_SENDER";

/// In the sender process: `sigqueue` SIGNALS values to the parent.
#[test]
fn stress_sender() {
    let Ok(arg) = std::env::var(SENDER) else {
        return; // Only the sender process runs this.
    };
    let mut it = arg.split(',').map(|x| x.parse::<i32>().unwrap());
    let (pid, sig) = (it.next().unwrap(), it.next().unwrap());
    for v in 0..SIGNALS {
        loop {
            // SAFETY: sigqueue with a valid sigval.
            let rc = unsafe {
                libc::sigqueue(
                    pid,
                    sig,
                    libc::sigval {
                        sival_ptr: v as *mut libc::c_void,
                    },
                )
            };
            if rc == 0 {
                break;
            }
            // The receiver's queue is full (RLIMIT_SIGPENDING): let it drain.
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EAGAIN)
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn every_signal_from_another_process_is_delivered_once_to_a_ult_that_took_it() {
    if !in_child!("every_signal_from_another_process_is_delivered_once_to_a_ult_that_took_it") {
        return;
    }
    let sig = signal::sigrtmin() + 4;
    let set = SigSet::of(&[sig]);
    let seen = Arc::new(StdMutex::new(HashSet::new()));
    let bad = Arc::new(StdMutex::new(Vec::new()));
    let ids = Arc::new(StdMutex::new(HashSet::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let (s, b, i, c) = (seen.clone(), bad.clone(), ids.clone(), count.clone());
    signal::handle(sig, move |info| {
        let ok_route = matches!(
            info.route,
            Route::Running | Route::Switched | Route::Directed | Route::Unblocked
        );
        let ok_target = info.target.is_some_and(|t| i.lock().unwrap().contains(&t));
        if !s.lock().unwrap().insert(info.value) || !ok_route || !ok_target {
            b.lock().unwrap().push(*info);
        }
        c.fetch_add(1, SeqCst);
    })
    .unwrap();
    signal::mask(How::Block, &set);

    let stop = Arc::new(AtomicBool::new(false));
    let all_masked = Arc::new(AtomicBool::new(false));
    let ults: Vec<_> = (0..ULTS)
        .map(|k| {
            let (st, am) = (stop.clone(), all_masked.clone());
            thread::spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (k as u64 + 1);
                while !st.load(SeqCst) {
                    let r = next(&mut x);
                    if am.load(SeqCst) || r % 3 == 0 {
                        signal::mask(How::Block, &set);
                    } else {
                        signal::mask(How::Unblock, &set);
                    }
                    if r % 8 == 0 {
                        thread::sleep(Duration::from_micros(100));
                    } else {
                        thread::yield_now();
                    }
                }
                signal::mask(How::Unblock, &set);
            })
        })
        .collect();
    ids.lock()
        .unwrap()
        .extend(ults.iter().map(|h| h.thread().id()));

    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut sender = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::signal_common::test_path(module_path!(), "stress_sender"),
            "--test-threads=1",
        ])
        .env(SENDER, format!("{pid},{sig}"))
        .spawn()
        .unwrap();
    let mut flip = false;
    while sender.try_wait().unwrap().is_none() {
        flip = !flip;
        all_masked.store(flip, SeqCst);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sender.wait().unwrap().success(), "the sender failed");
    all_masked.store(false, SeqCst);
    wait_until(|| count.load(SeqCst) >= SIGNALS);
    stop.store(true, SeqCst);
    for h in ults {
        h.join().unwrap();
    }
    let bad = bad.lock().unwrap();
    assert!(
        bad.is_empty(),
        "{} bad deliveries, first {:?}",
        bad.len(),
        bad.first()
    );
    assert_eq!(count.load(SeqCst), SIGNALS);
    assert_eq!(seen.lock().unwrap().len(), SIGNALS);
}

//! A ULT that ends while its joiner, a ULT of the same LWP, waits for it
//! wakes the joiner and switches straight to it when the loop would run it
//! next (the join's hand-off, `lwp/handoff.rs`): the exit is filed by the
//! joiner's side. What must hold: each join returns its own thread's value
//! (or its panic); the joiner, switched to that way, is woken once and
//! blocks and wakes normally after; timers still fire while exits keep
//! handing the LWP over; every exit is still filed (its LWP's count of
//! placed threads comes back to zero).
//!
//! A ULT that blocks while its LWP has new ULTs and nothing started to run
//! starts the next one directly, which commits its block.
//!
//! The pool has one LWP, so that joiner and children share it. A hang is
//! the failure: watchdogs turn it into one.

mod wait_common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use wait_common::join_or_fail;
use weave::sync::mpmc;
use weave::thread;

/// A bound ULT (on an LWP of its own) that sends back each value it is
/// sent: the asking side, the answering side and its handle.
fn bound_echo() -> (
    mpmc::Sender<u64>,
    mpmc::Receiver<u64>,
    thread::JoinHandle<()>,
) {
    let (tx, rx) = mpmc::bounded::<u64>(0);
    let (ask_tx, ask_rx) = mpmc::bounded::<u64>(0);
    let sender = thread::Builder::new()
        .bound()
        .spawn(move || {
            for i in ask_rx.iter() {
                tx.send(i).unwrap();
            }
        })
        .unwrap();
    (ask_tx, rx, sender)
}

#[test]
fn joins_on_one_lwp_return_each_childs_value_or_panic() {
    weave::set_concurrency(1).unwrap();
    join_or_fail(
        thread::spawn(|| {
            let here = thread::current_lwp();
            for round in 0..50u64 {
                let hs: Vec<_> = (0..200u64)
                    .map(|i| {
                        thread::spawn(move || {
                            if i % 37 == 5 {
                                std::panic::panic_any(round * 1000 + i);
                            }
                            round * 1000 + i
                        })
                    })
                    .collect();
                for (i, h) in hs.into_iter().enumerate() {
                    let want = round * 1000 + i as u64;
                    match h.join() {
                        Ok(v) => assert_eq!(v, want, "a join returned another's value"),
                        Err(p) => {
                            assert_eq!(i % 37, 5, "a child that did not panic joined as one");
                            assert_eq!(*p.downcast::<u64>().unwrap(), want);
                        }
                    }
                    assert_eq!(thread::current_lwp(), here, "the joiner moved");
                }
            }
        }),
        "the joiner",
    );
}

/// After each join that an exit handed the LWP to, the joiner waits on a
/// channel that a bound ULT (its own LWP) sends on: a joiner queued as well
/// as switched to would run twice, and take a message meant for later or
/// trip the engine's checks.
#[test]
fn a_joiner_switched_to_by_an_exit_blocks_and_wakes_normally_after() {
    const N: u64 = 2_000;
    weave::set_concurrency(1).unwrap();
    let (ask_tx, rx, sender) = bound_echo();
    join_or_fail(
        thread::spawn(move || {
            for i in 0..N {
                let h = thread::spawn(move || i * 3);
                assert_eq!(h.join().unwrap(), i * 3);
                ask_tx.send(i).unwrap();
                assert_eq!(rx.recv().unwrap(), i, "a message out of turn");
            }
        }),
        "the joiner",
    );
    join_or_fail(sender, "the bound sender");
}

/// A ULT that blocks while new ULTs wait on its LWP starts one directly,
/// which commits its block: a bound ULT (its own LWP) that wakes it
/// meanwhile, sometimes while it is still switching out, must not lose
/// the wake, and every new ULT still runs.
#[test]
fn a_wake_from_another_lwp_while_a_block_starts_new_work_is_not_lost() {
    const N: u64 = 2_000;
    weave::set_concurrency(1).unwrap();
    let (ask_tx, rx, sender) = bound_echo();
    join_or_fail(
        thread::spawn(move || {
            for i in 0..N {
                let hs: Vec<_> = (0..3u64).map(|k| thread::spawn(move || i + k)).collect();
                ask_tx.send(i).unwrap();
                assert_eq!(rx.recv().unwrap(), i, "a message out of turn");
                for (k, h) in hs.into_iter().enumerate() {
                    assert_eq!(h.join().unwrap(), i + k as u64);
                }
            }
        }),
        "the blocking ULT",
    );
    join_or_fail(sender, "the bound sender");
}

/// A ULT sleeps on the same LWP while another spawns and joins children
/// one at a time (each exit hands the LWP to the joiner): the sleeper's
/// timer must still fire, and the loop ends when it does.
#[test]
fn a_sleeper_wakes_while_exits_keep_handing_the_lwp_to_their_joiner() {
    weave::set_concurrency(1).unwrap();
    let woke = Arc::new(AtomicBool::new(false));
    let w = woke.clone();
    let sleeper = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        w.store(true, SeqCst);
    });
    join_or_fail(
        thread::spawn(move || {
            let mut n = 0u64;
            while !woke.load(SeqCst) {
                assert_eq!(thread::spawn(move || n + 1).join().unwrap(), n + 1);
                n += 1;
            }
        }),
        "the joiner",
    );
    join_or_fail(sleeper, "the sleeper");
}

/// Every exit handed to a joiner is filed: its LWP no longer counts the
/// thread as placed there once it ended.
#[test]
fn every_exit_handed_to_a_joiner_is_filed() {
    weave::set_concurrency(1).unwrap();
    join_or_fail(
        thread::spawn(|| {
            let hs: Vec<_> = (0..5_000u32).map(|i| thread::spawn(move || i)).collect();
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i as u32);
            }
            for i in 0..5_000u32 {
                assert_eq!(thread::spawn(move || i).join().unwrap(), i);
            }
        }),
        "the joiner",
    );
    // The joiner's own exit is filed by the loop, shortly after its join
    // returned here.
    let placed = || weave::lwps().iter().map(|l| l.placed).sum::<usize>();
    for _ in 0..60_000 {
        if placed() == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!(
        "{} threads still counted as placed after every one ended",
        placed()
    );
}

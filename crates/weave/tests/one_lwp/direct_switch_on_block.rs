//! A ULT that wakes a ULT of its own LWP and then blocks switches straight
//! to it (the direct block): its block is committed by the ULT it switched
//! to. What must still hold: every message of a ping-pong arrives, in
//! order; a wake from another LWP that comes while the blocking ULT is
//! still switching out is not lost; a signal and a cancellation request
//! still reach a ULT that blocked that way or was switched to that way.
//!
//! A blocking rendezvous receive that takes the value of a waiting sender
//! of its LWP switches straight to that sender (the receiver runs next).
//! What must still hold: a rendezvous send returns only once a receiver
//! took its value (on one LWP and across two), a value handed to a
//! receiver that timed out is neither lost nor delivered twice, and
//! waiting senders and receivers are served in the order they came.
//!
//! The pool has one LWP (so that the two sides of a ping-pong share it, and
//! the direct block is what runs), and the tests of this file run beside
//! each other but never beside the other tests of the binary; a waker "on
//! another LWP" is a bound ULT, which has an LWP of its own. A hang is the failure: watchdogs turn it into one.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use crate::wait_common::{join_or_fail, wait_blocked};
use weave::sync::{mpmc, Semaphore};
use weave::thread::{self, BlockReason};

/// `n` round trips between the calling ULT and a ULT it spawns, over two
/// channels of capacity `cap`: the reply is the value plus one.
fn ping_pong(cap: usize, n: u64) {
    let (to_b, from_a) = mpmc::bounded::<u64>(cap);
    let (to_a, from_b) = mpmc::bounded::<u64>(cap);
    let b = thread::spawn(move || {
        let mut seen = 0;
        for v in from_a.iter() {
            assert_eq!(v, seen, "B got a value out of order");
            seen += 1;
            to_a.send(v + 1).unwrap();
        }
        seen
    });
    let here = thread::current_lwp();
    for i in 0..n {
        to_b.send(i).unwrap();
        assert_eq!(from_b.recv().unwrap(), i + 1);
        assert_eq!(thread::current_lwp(), here, "moved off its LWP");
    }
    drop(to_b);
    assert_eq!(b.join().unwrap(), n);
}

#[test]
fn a_bounded_one_ping_pong_on_one_lwp_passes_every_value_in_order() {
    let _one = crate::one_lwp_shared();
    join_or_fail(thread::spawn(|| ping_pong(1, 20_000)), "a ULT of the test");
}

#[test]
fn a_rendezvous_ping_pong_on_one_lwp_passes_every_value_in_order() {
    let _one = crate::one_lwp_shared();
    join_or_fail(thread::spawn(|| ping_pong(0, 20_000)), "a ULT of the test");
}

/// A and B ping-pong on the pool's one LWP; each time A blocks it switches
/// straight to B. A bound ULT on its own LWP sends to A on a second channel
/// meanwhile, so that some of its wakes find A still switching out
/// (BLOCKING): B's commit of A's block then fails and B's LWP requeues A.
/// Every message of both must arrive.
#[test]
fn a_wake_from_another_lwp_while_a_direct_block_switches_out_is_not_lost() {
    const ROUNDS: u64 = 20_000;
    const SIDE: u64 = 5_000;
    let _one = crate::one_lwp_shared();
    let a = thread::spawn(|| {
        let (to_b, from_a) = mpmc::bounded::<u64>(1);
        let (to_a, from_b) = mpmc::bounded::<u64>(1);
        let (side_tx, side_rx) = mpmc::unbounded::<u64>();
        let b = thread::spawn(move || {
            for v in from_a.iter() {
                to_a.send(v + 1).unwrap();
            }
        });
        let side = thread::Builder::new()
            .bound()
            .spawn(move || {
                for i in 0..SIDE {
                    side_tx.send(i).unwrap();
                    if i % 8 == 0 {
                        thread::yield_now();
                    }
                }
            })
            .unwrap();
        let (mut next_side, mut rounds) = (0, 0);
        let reply = |v: u64, rounds: &mut u64| {
            *rounds += 1;
            assert_eq!(v, *rounds);
            if *rounds < ROUNDS {
                to_b.send(*rounds).unwrap();
            }
        };
        to_b.send(0).unwrap();
        // Both while the side sends (its channel disconnects once it has
        // sent all and they are taken), then the rest of the round trips.
        while next_side < SIDE {
            weave::select! {
                recv(from_b) -> v => reply(v.unwrap(), &mut rounds),
                recv(side_rx) -> v => {
                    assert_eq!(v.unwrap(), next_side, "a side message lost or reordered");
                    next_side += 1;
                }
            }
        }
        while rounds < ROUNDS {
            reply(from_b.recv().unwrap(), &mut rounds);
        }
        drop(to_b);
        b.join().unwrap();
        side.join().unwrap();
        (rounds, next_side)
    });
    assert_eq!(join_or_fail(a, "a ULT of the test"), (ROUNDS, SIDE));
}

const SIG: i32 = libc::SIGUSR2;

/// B is woken by a signal while blocked in a ping-pong with A on one LWP;
/// it gets the CPU back when A blocks and switches straight to it, and
/// must run its handler then (and go back to its wait: SA_RESTART).
#[test]
fn a_signal_reaches_a_ult_that_a_direct_block_switches_to() {
    if !in_child!("a_signal_reaches_a_ult_that_a_direct_block_switches_to") {
        return;
    }
    let _one = crate::one_lwp_shared();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    weave::signal::handle(SIG, move |i| g.lock().unwrap().push(i.target)).unwrap();
    let (b_id_tx, b_id_rx) = std_mpsc::channel();
    let a = thread::spawn(move || {
        let (to_b, from_a) = mpmc::bounded::<u64>(1);
        let (to_a, from_b) = mpmc::bounded::<u64>(1);
        let b = thread::spawn(move || {
            for v in from_a.iter() {
                to_a.send(v + 1).unwrap();
            }
        });
        b_id_tx.send(b.thread().clone()).unwrap();
        let mut i = 0;
        // Until the handler has run on B, and a while after.
        let mut after = 0;
        while after < 1_000 {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i + 1);
            i += 1;
            if !got.lock().unwrap().is_empty() {
                after += 1;
            }
            if i % 64 == 0 {
                // Let the test thread's kill through now and then.
                thread::sleep(Duration::from_micros(50));
            }
        }
        drop(to_b);
        b.join().unwrap();
        got.lock().unwrap().clone()
    });
    let b = b_id_rx.recv().unwrap();
    b.kill(SIG).unwrap();
    let targets = join_or_fail(a, "a ULT of the test");
    assert_eq!(targets, vec![Some(b.id())], "one delivery, to B");
}

/// A wakes B on one LWP and then waits inside a cancellation point, so that
/// it blocks by switching straight to B; B's request must end that wait.
#[test]
fn a_cancellation_request_ends_a_wait_entered_by_a_direct_block() {
    let _one = crate::one_lwp_shared();
    let sem = Arc::new(Semaphore::new(0));
    let a = thread::spawn(move || {
        let (go_tx, go_rx) = mpmc::bounded::<thread::Thread>(1);
        let b = thread::spawn(move || {
            let a = go_rx.recv().unwrap();
            // A is blocked now: its block was committed by B's switch-in.
            wait_blocked(a.id(), BlockReason::Semaphore);
            a.request_cancel()
        });
        // B waits for A's word (a started ULT, in the ready queue once woken).
        wait_blocked(b.thread().id(), BlockReason::Channel);
        // Wakes B onto this LWP's ready queue...
        go_tx.send(thread::current()).unwrap();
        // ...and blocks, switching straight to it.
        let acquired = thread::cancellation_point(|| sem.acquire_cancellable(None).is_some());
        (acquired, thread::cancel_requested(), b.join().unwrap())
    });
    let (acquired, requested, was_alive) = join_or_fail(a, "a ULT of the test");
    assert!(was_alive, "A was alive when B asked");
    assert!(requested);
    assert_eq!(acquired, Some(false), "the wait ended without a permit");
}

/// A bound ULT on its own LWP requests the cancellation of A the moment A
/// says it enters its wait, which A enters by switching straight to B: the
/// request may come after A's cancellation point began and before its
/// block did, when only the check that follows the commit of its block
/// (made by B) can see it. Every round must end.
#[test]
fn a_cancellation_request_racing_a_direct_block_is_never_lost() {
    const ROUNDS: usize = 500;
    let _one = crate::one_lwp_shared();
    for _ in 0..ROUNDS {
        let requester_ready = Arc::new(AtomicBool::new(false));
        let entering = Arc::new(AtomicBool::new(false));
        let (a_tx, a_rx) = std_mpsc::channel::<thread::Thread>();
        let (ready, enter) = (requester_ready.clone(), entering.clone());
        let a = thread::spawn(move || {
            let sem = Semaphore::new(0);
            let (go_tx, go_rx) = mpmc::bounded::<()>(1);
            let b = thread::spawn(move || go_rx.recv().unwrap());
            wait_blocked(b.thread().id(), BlockReason::Channel);
            a_tx.send(thread::current()).unwrap();
            while !ready.load(SeqCst) {
                thread::yield_now();
            }
            // B to the ready queue, then the wait, entered by a direct block.
            go_tx.send(()).unwrap();
            enter.store(true, SeqCst);
            let _ = thread::cancellation_point(|| sem.acquire_cancellable(None).is_some());
            b.join().unwrap();
            thread::cancel_requested()
        });
        let target = a_rx.recv().unwrap();
        let requester = thread::Builder::new()
            .bound()
            .spawn(move || {
                requester_ready.store(true, SeqCst);
                while !entering.load(SeqCst) {
                    std::hint::spin_loop();
                }
                target.request_cancel()
            })
            .unwrap();
        assert!(join_or_fail(a, "a ULT of the test"), "the request was seen");
        assert!(requester.join().unwrap());
    }
}

/// The ping-pong of `ping_pong` with its first send made before the echo
/// side has run, so that a sender waits first (as the peers' workload
/// does): the receiver that takes a waiting sender's value switches to it.
fn sender_first_ping_pong(n: u64) {
    let (to_b, from_a) = mpmc::bounded::<u64>(0);
    let (to_a, from_b) = mpmc::bounded::<u64>(0);
    let b = thread::spawn(move || {
        let mut seen = 0;
        for v in from_a.iter() {
            assert_eq!(v, seen, "B got a value out of order");
            seen += 1;
            to_a.send(v + 1).unwrap();
        }
        seen
    });
    for i in 0..n {
        to_b.send(i).unwrap();
        assert_eq!(from_b.recv().unwrap(), i + 1);
    }
    drop(to_b);
    assert_eq!(b.join().unwrap(), n);
}

#[test]
fn a_sender_first_rendezvous_ping_pong_on_one_lwp_passes_every_value_in_order() {
    let _one = crate::one_lwp_shared();
    join_or_fail(
        thread::spawn(|| sender_first_ping_pong(20_000)),
        "a ULT of the test",
    );
}

/// A rendezvous send that waits for a receiver: it has not returned while
/// it waits, and has once the receiver took the value. `bound_sender`
/// puts the sender on an LWP of its own.
fn send_returns_after_the_take(bound_sender: bool) {
    let _one = crate::one_lwp_shared();
    let r = thread::spawn(move || {
        let (tx, rx) = mpmc::bounded::<u32>(0);
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let send = move || {
            tx.send(7).unwrap();
            d.store(true, SeqCst);
        };
        let s = if bound_sender {
            thread::Builder::new().bound().spawn(send).unwrap()
        } else {
            thread::spawn(send)
        };
        wait_blocked(s.thread().id(), BlockReason::Channel);
        assert!(!done.load(SeqCst), "the send returned before any receive");
        assert_eq!(rx.recv(), Ok(7));
        s.join().unwrap();
        done.load(SeqCst)
    });
    assert!(join_or_fail(r, "the receiver"), "the send did not return");
}

#[test]
fn a_rendezvous_send_returns_only_after_a_receiver_took_the_value_on_one_lwp() {
    send_returns_after_the_take(false);
}

#[test]
fn a_rendezvous_send_returns_only_after_a_receiver_took_the_value_across_two_lwps() {
    send_returns_after_the_take(true);
}

/// A receiver that keeps timing out races a sender of `n` values; every
/// value arrives once, in order. `bound_sender` as above.
fn timed_out_receives_lose_nothing(bound_sender: bool) {
    const N: u32 = 3_000;
    let _one = crate::one_lwp_shared();
    let r = thread::spawn(move || {
        let (tx, rx) = mpmc::bounded::<u32>(0);
        let send = move || {
            for i in 0..N {
                tx.send(i).unwrap();
                if i % 3 == 0 {
                    thread::yield_now();
                }
            }
        };
        let s = if bound_sender {
            thread::Builder::new().bound().spawn(send).unwrap()
        } else {
            thread::spawn(send)
        };
        let (mut got, mut timeouts) = (Vec::new(), 0u32);
        loop {
            match rx.recv_timeout(Duration::from_micros(20)) {
                Ok(v) => got.push(v),
                Err(mpmc::RecvTimeoutError::Timeout) => timeouts += 1,
                Err(mpmc::RecvTimeoutError::Disconnected) => break,
            }
        }
        s.join().unwrap();
        (got, timeouts)
    });
    let (got, _timeouts) = join_or_fail(r, "the receiver");
    assert_eq!(
        got,
        (0..N).collect::<Vec<_>>(),
        "a value lost, repeated or reordered"
    );
}

#[test]
fn values_handed_to_receivers_that_time_out_are_never_lost_on_one_lwp() {
    timed_out_receives_lose_nothing(false);
}

#[test]
fn values_handed_to_receivers_that_time_out_are_never_lost_across_two_lwps() {
    timed_out_receives_lose_nothing(true);
}

/// Senders that wait on a rendezvous, one after the other, are taken in
/// that order by blocking receives, each of which switches to the sender
/// it took from.
#[test]
fn waiting_rendezvous_senders_are_taken_in_the_order_they_came() {
    const K: u32 = 6;
    let _one = crate::one_lwp_shared();
    let r = thread::spawn(|| {
        let (tx, rx) = mpmc::bounded::<u32>(0);
        let senders: Vec<_> = (0..K)
            .map(|i| {
                let tx = tx.clone();
                let s = thread::spawn(move || tx.send(i).unwrap());
                wait_blocked(s.thread().id(), BlockReason::Channel);
                s
            })
            .collect();
        let got: Vec<u32> = (0..K).map(|_| rx.recv().unwrap()).collect();
        senders.into_iter().for_each(|s| s.join().unwrap());
        got
    });
    assert_eq!(join_or_fail(r, "the receiver"), (0..K).collect::<Vec<_>>());
}

/// Receivers that wait on a rendezvous, one after the other, get the
/// values of one sender in that order.
#[test]
fn waiting_rendezvous_receivers_are_served_in_the_order_they_came() {
    const K: u32 = 6;
    let _one = crate::one_lwp_shared();
    let r = thread::spawn(|| {
        let (tx, rx) = mpmc::bounded::<u32>(0);
        let receivers: Vec<_> = (0..K)
            .map(|_| {
                let rx = rx.clone();
                let r = thread::spawn(move || rx.recv().unwrap());
                wait_blocked(r.thread().id(), BlockReason::Channel);
                r
            })
            .collect();
        for i in 0..K {
            tx.send(i).unwrap();
        }
        receivers
            .into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<u32>>()
    });
    assert_eq!(join_or_fail(r, "the sender"), (0..K).collect::<Vec<_>>());
}

//! A blocking receive on a bounded channel, made by a pooled ULT without a
//! deadline, leaves the publication of its wait to its LWP: a sender on
//! the same LWP hands it the message without touching the channel's waiter
//! word, and the LWP publishes the wait before it commits the block, so
//! that senders elsewhere and a disconnection find it. What must hold: a
//! message sent from another LWP while the wait is not yet published is
//! received, every message of each sender arrives once and in its order,
//! and the drop of the last sender on the receiver's own LWP ends the
//! wait.
//!
//! The pool has one LWP (so that the two sides of a ping-pong share it);
//! a sender "on another LWP" is a bound ULT, which has an LWP of its own.
//! A hang is the failure: `join_or_fail` turns it into one.
//!
//! Each test runs on a rendezvous (`bounded(0)`) too, whose receive
//! leaves its publication (in the channel's one word, or its queue) to
//! its LWP the same way: the same guarantees hold there, with two
//! receivers, a sender on another LWP, a disconnection and a
//! cancellation; and a rendezvous send served on the receiver's LWP is
//! complete at once (its value in the receive's record).

mod wait_common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use wait_common::{join_or_fail, wait_blocked};
use weave::sync::mpmc;
use weave::thread::{self, BlockReason};

#[derive(Debug)]
enum Msg {
    /// The reply of B, on A's LWP, to A's ping.
    Echo(u64),
    /// A message of the sender on another LWP.
    Side(u64),
}

/// A and B ping-pong on one LWP through `to_a`, which a bound ULT also
/// sends on, on its own schedule: its messages come while A's wait is
/// deferred (B runs, A is held), before it is published, or after.
#[test]
fn sends_from_another_lwp_reach_a_receive_whose_wait_is_published_late() {
    sends_from_another_lwp_reach_a_receive_whose_wait_is_published_late_on(1);
}

/// The same on a rendezvous (`bounded(0)`).
#[test]
fn sends_from_another_lwp_reach_a_receive_whose_wait_is_published_late_rendezvous() {
    sends_from_another_lwp_reach_a_receive_whose_wait_is_published_late_on(0);
}

fn sends_from_another_lwp_reach_a_receive_whose_wait_is_published_late_on(cap: usize) {
    const ROUNDS: u64 = 20_000;
    const SIDE: u64 = 5_000;
    weave::set_concurrency(1).unwrap();
    let a = thread::spawn(move || {
        let (to_b, from_a) = mpmc::bounded::<u64>(cap);
        let (to_a, from_b) = mpmc::bounded::<Msg>(cap);
        let side_tx = to_a.clone();
        let b = thread::spawn(move || {
            for v in from_a.iter() {
                to_a.send(Msg::Echo(v)).unwrap();
            }
        });
        let side = thread::Builder::new()
            .bound()
            .spawn(move || {
                for i in 0..SIDE {
                    side_tx.send(Msg::Side(i)).unwrap();
                    if i % 8 == 0 {
                        thread::yield_now();
                    }
                }
            })
            .unwrap();
        let (mut echoes, mut sides) = (0, 0);
        to_b.send(0).unwrap();
        while echoes < ROUNDS || sides < SIDE {
            match from_b.recv().unwrap() {
                Msg::Echo(v) => {
                    assert_eq!(v, echoes, "an echo lost or reordered");
                    echoes += 1;
                    if echoes < ROUNDS {
                        to_b.send(echoes).unwrap();
                    }
                }
                Msg::Side(i) => {
                    assert_eq!(i, sides, "a side message lost or reordered");
                    sides += 1;
                }
            }
        }
        drop(to_b);
        b.join().unwrap();
        side.join().unwrap();
        (echoes, sides)
    });
    assert_eq!(join_or_fail(a, "a ULT of the test"), (ROUNDS, SIDE));
}

/// A waits on a channel whose only sender B holds, switching straight to
/// B, which drops it and ends: nobody is published to wake, so only the
/// LWP's publication of A's wait (before it commits A's block) can see
/// the disconnection. `times` rounds, so that B's end goes both ways
/// (through the loop, or handed to a joiner).
#[test]
fn the_last_sender_dropped_on_the_receivers_lwp_ends_a_wait_published_late() {
    the_last_sender_dropped_on_the_receivers_lwp_ends_a_wait_published_late_on(1);
}

/// The same on a rendezvous (`bounded(0)`).
#[test]
fn the_last_sender_dropped_on_the_receivers_lwp_ends_a_wait_published_late_rendezvous() {
    the_last_sender_dropped_on_the_receivers_lwp_ends_a_wait_published_late_on(0);
}

fn the_last_sender_dropped_on_the_receivers_lwp_ends_a_wait_published_late_on(cap: usize) {
    const TIMES: usize = 200;
    weave::set_concurrency(1).unwrap();
    let a = thread::spawn(move || {
        for _ in 0..TIMES {
            let (tx, rx) = mpmc::bounded::<u64>(cap);
            let (go_tx, go_rx) = mpmc::bounded::<()>(1);
            let b = thread::spawn(move || {
                go_rx.recv().unwrap();
                drop(tx);
            });
            wait_blocked(b.thread().id(), BlockReason::Channel);
            // B to the ready queue, then A's wait, entered by a direct
            // block to B.
            go_tx.send(()).unwrap();
            assert_eq!(rx.recv(), Err(mpmc::RecvError));
            b.join().unwrap();
        }
    });
    join_or_fail(a, "a ULT of the test");
}

/// As above with a message: B sends one message and then blocks on
/// something else for good; A gets the message (handed over by B on the
/// LWP, or taken from the buffer once its wait is published), then the
/// test ends B's wait.
#[test]
fn a_message_sent_on_the_receivers_lwp_then_a_block_elsewhere_is_received() {
    a_message_sent_on_the_receivers_lwp_then_a_block_elsewhere_is_received_on(1);
}

/// The same on a rendezvous (`bounded(0)`).
#[test]
fn a_message_sent_on_the_receivers_lwp_then_a_block_elsewhere_is_received_rendezvous() {
    a_message_sent_on_the_receivers_lwp_then_a_block_elsewhere_is_received_on(0);
}

fn a_message_sent_on_the_receivers_lwp_then_a_block_elsewhere_is_received_on(cap: usize) {
    const TIMES: u64 = 200;
    weave::set_concurrency(1).unwrap();
    let a = thread::spawn(move || {
        for i in 0..TIMES {
            let (tx, rx) = mpmc::bounded::<u64>(cap);
            let (go_tx, go_rx) = mpmc::bounded::<()>(1);
            let (end_tx, end_rx) = mpmc::bounded::<()>(1);
            let b = thread::spawn(move || {
                go_rx.recv().unwrap();
                tx.send(i).unwrap();
                // A second message: the buffer of one place takes it
                // while A has not run yet (or A took the first); on a
                // rendezvous, each send waits for A's receive.
                tx.send(i + 1).unwrap();
                end_rx.recv().unwrap();
            });
            wait_blocked(b.thread().id(), BlockReason::Channel);
            go_tx.send(()).unwrap();
            assert_eq!(rx.recv(), Ok(i));
            assert_eq!(rx.recv(), Ok(i + 1));
            end_tx.send(()).unwrap();
            b.join().unwrap();
        }
    });
    join_or_fail(a, "a ULT of the test");
}

/// Two receivers on one LWP wait on the same channel: the LWP holds one
/// deferred wait at a time, so the second publishes its own, and a send
/// on the LWP serves whichever wait is deferred (the message in the
/// wait's record, with no context). A bound ULT sends too. Each message
/// is received exactly once and dropped exactly once (an `Arc` whose
/// count comes back to one).
#[test]
fn two_receivers_on_one_lwp_get_each_message_once() {
    two_receivers_on_one_lwp_get_each_message_once_on(1);
}

/// The same on a rendezvous (`bounded(0)`).
#[test]
fn two_receivers_on_one_lwp_get_each_message_once_rendezvous() {
    two_receivers_on_one_lwp_get_each_message_once_on(0);
}

fn two_receivers_on_one_lwp_get_each_message_once_on(cap: usize) {
    const HERE: u64 = 20_000;
    const SIDE: u64 = 5_000;
    weave::set_concurrency(1).unwrap();
    let a = thread::spawn(move || {
        let token = Arc::new(());
        let (tx, rx) = mpmc::bounded::<(u64, Arc<()>)>(cap);
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.iter().map(|(i, _)| i).collect::<Vec<u64>>())
            })
            .collect();
        drop(rx);
        let side = {
            let (tx, token) = (tx.clone(), token.clone());
            thread::Builder::new()
                .bound()
                .spawn(move || {
                    for i in 0..SIDE {
                        tx.send((HERE + i, token.clone())).unwrap();
                    }
                })
                .unwrap()
        };
        for i in 0..HERE {
            tx.send((i, token.clone())).unwrap();
            if i % 3 == 0 {
                thread::yield_now();
            }
        }
        drop(tx);
        side.join().unwrap();
        let mut got: Vec<u64> = receivers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect();
        got.sort_unstable();
        let all: Vec<u64> = (0..HERE + SIDE).collect();
        assert!(got == all, "a message lost or received twice");
        Arc::strong_count(&token)
    });
    assert_eq!(
        join_or_fail(a, "a ULT of the test"),
        1,
        "a message not dropped once"
    );
}

/// A cancellation request ends a receive's wait as a spurious wake-up
/// would (whether its LWP still held the wait deferred or had published
/// it): the receive waits again and gets the next message.
#[test]
fn a_receive_woken_by_a_cancellation_request_waits_again() {
    a_receive_woken_by_a_cancellation_request_waits_again_on(1);
}

/// The same on a rendezvous (`bounded(0)`).
#[test]
fn a_receive_woken_by_a_cancellation_request_waits_again_rendezvous() {
    a_receive_woken_by_a_cancellation_request_waits_again_on(0);
}

fn a_receive_woken_by_a_cancellation_request_waits_again_on(cap: usize) {
    const TIMES: u64 = 100;
    weave::set_concurrency(1).unwrap();
    let a = thread::spawn(move || {
        for i in 0..TIMES {
            let (tx, rx) = mpmc::bounded::<u64>(cap);
            let r = thread::spawn(move || {
                let got = thread::cancellation_point(|| rx.recv());
                (got, thread::cancel_requested())
            });
            wait_blocked(r.thread().id(), BlockReason::Channel);
            assert!(r.thread().request_cancel());
            // The request is seen as the receive's wait ends; the receive
            // blocks again (or has not run yet) and takes the message.
            tx.send(i).unwrap();
            assert_eq!(r.join().unwrap(), (Some(Ok(i)), true));
        }
    });
    join_or_fail(a, "a ULT of the test");
}

/// On a rendezvous, B's send on the LWP of A's receive, whose wait is not
/// published yet, puts its value in A's record and is complete: B runs on
/// before A does. B's next send finds no receiver and waits, until a
/// second receiver takes it. Each value arrives once. Preemption is held
/// off around the steps whose order is checked, so that only the serve
/// decides it (with the wait published at B's block instead, A would run
/// first and take the value from B's queued send).
#[test]
fn a_rendezvous_send_on_the_receivers_lwp_is_complete_at_once_and_the_next_waits_for_a_second_receiver(
) {
    const TIMES: u64 = 200;
    weave::set_concurrency(1).unwrap();
    let a = thread::spawn(move || {
        for i in 0..TIMES {
            let (tx, rx) = mpmc::bounded::<u64>(0);
            let (go_tx, go_rx) = mpmc::bounded::<()>(1);
            let sent = Arc::new(AtomicBool::new(false));
            let b = {
                let sent = sent.clone();
                thread::spawn(move || {
                    go_rx.recv().unwrap();
                    {
                        let _held = thread::disable_preemption();
                        tx.send(i).unwrap();
                        sent.store(true, SeqCst);
                    }
                    tx.send(i + 1).unwrap();
                })
            };
            wait_blocked(b.thread().id(), BlockReason::Channel);
            let got = {
                let _held = thread::disable_preemption();
                // B to the ready queue, then A's wait, entered by a direct
                // block to B.
                go_tx.send(()).unwrap();
                rx.recv()
            };
            assert_eq!(got, Ok(i));
            assert!(sent.load(SeqCst), "the send waited for the receive to run");
            let c = thread::spawn(move || rx.recv());
            assert_eq!(c.join().unwrap(), Ok(i + 1));
            b.join().unwrap();
        }
    });
    join_or_fail(a, "a ULT of the test");
}

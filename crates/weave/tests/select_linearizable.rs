//! `select!` is linearizable under contention on several LWPs: it
//! completes exactly one operation, loses and duplicates no message, and
//! takes its `default` (or its timeout) only when none of its operations
//! was ready. Senders and selectors are ULTs and OS threads mixed, over
//! bounded, rendezvous and unbounded channels.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weave::sync::mpmc::{self, select, Receiver, Sender};
use weave::thread;

/// Runs `body` on an OS thread; a hang past 120 s (minutes more than the
/// test needs on a loaded machine) fails with the thread table.
fn with_watchdog(name: &'static str, body: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        body();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => t.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(t.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            eprintln!("{:#?}", weave::thread::threads());
            panic!("{name}: no end after 120 s: a select lost a wake-up or a message");
        }
    }
}

/// Starts `f` as a ULT or, for odd `k`, as an OS thread.
fn start<R: Send + 'static>(
    k: usize,
    f: impl FnOnce() -> R + Send + 'static,
) -> Box<dyn FnOnce() -> R> {
    if k % 2 == 0 {
        let h = thread::spawn(f);
        Box::new(move || h.join().unwrap())
    } else {
        let h = std::thread::spawn(f);
        Box::new(move || h.join().unwrap())
    }
}

const SENDERS: usize = 6;
const SELECTORS: usize = 6;
const PER_SENDER: u64 = 3_000;

/// Each sender sends its messages, each tagged `sender * PER_SENDER + i`,
/// through a `select!` over the three channels (or a plain `send` on one
/// of them), so every message is sent exactly once.
fn sender(k: usize, txs: [Sender<u64>; 3]) {
    for i in 0..PER_SENDER {
        let v = k as u64 * PER_SENDER + i;
        if i % 4 == 0 {
            txs[(i as usize / 4) % 3].send(v).unwrap();
        } else {
            select! {
                send(txs[0], v) -> r => r.unwrap(),
                send(txs[1], v) -> r => r.unwrap(),
                send(txs[2], v) -> r => r.unwrap(),
            }
        }
    }
}

/// Each selector receives until all three channels are disconnected and
/// empty; `timeout` picks `default` or `default(timeout)`. Returns the
/// count and sum of what it got.
fn selector(rxs: [Receiver<u64>; 3], with_timeout: bool) -> (u64, u64) {
    let (mut n, mut sum) = (0u64, 0u64);
    let mut open = [true; 3];
    let never = mpmc::never::<u64>();
    while open.iter().any(|&o| o) {
        // A closed channel's arm is switched off with `never()`.
        let r = |i: usize| if open[i] { &rxs[i] } else { &never };
        let got = if with_timeout {
            select! {
                recv(r(0)) -> m => Some((0, m)),
                recv(r(1)) -> m => Some((1, m)),
                recv(r(2)) -> m => Some((2, m)),
                default(Duration::from_micros(50)) => None,
            }
        } else {
            select! {
                recv(r(0)) -> m => Some((0, m)),
                recv(r(1)) -> m => Some((1, m)),
                recv(r(2)) -> m => Some((2, m)),
                default => None,
            }
        };
        match got {
            Some((_, Ok(v))) => {
                n += 1;
                sum += v;
            }
            Some((i, Err(_))) => open[i] = false,
            None => thread::yield_now(),
        }
    }
    (n, sum)
}

fn contended(with_timeout: bool) {
    weave::set_concurrency(3).unwrap();
    let (a_tx, a_rx) = mpmc::bounded::<u64>(4);
    let (b_tx, b_rx) = mpmc::bounded::<u64>(0);
    let (c_tx, c_rx) = mpmc::unbounded::<u64>();
    let senders: Vec<_> = (0..SENDERS)
        .map(|k| {
            let txs = [a_tx.clone(), b_tx.clone(), c_tx.clone()];
            start(k, move || sender(k, txs))
        })
        .collect();
    drop((a_tx, b_tx, c_tx));
    let selectors: Vec<_> = (0..SELECTORS)
        .map(|k| {
            let rxs = [a_rx.clone(), b_rx.clone(), c_rx.clone()];
            start(k + 1, move || selector(rxs, with_timeout))
        })
        .collect();
    drop((a_rx, b_rx, c_rx));
    senders.into_iter().for_each(|join| join());
    let (n, sum) = selectors
        .into_iter()
        .map(|join| join())
        .fold((0, 0), |(n, s), (a, b)| (n + a, s + b));
    let total = SENDERS as u64 * PER_SENDER;
    assert_eq!(n, total, "messages received: {n}, sent: {total}");
    assert_eq!(
        sum,
        total * (total - 1) / 2,
        "a message was lost and another duplicated"
    );
}

#[test]
fn selectors_with_default_lose_and_duplicate_nothing_under_contention() {
    with_watchdog("default", || contended(false));
}

#[test]
fn selectors_with_a_timeout_lose_and_duplicate_nothing_under_contention() {
    with_watchdog("timeout", || contended(true));
}

/// While other threads fight over one channel of the select, its other
/// operation stays ready for the whole call: `default` must never win.
fn default_never_taken_while_ready(with_timeout: bool) {
    weave::set_concurrency(3).unwrap();
    const ROUNDS: usize = 20_000;
    let (busy_tx, busy_rx) = mpmc::bounded::<u64>(1);
    let stop = Arc::new(AtomicBool::new(false));
    let churn: Vec<_> = (0..4)
        .map(|k| {
            let (tx, rx, stop) = (busy_tx.clone(), busy_rx.clone(), stop.clone());
            start(k, move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = tx.try_send(1);
                    let _ = rx.try_recv();
                }
            })
        })
        .collect();
    // `room` has a free place on every round: the send arm is ready from
    // before the select starts until it completes; `full` holds a message
    // for the receive arm the same way.
    let (room_tx, room_rx) = mpmc::bounded::<u64>(1);
    let (full_tx, full_rx) = mpmc::bounded::<u64>(1);
    let defaults = AtomicU64::new(0);
    for i in 0..ROUNDS {
        full_tx.send(7).unwrap();
        let took = if with_timeout {
            select! {
                recv(busy_rx) -> _ => "busy",
                send(room_tx, 1) -> r => { r.unwrap(); "room" },
                recv(full_rx) -> m => { assert_eq!(m, Ok(7)); "full" },
                default(Duration::ZERO) => "default",
            }
        } else {
            select! {
                recv(busy_rx) -> _ => "busy",
                send(room_tx, 1) -> r => { r.unwrap(); "room" },
                recv(full_rx) -> m => { assert_eq!(m, Ok(7)); "full" },
                default => "default",
            }
        };
        if took == "default" {
            defaults.fetch_add(1, Ordering::Relaxed);
            eprintln!("round {i}: default taken while two operations were ready");
        }
        // Put the channels back as they were for the next round.
        let _ = room_rx.try_recv();
        let _ = full_rx.try_recv();
    }
    stop.store(true, Ordering::Relaxed);
    churn.into_iter().for_each(|join| join());
    assert_eq!(defaults.load(Ordering::Relaxed), 0);
}

#[test]
fn default_is_never_taken_while_an_operation_is_ready() {
    with_watchdog("ready default", || default_never_taken_while_ready(false));
}

#[test]
fn an_elapsed_timeout_is_never_taken_while_an_operation_is_ready() {
    with_watchdog("ready timeout", || default_never_taken_while_ready(true));
}

/// Two selects race for the same two ready receives over and over: each
/// completes exactly one, so between them they take exactly two messages
/// per round, never three or four.
#[test]
fn racing_selects_each_complete_exactly_one_operation() {
    with_watchdog("exactly one", || {
        weave::set_concurrency(3).unwrap();
        const ROUNDS: usize = 5_000;
        let (a_tx, a_rx) = mpmc::unbounded::<u64>();
        let (b_tx, b_rx) = mpmc::unbounded::<u64>();
        let (go_tx, go_rx) = mpmc::bounded::<()>(0);
        let (done_tx, done_rx) = mpmc::unbounded::<u32>();
        let racers: Vec<_> = (0..2)
            .map(|k| {
                let (a, b, go, done) = (a_rx.clone(), b_rx.clone(), go_rx.clone(), done_tx.clone());
                start(k, move || {
                    while go.recv().is_ok() {
                        let took = select! {
                            recv(a) -> m => u32::from(m.is_ok()),
                            recv(b) -> m => u32::from(m.is_ok()),
                            default => 0,
                        };
                        done.send(took).unwrap();
                    }
                })
            })
            .collect();
        for _ in 0..ROUNDS {
            a_tx.send(1).unwrap();
            b_tx.send(2).unwrap();
            go_tx.send(()).unwrap();
            go_tx.send(()).unwrap();
            let took = done_rx.recv().unwrap() + done_rx.recv().unwrap();
            let left = a_rx.try_iter().count() + b_rx.try_iter().count();
            assert_eq!(took as usize + left, 2, "a select completed two operations");
            assert_eq!(took, 2, "a select took default with a message ready");
        }
        drop(go_tx);
        racers.into_iter().for_each(|join| join());
    });
}

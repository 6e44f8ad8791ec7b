//! Deadlocks on purpose, for the detector's tests and for a person to see
//! the report: `cargo run -p weave --example deadlock -- mutex|channel|os-wait`.
//!
//! - `mutex`: two ULTs take two mutexes in opposite orders; main joins.
//! - `channel`: two ULTs each wait to receive from the other; main joins.
//! - `os-wait`: ULTs wait on a channel that a plain OS thread (never
//!   registered with weave) fills after a while: not a deadlock, the
//!   program finishes.

use std::time::Duration;
use weave::sync::{mpmc, Mutex};
use weave::thread;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "mutex" => {
            let a: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
            let b: &'static Mutex<u32> = Box::leak(Box::new(Mutex::new(0)));
            let (go_tx, go_rx) = mpmc::bounded::<()>(0);
            let left = thread::Builder::new()
                .name("left".into())
                .spawn(move || {
                    let _a = a.lock().unwrap();
                    go_tx.send(()).unwrap(); // right holds b from here on
                    let _b = b.lock().unwrap();
                })
                .unwrap();
            let right = thread::Builder::new()
                .name("right".into())
                .spawn(move || {
                    let _b = b.lock().unwrap();
                    go_rx.recv().unwrap(); // left holds a
                    let _a = a.lock().unwrap();
                })
                .unwrap();
            left.join().unwrap();
            right.join().unwrap();
        }
        "channel" => {
            let (to_pong, from_ping) = mpmc::bounded::<u32>(0);
            let (to_ping, from_pong) = mpmc::bounded::<u32>(0);
            let ping = thread::Builder::new()
                .name("ping".into())
                .spawn(move || {
                    let _keep = to_pong; // never sends
                    from_pong.recv().unwrap()
                })
                .unwrap();
            let pong = thread::Builder::new()
                .name("pong".into())
                .spawn(move || {
                    let _keep = to_ping; // never sends either
                    from_ping.recv().unwrap()
                })
                .unwrap();
            ping.join().unwrap();
            pong.join().unwrap();
        }
        "os-wait" => {
            let (tx, rx) = mpmc::bounded::<u32>(0);
            let waiter = thread::Builder::new()
                .name("waits-for-os".into())
                .spawn(move || rx.recv().unwrap())
                .unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(400));
                tx.send(7).unwrap();
            });
            println!("received {}", waiter.join().unwrap());
        }
        other => {
            eprintln!("usage: deadlock mutex|channel|os-wait (got {other:?})");
            std::process::exit(64);
        }
    }
}

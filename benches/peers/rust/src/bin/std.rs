//! The 1:1 baseline: the peers workloads on `std::thread`, `std::sync` and
//! `std::net`. "workers" is the number of CPUs the process may run on
//! (`sched_setaffinity`), since std has no pool.

use std::{net, sync, thread};

const RUNTIME: &str = "std";
const CHANNEL: &str = "mpsc::sync_channel";
const HAS_RENDEZVOUS: bool = true;
const IS_STD: bool = true;

fn setup(workers: usize) {
    weave_peers::limit_cpus(workers);
}

/// Spawns a connection's handler (`http`).
fn spawn_connection(f: impl FnOnce() + Send + 'static) {
    thread::spawn(f);
}

const SHARED_CHANNEL: &str =
    "mpsc::sync_channel(0) behind a Mutex (std's receiver is not clonable)";

/// One channel whose receiver every waiter takes in turn (`idle_long`).
fn shared_channel() -> (impl Send, impl Fn() + Clone + Send + 'static) {
    let (tx, rx) = sync::mpsc::sync_channel::<()>(0);
    let rx = sync::Arc::new(sync::Mutex::new(rx));
    (tx, move || {
        let rx = rx.lock().unwrap();
        assert!(rx.recv().is_err(), "nothing is sent");
    })
}

fn idle_note() -> String {
    String::new()
}

include!("../blocking.rs");

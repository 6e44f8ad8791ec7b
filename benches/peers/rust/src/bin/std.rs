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

include!("../blocking.rs");

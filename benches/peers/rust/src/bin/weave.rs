//! The peers workloads on weave: ULTs, `weave::sync`, `weave::net`.
//! "workers" is the number of LWPs (`weave::set_concurrency`).

use weave::{net, sync, thread};

const RUNTIME: &str = "weave";
const CHANNEL: &str = "mpsc::sync_channel";
const HAS_RENDEZVOUS: bool = true;
const IS_STD: bool = false;

fn setup(workers: usize) {
    weave::set_concurrency(workers).expect("set_concurrency");
}

include!("../blocking.rs");

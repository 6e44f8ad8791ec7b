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

/// Spawns a connection's handler (`http`). With `WEAVE_PEERS_MIGRATABLE`
/// set, as a migratable ULT: a started handler may then run on whichever
/// LWP is free, as a goroutine or a tokio task does.
fn spawn_connection(f: impl FnOnce() + Send + 'static) {
    if std::env::var_os("WEAVE_PEERS_MIGRATABLE").is_some() {
        // SAFETY: the handler (`serve`) holds a `TcpStream`, a `Hello` and
        // a byte buffer, all `Send`, touches no `std::thread_local!` and
        // does not ask for its OS thread's id.
        unsafe { thread::Builder::new().migratable() }
            .spawn(f)
            .expect("spawn");
    } else {
        thread::spawn(f);
    }
}

const SHARED_CHANNEL: &str = "mpmc::bounded(0)";

/// One channel, its receiver cloned into every waiter (`idle_long`).
fn shared_channel() -> (impl Send, impl Fn() + Clone + Send + 'static) {
    let (tx, rx) = sync::mpmc::bounded::<()>(0);
    (tx, move || assert!(rx.recv().is_err(), "nothing is sent"))
}

/// How many of the parked ULTs' stacks are compacted at the read.
fn idle_note() -> String {
    format!(
        "; {} stacks compacted at the read",
        weave::stack_stats().compacted
    )
}

include!("../blocking.rs");

//! The peers workloads on may: coroutines (`go!`), `may::sync`, `may::net`,
//! through the std-shaped workloads of `src/blocking.rs`. "workers" is
//! `may::config().set_workers`. may has only unbounded channels, so its
//! `sync_channel` below is `may::sync::mpsc::channel` whatever the bound
//! (the JSON line's note says so), and the rendezvous row is skipped.

const RUNTIME: &str = "may";
const IS_STD: bool = false;
const CHANNEL: &str = "mpsc::channel (unbounded: may has no bounded channel)";
const HAS_RENDEZVOUS: bool = false;

fn setup(workers: usize) {
    // A panic on one of may's worker threads (e.g. "failed to alloc sys
    // stack" once its stacks' guard pages use up `vm.max_map_count`) leaves
    // the process waiting forever: end it, so the runner reports why.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::exit(101);
    }));
    may::config().set_workers(workers);
}

/// may's names for what the workloads call `thread::*`.
mod thread {
    pub use may::coroutine::{sleep, yield_now, JoinHandle};

    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        may::go!(f)
    }
}

/// may's names for what the workloads call `sync::*`.
mod sync {
    pub use may::sync::{Barrier, Mutex};

    pub mod mpsc {
        pub use may::sync::mpsc::{Receiver, Sender as SyncSender};

        /// may has no bounded channel: unbounded, whatever `_bound`.
        pub fn sync_channel<T>(_bound: usize) -> (SyncSender<T>, Receiver<T>) {
            may::sync::mpsc::channel()
        }
    }
}

use may::net;

/// Spawns a connection's handler (`http`).
fn spawn_connection(f: impl FnOnce() + Send + 'static) {
    thread::spawn(f);
}

const SHARED_CHANNEL: &str = "mpmc::channel (unbounded)";

/// One channel, its receiver cloned into every waiter (`idle_long`).
fn shared_channel() -> (impl Send, impl Fn() + Clone + Send + 'static) {
    let (tx, rx) = may::sync::mpmc::channel::<()>();
    (tx, move || assert!(rx.recv().is_err(), "nothing is sent"))
}

fn idle_note() -> String {
    String::new()
}

include!("../blocking.rs");

//! The harness shared by the loom model tests: run an algorithm under loom
//! with a checker inside its critical region, and catch what loom finds.
//!
//! Each `tests/loom_*.rs` compiles this module on its own and uses part of it.
#![allow(dead_code)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;
use std::panic::{catch_unwind, AssertUnwindSafe};
use weave_classic::CriticalSection;

/// The message of the panic the checker raises when a thread enters while
/// another is inside.
pub const VIOLATION: &str = "mutual exclusion violated";

/// What the critical region does under the model.
struct Region {
    /// Threads inside. Relaxed: the checker must add no ordering that could
    /// hide a missing one in the lock; an RMW sees the latest value anyway.
    occupancy: AtomicUsize,
    /// Data the lock protects; loom panics on an access that is not ordered
    /// after the previous one.
    data: UnsafeCell<usize>,
}

impl Region {
    fn visit(&self, touch_data: bool) {
        let inside = self.occupancy.fetch_add(1, Relaxed);
        assert!(inside == 0, "{VIOLATION}: {inside} other thread(s) inside");
        if touch_data {
            // SAFETY: the lock under test promises this thread is the only
            // one inside; if it is wrong, loom reports the conflicting
            // access instead of letting it happen.
            self.data.with_mut(|data| unsafe { *data += 1 });
        }
        self.occupancy.fetch_sub(1, Relaxed);
    }
}

/// A builder with `preemptions` as the bound unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise.
pub fn builder(preemptions: usize) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder
}

/// The model: one thread per id (the last id runs on loom's main thread),
/// each entering `rounds` times.
fn model<L>(ids: &[L::Id], rounds: usize, touch_data: bool, preemptions: usize)
where
    L: CriticalSection + Default + Send + 'static,
{
    let ids = ids.to_vec();
    builder(preemptions).check(move || {
        let lock = Arc::new(L::default());
        let region = Arc::new(Region {
            occupancy: AtomicUsize::new(0),
            data: UnsafeCell::new(0),
        });
        let (&main_id, others) = ids.split_last().expect("at least one thread");
        let spawned: Vec<_> = others
            .iter()
            .map(|&id| {
                let (lock, region) = (lock.clone(), region.clone());
                thread::spawn(move || rounds_of(&*lock, id, &region, rounds, touch_data))
            })
            .collect();
        rounds_of(&*lock, main_id, &region, rounds, touch_data);
        for handle in spawned {
            handle.join().expect("a model thread panicked");
        }
    });
}

fn rounds_of<L: CriticalSection>(
    lock: &L,
    id: L::Id,
    region: &Region,
    rounds: usize,
    touch_data: bool,
) {
    for _ in 0..rounds {
        let guard = lock.enter(id);
        region.visit(touch_data);
        drop(guard);
    }
}

/// Checks that `L` keeps the critical regions apart, in time and in
/// happens-before, in every interleaving explored.
pub fn check<L>(ids: &[L::Id], rounds: usize, preemptions: usize)
where
    L: CriticalSection + Default + Send + 'static,
{
    model::<L>(ids, rounds, true, preemptions);
}

/// Runs the model for a lock expected to be broken and returns the message
/// of the panic loom raised; fails if loom explored everything and found
/// nothing.
///
/// The data cell is not touched, so the failure loom reports is the
/// checker's [`VIOLATION`] rather than the data race that comes with it.
pub fn check_finds<L>(ids: &[L::Id], rounds: usize, preemptions: usize) -> String
where
    L: CriticalSection + Default + Send + 'static,
{
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        model::<L>(ids, rounds, false, preemptions);
    }));
    let payload = match outcome {
        Ok(()) => panic!(
            "loom explored every interleaving (up to {preemptions} preemptions) \
             and found no violation"
        ),
        Err(payload) => payload,
    };
    panic_message(payload)
}

/// The text of a panic payload.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "<non-string panic>".to_owned(), |s| (*s).to_owned()),
    }
}

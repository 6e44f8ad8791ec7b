//! trace: the one funnel every scheduling event passes through.
//!
//! The scheduler calls [`emit`] for each spawn, run, block, wake, steal,
//! preemption request and exit. `emit` keeps the runtime's counters and, if
//! a hook is installed with [`set_hook`], hands the event to it. Traces,
//! counters and the figures of `weave demo` all come from here, so they
//! cannot disagree. With no hook installed an event costs a relaxed counter
//! bump and one load and branch.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! static SPAWNS: AtomicUsize = AtomicUsize::new(0);
//! fn hook(e: &weave::trace::Event) {
//!     if let weave::trace::Event::Spawn { .. } = e {
//!         SPAWNS.fetch_add(1, Ordering::Relaxed);
//!     }
//! }
//! weave::trace::set_hook(Some(hook));
//! weave::thread::spawn(|| ()).join().unwrap();
//! weave::trace::set_hook(None);
//! assert!(SPAWNS.load(Ordering::Relaxed) >= 1);
//! ```

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::thread::{BlockReason, ThreadId};

/// A scheduling event. `lwp` is the index of the LWP it happened on, or
/// `None` on a plain OS thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A ULT was created.
    Spawn { ult: ThreadId, lwp: Option<usize> },
    /// An LWP switched to a ULT.
    Run { ult: ThreadId, lwp: usize },
    /// A ULT blocked.
    Block {
        ult: ThreadId,
        lwp: usize,
        reason: BlockReason,
    },
    /// A blocked ULT became runnable.
    Wake { ult: ThreadId, lwp: Option<usize> },
    /// An LWP took a not-yet-started ULT queued on another LWP.
    Steal {
        ult: ThreadId,
        from: usize,
        to: usize,
    },
    /// An LWP was asked to switch at its next safe point.
    Preempt { lwp: usize },
    /// A ULT finished.
    Exit { ult: ThreadId, lwp: usize },
    /// An LWP started.
    LwpStart { lwp: usize, bound: bool },
    /// An LWP retired.
    LwpExit { lwp: usize },
}

/// A function that receives every event. It runs on the thread where the
/// event happened, often in the middle of a switch: it must not block, and
/// must not call back into weave.
pub type Hook = fn(&Event);

static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Installs (or with `None` removes) the event hook.
pub fn set_hook(hook: Option<Hook>) {
    let p = hook.map_or(std::ptr::null_mut(), |f| f as *mut ());
    // Release pairs with the Acquire load in `emit`: a hook sees the
    // runtime's state as it was when it was installed.
    HOOK.store(p, Ordering::Release);
}

/// Counters of the whole runtime since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub spawns: u64,
    pub runs: u64,
    pub blocks: u64,
    pub wakes: u64,
    pub steals: u64,
    pub preempts: u64,
    pub exits: u64,
}

struct Shared {
    spawns: AtomicU64,
    runs: AtomicU64,
    blocks: AtomicU64,
    wakes: AtomicU64,
    steals: AtomicU64,
    preempts: AtomicU64,
    exits: AtomicU64,
}

static COUNTERS: Shared = Shared {
    spawns: AtomicU64::new(0),
    runs: AtomicU64::new(0),
    blocks: AtomicU64::new(0),
    wakes: AtomicU64::new(0),
    steals: AtomicU64::new(0),
    preempts: AtomicU64::new(0),
    exits: AtomicU64::new(0),
};

/// The counters as they are now.
pub fn counters() -> Counters {
    let c = &COUNTERS;
    Counters {
        spawns: c.spawns.load(Ordering::Relaxed),
        runs: c.runs.load(Ordering::Relaxed),
        blocks: c.blocks.load(Ordering::Relaxed),
        wakes: c.wakes.load(Ordering::Relaxed),
        steals: c.steals.load(Ordering::Relaxed),
        preempts: c.preempts.load(Ordering::Relaxed),
        exits: c.exits.load(Ordering::Relaxed),
    }
}

/// Records an event. `Run` is the hottest event (one per switch), so it is
/// counted per LWP by the scheduler and added in batches instead of here,
/// and only emitted when a hook is installed.
#[inline]
pub(crate) fn emit(e: Event) {
    let c = &COUNTERS;
    let counter = match e {
        Event::Spawn { .. } => Some(&c.spawns),
        Event::Run { .. } => None,
        Event::Block { .. } => Some(&c.blocks),
        Event::Wake { .. } => Some(&c.wakes),
        Event::Steal { .. } => Some(&c.steals),
        Event::Preempt { .. } => Some(&c.preempts),
        Event::Exit { .. } => Some(&c.exits),
        Event::LwpStart { .. } | Event::LwpExit { .. } => None,
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let hook = HOOK.load(Ordering::Acquire);
    if !hook.is_null() {
        call(hook, &e);
    }
}

/// Whether a hook is installed: lets the hottest event (`Run`, once per
/// switch) skip building the event when nobody listens.
#[inline]
pub(crate) fn hooked() -> bool {
    !HOOK.load(Ordering::Relaxed).is_null()
}

/// Adds `runs` switches counted by an LWP.
pub(crate) fn add_runs(runs: u64) {
    COUNTERS.runs.fetch_add(runs, Ordering::Relaxed);
}

#[cold]
fn call(hook: *mut (), e: &Event) {
    // SAFETY: `HOOK` only ever holds null or a `Hook` stored by `set_hook`.
    let f: Hook = unsafe { std::mem::transmute::<*mut (), Hook>(hook) };
    f(e);
}

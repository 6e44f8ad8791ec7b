//! What the top half reads per signal, in signal context: the one-shot
//! flag, whether the handler runs on the target, the immediate handler, the
//! count of `wait` callers and the ring records are left in; and the stash
//! of signals in flight between LWPs.
//!
//! The signal layer's lower half: plain atomics that the thread-side half
//! (`signal/mod.rs`, `dispatch.rs`) writes and the top half (`wrapper.rs`,
//! `immediate.rs`, `fault.rs`) reads. It names nothing above itself, so the
//! top half sits below the public signal API and the runtime's start, which
//! installs the fault router (`fault::install`). What the thread side keeps
//! per signal (the handler closure, channel subscribers, `wait` callers,
//! the dispatcher's lane) is `signal::Action`.

use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32};

use super::immediate::Immediate;
use super::ring::Ring;
use super::set::MAX_SIGNAL;
use super::spill::Spill;
use super::stash::Stash;

/// The part of a signal's action the top half reads.
pub(crate) struct Slot {
    /// One-shot handler still armed (`SA_RESETHAND`).
    pub(crate) once: AtomicBool,
    /// The handler runs on the ULT that took the signal, at its next safe
    /// point (`handle_on_target`), not on the pool.
    pub(crate) on_target: AtomicBool,
    /// The handler that runs in signal context (`handle_immediate`), an
    /// interned `immediate::Immediate`; null when the signal has none.
    pub(crate) immediate: AtomicPtr<Immediate>,
    /// How many `wait` callers wait for the signal (the top half hands the
    /// signal to one before any handler).
    pub(crate) waiting: AtomicU32,
    /// The ring the top half leaves records in (leaked, never freed).
    pub(crate) ring: AtomicPtr<Ring>,
    /// Records of this (real-time) signal in the spill, or on their way
    /// there, not yet routed by the dispatcher: while there are any, the
    /// top half spills the next ones too, so that none passes them in the
    /// ring.
    pub(crate) spilled: AtomicU32,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            once: AtomicBool::new(false),
            on_target: AtomicBool::new(false),
            immediate: AtomicPtr::new(std::ptr::null_mut()),
            waiting: AtomicU32::new(0),
            ring: AtomicPtr::new(std::ptr::null_mut()),
            spilled: AtomicU32::new(0),
        }
    }
}

static SLOTS: [Slot; MAX_SIGNAL as usize + 1] = [const { Slot::new() }; MAX_SIGNAL as usize + 1];

/// The slot of signal `sig` (1..=`MAX_SIGNAL`; callers have checked it).
// ASYNC-SIGNAL-SAFE
#[inline]
pub(crate) fn slot(sig: i32) -> &'static Slot {
    &SLOTS[sig as usize]
}

/// Every signal's slot, for the resets after a fork.
pub(crate) fn slots() -> &'static [Slot; MAX_SIGNAL as usize + 1] {
    &SLOTS
}

/// Whether `sig` is a real-time (queued) signal.
// ASYNC-SIGNAL-SAFE
#[inline]
pub(crate) fn is_realtime(sig: i32) -> bool {
    sig >= 32
}

static STASH: AtomicPtr<Stash> = AtomicPtr::new(std::ptr::null_mut());

/// Slots for signals in flight between LWPs (cases 3 and 4): as many as a
/// burst of real-time signals blocked everywhere can need before they are
/// re-sent without it (then a `kill`'s sender pid is lost, nothing else).
const STASH_SLOTS: usize = 4096;

// ASYNC-SIGNAL-SAFE
pub(crate) fn stash() -> Option<&'static Stash> {
    // Acquire pairs with the Release store in `make_stash`.
    let p = STASH.load(Acquire);
    // SAFETY: the stash is leaked when published and never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Makes the stash and the spill if there are none (callers hold
/// `signal::INSTALL`, so only one of each is ever made).
pub(crate) fn make_stash() {
    if stash().is_none() {
        let s = Box::into_raw(Box::new(Stash::new(STASH_SLOTS, super::stash::TAG)));
        // Release pairs with the Acquire load in `stash`.
        STASH.store(s, Release);
    }
    if keyed_stash().is_none() {
        let s = Box::into_raw(Box::new(Stash::new(KEYED_SLOTS, super::stash::KEYED_TAG)));
        // Release pairs with the Acquire load in `keyed_stash`.
        KEYED_STASH.store(s, Release);
    }
    if spill().is_none() {
        let s = Box::into_raw(Box::new(Spill::new(SPILL_SLOTS)));
        // Release pairs with the Acquire load in `spill`.
        SPILL.store(s, Release);
    }
}

static KEYED_STASH: AtomicPtr<Stash> = AtomicPtr::new(std::ptr::null_mut());

/// Slots for standard signals in flight (one per signal and thread sent
/// to, `stash.rs`): a few per LWP; scanned whole by each look up by key,
/// so kept small. Past that a signal is re-sent without its `siginfo`.
const KEYED_SLOTS: usize = 256;

/// The stash of standard signals (one record per signal and destination).
// ASYNC-SIGNAL-SAFE
pub(crate) fn keyed_stash() -> Option<&'static Stash> {
    // Acquire pairs with the Release store in `make_stash`.
    let p = KEYED_STASH.load(Acquire);
    // SAFETY: the stash is leaked when published and never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

static SPILL: AtomicPtr<Spill> = AtomicPtr::new(std::ptr::null_mut());

/// Real-time records the top half can leave while their rings are full
/// (1,024 each) and the dispatcher cannot empty them: four rings' worth,
/// 48 bytes each (192 KiB, made with the first handler). Past that the top
/// half waits for room (`wrapper::deliver`).
const SPILL_SLOTS: usize = 4096;

// ASYNC-SIGNAL-SAFE
pub(crate) fn spill() -> Option<&'static Spill> {
    // Acquire pairs with the Release store in `make_stash`.
    let p = SPILL.load(Acquire);
    // SAFETY: the spill is leaked when published and never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

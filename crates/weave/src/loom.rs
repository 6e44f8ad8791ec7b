//! The facade between weave's lock-free code and its atomics.
//!
//! Everything lock-free (the TCB state word, the LWP inbox, the LWP parker,
//! the join packet, the channel core, the mutex word and the wait queues of
//! `sync`) takes its atomics (and the channel core its short internal lock)
//! from here, so that `--cfg loom` swaps in `loom`'s checked versions and
//! the model tests explore every interleaving of the real code rather than
//! of a copy.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU8;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU8;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// One step of a spin-wait: a pause on the CPU, or under loom a yield so
/// that the model checker lets the thread we wait for make progress.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

//! sync: locks and wait primitives that block the calling ULT, not its LWP,
//! with the shape of `std::sync`.
//!
//! Every blocking call here blocks only the calling ULT: its LWP goes on
//! running other ULTs. From a plain OS thread (`main`, `std::thread`) the
//! same calls park the OS thread in the kernel, so ULTs and OS threads can
//! wait on the same lock.
//!
//! | module       | owns                                                      |
//! |--------------|-----------------------------------------------------------|
//! | `block`      | the seam to the scheduler: block, wake, owner information  |
//! | `queue`      | the wait queue all primitives park in (priority, then FIFO) |
//! | `raw_mutex`  | the adaptive mutex word and its protocol (table there)     |
//! | `mutex`      | [`Mutex`], [`MutexGuard`], poisoning                       |
//!
//! This module does not touch run queues or LWPs: it only blocks and wakes
//! through `block`.
//!
//! Holding a `std::sync::Mutex` across a weave blocking call can deadlock
//! an LWP (see [`Mutex`]); use weave's.

pub(crate) mod block;
mod mutex;
mod poison;
pub(crate) mod queue;
pub(crate) mod raw_mutex;

pub use mutex::{Mutex, MutexGuard};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

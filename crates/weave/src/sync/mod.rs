//! sync: synchronisation that blocks the calling ULT, not its LWP, with
//! the shape of `std::sync`.
//!
//! Every blocking call here blocks only the calling ULT: its LWP goes on
//! running other ULTs. From a plain OS thread (`main`, `std::thread`) the
//! same calls park the OS thread in the kernel, so ULTs and OS threads can
//! wait on the same lock or channel.
//!
//! | module       | owns                                                        |
//! |--------------|-------------------------------------------------------------|
//! | `block`      | the one seam to the scheduler (locks and channels): block, wake, owner information |
//! | `queue`      | the wait queue the locks park in (priority, then FIFO, bounded by age) |
//! | `raw_mutex`  | the adaptive mutex word and its protocol (table there)       |
//! | `mutex`      | [`Mutex`], [`MutexGuard`], poisoning; [`RawLock`], the same lock without guard or data |
//! | `raw_condvar`| the wait/notify hand-over every other primitive blocks through |
//! | `condvar`    | [`Condvar`]                                                  |
//! | `barrier`    | [`Barrier`], generations on Mutex + Condvar                  |
//! | `once`       | [`Once`], [`OnceState`] and [`OnceLock`] (state table there) |
//! | `lazy_lock`  | [`LazyLock`], on a [`Once`]                                  |
//! | `raw_rwlock` | the reader-writer word and its protocol (table there)        |
//! | `rwlock`     | [`RwLock`] and its guards, poisoning                         |
//! | `semaphore`  | [`Semaphore`] (fair: permits granted in queue order) and [`WaitGroup`] |
//! | [`mpsc`]     | `std::sync::mpsc`'s channels (`channel`, `sync_channel`)     |
//! | [`mpmc`]     | crossbeam-channel-shaped channels, [`select!`](crate::select), `Select`, `after`/`tick`/`never` |
//!
//! The channels rest on one core (`mpmc/chan.rs`: a lock-free array for
//! bounded channels, one short lock for the others) and the wait protocol
//! of `mpmc/context.rs`. Nothing here touches run queues or LWPs: a blocked
//! operation, like a lock, goes through `block::block_on` (the one seam to
//! `sched::block_on`) and wakes through its `Waiter`.
//!
//! Holding a `std::sync::Mutex` across a weave blocking call can deadlock
//! an LWP (see [`Mutex`]); use weave's.

mod barrier;
pub(crate) mod block;
mod condvar;
mod lazy_lock;
pub mod mpmc;
pub mod mpsc;
mod mutex;
mod once;
mod poison;
pub(crate) mod queue;
pub(crate) mod raw_condvar;
pub(crate) mod raw_mutex;
pub(crate) mod raw_rwlock;
mod rwlock;
mod semaphore;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy_lock::LazyLock;
pub use mutex::{Mutex, MutexGuard, RawLock};
pub use once::{Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::Interrupted;
pub use semaphore::{Semaphore, SemaphorePermit, WaitGroup};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

//! The behaviour tests of `weave::sync` (channels, `select!`, locks,
//! condvars, `Once`/`OnceLock`/`LazyLock`, semaphores, `WaitGroup`,
//! park/unpark), one module per behaviour, linked into one test binary:
//! building and linking one binary instead of one per file is most of what
//! these tests cost.
//!
//! Only tests that can share a process with any other belong here: none of
//! them changes the runtime's configuration (`set_concurrency`, the time
//! slice, accounting, tracing), the environment, signal dispositions, rlimits
//! or the panic hook, forks or re-runs the binary, or counts what belongs to
//! the whole process (its threads, the thread table's length, process-wide
//! counters, memory). A test that needs any of those has a file of its own
//! in `tests/` (or joins a group of tests that agree on it).

#[path = "../wait_common/mod.rs"]
mod wait_common;

mod channel_array;
mod channel_disconnect;
mod channel_drop_panics;
mod channel_handoff;
mod channel_no_loss;
mod channel_os_threads;
mod channel_rendezvous;
mod channel_same_channel;
mod channel_select;
mod channel_time;
mod channel_timeout;
mod channel_unbounded;
mod condvar_no_lost_notify;
mod condvar_spurious_wakeups;
mod condvar_wait_timeout;
mod condvar_wake_order;
mod lazylock;
mod lock_no_waiter_starves;
mod mutex_counts_exactly;
mod mutex_poison_and_try_lock;
mod once_force_and_wait;
mod once_panics;
mod oncelock_api;
mod park;
mod raw_lock;
mod rwlock_downgrade;
mod rwlock_poison_and_try;
mod rwlock_reader_preference;
mod rwlock_readers_share_writers_exclude;
mod rwlock_timed;
mod rwlock_writer_preference;
mod select_builder;
mod select_send_value;
mod select_syntax;
mod semaphore_bounds_concurrency;
mod semaphore_fifo;
mod semaphore_permit_returns_on_panic;
mod semaphore_try_and_timeout;
mod waitgroup;

//! weave: a two-level (M:N) threading runtime.
//!
//! Many user-level threads run on a small pool of kernel threads, with the
//! API of `std::thread` and plain blocking code:
//!
//! ```
//! let handles: Vec<_> = (0..10_000)
//!     .map(|i| weave::thread::spawn(move || i))
//!     .collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 9_999 * 10_000 / 2);
//! ```
//!
//! ## Vocabulary (as in the Solaris papers of Stein & Shah and Eykholt et al.)
//!
//! - **ULT**, user-level thread: what `weave::thread::spawn` creates. A TCB
//!   (thread control block) in the thread table, a stack with a red zone,
//!   saved registers. Cheap: a spawn and join costs about as much as a few
//!   allocations, and a parked ULT a few KiB.
//! - **LWP**, lightweight process: a kernel thread that the runtime treats
//!   as a virtual CPU and multiplexes ULTs on. The pool has one per CPU by
//!   default (`set_concurrency` changes it); a *bound* ULT has one of its
//!   own.
//! - **CPU**: what the kernel schedules LWPs on. weave does not schedule
//!   CPUs; it can pin a bound thread's LWP to some (`Builder::cpu_affinity`).
//!
//! The layers, bottom up, each a module that only calls the ones below it:
//! [`stack`] (stacks, guard pages, death row), `context` (switching),
//! [`thread`] (TCB, thread table, the public thread API), `lwp` (the LWPs
//! and their scheduler loops), `sched` (queues, placement, wake-ups),
//! [`time`] (timers, sleeps, intervals), [`trace`] (the event hook),
//! `monitor` (time slices, LWPs blocked in the kernel, the reaper),
//! [`sync`] (std's locks, condvar, barrier and once, a semaphore, a wait
//! group and the channels, which block the ULT), `reactor` (one epoll
//! instance that wakes ULTs waiting for io), [`net`] and [`os::unix::net`]
//! (std's sockets), [`fs`] (std's file calls, on the blocking pool).
//! `docs/ARCHITECTURE.md` walks through
//! them and lists the designs we rejected.
//!
//! ## What blocks what
//!
//! | call                                   | on a ULT blocks      | on an OS thread blocks |
//! |----------------------------------------|----------------------|------------------------|
//! | `weave::thread::{sleep, park, yield_now}` | the ULT only      | the OS thread          |
//! | `JoinHandle::join`, `scope`            | the ULT only         | the OS thread          |
//! | `weave::sync::Mutex::lock`, `weave::sync::{mpsc, mpmc}` `send`/`recv`, `select!` | the ULT only | the OS thread |
//! | `weave::sync::Condvar` `wait*` (the mutex is released while waiting) | the ULT only | the OS thread |
//! | `weave::sync::Semaphore::acquire*`, `WaitGroup::wait*` | the ULT only | the OS thread |
//! | `weave::sync::Barrier::wait`          | the ULT only         | the OS thread          |
//! | `weave::sync::{Once, OnceLock}` while another thread initialises | the ULT only | the OS thread |
//! | `weave::sync::RwLock::{read, write}`  | the ULT only         | the OS thread          |
//! | [`net`], [`os::unix::net`]: `read`, `write`, `accept`, `connect`, ... | the ULT only (the reactor wakes it) | the OS thread |
//! | [`fs`] calls, [`time::Interval::tick`] | the ULT only        | the OS thread          |
//! | [`blocking`]`(f)`                      | the ULT only (`f` runs on a kernel thread set aside) | nothing: runs `f` |
//! | `std::thread::sleep`, blocking syscalls, `std::sync` locks | **the LWP**: every ULT placed on it waits | the OS thread |
//!
//! Code on weave should use weave's calls; a call that must block the
//! kernel thread belongs in [`blocking`] or on a bound thread
//! (`Builder::bound`). The monitor warns, naming the thread, when one
//! blocks an LWP anyway.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub(crate) mod loom;

#[cfg(not(loom))]
mod blocking;
#[cfg(not(loom))]
pub use blocking::blocking;

#[cfg(not(loom))]
mod context;
#[cfg(not(loom))]
pub mod fs;
#[cfg(not(loom))]
mod lwp;
#[cfg(not(loom))]
mod monitor;
#[cfg(not(loom))]
pub mod net;
#[cfg(not(loom))]
pub mod os;
#[cfg(not(loom))]
mod reactor;
#[cfg(not(loom))]
mod runtime;
#[cfg(not(loom))]
mod sched;
#[cfg(not(loom))]
pub mod stack;
#[cfg(not(loom))]
pub mod sync;
#[cfg(not(loom))]
pub mod thread;
#[cfg(not(loom))]
pub mod time;
#[cfg(not(loom))]
pub mod trace;

#[cfg(not(loom))]
pub use lwp::LwpInfo;
#[cfg(not(loom))]
pub use monitor::DEFAULT_TIME_SLICE;
#[cfg(not(loom))]
pub use runtime::MAX_CONCURRENCY;

/// Sets the time slice: a ULT that has run this long while others wait on
/// its LWP is asked to switch at its next safe point. `None` turns slices
/// off (as `WEAVE_PREEMPT=0` does from the start). Default
/// [`DEFAULT_TIME_SLICE`] (10 ms); values below 100 µs are raised to it.
#[cfg(not(loom))]
pub fn set_time_slice(slice: Option<std::time::Duration>) {
    runtime::rt().monitor.set_slice(slice);
}

/// The time slice in force, if slices are on.
#[cfg(not(loom))]
pub fn time_slice() -> Option<std::time::Duration> {
    runtime::rt().monitor.slice()
}

/// Sets the number of LWPs in the pool, as `pthread_setconcurrency`:
/// `0` means automatic (one per CPU). Takes effect at once, while threads
/// run: new LWPs start taking work; surplus LWPs stop taking new work and
/// leave once the ULTs already placed on them have finished.
#[cfg(not(loom))]
pub fn set_concurrency(n: usize) -> std::io::Result<()> {
    lwp::set_concurrency_in(runtime::rt(), n)
}

/// The number of pool LWPs taking work now (bound LWPs not counted).
#[cfg(not(loom))]
pub fn concurrency() -> usize {
    lwp::pool_size(runtime::rt())
}

/// The level last passed to [`set_concurrency`] (0: automatic), as
/// `pthread_getconcurrency`.
#[cfg(not(loom))]
pub fn requested_concurrency() -> usize {
    runtime::rt()
        .pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .requested
}

/// Turns on (or off) measuring each ULT's run time, shown as
/// `ThreadInfo::run_time`. Off by default, or on from the start with
/// `WEAVE_ACCOUNTING=1`: it costs a clock read (the TSC) per switch, which
/// is a few ns on bare metal but ~17 ns in some virtual machines, nearly
/// half of a yield. Switches are always counted.
#[cfg(not(loom))]
pub fn set_accounting(on: bool) {
    time::set_accounting(on);
}

/// A snapshot of the LWP table: every LWP slot, alive or awaiting reuse.
#[cfg(not(loom))]
pub fn lwps() -> Vec<LwpInfo> {
    runtime::rt().lwps().map(|l| l.info()).collect()
}

/// Figures of the stack pool: reservations, reuse from death row, pages
/// given back by the reaper.
#[cfg(not(loom))]
pub fn stack_stats() -> stack::StackStats {
    runtime::rt().stacks.stats()
}

/// How guard pages are installed on this kernel, once a stack exists.
#[cfg(not(loom))]
pub fn guard_mode() -> Option<stack::GuardMode> {
    runtime::rt().stacks.guard_mode()
}

/// A broken internal invariant: print and abort, allocation-free, never
/// unwinding across a context switch (Go's `throw`).
#[cold]
pub(crate) fn fatal(msg: &str) -> ! {
    let parts: [&[u8]; 3] = [b"weave: fatal: ", msg.as_bytes(), b"\n"];
    for p in parts {
        // SAFETY: writing a valid buffer to stderr.
        unsafe { libc::write(2, p.as_ptr().cast(), p.len()) };
    }
    std::process::abort()
}

// Under `--cfg loom` only the lock-free protocols are built, with their
// model tests: `RUSTFLAGS="--cfg loom" cargo test -p weave --lib --release`.
#[cfg(loom)]
mod thread {
    pub(crate) mod state;
}
#[cfg(loom)]
mod sched {
    pub(crate) mod inbox;
}
#[cfg(loom)]
mod reactor {
    pub(crate) mod readiness;
}
// The channel module and the locks' core build under loom: their only ways
// out to the runtime are `sync/mpmc/context.rs` and `sync/block.rs`, which
// block a loom thread instead.
#[cfg(loom)]
#[allow(dead_code, unused_imports)]
mod sync {
    pub(crate) mod block;
    pub(crate) mod mpmc;
    pub(crate) mod queue;
    pub(crate) mod raw_condvar;
    pub(crate) mod raw_mutex;
    pub(crate) mod raw_rwlock;
}

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
//! ## Layers, and the rule between them
//!
//! Bottom up. A file names files of its own layer and of the layers below,
//! never above; `docs/ARCHITECTURE.md` has the graph and how it is checked.
//!
//! 1. **Memory and switching**: [`stack`] (stacks, guard pages, death
//!    row), `context` (a ULT's saved registers), `loom` (the atomics
//!    facade), [`config`] (the table of `WEAVE_*` variables, which names
//!    only `stack`'s limits).
//! 2. **Thread data and protocols**, plain structures that name nothing
//!    above them: `thread::{id, state, tcb, table, current}` (the TCB, its
//!    state word, the thread table, "who am I"), `thread::local` (per-ULT
//!    storage), [`trace`] (the event hook), `time::{clock, timers}`,
//!    `sched::{idle, pick, inbox, ready}` (the LWP sleep/wake protocol, the
//!    pick rule, the queues), `reactor::{readiness, role}`, `monitor::doorbell`.
//! 3. **The engine**, one unit that may call within itself: `runtime` (the
//!    pool's shared state), `lwp` (the LWPs, their scheduler loops, pool
//!    membership), `sched` (blocking and waking, placement) and `reactor`
//!    (the epoll driver). It is entered through a few doors:
//!    `sched::block_on`, `Waiter::wake`, `sched::place::place_new`,
//!    `lwp::pool`, `runtime::rt`.
//! 4. **Above the engine**: `start` (the runtime's start-up on first use),
//!    `monitor` (time slices, blocked LWPs, deadlocks, the reaper),
//!    [`blocking`].
//! 5. **The public API**: [`thread`], [`sync`], [`time`], [`net`],
//!    [`os::unix::net`], [`fs`], [`io`], [`process`], [`signal`] (whose
//!    `signal::state` and top half sit low, beside the TCB: the engine's
//!    hooks name only those).
//!
//! ## What blocks what
//!
//! This is the one copy of this table; the README and
//! `docs/ARCHITECTURE.md` link here.
//!
//! | call | on a ULT | on an OS thread |
//! |---|---|---|
//! | `weave::thread::{sleep, park, park_timeout, yield_now}` | blocks the ULT only | blocks the OS thread |
//! | `JoinHandle::join`, `thread::scope` | blocks the ULT only | blocks the OS thread |
//! | `weave::sync::Mutex::lock`, channel `send`/`recv` ([`sync::mpsc`], [`sync::mpmc`]), `select!` | blocks the ULT only | blocks the OS thread |
//! | `weave::sync::Condvar::{wait, wait_while, wait_timeout, wait_timeout_while}` (the mutex is released while waiting) | blocks the ULT only | blocks the OS thread |
//! | `weave::sync::Semaphore::{acquire, acquire_many, acquire_timeout}`, `WaitGroup::{wait, wait_timeout}` | blocks the ULT only | blocks the OS thread |
//! | `weave::sync::Barrier::wait` | blocks the ULT only | blocks the OS thread |
//! | `weave::sync::Once::{call_once, call_once_force}`, `OnceLock::{get_or_init, set}`, `LazyLock::force` while another thread initialises; `Once::{wait, wait_force}`, `OnceLock::wait` | blocks the ULT only | blocks the OS thread |
//! | `weave::sync::RwLock::{read, write}` | blocks the ULT only | blocks the OS thread |
//! | [`net`] (TCP, UDP) and [`os::unix::net`] reads, writes, `accept`, `connect` | blocks the ULT only (the reactor wakes it) | blocks the OS thread (`poll`) |
//! | [`fs`] calls, [`time::Interval::tick`] | blocks the ULT only (`fs` runs on the blocking pool) | blocks the OS thread |
//! | [`io`]: `stdin`, `stdout`, `stderr` reads and writes | blocks the ULT only (a pipe, terminal or socket is waited for in the reactor without `O_NONBLOCK`; a regular file's reads, and writes over 512 bytes, run on the blocking pool) | blocks the OS thread |
//! | [`process`]: `Child::wait`, `Command::{status, output}`, `Child::wait_with_output`, reads and writes of the child's pipes | blocks the ULT only (a pidfd and the pipes wait in the reactor; without `pidfd_open`, `wait` runs on the blocking pool); `spawn` waits for the exec handshake in place | blocks the OS thread |
//! | [`signal::wait`], a [`signal::channel`] receiver's `recv` | blocks the ULT only | blocks the OS thread |
//! | [`signal::mask`] | a store in the TCB (a system call only to reopen a kernel mask after case 4) | `pthread_sigmask` |
//! | [`blocking`]`(f)` | blocks the ULT only; `f` runs on a kernel thread of the blocking pool | runs `f` right there |
//! | `std::thread::sleep`, `std::sync::Mutex::lock`, `std::sync::mpsc::recv`, blocking syscalls | **blocks the LWP**: every ULT placed on it waits | blocks the OS thread |
//!
//! Wrap a call that must block the kernel thread in [`blocking`]`(..)`, or
//! give it a bound thread (`Builder::bound()`, an LWP of its own). If one
//! slips through, the monitor notices an LWP stuck in the kernel within a
//! few milliseconds, names the thread in a warning (`WEAVE_WARN=0`
//! silences it), and with automatic concurrency adds an LWP so that new
//! work goes on. Holding a `std::sync::Mutex` across a weave blocking call
//! can deadlock an LWP: the holder may be switched out while a ULT on the
//! same LWP blocks the LWP waiting for it. Use `weave::sync::Mutex`.
//! The monitor names this case: an LWP in a futex wait (a std lock,
//! `Condvar`, park or mpsc channel) while ULTs placed on it are runnable
//! gets a warning with the blocking ULT's name and the number stuck behind
//! it; if every thread is then held up (the deadlock detector's conditions,
//! with such an LWP counted as unable to run anything for 500 ms), the
//! program prints a report and exits with status 2 instead of hanging.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub(crate) mod loom;

#[cfg(not(loom))]
mod blocking;
#[cfg(not(loom))]
pub use blocking::blocking;

#[cfg(not(loom))]
pub mod config;
#[cfg(not(loom))]
mod context;
#[cfg(not(loom))]
mod fork;
#[cfg(not(loom))]
pub mod fs;
#[cfg(not(loom))]
mod inspect;
#[cfg(not(loom))]
pub use inspect::dump::{dump, Dump, DumpedThread};
#[cfg(not(loom))]
pub use inspect::stacks::Frame;
#[cfg(not(loom))]
pub use inspect::top::socket_name as top_socket_name;
#[cfg(not(loom))]
pub mod io;
#[cfg(not(loom))]
mod lwp;
#[cfg(not(loom))]
mod monitor;
#[cfg(not(loom))]
pub mod net;
#[cfg(not(loom))]
pub mod os;
#[cfg(not(loom))]
mod pagevec;
// Built under loom too: its publication has a model.
#[cfg(not(loom))]
pub mod process;
#[allow(dead_code)]
mod published;
#[cfg(not(loom))]
mod reactor;
#[cfg(not(loom))]
mod runtime;
#[cfg(not(loom))]
mod sched;
#[cfg(not(loom))]
pub mod signal;
#[cfg(not(loom))]
pub mod stack;
#[cfg(not(loom))]
mod start;
#[cfg(not(loom))]
pub mod sync;
#[cfg(all(test, not(loom)))]
mod test_child;
#[cfg(not(loom))]
pub mod thread;
#[cfg(not(loom))]
pub mod time;
#[cfg(not(loom))]
pub mod trace;

/// The switch floor `weave bench` reads its rows against (`context/floor.rs`).
#[cfg(not(loom))]
#[doc(hidden)]
pub use context::floor::{switch_floor as __switch_floor, FloorRun as __FloorRun};
/// Where a yield's and a block's hot objects are, seen from the calling
/// ULT: for `weave bench`'s mode report (`WEAVE_BENCH_ADDRS`).
#[cfg(not(loom))]
#[doc(hidden)]
pub use lwp::hot_addresses as __hot_addresses;
#[cfg(not(loom))]
pub use lwp::LwpInfo;
#[cfg(not(loom))]
pub use monitor::DEFAULT_TIME_SLICE;
#[cfg(not(loom))]
pub use runtime::MAX_CONCURRENCY;
/// What `thread_local!` expands to: a path that does not lead through
/// `thread`'s module, so the per-ULT storage stays below it.
#[cfg(not(loom))]
#[doc(hidden)]
pub use thread::local::LocalKey as __LocalKey;

/// Sets the time slice: a ULT that has run this long while others wait on
/// its LWP is asked to switch at its next safe point. `None` turns slices
/// off (as `WEAVE_PREEMPT=0` does from the start). Default
/// [`DEFAULT_TIME_SLICE`] (10 ms, or `WEAVE_TIME_SLICE` from the start);
/// values below 100 µs are raised to it.
#[cfg(not(loom))]
pub fn set_time_slice(slice: Option<std::time::Duration>) {
    start::rt().monitor.set_slice(slice);
}

/// The time slice in force, if slices are on.
#[cfg(not(loom))]
pub fn time_slice() -> Option<std::time::Duration> {
    start::rt().monitor.slice()
}

/// Sets the number of LWPs in the pool, as `pthread_setconcurrency`:
/// `0` means automatic (one per CPU). Takes effect at once, while threads
/// run: new LWPs start taking work; surplus LWPs stop taking new work and
/// leave once the ULTs already placed on them have finished.
#[cfg(not(loom))]
pub fn set_concurrency(n: usize) -> std::io::Result<()> {
    lwp::pool::set_concurrency_in(start::rt(), n)
}

/// The number of pool LWPs taking work now (bound LWPs not counted).
#[cfg(not(loom))]
pub fn concurrency() -> usize {
    lwp::pool::pool_size(start::rt())
}

/// The level last passed to [`set_concurrency`] (0: automatic), as
/// `pthread_getconcurrency`.
#[cfg(not(loom))]
pub fn requested_concurrency() -> usize {
    start::rt()
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
    time::clock::set_accounting(on);
}

/// A snapshot of the LWP table: every LWP slot, alive or awaiting reuse.
#[cfg(not(loom))]
pub fn lwps() -> Vec<LwpInfo> {
    start::rt().lwps().map(|l| l.info()).collect()
}

/// Figures of the stack pool: reservations, reuse from death row, pages
/// given back by the reaper.
#[cfg(not(loom))]
pub fn stack_stats() -> stack::StackStats {
    thread::stack_stats_here()
}

/// How guard pages are installed on this kernel, once a stack exists.
#[cfg(not(loom))]
pub fn guard_mode() -> Option<stack::GuardMode> {
    start::rt().stacks.guard_mode()
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
#[allow(dead_code)]
mod thread {
    pub(crate) mod cancel_word;
    pub(crate) mod hold;
    pub(crate) mod id;
    pub(crate) mod join_state;
    pub(crate) mod room;
    pub(crate) mod stack_bounds;
    pub(crate) mod state;
}
#[cfg(loom)]
mod sched {
    pub(crate) mod idle;
    pub(crate) mod inbox;
}
// The block a direct switch hands on (`lwp/handoff.rs`) and the count of
// ULTs placed on an LWP (`lwp/placed.rs`).
#[cfg(loom)]
mod lwp {
    pub(crate) mod handoff;
    pub(crate) mod placed;
}
#[cfg(loom)]
mod reactor {
    pub(crate) mod readiness;
    pub(crate) mod role;
}
#[cfg(loom)]
mod trace {
    pub(crate) mod gate;
    pub(crate) mod ring;
}
// The compaction lock (`stack/owner_lock.rs`) and the count behind stack
// promises (`stack/room.rs`).
#[cfg(loom)]
mod stack {
    pub(crate) mod owner_lock;
    pub(crate) mod room;
}
// The signal layer's lock-free records (the per-signal ring, the stash,
// the held records' hand-off) and the dispatcher's doorbells.
#[cfg(loom)]
#[allow(dead_code)]
mod signal {
    pub(crate) mod bell;
    pub(crate) mod held;
    pub(crate) mod ring;
    pub(crate) mod set;
    pub(crate) mod spill;
    pub(crate) mod stash;
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
    pub(crate) mod semaphore;
}

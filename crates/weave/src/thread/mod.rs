//! User-level threads, with the shape of `std::thread`.
//!
//! The public face of the thread layer, above the engine: it enters the
//! engine through `sched` (blocking, waking, placing a new ULT) and
//! `lwp::pool` (bound LWPs), never through an LWP's queues.
//!
//! `weave::thread::spawn` starts a ULT: a thread with its own stack and
//! registers that the runtime multiplexes, with many others, onto a small
//! pool of LWPs (kernel threads). Porting a program is mostly a change of
//! `use` lines:
//!
//! ```
//! use weave::thread;
//!
//! let handles: Vec<_> = (0..1000)
//!     .map(|i| thread::spawn(move || i * 2))
//!     .collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 999 * 1000);
//! ```
//!
//! Everything here works from a plain OS thread too (`main` included): the
//! runtime starts on first use, and an OS thread that joins or parks waits
//! in the kernel.
//!
//! Panics behave as std's: a panic on a ULT is reported with the ULT's name
//! and honours `RUST_BACKTRACE` (a hook set with `std::panic::set_hook` runs
//! instead), and [`panicking`] (as `std::thread::panicking`) answers for the
//! calling ULT, even while another ULT on the same LWP is blocked in a
//! destructor mid-unwind: weave moves std's panic count with each ULT at
//! every switch (`thread/panic.rs` has the mechanism and why it is sound).
//!
//! A value that is not `Send` cannot cross a spawn, exactly as with std:
//!
//! ```compile_fail
//! let rc = std::rc::Rc::new(5);
//! weave::thread::spawn(move || *rc).join().unwrap();
//! ```

pub(crate) mod blocks;
pub(crate) mod cancel;
pub(crate) mod cancel_word;
pub(crate) mod current;
pub(crate) mod first_run;
mod hold;
pub(crate) mod id;
pub(crate) mod interrupt_hook;
mod join_state;
pub(crate) mod local;
mod names;
pub(crate) mod packet;
pub(crate) mod panic;
mod room;
pub(crate) mod scoped;
pub(crate) mod snapshot;
pub(crate) mod stack_bounds;
pub(crate) mod state;
pub(crate) mod table;
pub(crate) mod tcb;

use std::fmt;
use std::io;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use cancel::{
    arm_async_cancel, cancel_requested, cancellation_point, cancellation_point_then,
    disarm_async_cancel, end_async_cancel,
};
pub use id::{BlockReason, ThreadId, WaitOn};
pub use local::{AccessError, LocalKey};
pub use names::available_parallelism;
pub use panic::panicking;
pub use scoped::{scope, Scope, ScopedJoinHandle};
pub use snapshot::{threads, ThreadInfo, ThreadState};
pub use table::MAX_THREADS;
pub use tcb::{DEFAULT_PRIORITY, PRIORITY_LEVELS};

use crate::context::Context;
use crate::lwp;
use crate::sched::{self, Waiter};
use crate::stack;
use crate::start::rt;
use crate::trace::{self, Event};
use packet::JoinRef;
use scoped::ScopeData;
use table::{table, Lookup, SlotCache};
use tcb::{Kind, Tcb, PERMIT_EMPTY, PERMIT_NOTIFIED};

/// An error about a thread: it exited, or a value was out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThreadError {
    /// The thread has exited; its name, if the table still knew it.
    Exited {
        id: ThreadId,
        name: Option<Arc<str>>,
    },
    /// The id was never handed out by this process.
    Unknown { id: ThreadId },
    /// A priority outside `0..PRIORITY_LEVELS`.
    InvalidPriority { priority: u8 },
}

impl fmt::Display for ThreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadError::Exited { id, name: Some(n) } => {
                write!(f, "thread '{n}' ({id}) has exited")
            }
            ThreadError::Exited { id, name: None } => write!(f, "thread {id} has exited"),
            ThreadError::Unknown { id } => {
                write!(f, "{id:?} does not name a thread of this process")
            }
            ThreadError::InvalidPriority { priority } => write!(
                f,
                "priority {priority} is out of range: weave has levels 0 (lowest) to {} \
                 (highest), default {DEFAULT_PRIORITY}",
                PRIORITY_LEVELS - 1
            ),
        }
    }
}

impl std::error::Error for ThreadError {}

impl From<ThreadError> for io::Error {
    fn from(e: ThreadError) -> io::Error {
        let kind = match e {
            ThreadError::InvalidPriority { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::NotFound,
        };
        io::Error::new(kind, e)
    }
}

fn lookup(id: ThreadId) -> Result<&'static Tcb, ThreadError> {
    table().lookup(id).map_err(|e| match e {
        Lookup::Exited { name } => ThreadError::Exited { id, name },
        Lookup::Unknown => ThreadError::Unknown { id },
    })
}

/// A handle to a thread, as `std::thread::Thread`.
#[derive(Clone)]
pub struct Thread {
    id: ThreadId,
    name: Option<Arc<str>>,
}

impl Thread {
    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// The thread's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Makes the thread's next (or current) `park` return. Does nothing if
    /// the thread has exited.
    pub fn unpark(&self) {
        if let Ok(tcb) = lookup(self.id) {
            unpark_tcb(tcb);
        }
    }

    /// Renames the thread in weave's tables (`threads()`, traces, panic
    /// reports); what `pthread_setname_np` does in the C API. This handle
    /// keeps the name it was made with; [`find`] returns one with the new
    /// name. A bound thread's LWP keeps the OS name it was given at spawn.
    ///
    /// Panics, as `Builder::name`, if `name` contains a NUL byte.
    pub fn set_name(&self, name: &str) -> Result<(), ThreadError> {
        names::check_name(name);
        lookup(self.id)?.set_name(Some(Arc::from(name)));
        Ok(())
    }

    /// The kernel thread this thread runs on for its whole life, if it has
    /// one: a plain OS thread's own id (`gettid`), a bound thread's LWP's
    /// once it has one. `Ok(None)` for a ULT that shares LWPs: the kernel
    /// thread under it is its LWP's, shared with the other ULTs placed
    /// there (what `pthread_getcpuclockid` needs to know: a kernel CPU
    /// clock measures a ULT only when it has a kernel thread of its own).
    pub fn kernel_tid(&self) -> Result<Option<i32>, ThreadError> {
        let tcb = lookup(self.id)?;
        Ok(match tcb.kind() {
            Kind::External => Some(tcb.os_tid.load(Relaxed) as i32),
            Kind::Bound => {
                let home = tcb.home.load(Relaxed);
                (home != tcb::NO_LWP).then(|| rt().lwp(home as usize).tid())
            }
            _ => None,
        })
    }

    /// The thread's priority (0 lowest to 31 highest).
    pub fn priority(&self) -> Result<u8, ThreadError> {
        lookup(self.id).map(|t| t.priority())
    }

    /// Changes the thread's priority. A queued thread moves to its new
    /// level the next time it is queued; lowering the priority of the
    /// running thread lets a waiting higher one run at the next safe point.
    pub fn set_priority(&self, priority: u8) -> Result<(), ThreadError> {
        if priority >= PRIORITY_LEVELS {
            return Err(ThreadError::InvalidPriority { priority });
        }
        let tcb = lookup(self.id)?;
        tcb.set_priority(priority);
        if let Some((l, me)) = lwp::current_ult() {
            if std::ptr::eq(me, tcb) {
                l.request_preempt_below(u8::MAX);
                preempt_point();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

fn unpark_tcb(tcb: &'static Tcb) {
    if tcb.kind() == Kind::External {
        if let Some(t) = tcb.os.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            t.unpark();
        }
        return;
    }
    // SeqCst: a Dekker pair with `park`'s "prepare_block; read permit".
    if tcb.permit.swap(PERMIT_NOTIFIED, SeqCst) == PERMIT_NOTIFIED {
        return; // Already pending: the park it is for will see it.
    }
    sched::woken(tcb, tcb.state.wake_reason(BlockReason::Park as u8));
}

pub(crate) use current::current_tcb;

/// A handle to the calling thread, ULT or OS thread.
pub fn current() -> Thread {
    let tcb = current_tcb();
    Thread {
        id: tcb.id(),
        name: tcb.name(),
    }
}

/// The calling thread's id: `current().id()` without making a handle
/// (no name is cloned), for hot paths such as a lock's owner check in the
/// C API.
pub fn current_id() -> ThreadId {
    current_tcb().id()
}

/// The index of the LWP the calling ULT runs on (see [`crate::lwps`]), or
/// `None` on a plain OS thread.
#[inline]
pub fn current_lwp() -> Option<usize> {
    lwp::current_ult().map(|(l, _)| l.index())
}

/// The calling ULT's stack: its lowest usable address and its size in
/// bytes (the guard page below it not included), whether weave's or one
/// the program gave (`Builder::stack`); `None` on a plain OS thread, whose
/// stack is the system's. What the C API's `pthread_getattr_np` reports.
pub fn current_stack() -> Option<(usize, usize)> {
    current_lwp()?;
    // The record of the ULT this LWP runs, written before it first ran.
    let info = stack::running_info();
    (info.stack_size != 0).then_some((info.guard_hi, info.stack_size))
}

/// The stack of thread `id`, as [`current_stack`] gives the caller's own:
/// its lowest usable address and its size. `Ok(None)` for a thread that
/// has no stack of weave's: a plain OS thread (its stack is the
/// system's), or a ULT that has not run yet (a pooled ULT gets its stack
/// when it first runs). What the C API's `pthread_getattr_np` reports for
/// another thread.
pub fn stack_of(id: ThreadId) -> Result<Option<(usize, usize)>, ThreadError> {
    let tcb = lookup(id)?;
    if tcb.kind() == Kind::External {
        return Ok(None);
    }
    Ok(tcb.stack(id.generation()))
}

/// Looks a thread up by id: its handle, or why there is none.
pub fn find(id: ThreadId) -> Result<Thread, ThreadError> {
    let tcb = lookup(id)?;
    Ok(Thread {
        id,
        name: tcb.name(),
    })
}

/// Gives the LWP to another runnable thread, if there is one. On an OS
/// thread, yields to the kernel scheduler.
#[inline]
pub fn yield_now() {
    match lwp::current_ult() {
        Some((l, tcb)) => l.yield_current(tcb),
        None => std::thread::yield_now(),
    }
}

/// A safe point for long computations: switches to another thread if this
/// LWP was asked to (a higher-priority thread became runnable, or, with the
/// monitor, the time slice ran out). Costs a load and a branch otherwise.
#[inline]
pub fn preempt_point() {
    if let Some(l) = lwp::current() {
        if sched::preempt_requested(l) {
            preempt_slow();
        }
    }
}

/// Turns off preemption of the calling ULT until the guard drops: the
/// user-level form of disabling interrupts. A request to switch that comes
/// meanwhile (a higher-priority thread became runnable, a time slice ran
/// out) stays pending, like a masked interrupt, and is honoured when the
/// last guard drops. Only *involuntary* switches are held off: a ULT that
/// yields, blocks or sleeps still switches. As with `cli` on one CPU, this
/// keeps out only the ULTs of the same LWP; ULTs on other LWPs run on.
/// On an OS thread it does nothing: there is no user-level scheduler to
/// turn off.
pub fn disable_preemption() -> PreemptGuard {
    let on_ult = match lwp::current_ult() {
        Some((_, t)) => {
            t.no_preempt.fetch_add(1, Relaxed);
            true
        }
        None => false,
    };
    PreemptGuard {
        on_ult,
        _not_send: std::marker::PhantomData,
    }
}

/// Keeps preemption of the current ULT off while it lives; see
/// [`disable_preemption`]. Not `Send`: it belongs to the ULT that made it.
#[must_use = "preemption is back on as soon as the guard is dropped"]
#[derive(Debug)]
pub struct PreemptGuard {
    on_ult: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for PreemptGuard {
    fn drop(&mut self) {
        if !self.on_ult {
            return;
        }
        if let Some((_, t)) = lwp::current_ult() {
            t.no_preempt.fetch_sub(1, Relaxed);
            // A request that came while preemption was off is taken now.
            preempt_point();
        }
    }
}

#[cold]
fn preempt_slow() {
    if let Some((l, tcb)) = lwp::current_ult() {
        l.preempt.store(false, Relaxed);
        // A block this LWP holds (`lwp/handoff.rs`) is settled first: the
        // request may be for its ULT, woken elsewhere while held
        // (`sched::left_to_its_lwp`), which the direct yield's pick would
        // not see until then.
        lwp::Lwp::commit_held_here();
        l.yield_current(tcb);
    }
}

/// Blocks the calling thread for at least `dur`. On a ULT, only the ULT
/// sleeps: its LWP runs other threads meanwhile.
///
/// One frame between the caller and the block: `sleep_until_inner` is
/// inlined here and the endless sleep is out of line, so the frame holds
/// no park loop's registers. A woken sleeper returns through the frames
/// above its saved stack pointer, which went cold while it slept
/// (`sleepers`: 80 bytes and ~1.4 D1 misses a sleep fewer).
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(at) => sleep_until_inner(at, dur.is_zero()),
        None => sleep_forever(),
    }
}

/// A sleep too long for an `Instant`: it never ends.
#[cold]
#[inline(never)]
fn sleep_forever() -> ! {
    loop {
        park();
    }
}

/// Blocks the calling thread until `deadline`.
pub fn sleep_until(deadline: Instant) {
    sleep_until_inner(deadline, false);
}

/// Blocks the calling thread until `deadline`, or until a signal handler
/// runs on it: `Err(Interrupted)` then (C's `EINTR` of `nanosleep`, which a
/// handler always interrupts, `SA_RESTART` or not). `Ok(())` when the
/// sleep ended otherwise: the deadline passed, or, on a ULT, a wake-up
/// that asks it to look up (a cancellation request, `cancellation_point`):
/// the caller reads the clock to tell. On a ULT only the ULT sleeps; on a
/// plain OS thread it is the kernel's `clock_nanosleep`.
pub fn sleep_until_interruptible(deadline: Instant) -> Result<(), id::Interrupted> {
    if lwp::current_ult().is_none() {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        let left = deadline - now;
        let req = libc::timespec {
            tv_sec: left.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // Shown asleep in the thread table meanwhile, as a ULT's sleep is
        // (dumps, and whoever waits to see the thread in its sleep). A
        // handler that runs on it ends its state as it would end a wait
        // inside weave (`signal::interrupt_os_wait`): the kernel's call
        // says EINTR itself; the mark is dropped.
        let tcb = current::current_tcb();
        tcb.state.set_os_blocked(BlockReason::Sleep as u8, true);
        // SAFETY: a valid relative time; no remainder asked for.
        let r =
            unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &req, std::ptr::null_mut()) };
        tcb.state.set_os_running();
        crate::signal::state::take_restart(tcb);
        return if r == libc::EINTR {
            Err(id::Interrupted)
        } else {
            Ok(())
        };
    }
    // A handler that ran before this sleep is not this sleep's.
    if let Some(t) = current::running() {
        crate::signal::state::take_restart(t);
    }
    sched::note_wait_on(id::WaitOn::Deadline(deadline));
    sched::block_on(BlockReason::Sleep, Some(deadline), |_| true);
    if current::running().is_some_and(crate::signal::state::take_restart)
        && Instant::now() < deadline
    {
        return Err(id::Interrupted);
    }
    Ok(())
}

#[inline(always)]
fn sleep_until_inner(deadline: Instant, zero: bool) {
    if lwp::current_ult().is_none() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    if zero {
        return;
    }
    // Only the timer holds the token of a Sleep wait, and it fires at or
    // after the deadline: no spurious wake-up, so no clock read after it.
    // Only a signal handler may end it early; then it sleeps on (restart).
    sched::note_wait_on(id::WaitOn::Deadline(deadline));
    loop {
        sched::block_on(BlockReason::Sleep, Some(deadline), |_| true);
        let restart = current::running().is_some_and(crate::signal::state::take_restart);
        if !restart || Instant::now() >= deadline {
            break;
        }
    }
}

/// Blocks until the thread's token is made available by `unpark`, as
/// `std::thread::park`. May return spuriously.
pub fn park() {
    park_inner(None);
}

/// As [`park`], but returns after `dur` at the latest.
pub fn park_timeout(dur: Duration) {
    park_inner(Instant::now().checked_add(dur));
}

#[inline]
fn park_inner(deadline: Option<Instant>) {
    let Some((l, tcb)) = lwp::current_ult() else {
        // The external TCB is registered so that `Thread::unpark` can reach
        // this OS thread.
        current_tcb();
        match deadline {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
        return;
    };
    if tcb.permit.swap(PERMIT_EMPTY, SeqCst) == PERMIT_NOTIFIED {
        return;
    }
    // The one blocking path: the permit is re-read after the ULT is marked
    // blocking. SeqCst: pairs with the swap in `unpark_tcb` (a Dekker pair:
    // either we see its permit, or it sees us blocking and wakes us).
    sched::block_ult(l, tcb, BlockReason::Park, deadline, |_| {
        tcb.permit.swap(PERMIT_EMPTY, SeqCst) != PERMIT_NOTIFIED
    });
    tcb.permit.swap(PERMIT_EMPTY, SeqCst);
}

/// Spawns a ULT and returns its join handle, as `std::thread::spawn`.
///
/// Panics if the thread cannot be spawned (out of memory or address
/// space); [`Builder::spawn`] returns that error instead.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("failed to spawn thread: {e}"))
}

/// Thread factory, as `std::thread::Builder`.
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until spawn is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    priority: Option<u8>,
    bound: bool,
    cpus: Option<Vec<usize>>,
    migratable: bool,
    /// A stack of the caller's (`lo`, `hi`): [`Builder::stack`].
    user_stack: Option<(usize, usize)>,
    /// [`Builder::hold_id`].
    hold_id: bool,
    /// [`Builder::stack_guard`], in bytes.
    guard: Option<usize>,
}

impl Builder {
    /// A builder with the defaults: unnamed, default stack size and
    /// priority, multiplexed on the pool.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread (shown whole in panics, overflow reports, the
    /// table; a bound thread's LWP shows the first 15 bytes to the OS).
    /// As with std, a name with an interior NUL byte makes `spawn` panic.
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Stack size in bytes (address space: only touched pages cost
    /// memory). Rounded up to a power of two of at least 16 KiB; more than
    /// 1 GiB is refused at spawn.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Bytes of inaccessible memory below the stack, rounded up to whole
    /// pages: a stack overflow into them is caught and reported instead of
    /// writing over other memory. The default is one page; 0 is none. A
    /// guard other than one page gets a stack outside weave's pool, mapped
    /// and unmapped for this thread alone (a system call each way, as a
    /// `std::thread` pays), and a guard above
    /// [`MAX_GUARD_SIZE`](crate::stack::MAX_GUARD_SIZE) makes spawn fail
    /// with `InvalidInput`. Ignored with [`Builder::stack`]: weave puts no
    /// guard below the caller's memory.
    pub fn stack_guard(mut self, bytes: usize) -> Builder {
        self.guard = Some(bytes);
        self
    }

    /// Priority, 0 (lowest) to 31 (highest); default 16.
    pub fn priority(mut self, priority: u8) -> Builder {
        self.priority = Some(priority);
        self
    }

    /// Gives the thread an LWP of its own (1:1), which ends with it.
    pub fn bound(mut self) -> Builder {
        self.bound = true;
        self
    }

    /// Pins the bound thread's LWP to these CPUs (implies `bound`).
    pub fn cpu_affinity(mut self, cpus: Vec<usize>) -> Builder {
        self.bound = true;
        self.cpus = Some(cpus);
        self
    }

    /// Lets the thread move between LWPs at safe points (when it yields or
    /// is woken) instead of staying on the LWP where it first ran: once
    /// runnable, it runs on whichever pool LWP is free first, so it does
    /// not wait for a busy one (a server's connection handler, say).
    ///
    /// # Safety
    ///
    /// The thread's stack then moves between OS threads. The caller
    /// guarantees that the thread holds no `!Send` value and no reference
    /// into `std::thread_local!` storage across a safe point (yield, park,
    /// sleep, join, or any weave blocking call), and does not rely on the
    /// OS thread id staying the same. `weave::thread_local!` is per ULT and
    /// stays correct.
    pub unsafe fn migratable(mut self) -> Builder {
        self.migratable = true;
        self
    }

    /// Runs the thread on `size` bytes of the caller's memory at `addr`
    /// instead of a stack of weave's pool (the C API's
    /// `pthread_attr_setstack`); the stack size set otherwise is ignored.
    /// weave puts no guard page below it, and does not recycle or trim it:
    /// once [`JoinHandle::join`] has returned (it waits until the thread's
    /// LWP is off the stack, not only for the result), the memory is the
    /// caller's again. Spawn fails with `InvalidInput` if `size` is below
    /// [`crate::stack::MIN_STACK_SIZE`], and for a scoped thread (a scope
    /// waits for results, not stacks).
    ///
    /// # Safety
    ///
    /// `addr..addr + size` is writable memory that nothing else reads or
    /// writes until the thread has finished.
    pub unsafe fn stack(mut self, addr: *mut u8, size: usize) -> Builder {
        self.user_stack = Some((addr as usize, (addr as usize).saturating_add(size)));
        self
    }

    /// Keeps the thread's [`ThreadId`] its own after the thread ends,
    /// until its [`JoinHandle`] is joined or dropped: until then no other
    /// thread gets the id, and [`find`] says the thread has exited. For
    /// APIs whose ids name a thread until it is joined, as POSIX's
    /// `pthread_t` does (the C API keys its joinable threads by table
    /// index). The thread's table slot (not its stack) stays taken
    /// meanwhile. Not for scoped threads (ignored there).
    pub fn hold_id(mut self) -> Builder {
        self.hold_id = true;
        self
    }

    /// Spawns the thread, or says why it cannot be: the stack size, the
    /// priority, memory, address space, or the thread table.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let user_stack = self.user_stack.map(|(lo, _)| lo);
        // SAFETY: F and T are 'static, so nothing borrowed can dangle.
        unsafe {
            self.spawn_then(f, None, |join, thread| JoinHandle {
                join,
                thread,
                user_stack,
            })
        }
    }

    /// As [`spawn`](Self::spawn), but hands the thread's handle to
    /// `publish` on the calling thread before the new thread can run, and
    /// returns nothing more: for APIs that must record the thread (its id,
    /// its handle) before it runs a line, as `pthread_create` stores
    /// `*thread` first. `publish` must not wait for the new thread. If the
    /// spawn then fails (a bound thread whose LWP cannot start), the
    /// thread never runs, its handle says so to nobody, and the error is
    /// returned: undo whatever `publish` recorded.
    pub fn spawn_published<F, T>(self, f: F, publish: impl FnOnce(JoinHandle<T>)) -> io::Result<()>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let user_stack = self.user_stack.map(|(lo, _)| lo);
        // SAFETY: F and T are 'static, so nothing borrowed can dangle.
        unsafe {
            self.spawn_then(f, None, |join, thread| {
                publish(JoinHandle {
                    join,
                    thread,
                    user_stack,
                });
            })
        }
    }

    /// # Safety
    ///
    /// Whatever `f` and its result borrow must outlive the thread: the
    /// caller (a scope) waits for it to finish before the borrows end.
    pub(crate) unsafe fn spawn_unchecked<F, T>(
        self,
        f: F,
        scope: Option<Arc<ScopeData>>,
    ) -> io::Result<(JoinRef<T>, Thread)>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        // SAFETY: the caller's contract, passed on.
        // A scoped thread's id is never held.
        unsafe { self.spawn_then(f, scope, |join, thread| (join, thread)) }
    }

    /// The spawn itself: `publish` gets the join side (which holds the id,
    /// with `hold_id`) and the handle once the thread is set up, before it
    /// is placed on an LWP (so before it can run), and its result is
    /// returned.
    ///
    /// # Safety
    ///
    /// As [`spawn_unchecked`](Self::spawn_unchecked).
    unsafe fn spawn_then<F, T, R>(
        self,
        f: F,
        scope: Option<Arc<ScopeData>>,
        publish: impl FnOnce(JoinRef<T>, Thread) -> R,
    ) -> io::Result<R>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        if let Some(n) = &self.name {
            names::check_name(n);
        }
        if self.user_stack.is_some() && scope.is_some() {
            // A scope waits for its threads' results, not for their
            // stacks: the caller's memory could be freed under them.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a scoped thread cannot run on a stack of the caller's \
                 (Builder::stack): spawn it unscoped and join it",
            ));
        }
        let rt = rt();
        // The name as errors show it, formatted only if one is reported:
        // a spawn that succeeds allocates nothing for it.
        let name: Option<Arc<str>> = self.name.map(Arc::from);
        let label = SpawnLabel(name.clone());
        let priority = self.priority.unwrap_or(DEFAULT_PRIORITY);
        if priority >= PRIORITY_LEVELS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot spawn thread {label}: {}",
                    ThreadError::InvalidPriority { priority }
                ),
            ));
        }
        if let Some(cpus) = &self.cpus {
            lwp::pool::validate_cpus(cpus).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot spawn thread {label}: {e}"))
            })?;
        }
        let class = match (self.user_stack, self.stack_size, rt.default_class) {
            (Some(_), _, _) => stack::USER_CLASS,
            (None, None, Some(class)) => class,
            (None, size, _) => stack::class_of(size.unwrap_or(rt.default_stack))
                .map_err(|e| e.into_io(&label.to_string()))?,
        };
        // A guard other than the pool's one page: a solo stack of the
        // class's size (`stack/solo.rs`).
        let solo = match self.guard {
            Some(g) if self.user_stack.is_none() && g.div_ceil(stack::PAGE) != 1 => Some(g),
            _ => None,
        };
        let (tcb, reserved) = with_caches(|stacks, slots| {
            let tcb = table().alloc(slots)?;
            let taken = match (self.user_stack, solo) {
                // SAFETY: the caller of `Builder::stack` vouched for it.
                (Some((lo, hi)), _) => Ok(unsafe { stack::Stack::user(lo, hi) })
                    .and_then(|s| user_stack_fits(s, lo, hi))
                    .map(stack::Reserved::Now),
                (None, Some(guard)) => {
                    stack::Stack::solo(stack::class_size(class), guard).map(stack::Reserved::Now)
                }
                // A promise, kept at the first run (`first_run.rs`), where
                // the guard mode allows; a stack now otherwise.
                (None, None) => rt.stacks.reserve_for_spawn(class, stacks),
            };
            match taken {
                Ok(s) => Ok((tcb, s)),
                Err(e) => {
                    table().release(tcb, slots);
                    Err(e)
                }
            }
        })
        .map_err(|e| io::Error::new(e.kind(), format!("cannot spawn thread {label}: {e}")))?;

        let kind = if self.bound {
            Kind::Bound
        } else if self.migratable {
            Kind::Migratable
        } else {
            Kind::Pooled
        };
        let hold = self.hold_id && scope.is_none();
        if hold {
            packet::set_free_held(free_held);
        }
        // SAFETY: the caller's guarantee covers the lifetimes; the closure
        // is Send, which is all the packet needs.
        // A small packet lives in the slot's room if the room's last
        // packet is gone (`room.rs`); a held thread's handle half holds its
        // id (`hold.rs`).
        let (job, join) = packet::new(f, scope, &tcb.room, hold.then_some(tcb));
        first_run::register_entry(entry);
        // SAFETY: the slot is FREE and ours until `spawn` publishes it.
        unsafe {
            tcb.reset(kind, priority);
            *tcb.class.get() = if solo.is_some() {
                stack::SOLO_CLASS
            } else {
                class
            };
            *tcb.job.get() = Some(job);
        }
        match reserved {
            stack::Reserved::Now(stack) => {
                lwp::overflow_info_for(tcb, name.as_deref(), stack.size(), stack.guard_range());
                // SAFETY: as above.
                unsafe { *tcb.ctx.get() = Some(Context::new(stack, move || entry(tcb))) };
            }
            stack::Reserved::Promised => {
                // No stack yet: size 0 until the first run gives one.
                lwp::overflow_info_for(tcb, name.as_deref(), 0, (0, 0));
                // SAFETY: as above.
                unsafe { *tcb.ctx.get() = None };
            }
        }
        if hold {
            tcb.hold.hold();
        }
        if name.is_some() {
            tcb.set_name(name.clone());
        }
        tcb.state.spawn();
        let id = tcb.id();
        let here = lwp::current();
        trace::emit(Event::Spawn {
            ult: id,
            lwp: here.map(|l| l.index),
        });
        if (name.is_some() || priority != DEFAULT_PRIORITY) && trace::hooked() {
            trace::name_thread(id, name.as_deref(), priority);
        }
        let published = publish(join, Thread { id, name });

        if kind == Kind::Bound {
            if let Err(e) = start_bound(tcb, self.cpus) {
                // SAFETY: the ULT never ran; its context and job are ours.
                let ctx = unsafe { (*tcb.ctx.get()).take() };
                // SAFETY: as above.
                if let Some(job) = unsafe { (*tcb.job.get()).take() } {
                    if job.abandon() {
                        // The handle let go first: the held id is ours.
                        tcb.hold.let_go();
                    }
                }
                match ctx {
                    // Never started: its stack goes back where it came
                    // from (a solo stack's mapping to the kernel, a pool
                    // stack to this thread's death row).
                    Some(ctx) => {
                        let stack = ctx.into_stack();
                        // SAFETY: the ULT never ran: nothing is on the stack.
                        let to_pool =
                            with_caches(|stacks, _| unsafe { rt.stacks.give_back(stack, stacks) });
                        if to_pool {
                            rt.monitor.wake();
                        }
                    }
                    // Its stack was promised, not taken: the room goes back.
                    None => rt.stacks.forget_promise(class),
                }
                tcb.state.exit();
                table().release(tcb, &mut SlotCache::default());
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot spawn thread {label}: {e}"),
                ));
            }
        } else {
            sched::place::place_new(here, tcb);
        }
        // Spawning is a safe point: a child of higher priority than the
        // spawner runs first.
        preempt_point();
        Ok(published)
    }
}

/// Starts the LWP of bound thread `tcb` (`lwp::pool::start_bound`). Under
/// `cfg(test)`, [`fail_bound_starts`] makes the next ones fail instead, as
/// a thread limit would: the spawn's error path has a test.
fn start_bound(tcb: &'static Tcb, cpus: Option<Vec<usize>>) -> io::Result<()> {
    #[cfg(test)]
    if FAIL_BOUND_STARTS
        .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "an injected failure (cfg(test))",
        ));
    }
    lwp::pool::start_bound(tcb, cpus)
}

/// Bound starts still to fail (`start_bound`).
#[cfg(test)]
static FAIL_BOUND_STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Makes the next `n` starts of a bound thread's LWP fail.
#[cfg(test)]
pub(crate) fn fail_bound_starts(n: usize) {
    FAIL_BOUND_STARTS.store(n, Relaxed);
}

/// A thread's name as spawn errors show it: `'name'` or `(unnamed)`.
struct SpawnLabel(Option<Arc<str>>);

impl fmt::Display for SpawnLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(n) => write!(f, "'{n}'"),
            None => f.write_str("(unnamed)"),
        }
    }
}

/// Waits until the finished thread `id` no longer runs on its stack: its
/// result is stored before its last frames return, and its LWP releases
/// the slot (a new generation) only once off the stack. For a stack of the
/// caller's, which is the caller's again when `join` returns. A few
/// yields: the LWP does this right after the thread's last switch.
fn wait_off_stack(id: ThreadId) {
    let tcb = table().slot(id.index());
    // Acquire: pairs with the Release store of the new generation in
    // `Table::release`, which follows the LWP's last use of the stack.
    while tcb.generation.load(std::sync::atomic::Ordering::Acquire) == id.generation() {
        yield_now();
    }
}

/// A stack of the caller's, if it is large enough to run a ULT.
fn user_stack_fits(s: stack::Stack, lo: usize, hi: usize) -> io::Result<stack::Stack> {
    if s.size() < stack::MIN_STACK_SIZE {
        // Never run on: the program's again.
        stack::Stack::user_done(lo);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the stack given ({} bytes at {lo:#x}..{hi:#x}) is below weave's minimum of {} \
                 bytes; give a larger one",
                s.size(),
                stack::MIN_STACK_SIZE
            ),
        ));
    }
    Ok(s)
}

/// The stack pool's figures as the calling thread sees them
/// (`stack::Pool::stats_with` its own cache).
pub(crate) fn stack_stats_here() -> stack::StackStats {
    let rt = rt();
    with_caches(|stacks, _| rt.stacks.stats_with(stacks))
}

/// Runs `f` with the spawning thread's caches: its LWP's death row, or the
/// OS thread's own.
fn with_caches<R>(f: impl FnOnce(&mut stack::Cache, &mut SlotCache) -> R) -> R {
    if let Some(l) = lwp::current() {
        let local = l.local();
        return f(&mut local.stacks, &mut local.slots);
    }
    OS_CACHES.with(|c| {
        let mut c = c.borrow_mut();
        let OsCaches { stacks, slots } = &mut *c;
        f(stacks, slots)
    })
}

#[derive(Default)]
struct OsCaches {
    stacks: stack::Cache,
    slots: SlotCache,
}

impl Drop for OsCaches {
    fn drop(&mut self) {
        if let Some(rt) = crate::runtime::try_rt() {
            self.stacks.drain_into(&rt.stacks);
            table().drain(&mut self.slots);
        }
    }
}

thread_local! {
    static OS_CACHES: std::cell::RefCell<OsCaches> = {
        crate::fork::at_child(forget_os_caches);
        std::cell::RefCell::new(OsCaches::default())
    };
}

/// In the child of a fork: the forking thread's cached stacks belong to the
/// parent's pool, which the child forgot (see `fork.rs`); forget them too.
fn forget_os_caches() {
    let _ = OS_CACHES.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            std::mem::forget(std::mem::take(&mut c.stacks));
        }
    });
}

/// The first function on every ULT's stack.
fn entry(tcb: &'static Tcb) {
    // Started by a blocking ULT's direct switch (the join's hand-off), the
    // block it handed on stays held by the LWP (`lwp/handoff.rs`): nothing
    // to do for it here.
    // A recycled TCB starts with an empty table of per-ULT values.
    local::reset(tcb);
    // And errno 0, as a new thread of the C library's does: the LWP's
    // errno holds whatever the loop or the ULT before left there, which
    // this one carries from now on (`context/errno.rs`).
    crate::context::errno::write(0);
    // SAFETY: as above; the job was stored at spawn and is taken once.
    let job = unsafe { (*tcb.job.get()).take() }.expect("a new ULT has a job");
    if tcb.kind() == Kind::Bound {
        if let Some(n) = tcb.name() {
            names::name_os_thread(&n);
        }
    }
    let (joiner, freed) = job.run_then(|| {
        // After the closure and before the joiner may return: per-thread
        // data is destroyed (as std does before join returns), then the
        // thread is marked exited, so its id no longer resolves.
        local::destroy_current(tcb);
        // The trace's last wake of this ULT, if one waits for its next
        // record: written now, before the joiner can stop the recording.
        crate::trace::flush_wake();
        // With a TLS block per ULT: std's and C++'s thread-local
        // destructors, and the trace counts kept in the block.
        #[cfg(feature = "tls-per-ult")]
        {
            crate::context::tls::run_thread_local_dtors();
            crate::trace::publish();
        }
        tcb.state.exit();
    });
    if freed {
        // The handle let go first: a held id goes with the slot, which
        // the LWP frees as it files the exit (`thread/hold.rs`).
        tcb.hold.let_go();
    }
    crate::fork::ult_returned(tcb);
    // A joiner of this LWP that the exit woke: the LWP goes straight to it
    // when the loop would run it next (the join's hand-off), else it is
    // queued and this ULT ends through the loop.
    if let Some(joiner) = joiner {
        match lwp::current() {
            Some(l) => l.exit_to(tcb, joiner),
            None => crate::fatal("an ending ULT has no LWP"),
        }
    }
}

/// An owned permission to join a thread, as `std::thread::JoinHandle`.
/// Dropping it detaches the thread.
pub struct JoinHandle<T> {
    /// Holds the thread's id, with `hold_id`, until it lets go of the
    /// packet (`thread/hold.rs`).
    join: JoinRef<T>,
    thread: Thread,
    /// The thread runs on a stack of the caller's (`Builder::stack`) that
    /// starts at this address: a join returns only once its LWP is off
    /// that stack, and gives it back (`stack::Stack::user_done`).
    user_stack: Option<usize>,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result, or the
    /// payload of its panic.
    ///
    /// Panics, as std does (`pthread_join`'s `EDEADLK`), if the thread is
    /// the calling one: it would wait for itself for ever.
    pub fn join(self) -> std::thread::Result<T> {
        // A finished thread is not the calling one: only a wait needs the
        // check (a C join waited already, and gets here finished).
        if !self.join.is_finished() {
            // One look-up of the caller serves the self-join check, the
            // deadlock detector's note and the first block.
            match lwp::current_ult() {
                Some((l, me)) => {
                    if me.id() == self.thread.id {
                        refuse_self_join(self.thread.id);
                    }
                    me.waits_for.store(self.thread.id.index() + 1, Relaxed);
                    sched::block_ult_handed(l, me, BlockReason::Join, |w: Waiter| {
                        self.join.register(w)
                    });
                    after_join_wake(&self.join);
                }
                None => sched::note_waits_for(self.thread.id.index() + 1),
            }
        }
        wait_for(&self.join);
        // The packet is let go of before a held slot (the slot's room is
        // the next thread's then), both by `take`, and the slot before
        // waiting off the stack: a held slot changes generation only once
        // let go.
        let result = self.join.take();
        if let Some(lo) = self.user_stack {
            wait_off_stack(self.thread.id);
            stack::Stack::user_done(lo);
        }
        result
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

/// The join side of a held thread freed its packet: frees its slot once
/// its LWP is done with it (`thread/hold.rs`). The packet calls it through
/// `packet::set_free_held`, registered at each held spawn: the packet sits
/// below this file.
fn free_held(tcb: &'static Tcb) {
    with_caches(|_, slots| table().free_held(tcb, slots, yield_now));
}

/// Panics with std's message for a thread that joins itself, at once
/// rather than later through the deadlock detector.
pub(crate) fn refuse_self_join(id: ThreadId) {
    if let Some((_, me)) = lwp::current_ult() {
        if me.id() == id {
            panic!(
                "failed to join thread: {}",
                io::Error::from_raw_os_error(libc::EDEADLK)
            );
        }
    }
}

/// Blocks until the packet's result is in.
pub(crate) fn wait_for<T>(join: &JoinRef<T>) {
    while !join.is_finished() {
        // The waiter reaches the ULT only through `set_waiting`'s Release
        // (`join_state.rs`): the block's state store need not be locked.
        sched::block_on_handed(BlockReason::Join, None, None, |w: Waiter| join.register(w));
        after_join_wake(join);
    }
}

/// After a join's block: a wake before the end (a spurious OS-thread
/// wake-up) withdraws the waiter; if the thread is finishing, its ULT has
/// the waiter and no other may be stored, and the caller waits by
/// yielding (the thread is past its closure).
#[inline]
fn after_join_wake<T>(join: &JoinRef<T>) {
    if !join.is_finished() && !join.unregister() {
        yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_child(name: &str) -> bool {
        crate::test_child::in_child(module_path!(), name)
    }

    /// The mappings of this process: how many, and their bytes in all.
    fn mappings() -> (usize, usize) {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let bytes = maps
            .lines()
            .filter_map(|l| {
                let (lo, hi) = l.split_whitespace().next()?.split_once('-')?;
                Some(usize::from_str_radix(hi, 16).ok()? - usize::from_str_radix(lo, 16).ok()?)
            })
            .sum();
        (maps.lines().count(), bytes)
    }

    /// A sleeping ULT's frames between its own code and the switch stay
    /// few (`sleep` with `sleep_until_inner` inlined, the endless sleep out
    /// of line): a woken sleeper returns through them cold. Measured from
    /// the caller's frame pointer to the one its switch out recorded
    /// (`parked_fp`); optimised builds only (unoptimised frames are
    /// several times larger). 272 bytes here; with `sleep_until_inner` a
    /// frame of its own and the park loop inline in `sleep` it was 352.
    #[cfg(not(debug_assertions))]
    #[test]
    fn sleep_returns_through_few_frames() {
        use std::sync::atomic::{AtomicPtr, AtomicU32};
        static FP: AtomicU32 = AtomicU32::new(0);
        static TCB: AtomicPtr<Tcb> = AtomicPtr::new(std::ptr::null_mut());
        let h = spawn(|| {
            TCB.store(current::current_tcb() as *const Tcb as *mut Tcb, SeqCst);
            FP.store(crate::context::frame_address() as u32, SeqCst);
            sleep(Duration::from_millis(300));
        });
        let tcb = loop {
            let p = TCB.load(SeqCst);
            // SAFETY: a TCB of the thread table: never unmapped.
            if let Some(t) = unsafe { p.as_ref() } {
                if FP.load(SeqCst) != 0
                    && t.parked_fp.load(SeqCst) & !crate::lwp::trim::COMPACTED != 0
                {
                    break t;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let parked = tcb.parked_fp.load(SeqCst) & !crate::lwp::trim::COMPACTED;
        let depth = FP.load(SeqCst).wrapping_sub(parked);
        h.join().unwrap();
        assert!(
            depth <= 320,
            "{depth} bytes from sleep's caller to its switch"
        );
    }

    /// Spawns `n` bound threads with `b()` whose LWPs fail to start.
    fn fail_to_start(n: usize, b: impl Fn() -> Builder) {
        for _ in 0..n {
            fail_bound_starts(1);
            let e = b().spawn(|| ()).unwrap_err();
            assert!(e.to_string().contains("injected"), "{e}");
        }
    }

    /// A bound thread whose LWP cannot start (a thread limit) never runs:
    /// its solo stack (a guard other than one page: a mapping of its own)
    /// goes back to the kernel, so a thousand such spawns leave the
    /// process's mappings as they were. (Adjacent solo stacks may merge
    /// into one line of `/proc/self/maps`, so the bytes are counted too.)
    #[test]
    fn a_bound_thread_that_cannot_start_unmaps_its_solo_stack() {
        if !in_child("a_bound_thread_that_cannot_start_unmaps_its_solo_stack") {
            return;
        }
        let solo = || {
            Builder::new()
                .bound()
                .stack_size(1 << 20)
                .stack_guard(2 * stack::PAGE)
        };
        // The runtime and the first spawn's lazy set-up come first.
        fail_to_start(4, solo);
        let before = mappings();
        fail_to_start(1000, solo);
        let after = mappings();
        // A leak is 1,000 stacks of 1 MiB and more. Each thread of the
        // runtime that first allocates meanwhile (its LWPs, the monitor)
        // may add a malloc arena, 64 MiB reserved and two lines: four did
        // once (256 MiB and 48 KiB). Half the leak is the bound.
        assert!(
            after.0 <= before.0 + 32 && after.1 <= before.1 + (500 << 20),
            "mappings grew from {before:?} to {after:?} (count, bytes)"
        );
        // The spawns that fail still work afterwards, and the rest does.
        fail_bound_starts(0);
        assert_eq!(solo().spawn(|| 7).unwrap().join().unwrap(), 7);
    }
}

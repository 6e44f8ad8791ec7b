//! Signals: per-ULT masks kept at user level, weave's wrapper handler, the
//! four delivery cases, one-shot and queued signals, handlers run as
//! threads.
//!
//! Each thread has a signal mask. A ULT's lives in its TCB and changing it
//! ([`mask`]) is a store, not a system call; a new ULT inherits its
//! creator's. Plain OS threads keep the kernel's mask (they are 1:1
//! already), and [`mask`] on one is `pthread_sigmask`. For every signal a
//! program handles through weave ([`handle`], [`handle_once`], [`channel`],
//! [`wait`]) the kernel's table holds weave's own handler, which looks at
//! the ULT masks and picks the thread the signal goes to:
//!
//! 1. the ULT running on the interrupted LWP, if it does not block it;
//! 2. else a ULT of that LWP that is not running (runnable, or waiting
//!    inside weave) and does not block it;
//! 3. else a ULT running on another LWP that does not block it: the signal
//!    is sent on to that LWP (`tgkill`), where case 1 applies;
//! 4. else nobody takes it: it is blocked in this LWP's kernel mask and
//!    raised again for the process, until it waits pending in the kernel;
//!    the first ULT to unblock it then unblocks it in its own LWP's kernel
//!    mask (one system call), and it is delivered there.
//!
//! A ULT not running on another LWP is also a candidate when no ULT runs
//! with the signal unblocked. [`SigInfo::route`] says which case delivered
//! a signal and [`SigInfo::target`] which thread took it.
//!
//! **How handlers run**, three ways:
//!
//! - *as a thread* ([`handle`], [`handle_once`]; the default): the
//!   kernel-level handler only records the signal, and a ULT of a small
//!   pool made ahead of time runs the handler, so it may lock a
//!   [`crate::sync::Mutex`], block and allocate, even a mutex held by the
//!   thread the signal interrupted. One signal's handlers run one at a
//!   time, in the order the signals came. Use it unless one of the next
//!   two is needed: it costs two cross-thread wake-ups more than a C
//!   handler (`weave bench signal_latency`).
//! - *on the target* ([`handle_on_target`]): on the ULT that took the
//!   signal, at its next safe point, on its own stack, with the signal
//!   blocked meanwhile. Use it when the handler must act as that thread
//!   (its `thread_local!`s, its identity) and needs no lock that thread
//!   holds.
//! - *immediately, in signal context* ([`handle_immediate`], `unsafe`):
//!   on the stack of the interrupted ULT when that ULT takes the signal
//!   (cases 1 and 3), else on the target's stack as it is switched in
//!   (case 2) or, for a thread-directed signal, as it unblocks it or is
//!   next switched in; async-signal-safe code only. Use it for C's
//!   `sigaction` handlers (the C API maps them here), for the synchronous
//!   signals (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, which go to the
//!   faulting ULT and take no other kind of handler), and when the lowest
//!   latency matters more than what the handler may do.
//!
//! Standard signals raised while one is pending coalesce (1..=n runs for n
//! raises); real-time signals (`SIGRTMIN..=SIGRTMAX`) are queued, each with
//! its `sigqueue` value. [`channel`] is Go's `signal.Notify`, [`wait`] is
//! `sigwait` ([`wait_timeout`] `sigtimedwait`, [`wait_interruptible`]
//! `sigwaitinfo`'s `EINTR` and a cancellation point); all block only the
//! calling ULT. [`pending`] is `sigpending`. [`send_to_process`] is
//! `kill`/`sigqueue` to the program's own pid, routed before it returns
//! (held pending for the process when every thread blocks the signal, so
//! real-time signals keep their order). [`set_alt_stack`] is a ULT's own
//! `sigaltstack`, where a synchronous signal's `onstack` handler runs.
//!
//! **Thread-directed signals.** [`Thread::kill`](crate::thread::Thread::kill)
//! (`pthread_kill`) and [`Thread::sigqueue`](crate::thread::Thread::sigqueue)
//! make a signal pending on one ULT; it is delivered at the ULT's next safe
//! point with the signal unblocked. A ULT waiting inside weave (sleep, a
//! lock, a channel, a socket) is woken for it, and goes back to its wait
//! (`SA_RESTART`); [`take_interrupted`] tells it that happened (`EINTR`).
//!
//! The design note (states, numbered steps, why the kernel mask is lazy)
//! is `README.md` in this folder. What this layer must not touch: the
//! engine's run queues (it wakes threads only through `Waiter` and
//! channels) and the kernel's action for `SIGSEGV`/`SIGBUS`, which stays
//! the overflow handler's (it hands faults outside a guard page to
//! `fault.rs`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use weave::signal::{self, How, SigSet};
//! use weave::sync::Mutex;
//!
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let l = log.clone();
//! // Runs on a handler ULT: locking is fine, even if the interrupted
//! // thread holds this very mutex.
//! signal::handle(libc::SIGUSR1, move |info| l.lock().unwrap().push(info.signo)).unwrap();
//! let old = signal::mask(How::Block, &SigSet::of(&[libc::SIGUSR1])); // no system call on a ULT
//! signal::mask(How::SetMask, &old);
//! ```

mod altstack;
mod bell;
pub(crate) mod dispatch;
pub(crate) mod fault;
mod held;
pub(crate) mod immediate;
mod info;
pub(crate) mod interrupt;
mod jump;
mod process;
pub(crate) mod ring;
pub(crate) mod set;
pub(crate) mod slot;
pub(crate) mod spill;
pub(crate) mod stash;
pub(crate) mod state;
mod wrapper;

use std::fmt;
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use altstack::{alt_stack, set_alt_stack, AltStack, AltStackError, MIN_SIZE as MIN_ALT_STACK};
pub use immediate::{Immediate, ImmediateFn};
pub use info::SigInfo;
pub use jump::{before_jump, jump_point, JumpPoint};
pub use process::send_to_process;
pub use ring::Route;
pub use set::{SigSet, MAX_SIGNAL};

use ring::Record;
use set::bit;
use slot::{is_realtime, slot};
use state::{ACTIVE, HANDLED, INHERITED_BLOCKED, INTERRUPTED, KBLOCKED_ANY};

use crate::sync::mpsc;
use crate::thread::id::ThreadId;
use crate::thread::state::{WakeToken, BLOCKED, RUNNING};
use crate::thread::table::table;
use crate::thread::tcb::{Kind, Tcb, NO_LWP};

/// A handler installed through weave.
type Handler = Arc<dyn Fn(&SigInfo) + Send + Sync>;

/// What weave keeps per signal number on the thread side (the top half's
/// part is [`slot::Slot`]).
pub(crate) struct Action {
    handler: Mutex<Option<Handler>>,
    /// `channel` receivers, each with an id so that a closed one can be
    /// forgotten.
    subscribers: Mutex<Vec<(u64, mpsc::Sender<SigInfo>)>>,
    /// `wait` callers (their count for the top half is `Slot::waiting`).
    pub(crate) waiters: Mutex<Vec<dispatch::Waiter>>,
    pub(crate) lane: Mutex<dispatch::Lane>,
}

impl Action {
    const fn new() -> Action {
        Action {
            handler: Mutex::new(None),
            subscribers: Mutex::new(Vec::new()),
            waiters: Mutex::new(Vec::new()),
            lane: Mutex::new(dispatch::Lane::new()),
        }
    }
}

static ACTIONS: [Action; MAX_SIGNAL as usize + 1] =
    [const { Action::new() }; MAX_SIGNAL as usize + 1];

#[inline]
pub(crate) fn actions() -> &'static [Action; MAX_SIGNAL as usize + 1] {
    &ACTIONS
}

/// Kernel mask changes weave made for ULTs (case 4 unblocks); the cost of
/// the lazy mask, for `weave demo` and `weave bench`.
static KERNEL_CHANGES: AtomicU64 = AtomicU64::new(0);

/// `SIGRTMIN` as the C library defines it (glibc keeps the first two
/// real-time signals for itself).
pub fn sigrtmin() -> i32 {
    libc::SIGRTMIN()
}

/// `SIGRTMAX`.
pub fn sigrtmax() -> i32 {
    libc::SIGRTMAX()
}

/// How [`mask`] changes the mask, as `pthread_sigmask`'s `how`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Adds the set (`SIG_BLOCK`).
    Block,
    /// Removes the set (`SIG_UNBLOCK`).
    Unblock,
    /// Replaces the mask (`SIG_SETMASK`).
    SetMask,
}

/// Why a signal call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalError {
    /// Not a signal number (1..=64).
    Invalid { sig: i32 },
    /// A signal weave, the C library or the kernel keeps for itself.
    Reserved { sig: i32, why: &'static str },
    /// The thread a signal was sent to has exited (or never existed).
    NoThread { id: ThreadId },
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Invalid { sig } => write!(
                f,
                "{sig} is not a signal number: Linux signals are 1..={MAX_SIGNAL}"
            ),
            SignalError::Reserved { sig, why } => write!(
                f,
                "{} ({sig}) is not available to programs on weave: {why}",
                name(*sig)
            ),
            SignalError::NoThread { id } => write!(
                f,
                "cannot send a signal to thread {id:?}: it has exited; \
                 keep its JoinHandle and check is_finished() first"
            ),
        }
    }
}

impl std::error::Error for SignalError {}

/// The name of a signal (`SIGINT`, `SIGRTMIN+3`), for messages.
pub fn name(sig: i32) -> String {
    let known = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGURG => "SIGURG",
        libc::SIGSYS => "SIGSYS",
        _ => "",
    };
    if !known.is_empty() {
        known.to_owned()
    } else if sig >= sigrtmin() && sig <= sigrtmax() {
        format!("SIGRTMIN+{}", sig - sigrtmin())
    } else {
        format!("signal {sig}")
    }
}

/// Refuses what a program cannot handle through weave.
fn check(sig: i32) -> Result<(), SignalError> {
    if !(1..=MAX_SIGNAL).contains(&sig) {
        return Err(SignalError::Invalid { sig });
    }
    let why = match sig {
        libc::SIGKILL | libc::SIGSTOP => "the kernel never lets a program catch or block it",
        s if fault::is_synchronous(s) => {
            "it is synchronous (raised by the faulting instruction, which runs again when \
             the handler returns): only an immediate handler (handle_immediate) can take it"
        }
        s if s >= 32 && s < sigrtmin() => {
            "the C library keeps it (thread cancellation and setxid); use SIGRTMIN..=SIGRTMAX"
        }
        s if s == crate::config::dump_signal() => {
            "WEAVE_DUMP_SIGNAL takes it for thread dumps; unset WEAVE_DUMP_SIGNAL or \
             set it to another signal (SIGQUIT, SIGUSR1, SIGUSR2)"
        }
        _ => return Ok(()),
    };
    Err(SignalError::Reserved { sig, why })
}

/// As [`check`], for an immediate handler and the dispositions: the
/// synchronous signals are allowed.
fn check_immediate(sig: i32) -> Result<(), SignalError> {
    match check(sig) {
        Err(SignalError::Reserved { sig, .. }) if fault::is_synchronous(sig) => Ok(()),
        r => r,
    }
}

/// Serialises installs (the table's rings, the kernel's action).
static INSTALL: Mutex<()> = Mutex::new(());

/// Puts weave's wrapper in the kernel's table for `sig`, with everything
/// its top half needs made first.
fn install(sig: i32) -> Result<&'static Action, SignalError> {
    // An immediate handler's options stay in the kernel's action (a
    // `wait` for its signal installs again).
    let imm = immediate::lookup(sig).copied();
    install_with(
        sig,
        &imm.unwrap_or(Immediate::new(ImmediateFn::Plain(no_handler))),
    )
}

/// The handler of [`install`]'s default options, never run.
extern "C" fn no_handler(_: i32) {}

/// As [`install`], with the kernel blocking `mask` (and `sig` itself unless
/// `nodefer`) while the wrapper runs: an immediate handler's `sa_mask`;
/// `restart`: its `SA_RESTART`.
fn install_with(sig: i32, opts: &Immediate) -> Result<&'static Action, SignalError> {
    let (mask, nodefer, restart) = (opts.mask, opts.nodefer, opts.restart);
    check(sig)?;
    // The LWPs start (with the caller's kernel mask) before the signal
    // counts as handled.
    crate::start::rt();
    // The top half reads the thread table: make it here, not there (its
    // first use allocates).
    table();
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    slot::make_stash();
    let sl = slot(sig);
    if sl.ring.load(Relaxed).is_null() {
        // Real-time signals queue: room for a burst while the dispatcher
        // is off the CPU. Standard ones coalesce: a few are plenty.
        let cap = if is_realtime(sig) { 1024 } else { 64 };
        let r = Box::into_raw(Box::new(ring::Ring::new(cap)));
        // Release pairs with the Acquire loads in the top half and the
        // dispatcher.
        sl.ring.store(r, Release);
    }
    // Before the dispatcher exists: the handler ULTs it spawns inherit its
    // kernel mask (every signal blocked) only once signals count as in use
    // (`state::inherited_mask`). Spawned with an open mask, one that has not
    // run yet (and so has not marked itself a handler) looks to the signal
    // wrapper like a ULT that takes any signal, and a signal routed to it
    // is lost. The spawn of the dispatcher's thread orders this store
    // before its loads.
    ACTIVE.store(1, Relaxed);
    dispatch::start();
    // SAFETY: a zeroed sigaction is valid to fill in.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = wrapper::wrapper as *const () as usize;
    // No SA_ONSTACK: an immediate handler runs on the interrupted ULT's
    // own stack, as a C handler expects (the alternate stack is for the
    // overflow handler, whose ULT stack is exhausted).
    // SA_RESTART unless an immediate handler asked for calls to fail with
    // EINTR: weave's own blocking calls (the LWPs' parks, the reactor's
    // epoll_wait, the monitor's reads) retry on EINTR either way.
    act.sa_flags = libc::SA_SIGINFO;
    if restart {
        act.sa_flags |= libc::SA_RESTART;
    }
    if nodefer {
        act.sa_flags |= libc::SA_NODEFER;
    }
    // What the kernel does for SIGCHLD itself (stops, zombies) is the
    // program's to say.
    if opts.nocldstop {
        act.sa_flags |= libc::SA_NOCLDSTOP;
    }
    if opts.nocldwait {
        act.sa_flags |= libc::SA_NOCLDWAIT;
    }
    act.sa_mask = mask.to_sigset_t();
    // The top half is weave's code: an asynchronous cancellation must not
    // stop the ULT in it (`interrupt.rs`).
    set::block_async_cancel_in(&mut act.sa_mask);
    // SAFETY: `sig` passed `check`: catchable; the handler is
    // async-signal-safe (wrapper.rs).
    let rc = unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) };
    debug_assert_eq!(rc, 0, "sigaction for a checked signal cannot fail");
    // Only now, with the wrapper in the kernel's table, may a thread open
    // its kernel mask for the signal (LWPs do for HANDLED ones): one that
    // is pending would otherwise get the old action (for most signals, the
    // end of the process).
    // SeqCst: Release for the dispatcher's Acquire load of HANDLED, and
    // the Dekker pair with `state::lwp_started` (set HANDLED, read
    // INHERITED_BLOCKED there the other way round).
    if HANDLED.fetch_or(bit(sig), SeqCst) & bit(sig) == 0
        && INHERITED_BLOCKED.load(SeqCst) & bit(sig) != 0
    {
        // The LWPs already running may block it in the kernel mask they
        // inherited: the first ULT to unblock it (or wait for it) opens
        // its own LWP's (`state::kernel_blocked`), as after case 4, and
        // each LWP opens its own as it next goes idle (`state::lwp_idle`):
        // wake them all for it.
        KBLOCKED_ANY.fetch_or(bit(sig), Relaxed);
        if crate::lwp::current().is_some() {
            state::lwp_idle();
        }
        for l in crate::runtime::rt().lwps() {
            l.parker.unpark();
        }
    }
    // A record the top half left before HANDLED had the bit: the
    // dispatcher drains only handled signals' rings.
    wrapper::wake_dispatcher();
    Ok(&actions()[sig as usize])
}

/// Runs `f` for each `sig` the process gets, on a handler ULT (see the
/// module doc), until [`reset`]. Replaces an earlier handler of `sig`.
///
/// ```no_run
/// weave::signal::handle(libc::SIGTERM, |info| {
///     eprintln!("SIGTERM from pid {}", info.pid);
/// })
/// .unwrap();
/// ```
pub fn handle<F>(sig: i32, f: F) -> Result<(), SignalError>
where
    F: Fn(&SigInfo) + Send + Sync + 'static,
{
    set_handler(sig, Arc::new(f), false)
}

/// As [`handle`], for one delivery: the signal's action goes back to the
/// default as that delivery is taken (`SA_RESETHAND`), so a second one gets
/// the default action (for most signals, the end of the process).
pub fn handle_once<F>(sig: i32, f: F) -> Result<(), SignalError>
where
    F: Fn(&SigInfo) + Send + Sync + 'static,
{
    set_handler(sig, Arc::new(f), true)
}

/// As [`handle`], but `f` runs on the ULT that took the signal (the target
/// the four cases chose, or the one a `Thread::kill` named), at its next
/// safe point, on its own stack, with `sig` added to its mask while `f`
/// runs: POSIX's per-thread handler, without the async-signal-safety
/// burden (`f` may lock and block; it must not need a lock the target holds
/// across that safe point). A ULT waiting inside weave is woken for it and
/// then waits on. A signal taken by an OS thread, or whose target has
/// exited, runs on a pool ULT instead.
pub fn handle_on_target<F>(sig: i32, f: F) -> Result<(), SignalError>
where
    F: Fn(&SigInfo) + Send + Sync + 'static,
{
    set_handler(sig, Arc::new(f), false)?;
    slot(sig).on_target.store(true, Relaxed);
    Ok(())
}

/// Installs `action` as `sig`'s handler, run **immediately, in signal
/// context**, as a C `sigaction` handler is: on the stack of the thread the
/// signal interrupted when that thread takes it (the running ULT of cases 1
/// and 3, the ULT that unblocks it in case 4, or an OS thread that uses
/// weave whose kernel mask let it in), and otherwise on the target ULT's stack as it is
/// switched in (case 2) or, for a thread-directed signal
/// ([`Thread::kill`](crate::thread::Thread::kill)), when it unblocks the
/// signal or is next switched in. While it runs, `action.mask` and the
/// signal (unless `nodefer`) are blocked in that thread's mask.
/// [`ImmediateFn::Rust`] handlers get a [`SigInfo`] whose `target` names
/// the thread it runs on.
///
/// For synchronous signals (`SIGSEGV` outside a guard page, `SIGBUS`,
/// `SIGFPE`, `SIGILL`, `SIGTRAP`, `SIGSYS`) this is the only kind of
/// handler weave takes: it runs on the faulting thread, on the LWP's
/// alternate signal stack for `SIGSEGV` and `SIGBUS`; returning re-runs the
/// faulting instruction, so such a handler fixes the cause (e.g.
/// `mprotect`) or ends the process (`_exit`).
///
/// Use it for code written for `sigaction` (the C API maps `sigaction` and
/// `signal` here) and for the synchronous signals; prefer [`handle`] (a
/// handler that may lock, block and allocate) or [`handle_on_target`]
/// otherwise.
///
/// # Safety
///
/// The handler interrupts arbitrary code, weave's own included: it must be
/// async-signal-safe (POSIX's list: no lock, no allocation, no weave call
/// other than [`running_thread`]; `write`, atomics, `_exit` are fine) and
/// must not unwind.
pub unsafe fn handle_immediate(sig: i32, action: Immediate) -> Result<(), SignalError> {
    check_immediate(sig)?;
    let a = &ACTIONS[sig as usize];
    slot(sig).on_target.store(false, Relaxed);
    *a.handler.lock().unwrap_or_else(|e| e.into_inner()) = None;
    immediate::set(sig, Some(immediate::intern(action)));
    slot(sig).once.store(action.once, Relaxed);
    if fault::is_synchronous(sig) {
        // weave's fault handler is in the kernel's table from the first
        // LWP on, and looks the immediate handler up itself; one sent with
        // `Thread::kill` is run by its target at a safe point.
        crate::start::rt();
        state::set_deliver_hook(dispatch::at_safe_point);
        return Ok(());
    }
    install_with(sig, &action).map(|_| ())
}

/// Has `act` run by a ULT that a cancellation request stops in its own
/// code while it is armed for asynchronous cancellation
/// ([`thread::arm_async_cancel`](crate::thread::arm_async_cancel)): on the
/// ULT's stack, the signal context left behind. `act` must not return (the
/// C API's `pthread_exit(PTHREAD_CANCELED)` jumps to the thread's landing
/// pad). The first call installs; later ones change nothing. Until it is
/// installed (and on platforms without the interrupt), no thread is ever
/// armed.
pub fn set_async_cancel_hook(act: fn() -> !) {
    interrupt::install(act);
}

/// Makes the process ignore `sig` (`SIG_IGN`): its handler and receivers
/// are forgotten, and a pending one is discarded by the kernel.
pub fn ignore(sig: i32) -> Result<(), SignalError> {
    check_immediate(sig)?;
    forget(sig, libc::SIG_IGN);
    Ok(())
}

/// What happens to `sig` now, as `sigaction`'s old action reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// The default action (`SIG_DFL`).
    Default,
    /// Ignored (`SIG_IGN`).
    Ignore,
    /// An immediate handler ([`handle_immediate`]).
    Immediate(Immediate),
    /// A handler run as a thread or on its target, or only receivers and
    /// waiters ([`handle`], [`handle_once`], [`handle_on_target`],
    /// [`channel`], [`wait`]).
    Weave,
}

/// `sig`'s current disposition. A handler installed outside weave (with
/// the system's `sigaction`) shows as `Weave` if it is not `SIG_DFL` or
/// `SIG_IGN`.
pub fn disposition(sig: i32) -> Result<Disposition, SignalError> {
    check_immediate(sig)?;
    if let Some(imm) = immediate::lookup(sig) {
        return Ok(Disposition::Immediate(*imm));
    }
    if fault::is_synchronous(sig) {
        return Ok(Disposition::Default);
    }
    // SAFETY: a zeroed sigaction is a valid out-value.
    let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one.
    unsafe { libc::sigaction(sig, std::ptr::null(), &mut cur) };
    Ok(match cur.sa_sigaction {
        libc::SIG_DFL => Disposition::Default,
        libc::SIG_IGN => Disposition::Ignore,
        _ => Disposition::Weave,
    })
}

/// The ULT the calling LWP runs, as an immediate handler asks "who am
/// I?": `None` on an OS thread. Async-signal-safe.
// ASYNC-SIGNAL-SAFE
pub fn running_thread() -> Option<ThreadId> {
    crate::thread::current::running().map(|t| t.id())
}

fn set_handler(sig: i32, f: Handler, once: bool) -> Result<(), SignalError> {
    check(sig)?;
    slot(sig).on_target.store(false, Relaxed);
    immediate::set(sig, None);
    *ACTIONS[sig as usize]
        .handler
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(f);
    slot(sig).once.store(once, Relaxed);
    install(sig).map(|_| ())
}

/// Gives `sig` back its default action and forgets its handler and
/// receivers (`signal(sig, SIG_DFL)`).
pub fn reset(sig: i32) -> Result<(), SignalError> {
    check_immediate(sig)?;
    forget(sig, libc::SIG_DFL);
    Ok(())
}

/// Forgets `sig`'s handlers and receivers and puts `action` (`SIG_DFL` or
/// `SIG_IGN`) in the kernel's table (for a synchronous signal weave's
/// fault handler stays there and applies the default itself).
fn forget(sig: i32, action: libc::sighandler_t) {
    let a = &ACTIONS[sig as usize];
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    slot(sig).once.store(false, Relaxed);
    slot(sig).on_target.store(false, Relaxed);
    immediate::set(sig, None);
    *a.handler.lock().unwrap_or_else(|e| e.into_inner()) = None;
    a.subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    if fault::is_synchronous(sig) && action == libc::SIG_DFL {
        return;
    }
    // SAFETY: a zeroed sigaction with SIG_DFL or SIG_IGN is valid.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = action;
    // SAFETY: `sig` passed `check_immediate`: it may be caught or ignored.
    unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) };
}

/// A receiver of every later delivery of `sigs` (Go's `signal.Notify`).
/// Dropping the receiver stops the deliveries to it. Works alongside a
/// [`handle`] handler of the same signal (both get it).
///
/// ```no_run
/// let rx = weave::signal::channel(&[libc::SIGINT, libc::SIGTERM]).unwrap();
/// let info = rx.recv().unwrap(); // blocks only this ULT
/// println!("stopping on {}", weave::signal::name(info.signo));
/// ```
pub fn channel(sigs: &[i32]) -> Result<mpsc::Receiver<SigInfo>, SignalError> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    for &s in sigs {
        check(s)?;
    }
    let (tx, rx) = mpsc::channel();
    let id = NEXT.fetch_add(1, Relaxed);
    for &s in sigs {
        ACTIONS[s as usize]
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, tx.clone()));
        install(s)?;
    }
    Ok(rx)
}

/// Changes the calling thread's signal mask as `how` says and returns the
/// old one, as `pthread_sigmask`. On a ULT it is a store into its TCB, with
/// no system call unless it unblocks a signal that case 4 left blocked in
/// its LWP's kernel mask (then one). On an OS thread it is
/// `pthread_sigmask`. `SIGKILL` and `SIGSTOP` are never blocked.
#[inline]
pub fn mask(how: How, set: &SigSet) -> SigSet {
    let set = set.bits() & !(bit(libc::SIGKILL) | bit(libc::SIGSTOP));
    match crate::thread::current::running() {
        Some(t) => mask_ult(t, how, set),
        None => mask_os(how, set),
    }
}

#[inline]
fn mask_ult(t: &'static Tcb, how: How, set: u64) -> SigSet {
    mask_ult_then(t, how, set, true)
}

/// As `mask_ult`; with `deliver` false, the signals it lets in stay
/// pending on `t` for the delivery loop that called it
/// (`dispatch::at_safe_point`).
#[inline]
fn mask_ult_then(t: &'static Tcb, how: How, set: u64, deliver: bool) -> SigSet {
    let old = t.sig.mask.load(Relaxed);
    let new = match how {
        How::Block => old | set,
        How::Unblock => old & !set,
        How::SetMask => set,
    };
    if new != old {
        // Plain stores and loads, no fence: the common case is two loads and
        // a store. A `Thread::kill` racing with an unblock may read the old
        // mask and not kick us while we read `pending` before its bit lands;
        // the signal then waits for this ULT's next switch, where the
        // switch-in hook and the LWP's check after a block both look at
        // `pending` (with SeqCst): delayed to the next safe point, never lost.
        t.sig.mask.store(new, Relaxed);
        let opened = old & !new;
        if opened != 0 && opened & (KBLOCKED_ANY.load(Relaxed) | t.sig.pending.load(Relaxed)) != 0 {
            unmask_slow(t, opened, deliver);
        }
    }
    SigSet::from_bits(old)
}

/// Puts `t`'s mask back to `mask` after a handler ran on it with more
/// blocked (`dispatch::run_on_target`; `t` is the calling ULT): as
/// [`mask`] with `SetMask` does, so that a signal that came meanwhile,
/// found every ULT blocking it and was left blocked in the kernel (case 4)
/// is let in now, as POSIX's return from a handler lets in what became
/// pending while it ran.
pub(super) fn restore_after_handler(t: &'static Tcb, mask: u64) {
    mask_ult(t, How::SetMask, mask);
}

/// As [`restore_after_handler`], for a handler the delivery loop
/// (`dispatch::at_safe_point`) ran: what the mask lets in now is left
/// pending for that loop, which delivers the lowest-numbered signal next.
pub(super) fn restore_in_delivery(t: &'static Tcb, mask: u64) {
    mask_ult_then(t, How::SetMask, mask, false);
}

/// Case 4's second half: this ULT unblocks a signal that its LWP's kernel
/// mask blocks because nobody took it: unblock it there, and a pending one
/// is delivered to us on the way out of the system call. Then deliver what
/// was pending on this ULT.
#[cold]
fn unmask_slow(t: &'static Tcb, opened: u64, deliver: bool) {
    let kb = state::kernel_blocked(opened, crate::lwp::current().is_some());
    if kb != 0 {
        KERNEL_CHANGES.fetch_add(1, Relaxed);
        let set = SigSet::from_bits(kb).to_sigset_t();
        wrapper::IN_UNMASK.with(|c| c.set(true));
        // SAFETY: unblocking a valid set on the calling thread.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        wrapper::IN_UNMASK.with(|c| c.set(false));
    }
    // Records the kernel refused to queue again (case 4): ours now.
    dispatch::take_held(t, opened);
    if deliver && t.sig.deliverable() != 0 {
        dispatch::at_safe_point(t);
    }
}

fn mask_os(how: How, set: u64) -> SigSet {
    ACTIVE.store(1, Relaxed);
    let me = crate::thread::current::external();
    let opens = match how {
        How::Block => 0,
        How::Unblock => set,
        How::SetMask => !set,
    };
    if opens & dispatch::held_signals() != 0 {
        if let Some(t) = me {
            // Signals held for the process that this thread may now let
            // in: sent to it while its mask still blocks them, so that
            // the kernel delivers them as the mask opens, lowest first.
            let blocked = state::kernel_mask().bits();
            dispatch::give_held_to_os_thread(t, blocked & opens);
        }
    }
    let how = match how {
        How::Block => libc::SIG_BLOCK,
        How::Unblock => libc::SIG_UNBLOCK,
        How::SetMask => libc::SIG_SETMASK,
    };
    let new = SigSet::from_bits(set).to_sigset_t();
    // SAFETY: a zeroed sigset_t is a valid out-value.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets, `how` one of the three values.
    let rc = unsafe { libc::pthread_sigmask(how, &new, &mut old) };
    debug_assert_eq!(rc, 0);
    if let Some(t) = me {
        // What a process signal's sender reads (`process.rs`).
        t.sig.mask.store(state::kernel_mask().bits(), Relaxed);
    }
    SigSet::from_sigset_t(&old)
}

/// The calling thread's signal mask.
pub fn current_mask() -> SigSet {
    match crate::thread::current::running() {
        Some(t) => SigSet::from_bits(t.sig.mask.load(Relaxed)),
        None => state::kernel_mask(),
    }
}

/// The signals pending for the calling thread that its mask blocks, as
/// `sigpending` reports them: those sent to it (a ULT's are weave's,
/// [`Thread::kill`](crate::thread::Thread::kill)) or to the process (the
/// kernel's, where nobody takes them, and those weave holds for a ULT that
/// unblocks them).
pub fn pending() -> SigSet {
    // SAFETY: a zeroed sigset_t is a valid out-value.
    let mut ks: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set to write, on the calling thread.
    unsafe { libc::sigpending(&mut ks) };
    let mut bits = SigSet::from_sigset_t(&ks).bits() | dispatch::held_signals();
    if let Some(t) = crate::thread::current::running() {
        bits |= t.sig.pending.load(SeqCst);
    }
    SigSet::from_bits(bits & current_mask().bits())
}

/// Kernel mask changes weave has made for ULTs so far (each a system call
/// that case 4 made necessary); every other mask change of a ULT cost none.
pub fn kernel_mask_changes() -> u64 {
    KERNEL_CHANGES.load(Relaxed)
}

/// How many (thread, signal) queues of real-time records sent with
/// `Thread::sigqueue` wait for their ULT: records left by a ULT that exited
/// without taking them are dropped as the table grows. For tests and
/// `weave demo`.
#[doc(hidden)]
pub fn queued_for_threads() -> usize {
    dispatch::queued_targets()
}

/// How many signals weave sent on (to another LWP, or raised again) keep
/// their `siginfo` in its stashes now, waiting for the kernel to deliver
/// them: 0 once every one has arrived. For tests.
#[doc(hidden)]
pub fn stashed_in_flight() -> usize {
    [slot::stash(), slot::keyed_stash()]
        .into_iter()
        .flatten()
        .map(stash::Stash::in_use)
        .sum()
}

/// Whether a signal handler ran while the calling thread waited inside
/// weave since the last call (the wait went on: `SA_RESTART`); clears it.
/// The `EINTR` of a C caller that asks for it.
pub fn take_interrupted() -> bool {
    let t = crate::thread::current::current_tcb();
    t.sig.flags.fetch_and(!INTERRUPTED, Relaxed) & INTERRUPTED != 0
}

/// Whether a handler installed without `SA_RESTART`
/// ([`Immediate::restart`] false) ran on the calling thread since the
/// last call; clears it. The `EINTR` of C's socket calls and `sem_wait`,
/// which a handler without `SA_RESTART` ends (with it, they go on). False
/// on a plain OS thread that never used weave.
pub fn take_interrupted_without_restart() -> bool {
    let t = match crate::thread::current::running() {
        Some(t) => t,
        None => match crate::thread::current::external() {
            Some(t) => t,
            None => return false,
        },
    };
    t.sig.flags.fetch_and(!state::NO_RESTART, Relaxed) & state::NO_RESTART != 0
}

/// `sigsuspend`: replaces the calling thread's mask with `set` until a
/// signal handler has run on this thread, then puts the old mask back and
/// returns (C's `sigsuspend` then fails with `EINTR`). On a ULT only the
/// ULT waits. The handlers that count are the ones that run *on* the
/// thread: immediate handlers ([`handle_immediate`], C's `sigaction`) and
/// [`handle_on_target`] ones; a handler run by the pool ([`handle`]) runs
/// on another thread and does not end the suspend (wait for those signals
/// with [`wait`] or a [`channel`]). A signal pending on the thread that
/// `set` lets through is delivered at once, and the call returns. With
/// `set` the current mask, this is `pause`. On an OS thread it is the
/// system's `sigsuspend` on the kernel mask. `SIGKILL` and `SIGSTOP` are
/// never blocked. Inside a
/// [`cancellation_point`](crate::thread::cancellation_point), a
/// cancellation request ends the wait too (POSIX lists `sigsuspend` and
/// `pause` as cancellation points); the old mask is back when it returns.
pub fn suspend(set: &SigSet) {
    let Some(t) = crate::thread::current::running() else {
        let ks = SigSet::from_bits(set.bits() & !(bit(libc::SIGKILL) | bit(libc::SIGSTOP)));
        // SAFETY: a valid set; sigsuspend returns after a handler ran.
        unsafe { libc::sigsuspend(&ks.to_sigset_t()) };
        return;
    };
    t.sig.flags.fetch_and(!state::RAN, SeqCst);
    t.sig.flags.fetch_or(state::SUSPENDING, SeqCst);
    // Opening the mask delivers what is pending and now let through.
    let old = mask(How::SetMask, set);
    while t.sig.flags.load(SeqCst) & state::RAN == 0 && !crate::thread::cancel::wait_cancelled() {
        // `handler_ran` ends this wait if a handler runs on this ULT while
        // it gets ready to block (the register below saw no RAN yet).
        crate::sched::block_on(crate::thread::id::BlockReason::Signal, None, |_| {
            t.sig.flags.load(SeqCst) & state::RAN == 0
        });
    }
    t.sig
        .flags
        .fetch_and(!(state::SUSPENDING | state::RAN), SeqCst);
    mask(How::SetMask, &old);
}

/// Blocks the calling thread (only the ULT, on a ULT) until one of `set`
/// arrives, and takes it, as `sigwait`: the caller gets it whatever its
/// mask says (block the set first, as with `sigwait`, so that no handler
/// takes it meanwhile). A signal already pending on the caller, or taken
/// earlier with nobody to handle it, is returned at once.
pub fn wait(set: &SigSet) -> Result<SigInfo, SignalError> {
    wait_until(set, None).map(|i| i.expect("a wait without a deadline ends with a signal"))
}

/// As [`wait`], giving up after `timeout`: `Ok(None)` if no signal of
/// `set` came (`sigtimedwait`'s `EAGAIN`).
pub fn wait_timeout(set: &SigSet, timeout: Duration) -> Result<Option<SigInfo>, SignalError> {
    let now = Instant::now();
    wait_until(set, Some(now.checked_add(timeout).unwrap_or(now + FAR)))
}

/// As [`wait`], giving up at `deadline`: `Ok(None)` if no signal of `set`
/// came by then.
pub fn wait_deadline(set: &SigSet, deadline: Instant) -> Result<Option<SigInfo>, SignalError> {
    wait_until(set, Some(deadline))
}

/// How a [`wait_interruptible`] ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Waited {
    /// A signal of the set, taken.
    Signal(SigInfo),
    /// The deadline passed, or (inside a
    /// [`cancellation_point`](crate::thread::cancellation_point)) a
    /// cancellation request ended the wait: [`cancel_requested`](crate::thread::cancel_requested) tells.
    TimedOut,
    /// A signal handler ran on the calling thread meanwhile (C's `EINTR`).
    Interrupted,
}

/// As [`wait_deadline`] (`None`: no deadline), as C's `sigwaitinfo` and
/// `sigtimedwait` wait: a handler that runs on the calling thread while it
/// waits (for a signal outside `set`) ends the wait with
/// [`Waited::Interrupted`] when `eintr` (else the wait goes on, as
/// `sigwait`'s does); inside a
/// [`cancellation_point`](crate::thread::cancellation_point), a request
/// ends it with [`Waited::TimedOut`]. A signal of `set` that came first is
/// returned whatever else happened.
pub fn wait_interruptible(
    set: &SigSet,
    deadline: Option<Instant>,
    eintr: bool,
) -> Result<Waited, SignalError> {
    let me = crate::sync::block::me();
    // A handler that ran before this wait is not this wait's.
    if eintr {
        crate::sync::block::take_signal_interrupt(&me);
    }
    let interrupted = std::cell::Cell::new(false);
    let stop = || {
        if crate::thread::cancel::wait_cancelled() {
            return true;
        }
        if eintr && crate::sync::block::take_signal_interrupt(&me) {
            interrupted.set(true);
            return true;
        }
        false
    };
    Ok(match wait_until_or(set, deadline, &stop)? {
        Some(i) => Waited::Signal(i),
        None if interrupted.get() => Waited::Interrupted,
        None => Waited::TimedOut,
    })
}

/// A deadline that does not come (a timeout too long for an `Instant`).
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn wait_until(set: &SigSet, deadline: Option<Instant>) -> Result<Option<SigInfo>, SignalError> {
    wait_until_or(set, deadline, &|| false)
}

/// The body of the waits: as [`wait_deadline`], also giving up (`None`)
/// when `stop` says so as the wait begins and after each wake-up.
fn wait_until_or(
    set: &SigSet,
    deadline: Option<Instant>,
    stop: &dyn Fn() -> bool,
) -> Result<Option<SigInfo>, SignalError> {
    for s in set.iter() {
        check(s)?;
    }
    for s in set.iter() {
        install(s)?;
    }
    let me = crate::thread::current::current_tcb();
    let me_id = me.id().as_u64().get();
    if let Some(i) = take_pending(me, me_id, set) {
        return Ok(Some(i));
    }
    if let Some(i) = take_unclaimed(set) {
        return Ok(Some(i));
    }
    let (tx, rx) = mpsc::channel();
    let taken = Arc::new(AtomicBool::new(false));
    for s in set.iter() {
        let a = &ACTIONS[s as usize];
        a.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dispatch::Waiter {
                me: me_id,
                taken: taken.clone(),
                tx: tx.clone(),
            });
        slot(s).waiting.fetch_add(1, SeqCst);
    }
    drop(tx);
    const SENT: &str = "a router that claimed a wait sends it the signal";
    // What arrived between the first look and the registration.
    let early = match take_pending(me, me_id, set).or_else(|| take_unclaimed(set)) {
        // A router claimed this wait meanwhile and is sending its signal:
        // this wait returns the one it found, and leaves the routed one
        // for the next wait rather than lose it.
        Some(i) if taken.swap(true, Relaxed) => {
            leave_unclaimed(&rx.recv().expect(SENT));
            Some(i)
        }
        e => e,
    };
    // On a plain OS thread, the signals of `set` its own kernel mask
    // blocks (a program blocks them before `sigwait`, as it should), let
    // in for the wait and blocked again after it.
    let mut os_opened = 0;
    let info = match early {
        Some(i) => Some(i),
        None => {
            // Signals nobody took may wait in the kernel, blocked in this
            // LWP's mask (case 4): let them in; the top half sees a waiter.
            // A plain OS thread's: sent to it by `Thread::kill` (`tgkill`)
            // or to the process, they wait in the kernel while its mask
            // blocks them, and would never reach this wait.
            let kb = if crate::thread::current::running().is_some() {
                state::kernel_blocked(set.bits(), crate::lwp::current().is_some())
            } else {
                os_opened = state::kernel_mask().bits() & set.bits();
                os_opened
            };
            if kb != 0 {
                KERNEL_CHANGES.fetch_add(1, Relaxed);
                let ks = SigSet::from_bits(kb).to_sigset_t();
                // SAFETY: unblocking a valid set on the calling thread.
                unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &ks, std::ptr::null_mut()) };
            }
            match rx.recv_until_or(deadline, stop) {
                Ok(i) => Some(i),
                // Time is up (or `stop`): withdraw the claim, unless a
                // router made it first (then its signal is on the way:
                // take it).
                Err(_) if taken.swap(true, Relaxed) => Some(rx.recv().expect(SENT)),
                Err(_) => None,
            }
        }
    };
    if os_opened != 0 {
        // Blocked again while this wait is still registered: one that
        // comes meanwhile is routed as for a waiter (the next `wait` finds
        // it, or another waiter takes it), not run by a handler.
        let ks = SigSet::from_bits(os_opened).to_sigset_t();
        // SAFETY: blocking a valid set on the calling thread.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &ks, std::ptr::null_mut()) };
    }
    for s in set.iter() {
        let a = &ACTIONS[s as usize];
        a.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| !Arc::ptr_eq(&w.taken, &taken));
        slot(s).waiting.fetch_sub(1, SeqCst);
    }
    Ok(info)
}

/// Puts a signal a `wait` was given but does not return back where the
/// next `wait` for it looks first (`take_unclaimed`).
fn leave_unclaimed(i: &SigInfo) {
    let rec = Record {
        signo: i.signo,
        code: i.code,
        pid: i.pid,
        uid: i.uid,
        value: i.value as u64,
        target: i.target.map_or(0, |t| t.as_u64().get()),
        route: Route::Waited,
    };
    ACTIONS[i.signo as usize]
        .lane
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unclaimed
        .push_front(rec);
}

fn take_pending(me: &Tcb, me_id: u64, set: &SigSet) -> Option<SigInfo> {
    for s in set.iter() {
        if me.sig.pending.fetch_and(!bit(s), SeqCst) & bit(s) != 0 {
            let rec =
                dispatch::take_queued(me_id, s).unwrap_or_else(|| thread_record(s, me_id, None));
            if is_realtime(s) && dispatch::take_queued_peek(me_id, s) {
                // More queued for this ULT: it stays pending.
                me.sig.pending.fetch_or(bit(s), SeqCst);
            }
            return Some(SigInfo::from_record(&rec));
        }
    }
    None
}

fn take_unclaimed(set: &SigSet) -> Option<SigInfo> {
    for s in set.iter() {
        let mut lane = ACTIONS[s as usize]
            .lane
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(r) = lane.unclaimed.pop_front() {
            let mut i = SigInfo::from_record(&r);
            i.route = Route::Waited;
            return Some(i);
        }
    }
    // Signals the program sent its process while every thread blocked
    // them, held for a thread that takes them (`process.rs`).
    dispatch::take_held_for_wait(set.bits()).map(|r| {
        let mut i = SigInfo::from_record(&r);
        i.route = Route::Waited;
        i
    })
}

fn thread_record(sig: i32, target: u64, value: Option<usize>) -> Record {
    // SAFETY: getpid/getuid have no preconditions.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    Record {
        signo: sig,
        code: if value.is_some() {
            libc::SI_QUEUE
        } else {
            libc::SI_TKILL
        },
        pid,
        uid,
        value: value.unwrap_or(0) as u64,
        target,
        route: Route::Thread,
    }
}

impl crate::thread::Thread {
    /// Sends `sig` to this thread, as `pthread_kill`. To a ULT, the signal
    /// is pending while the ULT blocks it and is delivered at its next
    /// safe point with it unblocked; a ULT waiting inside weave (sleep, a
    /// lock, a channel, a socket) is woken for it and then goes back to its
    /// wait ([`take_interrupted`] says it happened). To an OS thread it is
    /// `pthread_kill`. A signal not handled through weave when it is
    /// delivered gets the kernel's action for the process (for most
    /// signals, the end of it), as with `pthread_kill`.
    pub fn kill(&self, sig: i32) -> Result<(), SignalError> {
        send_to(self.id(), sig, None)
    }

    /// Sends a real-time (or standard) signal with a value to this thread,
    /// as `pthread_sigqueue`. Real-time signals queue on the thread, each
    /// with its value, in order; standard ones coalesce.
    pub fn sigqueue(&self, sig: i32, value: usize) -> Result<(), SignalError> {
        send_to(self.id(), sig, Some(value))
    }
}

fn send_to(id: ThreadId, sig: i32, value: Option<usize>) -> Result<(), SignalError> {
    // A synchronous signal may be sent too (not raised by a fault then): it
    // goes to the thread's immediate handler, or has the default action.
    check_immediate(sig)?;
    let tcb = table()
        .lookup(id)
        .map_err(|_| SignalError::NoThread { id })?;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if tcb.kind() == Kind::External {
        let tid = tcb.os_tid.load(Relaxed) as i32;
        match value {
            Some(v) => {
                // SAFETY: getuid has no preconditions.
                let k = wrapper::KernelInfo::queued(sig, pid, unsafe { libc::getuid() }, v as u64);
                // SAFETY: a valid siginfo with SI_QUEUE, to a thread of ours.
                unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, tid, sig, &k as *const _) }
            }
            // SAFETY: tgkill to a thread of our own process.
            None => unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) },
        };
        return Ok(());
    }
    let me_id = tcb.id().as_u64().get();
    let rec = thread_record(sig, me_id, value);
    if slot(sig).waiting.load(SeqCst) > 0 && dispatch::route_to_waiter(&rec) {
        return Ok(());
    }
    if is_realtime(sig) {
        dispatch::queue_for_thread(rec);
    }
    tcb.sig.pending.fetch_or(bit(sig), SeqCst);
    kick(tcb, bit(sig));
    Ok(())
}

/// Makes a ULT with `b` pending and unblocked deliver it soon: now if it is
/// the caller; woken if it waits inside weave; at its next safe point if it
/// runs elsewhere; as it is switched in if it is runnable.
pub(crate) fn kick(tcb: &'static Tcb, b: u64) {
    // A stale mask here delays the delivery to the ULT's next switch (see
    // `mask_ult`).
    if tcb.sig.mask.load(Relaxed) & b != 0 {
        return;
    }
    if crate::thread::current::running().is_some_and(|t| std::ptr::eq(t, tcb)) {
        dispatch::at_safe_point(tcb);
        return;
    }
    // Pairs with the LWP's commit of the block and its SeqCst load of
    // `pending` (`state::blocked_with_pending`): either we see BLOCKED here
    // or the LWP sees the bit and ends the wait itself (or a wake made on
    // the LWP that holds the block uncommitted ends the wait first, and
    // the ULT takes the signal as it switches in: `lwp/handoff.rs`).
    fence(SeqCst);
    let w = tcb.state.load();
    match w.run() {
        BLOCKED => {
            state::mark_interrupted(tcb);
            crate::sched::Waiter::Ult(tcb, WakeToken { epoch: w.epoch() }).wake();
        }
        RUNNING => {
            let home = tcb.home.load(Relaxed);
            if home != NO_LWP {
                crate::runtime::rt().lwp(home as usize).request_preempt();
            }
        }
        _ => {}
    }
}

//! The third way a handler runs: *immediately, in signal context*, as C's
//! `sigaction` handlers expect. What is kept per signal (an interned,
//! never-freed [`Immediate`]), and the two places it runs:
//!
//! - **in the top half** ([`run_in_signal_context`]), on the interrupted
//!   thread's own stack, when that thread takes the signal: the ULT running
//!   on the interrupted LWP (cases 1 and 3, and case 4's unblock), or an
//!   OS thread that uses weave whose kernel mask let the signal in;
//! - **at the target's safe point** ([`run_at_safe_point`]), on the target
//!   ULT's stack as it is switched in or unblocks the signal: case 2 (a ULT
//!   that was not running) and thread-directed signals (`Thread::kill`).
//!
//! Either way the handler's `sa_mask` and the signal itself (unless
//! `SA_NODEFER`) are added to the ULT's mask while it runs, so that weave
//! routes none of them to it meanwhile, and the mask is put back after.
//!
//! ASYNC-SIGNAL-SAFE: [`lookup`], [`run_in_signal_context`] and everything
//! they call. Must not touch the engine: a handler here interrupts code
//! that may be in the middle of weave's own bookkeeping.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Mutex;

use super::info::SigInfo;
use super::ring::Record;
use super::set::{bit, SigSet};
use super::slot::slot;
use super::wrapper::KernelInfo;
use crate::thread::tcb::Tcb;

/// The function an immediate handler calls.
#[derive(Clone, Copy, Debug)]
pub enum ImmediateFn {
    /// A C `sa_handler`: gets the signal number.
    Plain(extern "C" fn(libc::c_int)),
    /// A C `sa_sigaction` (`SA_SIGINFO`): the signal number, its
    /// `siginfo_t` and a `ucontext_t`.
    Info(extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)),
    /// A Rust function: gets the signal as weave describes it (with the
    /// thread that took it and the delivery case).
    Rust(fn(&SigInfo)),
}

impl ImmediateFn {
    /// The function's address and kind: two handlers are the same if these
    /// are (the same function may have several addresses; then it only
    /// counts twice).
    fn key(&self) -> (usize, u8) {
        match *self {
            ImmediateFn::Plain(f) => (f as usize, 0),
            ImmediateFn::Info(f) => (f as usize, 1),
            ImmediateFn::Rust(f) => (f as usize, 2),
        }
    }
}

impl PartialEq for ImmediateFn {
    fn eq(&self, other: &ImmediateFn) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ImmediateFn {}

/// An immediate handler and its options, as `struct sigaction` gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Immediate {
    /// What runs.
    pub handler: ImmediateFn,
    /// Signals added to the thread's mask while the handler runs
    /// (`sa_mask`); the signal itself is added too unless `nodefer`.
    pub mask: SigSet,
    /// One-shot: the action goes back to the default as the first delivery
    /// is taken (`SA_RESETHAND`).
    pub once: bool,
    /// The signal is not blocked while its own handler runs (`SA_NODEFER`).
    pub nodefer: bool,
    /// A system call the signal interrupts on a thread's own kernel
    /// thread is restarted by the kernel (`SA_RESTART`, the default here);
    /// without it, such a call fails with `EINTR` (a plain OS thread's
    /// `read` of a pipe, say). weave's own waits restart either way, but
    /// for those that report `EINTR` (`signal::take_interrupted`).
    pub restart: bool,
    /// For a synchronous signal (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`):
    /// the handler runs on the thread's alternate signal stack if it set
    /// one (`SA_ONSTACK`, [`set_alt_stack`](super::set_alt_stack)).
    /// Other signals' handlers run on the thread's stack.
    pub onstack: bool,
    /// For `SIGCHLD`: no signal when a child stops or continues
    /// (`SA_NOCLDSTOP`), passed on to the kernel.
    pub nocldstop: bool,
    /// For `SIGCHLD`: children that end are not left as zombies for
    /// `wait` (`SA_NOCLDWAIT`), passed on to the kernel.
    pub nocldwait: bool,
}

impl Immediate {
    /// A handler with no options: the signal blocked while it runs, kept
    /// after the first delivery.
    pub const fn new(handler: ImmediateFn) -> Immediate {
        Immediate {
            handler,
            mask: SigSet::EMPTY,
            once: false,
            nodefer: false,
            restart: true,
            onstack: false,
            nocldstop: false,
            nocldwait: false,
        }
    }

    /// The signals blocked while it runs for `sig`.
    pub(crate) fn blocks(&self, sig: i32) -> u64 {
        self.mask.bits() | if self.nodefer { 0 } else { bit(sig) }
    }
}

/// Every `Immediate` ever installed, so that the top half can read one
/// through a plain pointer that stays valid: a program switching between a
/// few handlers keeps a few entries.
static INTERNED: Mutex<Vec<&'static Immediate>> = Mutex::new(Vec::new());

/// The never-freed copy of `imm`.
pub(crate) fn intern(imm: Immediate) -> &'static Immediate {
    let mut all = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&found) = all.iter().find(|&&i| *i == imm) {
        return found;
    }
    let leaked: &'static Immediate = Box::leak(Box::new(imm));
    all.push(leaked);
    leaked
}

/// Publishes `imm` as `sig`'s immediate handler (`None`: none).
pub(crate) fn set(sig: i32, imm: Option<&'static Immediate>) {
    let p = imm.map_or(std::ptr::null_mut(), |i| {
        i as *const Immediate as *mut Immediate
    });
    // Release pairs with the Acquire load in `lookup`.
    slot(sig).immediate.store(p, Release);
}

/// `sig`'s immediate handler, if it has one.
// ASYNC-SIGNAL-SAFE
#[inline]
pub(crate) fn lookup(sig: i32) -> Option<&'static Immediate> {
    // Acquire pairs with the Release store in `set`.
    let p = slot(sig).immediate.load(Acquire);
    // SAFETY: only `set` stores here, pointers from `intern`, never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Forgets `imm` as `sig`'s handler if it still is (a one-shot handler
/// that has run), leaving a newer one alone.
// ASYNC-SIGNAL-SAFE
pub(crate) fn forget_if(sig: i32, imm: &'static Immediate) {
    let p = imm as *const Immediate as *mut Immediate;
    let _ = slot(sig)
        .immediate
        .compare_exchange(p, std::ptr::null_mut(), Relaxed, Relaxed);
}

/// Calls the handler: `info` is a full kernel `siginfo_t` whose fields
/// weave knows match `rec`, `uc` a `ucontext_t` (or null).
// ASYNC-SIGNAL-SAFE (as safe as the handler the program gave).
fn call(imm: &Immediate, rec: &Record, info: &mut KernelInfo, uc: *mut libc::c_void) {
    match imm.handler {
        ImmediateFn::Plain(f) => f(rec.signo),
        ImmediateFn::Info(f) => f(
            rec.signo,
            info as *mut KernelInfo as *mut libc::siginfo_t,
            uc,
        ),
        ImmediateFn::Rust(f) => f(&SigInfo::from_record(rec)),
    }
}

/// Runs `imm` for `rec` right here, in the top half, on the thread the
/// signal interrupted (`t`: its ULT, or `None` for an OS thread, whose
/// kernel mask the kernel already set from `sa_mask`). `kinfo` is what the
/// kernel passed; its fields are set back to the signal's original ones
/// when weave sent it on (cases 3 and 4).
// ASYNC-SIGNAL-SAFE
pub(crate) fn run_in_signal_context(
    imm: &'static Immediate,
    t: Option<&'static Tcb>,
    rec: &Record,
    kinfo: *const libc::siginfo_t,
    uc: *mut libc::c_void,
) {
    // SAFETY: the kernel passes at least 128 bytes of siginfo to an
    // SA_SIGINFO handler; KernelInfo is 128 bytes of plain data.
    let mut info: KernelInfo = unsafe { std::ptr::read(kinfo as *const KernelInfo) };
    info.set_from(rec);
    with_mask(
        t,
        imm,
        rec.signo,
        || call(imm, rec, &mut info, uc),
        |t, old| t.sig.mask.store(old, Relaxed),
    );
}

/// Runs `imm` for `rec` on the ULT `t` (the caller) at a safe point: as it
/// is switched in, or as it unblocks the signal. Not in signal context, but
/// the handler was written for it, and gets a `siginfo_t` and a
/// `ucontext_t` as a `sigaction` handler would. `t` is `None` when the
/// target has exited and a pool ULT stands in. `restore` puts `t`'s mask
/// back afterwards: the thread side's, which also lets in a signal that
/// came meanwhile and that case 4 left blocked in the kernel (a plain
/// store would leave it there).
pub(crate) fn run_at_safe_point(
    imm: &'static Immediate,
    t: Option<&'static Tcb>,
    rec: &Record,
    restore: fn(&'static Tcb, u64),
) {
    let mut info = KernelInfo::queued(rec.signo, rec.pid, rec.uid, rec.value);
    info.set_from(rec);
    // SAFETY: a zeroed ucontext_t is valid plain data for getcontext to
    // fill in.
    let mut uc: libc::ucontext_t = unsafe { std::mem::zeroed() };
    // SAFETY: `uc` is a valid out-pointer.
    unsafe { libc::getcontext(&mut uc) };
    if let Some(t) = t {
        // The mask the handler "returns to" is the ULT's, not the LWP's.
        uc.uc_sigmask = SigSet::from_bits(t.sig.mask.load(Relaxed)).to_sigset_t();
    }
    with_mask(
        t,
        imm,
        rec.signo,
        || {
            call(
                imm,
                rec,
                &mut info,
                &mut uc as *mut libc::ucontext_t as *mut libc::c_void,
            )
        },
        restore,
    );
    if imm.once {
        forget_if(rec.signo, imm);
    }
}

/// Runs `f` with `add` blocked in `t`'s mask, then puts the mask back as
/// it was, through `restore`. The code `f` interrupted may be in the
/// middle of changing that mask (load, store): it stores after we restore,
/// so its change stands.
// ASYNC-SIGNAL-SAFE when `restore` is.
fn with_mask(
    t: Option<&'static Tcb>,
    imm: &Immediate,
    sig: i32,
    f: impl FnOnce(),
    restore: impl FnOnce(&'static Tcb, u64),
) {
    match t {
        Some(t) => {
            let old = t.sig.mask.load(Relaxed);
            t.sig.mask.store(old | imm.blocks(sig), Relaxed);
            f();
            restore(t, old);
            if !imm.restart {
                t.sig.flags.fetch_or(super::state::NO_RESTART, Relaxed);
            }
            super::state::handler_ran(t);
        }
        None => f(),
    }
}

//! A thread's signal state (the TCB's `sig` field) and each LWP's lazy
//! kernel mask: the plain data under the signal layer, and the two hooks
//! the engine calls.
//!
//! Below the LWPs and the scheduler: this file names only the signal set,
//! the state word and "who am I" (`thread/current.rs`). The engine calls
//! [`switched_in`] when a ULT gets its LWP back and [`blocked_with_pending`]
//! after a ULT has blocked; everything they must do above the engine goes
//! through the one hook the signal layer registers ([`set_deliver_hook`]).
//!
//! ## Who writes what
//!
//! | field     | written by                                   | read by                              |
//! |-----------|----------------------------------------------|--------------------------------------|
//! | `mask`    | the ULT itself (`signal::mask`), spawn       | anyone, signal handlers included     |
//! | `pending` | anyone (`Thread::kill`, the dispatcher) sets; the ULT clears as it delivers | the ULT, its LWP |
//! | `flags`   | the kicker sets `INTERRUPTED`/`RESTART`; the ULT clears | the ULT                    |

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64};

use super::set::SigSet;

/// Set when a handler ran while the ULT waited: sticky until
/// `signal::take_interrupted` (the `EINTR` a C caller asks for).
pub(crate) const INTERRUPTED: u32 = 1;
/// Set when a signal ended the ULT's current wait early, so that a wait
/// with no condition to re-check (a sleep) sleeps on; cleared by that wait.
pub(crate) const RESTART: u32 = 2;
/// A ULT of the handler pool: never chosen as a signal's target.
pub(crate) const HANDLER: u32 = 4;
/// Set while the ULT is in `signal::suspend` (`sigsuspend`).
pub(crate) const SUSPENDING: u32 = 8;
/// Set when a handler ran on the ULT while it was `SUSPENDING`: the end of
/// its suspend.
pub(crate) const RAN: u32 = 16;
/// Set when a handler installed without `SA_RESTART`
/// (`Immediate::restart` false) ran on the ULT or registered OS thread;
/// cleared by `signal::take_interrupted_without_restart` (C's socket calls
/// and `sem_wait`, which then fail with `EINTR`).
pub(crate) const NO_RESTART: u32 = 32;

/// The signal fields of a TCB.
pub(crate) struct TcbSignals {
    /// Blocked signals (bit `n - 1` for signal `n`).
    pub(crate) mask: AtomicU64,
    /// Signals directed at this thread, not yet delivered.
    pub(crate) pending: AtomicU64,
    pub(crate) flags: AtomicU32,
}

impl TcbSignals {
    pub(crate) const fn new() -> TcbSignals {
        TcbSignals {
            mask: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            flags: AtomicU32::new(0),
        }
    }

    /// A new thread's signal state: the creator's mask (read on the
    /// creator's thread, see [`inherited_mask`]), nothing pending.
    pub(crate) fn reset(&self, mask: u64) {
        self.mask.store(mask, Relaxed);
        self.pending.store(0, Relaxed);
        self.flags.store(0, Relaxed);
    }

    /// Pending signals the thread does not block.
    #[inline]
    pub(crate) fn deliverable(&self) -> u64 {
        self.pending.load(SeqCst) & !self.mask.load(SeqCst)
    }
}

/// Whether any program handled or masked a signal through weave: until
/// then nothing here costs a system call.
pub(crate) static ACTIVE: AtomicU32 = AtomicU32::new(0);
/// Signals whose kernel action is weave's wrapper.
pub(crate) static HANDLED: AtomicU64 = AtomicU64::new(0);
/// Signals that some LWP's kernel mask may block (case 4 blocked them
/// there), or that weave holds (`held.rs`): the filter that keeps an
/// unmask free of system calls until then.
pub(crate) static KBLOCKED_ANY: AtomicU64 = AtomicU64::new(0);

/// Signals some LWP's kernel mask blocked as it started (inherited from
/// the thread that made it) and weave did not handle yet: if one becomes
/// handled, those LWPs may still block it (`signal::install`).
pub(crate) static INHERITED_BLOCKED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Signals the calling OS thread's kernel mask blocks because weave
    /// blocked them there (case 4). An atomic although thread-local: the
    /// top half, on this same thread, may update it in the middle of an
    /// update by the code it interrupted.
    pub(crate) static KBLOCKED: AtomicU64 = const { AtomicU64::new(0) };
    /// On an LWP: the handled signals (`HANDLED` bits) its kernel mask is
    /// known to let through: those handled when it started
    /// ([`lwp_started`]) and those it opened since ([`kernel_blocked`]).
    /// A signal handled later may still be blocked there by the mask the
    /// LWP inherited. Never read in signal context.
    static KSYNCED: AtomicU64 = const { AtomicU64::new(0) };
}

/// Called by an LWP as it goes idle (a cold path): opens its kernel mask
/// for the signals handled since it started that it may still block from
/// the mask it inherited (not those case 4 blocked here). One load when
/// there are none.
#[inline]
pub(crate) fn lwp_idle() {
    let stale = HANDLED.load(Relaxed) & !KSYNCED.with(|c| c.load(Relaxed));
    if stale != 0 {
        open_inherited(stale);
    }
}

#[cold]
#[inline(never)]
fn open_inherited(stale: u64) {
    let open = stale & !KBLOCKED.with(|k| k.load(Relaxed));
    if open != 0 {
        KSYNCED.with(|c| c.fetch_or(open, Relaxed));
        let set = SigSet::from_bits(open).to_sigset_t();
        // SAFETY: unblocking a valid set on the calling thread.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
}

/// Of `set`, the handled signals the calling thread's kernel mask may
/// block: those case 4 blocked here (`KBLOCKED`), and, on an LWP, those
/// first handled after it started (its inherited mask may block them).
/// The caller is about to unblock them: they are forgotten here. `on_lwp`:
/// whether the calling OS thread is an LWP (the caller knows; this file
/// sits below the LWPs and does not ask them).
pub(crate) fn kernel_blocked(set: u64, on_lwp: bool) -> u64 {
    let mut kb = KBLOCKED.with(|k| k.load(Relaxed)) & set;
    if on_lwp {
        let stale = HANDLED.load(Relaxed) & !KSYNCED.with(|c| c.load(Relaxed)) & set;
        KSYNCED.with(|c| c.fetch_or(stale, Relaxed));
        kb |= stale;
    }
    if kb != 0 {
        KBLOCKED.with(|k| k.fetch_and(!kb, Relaxed));
    }
    kb
}

/// The mask a thread spawned by the caller starts with: the running ULT's,
/// or an OS thread's kernel mask (one system call, only once signals are in
/// use).
pub(crate) fn inherited_mask() -> u64 {
    if let Some(t) = crate::thread::current::running() {
        return t.sig.mask.load(Relaxed);
    }
    if ACTIVE.load(Relaxed) == 0 {
        return 0;
    }
    kernel_mask().bits()
}

/// The calling OS thread's kernel mask.
pub(crate) fn kernel_mask() -> SigSet {
    // SAFETY: a zeroed sigset_t is a valid out-value.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new set only reads the mask into `old`.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut old) };
    debug_assert_eq!(rc, 0);
    SigSet::from_sigset_t(&old)
}

/// Called by each LWP as it starts: its kernel mask lets through every
/// signal weave handles (it may have inherited a mask that blocks some
/// from the thread that created it); weave decides from the ULT masks.
pub(crate) fn lwp_started() {
    let h = HANDLED.load(Relaxed);
    KSYNCED.with(|c| c.store(h, Relaxed));
    let inherited = kernel_mask().bits() & !h;
    if inherited != 0 {
        // SeqCst pairs with `signal::install`'s SeqCst "set HANDLED; read
        // INHERITED_BLOCKED" (a Dekker pair): a signal handled meanwhile is
        // seen by one of the two, which marks it in KBLOCKED_ANY.
        INHERITED_BLOCKED.fetch_or(inherited, SeqCst);
        let late = HANDLED.load(SeqCst) & !h & inherited;
        if late != 0 {
            KBLOCKED_ANY.fetch_or(late, Relaxed);
        }
    }
    if h != 0 {
        let set = SigSet::from_bits(h).to_sigset_t();
        // SAFETY: unblocking a valid set on the calling thread.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
}

/// What the signal layer does when a ULT with deliverable signals gets its
/// LWP back: `fn(&'static Tcb)`, registered once a handler is installed.
static DELIVER: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Registers the delivery at safe points (see [`switched_in`]).
pub(crate) fn set_deliver_hook(f: fn(&'static crate::thread::tcb::Tcb)) {
    // Release pairs with the Acquire load in `switched_in`.
    DELIVER.store(f as *mut (), std::sync::atomic::Ordering::Release);
}

/// The engine's hook as a ULT is switched back in (on the ULT's stack,
/// after its switch returns): a safe point. One load and a branch when
/// nothing is pending.
#[inline]
pub(crate) fn switched_in(tcb: &'static crate::thread::tcb::Tcb) {
    if tcb.sig.pending.load(Relaxed) != 0 {
        deliver_now(tcb);
    }
}

#[cold]
#[inline(never)]
fn deliver_now(tcb: &'static crate::thread::tcb::Tcb) {
    // Acquire pairs with the Release store in `set_deliver_hook`.
    let f = DELIVER.load(std::sync::atomic::Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: only `set_deliver_hook` stores here, a `fn(&'static Tcb)`.
        let f: fn(&'static crate::thread::tcb::Tcb) =
            unsafe { std::mem::transmute::<*mut (), fn(&'static crate::thread::tcb::Tcb)>(f) };
        f(tcb);
    }
}

/// The engine's hook after a ULT's block committed (BLOCKED): whether a
/// signal it does not block is pending, so that its LWP must end the wait
/// (`Thread::kill` may have looked at the state word just before the
/// commit). The SeqCst loads pair with the sender's SeqCst
/// "set pending; read state" (a Dekker pair: one of the two sees the other).
#[inline]
pub(crate) fn blocked_with_pending(tcb: &crate::thread::tcb::Tcb) -> bool {
    tcb.sig.pending.load(SeqCst) != 0 && tcb.sig.deliverable() != 0
}

/// Called after a handler ran on `tcb`, on `tcb` itself (in signal
/// context, or at a safe point as it was switched in): if it is in
/// `signal::suspend`, marks [`RAN`] and ends the wait it may be entering.
/// It cannot be BLOCKED (the handler runs on it); a wait it is preparing
/// (BLOCKING) is ended by a CAS, and its LWP requeues it. The SeqCst
/// store and the state word's SeqCst load pair with the suspend's
/// `prepare_block` and load of `RAN` (a Dekker pair: one sees the other).
// ASYNC-SIGNAL-SAFE
#[inline]
pub(crate) fn handler_ran(tcb: &crate::thread::tcb::Tcb) {
    if tcb.sig.flags.load(Relaxed) & SUSPENDING != 0 {
        tcb.sig.flags.fetch_or(RAN, SeqCst);
        let _ = tcb
            .state
            .wake_reason(crate::thread::id::BlockReason::Signal as u8);
    }
}

/// Marks that a signal ended the ULT's wait (see [`RESTART`]).
pub(crate) fn mark_interrupted(tcb: &crate::thread::tcb::Tcb) {
    tcb.sig.flags.fetch_or(INTERRUPTED | RESTART, Relaxed);
}

/// A handler ran on the plain OS thread `t`, in the top half, on its own
/// stack: if `t` waits inside weave, its wait ends as `signal::kick` ends a
/// ULT's, marked interrupted, so that the waits that report `EINTR`
/// (`sem_wait`, C's sleeps) do and the others wait again. Without this
/// the wait went on: the kernel restarts the futex wait the signal
/// interrupted (`SA_RESTART`), or std's park waits again after `EINTR`.
// ASYNC-SIGNAL-SAFE: atomics of the thread's own TCB, and an unpark of
// itself (an atomic swap and a futex wake) if it had announced a park;
// the handle `std::thread::current` returns was made when the wait began.
pub(crate) fn interrupt_os_wait(t: &'static crate::thread::tcb::Tcb) {
    let w = t.state.load();
    if w.run() != crate::thread::state::BLOCKED {
        return;
    }
    mark_interrupted(t);
    if t.state
        .wake_os(crate::thread::state::WakeToken { epoch: w.epoch() })
    {
        // Parked (or about to park) in `std::thread::park`: the park the
        // kernel restarts after this handler finds the token and returns.
        std::thread::current().unpark();
    }
}

/// For a wait with nothing to re-check (a sleep): whether a signal ended
/// it early, clearing the mark.
#[inline]
pub(crate) fn take_restart(tcb: &crate::thread::tcb::Tcb) -> bool {
    tcb.sig.flags.load(Relaxed) & RESTART != 0
        && tcb.sig.flags.fetch_and(!RESTART, Relaxed) & RESTART != 0
}

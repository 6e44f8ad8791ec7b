//! Who am I: the TCB of the calling thread, ULT or OS thread.
//!
//! Two thread-locals answer it. `RUNNING` names the ULT an LWP is running
//! now; the LWP's loop sets it as it switches a ULT in and clears it as the
//! ULT switches out ([`set_running`]), and a ULT that yields straight to
//! another sets it to that one, so on a ULT it is that ULT's TCB (and the
//! loop learns from it which ULT came back). A
//! plain OS thread (`main`, a `std::thread`) that uses weave gets a TCB of
//! its own on first use, `EXTERNAL`, released when the thread exits; that
//! registration is what gives it an id, lets `unpark` reach it, and shows
//! it in the thread table and to the deadlock detector.
//!
//! This file sits just above the thread table: it must not name the LWPs,
//! the scheduler or the runtime (they name it, to say what runs).

use std::cell::Cell;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use super::table::{table, SlotCache};
use super::tcb::{Kind, Tcb, DEFAULT_PRIORITY};

thread_local! {
    /// The ULT this OS thread runs now, if it is an LWP running one.
    static RUNNING: Cell<Option<&'static Tcb>> = const { Cell::new(None) };
    /// The TCB of this OS thread, if it is a plain OS thread that used weave.
    static EXTERNAL: Cell<Option<&'static Tcb>> = const { Cell::new(None) };
    static EXTERNAL_GUARD: ExternalGuard = const { ExternalGuard };
}

/// The ULT running on the calling OS thread, if it is an LWP running one
/// (so: if the caller is a ULT).
#[inline]
pub(crate) fn running() -> Option<&'static Tcb> {
    RUNNING.with(|r| r.get())
}

/// The address of this thread's `RUNNING` slot (`lwp::hot_addresses`).
pub(crate) fn running_slot() -> usize {
    RUNNING.with(|r| r as *const Cell<Option<&'static Tcb>> as usize)
}

/// Records the ULT the calling LWP switches to (`None`: back in its loop).
/// Only an LWP's per-switch duties call this (its loop, or a direct yield).
#[inline]
pub(crate) fn set_running(t: Option<&'static Tcb>) {
    RUNNING.with(|r| r.set(t));
}

/// Called with the kernel thread id of a registered OS thread that exits
/// (set by the monitor, which looks for a deadlock then: this file must
/// not name it). Null: nobody to tell.
static EXIT_HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Has `hook` called whenever a registered OS thread exits.
pub(crate) fn on_external_exit(hook: fn(i32)) {
    // Release pairs with the Acquire load in `ExternalGuard::drop`.
    EXIT_HOOK.store(hook as *mut (), Release);
}

/// Releases an OS thread's TCB when the thread exits, and tells the exit
/// hook (it may have left a lock held or a channel open without waking
/// anyone).
struct ExternalGuard;

impl Drop for ExternalGuard {
    fn drop(&mut self) {
        if let Ok(Some(tcb)) = EXTERNAL.try_with(|e| e.take()) {
            *tcb.os.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let tid = tcb.os_tid.load(Relaxed) as i32;
            table().forget_external(tcb);
            tcb.state.exit();
            table().release(tcb, &mut SlotCache::default());
            // Acquire pairs with the Release in `on_external_exit`.
            let hook = EXIT_HOOK.load(Acquire);
            if !hook.is_null() {
                // SAFETY: only `on_external_exit` stores here, a `fn(i32)`.
                let hook: fn(i32) = unsafe { std::mem::transmute::<*mut (), fn(i32)>(hook) };
                hook(tid);
            }
        }
    }
}

/// In the child of a fork made on a ULT (`fork.rs`): the child's one
/// thread was that ULT and stays it. Its TCB becomes this OS thread's own,
/// as if it had registered: a plain OS thread to weave from now on, with
/// this kernel id, keeping its id, name, per-thread values and whatever
/// it owns (a lock it held at the fork is still its own, so the child
/// handler of `pthread_atfork` can unlock it, as POSIX has it for the
/// thread that called `fork`).
pub(crate) fn adopt_after_fork(tcb: &'static Tcb) {
    tcb.set_kind(Kind::External);
    *tcb.os.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current());
    // SAFETY: gettid has no preconditions.
    tcb.os_tid.store(unsafe { libc::gettid() } as u32, Relaxed);
    table().note_external(tcb);
    // An OS thread's mask is the kernel's: the ULT's mask becomes it (the
    // LWP's, which this thread had, is weave's own); nothing is pending
    // for the child (POSIX `fork`).
    tcb.sig.pending.store(0, Relaxed);
    let blocked = tcb.sig.mask.load(Relaxed);
    // SAFETY: an empty set filled with valid signal numbers, then set as
    // the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for n in 1..=64 {
            if blocked & (1u64 << (n - 1)) != 0 {
                libc::sigaddset(&mut set, n);
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    super::local::adopt_after_fork(tcb);
    EXTERNAL.with(|e| e.set(Some(tcb)));
    EXTERNAL_GUARD.with(|_| ());
}

/// The calling OS thread's own TCB, if it registered (not a ULT's).
pub(crate) fn external() -> Option<&'static Tcb> {
    EXTERNAL.try_with(|e| e.get()).ok().flatten()
}

/// The TCB of the calling thread: its ULT's, or (registered on first use)
/// the OS thread's.
#[inline]
pub(crate) fn current_tcb() -> &'static Tcb {
    if let Some(t) = running() {
        return t;
    }
    if let Some(t) = EXTERNAL.with(|e| e.get()) {
        return t;
    }
    register_external()
}

#[cold]
fn register_external() -> &'static Tcb {
    let tcb = match table().alloc(&mut SlotCache::default()) {
        Ok(t) => t,
        Err(e) => crate::fatal(&format!("cannot register an OS thread with weave: {e}")),
    };
    let me = std::thread::current();
    // SAFETY: the slot is FREE and ours; nobody else reads these fields
    // before the state is published below.
    unsafe { tcb.reset(Kind::External, DEFAULT_PRIORITY) };
    tcb.set_name(me.name().map(Arc::from));
    *tcb.os.lock().unwrap_or_else(|e| e.into_inner()) = Some(me);
    // SAFETY: gettid has no preconditions.
    tcb.os_tid.store(unsafe { libc::gettid() } as u32, Relaxed);
    tcb.state.spawn();
    tcb.state.set_running();
    table().note_external(tcb);
    EXTERNAL.with(|e| e.set(Some(tcb)));
    // Registers the guard's destructor for this thread.
    EXTERNAL_GUARD.with(|_| ());
    tcb
}

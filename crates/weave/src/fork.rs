//! weave across `fork()`: the child starts a runtime of its own.
//!
//! `fork` copies the whole address space but only the calling thread. In
//! the child of a process that has used weave, everything weave built
//! survives as memory, and none of the threads that gave it life:
//!
//! | inherited                                  | in the child                                  | what we do (in the `child` handler)              |
//! |--------------------------------------------|-----------------------------------------------|--------------------------------------------------|
//! | the runtime (`runtime::RT`): LWP table, run queues, injector, stack pool, monitor | its LWPs and monitor are gone; a spawn would queue work nobody runs (the hang this module removes) | forgotten (leaked): the next use starts a new runtime, new LWPs, new monitor |
//! | the thread table's TCBs of every ULT and registered OS thread | threads that will never run again, some RUNNING or RUNNABLE (they would stop the deadlock detector, and show in `threads()`) | marked exited; their slots are not reused |
//! | the forking thread's own TCB (an OS thread, or the ULT that forked) | the same thread, under the child's thread id  | kept, with the new id (the deadlock check and signals find it by it); a ULT's becomes the child's OS thread's, with the ULT's mask as its kernel mask |
//! | the forking thread's cache of stacks       | stacks of the old runtime's pool              | forgotten (their pages stay mapped, unused), by the thread layer's hook |
//! | the reactor's epoll sets' fds and eventfds (one set per LWP) | the *parent's* epoll instances: polling them would take the parent's events | fresh ones `dup2`ed onto the same numbers; each set's poller role and waiter count reset |
//! | the blocking pool's queue and counts       | its threads are gone                          | emptied (jobs forgotten, not run or dropped)     |
//! | the signal dispatcher's two threads and the pool of handler ULTs | gone: handlers installed before the fork would not run | a new pool and dispatcher (`signal::dispatch::after_fork_in_child`); the parent's `signal::wait` callers forgotten |
//! | crossbeam-epoch's global collector (behind a `Once`, made on a thread's first steal) | a `Once` left running if another LWP was making it: the first steal waits for ever | made by `start.rs` before the first LWP starts, so it is never half-made |
//! | the runtime's singletons made on first use by any thread (the reactor, the signal layer's held records, `io::stdin`'s buffer, the compaction probe) | a `OnceLock` another thread was making would stay "being made": the child's first use waits for ever | `Published` cells (`published.rs`): empty or whole, never half made |
//! | locks held by other threads at the fork (LWP creation, the table's free list, the blocking pool, the reactor's records) | held for ever | taken by the `prepare` handler before the fork, so that no other thread holds them then, and released in both processes after it |
//!
//! The handlers are installed with `pthread_atfork` when the runtime first
//! starts (a process that only registered OS threads, without starting
//! it, leaves those TCBs to the child as they are), so `libc::fork`, and anything that calls it (std's `Command`
//! falls back to it), runs them; a raw `clone` system call does not.
//!
//! **A fork from a ULT.** Then the child's one thread is an LWP of the old
//! runtime, in the middle of a ULT, on the ULT's stack. The child handler
//! makes weave forget that the thread is an LWP: from there on it is a
//! plain OS thread to weave, as `main` is, and the ULT's TCB is that OS
//! thread's own (`thread::current::adopt_after_fork`): the same id, name,
//! per-thread values (`weave::thread_local!`, C's keys), and the locks it
//! holds stay its own, so the child handler of `pthread_atfork` can
//! unlock what the prepare handler locked. Its weave calls take the OS
//! thread paths (spawning goes to the new runtime; joins, locks and
//! channels park the kernel thread), and it never switches back into the
//! old LWP's scheduler loop, which
//! would run copies of the parent's ULTs. If the ULT's closure returns in
//! the child, there is nothing to return to (the process has no other
//! thread), so the child exits with status 0, as a process does when its
//! last thread ends.
//!
//! **Limits.** Handles and ids of threads of the parent do not work in the
//! child: joining one waits for ever, as it would for a thread that never
//! ends. A weave lock a thread of the parent held at the fork stays held.
//! Sockets that weave registered before the fork are not in the child's
//! epoll set: use them from the child with std, or open new ones.
//!
//! Owns the fork handlers only; the state they reset belongs to the
//! modules named above, each of which offers the one call used here.
//!
//! Sits beside `start.rs`, above the pool, the reactor and the blocking
//! pool, whose calls it makes; the layers above it (the thread API's
//! per-OS-thread caches, the signal dispatcher) register what they reset
//! with [`at_child`], so that this file names nothing above it.

use std::cell::RefCell;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicU32};
use std::sync::Once;

use crate::thread::state;
use crate::thread::table::table;
use crate::thread::tcb::Tcb;
use crate::{blocking, lwp, reactor, runtime};

/// What the `prepare` handler holds until `parent` or `child` runs: each
/// entry releases one lock, told whether it runs in the child.
type Held = Vec<Box<dyn FnOnce(bool)>>;

thread_local! {
    /// The locks taken by `prepare`; the same thread runs `parent` or
    /// `child` right after the fork.
    static HELD: RefCell<Held> = const { RefCell::new(Vec::new()) };
}

/// In the child of a fork made on a ULT: that ULT's table index + 1.
static FORKED_ULT: AtomicU32 = AtomicU32::new(0);

/// What layers above this one reset in the child, in the order they
/// registered (each registers at most once): the thread API's per-OS-thread
/// caches, the signal dispatcher, `os::fd`'s table of waits and the
/// monitor's open list of the process's threads, so far.
static CHILD_HOOKS: [AtomicPtr<()>; 6] = [const { AtomicPtr::new(std::ptr::null_mut()) }; 6];

/// Registers `f` to run in the child of a fork, after the runtime has been
/// forgotten and the locks released (once per `f`; a second registration of
/// the same function is ignored).
pub(crate) fn at_child(f: fn()) {
    let p = f as *mut ();
    for h in &CHILD_HOOKS {
        // AcqRel/Acquire pairs with the Acquire loads in `child` and with
        // other registrations.
        match h.compare_exchange(std::ptr::null_mut(), p, Release, Acquire) {
            Ok(_) => return,
            Err(q) if q == p => return,
            Err(_) => continue,
        }
    }
    // Six slots for four callers in this crate: a seventh is a bug here.
    crate::fatal("more fork hooks than the fork module has room for");
}

/// Installs the fork handlers, once per process (a child inherits them).
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: the three handlers are plain functions that live as long
        // as the program.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            eprintln!(
                "weave: cannot register fork handlers (error {rc}): a child of fork() will \
                 find weave's threads gone; exec in the child, or fork before using weave"
            );
        }
    });
}

/// Before the fork, in the parent: takes the locks the child must not
/// inherit held, in the order every other path takes them.
extern "C" fn prepare() {
    let mut held: Held = Vec::new();
    let spawn = lwp::pool::lock_spawn_for_fork();
    held.push(Box::new(move |_| drop(spawn)));
    let slots = table().lock_for_fork();
    held.push(Box::new(move |_| drop(slots)));
    held.push(Box::new(blocking::lock_for_fork()));
    if let Some(r) = reactor::try_get() {
        held.push(Box::new(r.lock_for_fork()));
    }
    HELD.with(|h| *h.borrow_mut() = held);
}

/// After the fork, in the parent: releases the locks.
extern "C" fn parent() {
    release(false);
}

/// After the fork, in the child: leaves the parent's runtime behind (see
/// the module doc), then releases the locks.
extern "C" fn child() {
    let forked = crate::thread::current::running();
    if let Some(me) = forked {
        FORKED_ULT.store(me.index + 1, Relaxed);
        lwp::forget_current();
    }
    let own: Option<&'static Tcb> = crate::thread::current::external().or(forked);
    if let Some(o) = own.filter(|_| forked.is_none()) {
        // The same thread under another kernel id: the deadlock check finds
        // it in the task list, and signals reach it, by this one.
        // SAFETY: gettid has no preconditions.
        o.os_tid.store(unsafe { libc::gettid() } as u32, Relaxed);
    }
    let t = table();
    for i in 0..t.carved() {
        let tcb = t.slot(i as u32);
        if own.is_some_and(|o| std::ptr::eq(o, tcb)) {
            continue;
        }
        if !matches!(tcb.state.load().run(), state::FREE | state::EXITED) {
            tcb.state.exit();
        }
    }
    runtime::forget_after_fork();
    crate::os::threads::forget_after_fork();
    release(true);
    if let Some(me) = forked {
        // After `release`: it lists the thread among the registered OS
        // threads, under the lock `prepare` held.
        crate::thread::current::adopt_after_fork(me);
    }
    for h in &CHILD_HOOKS {
        // Acquire pairs with the Release in `at_child`.
        let p = h.load(Acquire);
        if p.is_null() {
            break;
        }
        // SAFETY: only `at_child` stores here, a `fn()`.
        let f = unsafe { std::mem::transmute::<*mut (), fn()>(p) };
        f();
    }
}

fn release(in_child: bool) {
    let held = HELD.with(|h| std::mem::take(&mut *h.borrow_mut()));
    for r in held.into_iter().rev() {
        r(in_child);
    }
}

/// Called when a ULT's closure has returned: in the child of a fork made
/// on that ULT there is no scheduler loop to go back to, and no other
/// thread; the process ends as it does when its last thread ends.
pub(crate) fn ult_returned(tcb: &Tcb) {
    if FORKED_ULT.load(Relaxed) == tcb.index + 1 {
        std::process::exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset_nothing() {}

    #[test]
    fn a_child_hook_registered_twice_is_kept_once() {
        at_child(reset_nothing);
        at_child(reset_nothing);
        let f = reset_nothing as fn() as *mut ();
        let n = CHILD_HOOKS.iter().filter(|h| h.load(Acquire) == f).count();
        assert_eq!(n, 1);
    }
}

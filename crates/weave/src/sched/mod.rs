//! sched: which ULT runs next, and how a blocked ULT gets back in line.
//!
//! Where a ULT waits to run (DESIGN.md decision 3):
//!
//! | queue                  | holds                                  | pushed by        | taken by                 |
//! |------------------------|----------------------------------------|------------------|--------------------------|
//! | LWP `ready`            | started ULTs placed on the LWP          | the LWP itself   | the LWP                  |
//! | LWP `inbox`            | started ULTs woken from elsewhere; new ULTs handed over (`place.rs`, rule 5) | anyone | the LWP, into `ready` |
//! | LWP `fresh` (deque)    | not-yet-started ULTs of default priority spawned there | the LWP | the LWP, or a thief |
//! | global injector (×32)  | not-yet-started ULTs from OS threads or of other priorities; migratable ULTs | anyone | any pool LWP |
//!
//! The rules live beside their descriptions: the pick (`pick.rs`), where
//! new work is placed and who may steal it (`place.rs`), and the sleep and
//! wake of LWPs (`idle.rs`, with its loom model). A ULT that becomes
//! runnable at a higher priority than what runs on its LWP raises that
//! LWP's `preempt` flag, which the running ULT sees at its next safe point.
//!
//! This module also holds the block/wake interface the rest of weave uses:
//! a [`Waiter`] names a blocked ULT (with the epoch of its wait) or a parked
//! OS thread, and [`block_on`] blocks the caller, whichever it is. Part of
//! the engine: it must not name the monitor's loop, the start-up or the
//! public API; `sync` reaches it only through `sync/block.rs`.

pub(crate) mod idle;
pub(crate) mod inbox;
pub(crate) mod pick;
pub(crate) mod place;
pub(crate) mod ready;

use std::time::Instant;

use crate::lwp::{self, Lwp};
use crate::runtime::rt;
use crate::thread::id::BlockReason;
use crate::thread::state::{Wake, WakeToken};
use crate::thread::tcb::{Kind, Tcb};
use crate::trace;

/// A ULT or OS thread, as a queue entry of the crossbeam deques.
#[derive(Clone, Copy)]
pub(crate) struct Task(pub(crate) &'static Tcb);

impl inbox::Linked for Tcb {
    fn link(&self) -> &crate::loom::AtomicPtr<Self> {
        &self.next
    }
}

/// Someone to wake when a condition comes true.
///
/// Cloneable so that a waker can copy it out of a wait record while it may
/// still read that record, and wake after letting go of it (the channel
/// core does: the record lives on the waiter's stack).
#[derive(Clone)]
pub(crate) enum Waiter {
    /// A ULT, in the wait identified by the token.
    Ult(&'static Tcb, WakeToken),
    /// A plain OS thread, parked with `std::thread::park`, with its TCB
    /// and the wait it is in (so that the waker marks it woken at once).
    Os(std::thread::Thread, &'static Tcb, WakeToken),
}

impl Waiter {
    /// Ends the wait. Harmless if it already ended. Inlined: the match
    /// is all there is here, and each half is one call (an out-of-line
    /// `wake` paid its own prologue and the OS half's drop code on every
    /// ULT's wake).
    #[inline]
    pub(crate) fn wake(self) {
        match self {
            Waiter::Ult(tcb, token) => wake_ult(tcb, token),
            Waiter::Os(t, tcb, token) => wake_os(t, tcb, token),
        }
    }

    /// Ends the wait, and asks the woken ULT's LWP to run it before the
    /// others of its priority (`Tcb::run_next`): for a waiter that was just
    /// handed a lock, which every other thread of that LWP would otherwise
    /// find held and block on, one after the other, while it waits its turn
    /// behind them.
    pub(crate) fn wake_next(self) {
        match self {
            Waiter::Ult(tcb, token) => match end_wait(lwp::current(), tcb, token) {
                Wake::Enqueue => {
                    // Relaxed: read by the LWP that takes the ULT from its
                    // inbox, which the inbox push and take order (Release,
                    // Acquire), or by this thread (`push_local`).
                    // (A migratable ULT goes to the injector: no mark.)
                    if tcb.kind() != Kind::Migratable {
                        tcb.run_next
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    enqueue_woken(tcb);
                }
                Wake::LwpRequeues => {
                    note_wake(tcb, || token.epoch);
                    left_to_its_lwp(tcb);
                }
                Wake::Stale => {}
            },
            os => os.wake(),
        }
    }

    /// Ends the wait and, when the woken thread is a ULT placed on the
    /// calling ULT's LWP, switches to it at once: the caller runs again
    /// next on that LWP (`Lwp::yield_to_woken`, which says when it queues
    /// the woken ULT instead). Elsewhere, as [`wake`](Self::wake). For a
    /// waker whose partner is what should run next: a rendezvous receiver
    /// that took a waiting sender's value.
    pub(crate) fn wake_and_switch(self) {
        let Waiter::Ult(tcb, token) = &self else {
            return self.wake();
        };
        let (tcb, token) = (*tcb, *token);
        let Some((l, me)) = lwp::current_ult() else {
            return self.wake();
        };
        if tcb.kind() == Kind::Migratable
            || tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize != l.index
        {
            return self.wake();
        }
        match l.wake_here(tcb, token) {
            Wake::Enqueue => {
                note_wake(tcb, || token.epoch);
                l.yield_to_woken(me, tcb);
            }
            Wake::LwpRequeues => {
                note_wake(tcb, || token.epoch);
            }
            Wake::Stale => {}
        }
    }

    /// Ends the wait, for a ULT that is about to end (its join packet's
    /// waiter, woken once its result is published): a woken joiner that is
    /// a pooled ULT of the caller's LWP is returned instead of queued, for
    /// the caller to switch to as it ends or to queue (`Lwp::exit_to`,
    /// the join's hand-off). Otherwise as [`Waiter::wake`].
    pub(crate) fn wake_on_exit(self) -> Option<&'static Tcb> {
        if let Waiter::Ult(tcb, token) = &self {
            let (tcb, token) = (*tcb, *token);
            if tcb.kind() == Kind::Pooled {
                if let Some(l) = lwp::current() {
                    if tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize == l.index {
                        return wake_held(l, tcb, token);
                    }
                }
            }
        }
        self.wake();
        None
    }

    /// Whether both name the same wait of the same thread.
    pub(crate) fn same_wait(&self, other: &Waiter) -> bool {
        match (self, other) {
            (Waiter::Ult(a, ta), Waiter::Ult(b, tb)) => std::ptr::eq(*a, *b) && ta == tb,
            (Waiter::Os(a, _, ta), Waiter::Os(b, _, tb)) => a.id() == b.id() && ta == tb,
            _ => false,
        }
    }
}

/// The wake of [`Waiter::wake_on_exit`]'s joiner: ends its wait and returns
/// it, RUNNABLE and in no queue, if it was BLOCKED (one `note_wake`: each
/// inlined copy is ~8 KiB of an unoptimised frame, and this runs on the
/// ending ULT's stack).
#[cfg_attr(debug_assertions, inline(never))]
fn wake_held(l: &'static Lwp, tcb: &'static Tcb, token: WakeToken) -> Option<&'static Tcb> {
    let outcome = l.wake_here(tcb, token);
    if outcome == Wake::Stale {
        return None;
    }
    note_wake(tcb, || token.epoch);
    (outcome == Wake::Enqueue).then_some(tcb)
}

/// `State::wake` made by the calling thread, on LWP `here` if it is one:
/// a ULT whose block `here` holds uncommitted (a direct switch's, while
/// the ULT switched to runs: `lwp/handoff.rs`) has its wait ended by a
/// plain store, any other by the state word's CAS (`Lwp::wake_here`).
#[inline(always)]
fn end_wait(here: Option<&'static Lwp>, tcb: &'static Tcb, token: WakeToken) -> Wake {
    match here {
        Some(l) => l.wake_here(tcb, token),
        None => tcb.state.wake(token),
    }
}

/// [`Waiter::wake`] of a ULT: the end of its wait and, if it was BLOCKED
/// (or held: [`end_wait`]), the queueing, in one frame. A wake made on an
/// LWP while no trace hook listens (a ping-pong's every wake) takes
/// [`wake_ult_here`], whose calls are all in tail position: no register
/// to save, no frame; the rest [`wake_ult_listened`].
#[inline(never)]
fn wake_ult(tcb: &'static Tcb, token: WakeToken) {
    match lwp::current() {
        Some(l) if !trace::hooked() => wake_ult_here(l, tcb, token),
        _ => wake_ult_listened(tcb, token),
    }
}

/// [`wake_ult`] on LWP `l`, nobody listening: as [`wake_ult_listened`],
/// with [`note_wake`] reduced to its count (what it does when nobody
/// listens) and the LWP read once.
#[inline(always)]
fn wake_ult_here(l: &'static Lwp, tcb: &'static Tcb, token: WakeToken) {
    match l.wake_here(tcb, token) {
        Wake::Enqueue => {
            l.count_wake();
            if tcb.kind() != Kind::Migratable
                && tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize == l.index
            {
                l.push_local(tcb);
            } else {
                enqueue_elsewhere(tcb);
            }
        }
        Wake::LwpRequeues => {
            // Not a block of this LWP's (`wake_here` ends those): another
            // LWP requeues it.
            l.count_wake();
            left_to_its_lwp(tcb);
        }
        Wake::Stale => {}
    }
}

/// [`wake_ult`] from an OS thread, or while a trace hook listens.
#[inline(never)]
fn wake_ult_listened(tcb: &'static Tcb, token: WakeToken) {
    match end_wait(lwp::current(), tcb, token) {
        Wake::Enqueue => enqueue_woken_inline(tcb),
        Wake::LwpRequeues => {
            note_wake(tcb, || token.epoch);
            left_to_its_lwp(tcb);
        }
        Wake::Stale => {}
    }
}

/// After a wake that ended the wait of a ULT still `BLOCKING`, which its
/// LWP requeues (`Wake::LwpRequeues`): the ULT is switching out there, or
/// its block is held by a direct switch while another ULT of that LWP runs
/// (`lwp/handoff.rs`), and it reaches the ready queue only when that LWP
/// next settles the block (its next block or turn of the loop). A running
/// ULT of lower priority would keep it waiting until then: until it blocks
/// or its slice ends, or for ever with slices off. So ask that LWP to
/// switch at its next safe point, as a push on its inbox would
/// (`Lwp::push_remote`); the switch settles the held block first
/// (`thread::preempt_point`). A ULT switching out through the loop finds
/// the LWP idle or about to pick, which this asks nothing of.
#[cold]
#[inline(never)]
fn left_to_its_lwp(tcb: &'static Tcb) {
    // Only a pooled ULT's block is held; a migratable one always goes
    // through the loop, which puts it in line at once.
    if tcb.kind() == Kind::Pooled {
        rt().lwp(tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize)
            .request_preempt_below(tcb.priority());
    }
}

/// [`Waiter::wake`] of an OS thread.
#[cold]
#[inline(never)]
fn wake_os(t: std::thread::Thread, tcb: &'static Tcb, token: WakeToken) {
    // Only a thread that stopped spinning needs the kernel
    // (`thread/state.rs`, "An OS thread's wait").
    if tcb.state.wake_os(token) {
        t.unpark();
    }
}

/// Puts a ULT that a waker moved BLOCKED -> RUNNABLE back in line: on its
/// LWP (or, if migratable, anywhere).
pub(crate) fn enqueue_woken(tcb: &'static Tcb) {
    enqueue_woken_inline(tcb);
}

/// [`enqueue_woken`]'s body. The wake of a ULT placed on the waker's own
/// LWP (a ping-pong's every wake) is a push on that LWP's ready queue: it
/// is told from the others by the home index, without the runtime's table
/// of LWPs; the rest is out of line.
#[inline(always)]
fn enqueue_woken_inline(tcb: &'static Tcb) {
    // The waker's CAS (or store, for a held block) left the word RUNNABLE
    // with the wait's epoch, and nothing changes it before the push below.
    let here = note_wake(tcb, || tcb.state.load().epoch());
    if let Some(l) = here {
        if tcb.kind() != Kind::Migratable
            && tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize == l.index
        {
            l.push_local(tcb);
            return;
        }
    }
    enqueue_elsewhere(tcb);
}

/// Whether the calling ULT, once woken, can run only on LWP `lwp`: it is
/// placed there and not migratable (the rule [`enqueue_woken`] follows).
/// False on an OS thread. For a waiter deciding whether anyone but `lwp`
/// gains by collecting its wake (`reactor`: the monitor's tick).
pub(crate) fn current_runs_only_on(lwp: usize) -> bool {
    lwp::current_ult().is_some_and(|(_, tcb)| {
        tcb.kind() != Kind::Migratable
            && tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize == lwp
    })
}

/// [`enqueue_woken`] for a ULT that is migratable or placed on another LWP
/// than the caller's (or a caller that is not an LWP).
#[inline(never)]
fn enqueue_elsewhere(tcb: &'static Tcb) {
    if tcb.kind() == Kind::Migratable {
        rt().push_global(tcb);
        return;
    }
    rt().lwp(tcb.home.load(std::sync::atomic::Ordering::Relaxed) as usize)
        .push_remote(tcb);
}

/// What a waker without a token (`unpark`, a cancellation request) does
/// after its `State::wake_reason` or `wake_any` returned `outcome` for the
/// wait `epoch` of `tcb`: enqueues the ULT if it was BLOCKED; if it was
/// still switching out, its LWP requeues it, and the wake is emitted here
/// (naming that wait, so that a trace puts it between the Block and the
/// Run, as `Waiter::wake` does for the same case).
pub(crate) fn woken(tcb: &'static Tcb, (outcome, epoch): (Wake, u64)) {
    match outcome {
        Wake::Enqueue => enqueue_woken(tcb),
        Wake::LwpRequeues => {
            note_wake(tcb, || epoch);
            left_to_its_lwp(tcb);
        }
        Wake::Stale => {}
    }
}

/// Counts and emits the wake of `tcb` that ends its wait `epoch()`
/// (called only if someone listens), made by the calling thread: by
/// `enqueue_woken`, and by a waker that found the ULT still switching out
/// (its LWP requeues it; the Block and this Wake name the same wait, so
/// a trace puts them in order whatever their times). Returns the
/// calling LWP.
#[inline(always)]
fn note_wake(tcb: &'static Tcb, epoch: impl FnOnce() -> u64) -> Option<&'static Lwp> {
    let here = lwp::current();
    // Who woke it costs a thread-local read: only for a user's hook (a
    // recording finds the waker in its own ring, `trace::listen_wake`).
    let waker = || crate::thread::current::running().map(|t| t.id());
    match here {
        // Counted in bulk by the LWP, listened to or not.
        Some(l) => {
            l.count_wake();
            let woken = || (tcb.id_bits(), epoch() as u8);
            let (tracer, gate) = l.tracer();
            trace::listen_wake_in(tracer, gate, woken, l.index, waker);
        }
        None => {
            trace::count_wake();
            trace::listen_wake(|| (tcb.id(), epoch() as u8), None, waker);
        }
    }
    here
}

/// Blocks the calling thread until woken, or until `deadline`.
///
/// `register` receives the [`Waiter`] for this wait and must store it where
/// the waker will find it; it returns false if the condition already holds
/// (then the caller does not block). On a ULT only the ULT blocks and its
/// LWP runs others; on an OS thread, the thread parks in the kernel.
/// Wake-ups may be spurious for OS threads: callers re-check their
/// condition in a loop.
#[inline]
pub(crate) fn block_on(
    reason: BlockReason,
    deadline: Option<Instant>,
    register: impl FnOnce(Waiter) -> bool,
) {
    // Inlined into each caller (park, the wait queues, the channels): the
    // ULT branch is a handful of instructions around the switch, and a
    // call frame here cost park_pingpong about a tenth of its round trip.
    match lwp::current_ult() {
        Some((l, tcb)) => block_ult(l, tcb, reason, deadline, register),
        None => block_os(reason, deadline, register),
    }
}

/// The ULT half of [`block_on`], for a caller that already holds its LWP
/// and TCB (`park`, which looked them up for its permit).
#[inline]
pub(crate) fn block_ult(
    l: &'static Lwp,
    tcb: &'static Tcb,
    reason: BlockReason,
    deadline: Option<Instant>,
    register: impl FnOnce(Waiter) -> bool,
) {
    let token = tcb.state.prepare_block(reason as u8);
    block_prepared(l, tcb, token, reason, deadline, register);
}

/// As [`block_on`], for a `register` that hands the [`Waiter`] out only
/// through a Release that follows it (a channel's wait record, published
/// by a Release RMW or under a lock): the ULT's BLOCKING is a plain store
/// (`State::prepare_block_handed`), not the locked one that a wait whose
/// waker sets a condition and then looks at the state word needs (`park`).
/// `on`, if any, is what the thread dump shows it waiting on
/// ([`note_wait_on`], made here with the TCB already at hand: a channel
/// wait's own look-up of its TCB cost a thread-local read a wait).
#[inline]
pub(crate) fn block_on_handed(
    reason: BlockReason,
    deadline: Option<Instant>,
    on: Option<crate::thread::id::WaitOn>,
    register: impl FnOnce(Waiter) -> bool,
) {
    match lwp::current_ult() {
        Some((l, tcb)) => {
            if let Some(on) = on {
                tcb.wait_on
                    .store(on.word(), std::sync::atomic::Ordering::Relaxed);
            }
            let token = tcb.state.prepare_block_handed(reason as u8);
            block_prepared(l, tcb, token, reason, deadline, register);
        }
        None => {
            if let Some(on) = on {
                note_wait_on(on);
            }
            block_os(reason, deadline, register)
        }
    }
}

/// As [`block_on_handed`] with no deadline and nothing for the dump, for a
/// caller that already holds its LWP and TCB (a join, which looked them
/// up for its self-join check).
#[inline]
pub(crate) fn block_ult_handed(
    l: &'static Lwp,
    tcb: &'static Tcb,
    reason: BlockReason,
    register: impl FnOnce(Waiter) -> bool,
) {
    let token = tcb.state.prepare_block_handed(reason as u8);
    block_prepared(l, tcb, token, reason, None, register);
}

/// The rest of [`block_ult`] once the state word says BLOCKING with `token`.
#[inline(always)]
fn block_prepared(
    l: &'static Lwp,
    tcb: &'static Tcb,
    token: WakeToken,
    reason: BlockReason,
    deadline: Option<Instant>,
    register: impl FnOnce(Waiter) -> bool,
) {
    if !register(Waiter::Ult(tcb, token)) {
        tcb.state.cancel_block();
        return;
    }
    if let Some(at) = deadline {
        l.add_timer(at, tcb, token);
    }
    l.block_current(tcb, reason);
}

/// The OS-thread half of [`block_on`]: park in the kernel.
#[cold]
fn block_os(reason: BlockReason, deadline: Option<Instant>, register: impl FnOnce(Waiter) -> bool) {
    // Shows the wait in the OS thread's TCB (the thread table, and the
    // deadlock detector, which must know that this thread is waiting inside
    // weave rather than doing something that could still wake a ULT), and
    // does so before the waiter is published: its waker marks it woken
    // (`Waiter::wake`), so a thread the kernel has not run yet since its
    // wake-up never looks blocked (under load that took 50 ms and more,
    // and two looks of the detector saw a deadlock that was not there).
    let tcb = crate::thread::current::current_tcb();
    // The park's futex call may leave EAGAIN or ETIMEDOUT in errno: the
    // thread gets its own value back (`context/errno.rs`).
    let errno = crate::context::errno::read();
    let token = tcb.state.set_os_blocked(reason as u8, deadline.is_some());
    if !register(Waiter::Os(std::thread::current(), tcb, token)) {
        tcb.state.set_os_running();
        return;
    }
    // Spin first, then announce the park (`thread/state.rs`, "An OS
    // thread's wait"): a waker that comes while we spin makes no system
    // call, and neither do we.
    if !os_spin(tcb, token) && tcb.state.announce_os_park(token) {
        // Only a thread that really sleeps needs the deadlock detector.
        crate::runtime::rt().monitor.check_deadlock_soon();
        match deadline {
            Some(at) => {
                let now = Instant::now();
                if at > now {
                    std::thread::park_timeout(at - now);
                }
            }
            None => std::thread::park(),
        }
    }
    tcb.state.set_os_running();
    tcb.waits_for.store(0, std::sync::atomic::Ordering::Relaxed);
    crate::context::errno::write(errno);
}

/// Reads of the state word an OS thread makes, a pause apart, before it
/// parks: ~2.5 µs here (a pause is ~40 ns on the Xeons we measure on, a
/// read of a line the waker writes a few more). A futex wait and its wake
/// cost about as much in system time alone, plus the wake-up latency of
/// the sleeper (several µs under virtualisation), so a spin this long
/// costs at most what the sleep would have, and a partner on another CPU
/// answering within it (a ping-pong with a ULT: a few hundred ns) takes
/// the kernel out of the round trip.
const OS_SPINS: u32 = 64;

/// Spins in a row that ended in a park after which an OS thread stops
/// spinning, and the period of its probes from then on (it spins on one
/// wait in `OS_PROBE_EVERY`, and on every wait again once one succeeds).
/// A spin fails every time when the partner cannot run meanwhile: on a
/// loaded 2-CPU machine the kernel often puts a woken OS thread on its
/// waker's CPU, and each spin then only delays the LWP it waits for by
/// its full length (the ping-pong's threads, sampled, sat on one CPU).
/// Four misses cost ~10 µs; a probe every 32 waits ~0.1 µs a wait.
const OS_MISSES_BEFORE_BACKOFF: u32 = 4;
const OS_PROBE_EVERY: u32 = 32;

std::thread_local! {
    /// The calling OS thread's waits since its last spin that ended its
    /// wait (saturating): whether it spins at all (`os_spin`).
    static OS_SPIN_MISSES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether an OS thread that has missed `misses` waits in a row spins on
/// this one.
#[inline]
fn os_spins_now(misses: u32) -> bool {
    misses < OS_MISSES_BEFORE_BACKOFF || misses % OS_PROBE_EVERY == 0
}

/// The spin of an OS thread's wait (`thread/state.rs`, "An OS thread's
/// wait", step 1): true if a waker ended the wait `token` meanwhile.
/// Skipped while this thread's recent spins all failed (see
/// `OS_MISSES_BEFORE_BACKOFF`).
fn os_spin(tcb: &Tcb, token: WakeToken) -> bool {
    let misses = OS_SPIN_MISSES.try_with(|m| m.get()).unwrap_or(0);
    let ended = os_spins_now(misses) && {
        let mut ended = false;
        for _ in 0..OS_SPINS {
            if !tcb.state.os_waiting(token) {
                ended = true;
                break;
            }
            crate::loom::spin_hint();
        }
        ended
    };
    let misses = if ended { 0 } else { misses.saturating_add(1) };
    let _ = OS_SPIN_MISSES.try_with(|m| m.set(misses));
    ended
}

/// Records, for the deadlock report, that the calling thread is about to
/// wait for the thread with table index + 1 `holder` (0: unknown).
pub(crate) fn note_waits_for(holder: u32) {
    let tcb = crate::thread::current::current_tcb();
    tcb.waits_for
        .store(holder, std::sync::atomic::Ordering::Relaxed);
}

/// Records, for the thread dump, what the calling thread is about to wait
/// on (`WaitOn::word`). One store; the wait paths that call it are listed
/// by `WaitOn::recorded_for`.
#[inline]
pub(crate) fn note_wait_on(on: crate::thread::id::WaitOn) {
    let tcb = crate::thread::current::current_tcb();
    tcb.wait_on
        .store(on.word(), std::sync::atomic::Ordering::Relaxed);
}

/// Whether the current LWP has been asked to switch; the safe-point check.
/// A request stays pending while the running ULT holds preemption off.
#[inline]
pub(crate) fn preempt_requested(l: &Lwp) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    l.preempt.load(Relaxed)
        && crate::thread::current::running().is_some_and(|t| t.no_preempt.load(Relaxed) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::state;

    /// An OS thread spins on every wait until 4 spins in a row failed,
    /// then on one wait in 32 only (a probe), and again on every wait once
    /// one succeeds (its miss count is reset).
    #[test]
    fn os_spin_backs_off_after_four_misses_and_probes() {
        assert!((0..OS_MISSES_BEFORE_BACKOFF).all(os_spins_now));
        let later: Vec<u32> = (OS_MISSES_BEFORE_BACKOFF..200)
            .filter(|&m| os_spins_now(m))
            .collect();
        assert_eq!(later, [32, 64, 96, 128, 160, 192]);
        assert_eq!(os_spins_now(u32::MAX), u32::MAX % OS_PROBE_EVERY == 0);
    }

    /// The deadlock detector reads the thread table: an OS thread woken
    /// inside a weave wait must not look blocked while the kernel has yet
    /// to run it (on a loaded machine that lasted long enough for two of
    /// its looks, and a live program was reported deadlocked).
    #[test]
    fn a_woken_os_thread_does_not_look_blocked_before_it_runs() {
        let (tx, rx) = std::sync::mpsc::channel::<(Waiter, &'static Tcb)>();
        let h = std::thread::spawn(move || {
            let tcb = crate::thread::current::current_tcb();
            block_on(BlockReason::Park, None, |w| {
                tx.send((w, tcb)).unwrap();
                true
            });
        });
        let (w, tcb) = rx.recv().unwrap();
        // Shown blocked from before its waiter was handed out ...
        assert_eq!(tcb.state.load().run(), state::BLOCKED);
        w.wake();
        // ... and not once it is woken, whether it has run yet or not.
        assert_ne!(tcb.state.load().run(), state::BLOCKED);
        h.join().unwrap();
    }
}

//! How a `sync` primitive (locks and channels alike) blocks its caller,
//! names it, and asks about an owner: the one seam between the primitives
//! and the scheduler.
//!
//! Normally this re-exports [`crate::sched::block_on`] and reads TCBs from
//! the thread table. Under `--cfg loom` there are no LWPs or TCBs: a waiter
//! is a loom thread, blocking is `loom::thread::park`, a timed wait
//! times out once it has blocked (so that a model explores the timeout
//! racing a wake-up), and
//! nobody spins. The wait queue and the mutex word above this seam are the
//! same code in both builds.

#[cfg(not(loom))]
pub(crate) use imp::*;
#[cfg(loom)]
pub(crate) use loom_imp::*;

/// Who is calling: the owner id the lock words record, and what a wait
/// queue orders by.
#[derive(Clone, Copy)]
pub(crate) struct Me {
    /// Thread-table index + 1 (0 means "nobody").
    pub(crate) id: u32,
    pub(crate) priority: u8,
    /// The caller's TCB, for the calls that take a `Me` (`wait_cancelled`,
    /// `take_signal_interrupt`) instead of looking the caller up again: in
    /// the shared library each look-up is a thread-local read through
    /// `__tls_get_addr`. None under loom (no TCBs).
    #[cfg(not(loom))]
    pub(crate) tcb: &'static crate::thread::tcb::Tcb,
}

#[cfg(not(loom))]
mod imp {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Instant;

    use super::Me;
    use crate::lwp;
    use crate::thread::state::RUNNING;
    use crate::thread::table::table;
    use crate::thread::tcb::NO_LWP;

    pub(crate) use crate::sched::Waiter;
    pub(crate) use crate::thread::id::BlockReason;

    /// Blocks the caller until woken (see `sched::block_on`). The runtime
    /// is started first: an OS thread that waits inside weave before any
    /// ULT exists still needs the monitor to see a deadlock.
    #[inline]
    pub(crate) fn block_on(
        reason: BlockReason,
        deadline: Option<Instant>,
        register: impl FnOnce(Waiter) -> bool,
    ) {
        crate::start::rt();
        crate::sched::block_on(reason, deadline, register)
    }

    /// As [`block_on`], for a `register` that hands its waiter out only
    /// through a Release after it (see `sched::block_on_handed`). `object`
    /// is recorded as by [`note_wait_on`] (0: none to name).
    #[inline]
    pub(crate) fn block_on_handed(
        reason: BlockReason,
        deadline: Option<Instant>,
        object: usize,
        register: impl FnOnce(Waiter) -> bool,
    ) {
        crate::start::rt();
        let on = (object != 0).then_some(crate::thread::id::WaitOn::Object(object));
        crate::sched::block_on_handed(reason, deadline, on, register)
    }

    pub(crate) use crate::lwp::handoff::Deferred;

    /// Leaves the publication of the wait that `w` (the caller's, handed
    /// to its `register`) names to the caller's LWP, which publishes it
    /// with `d.publish` before the block is committed, unless a waker on
    /// that LWP serves it first (`take_deferred`). False: the caller
    /// publishes it itself (an OS thread, a ULT that is not pooled, an
    /// LWP that already holds a deferred wait). See `lwp/handoff.rs`, "A
    /// wait published late".
    #[inline]
    pub(crate) fn defer_publication(w: &Waiter, d: Deferred) -> bool {
        match w {
            Waiter::Ult(tcb, _) => lwp::current().is_some_and(|l| l.defer_publication(tcb, d)),
            Waiter::Os(..) => false,
        }
    }

    /// The record of a wait deferred under `key` on the caller's LWP,
    /// taken, if `serve` (asked only if one is there) says the caller can
    /// serve it now: the caller then serves it and wakes its waiter.
    #[inline]
    pub(crate) fn take_deferred(key: *const (), serve: impl FnOnce() -> bool) -> Option<*const ()> {
        lwp::current()?.take_deferred(key, serve)
    }

    /// The calling thread, ULT or OS thread (registered on first use).
    #[inline]
    pub(crate) fn me() -> Me {
        let tcb = crate::thread::current::current_tcb();
        Me {
            id: tcb.owner_id,
            priority: tcb.priority(),
            tcb,
        }
    }

    /// The priority of the thread `w` names: a waiter's own, read from the
    /// TCB the wait already holds.
    #[inline]
    pub(crate) fn priority_of(w: &Waiter) -> u8 {
        match w {
            Waiter::Ult(tcb, _) | Waiter::Os(_, tcb, _) => tcb.priority(),
        }
    }

    /// The owner id of the caller alone: what a lock fast path needs.
    #[inline]
    pub(crate) fn me_id() -> u32 {
        crate::thread::current::current_tcb().owner_id
    }

    /// Whether the thread with owner id `id` is running on a CPU other than
    /// the caller's, so that spinning for it can pay off (section 16 of the
    /// lecture: adaptive mutexes). A ULT is running elsewhere if it is
    /// RUNNING and placed on another LWP; a registered OS thread is RUNNING
    /// and has no LWP. A ULT placed on the caller's own LWP cannot be running
    /// (we are), so spinning for it would only burn the time it needs.
    #[inline]
    pub(crate) fn owner_running_elsewhere(id: u32) -> bool {
        if id == 0 {
            return false;
        }
        let tcb = table().slot(id - 1);
        if tcb.state.load().run() != RUNNING {
            return false;
        }
        let home = tcb.home.load(Relaxed);
        match lwp::current() {
            Some(l) => home == NO_LWP || home as usize != l.index(),
            None => true,
        }
    }

    /// Records, for the deadlock report, whom the caller is about to wait
    /// for (owner id, 0 unknown).
    #[inline]
    pub(crate) fn note_waits_for(id: u32) {
        crate::sched::note_waits_for(id);
    }

    /// Records, for the thread dump, the object the caller is about to
    /// wait on (its address; 0: none to name).
    #[inline]
    pub(crate) fn note_wait_on(object: usize) {
        if object != 0 {
            crate::sched::note_wait_on(crate::thread::id::WaitOn::Object(object));
        }
    }

    #[cfg(test)]
    std::thread_local! {
        /// The calling thread's reads of [`now_ns`], for the unit tests
        /// that check a path decides without the clock.
        pub(crate) static NOW_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// Monotonic nanoseconds (`CLOCK_MONOTONIC`, from boot): the stamp a
    /// waiter carries so that an unlocker can tell how long it has waited,
    /// and the passed-over clock of the wait queues. Read straight from
    /// the clock: `Instant::elapsed` from a start kept in a `OnceLock`
    /// added a subtraction with its checks and the lock's load, ~60
    /// instructions a read (only differences of two reads are used).
    #[inline]
    pub(crate) fn now_ns() -> u64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        #[cfg(test)]
        NOW_READS.with(|n| n.set(n.get() + 1));
        // SAFETY: `t` is a valid timespec to write; CLOCK_MONOTONIC is
        // always there, so the call cannot fail.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
        debug_assert_eq!(r, 0);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    /// Whether a timed wait is over.
    #[inline]
    pub(crate) fn expired(deadline: Instant) -> bool {
        Instant::now() >= deadline
    }

    /// Whether a cancellation request ends the wait of `me`, the caller
    /// (it waits at a cancellation point: `thread/cancel.rs`).
    #[inline]
    pub(crate) fn wait_cancelled(me: &Me) -> bool {
        crate::thread::cancel::wait_cancelled_of(me.tcb)
    }

    /// Whether this call may spin at all (loom says no).
    pub(crate) const SPIN: bool = true;

    /// Lets another thread run while the caller waits for a partner that
    /// is between two steps of a hand-over (a channel partner evaluating
    /// the value it promised): a ULT yields its LWP, an OS thread its CPU.
    #[inline]
    pub(crate) fn yield_now() {
        crate::thread::yield_now();
    }

    /// Sleeps until `deadline` (a ULT on its LWP's timers, an OS thread in
    /// the kernel): for a wait that polls.
    pub(crate) fn sleep_until(deadline: Instant) {
        crate::thread::sleep_until(deadline);
    }

    /// Counts a contended lock won by spinning (`trace::Counters`).
    #[inline]
    pub(crate) fn note_spin_acquired() {
        crate::trace::count(crate::trace::LOCK_SPINS, 1);
    }

    /// Counts a lock handed to a starving waiter.
    #[inline]
    pub(crate) fn note_handoff() {
        crate::trace::count(crate::trace::LOCK_HANDOFFS, 1);
    }

    /// Counts a lock that took the slow path (`trace::Counters`).
    #[inline]
    pub(crate) fn note_contended() {
        crate::trace::count(crate::trace::LOCK_CONTENDED, 1);
    }

    /// Counts a locker that queued and blocked (`trace::Counters`).
    #[inline]
    pub(crate) fn note_lock_block() {
        crate::trace::count(crate::trace::LOCK_BLOCKS, 1);
    }

    /// Whether a signal ended the calling ULT's wait since the last call
    /// (a handler ran meanwhile); clears it. For the waits that report
    /// `EINTR` instead of waiting on. On a plain OS thread, a handler that
    /// ran on it while it waited (`signal::interrupt_os_wait`).
    /// `me` is the caller, ULT or registered OS thread: its TCB is the one
    /// those flags live in.
    #[inline]
    pub(crate) fn take_signal_interrupt(me: &Me) -> bool {
        crate::signal::state::take_restart(me.tcb)
    }
}

#[cfg(loom)]
mod loom_imp {
    use std::time::Instant;

    use super::Me;

    pub(crate) use crate::lwp::handoff::Deferred;

    /// No LWPs under loom: every wait publishes itself (the deferred
    /// publication has its model in `lwp/handoff.rs`).
    #[inline]
    pub(crate) fn defer_publication(_w: &Waiter, _d: Deferred) -> bool {
        false
    }

    /// As `defer_publication`: nothing is deferred under loom.
    #[inline]
    pub(crate) fn take_deferred(
        _key: *const (),
        _serve: impl FnOnce() -> bool,
    ) -> Option<*const ()> {
        None
    }

    /// No deadlock detector under loom: nothing to record.
    #[inline]
    pub(crate) fn note_waits_for(_id: u32) {}

    /// No thread dump under loom: nothing to record.
    #[inline]
    pub(crate) fn note_wait_on(_object: usize) {}

    /// The reasons the loom-checked code blocks for.
    #[derive(Clone, Copy, Debug)]
    pub(crate) enum BlockReason {
        Mutex,
        Condvar,
        RwLock,
        Channel,
        Select,
    }

    /// A loom thread and the state of its wait: `WAITING`, `WOKEN`, or
    /// `PARKED` (the thread parks or is about to). Loom drops an `unpark`
    /// that reaches a thread blocked on something else (a loom `Mutex`, a
    /// join) instead of keeping it for the next `park` as the real one
    /// does, and a late one trips loom's join; so a waker unparks only a
    /// thread that said it parks, and a model reports neither a deadlock
    /// nor a stray wake-up that cannot happen.
    #[derive(Clone)]
    pub(crate) enum Waiter {
        Os(
            loom::thread::Thread,
            std::sync::Arc<loom::sync::atomic::AtomicUsize>,
        ),
    }

    const WAITING: usize = 0;
    const WOKEN: usize = 1;
    const PARKED: usize = 2;

    impl Waiter {
        pub(crate) fn wake(self) {
            let Waiter::Os(t, state) = self;
            // AcqRel pairs with the owner's CAS to PARKED and its load.
            if state.swap(WOKEN, std::sync::atomic::Ordering::AcqRel) == PARKED {
                t.unpark();
            }
        }

        /// No run queues under loom: as `wake`.
        pub(crate) fn wake_next(self) {
            self.wake();
        }

        /// No LWPs under loom: as `wake`.
        pub(crate) fn wake_and_switch(self) {
            self.wake();
        }
    }

    /// As `sched::block_on`; a deadline means "time out as soon as the
    /// scheduler lets us", which loom interleaves with every wake-up.
    pub(crate) fn block_on(
        _reason: BlockReason,
        deadline: Option<Instant>,
        register: impl FnOnce(Waiter) -> bool,
    ) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let state = std::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(WAITING));
        if !register(Waiter::Os(loom::thread::current(), state.clone())) {
            return;
        }
        if deadline.is_some() {
            loom::thread::yield_now();
            TIMED_OUT.with(|t| t.set(true));
        } else if state
            .compare_exchange(WAITING, PARKED, AcqRel, Acquire)
            .is_ok()
        {
            // Acquire pairs with the waker's swap.
            while state.load(Acquire) != WOKEN {
                loom::thread::park();
            }
        }
    }

    /// As `block_on`: loom threads have no state word (nor a thread dump).
    pub(crate) fn block_on_handed(
        reason: BlockReason,
        deadline: Option<Instant>,
        _object: usize,
        register: impl FnOnce(Waiter) -> bool,
    ) {
        block_on(reason, deadline, register)
    }

    loom::thread_local! {
        static ID: std::cell::Cell<u32> = std::cell::Cell::new(0);
        /// Set once this thread's timed wait has "timed out": a deadline
        /// passes only after the thread blocked on it once, so that models
        /// reach the waits that race their timeout.
        static TIMED_OUT: std::cell::Cell<bool> = std::cell::Cell::new(false);
    }
    loom::lazy_static! {
        static ref NEXT: loom::sync::atomic::AtomicU32 = loom::sync::atomic::AtomicU32::new(1);
    }

    pub(crate) fn me() -> Me {
        Me {
            id: me_id(),
            priority: 16,
        }
    }

    pub(crate) fn me_id() -> u32 {
        ID.with(|c| {
            if c.get() == 0 {
                c.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            }
            c.get()
        })
    }

    pub(crate) fn owner_running_elsewhere(_id: u32) -> bool {
        false
    }

    pub(crate) fn now_ns() -> u64 {
        0
    }

    pub(crate) fn expired(_deadline: Instant) -> bool {
        TIMED_OUT.with(|t| t.get())
    }

    pub(crate) fn wait_cancelled(_me: &Me) -> bool {
        false
    }

    /// Every loom thread has the default priority.
    pub(crate) fn priority_of(_w: &Waiter) -> u8 {
        16
    }

    pub(crate) const SPIN: bool = false;

    pub(crate) fn yield_now() {
        loom::thread::yield_now();
    }

    /// No clock under loom: a poll's pause is a yield.
    pub(crate) fn sleep_until(_deadline: Instant) {
        loom::thread::yield_now();
    }

    pub(crate) fn note_spin_acquired() {}

    pub(crate) fn note_handoff() {}

    pub(crate) fn note_contended() {}

    pub(crate) fn note_lock_block() {}

    /// No signals under loom.
    pub(crate) fn take_signal_interrupt(_me: &Me) -> bool {
        false
    }
}

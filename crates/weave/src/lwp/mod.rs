//! lwp: the kernel threads ULTs run on, and each one's scheduler loop.
//!
//! An LWP is an OS thread that the runtime treats as a virtual CPU. Each
//! runs [`Lwp::run`]: pick a ULT (see `sched`), resume it until it yields,
//! blocks or exits, decide what to do with it, repeat; with nothing to run,
//! search for work, then sleep in the kernel (`sched/idle.rs` has the
//! wake-up protocol). The pool's LWPs share work; a *bound* LWP runs one ULT only
//! (1:1) and ends with it.
//!
//! ## Retiring (`set_concurrency` lowered)
//! A retiring LWP stops taking new work at once: its not-yet-started ULTs go
//! to the global injector when it next goes idle (meanwhile siblings may
//! steal them, heavier or not), and it no longer steals or polls the
//! injector. Pushers that saw it searching woke nobody, so whoever retires
//! it hands queued new work over to a pool LWP, and so does the LWP itself
//! if it was the last searcher when its search ended, however it ended
//! (`sched/idle.rs`, step 2). It leaves when no started ULT is placed on it
//! any more (they finish there: moving a started ULT would break DESIGN.md
//! decision 3), committing to it under the pool lock (`pool::commit_leave`).
//! Raising the level again first revives retiring LWPs that have not
//! committed, then starts new ones.
//!
//! What the LWP does follows rules kept elsewhere, beside their
//! descriptions: which ULT to run next (`sched/pick.rs`), where new work
//! goes and who steals it (`sched/place.rs`), when to sleep and whom to
//! wake (`sched/idle.rs`); pool membership and the starting of LWPs are in
//! `lwp/pool.rs`. Part of the engine: it must not name the monitor's loop,
//! the start-up or the public API (`thread`, `sync`, `net`).
//!
//! ## The direct yield
//! A yielding ULT whose LWP would plainly run the next started ULT of its
//! ready queue switches to it itself (`yield_current`, `direct_peek`):
//! it takes that ULT and queues itself in one step (`ReadyQueue::rotate`:
//! a turn of its level's list when the two are equals, a swap in the
//! queue's lone slot when the two are alone, `sched/ready.rs`), does the loop's
//! per-switch duties for both (`charge` and `switch_in`, shared with
//! `dispatch`) and calls `context::switch_to`.
//! The loop's `resume` then returns when some ULT of the chain goes back to
//! it, and `dispatch` files that one (`thread::current` names it). Anything
//! the loop's pick would do besides popping `ready` (timers, io, new work,
//! panics to move, a TLS block to install) sends the yield through the loop.
//!
//! ## The direct block
//! A blocking ULT whose LWP would plainly run the next started ULT of its
//! ready queue (the same pick, `direct_pick`; in a ping-pong, the ULT it has
//! just woken, which waits in the ready queue's lone slot, not in a list:
//! `sched/ready.rs`) switches to it itself too (`block_current`, `block_to`). Its
//! block is not committed yet (it is `BLOCKING` until off its stack): the
//! LWP's [`Handoff`](handoff::Handoff) holds it uncommitted while the ULT
//! switched to runs. A wake of it made on this LWP with its token (in a
//! ping-pong, the partner's next send) ends the wait with a plain store
//! (`wake_here`); otherwise the LWP commits it before its next pick but a
//! yield's (`settle_held`, at the top of `block_current`, and in
//! `dispatch`), with the signal and cancellation checks `dispatch`
//! makes after its own commits (`after_commit`). Either way no locked
//! instruction is spent on a block that a wake on the same LWP ends.
//! `lwp/handoff.rs` has the steps, why a wake from another LWP in between
//! is safe, and the loom model. The same file has a wait whose ULT leaves
//! its publication to this LWP (`defer_publication`: a channel receive),
//! served by a waker on this LWP (`take_deferred`) or published before
//! the block is committed (`Handoff::commit`, and `dispatch` for a block
//! through the loop).
//!
//! ## The switch to a woken ULT
//! A ULT that has just woken a ULT of its own LWP and would rather it ran
//! now (a rendezvous receiver that took a waiting sender's value) calls
//! `yield_to_woken`: the woken ULT, not queued yet, switches in through
//! `yield_to`, and the caller goes first in its level of the ready queue,
//! to run again as soon as the other one stops. It takes no queue pop and
//! no pick; when the loop must pick (timers or io due, a ULT that is not
//! pooled, a lower priority, a panic in flight), the woken ULT is queued as
//! any other. It is the general primitive: "switch to this ready ULT of
//! mine".
//!
//! ## Owner-only state
//! [`Local`] belongs to the LWP's OS thread: the scheduler loop and the ULT
//! it runs, never both at once. Every access is a short borrow through
//! [`Lwp::local`] that ends before any switch or any call that could reach
//! `local` again.

pub(crate) mod handoff;
mod parker;
mod placed;
pub(crate) mod pool;
pub(crate) mod trim;

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU64, AtomicU8, AtomicUsize};
use std::time::Instant;

use crossbeam_deque::{Steal, Stealer, Worker};

pub(crate) use parker::Parker;

use crate::context::{self, Resumed};
use crate::runtime::{rt, Runtime};
use crate::sched::idle::{SearchEnd, SleepFlag};
use crate::sched::inbox::Inbox;
use crate::sched::ready::ReadyQueue;
use crate::sched::{pick, place, Task};
use crate::stack::{self, OverflowInfo};
use crate::thread::id::BlockReason;
use crate::thread::state::{Wake, WakeToken};
use crate::thread::table::{table, SlotCache};
use crate::thread::tcb::{Kind, Tcb, DEFAULT_PRIORITY, NO_LWP};
use crate::time::clock;
use crate::time::timers::{self, Timers};
use crate::trace::{self, Event};
use placed::Placed;

/// Rounds an idle LWP spends stealing and polling before it sleeps. Each
/// round is a pass over the other LWPs and the injector plus SEARCH_SPINS
/// pauses: ~10 µs in all, long enough to catch the next spawn of a busy
/// spawner (~100 ns apart) and a wake-up from a sibling LWP. We had ~80 µs
/// (64 growing rounds); on 2 CPUs that spinning took the CPU from the
/// thread making the work: spawning 200,000 parked ULTs from main took
/// 1.3-1.9 s then, 0.8-1.2 s now.
const SEARCH_ROUNDS: u32 = 32;

/// `pause` instructions between two search rounds (~20 ns each here).
const SEARCH_SPINS: u32 = 16;

/// A switch-in adds the runs counted here to the shared counters (the LWP
/// table's row, the trace counters) once this many have passed since the
/// last flush (`Local::chores` counts them down): often enough that a
/// reader of the table sees them within ~1,024 switches, seldom enough
/// that the flush's atomic adds are off the per-switch cost.
const FLUSH_EVERY: u32 = 1024;

/// How a search for new work ended (`Lwp::search`).
#[derive(Clone, Copy)]
enum Search {
    /// It took this not-yet-started ULT.
    Found(&'static Tcb),
    /// A ULT of this LWP's own became runnable (inbox or due timer).
    OwnWork,
    /// It found nothing, or the LWP began retiring.
    Nothing,
}

/// What the running ULT asked for when it switched out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Switch {
    Yield,
    Block,
}

/// Owner-only state of an LWP (see the module doc).
pub(crate) struct Local {
    ready: ReadyQueue,
    fresh: Worker<Task>,
    /// False only while `fresh` is empty: set by this LWP's pushes into it
    /// (`push_fresh`, a steal's batch), the only ones there are, and
    /// cleared when a look finds it empty (thieves only take). The pick's
    /// common case reads this byte instead of the deque's two indices.
    fresh_queued: bool,
    /// The runtime this LWP belongs to, set by `run` before anything runs
    /// here: the pick's look at the injector reads it instead of the
    /// global pointer and its null check.
    rt: *const Runtime,
    timers: Timers,
    /// Timers taken due, being fired (kept for its allocation).
    due: Vec<(&'static Tcb, WakeToken)>,
    pub(crate) stacks: stack::Cache,
    pub(crate) slots: SlotCache,
    /// Free blocks for join packets (`thread/blocks.rs`).
    pub(crate) packets: crate::thread::blocks::Blocks,
    switch: Switch,
    picks: u32,
    /// Since when this LWP has left new work to idle siblings (see `pick`).
    deferring: Option<Instant>,
    /// `clock::ticks()` when this LWP last handed a new ULT to an empty
    /// sibling (rule 6 of `sched/place.rs`, which keeps it).
    spread_at: u64,
    /// `clock::ticks()` when the running ULT was resumed (or the loop last
    /// took stock): one clock read per switch serves as the end of one run
    /// and the start of the next.
    last_tick: u64,
    /// Switch sequence number last published in `Lwp::running` (its high
    /// 32 bits). It moves once per switch-in: it counts the runs too, and
    /// they are added to the shared counters each time it reaches a
    /// multiple of [`FLUSH_EVERY`] (one test of the low bits).
    seq: u32,
    /// `seq` when the runs were last added to the shared counters.
    flushed: u32,
    /// Switch-ins left before the next one does the LWP's chores
    /// (`Lwp::chores`: the flush of the runs, compacted stacks): one
    /// count down and test a switch for both. 1 while `compacted` is not
    /// 0 (every switch-in looks then), at most [`FLUSH_EVERY`]; never 0
    /// between switches.
    chores: u32,
    /// ULTs placed here whose stacks are compacted (`lwp/trim.rs`): while
    /// 0, a switch-in looks no further. Whoever makes it non-zero sets
    /// `chores` to 1.
    compacted: usize,
    /// Blocks, wakes and exits on this LWP not yet added to the trace
    /// counters (counted here, with `runs`, while no trace hook listens: a
    /// thread-local counter per event cost ~10 instructions per switch).
    blocks: u64,
    wakes: u64,
    exits: u64,
    /// This LWP's thread's trace recorder (`trace::Tracer`), set as the
    /// thread starts: the switch's events reach it without a thread-local.
    tracer: trace::Tracer,
    /// This LWP's thread's errno, set as the thread starts: a ULT carries
    /// its own value across each switch through it (`context/errno.rs`).
    errno: context::errno::Errno,
}

impl Local {
    /// Whether `fresh` is empty, for the pick: the hint first
    /// (`fresh_queued`), the deque's indices only after a push.
    #[inline(always)]
    fn fresh_is_empty(&mut self) -> bool {
        if !self.fresh_queued {
            return true;
        }
        let empty = self.fresh.is_empty();
        self.fresh_queued = !empty;
        empty
    }

    /// The runtime of this LWP (`rt`).
    #[inline(always)]
    fn rt(&self) -> &'static Runtime {
        debug_assert!(!self.rt.is_null(), "an LWP's runtime is set as it starts");
        // SAFETY: set by `Lwp::run` before this LWP runs anything (only
        // its loop and its ULTs call here); a runtime is never freed.
        unsafe { &*self.rt }
    }
}

pub(crate) struct Lwp {
    pub(crate) index: usize,
    bound: AtomicBool,
    alive: AtomicBool,
    retiring: AtomicBool,
    /// Committed to leaving (set under the pool lock, `pool::commit_leave`):
    /// `set_concurrency` no longer revives it.
    leaving: AtomicBool,
    /// Set while asleep (or about to be) and unclaimed; see `sched/idle.rs`.
    sleeping: SleepFlag,
    pub(crate) inbox: Inbox<Tcb>,
    pub(crate) parker: Parker,
    /// Asked to switch at the next safe point.
    pub(crate) preempt: AtomicBool,
    /// Priority of the ULT running now; `IDLE` when none.
    running_prio: AtomicU8,
    /// What the monitor samples, one store per switch: a switch sequence
    /// number (high 32 bits) and 1 + the table index of the running ULT
    /// (low 32 bits; 0 when none). A word unchanged between two samples
    /// means the same run is still going on.
    pub(crate) running: AtomicU64,
    /// Added by the monitor for an LWP blocked in the kernel; retires first
    /// when the pool has more LWPs than it needs.
    extra: AtomicBool,
    /// Timers pending in `Local::timers`, mirrored for the deadlock
    /// detector (a pending timer can still wake a ULT).
    timers_pending: AtomicUsize,
    stealer: UnsafeCell<Stealer<Task>>,
    /// Started ULTs placed here that have not exited (`placed.rs`).
    placed: Placed,
    /// Kernel thread id, for the LWP table and directed signals.
    tid: AtomicI32,
    runs: AtomicU64,
    /// ULTs the monitor asked this LWP to trim (`lwp/trim.rs`).
    trims: trim::Requests,
    local: UnsafeCell<Local>,
    /// The loop's side of the context switch: where the ULTs it runs go
    /// back to. Owner-only, like `local`.
    home: context::Home,
    /// A block handed on by a direct switch, for the ULT switched in to
    /// commit (`lwp/handoff.rs`). Owner-only, like `local`; outside it so
    /// that no borrow of `local` is held across the switch.
    handoff: handoff::Handoff<&'static Tcb>,
    /// Whether the events of this LWP's switches may be heard
    /// (`trace::Gate`): the trace's one look per event while nobody
    /// listens. Outside `local`: the tracer opens it from other threads.
    trace_gate: trace::Gate,
}

impl handoff::Blocks for &'static Tcb {
    #[inline(always)]
    fn same(self, other: Self) -> bool {
        std::ptr::eq(self, other)
    }
    #[inline(always)]
    fn block_state(&self) -> &crate::thread::state::State {
        &self.state
    }
}

const IDLE: u8 = u8::MAX;

// SAFETY: `local`, `handoff` and `stealer` follow the owner-only
// discipline of the module doc (`stealer` is written only while the LWP is dead, under
// the pool lock, before `alive` is published with Release); every other
// field is atomic or behind a Mutex.
unsafe impl Sync for Lwp {}
// SAFETY: as above.
unsafe impl Send for Lwp {}

thread_local! {
    static CURRENT: Cell<*const Lwp> = const { Cell::new(std::ptr::null()) };
}

/// The LWP the calling OS thread is, if it is one.
#[inline]
pub(crate) fn current() -> Option<&'static Lwp> {
    let p = CURRENT.with(|c| c.get());
    // SAFETY: LWP structs are never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// In the child of a `fork` made on an LWP: this thread is an LWP no more
/// (its runtime stayed behind in the parent), so weave treats it as a
/// plain OS thread from now on (see `thread/fork.rs`).
pub(crate) fn forget_current() {
    CURRENT.with(|c| c.set(std::ptr::null()));
    crate::thread::current::set_running(None);
}

/// The LWP and the ULT running on it, if the caller is a ULT.
#[inline]
pub(crate) fn current_ult() -> Option<(&'static Lwp, &'static Tcb)> {
    let t = crate::thread::current::running()?;
    Some((current()?, t))
}

impl Lwp {
    fn new(index: usize, bound: bool) -> Lwp {
        let fresh = Worker::new_fifo();
        let stealer = fresh.stealer();
        Lwp {
            index,
            bound: AtomicBool::new(bound),
            alive: AtomicBool::new(true),
            retiring: AtomicBool::new(false),
            leaving: AtomicBool::new(false),
            sleeping: SleepFlag::new(),
            inbox: Inbox::new(),
            parker: Parker::new(index),
            preempt: AtomicBool::new(false),
            running_prio: AtomicU8::new(IDLE),
            running: AtomicU64::new(0),
            extra: AtomicBool::new(false),
            timers_pending: AtomicUsize::new(0),
            stealer: UnsafeCell::new(stealer),
            placed: Placed::new(),
            tid: AtomicI32::new(0),
            runs: AtomicU64::new(0),
            trims: trim::Requests::default(),
            local: UnsafeCell::new(Local {
                ready: ReadyQueue::default(),
                fresh,
                fresh_queued: false,
                rt: std::ptr::null(),
                timers: Timers::default(),
                due: Vec::new(),
                stacks: stack::Cache::default(),
                slots: SlotCache::default(),
                packets: crate::thread::blocks::Blocks::default(),
                switch: Switch::Yield,
                picks: 0,
                deferring: None,
                spread_at: 0,
                last_tick: 0,
                seq: 0,
                flushed: 0,
                chores: 1,
                compacted: 0,
                blocks: 0,
                wakes: 0,
                exits: 0,
                tracer: trace::Tracer::NONE,
                errno: context::errno::Errno::UNSET,
            }),
            home: context::Home::new(),
            handoff: handoff::Handoff::new(),
            trace_gate: trace::Gate::new(),
        }
    }

    /// Owner-only state. Call only on the LWP's own OS thread, and drop the
    /// borrow before any switch or wake (see the module doc).
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn local(&self) -> &mut Local {
        debug_assert!(current().is_some_and(|l| std::ptr::eq(l, self)));
        // SAFETY: only the LWP's own thread calls this (checked above in
        // debug builds), and callers keep each borrow short and never
        // overlapping, per the module doc.
        unsafe { &mut *self.local.get() }
    }

    fn stealer(&self) -> &Stealer<Task> {
        // SAFETY: written only while the LWP is dead (see the Sync impl);
        // readers check `alive` with Acquire first.
        unsafe { &*self.stealer.get() }
    }

    pub(crate) fn is_bound(&self) -> bool {
        self.bound.load(Relaxed)
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Acquire)
    }

    pub(crate) fn is_pool_member(&self) -> bool {
        self.is_alive() && !self.is_bound() && !self.retiring.load(Relaxed)
    }

    /// Claims a dead LWP's struct for a new LWP (the caller serialises).
    pub(crate) fn try_claim_dead(&self) -> bool {
        if self.alive.load(Acquire) {
            return false;
        }
        // The dead LWP's OS thread has left `run`: nobody else touches
        // `local`. Fresh queues, so that no stale stealer lingers.
        let fresh = Worker::new_fifo();
        let stealer = fresh.stealer();
        // SAFETY: the LWP is dead and we are its only claimant (serialised
        // by the caller); no thread reads `local` or `stealer` of a dead
        // LWP (they check `alive` first).
        unsafe {
            (*self.local.get()).fresh = fresh;
            *self.stealer.get() = stealer;
        }
        self.retiring.store(false, Relaxed);
        self.leaving.store(false, Relaxed);
        self.sleeping.reset_dead();
        self.preempt.store(false, Relaxed);
        self.running_prio.store(IDLE, Relaxed);
        self.running.store(0, Relaxed);
        self.extra.store(false, Relaxed);
        self.placed.reset();
        // Release pairs with Acquire in `is_alive`.
        self.alive.store(true, Release);
        true
    }

    /// Claims this LWP's sleep for a waker: true if it was asleep and is now
    /// the caller's to unpark.
    pub(crate) fn claim_sleeping(&self) -> bool {
        rt().idle.claim(&self.sleeping)
    }

    pub(crate) fn is_sleeping(&self) -> bool {
        self.sleeping.is_set()
    }

    pub(crate) fn tid(&self) -> i32 {
        self.tid.load(Relaxed)
    }

    /// Started ULTs placed here that have not exited (a snapshot).
    pub(crate) fn placed(&self) -> usize {
        self.placed.get()
    }

    pub(crate) fn is_extra(&self) -> bool {
        self.extra.load(Relaxed)
    }

    /// Whether not-yet-started ULTs wait in this LWP's stealable queue.
    pub(crate) fn has_fresh_work(&self) -> bool {
        self.is_alive() && !self.stealer().is_empty()
    }

    /// Asks the running ULT to switch at its next safe point (a time slice
    /// ran out).
    pub(crate) fn request_preempt(&self) {
        if !self.preempt.swap(true, Relaxed) {
            trace::emit(Event::Preempt { lwp: self.index });
        }
    }

    /// Raises `preempt` if the running ULT has a priority below `p`. The
    /// look is inlined (a wake's common case: nothing below `p` runs); the
    /// request is not.
    #[inline]
    pub(crate) fn request_preempt_below(&self, p: u8) {
        // Acquire pairs with the Release store in `switch_in`.
        let running = self.running_prio.load(Acquire);
        if running != IDLE && running < p {
            self.raise_preempt();
        }
    }

    #[cold]
    #[inline(never)]
    fn raise_preempt(&self) {
        if !self.preempt.swap(true, Relaxed) {
            trace::emit(Event::Preempt { lwp: self.index });
        }
    }

    /// A ULT placed here became runnable; called on this LWP. At the front
    /// of its level if its waker asked (`Tcb::run_next`). Always inlined:
    /// it is most of a wake on the waker's LWP (`sched::wake_ult`), whose
    /// call to it cost a frame of its own.
    #[inline(always)]
    pub(crate) fn push_local(&self, tcb: &'static Tcb) {
        let p = tcb.priority();
        self.local().ready.push_woken(tcb);
        self.request_preempt_below(p);
    }

    /// A ULT placed here became runnable; called from another thread.
    pub(crate) fn push_remote(&self, tcb: &'static Tcb) {
        self.inbox.push(tcb);
        self.request_preempt_below(tcb.priority());
        // Pairs with the fence in `idle` (Dekker): either we see `sleeping`
        // or the LWP's last check sees the inbox.
        fence(SeqCst);
        if self.claim_sleeping() {
            self.parker.unpark();
        }
    }

    /// Adds a timer for the current ULT's wait.
    pub(crate) fn add_timer(&self, at: Instant, tcb: &'static Tcb, token: WakeToken) {
        self.local().timers.insert(at, tcb, token);
        self.timers_pending.fetch_add(1, Relaxed);
    }

    /// Timers pending on this LWP (deadlock detector).
    pub(crate) fn timers_pending(&self) -> usize {
        self.timers_pending.load(Relaxed)
    }

    /// Switches the running ULT out as blocked (its state is BLOCKING):
    /// straight to the next ULT of this LWP when the pick would be a plain
    /// one (`direct_pick`), else through the loop. Not inlined: one
    /// prologue for the whole block, as `yield_current`. The helpers of
    /// both are forced inline in optimised builds only: unoptimised, each
    /// inlined body keeps its own stack slots, and this frame grew to
    /// ~20 KiB, more than a small ULT stack (16 KiB in `burst_memory`).
    #[inline(never)]
    pub(crate) fn block_current(&self, tcb: &'static Tcb, reason: BlockReason) {
        // Before the pick: a block held here is settled (`lwp/handoff.rs`,
        // step 3), and may put its ULT back in `ready`.
        self.settle_held();
        // Counted in bulk, listened to or not (`trace::listen`).
        self.local().blocks += 1;
        trim::note_parked(tcb);
        // BLOCKING with the wait's epoch, set by this ULT (a waker's CAS
        // keeps the epoch): its Wake names the same.
        let wait = || tcb.state.load().epoch() as u8;
        // The Block is emitted once the pick is known (the pick emits
        // nothing): a direct switch's Run can go into its record.
        if let Some(next) = self.direct_pick(tcb, 0) {
            let tracer = self.local().tracer;
            trace::listen_block_to_in(
                tracer,
                &self.trace_gate,
                || tcb.id(),
                self.index,
                reason,
                wait,
                || next.id_bits(),
            );
            self.block_to(tcb, next);
            return;
        }
        let tracer = self.local().tracer;
        trace::listen_block_in(
            tracer,
            &self.trace_gate,
            || tcb.id(),
            self.index,
            reason,
            wait,
        );
        if self.block_to_new(tcb) {
            return;
        }
        self.local().switch = Switch::Block;
        switch_out(self, tcb);
    }

    /// The direct block to new work (`direct_new`), if it applies: starts
    /// the new ULT as `dispatch` would (placed here, its stack taken now),
    /// and our block is held while it runs (`lwp/handoff.rs`; no exit is
    /// ever handed to a ULT's first run, `exit_to` switches to a joiner).
    /// True once `tcb` is back from that block. Apart from
    /// `block_current` unoptimised, where its locals would grow every
    /// block's frame (a 16 KiB stack overflowed).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    fn block_to_new(&self, tcb: &'static Tcb) -> bool {
        let Some(new) = self.direct_new(tcb) else {
            return false;
        };
        if new.home.load(Relaxed) == NO_LWP {
            new.home.store(self.index as u32, Relaxed);
            self.placed.count_started();
        }
        // SAFETY: `new` is not started; `ctx` is ours to read (we took it
        // from `fresh`, so this LWP holds it).
        if unsafe { (*new.ctx.get()).is_none() } {
            self.give_stack(new);
        }
        self.block_to(tcb, new);
        true
    }

    /// The direct block's pick of new work (the join's hand-off: a joiner
    /// that blocks on a child not started yet runs the next new ULT
    /// without going through the loop): when nothing started is ready
    /// here, the loop's pick would take from `fresh`, and would do nothing
    /// else first. `None` sends the block through the loop: a pick that
    /// looks at timers or io, anything in `ready`, the inbox or the
    /// injector, an LWP that takes no new work, a ULT that is not pooled,
    /// a panic in flight, a per-ULT TLS block.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn direct_new(&self, tcb: &'static Tcb) -> Option<&'static Tcb> {
        if cfg!(feature = "tls-per-ult") || tcb.kind() != Kind::Pooled {
            return None;
        }
        let l = self.local();
        // The new ULT's stack is taken on ours (`give_stack`).
        let probe = 0u8;
        if l.fresh_is_empty()
            || !has_handoff_room(tcb, std::ptr::addr_of!(probe) as usize)
            || !l.ready.is_empty()
            || !self.inbox.is_empty()
            || (pick::look_at_timers(l.picks, true)
                && (!l.timers.is_empty() || pick::poll_io(l.picks)))
            || rt().global_top() != pick::NONE
            || !self.takes_new_work()
            || std::thread::panicking()
        {
            return None;
        }
        l.picks = l.picks.wrapping_add(1);
        l.deferring = None;
        self.take_fresh()
    }

    /// The loop's duties of both halves of a direct switch, on `from`'s
    /// side before it switches to `to` (`yield_to`, `block_to`): `from`'s
    /// run is charged, `to` switches in.
    /// `share_checked`: the caller's pick made sure that `to` has no share
    /// of the panic count to get back (`thread::panic::has_share`), so the
    /// switch-in need not look again.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn hand_over(&self, from: &'static Tcb, to: &'static Tcb, share_checked: bool) {
        // Where a thread dump starts walking `from`'s stack while it is out.
        from.parked_fp
            .store(context::frame_address() as u32, Relaxed);
        self.charge(from);
        to.state.set_running();
        self.switch_in(to, share_checked);
    }

    /// The direct block: from the running ULT `from`, `BLOCKING`, straight
    /// to `to`, which `direct_pick` took for it. As `yield_to`, with
    /// `from`'s block held uncommitted by this LWP while `to` runs
    /// (`lwp/handoff.rs`). Inlined into `block_current`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn block_to(&self, from: &'static Tcb, to: &'static Tcb) {
        let errno = self.local().errno;
        // SAFETY: this LWP's errno, and we run on it.
        let saved = unsafe { errno.get() };
        self.hand_over(from, to, false);
        self.handoff.switch_blocking(from, || {
            // SAFETY: this LWP runs `from` (us) and holds `to` RUNNING, just
            // taken from its ready queue: both contexts are its, `to`'s
            // switched out (it was queued only once off its stack). `from`
            // is BLOCKING and held: only this LWP queues it, after the
            // switch (`lwp/handoff.rs`, step 3). Both are started: `from`
            // runs, `direct_peek` declined a `to` without a context, and
            // `block_to_new` gave its new ULT one.
            unsafe { context::switch_to(started_context(from), started_context(to)) }
        });
        // Back on `from` (pooled: on this LWP): woken and run again.
        self.commit_handed();
        crate::signal::state::switched_in(from);
        // SAFETY: as above (pooled: the same LWP). Last: weave's work on
        // the way back may have left anything there.
        unsafe { errno.set(saved) };
    }

    /// First thing on a ULT that has just switched in: files the exit of
    /// the ULT that switched to it, if that one ended (`exit_to`; filed as
    /// the loop files one). A block handed on stays held (`lwp/handoff.rs`,
    /// step 2). Only the look is inlined.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn commit_handed(&self) {
        if let Some(t) = self.handoff.take_exit() {
            self.file_handed_exit(t);
        }
    }

    #[inline(never)]
    fn file_handed_exit(&self, t: &'static Tcb) {
        self.file_exit(t);
    }

    /// Step 3 of `lwp/handoff.rs` before this LWP picks: commits the block
    /// held here, if any, with the loop's checks after a commit. Only the
    /// look is inlined.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn settle_held(&self) {
        if self.handoff.holds_block() {
            self.commit_held();
        }
    }

    #[inline(never)]
    fn commit_held(&self) {
        // A deferred wait to publish first goes apart: its call would
        // cost every commit registers to save (`park`'s blocks).
        if !self.handoff.defers_nothing() {
            return self.commit_held_deferred();
        }
        if let Some((t, blocked)) = self.handoff.commit_undeferred() {
            self.after_commit(t, blocked);
        }
    }

    /// [`commit_held`](Self::commit_held) with a deferred wait here: the
    /// held ULT's, published first (`Handoff::commit`), or another's,
    /// left for its own commit.
    #[cold]
    #[inline(never)]
    fn commit_held_deferred(&self) {
        if let Some((t, blocked)) = self.handoff.commit() {
            self.after_commit(t, blocked);
        }
    }

    /// Commits the block held by the calling ULT's LWP, if any: for a look
    /// at the state words that must not find a held ULT `BLOCKING` (a
    /// thread dump's walk of a parked stack). Nothing on an OS thread or
    /// in an LWP's loop (which holds no block).
    pub(crate) fn commit_held_here() {
        if let Some((l, _)) = current_ult() {
            l.settle_held();
        }
    }

    /// `State::wake` for a wake made on this LWP (`sched`): a ULT whose
    /// block this LWP holds has its wait ended by a plain store
    /// (`lwp/handoff.rs`, step 3), any other by the state word's CAS.
    /// Returns what `State::wake` would for the caller to act on; a ULT
    /// that another waker ended while it was held is requeued here
    /// (`Stale` to the caller, which then has nothing to do).
    #[inline(always)]
    pub(crate) fn wake_here(&self, tcb: &'static Tcb, token: WakeToken) -> Wake {
        match self.handoff.end_held(tcb, token) {
            handoff::EndHeld::NotHeld => tcb.state.wake(token),
            handoff::EndHeld::Ended => Wake::Enqueue,
            handoff::EndHeld::Stale => Wake::Stale,
            handoff::EndHeld::EndedBefore => {
                self.requeue_ended(tcb);
                Wake::Stale
            }
        }
    }

    /// Leaves the publication of the wait of `tcb`, the running ULT, about
    /// to block, to this LWP (`lwp/handoff.rs`, "A wait published late"):
    /// false if it cannot (another wait's is left here, or `tcb` is not
    /// pooled), and the caller publishes it.
    #[inline(always)]
    pub(crate) fn defer_publication(&self, tcb: &'static Tcb, d: handoff::Deferred) -> bool {
        tcb.kind() == Kind::Pooled && self.handoff.defer(tcb, d)
    }

    /// For a waker on this LWP: the record of the wait deferred here under
    /// `key`, taken, if `serve` says the waker can serve it now.
    #[inline(always)]
    pub(crate) fn take_deferred(
        &self,
        key: *const (),
        serve: impl FnOnce() -> bool,
    ) -> Option<*const ()> {
        self.handoff.take_deferred(key, serve)
    }

    /// The join's hand-off (`lwp/handoff.rs`, "An exit handed on"): `from`,
    /// the running ULT, has ended (its result is published, nothing of it
    /// runs again) and woke its joiner `to`, a ULT of this LWP that its
    /// wake made RUNNABLE and that no queue holds (`sched::Waiter::
    /// wake_on_exit`). Switches straight to `to` when the loop, having
    /// filed the exit, would pick `to` next (`exit_pick`); else queues `to`
    /// as the wake would have and returns, and `from` ends through the
    /// loop. Does not return when it switches.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub(crate) fn exit_to(&self, from: &'static Tcb, to: &'static Tcb) {
        // The joiner files the exit on its own stack, below where it
        // switched out.
        // SAFETY: `to` is switched out and held by this LWP (woken by us,
        // in no queue): its context is this LWP's to read.
        let room = unsafe { ult_context(to) }
            .saved_stack_pointer()
            .is_some_and(|sp| has_handoff_room(to, sp));
        if !room || !self.exit_pick(from, to) {
            self.push_local(to);
            return;
        }
        self.note_exit(from);
        self.hand_over(from, to, false);
        self.handoff.switch_exiting(from, || {
            // SAFETY: this LWP runs `from` (us) and holds `to` RUNNING, woken
            // by us and in no queue: both contexts are its, `to`'s switched
            // out (it blocked). The x86_64 backend's switch leaves `from`'s
            // stack as it is, to be taken by `finish` on `to`'s side.
            unsafe { context::switch_to(ult_context(from), ult_context(to)) }
        });
        crate::fatal("an exited ULT was switched to")
    }

    /// On the portable backend a coroutine abandoned mid-switch could not
    /// give its stack back: the exit goes through the loop.
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    pub(crate) fn exit_to(&self, _from: &'static Tcb, to: &'static Tcb) {
        self.push_local(to);
    }

    /// Whether the loop, once it filed the exit of `from`, would run `to`
    /// (just woken, of this LWP, not queued) next, with nothing else to do
    /// first: the pick of `pick` with `to` alone in `ready`. Counts the
    /// pick when it says yes. Declines (the loop decides) when timers or
    /// io are due, when anything else is ready or in the inbox, when new
    /// work would win this pick (`pick::plan`), when either side is not
    /// pooled, and when panics are in flight on either side.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn exit_pick(&self, from: &'static Tcb, to: &'static Tcb) -> bool {
        if cfg!(feature = "tls-per-ult") || from.kind() != Kind::Pooled || to.kind() != Kind::Pooled
        {
            return false;
        }
        let l = self.local();
        if (pick::look_at_timers(l.picks, false)
            && (!l.timers.is_empty() || pick::poll_io(l.picks)))
            || !l.ready.is_empty()
            || !self.inbox.is_empty()
        {
            return false;
        }
        let picks = l.picks.wrapping_add(1);
        let (fresh, global) = self.new_work_levels(l.fresh.is_empty());
        let plan = pick::plan(
            i32::from(to.priority()),
            fresh,
            global,
            pick::new_first(false, picks),
        );
        if plan.fresh
            || plan.global_floor.is_some()
            || std::thread::panicking()
            || crate::thread::panic::has_share(to)
        {
            return false;
        }
        l.picks = picks;
        true
    }

    /// This LWP's trace recorder (its thread's) and gate, for
    /// `trace::listen_wake_in`. Called on the LWP's thread only, as
    /// `local`.
    #[inline]
    pub(crate) fn tracer(&self) -> (trace::Tracer, &trace::Gate) {
        (self.local().tracer, &self.trace_gate)
    }

    /// Counts a wake made on this LWP (`sched::enqueue_woken`, whether or
    /// not a trace hook listens; `flush_runs` adds it to the trace counters).
    #[inline]
    pub(crate) fn count_wake(&self) {
        self.local().wakes += 1;
    }

    /// Switches the running ULT out as runnable: straight to the next ULT
    /// of this LWP when the pick would be a plain one (`direct_pick`),
    /// else through the loop.
    #[inline(never)]
    pub(crate) fn yield_current(&self, tcb: &'static Tcb) {
        // No settling of a held block here (`block_current` settles before
        // its pick): a yield's pick finds the same ULTs either way, and
        // the held ULT, ended elsewhere, is requeued at the next block or
        // turn of the loop, which a chain of yields reaches within the
        // pick's cadence (`pick::look_at_timers`, `poll_io`). A load and
        // a branch less a yield.
        tcb.state.set_runnable();
        let prio = tcb.priority();
        if let Some(top) = self.direct_peek(tcb, prio) {
            // Behind its equals, as the loop's requeue puts it; the pop
            // and the push in one (a turn of its level's list when the
            // next ULT is an equal).
            let next = self.local().ready.rotate(tcb, prio, top);
            self.yield_to(tcb, next);
            return;
        }
        self.local().switch = Switch::Yield;
        switch_out(self, tcb);
    }

    /// The symmetric switch's pick, on the side of `tcb`, the running ULT
    /// that yields or blocks: the ULT the loop would run next, taken from
    /// `ready`, when the loop's `pick` would do nothing else. `None` sends
    /// the switch through the loop: a pick that looks at timers or io, new
    /// work (fresh or global, which the loop weighs against started work),
    /// a ULT that is not pooled (a migratable one may come back on another
    /// LWP), nothing at `floor` or above to run (a yielding `tcb` passes its
    /// own priority: the loop would run it again), panics in flight on
    /// either side (`thread/panic.rs` moves them in the loop), and a per-ULT
    /// TLS block to install (`tls-per-ult`, whose install is the loop's).
    /// A yielding caller queues `tcb` itself.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn direct_pick(&self, tcb: &'static Tcb, floor: u8) -> Option<&'static Tcb> {
        let top = self.direct_peek(tcb, floor)?;
        Some(self.local().ready.pop_top(top))
    }

    /// `direct_pick` without the pop: the level of the ULT it would take
    /// (the top one of `ready`), left at the head of `ready` for the
    /// caller to take (a yield takes it and queues itself in one step,
    /// `ReadyQueue::rotate`). Counts the pick when it says yes.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn direct_peek(&self, tcb: &'static Tcb, floor: u8) -> Option<u8> {
        if cfg!(feature = "tls-per-ult") || tcb.kind() != Kind::Pooled {
            return None;
        }
        let l = self.local();
        // The loop's pick, step by step (see `pick`). Its look at timers
        // and io on their cadence; and, when nothing is ready, at timers
        // at any pick: asked only when the inbox has ULTs to make ready
        // (with neither, nothing below is ready to switch to, and the
        // loop decides), so that the common case tests the cadence alone.
        if pick::look_at_timers(l.picks, false) && (!l.timers.is_empty() || pick::poll_io(l.picks))
        {
            return None;
        }
        if !self.inbox.is_empty() {
            if l.ready.is_empty() && !l.timers.is_empty() {
                return None;
            }
            self.inbox.take_all(|t| l.ready.push_woken(t));
        }
        if !l.fresh_is_empty() || l.rt().global_top() != pick::NONE {
            return None;
        }
        let top = l.ready.top_from(floor)?;
        let next = l.ready.head_of(top);
        if std::thread::panicking() {
            return None;
        }
        // New ULTs go to `fresh` or the injector, or come through the inbox
        // with their home set (`adopt_new`): what is here was placed.
        debug_assert!(next.home.load(Relaxed) != NO_LWP);
        // A new ULT handed over by a sibling (`adopt_new`) has no stack
        // until its first run, which the loop's `dispatch` makes.
        // SAFETY: `next` is RUNNABLE in this LWP's ready queue: its
        // context is this LWP's to read.
        if crate::thread::panic::has_share(next) || unsafe { (*next.ctx.get()).is_none() } {
            return None;
        }
        l.picks = l.picks.wrapping_add(1);
        // A store, not a test and a store: the pick ran started work, so
        // a deferral of new work has ended (as in `pick`).
        l.deferring = None;
        Some(top)
    }

    /// The symmetric switch: from the running ULT `from`, already queued,
    /// straight to `to`, which `direct_pick` took for it. Does the
    /// loop's duties of both halves: `from`'s run is charged, `to`
    /// switches in. Inlined into `yield_current`, which is not inlined
    /// anywhere (one prologue for the whole yield); `from` is pooled, so
    /// it comes back on this OS thread, and thread-local addresses the
    /// compiler kept across the switch stay right.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn yield_to(&self, from: &'static Tcb, to: &'static Tcb) {
        let errno = self.local().errno;
        // SAFETY: this LWP's errno, and we run on it.
        let saved = unsafe { errno.get() };
        // Both callers' picks (`direct_peek`, `yield_to_woken`) declined a
        // `to` with a share of the panic count.
        self.hand_over(from, to, true);
        // SAFETY: this LWP runs `from` (us) and holds `to` RUNNING, just
        // taken from its ready queue: both contexts are its, `to`'s
        // switched out (it was queued only once off its stack). Both are
        // started: `from` runs, and both callers' picks declined a `to`
        // without a context.
        unsafe { context::switch_to(started_context(from), started_context(to)) };
        // Back on `from`: first a block handed to it, then a safe point to
        // deliver signals pending on it, then its errno (last: weave's work
        // on the way back may have left anything there).
        self.commit_handed();
        crate::signal::state::switched_in(from);
        // SAFETY: as above (pooled: the same LWP).
        unsafe { errno.set(saved) };
    }

    /// The switch to a given ULT: the running ULT `from` lets `to`, a ULT
    /// placed on this LWP that a wake it made just now moved to RUNNABLE
    /// and that no queue holds yet, run at once, and runs again next
    /// itself (first of its level: it gave its turn to `to`, it did not
    /// ask to wait behind its equals). True once `from` runs again after
    /// the switch; false, with `to` queued as any woken ULT
    /// (`push_local`), when the loop must pick instead: either side not
    /// pooled, `to` below `from`'s priority (the switch would invert
    /// them), a panic in flight on either side, or the loop's look at
    /// timers and io due at this pick (`pick.rs`'s cadence, which a chain
    /// of direct switches would otherwise skip). A rendezvous receiver
    /// that took a waiting sender's value hands its LWP to that sender
    /// (`sched::Waiter::wake_and_switch`); anything that wakes a ULT of
    /// its LWP and would rather it ran now can do the same.
    #[inline(never)]
    pub(crate) fn yield_to_woken(&self, from: &'static Tcb, to: &'static Tcb) -> bool {
        debug_assert!(to.home.load(Relaxed) as usize == self.index);
        let due = {
            let l = self.local();
            pick::look_at_timers(l.picks, false) && (!l.timers.is_empty() || pick::poll_io(l.picks))
        };
        if cfg!(feature = "tls-per-ult")
            || from.kind() != Kind::Pooled
            || to.kind() != Kind::Pooled
            || to.priority() < from.priority()
            || due
            || std::thread::panicking()
            || crate::thread::panic::has_share(to)
        {
            self.push_local(to);
            return false;
        }
        // SAFETY: `to` blocked, so it ran and has its context; it is
        // RUNNABLE in no queue (the caller's wake did not queue it).
        debug_assert!(unsafe { (*to.ctx.get()).is_some() });
        {
            let l = self.local();
            l.picks = l.picks.wrapping_add(1);
            l.deferring = None;
            from.state.set_runnable();
            l.ready.push_front(from);
        }
        self.yield_to(from, to);
        true
    }

    /// The monitor asks this LWP to trim `reqs`, ULTs placed here (step 2
    /// of `lwp/trim.rs`), and wakes it if it sleeps.
    pub(crate) fn request_trims(&self, reqs: &[trim::Request]) {
        if reqs.is_empty() {
            return;
        }
        self.trims.push(reqs);
        // Pairs with the fence in `idle` (Dekker, as `push_remote`): either
        // we see `sleeping`, or its last look sees the requests.
        fence(SeqCst);
        if self.claim_sleeping() {
            self.parker.unpark();
        }
    }

    /// Step 3 of `lwp/trim.rs`, if the monitor asked: called from this
    /// LWP's scheduler loop only.
    fn trim_if_due(&self) {
        if let Some(reqs) = self.trims.take() {
            let compacted = trim::trim_all(reqs, self.index, &rt().stacks);
            let l = self.local();
            l.compacted += compacted;
            if l.compacted != 0 {
                // Every switch-in looks for a compacted stack to restore.
                l.chores = 1;
            }
        }
    }

    /// Pushes a new, not-yet-started ULT of default priority where this
    /// LWP's idle siblings can steal it (`sched::place::place_new` decides).
    pub(crate) fn push_fresh(&self, tcb: &'static Tcb) {
        let l = self.local();
        l.fresh.push(Task(tcb));
        l.fresh_queued = true;
    }

    /// Rule 5 of `sched/place.rs`: makes this LWP the home of `tcb`, a new
    /// ULT that a much heavier sibling was about to start, and queues it
    /// here, to start as woken work does. False if this LWP is no longer a
    /// pool member (the caller starts the ULT itself). The count and the
    /// push happen under the pool lock, where `pool::commit_leave` looks at
    /// both again: an LWP that decided to leave just before stays.
    pub(crate) fn adopt_new(&self, tcb: &'static Tcb) -> bool {
        let _pool = rt().pool.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_pool_member() {
            return false;
        }
        tcb.home.store(self.index as u32, Relaxed);
        self.placed.adopt();
        trace::emit(Event::Steal {
            ult: tcb.id(),
            from: current().map_or(self.index, |l| l.index),
            to: self.index,
        });
        self.push_remote(tcb);
        true
    }

    /// Work placed here that keeps a retiring LWP from leaving: started
    /// ULTs, or ULTs queued in its inbox (`pool::commit_leave`).
    pub(crate) fn has_placed_work(&self) -> bool {
        self.placed() != 0 || !self.inbox.is_empty()
    }

    /// Can new work be placed here? (Not bound, not retiring.)
    pub(crate) fn takes_new_work(&self) -> bool {
        !self.is_bound() && !self.retiring.load(Relaxed)
    }

    /// The scheduler loop of this LWP's OS thread.
    fn run(&'static self) {
        stack::install_overflow_handler();
        // This thread is an LWP before its kernel mask opens: a signal
        // that comes in between must find `lwp::current()` set, or case 4
        // of the signal wrapper would block it here without telling the
        // ULTs (`KBLOCKED_ANY`), and no unblock would ever open it again.
        CURRENT.with(|c| c.set(self));
        self.local().tracer = trace::Tracer::this_thread(self.index);
        trace::register_gate(&self.trace_gate);
        self.local().errno = context::errno::Errno::of_this_thread();
        crate::signal::state::lwp_started();
        self.local().last_tick = 0;
        self.local().rt = rt();
        // SAFETY: gettid has no preconditions.
        self.tid.store(unsafe { libc::gettid() }, Relaxed);
        trace::emit(Event::LwpStart {
            lwp: self.index,
            bound: self.is_bound(),
        });
        // An LWP that ran in this slot before left its epoll set (if it
        // made one) to us: its registrations stay there, polled by us.
        if let Some(r) = crate::reactor::try_get() {
            r.attend(self.index, true);
        }
        loop {
            if let Some(t) = self.pick() {
                self.dispatch(t);
                continue;
            }
            self.show_idle();
            if self.should_leave() && (self.is_bound() || pool::commit_leave(self)) {
                break;
            }
            let found = self.idle();
            // Back from idle: the monitor may have parked while nothing ran.
            rt().monitor.wake();
            // Idle time is nobody's run time.
            self.local().last_tick = if clock::accounting() {
                clock::ticks()
            } else {
                0
            };
            if let Some(t) = found {
                self.dispatch(t);
            }
        }
        self.leave();
    }

    /// Chooses the next ULT: does what `sched::pick` says, with the
    /// placement rules of `sched::place`.
    #[inline]
    fn pick(&self) -> Option<&'static Tcb> {
        let l = self.local();
        if pick::look_at_timers(l.picks, l.ready.is_empty())
            && (!l.timers.is_empty() || pick::poll_io(l.picks))
        {
            self.housekeeping();
        }
        if !self.inbox.is_empty() {
            let l = self.local();
            self.inbox.take_all(|t| l.ready.push_woken(t));
        }
        let l = self.local();
        l.picks = l.picks.wrapping_add(1);
        // The common pick: no new work anywhere, so the rule below would
        // take from `ready` (the plan of an empty `fresh` and injector).
        if l.fresh_is_empty() && l.rt().global_top() == pick::NONE {
            l.deferring = None;
            return l.ready.pop();
        }
        let ready = l.ready.top().map_or(pick::NONE, i32::from);
        let (fresh, global) = self.new_work_levels(l.fresh.is_empty());
        let mut new_first = pick::new_first(l.switch == Switch::Yield, l.picks);
        if ready > pick::NONE && ready == fresh.max(global) {
            if place::defer_new_work(self, ready as u8, &mut l.deferring) {
                new_first = false;
            }
        } else if l.deferring.is_some() {
            l.deferring = None;
        }
        let plan = pick::plan(ready, fresh, global, new_first);
        if let Some(floor) = plan.global_floor {
            if let Some(t) = rt().pop_global(floor) {
                return self.keep_new(t).or_else(|| self.local().ready.pop());
            }
        }
        if plan.fresh {
            if let Some(t) = self.take_fresh() {
                return Some(t);
            }
        }
        self.local().ready.pop()
    }

    /// The top levels of new work this LWP may take, for `pick::plan`:
    /// `fresh`'s (the caller says if it is empty) and the injector's
    /// ([`pick::NONE`] if empty, or if the LWP takes no new work).
    #[inline]
    fn new_work_levels(&self, fresh_empty: bool) -> (i32, i32) {
        if !self.takes_new_work() {
            return (pick::NONE, pick::NONE);
        }
        let fresh = if fresh_empty {
            pick::NONE
        } else {
            i32::from(DEFAULT_PRIORITY)
        };
        (fresh, rt().global_top())
    }

    /// The pick's step into `fresh`: the first new ULT that stays here (a
    /// much lighter or an empty sibling adopts one, `place::lighter_home`),
    /// waking a lighter sibling for the rest. `None` if none stays.
    #[inline]
    fn take_fresh(&self) -> Option<&'static Tcb> {
        while let Some(t) = self.local().fresh.pop() {
            if !self.local().fresh.is_empty() && place::wake_lighter_sibling(self) {
                rt().notify_work(DEFAULT_PRIORITY);
            }
            match place::lighter_home(self, &mut self.local().spread_at) {
                Some(home) if home.adopt_new(t.0) => continue,
                _ => return self.keep_new(t.0),
            }
        }
        None
    }

    /// The pick's less frequent looks (`sched::pick`): due timers, and on
    /// its own cadence io and the monitor's trim requests. Shows the LWP
    /// idle first: what follows may take a while (system calls), and must
    /// not be charged to the ULT that ran last.
    #[cold]
    #[inline(never)]
    fn housekeeping(&self) {
        self.show_idle();
        let l = self.local();
        let io = pick::poll_io(l.picks);
        if !l.timers.is_empty() {
            self.fire_timers();
        }
        if io {
            self.poll_io_now();
            self.trim_if_due();
        }
    }

    /// Shows that no ULT runs here (for the monitor, the deadlock detector
    /// and the signal router, which read `running`; for wakers, which read
    /// `running_prio`). A switch from one ULT straight to the next skips
    /// this: `dispatch` overwrites both words, and the loop's own steps in
    /// between take a few nanoseconds and make no system call. Everything
    /// slower (housekeeping, idling, a ULT's exit) comes here first.
    #[inline]
    fn show_idle(&self) {
        self.running_prio.store(IDLE, Relaxed);
        self.running
            .store(u64::from(self.local().seq) << 32, Relaxed);
    }

    /// A not-yet-started ULT this LWP just took: keeps it, unless the LWP
    /// began retiring since it decided to take new work (set_concurrency
    /// raced with the pick), in which case the ULT goes back to the
    /// injector for the remaining pool.
    fn keep_new(&self, t: &'static Tcb) -> Option<&'static Tcb> {
        if self.takes_new_work() {
            Some(t)
        } else {
            rt().push_global(t);
            None
        }
    }

    /// Collects the io events of this LWP's own epoll set without waiting,
    /// if ULTs wait on it and the monitor is not polling it. Returns the
    /// number of events.
    #[cold]
    #[inline(never)]
    fn poll_io_now(&self) -> usize {
        trace::end_switch();
        match crate::reactor::try_get() {
            Some(r) if r.waiters_of(self.index) > 0 && r.try_claim(self.index) => {
                let n = r.poll(self.index, Some(Instant::now()));
                r.release(self.index);
                n
            }
            _ => 0,
        }
    }

    #[cold]
    #[inline(never)]
    fn fire_timers(&self) {
        let now = timers::now_slot(Instant::now());
        let mut due = std::mem::take(&mut self.local().due);
        while self.local().timers.take_due_slot(now, &mut due) {}
        if due.is_empty() {
            self.local().due = due;
            return;
        }
        self.timers_pending.fetch_sub(due.len(), Relaxed);
        for (tcb, token) in due.drain(..) {
            if trace::hooked() {
                trace::emit(Event::TimerFired {
                    ult: tcb.id(),
                    lwp: self.index,
                });
            }
            if tcb.state.wake(token) == Wake::Enqueue {
                crate::sched::enqueue_woken(tcb);
            }
        }
        self.local().due = due;
    }

    /// Runs `t` until a ULT goes back to the loop (`t`, or one it switched
    /// to directly), then files that one.
    fn dispatch(&'static self, t: &'static Tcb) {
        t.state.set_running();
        if t.home.load(Relaxed) == NO_LWP {
            t.home.store(self.index as u32, Relaxed);
            // A migratable ULT is not placed: it may finish elsewhere.
            if t.kind() != Kind::Migratable {
                self.placed.count_started();
            }
        }
        self.switch_in(t, false);
        // SAFETY: `ctx` is owned by the LWP holding the ULT RUNNING (us).
        let ctx = match unsafe { (*t.ctx.get()).as_ref() } {
            Some(ctx) => ctx,
            // Its first run: the stack promised at spawn is taken now
            // (`thread/first_run.rs`), before a TLS block of the ULT's
            // is installed.
            None => self.give_stack(t),
        };
        #[cfg(feature = "tls-per-ult")]
        let own_tp = self.enter_ult_tls(t);
        // SAFETY: we are the loop of the LWP holding the ULT RUNNING, and
        // `home` is ours.
        let outcome = unsafe { ctx.resume(&self.home) };
        // SAFETY: the LWP's own thread pointer, taken by `enter_ult_tls`.
        #[cfg(feature = "tls-per-ult")]
        unsafe {
            context::tls::install(own_tp)
        };
        // The ULT that came back: `t`, or the last of a chain of direct
        // switches (`yield_to`), which each named the ULT switched to.
        let t = crate::thread::current::running().unwrap_or(t);
        // A block held since a direct switch (an exit handed on is filed
        // as its ULT switches in) is settled before this loop picks; the
        // ULT that came back blocked or yielded (and settled it then), or
        // ended.
        self.settle_held();
        debug_assert!(self.handoff.is_empty(), "a handed-on exit was not filed");
        if outcome == Resumed::Suspended {
            // Before anything else runs here: the ULT's panics go with it.
            crate::thread::panic::switch_out(t);
        }
        self.charge(t);
        // `running` and `running_prio` still name `t`: the next dispatch or
        // `show_idle` overwrites them (see there).
        crate::thread::current::set_running(None);
        let switch = self.local().switch;
        match outcome {
            Resumed::Finished => {
                self.show_idle();
                self.finish(t)
            }
            Resumed::Suspended => match switch {
                Switch::Yield => self.requeue(t),
                Switch::Block => {
                    // A wait `t` left for this LWP to publish is published
                    // before the commit (`lwp/handoff.rs`, "A wait
                    // published late").
                    self.handoff.publish_deferred(t);
                    self.after_commit(t, t.state.commit_block())
                }
            },
        }
        // Whatever wait was deferred was published by now (the held
        // block's settle, or `t`'s own above).
        debug_assert!(
            self.handoff.defers_nothing(),
            "a deferred wait outlived its block"
        );
    }

    /// `t`'s first run: its stack, from this LWP's death row first.
    #[cold]
    #[inline(never)]
    fn give_stack(&self, t: &'static Tcb) -> &'static context::Context {
        // SAFETY: we hold `t` RUNNING and it has no context yet (its first
        // run); the borrow of our caches ends with the call.
        unsafe { crate::thread::first_run::give_stack(t, &rt().stacks, &mut self.local().stacks) }
    }

    /// After the commit of `t`'s block (by the loop, or by the ULT a direct
    /// block switched to): `blocked` is the commit's answer.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn after_commit(&self, t: &'static Tcb, blocked: bool) {
        if !blocked {
            // Woken while switching out: it is RUNNABLE again.
            self.requeue(t);
        } else if crate::signal::state::blocked_with_pending(t) {
            self.interrupt_wait(t);
        } else if crate::thread::cancel_word::due(&t.cancel, SeqCst) {
            // A cancellation request came while it was on its way to the
            // block (`thread/cancel.rs`, module doc): the requester could
            // not wake it; we do.
            self.end_wait(t);
        }
    }

    /// The per-switch duties as `t` (RUNNING, placed) switches in: on the
    /// loop's side (`dispatch`) or, for a direct switch, on the side of the
    /// ULT switching to it (`yield_to`). The monitor's word, the preemption
    /// flag and priority, the running thread-locals, the counts, the trace
    /// event and `t`'s share of the panic count.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn switch_in(&self, t: &'static Tcb, share_checked: bool) {
        // Clear an old request first, then publish the new priority with
        // Release: a requester that reads the new priority (Acquire, in
        // `request_preempt_below`) raises the flag after our clear, so its
        // request stands.
        self.preempt.store(false, Relaxed);
        self.running_prio.store(t.priority(), Release);
        // A wake that arrived between the pick and now read IDLE and asked
        // for nothing: let the next safe point look at the inbox.
        if !self.inbox.is_empty() {
            self.preempt.store(true, Relaxed);
        }
        crate::thread::current::set_running(Some(t));
        {
            let l = self.local();
            l.seq = l.seq.wrapping_add(1);
            let seq = l.seq;
            self.running
                .store((u64::from(seq) << 32) | u64::from(t.index + 1), Relaxed);
            // Until the ULT says otherwise (a yield), it blocked or exited.
            l.switch = Switch::Block;
            l.chores -= 1;
            if l.chores == 0 {
                self.chores(t);
            }
        }
        stack::set_running_info(t.overflow.get());
        trace::listen_run(self.local().tracer, &self.trace_gate, || t.id(), self.index);
        t.switches.store(t.switches.load(Relaxed) + 1, Relaxed);
        // The ULT's share of std's panic count comes back with it.
        if !share_checked {
            crate::thread::panic::switch_in(t);
        }
    }

    /// The chores of a switch-in that `Local::chores` counted down to:
    /// `t`'s compacted stack comes back before it runs, and the runs are
    /// flushed every [`FLUSH_EVERY`]; then the count starts again (1 while
    /// compacted stacks remain here).
    #[cold]
    #[inline(never)]
    fn chores(&self, t: &'static Tcb) {
        let l = self.local();
        if l.compacted != 0 && trim::restore_compacted(t) {
            l.compacted -= 1;
        }
        if l.seq.wrapping_sub(l.flushed) >= FLUSH_EVERY {
            self.flush_runs();
        }
        let l = self.local();
        l.chores = if l.compacted != 0 {
            1
        } else {
            // A flush made elsewhere since (the loop's, as it idles) moved
            // `flushed`: the next is due that much later.
            FLUSH_EVERY
                .saturating_sub(l.seq.wrapping_sub(l.flushed))
                .max(1)
        };
    }

    /// Charges the run that ends now to `t` (with accounting on).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn charge(&self, t: &'static Tcb) {
        if clock::accounting() {
            // One clock read per switch: the end of this run is the start of
            // the next. (`last_tick` is 0 right after accounting is turned
            // on: that first run is not charged.) While a trace is
            // recorded, the Block just before this switch read the clock
            // already: its timestamp serves here too (`trace::switch_stamp`).
            let now = trace::switch_stamp().unwrap_or_else(clock::ticks);
            let l = self.local();
            if l.last_tick != 0 {
                let spent = now.wrapping_sub(l.last_tick);
                t.run_ticks
                    .store(t.run_ticks.load(Relaxed) + spent, Relaxed);
            }
            l.last_tick = now;
        } else {
            self.local().last_tick = 0;
        }
    }

    /// A signal the ULT does not block came while it was blocking: end the
    /// wait so that it delivers the signal (`signal/state.rs`).
    #[cold]
    fn interrupt_wait(&self, t: &'static Tcb) {
        crate::signal::state::mark_interrupted(t);
        self.end_wait(t);
    }

    /// Ends the wait `t` has just committed to, making it runnable here.
    #[cold]
    fn end_wait(&self, t: &'static Tcb) {
        let token = WakeToken {
            epoch: t.state.load().epoch(),
        };
        if t.state.wake(token) == Wake::Enqueue {
            self.requeue(t);
        }
    }

    /// `requeue` of a held ULT whose wait another waker ended
    /// (`wake_here`): rare, and out of line, so that the wakes that inline
    /// `wake_here` keep no registers for its push on the injector.
    #[cold]
    #[inline(never)]
    fn requeue_ended(&self, t: &'static Tcb) {
        self.requeue(t);
    }

    fn requeue(&self, t: &'static Tcb) {
        if t.kind() == Kind::Migratable {
            rt().push_global(t);
        } else {
            self.local().ready.push(t);
        }
    }

    /// Recycles an exited ULT: its stack and TCB go to this LWP's death row.
    fn finish(&self, t: &'static Tcb) {
        self.note_exit(t);
        self.file_exit(t);
    }

    /// Counts and emits the exit of `t` (before the next Run on this LWP:
    /// `exit_to` does it before its switch).
    fn note_exit(&self, t: &'static Tcb) {
        self.local().exits += 1;
        trace::listen_exit_in(self.local().tracer, &self.trace_gate, || t.id(), self.index);
    }

    /// The rest of `finish`, once `t` is off its stack for good.
    fn file_exit(&self, t: &'static Tcb) {
        // SAFETY: the ULT has finished; its context is ours to take.
        let ctx = unsafe { (*t.ctx.get()).take() }.expect("a finished ULT has a context");
        let stack = ctx.into_stack();
        // SAFETY: as for `ctx`; the block is not installed (we run on ours).
        #[cfg(feature = "tls-per-ult")]
        drop(unsafe { (*t.tls.get()).take() });
        let l = self.local();
        // A stack of the program's (`Stack::user`) is the program's again;
        // a solo one (a guard of its own size) goes back to the kernel.
        if stack.is_solo() {
            // SAFETY: its ULT has finished and we run on our own stack.
            unsafe { stack::solo::release(stack) };
        } else if !stack.is_user() && rt().stacks.give(stack, &mut l.stacks) {
            rt().monitor.wake();
        }
        // Pinned ULTs finish where they were placed; a migratable one was
        // never counted (it finished on whichever LWP ran it last, and
        // counting it wrapped that LWP's count below zero: a retiring LWP
        // then never left, and balancing read it as the busiest LWP).
        if t.kind() != Kind::Migratable {
            self.placed.count_exited(self.index);
        }
        table().release(t, &mut self.local().slots);
    }

    /// Adds this LWP's switches since the last flush to its row of the LWP
    /// table and to the trace counters, and publishes its other counted
    /// events.
    fn flush_runs(&self) {
        let l = self.local();
        let n = u64::from(l.seq.wrapping_sub(l.flushed));
        l.flushed = l.seq;
        trace::add_runs(n);
        trace::add_lwp_counts(
            std::mem::take(&mut l.blocks),
            std::mem::take(&mut l.wakes),
            std::mem::take(&mut l.exits),
        );
        trace::publish();
        self.runs.fetch_add(n, Relaxed);
    }

    fn should_leave(&self) -> bool {
        let l = self.local();
        let empty = l.ready.is_empty() && l.timers.is_empty() && self.inbox.is_empty();
        if !empty || self.placed() != 0 {
            return false;
        }
        // A bound LWP leaves once its ULT has exited (`placed` was 1 from
        // the start); a pool LWP once it is retiring.
        self.is_bound() || self.retiring.load(Acquire)
    }

    /// Nothing to run: search for work, then sleep. Returns a ULT to run.
    #[cold]
    #[inline(never)]
    fn idle(&self) -> Option<&'static Tcb> {
        // The next Run is no longer the other half of the last switch.
        trace::end_switch();
        crate::signal::state::lwp_idle();
        let rt = rt();
        self.trim_if_due();
        if self.retiring.load(Acquire) {
            self.hand_off_fresh();
        }
        // Io first, as Go's scheduler looks at the network before it steals:
        // on loopback the event a ULT here waits for is often in already,
        // and spin-searching ~10 µs before sleeping in the reactor would
        // delay it by that much.
        if self.poll_io_now() > 0 && (!self.local().ready.is_empty() || !self.inbox.is_empty()) {
            return None;
        }
        // Spin-search only while fewer than half of the busy LWPs do (Go's
        // rule): on a machine with few CPUs, spinners would otherwise take
        // the CPU from the threads that make the work, and one searcher is
        // enough to pick up a burst (it wakes the next when it finds work).
        if self.takes_new_work() && rt.idle.try_start_search() {
            let search = self.search();
            let found = match search {
                Search::Found(t) => Some(t),
                Search::OwnWork | Search::Nothing => None,
            };
            // We counted as a searcher, so pushers woke nobody for the work
            // they queued meanwhile: settle that whichever way the search
            // ended (`sched/idle.rs`, step 2).
            match rt
                .idle
                .end_search(found.is_some(), || self.takes_new_work())
            {
                SearchEnd::Settled => {}
                // The last searcher: let another look for the rest of the
                // burst.
                SearchEnd::WakeAnother => {
                    rt.notify_work(found.map_or(DEFAULT_PRIORITY, |t| t.priority()))
                }
                // Retired mid-search: we will not look at new work again.
                SearchEnd::HandOver => self.hand_over_new_work(rt),
            }
            match search {
                Search::Found(t) => return Some(t),
                Search::OwnWork => return None,
                Search::Nothing => {}
            }
        }
        // Announce the sleep, then look one last time (Dekker with the
        // pushers' fence; see `sched/idle.rs`).
        let member = self.takes_new_work();
        rt.idle.announce_sleep(&self.sleeping, member);
        // Retiring is not work: `set_concurrency` unparks a retiring LWP
        // once, which is enough for it to hand off its queue and, if nothing
        // is placed on it, leave. Counting it here made a retiring LWP with
        // blocked ULTs spin instead of sleeping until they wake.
        let work = !self.inbox.is_empty()
            || self.trims.due()
            || self.timer_due()
            || (self.takes_new_work() && self.new_work_visible());
        if !work {
            self.flush_runs();
            if member && rt.idle.all_members_idle() {
                // The last pool LWP to go idle: if every thread is now
                // blocked, nothing will run again; let the monitor look.
                rt.monitor.check_deadlock_soon();
            }
            let deadline = self.local().timers.next_deadline();
            trace::emit(Event::LwpIdle { lwp: self.index });
            // Sleep in our own epoll set if we have one: io readiness of
            // the fds our ULTs wait on, our timers and new work then all
            // end the sleep (see `reactor`). If the monitor holds the set's
            // role for its tick's poll, leave a note: its release wakes us
            // to take the role, rather than leaving our io to its next
            // tick. Without a set, no ULT ever waited for io here.
            let i = self.index;
            match crate::reactor::try_get() {
                Some(r) if r.try_claim(i) || r.claim_or_note_miss(i) => {
                    self.parker.park_polling(deadline, r);
                    r.release(i);
                }
                _ => self.parker.park(deadline),
            }
            trace::emit(Event::LwpBusy { lwp: self.index });
        }
        // Not claimed by a waker: take ourselves off the count.
        rt.idle.end_sleep(&self.sleeping);
        // Take new work before leaving `idle_members`: a busy sibling defers
        // new work to us only while we count as idle (see `pick`), so we
        // must not stop counting until we have had our chance at it.
        let found = if member && self.takes_new_work() {
            self.find_new_work().and_then(|t| self.keep_new(t))
        } else {
            None
        };
        if member {
            rt.idle.leave_idle();
        }
        found
    }

    /// Step 2 of `sched/idle.rs` (the caller counts as a searcher): up to
    /// `SEARCH_ROUNDS` looks at the injector and the siblings' new work.
    /// Stops early when work of its own comes (a wake in the inbox, a due
    /// timer) or when the LWP begins retiring.
    fn search(&self) -> Search {
        for _ in 0..SEARCH_ROUNDS {
            // Retirement may come mid-search: from then on, no new work.
            if !self.takes_new_work() {
                return Search::Nothing;
            }
            if let Some(t) = self.find_new_work().and_then(|t| self.keep_new(t)) {
                return Search::Found(t);
            }
            if !self.inbox.is_empty() || self.timer_due() {
                return Search::OwnWork;
            }
            for _ in 0..SEARCH_SPINS {
                std::hint::spin_loop();
            }
        }
        Search::Nothing
    }

    fn timer_due(&self) -> bool {
        self.local()
            .timers
            .next_deadline()
            .is_some_and(|d| d <= Instant::now())
    }

    fn new_work_visible(&self) -> bool {
        rt().global_top() >= 0
            || rt()
                .lwps()
                .any(|l| !std::ptr::eq(l, self) && l.is_alive() && !l.stealer().is_empty())
    }

    /// Takes a not-yet-started ULT from the injector or another LWP.
    fn find_new_work(&self) -> Option<&'static Tcb> {
        if let Some(t) = rt().pop_global(-1) {
            return Some(t);
        }
        let rt = rt();
        for victim in rt.lwps() {
            if std::ptr::eq(victim, self) || !victim.is_alive() {
                continue;
            }
            if place::refuses_to_steal(self, victim) {
                continue;
            }
            loop {
                let l = self.local();
                // The batch may leave ULTs in `fresh`.
                l.fresh_queued = true;
                match victim.stealer().steal_batch_and_pop(&l.fresh) {
                    Steal::Success(t) => {
                        trace::emit(Event::Steal {
                            ult: t.0.id(),
                            from: victim.index,
                            to: self.index,
                        });
                        return Some(t.0);
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        None
    }

    /// Makes sure a pool LWP will look at new work that is queued, now that
    /// this one no longer takes any (it is retiring). Takes the runtime as
    /// an argument: `set_concurrency_in` runs while the runtime starts,
    /// when `rt()` would re-enter its initialisation.
    pub(crate) fn hand_over_new_work(&self, rt: &Runtime) {
        // Two pairings (`sched/idle.rs`, step 2). From a retired searcher:
        // with the fence of a pusher that saw it searching and so woke
        // nobody; after it, the looks below see that push. From a retirer
        // (`pool.rs`): it stands between marking an LWP retiring and
        // `should_wake`, and pairs with the fence in `Idle::end_search`.
        fence(SeqCst);
        let top = rt.global_top();
        if top >= 0 || rt.lwps().any(|l| l.has_fresh_work()) {
            rt.notify_work(top.max(0) as u8);
        }
    }

    /// A retiring LWP gives its not-yet-started ULTs to the injector.
    fn hand_off_fresh(&self) {
        while let Some(t) = self.local().fresh.pop() {
            rt().push_global(t.0);
        }
    }

    fn leave(&self) {
        self.hand_off_fresh();
        self.flush_runs();
        let l = self.local();
        l.stacks.drain_into(&rt().stacks);
        table().drain(&mut l.slots);
        l.packets.clear();
        trace::emit(Event::LwpExit { lwp: self.index });
        self.local().tracer = trace::Tracer::NONE;
        CURRENT.with(|c| c.set(std::ptr::null()));
        // A wait on a registration of our epoll set moves it to the
        // waiter's LWP from now on (the monitor's tick polls the set
        // meanwhile).
        if let Some(r) = crate::reactor::try_get() {
            r.attend(self.index, false);
        }
        rt().monitor.wake();
        pool::leave(self);
    }

    /// Index of this LWP.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// A snapshot of this LWP for the LWP table.
    pub(crate) fn info(&self) -> LwpInfo {
        LwpInfo {
            index: self.index,
            tid: self.tid.load(Relaxed),
            bound: self.is_bound(),
            alive: self.is_alive(),
            retiring: self.retiring.load(Relaxed),
            sleeping: self.sleeping.peek(),
            placed: self.placed(),
            runs: self.runs.load(Relaxed),
        }
    }
}

#[cfg(feature = "tls-per-ult")]
impl Lwp {
    /// Installs `t`'s own TLS block (made on its first run, from this
    /// LWP's descriptor) and returns the LWP's own thread pointer. Never
    /// inlined, and no thread-local is touched here after the install (see
    /// `context/tls.rs`).
    #[inline(never)]
    fn enter_ult_tls(&'static self, t: &'static Tcb) -> *mut u8 {
        // SAFETY: owned like `ctx` by the LWP holding the ULT (us).
        let block = unsafe { &mut *t.tls.get() };
        let tp = match block {
            Some(b) => b.tp(),
            None => match context::tls::Block::new() {
                Ok(b) => block.insert(b).tp(),
                Err(e) => crate::fatal(&format!("ULT {}: {e}", t.index)),
            },
        };
        // SAFETY: the ULT's block is live until it finishes, and only the
        // LWP running the ULT installs it.
        let own = unsafe { context::tls::install(tp) };
        publish_in_ult_tls(self, t);
        own
    }
}

/// The per-LWP thread-locals a ULT reads, written into its block while it
/// is installed: which LWP runs it, that it runs, its overflow info. Never
/// inlined, so that their addresses are computed after the install.
#[cfg(feature = "tls-per-ult")]
#[inline(never)]
fn publish_in_ult_tls(lwp: &'static Lwp, t: &'static Tcb) {
    CURRENT.with(|c| c.set(lwp));
    crate::thread::current::set_running(Some(t));
    stack::set_running_info(t.overflow.get());
}

/// Free stack the join's hand-off needs on a ULT's stack where it does the
/// loop's work there (`give_stack` in `direct_new`, on the blocking ULT's
/// stack; `file_exit` on the joiner's, after `exit_to`): unoptimised
/// frames are several times larger (a 16 KiB stack overflowed).
const HANDOFF_ROOM: usize = if cfg!(debug_assertions) {
    64 * 1024
} else {
    8 * 1024
};

/// Whether `t`'s stack has [`HANDOFF_ROOM`] free below `sp`, an address on
/// it. False when the stack's lowest byte is not recorded.
fn has_handoff_room(t: &Tcb, sp: usize) -> bool {
    // SAFETY: written at the ULT's first run, before it ran; read by the
    // LWP that holds it (runs it, or holds it switched out).
    let lowest = unsafe { (*t.overflow.get()).guard_hi };
    lowest != 0 && sp > lowest && sp - lowest >= HANDOFF_ROOM
}

/// Switches from the running ULT `tcb` to its LWP's loop. Never inlined:
/// after the switch the ULT re-reads everything thread-local afresh.
#[inline(never)]
fn switch_out(lwp: &Lwp, tcb: &'static Tcb) {
    // SAFETY: the LWP running us, set when its thread started.
    let saved = unsafe { lwp.local().errno.get() };
    // Where a thread dump starts walking this ULT's stack while it is out.
    tcb.parked_fp
        .store(context::frame_address() as u32, Relaxed);
    // SAFETY: the running ULT's context is its LWP's, which is running
    // it: us. We are that ULT.
    unsafe { context::suspend(ult_context(tcb)) };
    // Back on the ULT, resumed by its LWP's loop or switched to by a ULT
    // (one that ended: its exit is ours to file, first), on the LWP that
    // runs it now (a migratable ULT may have moved).
    let errno = match current() {
        Some(l) => {
            l.commit_handed();
            l.local().errno
        }
        None => context::errno::Errno::of_this_thread(),
    };
    // A safe point to deliver signals pending on it.
    crate::signal::state::switched_in(tcb);
    // SAFETY: the errno of the LWP that runs us now. Last: the loop and
    // weave's work on the way back may have left anything there.
    unsafe { errno.set(saved) };
}

/// The context of `tcb`, a ULT that has one (started, not finished).
///
/// # Safety
///
/// The caller's LWP holds `tcb` (it runs it, or holds it RUNNABLE), so
/// that the context is not taken meanwhile.
#[inline]
unsafe fn ult_context(tcb: &Tcb) -> &context::Context {
    // SAFETY: the caller's contract; a started ULT keeps its context until
    // its LWP takes it in `finish`.
    match unsafe { (*tcb.ctx.get()).as_ref() } {
        Some(c) => c,
        None => crate::fatal("a running ULT has no context"),
    }
}

/// `ult_context` of a ULT known to be started, without the look that
/// `ult_context` makes in optimised builds.
///
/// # Safety
///
/// As `ult_context`, and `tcb` has a context (it runs, or it ran and is
/// switched out).
#[inline(always)]
unsafe fn started_context(tcb: &Tcb) -> &context::Context {
    // SAFETY: the caller's contract.
    let ctx = unsafe { &*tcb.ctx.get() };
    debug_assert!(ctx.is_some(), "a started ULT has no context");
    // SAFETY: the caller's contract: it is `Some`.
    unsafe { ctx.as_ref().unwrap_unchecked() }
}

/// One row of the LWP table.
#[derive(Clone, Debug)]
pub struct LwpInfo {
    /// Index of the LWP in the runtime's table.
    pub index: usize,
    /// Kernel thread id.
    pub tid: i32,
    /// Runs a single bound ULT.
    pub bound: bool,
    /// Still running (dead slots are kept for reuse).
    pub alive: bool,
    /// Leaving the pool once its placed ULTs finish.
    pub retiring: bool,
    /// Asleep in the kernel.
    pub sleeping: bool,
    /// Started ULTs placed on it and not exited.
    pub placed: usize,
    /// Switches to ULTs so far.
    pub runs: u64,
}

/// Records the running ULT's overflow info on this OS thread.
pub(crate) fn overflow_info_for(tcb: &Tcb, name: Option<&str>, size: usize, guard: (usize, usize)) {
    let info = OverflowInfo {
        guard_lo: guard.0,
        guard_hi: guard.1,
        stack_size: size,
        ult: u64::from(tcb.index),
        name: name.map_or(std::ptr::null(), |n| n.as_ptr()),
        name_len: name.map_or(0, |n| n.len()),
    };
    // SAFETY: written at spawn, before the TCB is published; the LWP only
    // reads it once the ULT runs.
    unsafe { *tcb.overflow.get() = info };
    tcb.publish_stack(guard.1, size);
}

/// The table index of the ULT in a `running` word, if one runs.
pub(crate) fn running_ult(word: u64) -> Option<u32> {
    match word as u32 {
        0 => None,
        i => Some(i - 1),
    }
}

/// Where the hot path of a yield or a block finds its objects, seen from
/// the calling ULT (name, address; `lwp_index` and `tcb_index` are
/// indices): for `weave bench`'s mode report (`WEAVE_BENCH_ADDRS`), which
/// looks for what sets the speed of a process's switches. `None` off a
/// ULT.
#[doc(hidden)]
pub fn hot_addresses() -> Option<Vec<(&'static str, usize)>> {
    let (l, tcb) = current_ult()?;
    let local = l.local.get() as usize;
    // SAFETY: a shared look at the address of a field of this LWP's own
    // `Local`, from its running ULT; nothing is read or written.
    let ready = unsafe { std::ptr::addr_of!((*l.local.get()).ready) } as usize;
    Some(vec![
        ("lwp_index", l.index),
        ("lwp", l as *const Lwp as usize),
        ("lwp_running", &l.running as *const AtomicU64 as usize),
        ("lwp_inbox", &l.inbox as *const Inbox<Tcb> as usize),
        ("lwp_home", &l.home as *const context::Home as usize),
        ("lwp_handoff", &l.handoff as *const _ as usize),
        ("local", local),
        ("ready", ready),
        ("tcb", tcb as *const Tcb as usize),
        ("tcb_index", tcb.index as usize),
        ("tcb_state", &tcb.state as *const _ as usize),
        ("tcb_ctx", tcb.ctx.get() as usize),
        ("tcb_sig", &tcb.sig as *const _ as usize),
        ("tcb_switches", &tcb.switches as *const _ as usize),
        (
            "tls_current_lwp",
            CURRENT.with(|c| c as *const Cell<*const Lwp> as usize),
        ),
        ("tls_running", crate::thread::current::running_slot()),
        // SAFETY: libc's errno of the calling thread (the LWP's).
        ("errno", unsafe { libc::__errno_location() } as usize),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_much_heavier_lwp_steals_the_new_work_of_a_retiring_one() {
        let thief = Lwp::new(0, false);
        let victim = Lwp::new(1, false);
        for _ in 0..40 {
            thief.placed.count_started();
        }
        // The rule applies to an awake pool sibling...
        assert!(place::refuses_to_steal(&thief, &victim));
        // ...not to one that will never run its own new work.
        victim.retiring.store(true, Relaxed);
        assert!(!place::refuses_to_steal(&thief, &victim));
    }

    #[test]
    fn only_an_awake_empty_pool_sibling_takes_a_spread() {
        let me = Lwp::new(0, false);
        let sibling = Lwp::new(1, false);
        assert!(place::takes_spread(&me, &sibling));
        assert!(!place::takes_spread(&me, &me), "not the spreading LWP");
        sibling.placed.count_started();
        assert!(!place::takes_spread(&me, &sibling), "one ULT placed");
        sibling.placed.count_exited(1);
        // Its own sleep protocol instance: the runtime's counters stay out.
        let idle = crate::sched::idle::Idle::new();
        idle.announce_sleep(&sibling.sleeping, false);
        assert!(!place::takes_spread(&me, &sibling), "asleep");
        idle.end_sleep(&sibling.sleeping);
        assert!(place::takes_spread(&me, &sibling));
        sibling.retiring.store(true, Relaxed);
        assert!(!place::takes_spread(&me, &sibling), "retiring");
        assert!(!place::takes_spread(&me, &Lwp::new(2, true)), "bound");
    }
}

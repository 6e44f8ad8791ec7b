//! trace: the one funnel every scheduling event passes through.
//!
//! The scheduler calls `emit` for each spawn, run, block, wake, steal,
//! preemption request and exit; the LWPs, the monitor and the reactor add
//! their own (an LWP going idle, an LWP blocked in the kernel, io readiness,
//! a timer firing). `emit` keeps the runtime's counters and, if a hook is
//! installed with [`set_hook`] or a trace is being recorded ([`record`]),
//! hands the event on. Traces, counters and the figures of `weave demo` all
//! come from here, so they cannot disagree. With no hook and no recording an
//! event costs a relaxed counter bump and one load and branch (`STATE`).
//! While only a trace is recorded, `emit` (inlined at every call) writes
//! the event into the thread's ring itself: at most one clock read (a
//! switch's Block and Run share one record and one read; a wake made by
//! a running ULT takes none), a comparison, two or three stores and one
//! Release store. A user's hook takes the cold way (`listen_slow`). The
//! events of a switch (Block, Run, Exit, a wake made on an LWP) come with
//! the thread's recorder state in hand, which the LWP keeps (`Tracer`):
//! no thread-local lookup (`listen_with_in`, `listen_run`,
//! `listen_wake_in`), and look first at the LWP's gate (`gate.rs`), a
//! flag that stays closed while nobody listens: one load and branch a
//! switch instead of `STATE` and the thread's open record.
//!
//! - `mod.rs` (this file): the events, `emit` and `listen`, the counters,
//!   the hook;
//! - `gate.rs`: an LWP's gate, closed by the LWP while nobody listens,
//!   opened by whoever installs a listener (loom-checked);
//! - `record.rs`: recording to a file through per-thread rings;
//! - `ring.rs`: one thread's ring of words, a bounded single-producer,
//!   single-consumer queue (loom-checked);
//! - `format.rs`: the file format, written by `record.rs` and read back by
//!   [`format::read`] (the `weave trace` command, tests).
//!
//! Every layer emits into it, so it names nothing above `thread/id.rs`
//! and `time/clock.rs` (the timestamps).
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! static SPAWNS: AtomicUsize = AtomicUsize::new(0);
//! fn hook(e: &weave::trace::Event) {
//!     if let weave::trace::Event::Spawn { .. } = e {
//!         SPAWNS.fetch_add(1, Ordering::Relaxed);
//!     }
//! }
//! weave::trace::set_hook(Some(hook));
//! weave::thread::spawn(|| ()).join().unwrap();
//! weave::trace::set_hook(None);
//! assert!(SPAWNS.load(Ordering::Relaxed) >= 1);
//! ```

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::thread::id::{BlockReason, ThreadId};

pub mod format;
mod gate;
mod record;
mod ring;

pub(crate) use gate::Gate;
pub(crate) use record::{end_switch, flush_wake, name_thread, switch_stamp, Tracer};
pub use record::{record, record_with, stop, Stats, DEFAULT_RING};

/// A scheduling event. `lwp` is the index of the LWP it happened on, or
/// `None` on a plain OS thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A ULT was created.
    Spawn { ult: ThreadId, lwp: Option<usize> },
    /// An LWP switched to a ULT.
    Run { ult: ThreadId, lwp: usize },
    /// A ULT blocked. `wait` is the low byte of the wait's number (each
    /// wait of a thread gets the next one): the Wake that ends this block
    /// carries the same.
    Block {
        ult: ThreadId,
        lwp: usize,
        reason: BlockReason,
        wait: u8,
    },
    /// A blocked ULT became runnable. `waker` is the ULT that woke it,
    /// when a ULT did and a hook or recording asked for it (`None` for a
    /// timer, the reactor, an OS thread, the woken ULT's own LWP when it
    /// publishes a channel receive the ULT left to it as it blocked and
    /// finds the message already there, or when nobody listens). `wait`
    /// names the wait it ends, as the Block's does. A wake that comes while
    /// the ULT is still switching out (before its LWP has finished the
    /// block) is emitted too: it may come before that Block, or end a wait
    /// that never blocked (the ULT saw its condition before it switched
    /// out, and recorded no Block); `wait` says which block it ends, if
    /// any.
    Wake {
        ult: ThreadId,
        lwp: Option<usize>,
        waker: Option<ThreadId>,
        wait: u8,
    },
    /// An LWP took a not-yet-started ULT queued on another LWP.
    Steal {
        ult: ThreadId,
        from: usize,
        to: usize,
    },
    /// An LWP was asked to switch at its next safe point.
    Preempt { lwp: usize },
    /// A ULT finished.
    Exit { ult: ThreadId, lwp: usize },
    /// An LWP started.
    LwpStart { lwp: usize, bound: bool },
    /// An LWP retired.
    LwpExit { lwp: usize },
    /// An LWP found nothing to run and goes to sleep in the kernel.
    LwpIdle { lwp: usize },
    /// An LWP woke from its idle sleep.
    LwpBusy { lwp: usize },
    /// The monitor found an LWP blocked in the kernel while other work
    /// waits: in a blocking system call made by `ult`, or, when `fault`,
    /// asleep in a page fault (a fresh stack page while another thread
    /// holds the address space's lock), which is no call the ULT made.
    KernelBlocked {
        lwp: usize,
        ult: Option<ThreadId>,
        fault: bool,
    },
    /// The reactor saw a file descriptor ready and wakes `ult`, which waits
    /// on it.
    IoReady { ult: ThreadId, lwp: Option<usize> },
    /// A timer (a sleep or a timed wait) of `ult` fired on LWP `lwp`.
    TimerFired { ult: ThreadId, lwp: usize },
    /// Signal `sig` reached the signal layer's thread side and is routed:
    /// by the dispatcher (`lwp` `None`), or by the ULT it was sent to at a
    /// safe point. `to`: the thread it is charged to (the ULT the kernel's
    /// delivery found not blocking it, the target of `Thread::kill`, the
    /// one a held signal was given to), `None` if none. Never emitted in
    /// signal context (the handler weave installs only records the signal;
    /// this comes after, on a thread).
    Signal {
        sig: u8,
        to: Option<ThreadId>,
        lwp: Option<usize>,
    },
    /// The handler of signal `sig` (and its `signal::channel` receivers)
    /// runs on ULT `ult` (a handler pool ULT, the target of a
    /// `handle_on_target` handler, or the ULT that runs an immediate
    /// handler at a safe point), on LWP `lwp`. An immediate handler run in
    /// signal context records none.
    SignalHandler {
        sig: u8,
        ult: ThreadId,
        lwp: Option<usize>,
    },
}

/// A function that receives every event. It runs on the thread where the
/// event happened, often in the middle of a switch: it must not block, and
/// must not call back into weave.
pub type Hook = fn(&Event);

/// What listens, in one word read by every event: `(epoch << 1) | USER`,
/// where `epoch` is the recording in progress (0: none, see `record.rs`)
/// and `USER` says a hook of the user's is installed. 0: nobody listens,
/// one load and branch. A recording alone is an even, non-zero word: the
/// recorder compares it with its thread's ring's key (`record::Fast`,
/// even too) and records inline (`record::on_event`); with a user hook as
/// well the word is odd, that comparison fails, and the event goes the
/// cold way (`listen_slow`: the recorder, then the hook). One comparison
/// answers both "is my ring this recording's" and "is there a hook".
/// On a cache line of its own: it is read on every event and written
/// almost never.
#[repr(align(128))]
struct StateCell(AtomicU64);

// Read as `STATE.0` (a field of the static, one RIP-relative load), not
// through a `&'static AtomicU64` static, which cost a second load an event.
static STATE: StateCell = StateCell(AtomicU64::new(0));

/// The bit of `STATE` that says a user hook is installed.
const USER: u64 = 1;

/// The user's hook (null when none). Read only when `STATE` has `USER`.
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// The user's hook (as a `usize`, 0 when none) and the recording's epoch
/// (0 when none); the lock serialises changes of either, so `STATE`
/// always reflects both.
static LISTENERS: Mutex<(usize, u64)> = Mutex::new((0, 0));

/// Installs (or with `None` removes) the event hook. A recording in
/// progress ([`record`]) keeps recording; the hook is called as well.
pub fn set_hook(hook: Option<Hook>) {
    let p = hook.map_or(std::ptr::null_mut(), |f| f as *mut ());
    let mut l = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
    l.0 = p as usize;
    publish_listeners(&l);
}

/// Sets the recording that listens (from `record.rs`): its epoch, or 0
/// when the recording stops.
fn set_recording(epoch: u64) {
    let mut l = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
    l.1 = epoch;
    publish_listeners(&l);
}

fn publish_listeners(l: &(usize, u64)) {
    let user = l.0 as *mut ();
    // Ordered before `STATE` by its Release store: an event that sees
    // `USER` in the new state sees this hook.
    HOOK.store(user, Ordering::Relaxed);
    let state = l.1 << 1 | u64::from(!user.is_null());
    // Release pairs with the Acquire loads in `listen` and `listen_wake`:
    // a listener sees the runtime's state as it was when it was
    // installed, and the hook above.
    STATE.0.store(state, Ordering::Release);
    if state != 0 {
        // Step 1 of `gate.rs`: every LWP's next switch looks at `STATE`.
        gate::open_all(
            GATES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied(),
        );
    }
}

/// Every LWP's gate (each LWP's struct registers once; they live as long
/// as the process).
static GATES: Mutex<Vec<&'static Gate>> = Mutex::new(Vec::new());

impl Gate {
    /// Closes the gate of the calling LWP, whose thread's recorder `tr` is,
    /// if nobody listens and no record waits for its Run (`gate.rs`, step
    /// 2). Called by the events behind the gate when they find `STATE` 0
    /// (once after a recording or a hook ends, and at an LWP's first
    /// events).
    #[cold]
    #[inline(never)]
    fn settle(&self, tr: Tracer) {
        if !tr.holds_open() {
            self.close_unless(|| STATE.0.load(Ordering::Relaxed) != 0);
        }
    }
}

/// Makes `gate` one that `publish_listeners` opens, and opens it: called
/// by an LWP as its thread starts (a struct reused by a later LWP is
/// registered once).
pub(crate) fn register_gate(gate: &'static Gate) {
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    if !gates.iter().any(|g| std::ptr::eq(*g, gate)) {
        gates.push(gate);
    }
    gate.open();
}

/// The key of a recording in `STATE` (and in a ring's `record::Fast`).
#[inline(always)]
fn key(epoch: u64) -> u64 {
    epoch << 1
}

/// Calls the user's hook, if one is installed.
#[inline]
fn call_user(e: &Event) {
    let user = HOOK.load(Ordering::Relaxed);
    if !user.is_null() {
        call(user, e);
    }
}

/// Counters of the whole runtime since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub spawns: u64,
    pub runs: u64,
    pub blocks: u64,
    pub wakes: u64,
    pub steals: u64,
    pub preempts: u64,
    pub exits: u64,
    /// Contended `sync::Mutex` acquisitions won by spinning while the
    /// owner ran on another LWP (no block).
    pub lock_spins: u64,
    /// `sync::Mutex` unlocks that handed the lock to a starving waiter.
    pub lock_handoffs: u64,
    /// `sync::Mutex` locks that took the slow path: the lock was held, or
    /// waiters were queued (its word then has their bits set).
    pub lock_contended: u64,
    /// Times a `sync::Mutex` locker queued and blocked (a spin that gave
    /// up, or an owner that was not running).
    pub lock_blocks: u64,
}

/// Index of each counted event in the per-thread and shared arrays.
const SPAWNS: usize = 0;
const RUNS: usize = 1;
const BLOCKS: usize = 2;
const WAKES: usize = 3;
const STEALS: usize = 4;
const PREEMPTS: usize = 5;
const EXITS: usize = 6;
pub(crate) const LOCK_SPINS: usize = 7;
pub(crate) const LOCK_HANDOFFS: usize = 8;
pub(crate) const LOCK_CONTENDED: usize = 9;
pub(crate) const LOCK_BLOCKS: usize = 10;
const KINDS: usize = 11;

/// Events a thread counts before it adds them to the shared counters: a
/// shared counter bumped on every spawn and exit by every LWP is a cache
/// line that bounces between CPUs (it cost ~20% of a spawn). Counts are
/// published every 1,024 events and when an LWP goes idle or exits.
const BATCH: u64 = 1024;

/// The shared counters, one cache line each (64-byte lines, doubled for
/// the adjacent-line prefetcher, as crossbeam-utils' `CachePadded`).
#[repr(align(128))]
struct Padded(AtomicU64);

static SHARED: [Padded; KINDS] = [const { Padded(AtomicU64::new(0)) }; KINDS];

/// A thread's counts not yet published. One cell per kind, so that an
/// event touches its own counter and the pending total, not a copy of the
/// whole array (that copy was most of `emit`'s cost).
struct Local {
    counts: [Cell<u64>; KINDS],
    pending: Cell<u64>,
}

std::thread_local! {
    static LOCAL: Local = const {
        Local {
            counts: [const { Cell::new(0) }; KINDS],
            pending: Cell::new(0),
        }
    };
}

/// The counters as published so far: the calling thread's own events are
/// included; each other running thread publishes its events in batches of
/// 1,024 and whenever it goes idle, so a quiet runtime's counts are exact
/// and a busy one's lag by at most a batch per LWP.
pub fn counters() -> Counters {
    publish();
    let c = |i: usize| SHARED[i].0.load(Ordering::Relaxed);
    Counters {
        spawns: c(SPAWNS),
        runs: c(RUNS),
        blocks: c(BLOCKS),
        wakes: c(WAKES),
        steals: c(STEALS),
        preempts: c(PREEMPTS),
        exits: c(EXITS),
        lock_spins: c(LOCK_SPINS),
        lock_handoffs: c(LOCK_HANDOFFS),
        lock_contended: c(LOCK_CONTENDED),
        lock_blocks: c(LOCK_BLOCKS),
    }
}

#[inline]
pub(crate) fn count(kind: usize, n: u64) {
    let flush = LOCAL
        .try_with(|l| {
            let c = &l.counts[kind];
            c.set(c.get() + n);
            let pending = l.pending.get() + n;
            l.pending.set(pending);
            pending >= BATCH
        })
        .unwrap_or_else(|_| {
            // The thread is exiting: count straight into the shared array.
            SHARED[kind].0.fetch_add(n, Ordering::Relaxed);
            false
        });
    if flush {
        publish();
    }
}

/// Adds this thread's counted events to the shared counters.
pub(crate) fn publish() {
    let _ = LOCAL.try_with(|l| {
        l.pending.set(0);
        for (i, c) in l.counts.iter().enumerate() {
            let n = c.replace(0);
            if n != 0 {
                SHARED[i].0.fetch_add(n, Ordering::Relaxed);
            }
        }
    });
}

/// Records an event: counts it, and hands it to the hook if one is
/// installed. `Run` (once per switch) is counted by the LWP in bulk and
/// only emitted when a hook is installed.
///
/// Inlined at every call (`inline(always)`): the event's kind is known
/// there, so the counting, the match and the recorder's encoding fold into
/// a few instructions of that kind (an `emit` called with a kind known
/// only at run time cost ~40 instructions more an event).
#[inline(always)]
pub(crate) fn emit(e: Event) {
    let kind = match e {
        Event::Spawn { .. } => Some(SPAWNS),
        Event::Run { .. } => None,
        Event::Block { .. } => Some(BLOCKS),
        Event::Wake { .. } => Some(WAKES),
        Event::Steal { .. } => Some(STEALS),
        Event::Preempt { .. } => Some(PREEMPTS),
        Event::Exit { .. } => Some(EXITS),
        Event::LwpStart { .. }
        | Event::LwpExit { .. }
        | Event::LwpIdle { .. }
        | Event::LwpBusy { .. }
        | Event::KernelBlocked { .. }
        | Event::IoReady { .. }
        | Event::TimerFired { .. }
        | Event::Signal { .. }
        | Event::SignalHandler { .. } => None,
    };
    if let Some(k) = kind {
        count(k, 1);
    }
    listen(e);
}

/// Hands an event to the recorder or the hook, if one listens, without
/// counting it: for the events an LWP counts in bulk whether or not
/// anyone listens (Block, Exit, a Wake made on an LWP; see
/// `Lwp::flush_runs`), which would otherwise pay for `count` as well while
/// a trace is recorded. Inlined as `emit` is: while only a recording
/// listens, the event goes into the thread's ring right here.
#[inline(always)]
pub(crate) fn listen(e: Event) {
    let st = STATE.0.load(Ordering::Acquire);
    if st != 0 && !record::on_event(st, &e) {
        listen_slow(st, e);
    }
}

/// [`listen`] with the event built only if someone listens: one load and
/// branch while nobody does, and no second load of `STATE` at the call
/// (`if hooked() { listen(..) }` reads it twice).
#[inline(always)]
pub(crate) fn listen_with(e: impl FnOnce() -> Event) {
    let st = STATE.0.load(Ordering::Acquire);
    if st != 0 {
        let e = e();
        if !record::on_event(st, &e) {
            listen_slow(st, e);
        }
    }
}

/// [`listen_with`] on an LWP, into the ring of `tr` (its thread's, held
/// by the LWP: no thread-local lookup, see [`Tracer`]).
#[inline(always)]
fn listen_with_in(tr: Tracer, gate: &Gate, e: impl FnOnce() -> Event) {
    let st = STATE.0.load(Ordering::Acquire);
    if st != 0 {
        let e = e();
        if !record::on_event_in(tr.fast(), st, &e) {
            listen_slow(st, e);
        }
    } else {
        gate.settle(tr);
    }
}

/// A Block of the ULT `ult()` on LWP `lwp` (`reason`, and the wait
/// `wait()`: see [`Event::Block`]), into the ring of `tr` (see
/// [`listen_with_in`]). While only a recording listens and the ring saw
/// that ULT's Run (a switch of the running ULT: a ping-pong's, a join's),
/// its LEAN record is written without `ult` ever being called
/// (`record::switch_out_in`): the id costs two loads and a check a
/// switch, and the record does not name it.
#[inline(always)]
pub(crate) fn listen_block_in(
    tr: Tracer,
    gate: &Gate,
    ult: impl Fn() -> ThreadId,
    lwp: usize,
    reason: BlockReason,
    wait: impl FnOnce() -> u8,
) {
    if !gate.is_open() {
        return;
    }
    let st = STATE.0.load(Ordering::Acquire);
    if st == 0 {
        gate.settle(tr);
    } else {
        let wait = wait();
        let lean = format::lean_block(reason, wait);
        if !record::switch_out_in(tr.fast(), st, || ult().as_u64().get(), lean, lwp) {
            let e = Event::Block {
                ult: ult(),
                lwp,
                reason,
                wait,
            };
            if !record::on_event_in(tr.fast(), st, &e) {
                listen_slow(st, e);
            }
        }
    }
}

/// [`listen_block_in`] for a direct switch (`Lwp::block_to`): the LWP
/// switches to the ULT whose id `next()` is (as a number,
/// `ThreadId::as_u64`: the caller's `Tcb::id_bits`, no `ThreadId`
/// built) straight after the Block. While only a recording
/// listens and the switch goes unstamped, the Block and that Run are one
/// record, published at once (`record::switch_to_in`), and
/// [`listen_run`] finds the Run written; else as [`listen_block_in`].
/// Out of line in unoptimised builds, where each inlined body keeps its
/// own stack slots: `block_current`'s frame, which a parked ULT keeps on
/// its stack, would not fit a 16 KiB stack (`burst_memory`) with it.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
pub(crate) fn listen_block_to_in(
    tr: Tracer,
    gate: &Gate,
    ult: impl Fn() -> ThreadId,
    lwp: usize,
    reason: BlockReason,
    wait: impl Fn() -> u8,
    next: impl FnOnce() -> u64,
) {
    if !gate.is_open() {
        return;
    }
    let st = STATE.0.load(Ordering::Acquire);
    if st == 0 {
        gate.settle(tr);
    } else if !record::switch_to_in(
        tr.fast(),
        st,
        || format::lean_block_bits(reason, wait()),
        lwp,
        next,
    ) {
        listen_block_in(tr, gate, ult, lwp, reason, wait);
    }
}

/// An Exit of the ULT `ult()` on LWP `lwp`, into the ring of `tr`, as
/// [`listen_block_in`] writes a Block.
#[inline(always)]
pub(crate) fn listen_exit_in(tr: Tracer, gate: &Gate, ult: impl Fn() -> ThreadId, lwp: usize) {
    if !gate.is_open() {
        return;
    }
    let st = STATE.0.load(Ordering::Acquire);
    if st == 0 {
        gate.settle(tr);
    } else if !record::switch_out_in(
        tr.fast(),
        st,
        || ult().as_u64().get(),
        format::LEAN_EXIT_WORD,
        lwp,
    ) {
        let e = Event::Exit { ult: ult(), lwp };
        if !record::on_event_in(tr.fast(), st, &e) {
            listen_slow(st, e);
        }
    }
}

/// The Run of `ult()` on LWP `lwp`, whose thread's ring `tr` is: into the
/// record of the Block or Exit that began its switch, if that is open,
/// or nothing if that record has it already ([`listen_block_to_in`]; no
/// look at `STATE` in either case, see `record::run_in`), else as
/// [`listen_with_in`]. `ult` may be called twice.
#[inline(always)]
pub(crate) fn listen_run(tr: Tracer, gate: &Gate, ult: impl Fn() -> ThreadId, lwp: usize) {
    if gate.is_open() && !record::run_in(tr.fast(), &ult) {
        listen_with_in(tr, gate, || Event::Run { ult: ult(), lwp });
    }
}

/// [`listen_wake`] on LWP `lwp`, whose thread's ring `tr` is (see
/// [`listen_with_in`]); `woken().0` is the woken ULT's id as a number
/// (`ThreadId::as_u64`: the caller's `Tcb::id_bits`, no `ThreadId`
/// built, as the recorder holds it).
#[inline(always)]
pub(crate) fn listen_wake_in(
    tr: Tracer,
    gate: &Gate,
    woken: impl FnOnce() -> (u64, u8),
    lwp: usize,
    waker: impl FnOnce() -> Option<ThreadId>,
) {
    if !gate.is_open() {
        return;
    }
    let st = STATE.0.load(Ordering::Acquire);
    if st == 0 {
        gate.settle(tr);
    } else {
        let (ult, wait) = woken();
        if !record::on_wake_here(tr.fast(), st, ult, lwp, wait) {
            listen_wake_in_slow(st, ult, lwp, format::held_wake(wait), waker);
        }
    }
}

/// A wake: the ULT `woken().0` became runnable, ending its wait
/// `woken().1` (the low byte of the wait's number), on LWP `lwp` (`None`:
/// on an OS thread). The caller has counted it; `woken` is called only if
/// someone listens. While only a recording listens, the recorder names
/// the waker itself (the ULT its ring saw run last on this thread) and
/// `waker` is not called; a user's hook gets `waker()`.
#[inline(always)]
pub(crate) fn listen_wake(
    woken: impl FnOnce() -> (ThreadId, u8),
    lwp: Option<usize>,
    waker: impl FnOnce() -> Option<ThreadId>,
) {
    let st = STATE.0.load(Ordering::Acquire);
    if st != 0 {
        let (ult, wait) = woken();
        if !record::on_wake(st, ult, lwp, wait) {
            listen_wake_slow(st, ult, lwp, wait, waker);
        }
    }
}

/// An event the recorder's inline path did not take (`record::on_event`
/// compares `STATE` with its ring's key, which is even: a user hook's bit
/// or a thread without a ring of this recording yet comes here): into the
/// recording, if one runs (attaching the thread to it), then to the hook,
/// if one is installed.
#[cold]
#[inline(never)]
fn listen_slow(st: u64, e: Event) {
    if st >> 1 != 0 {
        record::on_event_attaching(st & !USER, &e);
        if st & USER != 0 {
            // The Run goes this way too, to the hook (`record::run_in`).
            record::seal();
        }
    }
    if st & USER != 0 {
        call_user(&e);
    }
}

/// [`listen_slow`] for a wake: the recorder names the waker itself when
/// only it listens; a user's hook gets `waker()`.
#[cold]
#[inline(never)]
fn listen_wake_slow(
    st: u64,
    ult: ThreadId,
    lwp: Option<usize>,
    wait: u8,
    waker: impl FnOnce() -> Option<ThreadId>,
) {
    if st & USER == 0 {
        record::on_wake_attaching(st, ult, lwp, wait);
    } else {
        let waker = waker();
        listen_slow(
            st,
            Event::Wake {
                ult,
                lwp,
                waker,
                wait,
            },
        );
    }
}

/// [`listen_wake_slow`] from [`listen_wake_in`], with the woken ULT's id
/// as a number and its wait as `format::held_wake` holds it (what the
/// inline path computed: nothing else is kept for this cold call).
#[cold]
#[inline(never)]
fn listen_wake_in_slow(
    st: u64,
    ult: u64,
    lwp: usize,
    held: u64,
    waker: impl FnOnce() -> Option<ThreadId>,
) {
    let wait = format::wait_of_held(held);
    listen_wake_slow(st, record::id_of(ult), Some(lwp), wait, waker);
}

/// Whether a hook is installed or a trace recorded: lets the hottest
/// events skip building the event when nobody listens.
#[inline]
pub(crate) fn hooked() -> bool {
    STATE.0.load(Ordering::Relaxed) != 0
}

/// Counts a wake made on an OS thread (an LWP counts its own in bulk).
#[inline]
pub(crate) fn count_wake() {
    count(WAKES, 1);
}

/// Adds `runs` switches counted by an LWP.
pub(crate) fn add_runs(runs: u64) {
    count(RUNS, runs);
}

/// Adds blocks, wakes and exits counted by an LWP (the LWP counts them
/// whether or not a hook listens, and hands them to [`listen`]; see
/// `Lwp::flush_runs`).
pub(crate) fn add_lwp_counts(blocks: u64, wakes: u64, exits: u64) {
    for (kind, n) in [(BLOCKS, blocks), (WAKES, wakes), (EXITS, exits)] {
        if n != 0 {
            count(kind, n);
        }
    }
}

#[cold]
fn call(hook: *mut (), e: &Event) {
    // SAFETY: `HOOK` only ever holds null (checked by the caller) or a
    // `Hook` stored by `publish_listeners`.
    let f: Hook = unsafe { std::mem::transmute::<*mut (), Hook>(hook) };
    f(e);
}

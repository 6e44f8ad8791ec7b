//! The thread control block (TCB): everything weave knows about one thread.
//!
//! TCBs live in the thread table's slab and are never freed, only recycled
//! (death row): a `&'static Tcb` is always safe to touch, and the thread it
//! describes is the one whose [`ThreadId`](super::id::ThreadId) matches its
//! generation. Fields fall in three groups by who may write them:
//!
//! - set at spawn, before the TCB is published (`spawn` store-releases the
//!   state word): `class`, `name`, `job`, and `kind` (an atomic all the
//!   same: the monitor's table scans read it from slots being reused);
//! - owned by the LWP that runs the ULT (see `state.rs`: only one party can
//!   hold a RUNNABLE or RUNNING TCB): `ctx`, `locals`, `next`
//!   while in a local queue, `overflow`;
//! - atomics anyone may read: `state`, `permit`, `priority`, `home`,
//!   `generation`, the counters, and the stack's bounds (`stack_bounds`:
//!   published by whoever writes the overflow record's, `stack_bounds.rs`).
//!
//! Below the LWPs and the scheduler: this file names only the stack, the
//! context, the state word and per-ULT storage.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8};
use std::sync::{Arc, Mutex, RwLock};

use crate::context::Context;
use crate::loom::AtomicPtr;
use crate::stack::OverflowInfo;
use crate::thread::local::Locals;
use crate::thread::stack_bounds::{Bounds, StackBounds};
use crate::thread::state::State;

/// Held for reading by whoever reads a TCB's name through a reference
/// that may be stale (`name`, `name_of`), and for writing by the thread
/// table while it gives back the pages of free slots (`table.rs`,
/// "Giving back the pages of free slots"): the kernel zeroes those pages,
/// name lock included, and a reader must not be inside the lock then.
pub(crate) static RELEASING: RwLock<()> = RwLock::new(());

/// `home` of a ULT that has not been placed on an LWP yet.
pub(crate) const NO_LWP: u32 = u32::MAX;

/// Priority levels: 0 (lowest) to 31 (highest).
pub const PRIORITY_LEVELS: u8 = 32;
/// The priority a thread gets unless it asks otherwise: the middle.
pub const DEFAULT_PRIORITY: u8 = 16;

/// What kind of thread a TCB describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A ULT multiplexed on the LWP pool.
    Pooled,
    /// A ULT with an LWP of its own (1:1).
    Bound,
    /// A pooled ULT that may move between LWPs at safe points.
    Migratable,
    /// A plain OS thread that used weave (main, or std::thread): registered
    /// so that it has an id, can be unparked, and shows in the table.
    External,
}

/// Park permit values (std semantics: at most one pending unpark).
pub(crate) const PERMIT_EMPTY: u8 = 0;
pub(crate) const PERMIT_NOTIFIED: u8 = 1;

/// The TCB's half of a spawn's join packet, type-erased: the packet
/// (`thread/packet.rs`) gives it its methods. Kept opaque here so that the
/// TCB, which the scheduler names, does not name the packet, which names
/// the scheduler (it wakes the joiner).
pub(crate) struct JobRef(pub(crate) NonNull<()>);

pub(crate) struct Tcb {
    pub(crate) index: u32,
    /// `index + 1`, never 0: the id a lock word records for its holder
    /// (`sync/block.rs`'s `me_id`) and `waits_for` names. Kept beside the
    /// index so that a lock reads it in one load, without the add, at
    /// every lock. Fits in padding: the TCB stays at its size.
    pub(crate) owner_id: u32,
    /// Bumped each time the slot is freed; part of every `ThreadId`.
    pub(crate) generation: AtomicU32,
    pub(crate) state: State,
    pub(crate) permit: AtomicU8,
    /// Below [`PRIORITY_LEVELS`] always: written only by
    /// [`set_priority`](Self::set_priority) and [`reset`](Self::reset),
    /// which check, so that the ready queue indexes its levels with it
    /// unclamped ([`priority`](Self::priority)).
    priority: AtomicU8,
    /// Index of the LWP the ULT is placed on, or `NO_LWP`.
    pub(crate) home: AtomicU32,
    /// A `Kind` as its `u8` (see [`Tcb::kind`]).
    kind: AtomicU8,
    /// Stack size class.
    pub(crate) class: UnsafeCell<u8>,
    /// Set by a waker that handed this ULT a lock (`sched::enqueue_next`):
    /// its LWP queues it at the front of its level, so that it runs next.
    /// Cleared by that LWP as it queues it. Fits in padding: the TCB's
    /// size is unchanged.
    pub(crate) run_next: AtomicBool,
    /// Intrusive link: in at most one run queue or inbox at a time.
    pub(crate) next: AtomicPtr<Tcb>,
    pub(crate) job: UnsafeCell<Option<JobRef>>,
    pub(crate) ctx: UnsafeCell<Option<Context>>,
    pub(crate) locals: UnsafeCell<Locals>,
    pub(crate) overflow: UnsafeCell<OverflowInfo>,
    /// The ULT's stack as other threads may read it ([`Tcb::stack`]): its
    /// lowest usable address (0: none yet, a promise not yet kept), its
    /// size and whether it is the pool's, published with the overflow
    /// record's stack fields ([`Tcb::publish_stack`]; the protocol is
    /// `stack_bounds.rs`'s).
    stack_bounds: StackBounds,
    /// Name, shared with every `Thread` handle. Behind a lock because the
    /// table snapshot and stale-id errors read it from other threads while
    /// a spawn may be reusing the slot.
    /// The generation the name belongs to is stored with it, so that a
    /// reader can tell the name of an exited thread from its successor's.
    pub(crate) name: Mutex<(u32, Option<Arc<str>>)>,
    /// For `External` TCBs: the std handle to unpark the OS thread.
    pub(crate) os: Mutex<Option<std::thread::Thread>>,
    /// Whom the thread waits for while blocked, for the deadlock report:
    /// thread-table index + 1 of a mutex's holder or of a joined thread;
    /// 0 when unknown (a channel) or not waiting. Written by the thread
    /// itself before it blocks.
    pub(crate) waits_for: AtomicU32,
    /// What the thread waits on while blocked (`id::WaitOn::word`: a
    /// mutex's or a queue's address, an fd, a sleep's deadline; 0: none
    /// recorded). Written by the thread itself before it blocks, read by
    /// the thread dump and the deadlock report.
    pub(crate) wait_on: AtomicU64,
    /// For an `External` TCB: the kernel thread id, to match the threads
    /// of the process (`/proc/self/task`) with their TCBs.
    pub(crate) os_tid: AtomicU32,
    /// Preemption-off guards the ULT holds (`disable_preemption`). Written
    /// only by the ULT itself.
    pub(crate) no_preempt: AtomicU32,
    /// Times an LWP switched to this ULT, counted as it switches in.
    pub(crate) switches: AtomicU64,
    /// Time on an LWP, in `time::ticks` units.
    pub(crate) run_ticks: AtomicU64,
    /// The low 32 bits of the ULT's stack pointer when it last blocked (0:
    /// it has not blocked since it started). A stack is under 4 GiB, so
    /// with the stack's limit this gives the room below the pointer. Written
    /// by the ULT as it blocks (one store); read by its home LWP while the
    /// ULT is switched out, to give those pages back (`Lwp::trim_if_due`).
    pub(crate) parked_sp: AtomicU32,
    /// The ULT's own TLS block (`tls-per-ult`): made on its first run,
    /// freed when it finishes; owned like `ctx`.
    #[cfg(feature = "tls-per-ult")]
    pub(crate) tls: UnsafeCell<Option<crate::context::tls::Block>>,
    /// The low 32 bits of the frame pointer of the ULT's last switch out
    /// (0: none yet): where a thread dump starts walking a parked ULT's
    /// stack (`inspect/stacks.rs`; with the stack's limit it gives the whole
    /// pointer, as `parked_sp` does). Written by the ULT as it switches out.
    pub(crate) parked_fp: AtomicU32,
    /// Signal mask, pending signals and flags (`signal/state.rs` says who
    /// writes which).
    pub(crate) sig: crate::signal::state::TcbSignals,
    /// Cancellation request and "at a cancellation point" bytes
    /// (`thread/cancel.rs`). Two bytes in what was padding: the TCB stays
    /// at its size.
    pub(crate) cancel: crate::thread::cancel_word::CancelWord,
    /// Whether the thread's id is held after it ends (`thread/hold.rs`).
    /// A byte in what was padding: the TCB stays at its size.
    pub(crate) hold: crate::thread::hold::Hold,
    /// Storage for the join packet of the thread spawned in the slot
    /// (`room.rs`): claimed at spawn if its last packet is gone, which a
    /// join handle kept after its thread ended may delay past the slot's
    /// reuse. Not reset at spawn: the packet's last user vacates it.
    pub(crate) room: crate::thread::room::Room,
    /// The `thread::scope`s the thread is inside now, as their owner
    /// (`scoped.rs`): while any lives, its children may hold borrows of
    /// this thread's stack and hand them to system calls, so its stack is
    /// not compacted (`lwp/trim.rs`, `docs/design/compaction.md`).
    /// Written only by the thread itself; read by the monitor's pass and
    /// by the thread's home LWP while it is switched out. Fits in padding:
    /// the TCB stays at its size.
    pub(crate) scopes: AtomicU16,
}

// SAFETY: the UnsafeCell fields follow the ownership rules in the module
// doc: written at spawn before the Release store that publishes the TCB, or
// owned by the single LWP that holds the ULT RUNNABLE/RUNNING. Everything
// else is atomic or behind a Mutex.
unsafe impl Sync for Tcb {}
// SAFETY: as above; a TCB is only ever referenced, never moved, once in the
// table.
unsafe impl Send for Tcb {}

impl Tcb {
    pub(crate) fn new(index: u32) -> Tcb {
        Tcb {
            index,
            owner_id: index + 1,
            generation: AtomicU32::new(1),
            state: State::new(),
            permit: AtomicU8::new(PERMIT_EMPTY),
            priority: AtomicU8::new(DEFAULT_PRIORITY),
            home: AtomicU32::new(NO_LWP),
            kind: AtomicU8::new(Kind::Pooled as u8),
            class: UnsafeCell::new(0),
            run_next: AtomicBool::new(false),
            next: AtomicPtr::new(std::ptr::null_mut()),
            job: UnsafeCell::new(None),
            ctx: UnsafeCell::new(None),
            locals: UnsafeCell::new(Locals::default()),
            overflow: UnsafeCell::new(OverflowInfo::NONE),
            stack_bounds: StackBounds::new(),
            name: Mutex::new((0, None)),
            os: Mutex::new(None),
            waits_for: AtomicU32::new(0),
            wait_on: AtomicU64::new(0),
            os_tid: AtomicU32::new(0),
            no_preempt: AtomicU32::new(0),
            switches: AtomicU64::new(0),
            run_ticks: AtomicU64::new(0),
            parked_sp: AtomicU32::new(0),
            #[cfg(feature = "tls-per-ult")]
            tls: UnsafeCell::new(None),
            parked_fp: AtomicU32::new(0),
            sig: crate::signal::state::TcbSignals::new(),
            cancel: crate::thread::cancel_word::CancelWord::new(),
            hold: crate::thread::hold::Hold::new(),
            room: crate::thread::room::Room::new(),
            scopes: AtomicU16::new(0),
        }
    }

    #[inline]
    pub(crate) fn id(&self) -> super::id::ThreadId {
        super::id::ThreadId::new(self.index, self.generation.load(Relaxed))
    }

    /// [`Tcb::id`] as a number (`ThreadId::as_u64`), without the check that
    /// it is not 0 that building a `ThreadId` makes (a live thread's
    /// generation is at least 1): for the trace recorder's hot path
    /// (a wake and a direct switch), whose records hold ids as numbers.
    #[inline(always)]
    pub(crate) fn id_bits(&self) -> u64 {
        u64::from(self.generation.load(Relaxed)) << 32 | u64::from(self.index)
    }

    /// Makes a free slot a new thread's: its kind and priority, and every
    /// per-thread field back to its starting value. The one initialiser of
    /// spawn and of an OS thread's registration.
    ///
    /// # Safety
    ///
    /// The slot is FREE and the caller's: nobody acts on its fields until
    /// the state is published (`State::spawn`).
    pub(crate) unsafe fn reset(&self, kind: Kind, priority: u8) {
        self.kind.store(kind as u8, Relaxed);
        self.set_priority(priority);
        self.home.store(NO_LWP, Relaxed);
        self.permit.store(PERMIT_EMPTY, Relaxed);
        self.waits_for.store(0, Relaxed);
        self.wait_on.store(0, Relaxed);
        self.no_preempt.store(0, Relaxed);
        self.switches.store(0, Relaxed);
        self.run_ticks.store(0, Relaxed);
        self.parked_sp.store(0, Relaxed);
        self.parked_fp.store(0, Relaxed);
        self.scopes.store(0, Relaxed);
        self.cancel.reset();
        self.hold.reset();
        // Called on the creating thread: the new thread inherits its mask.
        // A registering OS thread keeps its kernel mask, noted here for
        // signals the program sends its own process.
        self.sig.reset(if kind == Kind::External {
            crate::signal::state::kernel_mask().bits()
        } else {
            crate::signal::state::inherited_mask()
        });
    }

    /// Publishes the ULT's stack (`lo`, `size`; 0 and 0 for none yet) for
    /// [`Tcb::stack`], marked as not the pool's if the slot's class says so
    /// (a solo stack or one of the program's, which may be unmapped once
    /// the thread is done). Called by whoever writes the overflow record's
    /// stack fields: the spawn (a stack taken now, or none for a promise),
    /// the first run (a promise kept).
    pub(crate) fn publish_stack(&self, lo: usize, size: usize) {
        // SAFETY: `class` is written at spawn, before this (the spawn's
        // own publication, or the first run's, which the spawn's Release of
        // the state word happens before), and not again while it lives.
        let class = unsafe { *self.class.get() };
        let pool = class != crate::stack::USER_CLASS && class != crate::stack::SOLO_CLASS;
        self.stack_bounds.publish(lo, size, !pool);
    }

    /// The stack of the thread of generation `generation` in this slot:
    /// its lowest usable address and size, or `None` if it has none yet
    /// (its first run gives it one) or the slot is another thread's by now.
    /// Any thread may ask.
    pub(crate) fn stack(&self, generation: u32) -> Option<(usize, usize)> {
        self.stack_bounds(generation).map(|b| (b.lo, b.size))
    }

    /// [`Tcb::stack`], with whether the stack is the pool's.
    pub(crate) fn stack_bounds(&self, generation: u32) -> Option<Bounds> {
        self.stack_bounds.read(&self.generation, generation)
    }

    /// Readies a FREE slot for the release of its page (`table.rs`): the
    /// name, the OS thread's handle and the per-ULT storage are dropped
    /// now, so that nothing leaks when the page reads back as zeroes, and
    /// the two mutexes are left unlocked, holding `(0, None)` and `None`,
    /// which a zeroed page reads as. Returns the slot's generation and
    /// state epoch, which its next thread must pass ([`Tcb::revive`]).
    ///
    /// # Safety
    ///
    /// The slot is FREE and the caller's (taken off every free list), so
    /// that no LWP touches its per-ULT storage.
    pub(crate) unsafe fn prepare_release(&self) -> (u32, u64) {
        *self.name.lock().unwrap_or_else(|e| e.into_inner()) = (0, None);
        *self.os.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // SAFETY: the caller owns the FREE slot; no ULT uses its storage.
        unsafe { *self.locals.get() = Locals::default() };
        (self.generation.load(Relaxed), self.state.load().epoch())
    }

    /// Makes the slot at `p`, whose page the table gave back (it may read
    /// as zeroes, which is not a TCB), a FREE TCB again: every field that
    /// [`Tcb::new`] sets, with `generation` and the state's `epoch` past
    /// those of the slot's earlier threads. The two mutexes are not
    /// written: [`Tcb::prepare_release`] left them as a zeroed page reads
    /// them, and a stale reader may be taking them ([`RELEASING`]).
    ///
    /// # Safety
    ///
    /// `p` points to a slot of the table's that is FREE and the caller's,
    /// and that went through `prepare_release` before its page was
    /// released. Other threads may hold a `&Tcb` to it, but read only its
    /// atomics and its name, never the plain fields written here.
    pub(crate) unsafe fn revive(p: *mut Tcb, index: u32, generation: u32, epoch: u64) {
        // SAFETY: the caller's slot; the plain fields are read only by
        // its owner, which it has none yet, and `p` carries the chunk's
        // write permission (the table's own pointer).
        unsafe {
            std::ptr::addr_of_mut!((*p).index).write(index);
            std::ptr::addr_of_mut!((*p).owner_id).write(index + 1);
            (*p).class.get().write(0);
            (*p).job.get().write(None);
            (*p).ctx.get().write(None);
            (*p).locals.get().write(Locals::default());
            (*p).overflow.get().write(OverflowInfo::NONE);
            #[cfg(feature = "tls-per-ult")]
            (*p).tls.get().write(None);
        }
        // SAFETY: the fields are initialised now (above, or atomics, for
        // which every bit pattern, zero included, is valid).
        let t = unsafe { &*p };
        t.generation.store(generation, Relaxed);
        t.state.revive(epoch);
        t.run_next.store(false, Relaxed);
        t.next.store(std::ptr::null_mut(), Relaxed);
        t.os_tid.store(0, Relaxed);
        // SAFETY: FREE and the caller's; spawn resets it again for its
        // thread (this one gives the rest of the atomics their values).
        unsafe { t.reset(Kind::Pooled, DEFAULT_PRIORITY) };
    }

    /// Changes the thread's kind: only for the ULT that becomes the OS
    /// thread of a fork's child (`current::adopt_after_fork`), which no
    /// other thread of the child reads.
    pub(crate) fn set_kind(&self, kind: Kind) {
        self.kind.store(kind as u8, Relaxed);
    }

    /// The thread's kind. Written at spawn before the TCB is published;
    /// a reader that has not seen that publication (a scan of the table
    /// racing a spawn) may get the slot's previous kind, never a torn one.
    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        match self.kind.load(Relaxed) {
            k if k == Kind::Pooled as u8 => Kind::Pooled,
            k if k == Kind::Bound as u8 => Kind::Bound,
            k if k == Kind::Migratable as u8 => Kind::Migratable,
            _ => Kind::External,
        }
    }

    pub(crate) fn name(&self) -> Option<Arc<str>> {
        let _pages = RELEASING.read().unwrap_or_else(|e| e.into_inner());
        self.name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// The name of the thread of generation `generation`, if this slot
    /// still remembers it.
    pub(crate) fn name_of(&self, generation: u32) -> Option<Arc<str>> {
        let _pages = RELEASING.read().unwrap_or_else(|e| e.into_inner());
        let n = self.name.lock().unwrap_or_else(|e| e.into_inner());
        if n.0 == generation {
            n.1.clone()
        } else {
            None
        }
    }

    pub(crate) fn set_name(&self, name: Option<Arc<str>>) {
        let g = self.generation.load(Relaxed);
        *self.name.lock().unwrap_or_else(|e| e.into_inner()) = (g, name);
    }

    /// The priority, below [`PRIORITY_LEVELS`]: the compiler is told so,
    /// and drops the clamps and bounds checks of the level it indexes (a
    /// push's and a pick's, ~4 instructions each).
    #[inline]
    pub(crate) fn priority(&self) -> u8 {
        let p = self.priority.load(Relaxed);
        if p >= PRIORITY_LEVELS {
            // SAFETY: every store is `set_priority`'s, which refuses a
            // priority at or above the levels. (`assert_unchecked` is
            // newer than the crate's MSRV; this is its older spelling.)
            unsafe { std::hint::unreachable_unchecked() }
        }
        p
    }

    /// Sets the priority. The callers check the range first (a public
    /// call returns `InvalidPriority`); this check keeps the promise of
    /// [`priority`](Self::priority) whatever a caller does.
    #[inline]
    pub(crate) fn set_priority(&self, p: u8) {
        assert!(p < PRIORITY_LEVELS, "priority {p} out of range");
        self.priority.store(p, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    /// `Tcb::priority` promises the compiler a level below the count (the
    /// ready queue indexes its lists with it unclamped): a store past it
    /// must never happen, whatever the caller checked.
    #[test]
    #[should_panic(expected = "out of range")]
    fn a_priority_past_the_levels_is_refused_at_the_store() {
        let t = super::Tcb::new(0);
        t.set_priority(super::PRIORITY_LEVELS);
    }

    /// A TCB is paid by every thread, parked ones included (`weave bench
    /// idle_memory`): this pins its size, so that a field added here is a
    /// decision, not an accident. 232 bytes, plus 8 for `parked_fp` (a
    /// thread dump walks a parked ULT's stack from it) and 24 for the signal
    /// mask, the pending set and the signal flags (issue 12): a few bytes
    /// against the KiBs of a parked ULT's stack. Plus 8 for `wait_on`
    /// (issue 15): the thread dump and the deadlock report name the mutex,
    /// queue, channel, fd or deadline each blocked thread waits on, which
    /// nothing else in the TCB can hold (`waits_for` is the holder, a
    /// 32-bit table index; an address needs 64 bits). Plus 112 for the
    /// room of the join packet (`room.rs`), which a thread paid on the heap
    /// before (80 to 128 bytes of `malloc` chunk for a small packet). Plus
    /// 8 for the third cancellation byte (`cancel_word.rs`, asynchronous
    /// cancellation), which took the one-byte fields past one word. Plus
    /// 16 for the stack's bounds that any thread may read (`stack_bounds`:
    /// `thread::stack_of`, the C API's `pthread_getattr_np`
    /// of another thread), which the overflow record, owned by the ULT's
    /// LWP, cannot give without a race.
    #[test]
    fn tcb_is_at_most_408_bytes() {
        let size = std::mem::size_of::<super::Tcb>();
        // The tls-per-ult spike adds the pointer to the ULT's TLS block.
        let limit = if cfg!(feature = "tls-per-ult") {
            416
        } else {
            408
        };
        assert!(size <= limit, "the TCB grew to {size} bytes");
    }
}

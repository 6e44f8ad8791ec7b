//! The join packet: holds the closure until the ULT runs it and its
//! result until `join` takes it. A small packet (a closure of up to four
//! words with a word-sized result) costs no allocation: it lives in the
//! room of the thread's TCB ("Rooms", below), or, when that room still
//! holds an earlier thread's packet, in a block of the spawning LWP's
//! cache (`thread/blocks.rs`), which goes back to the cache of the LWP
//! that lets go of the packet last. A larger packet, a scoped thread's,
//! and one that finds its room busy and is made or let go of on an OS
//! thread use the heap.
//!
//! ```text
//!  #[repr(C)] Job<F, T>
//!  ┌─────────────────── Slot<T> ────────────────────┬──────────────┐
//!  │ Header: state, waiter, scope, vtable           │ result: T?   │ func: F │
//!  └────────────────────────────────────────────────┴──────────────┴─────────┘
//!   ▲ JobRef (the TCB's, type-erased: runs F)       ▲ JoinRef<T> (the handle's)
//! ```
//!
//! Two halves share it: the TCB's [`JobRef`], which knows only the
//! vtable, and the handle's [`JoinRef<T>`], which knows `T` but not `F`
//! (`Slot<T>` is a `#[repr(C)]` prefix of `Job<F, T>`). The one that lets
//! go last frees it through the vtable, which knows the full layout.
//!
//! Join protocol, on `Header::state` (the bits, the steps and their loom
//! model are in `join_state.rs`):
//!
//! | bit        | set by                       | meaning                                               |
//! |------------|------------------------------|-------------------------------------------------------|
//! | `WAITING`  | the joiner                   | its waiter is stored in `waiter`                      |
//! | `HANDED`   | the ULT, before exit         | the result belongs to the handle's side now           |
//! | `DETACHED` | the handle, on drop          | nobody will take the result                           |
//! | `DONE`     | the ULT, after exit          | the thread has exited and let go of the packet        |
//! | `GONE`     | the handle, after `DETACHED` | a handle that detached after `HANDED` let go, too     |
//!
//! The joiner writes `waiter`, then sets WAITING unless DONE is already
//! set; the ULT takes the waiter before it sets DONE, and wakes it after.
//! Once HANDED is set the joiner no longer withdraws a stored waiter (nor
//! stores another): it is the ULT's to take. Each side writes `waiter`
//! only while it alone may.
//!
//! **Who frees.** There is no reference count. The ULT lets go of the
//! packet with the RMW that sets DONE: a handle that sees DONE is its only
//! user, so a join frees it (and `take`s the result) with no further
//! atomic step. The ULT frees it instead when the handle let go first.
//!
//! **Who drops the result.** A result (or a panic payload) may have a
//! `Drop` that blocks: it takes a lock, receives, sleeps, joins. Blocking
//! needs a live thread, so the result is never dropped by the ULT after it
//! counts as exited. While still alive (before it marks itself exited) the
//! ULT sets HANDED; the handle, when dropped, sets DETACHED. Both are RMWs
//! on one word, so exactly one side sees the other's bit first:
//!
//! - the ULT saw DETACHED: the handle is gone; the ULT drops the result
//!   there and then, on its own stack, still RUNNING;
//! - the handle saw HANDED: the result is the handle's; `join` takes it, or
//!   the handle's drop drops it, on the dropping thread (and then sets
//!   GONE, unless it saw DONE too).
//!
//! A scope counts a thread as finished when the packet is freed, which is
//! after the result was dropped by one of the two: `scope` returns only
//! after every result's `Drop` ran (std's guarantee).
//!
//! **Who frees a held slot.** The same side: the ULT (its LWP frees the
//! slot as it files the exit) or the handle (it frees the slot after the
//! packet, once the LWP has filed the exit). `thread/hold.rs` has the
//! steps; the hold costs no RMW of its own.
//!
//! **Rooms.** Each TCB has a room (`room.rs`): [`room::ROOM`] bytes for
//! the packet of the thread spawned in its slot. A spawn puts a small
//! unscoped packet there unless the room's last packet is still held (a
//! join handle kept after its thread ended, while the slot went on to
//! another spawn); the packet's last user vacates it after dropping the
//! packet in place. So a spawn and its join take no allocation, and a
//! burst's packets live in the table's pages, which are populated in bulk
//! and given back with the slots' (a page holding a busy room is kept).
//! A held thread (`Builder::hold_id`, the C API's joinable threads) always
//! finds its room vacant: its slot stays its own until both halves let go.

use std::any::Any;
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::blocks;
use super::join_state::{Detach, JoinState};
use super::room::{self, Room};
use crate::sched::Waiter;
use crate::thread::scoped::ScopeData;
use crate::thread::tcb::Tcb;

struct VTable {
    /// Runs the closure and stores its result.
    run: unsafe fn(NonNull<Header>),
    /// Drops the closure of a job that never ran.
    drop_func: unsafe fn(NonNull<Header>),
    /// Drops the result, if it is still there.
    drop_result: unsafe fn(NonNull<Header>),
    /// Frees the allocation (the closure already ran or was dropped).
    dealloc: unsafe fn(NonNull<Header>),
}

#[repr(C)]
pub(crate) struct Header {
    /// Who may touch the packet, its result and its waiter still
    /// (`join_state.rs`).
    state: JoinState,
    waiter: UnsafeCell<Option<Waiter>>,
    scope: Option<Arc<ScopeData>>,
    vtable: &'static VTable,
}

#[repr(C)]
pub(crate) struct Slot<T> {
    header: Header,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
}

#[repr(C)]
struct Job<F, T> {
    slot: Slot<T>,
    /// Taken by `run`, or dropped by `drop_func` if the job never runs.
    func: UnsafeCell<ManuallyDrop<F>>,
}

pub(crate) use crate::thread::tcb::JobRef;

/// The join handle's reference: can wait for and take the result. For a
/// thread whose id is held (`Builder::hold_id`), it holds the id too: the
/// side that frees the packet frees the thread's table slot
/// (`thread/hold.rs`).
pub(crate) struct JoinRef<T> {
    slot: NonNull<Slot<T>>,
    /// The held thread's TCB, if its id is held.
    hold: Option<&'static Tcb>,
}

// SAFETY: the closure is `Send` (required by `new`), and the header is
// shared through atomics; the TCB hands the JobRef to whichever LWP runs it.
unsafe impl Send for JobRef {}
// SAFETY: `T: Send` is required to move the result to the joining thread;
// every shared field is synchronised by the join protocol.
unsafe impl<T: Send> Send for JoinRef<T> {}
// SAFETY: a `&JoinRef` only allows `is_finished`, an atomic load.
unsafe impl<T: Send> Sync for JoinRef<T> {}

/// Whether a `Job<F, T>` fits in a room.
const fn fits_room<F, T>() -> bool {
    std::mem::size_of::<Job<F, T>>() <= room::ROOM
        && std::mem::align_of::<Job<F, T>>() <= room::ALIGN
}

/// Whether a `Job<F, T>` fits in a block of `thread/blocks.rs`.
const fn fits_block<F, T>() -> bool {
    blocks::fits(
        std::mem::size_of::<Job<F, T>>(),
        std::mem::align_of::<Job<F, T>>(),
    )
}

/// Makes the packet for `f`: returns the TCB's and the handle's halves.
/// `room` is the room of the new thread's slot: the packet goes there if
/// it fits and the room's last packet is gone (module doc, "Rooms");
/// otherwise in a block, or on the heap. `held` is the TCB of a thread
/// spawned with its id held: the handle's half holds the id then.
pub(crate) fn new<F, T>(
    f: F,
    scope: Option<Arc<ScopeData>>,
    room: &Room,
    held: Option<&'static Tcb>,
) -> (JobRef, JoinRef<T>)
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if let Some(s) = &scope {
        s.started();
    }
    let in_room = match fits_room::<F, T>() && scope.is_none() {
        true => room.claim(),
        false => None,
    };
    let in_block = in_room.is_none() && fits_block::<F, T>() && scope.is_none();
    let job = Job::<F, T> {
        slot: Slot {
            header: Header {
                state: JoinState::new(),
                waiter: UnsafeCell::new(None),
                scope,
                vtable: if in_room.is_some() {
                    &VTableOf::<F, T>::IN_ROOM
                } else if in_block {
                    &VTableOf::<F, T>::IN_BLOCK
                } else {
                    &VTableOf::<F, T>::BOXED
                },
            },
            result: UnsafeCell::new(None),
        },
        func: UnsafeCell::new(ManuallyDrop::new(f)),
    };
    let p = match in_room {
        Some(bytes) => {
            let p = bytes.cast::<Job<F, T>>();
            // SAFETY: the room is ours (claimed) and large and aligned
            // enough (`fits_room`).
            unsafe { p.as_ptr().write(job) };
            p
        }
        None if in_block => {
            let p = take_block(std::mem::size_of::<Job<F, T>>()).cast::<Job<F, T>>();
            // SAFETY: the block is free (just taken) and large and aligned
            // enough (`fits_block`).
            unsafe { p.as_ptr().write(job) };
            p
        }
        None => NonNull::from(Box::leak(Box::new(job))),
    };
    (
        JobRef(p.cast()),
        JoinRef {
            slot: p.cast(),
            hold: held,
        },
    )
}

struct VTableOf<F, T>(std::marker::PhantomData<(F, T)>);

impl<F: FnOnce() -> T, T> VTableOf<F, T> {
    const BOXED: VTable = VTable {
        run: run::<F, T>,
        drop_func: drop_func::<F, T>,
        drop_result: drop_result::<T>,
        dealloc: dealloc::<F, T>,
    };
    const IN_ROOM: VTable = VTable {
        dealloc: leave_room::<F, T>,
        ..Self::BOXED
    };
    const IN_BLOCK: VTable = VTable {
        dealloc: give_back::<F, T>,
        ..Self::BOXED
    };
}

/// # Safety
///
/// `h` must be the header of a live `Job<F, T>` whose closure has not run.
unsafe fn run<F: FnOnce() -> T, T>(h: NonNull<Header>) {
    let job = h.cast::<Job<F, T>>();
    // SAFETY: the caller guarantees a live Job<F, T>; only the TCB's JobRef
    // reaches here, once.
    let job = unsafe { job.as_ref() };
    // SAFETY: the closure is taken exactly once, here.
    let f = unsafe { ManuallyDrop::take(&mut *job.func.get()) };
    // The marker frame ends the short backtrace of a panic in `f`.
    let result = catch_unwind(AssertUnwindSafe(|| {
        crate::thread::panic::__rust_begin_short_backtrace(f)
    }));
    // SAFETY: until DONE is published nobody else touches `result`.
    unsafe { *job.slot.result.get() = Some(result) };
}

/// # Safety
///
/// `h` must be the header of a live `Job<F, T>` whose closure has not run
/// and never will (its TCB's reference is being dropped).
unsafe fn drop_func<F, T>(h: NonNull<Header>) {
    let job = h.cast::<Job<F, T>>();
    // SAFETY: the caller guarantees a live Job<F, T> whose closure is still
    // there and is not taken by anyone else: this drops it exactly once.
    unsafe { ManuallyDrop::drop(&mut *job.as_ref().func.get()) };
}

/// # Safety
///
/// `h` must be the header of a live `Slot<T>`, and the caller must be the
/// one party that owns the result now (see "Who drops the result").
unsafe fn drop_result<T>(h: NonNull<Header>) {
    // SAFETY: the caller guarantees a live Slot<T> whose result it owns.
    let slot = unsafe { h.cast::<Slot<T>>().as_ref() };
    // SAFETY: as above: nobody else reads or writes `result` now.
    let result = unsafe { (*slot.result.get()).take() };
    if let Some(Err(_)) = &result {
        // A panic nobody joined: the scope, if any, panics in turn.
        if let Some(scope) = &slot.header.scope {
            scope.note_unjoined_panic();
        }
    }
    // Dropped here, on a live thread: this may block.
    drop(result);
}

/// # Safety
///
/// `h` must be the header of a `Job<F, T>` with no references left.
unsafe fn dealloc<F, T>(h: NonNull<Header>) {
    let p = h.cast::<Job<F, T>>().as_ptr();
    // SAFETY: the last reference is gone; the Box was leaked in `new`.
    // Its closure ran (`run` took it) or was dropped (`drop_func`): the
    // `ManuallyDrop` leaves it alone here.
    let mut job = unsafe { Box::from_raw(p) };
    // Normally dropped already by the ULT or the handle; a job that never
    // ran has none. Dropped before telling the scope: it may borrow from it.
    // SAFETY: no references are left, so the result is ours.
    unsafe { drop_result::<T>(h) };
    if let Some(scope) = job.slot.header.scope.take() {
        scope.finished();
    }
}

/// # Safety
///
/// `h` must be the header of a `Job<F, T>` in a room or a block, with no
/// references left.
unsafe fn vacate<F, T>(h: NonNull<Header>) {
    // SAFETY: no references are left, so the result is ours.
    unsafe { drop_result::<T>(h) };
    // SAFETY: as above; the closure ran or was dropped, and `func` is a
    // `ManuallyDrop`, so this drops the header's fields only.
    unsafe { std::ptr::drop_in_place(h.cast::<Job<F, T>>().as_ptr()) };
}

/// # Safety
///
/// `h` must be the header of a `Job<F, T>` in a room, with no references
/// left.
unsafe fn leave_room<F, T>(h: NonNull<Header>) {
    // SAFETY: the caller's contract is `vacate`'s.
    unsafe { vacate::<F, T>(h) };
    // SAFETY: the packet was written at the room's claimed bytes (`new`),
    // is dropped, and this is its last user's one call.
    unsafe { Room::vacate_at(h.cast()) };
}

/// # Safety
///
/// `h` must be the header of a `Job<F, T>` in a block of
/// `thread/blocks.rs`, with no references left.
unsafe fn give_back<F, T>(h: NonNull<Header>) {
    // SAFETY: the caller's contract is `vacate`'s.
    unsafe { vacate::<F, T>(h) };
    let (p, size) = (h.cast::<u8>(), std::mem::size_of::<Job<F, T>>());
    match crate::lwp::current() {
        // SAFETY: the packet is dropped: nothing uses its block (of the
        // packet's size) any more, and it is given back once (this is the
        // last reference's drop).
        Some(l) => unsafe { l.local().packets.give(p, size) },
        // SAFETY: as above.
        None => unsafe { blocks::free(p, size) },
    }
}

/// A block of `size` bytes for a packet: from the calling LWP's cache if
/// it runs on one.
fn take_block(size: usize) -> NonNull<u8> {
    match crate::lwp::current() {
        Some(l) => l.local().packets.take(size),
        None => blocks::alloc(size),
    }
}

/// Frees the packet: the caller is its last user (`join_state.rs`).
///
/// # Safety
///
/// `h` must be a live header that nobody else touches any more.
unsafe fn free(h: NonNull<Header>) {
    // SAFETY: the caller's contract.
    let dealloc = unsafe { h.as_ref() }.vtable.dealloc;
    // SAFETY: as above.
    unsafe { dealloc(h) };
}

impl JobRef {
    /// The packet's header: what every `JobRef` points to (made in `new`).
    fn header_ptr(&self) -> NonNull<Header> {
        self.0.cast()
    }

    /// Runs the closure (catching a panic into the result), then
    /// `before_publish`, then publishes the result and wakes the joiner.
    /// Called on the ULT's own stack. Returns the joiner if it is a ULT of
    /// this LWP that the wake made runnable without queuing it
    /// (`Waiter::wake_on_exit`): the caller must switch to it or queue it
    /// (`Lwp::exit_to`), and must not block before; and whether the ULT
    /// freed the packet (the handle had let go first: a held id is then
    /// the ULT's to let go of, `Hold::let_go`).
    #[must_use]
    pub(crate) fn run_then(self, before_publish: impl FnOnce()) -> (Option<&'static Tcb>, bool) {
        let h = self.header_ptr();
        // SAFETY: a JobRef always points to a live packet whose closure has
        // not run (this consumes the JobRef).
        let header = unsafe { h.as_ref() };
        // SAFETY: as above; `run` matches the packet's F and T.
        unsafe { (header.vtable.run)(h) };
        let handle_gone = header.state.hand_over();
        if handle_gone {
            // The handle is gone: the result is ours to drop, now, while
            // this ULT still runs and may block.
            // SAFETY: DETACHED was set before our HANDED, so the handle
            // never touches the result again.
            unsafe { (header.vtable.drop_result)(h) };
        }
        before_publish();
        let mut waiter = None;
        let last = header.state.finish(handle_gone, || {
            // SAFETY: `finish` calls this only while the slot is ours:
            // WAITING seen after HANDED, before DONE.
            waiter = unsafe { (*header.waiter.get()).take() }
        });
        std::mem::forget(self);
        if last {
            // SAFETY: the handle let go first: we are the last user. No
            // result is dropped here (the handle left it to us, and we
            // dropped it above), so nothing blocks.
            unsafe { free(h) };
        }
        // Not the packet's any more (the handle may have freed it).
        (waiter.and_then(Waiter::wake_on_exit), last)
    }

    /// Drops a job that never ran (a spawn that failed after its handle
    /// was published). True if it freed the packet (the handle had let go
    /// first: a held id is then the caller's to let go of, `Hold::let_go`).
    pub(crate) fn abandon(self) -> bool {
        let mut this = ManuallyDrop::new(self);
        this.drop_unrun()
    }

    fn drop_unrun(&mut self) -> bool {
        let h = self.header_ptr();
        // SAFETY: we hold the TCB's reference.
        let header = unsafe { h.as_ref() };
        // The closure goes before the joiner can see DONE, as it would
        // have gone had it run.
        // SAFETY: the closure never ran (`run_then` consumes the JobRef
        // without this drop), and only the TCB's reference reaches it.
        unsafe { (header.vtable.drop_func)(h) };
        // There is no result.
        let last = header.state.abandon();
        if last {
            // SAFETY: the handle let go first: we are the last user.
            unsafe { free(h) };
        }
        last
    }
}

impl Drop for JobRef {
    /// A job dropped without running (its runtime went away first).
    fn drop(&mut self) {
        self.drop_unrun();
    }
}

impl<T> JoinRef<T> {
    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the packet alive.
        unsafe { &self.slot.as_ref().header }
    }

    #[inline]
    pub(crate) fn is_finished(&self) -> bool {
        self.header().state.is_done()
    }

    /// Registers `waiter` to be woken when the result is stored. Returns
    /// false if it already is, or if the waiter of an earlier wait is
    /// still stored (`unregister` refused it: the thread is finishing);
    /// then nothing was registered.
    pub(crate) fn register(&self, waiter: Waiter) -> bool {
        let h = self.header();
        if !h.state.may_wait() {
            return false;
        }
        // SAFETY: while WAITING is clear only the joiner (us) writes
        // `waiter`; the ULT reads it only after seeing WAITING.
        unsafe { *h.waiter.get() = Some(waiter) };
        if !h.state.set_waiting() {
            // DONE meanwhile: the ULT saw no WAITING, so it did not read
            // `waiter`; it is ours again.
            // SAFETY: as just said.
            unsafe { *h.waiter.get() = None };
            return false;
        }
        true
    }

    /// Withdraws the waiter after a wake that came before DONE (a
    /// spurious one, a cancellation, a deadline). False if the ULT has
    /// handed its result over or is done: the waiter stays stored, the
    /// ULT's to take (and wake: that wake finds the wait over), no other
    /// can be registered, and the thread is about to finish (a caller
    /// that waits on yields, not blocks).
    pub(crate) fn unregister(&self) -> bool {
        self.header().state.clear_waiting()
    }

    /// Takes the result and frees the packet (and a held id's slot).
    /// Call only once `is_finished()` is true.
    pub(crate) fn take(self) -> std::thread::Result<T> {
        debug_assert!(self.is_finished());
        // SAFETY: DONE was observed with Acquire, so the result is written,
        // and the ULT, which let go of the packet with DONE, no longer
        // touches it: we are its only user.
        let r = unsafe { (*self.slot.as_ref().result.get()).take() };
        let (h, hold) = (self.slot.cast::<Header>(), self.hold);
        std::mem::forget(self);
        // SAFETY: as above; `forget` keeps `drop` from freeing it again.
        unsafe { free(h) };
        free_held(hold);
        r.unwrap_or_else(|| Err(Box::new(LOST) as Box<dyn Any + Send>))
    }
}

/// The payload `join` returns for a thread whose closure never ran because
/// its runtime went away first.
const LOST: &str = "the thread never ran: its runtime shut down first";

/// How a handle frees a held thread's slot: the thread API's `free_held`
/// (it uses the calling LWP's caches, a layer above this file), given by
/// [`set_free_held`] at each held spawn, before its handle exists.
static FREE_HELD: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Registers the thread API's way of freeing a held slot (see
/// [`FREE_HELD`]).
#[inline]
pub(crate) fn set_free_held(f: fn(&'static Tcb)) {
    // Relaxed: the spawn that registers it publishes the handle that
    // reads it (the handle is made after this store, on the same thread,
    // and reaches other threads only through a publication).
    FREE_HELD.store(f as *mut (), Relaxed);
}

/// The handle freed the packet: the held id's slot is its to free too,
/// after the packet (which may live in the slot's room), once the
/// thread's LWP is done with it (`thread/hold.rs`).
#[inline]
fn free_held(hold: Option<&'static Tcb>) {
    if let Some(tcb) = hold {
        let p = FREE_HELD.load(Relaxed);
        debug_assert!(!p.is_null(), "a held spawn registers free_held first");
        if !p.is_null() {
            // SAFETY: only `set_free_held` stores here, a `fn(&'static Tcb)`.
            let f = unsafe { std::mem::transmute::<*mut (), fn(&'static Tcb)>(p) };
            f(tcb);
        }
    }
}

impl<T> Drop for JoinRef<T> {
    fn drop(&mut self) {
        let h = self.slot.cast::<Header>();
        // See "Who drops the result" and "Who frees".
        let detach = if self.header().state.is_done() {
            Detach::HandleFrees
        } else {
            self.header().state.detach()
        };
        match detach {
            // The ULT drops the result and frees the packet.
            Detach::UltOwns => {}
            Detach::HandleOwns => {
                // SAFETY: HANDED was set before our DETACHED, so the ULT
                // never touches the result again; we are its only owner.
                unsafe { drop_result::<T>(h) };
                if self.header().state.gone() {
                    // SAFETY: DONE: the ULT let go first.
                    unsafe { free(h) };
                    free_held(self.hold);
                }
            }
            Detach::HandleFrees => {
                // SAFETY: DONE: the ULT let go; the result, handed over
                // (DONE comes after HANDED), is ours, and so is the packet.
                unsafe { drop_result::<T>(h) };
                // SAFETY: as above.
                unsafe { free(h) };
                free_held(self.hold);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The C API's thread closure (a start routine, its argument and an
    /// optional signal mask: four words) with a `void *` result must fit
    /// a room, or every C create+join allocates again.
    #[test]
    fn a_four_word_closures_packet_fits_a_room() {
        fn fits<F: FnOnce() -> usize>(_: &F) -> bool {
            fits_room::<F, usize>()
        }
        let four = [1usize; 4];
        assert!(fits(&move || four.iter().sum()));
        let eight = [1usize; 8];
        assert!(
            !fits(&move || eight.iter().sum()),
            "a larger one goes to a block or the heap"
        );
    }
}

//! The join packet: one allocation per spawn, holding the closure until the
//! ULT runs it and its result until `join` takes it.
//!
//! ```text
//!  #[repr(C)] Job<F, T>
//!  ┌─────────────────── Slot<T> ────────────────────┬──────────────┐
//!  │ Header: refs, state, waiter, scope, vtable     │ result: T?   │ func: F │
//!  └────────────────────────────────────────────────┴──────────────┴─────────┘
//!   ▲ JobRef (the TCB's, type-erased: runs F)       ▲ JoinRef<T> (the handle's)
//! ```
//!
//! Two references share it: the TCB's [`JobRef`], which knows only the
//! vtable, and the handle's [`JoinRef<T>`], which knows `T` but not `F`
//! (`Slot<T>` is a `#[repr(C)]` prefix of `Job<F, T>`). The last one to let
//! go frees it through the vtable, which knows the full layout.
//!
//! Join protocol, on `Header::state`:
//!
//! | state     | meaning                                            |
//! |-----------|----------------------------------------------------|
//! | `PENDING` | the ULT has not finished; nobody waits             |
//! | `WAITING` | a joiner stored its waker in `waiter` and waits    |
//! | `DONE`    | the result is stored                               |
//!
//! The joiner writes `waiter`, then CASes PENDING -> WAITING; the ULT
//! stores the result, then swaps in DONE and wakes the waiter if it saw
//! WAITING. Each side writes `waiter` only while it alone may.

use std::any::Any;
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::sched::Waiter;
use crate::thread::scoped::ScopeData;

const PENDING: u32 = 0;
const WAITING: u32 = 1;
const DONE: u32 = 2;

struct VTable {
    /// Runs the closure and stores its result.
    run: unsafe fn(NonNull<Header>),
    /// Frees the allocation (dropping a closure that never ran).
    dealloc: unsafe fn(NonNull<Header>),
}

#[repr(C)]
pub(crate) struct Header {
    refs: AtomicUsize,
    state: AtomicU32,
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
    func: UnsafeCell<ManuallyDrop<F>>,
    ran: std::cell::Cell<bool>,
}

pub(crate) use crate::thread::tcb::JobRef;

/// The join handle's reference: can wait for and take the result.
pub(crate) struct JoinRef<T>(NonNull<Slot<T>>);

// SAFETY: the closure is `Send` (required by `new`), and the header is
// shared through atomics; the TCB hands the JobRef to whichever LWP runs it.
unsafe impl Send for JobRef {}
// SAFETY: `T: Send` is required to move the result to the joining thread;
// every shared field is synchronised by the join protocol.
unsafe impl<T: Send> Send for JoinRef<T> {}
// SAFETY: a `&JoinRef` only allows `is_finished`, an atomic load.
unsafe impl<T: Send> Sync for JoinRef<T> {}

/// Allocates the packet for `f`: returns the TCB's and the handle's halves.
pub(crate) fn new<F, T>(f: F, scope: Option<Arc<ScopeData>>) -> (JobRef, JoinRef<T>)
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if let Some(s) = &scope {
        s.started();
    }
    let job = Box::new(Job::<F, T> {
        slot: Slot {
            header: Header {
                refs: AtomicUsize::new(2),
                state: AtomicU32::new(PENDING),
                waiter: UnsafeCell::new(None),
                scope,
                vtable: &VTableOf::<F, T>::VTABLE,
            },
            result: UnsafeCell::new(None),
        },
        func: UnsafeCell::new(ManuallyDrop::new(f)),
        ran: std::cell::Cell::new(false),
    });
    let p = NonNull::from(Box::leak(job));
    (JobRef(p.cast()), JoinRef(p.cast()))
}

struct VTableOf<F, T>(std::marker::PhantomData<(F, T)>);

impl<F: FnOnce() -> T, T> VTableOf<F, T> {
    const VTABLE: VTable = VTable {
        run: run::<F, T>,
        dealloc: dealloc::<F, T>,
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
    job.ran.set(true);
    // SAFETY: the closure is taken exactly once, here.
    let f = unsafe { ManuallyDrop::take(&mut *job.func.get()) };
    let result = catch_unwind(AssertUnwindSafe(f));
    // SAFETY: until DONE is published nobody else touches `result`.
    unsafe { *job.slot.result.get() = Some(result) };
}

/// # Safety
///
/// `h` must be the header of a `Job<F, T>` with no references left.
unsafe fn dealloc<F, T>(h: NonNull<Header>) {
    let p = h.cast::<Job<F, T>>().as_ptr();
    // SAFETY: the last reference is gone; the Box was leaked in `new`.
    let mut job = unsafe { Box::from_raw(p) };
    if !job.ran.get() {
        // SAFETY: the closure never ran, so it is still there to drop.
        unsafe { ManuallyDrop::drop(job.func.get_mut()) };
    }
    let unhandled_panic = matches!(job.slot.result.get_mut(), Some(Err(_)));
    // Drop the result before telling the scope: it may borrow from it.
    *job.slot.result.get_mut() = None;
    if let Some(scope) = job.slot.header.scope.take() {
        scope.finished(unhandled_panic);
    }
}

/// Drops one reference; frees the packet with the last one.
///
/// # Safety
///
/// `h` must be a live header on which the caller holds a reference.
unsafe fn release(h: NonNull<Header>) {
    // SAFETY: the caller holds a reference, so the header is live.
    let header = unsafe { h.as_ref() };
    // AcqRel: the last releaser must see every write of the other side
    // (Release on each decrement, Acquire on the final one).
    if header.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
        let dealloc = header.vtable.dealloc;
        // SAFETY: that was the last reference.
        unsafe { dealloc(h) };
    }
}

impl JobRef {
    /// The packet's header: what every `JobRef` points to (made in `new`).
    fn header_ptr(&self) -> NonNull<Header> {
        self.0.cast()
    }

    /// Runs the closure (catching a panic into the result), then
    /// `before_publish`, then publishes the result and wakes the joiner.
    /// Called on the ULT's own stack.
    pub(crate) fn run_then(self, before_publish: impl FnOnce()) {
        let h = self.header_ptr();
        // SAFETY: a JobRef always points to a live packet whose closure has
        // not run (this consumes the JobRef).
        let header = unsafe { h.as_ref() };
        // SAFETY: as above; `run` matches the packet's F and T.
        unsafe { (header.vtable.run)(h) };
        before_publish();
        // AcqRel: Release publishes the result to the joiner's Acquire
        // load; Acquire makes the joiner's `waiter` write visible to us.
        if header.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY: the joiner wrote `waiter` before its CAS to WAITING
            // and never touches it again; we are the only reader now.
            if let Some(w) = unsafe { (*header.waiter.get()).take() } {
                w.wake();
            }
        }
        std::mem::forget(self);
        // SAFETY: we held the TCB's reference.
        unsafe { release(h) };
    }
}

impl Drop for JobRef {
    /// A job dropped without running (its runtime went away first).
    fn drop(&mut self) {
        let h = self.header_ptr();
        // SAFETY: we hold the TCB's reference.
        let header = unsafe { h.as_ref() };
        header.state.store(DONE, Ordering::Release);
        // SAFETY: as above.
        unsafe { release(h) };
    }
}

impl<T> JoinRef<T> {
    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the packet alive.
        unsafe { &self.0.as_ref().header }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.header().state.load(Ordering::Acquire) == DONE
    }

    /// Registers `waiter` to be woken when the result is stored. Returns
    /// false if it already is (then nothing was registered).
    pub(crate) fn register(&self, waiter: Waiter) -> bool {
        let h = self.header();
        if h.state.load(Ordering::Acquire) == DONE {
            return false;
        }
        // SAFETY: while the state is PENDING only the joiner (us) writes
        // `waiter`; the ULT reads it only after seeing WAITING.
        unsafe { *h.waiter.get() = Some(waiter) };
        // AcqRel pairs with the swap to DONE in `JobRef::run`.
        match h
            .state
            .compare_exchange(PENDING, WAITING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // DONE meanwhile: take our waiter back.
                // SAFETY: the ULT saw PENDING when it swapped, so it did not
                // read `waiter`; it is ours again.
                unsafe { *h.waiter.get() = None };
                false
            }
        }
    }

    /// Moves back from WAITING to PENDING after a wake that came before
    /// DONE (a spurious one): returns false if the result is there.
    pub(crate) fn unregister(&self) -> bool {
        self.header()
            .state
            .compare_exchange(WAITING, PENDING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Takes the result. Call only once `is_finished()` is true.
    pub(crate) fn take(self) -> std::thread::Result<T> {
        debug_assert!(self.is_finished());
        // SAFETY: DONE was observed with Acquire, so the result is written
        // and the ULT no longer touches it.
        let r = unsafe { (*self.0.as_ref().result.get()).take() };
        r.unwrap_or_else(|| Err(Box::new(LOST) as Box<dyn Any + Send>))
    }
}

/// The payload `join` returns for a thread whose closure never ran because
/// its runtime went away first.
const LOST: &str = "the thread never ran: its runtime shut down first";

impl<T> Drop for JoinRef<T> {
    fn drop(&mut self) {
        // SAFETY: we hold the handle's reference.
        unsafe { release(self.0.cast()) };
    }
}

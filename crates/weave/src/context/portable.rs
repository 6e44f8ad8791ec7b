//! context/portable: the context switch on architectures without weave's
//! own (everything but x86_64 Linux), over `corosensei`. Owns one
//! coroutine per ULT; knows nothing of threads or queues.
//!
//! A corosensei coroutine always returns to the one that resumed it, so
//! the symmetric `switch_to` is made of two asymmetric moves: the ULT
//! leaves the target in its home ([`Home::next`]) and suspends, and the
//! `resume` running on the LWP's loop side resumes the target before it
//! returns. The loop sees what it sees with weave's own switch: `resume`
//! returns once some ULT suspends or finishes.
//!
//! The coroutine keeps its saved stack pointer to itself, so
//! [`Context::saved_stack_pointer`] has no answer, and compaction leaves
//! these stacks alone.

use std::cell::{Cell, UnsafeCell};

use corosensei::{Coroutine, CoroutineResult};

use crate::context::Resumed;
use crate::stack::Stack;

type Yielder = corosensei::Yielder<(), ()>;

/// The LWP loop's side of the switch. One per LWP, owned by it.
pub(crate) struct Home {
    /// Set by `switch_to`: the context `resume` runs next.
    next: Cell<*const Context>,
}

impl Home {
    pub(crate) const fn new() -> Home {
        Home {
            next: Cell::new(std::ptr::null()),
        }
    }
}

/// A ULT's saved execution context and its stack.
pub(crate) struct Context {
    co: UnsafeCell<Coroutine<(), (), (), Stack>>,
    /// The coroutine's yielder, stored by the entry on its first run. Boxed
    /// so that the entry can be told where, before the context has moved
    /// to its final place.
    yielder: Box<Cell<*const Yielder>>,
    /// The home of the LWP running the ULT now.
    home: Cell<*const Home>,
}

impl Context {
    /// A context that will run `entry` on `stack` when first switched to.
    pub(crate) fn new<F: FnOnce() + 'static>(stack: Stack, entry: F) -> Context {
        let yielder = Box::new(Cell::new(std::ptr::null()));
        let slot: *const Cell<*const Yielder> = &*yielder;
        let co = Coroutine::with_stack(stack, move |y: &Yielder, ()| {
            // SAFETY: the box lives as long as the context, which outlives
            // its coroutine's run.
            unsafe { (*slot).set(y) };
            entry()
        });
        Context {
            co: UnsafeCell::new(co),
            yielder,
            home: Cell::new(std::ptr::null()),
        }
    }

    /// Runs the ULT, and any it switches to, until one suspends or
    /// finishes.
    ///
    /// # Safety
    ///
    /// As weave's own switch: called by the LWP owning `home`, from its
    /// loop, on a switched-out context that nobody else resumes meanwhile.
    pub(crate) unsafe fn resume(&self, home: &Home) -> Resumed {
        let mut ctx = self;
        loop {
            ctx.home.set(home);
            home.next.set(std::ptr::null());
            // SAFETY: the caller's contract: nobody else touches the
            // coroutine while it is switched out, and the ULT side only
            // reads its yielder.
            match unsafe { (*ctx.co.get()).resume(()) } {
                CoroutineResult::Return(()) => return Resumed::Finished,
                CoroutineResult::Yield(()) => {
                    let next = home.next.replace(std::ptr::null());
                    if next.is_null() {
                        return Resumed::Suspended;
                    }
                    // SAFETY: `switch_to`'s caller vouched that `next` is
                    // a switched-out context of this LWP's, alive (a ULT
                    // that has not finished keeps its context).
                    ctx = unsafe { &*next };
                }
            }
        }
    }

    /// Not known on this backend (module doc): compaction declines.
    pub(crate) fn saved_stack_pointer(&self) -> Option<usize> {
        None
    }

    /// The stack back, once the ULT has finished or if it never ran.
    pub(crate) fn into_stack(self) -> Stack {
        let mut co = self.co.into_inner();
        if !co.started() {
            // Never ran (a bound thread whose LWP did not start): this
            // only drops the entry closure, there is nothing to unwind.
            co.force_unwind();
        }
        debug_assert!(co.done());
        co.into_stack()
    }
}

/// Switches from the running ULT, whose context is `ctx`, back to the loop
/// of the LWP running it.
///
/// # Safety
///
/// `ctx` is the context of the ULT running on this OS thread.
pub(crate) unsafe fn suspend(ctx: &Context) {
    // SAFETY: the caller's contract: we run inside `ctx`'s coroutine, whose
    // entry stored its live yielder.
    unsafe { (*ctx.yielder.get()).suspend(()) }
}

/// Switches from the running ULT `from` to the switched-out ULT `to` (by
/// way of the `resume` running on the loop's side).
///
/// # Safety
///
/// `from` is the context of the ULT running on this OS thread; `to` is
/// switched out, not finished, and its LWP's to run (the caller's LWP).
pub(crate) unsafe fn switch_to(from: &Context, to: &Context) {
    // SAFETY: `from` runs, so its home is the live home of this LWP.
    unsafe { (*from.home.get()).next.set(to) };
    // SAFETY: the caller's contract.
    unsafe { suspend(from) }
}

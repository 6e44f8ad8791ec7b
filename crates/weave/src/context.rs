//! context: switching between a ULT and its LWP's scheduler loop.
//!
//! A ULT's context is a `corosensei` coroutine over a stack from our pool
//! (the setjmp/longjmp of the seeds, done properly: callee-saved registers
//! and the stack pointer are swapped in a few instructions). The switch is
//! asymmetric: the LWP's scheduler loop resumes a ULT, and the ULT suspends
//! back to it; the loop then decides what runs next. Nothing here knows
//! about queues or states.
//!
//! ```text
//!   LWP scheduler loop (OS thread stack)       ULT (pool stack)
//!   ───────────────────────────────────        ─────────────────
//!   ctx.resume()  ───────────────────────────▶ runs ...
//!                                              suspend(yielder)
//!   returns Suspended ◀──────────────────────
//!   ... picks the next ULT ...
//!   ctx.resume()  ───────────────────────────▶ returns from suspend
//!                                              closure returns
//!   returns Finished  ◀──────────────────────
//! ```

#[cfg(feature = "tls-per-ult")]
pub(crate) mod tls;

use corosensei::{Coroutine, CoroutineResult};

use crate::stack::Stack;

/// The handle a ULT uses to switch back to its LWP.
pub(crate) type Yielder = corosensei::Yielder<(), ()>;

/// A ULT's saved execution context and its stack.
pub(crate) struct Context(Coroutine<(), (), (), Stack>);

/// What a resume came back with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    Suspended,
    Finished,
}

impl Context {
    /// A context that will run `entry` on `stack` when first resumed.
    pub(crate) fn new(stack: Stack, entry: impl FnOnce(&Yielder) + 'static) -> Context {
        Context(Coroutine::with_stack(stack, move |y: &Yielder, ()| {
            entry(y)
        }))
    }

    /// Runs the ULT until it suspends or finishes.
    #[inline]
    pub(crate) fn resume(&mut self) -> Resumed {
        match self.0.resume(()) {
            CoroutineResult::Yield(()) => Resumed::Suspended,
            CoroutineResult::Return(()) => Resumed::Finished,
        }
    }

    /// The stack pointer a suspended ULT was switched out with, if it can
    /// be told: its lowest live byte (the switch's own saved registers and
    /// return address are above it). `limit..base` is the ULT's stack.
    ///
    /// corosensei keeps that pointer in the coroutine and does not show
    /// it. The coroutine holds, besides it, the stack (`Stack`: its base
    /// and class, two whole words with no padding), the initial stack
    /// pointer (just below the base) and a function pointer (code, never
    /// inside a stack). So the lowest word of the context that lies
    /// strictly inside the stack is the saved pointer. A layout that ever
    /// breaks that gives `None` (no word inside the stack, or one above
    /// `below`, the stack pointer the ULT noted as it blocked), and the
    /// caller then leaves the stack alone: compaction fails safe.
    pub(crate) fn saved_stack_pointer(
        &self,
        limit: usize,
        base: usize,
        below: usize,
    ) -> Option<usize> {
        const WORD: usize = std::mem::size_of::<usize>();
        let words = std::mem::size_of::<Context>() / WORD;
        let p = (self as *const Context).cast::<usize>();
        let mut lowest = None;
        for i in 0..words {
            // SAFETY: `self` is a live `Context` of `words` whole words,
            // every one an initialised integer or pointer (no padding: see
            // above and `Stack`), aligned as a `usize`.
            let w = unsafe { p.add(i).read() };
            if w > limit && w < base {
                lowest = Some(lowest.map_or(w, |l: usize| l.min(w)));
            }
        }
        lowest.filter(|&sp| sp <= below && sp % WORD == 0)
    }

    /// The stack back, once the ULT has finished.
    pub(crate) fn into_stack(self) -> Stack {
        debug_assert!(self.0.done());
        self.0.into_stack()
    }
}

/// Switches from the running ULT back to its LWP's scheduler loop.
///
/// # Safety
///
/// `yielder` must be the yielder of the ULT running on this OS thread, as
/// stored by its entry function.
#[inline]
pub(crate) unsafe fn suspend(yielder: *const Yielder) {
    // SAFETY: the caller guarantees `yielder` is the live yielder of the
    // current coroutine, which lives on that coroutine's stack.
    unsafe { (*yielder).suspend(()) }
}

/// The caller's frame pointer (`rbp` on x86_64, `x29` on aarch64): with
/// frame pointers kept, the head of the chain of saved frame pointers and
/// return addresses that a thread dump walks for a parked ULT
/// (`inspect/stacks.rs`). Without them the register holds any value; the
/// walker checks every address against the ULT's stack before reading.
#[inline(always)]
pub(crate) fn frame_address() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads a register; no memory access, no side effect.
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above.
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

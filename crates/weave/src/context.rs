//! context: switching between ULTs and their LWP's scheduler loop.
//!
//! A ULT's context is its stack from our pool and, while it is switched
//! out, the stack pointer it was switched out with (the setjmp/longjmp of
//! the seeds, done properly: the callee-saved registers and the return
//! address sit on the ULT's own stack, below that pointer). Nothing here
//! knows about queues or states.
//!
//! Three moves, one shape on every architecture:
//!
//! ```text
//!   LWP scheduler loop (OS thread stack)      ULT A            ULT B
//!   ───────────────────────────────────      ──────           ──────
//!   ctx_a.resume(&home)  ───────────────────▶ runs ...
//!                                            switch_to(a, b) ─▶ returns from its
//!                                                               last switch out
//!                                                               ...
//!   returns Suspended ◀──────────────────────────────────────── suspend(b)
//!   ... the loop files whoever came back (B), picks the next ...
//!   ctx_a.resume(&home)  ───────────────────▶ returns from switch_to
//!                                            closure returns
//!   returns Finished  ◀──────────────────────
//! ```
//!
//! `resume` runs a ULT from the loop; `suspend` goes back to the loop of
//! the LWP it runs on (its [`Home`]); `switch_to` goes from one ULT
//! straight to another (the symmetric switch), and the loop later hears
//! from whichever ULT goes back to it: a resume's answer is about the ULT
//! that suspended or finished, not necessarily the one it resumed (the
//! caller knows which from `thread::current`).
//!
//! Two backends, chosen here by one `cfg`:
//! - `context/x86_64.rs` (x86_64 Linux): weave's own switch, eight
//!   instructions of assembly called from an `asm!` block that lets the
//!   compiler save only what is live; the saved stack pointer is a field, so
//!   [`Context::saved_stack_pointer`] is exact.
//! - `context/portable.rs` (everything else): a `corosensei` coroutine per
//!   ULT. Its coroutines always return to their resumer, so `switch_to`
//!   goes through the `resume` that runs the loop's side (the loop does
//!   not see it: `resume` switches on and returns only when a ULT suspends
//!   or finishes); its saved stack pointer is not shown, so compaction
//!   declines there. Unit tests build it on x86_64 too.

pub(crate) mod errno;
pub(crate) mod floor;
#[cfg(feature = "tls-per-ult")]
pub(crate) mod tls;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[path = "context/x86_64.rs"]
mod backend;

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[path = "context/portable.rs"]
mod backend;

// The portable backend under test on x86_64, so that it stays built.
#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
#[path = "context/portable.rs"]
mod portable;

pub(crate) use backend::{suspend, switch_to, Context, Home};

/// What a resume came back with: the ULT that went back to the loop
/// suspended (it will run again) or finished (its stack may be reused).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    Suspended,
    Finished,
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

/// Runs `f` on the stack `lo..hi` (a program's alternate signal stack,
/// `signal/altstack.rs`) and comes back to the caller's stack after it.
/// `f` may also leave by `siglongjmp` to a frame of the caller's stack,
/// abandoning both.
///
/// # Safety
///
/// `lo..hi` is mapped, writable memory nothing else uses while `f` runs,
/// with room for `f`'s frames.
// ASYNC-SIGNAL-SAFE: a stack switch, no allocation.
pub(crate) unsafe fn run_on_stack(lo: usize, hi: usize, f: impl FnOnce()) {
    /// The span as corosensei takes it, aligned inward to 16 bytes.
    struct Span {
        lo: usize,
        hi: usize,
    }
    // SAFETY: `lo..hi` is mapped, writable and ours while `f` runs (the
    // caller's contract); both ends are 16-aligned and non-zero.
    unsafe impl corosensei::stack::Stack for Span {
        fn base(&self) -> corosensei::stack::StackPointer {
            corosensei::stack::StackPointer::new(self.hi).expect("a stack top is never 0")
        }
        fn limit(&self) -> corosensei::stack::StackPointer {
            corosensei::stack::StackPointer::new(self.lo).expect("a stack bottom is never 0")
        }
    }
    let span = Span {
        lo: (lo + 15) & !15,
        hi: hi & !15,
    };
    corosensei::on_stack(span, f);
}

/// Tests of the shape every backend has; `backend_tests!(path)` runs them
/// against one.
#[cfg(all(test, not(loom)))]
macro_rules! backend_tests {
    ($b:path) => {
        use std::cell::Cell;
        use std::rc::Rc;

        use crate::context::Resumed;
        use crate::stack::Stack;
        use $b as b;

        /// A stack of the test's own (the pool's belong to the runtime).
        fn stack() -> (Stack, Vec<u128>) {
            let mut mem = vec![0u128; 64 * 1024 / 16];
            let lo = mem.as_mut_ptr() as usize;
            let hi = lo + mem.len() * 16;
            // SAFETY: `mem` is returned with the stack and outlives it.
            (unsafe { Stack::user(lo, hi) }, mem)
        }

        fn ctx_limits(mem: &[u128]) -> (usize, usize) {
            let lo = mem.as_ptr() as usize;
            (lo, lo + mem.len() * 16)
        }

        #[test]
        fn resume_runs_to_each_suspend_then_to_the_end() {
            let home = b::Home::new();
            let (s, _mem) = stack();
            let seen = Rc::new(Cell::new(0));
            let me: Rc<Cell<*const b::Context>> = Rc::new(Cell::new(std::ptr::null()));
            let (seen2, me2) = (seen.clone(), me.clone());
            let ctx = b::Context::new(s, move || {
                // A value on the ULT's own stack survives its switches.
                let mine = [7u64; 4];
                for i in 1..=3 {
                    seen2.set(i);
                    // SAFETY: we are the ULT of `me`, run by `resume`.
                    unsafe { b::suspend(&*me2.get()) };
                }
                assert_eq!(std::hint::black_box(mine), [7u64; 4]);
                seen2.set(10);
            });
            me.set(&ctx);
            let (lo, hi) = (ctx_limits(&_mem).0, ctx_limits(&_mem).1);
            for i in 1..=3 {
                // SAFETY: this thread runs the ULT; nobody else does.
                assert_eq!(unsafe { ctx.resume(&home) }, Resumed::Suspended);
                assert_eq!(seen.get(), i);
                // Where it was switched out, if the backend can tell.
                if let Some(sp) = ctx.saved_stack_pointer() {
                    assert!(lo < sp && sp < hi, "{sp:#x} outside {lo:#x}..{hi:#x}");
                }
            }
            // SAFETY: as above.
            assert_eq!(unsafe { ctx.resume(&home) }, Resumed::Finished);
            assert_eq!(seen.get(), 10);
            assert_eq!(ctx.into_stack().size(), 64 * 1024, "the stack comes back");
        }

        #[test]
        fn switch_to_runs_the_other_context_and_the_loop_hears_from_it() {
            let home = b::Home::new();
            let ((sa, _ma), (sb, _mb)) = (stack(), stack());
            let log = Rc::new(std::cell::RefCell::new(Vec::new()));
            let a_ptr: Rc<Cell<*const b::Context>> = Rc::new(Cell::new(std::ptr::null()));
            let b_ptr: Rc<Cell<*const b::Context>> = Rc::new(Cell::new(std::ptr::null()));
            let (la, pa, pb) = (log.clone(), a_ptr.clone(), b_ptr.clone());
            let a = b::Context::new(sa, move || {
                la.borrow_mut().push("a1");
                // SAFETY: we are `a`, running; `b` is switched out.
                unsafe { b::switch_to(&*pa.get(), &*pb.get()) };
                la.borrow_mut().push("a2");
            });
            let (lb, pb2) = (log.clone(), b_ptr.clone());
            let bb = b::Context::new(sb, move || {
                lb.borrow_mut().push("b1");
                // SAFETY: we are `b`, running.
                unsafe { b::suspend(&*pb2.get()) };
                lb.borrow_mut().push("b2");
            });
            a_ptr.set(&a);
            b_ptr.set(&bb);
            // A runs, switches straight to B (fresh), which suspends: the
            // loop hears from B.
            // SAFETY: this thread runs both; nobody else does.
            assert_eq!(unsafe { a.resume(&home) }, Resumed::Suspended);
            assert_eq!(*log.borrow(), ["a1", "b1"]);
            // SAFETY: as above.
            assert_eq!(unsafe { a.resume(&home) }, Resumed::Finished);
            // SAFETY: as above.
            assert_eq!(unsafe { bb.resume(&home) }, Resumed::Finished);
            assert_eq!(*log.borrow(), ["a1", "b1", "a2", "b2"]);
            assert_eq!(
                a.into_stack().size() + bb.into_stack().size(),
                2 * 64 * 1024
            );
        }
    };
}

#[cfg(all(test, not(loom)))]
mod tests {
    backend_tests!(super::backend);
}

#[cfg(all(test, not(loom), target_arch = "x86_64", target_os = "linux"))]
mod portable_tests {
    backend_tests!(super::portable);
}

#[cfg(all(test, not(loom), target_arch = "x86_64", target_os = "linux"))]
mod exact_sp_tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::backend::{suspend, Context, Home};
    use crate::stack::Stack;

    /// weave's own switch knows where a ULT was switched out: just below
    /// the frame that called `suspend` (the two saved registers and the
    /// return address, and that frame's own spill slots).
    #[test]
    fn saved_stack_pointer_is_just_below_the_suspending_frame() {
        let mut mem = vec![0u128; 64 * 1024 / 16];
        let lo = mem.as_mut_ptr() as usize;
        // SAFETY: `mem` outlives the context.
        let s = unsafe { Stack::user(lo, lo + mem.len() * 16) };
        let here = Rc::new(Cell::new(0usize));
        let me: Rc<Cell<*const Context>> = Rc::new(Cell::new(std::ptr::null()));
        let (h, m) = (here.clone(), me.clone());
        let ctx = Context::new(s, move || {
            let local = 0u8;
            h.set(std::hint::black_box(&local) as *const u8 as usize);
            // SAFETY: we are the ULT of `m`, run by `resume`.
            unsafe { suspend(&*m.get()) };
        });
        me.set(&ctx);
        let home = Home::new();
        // SAFETY: this thread runs the ULT; nobody else does.
        unsafe { ctx.resume(&home) };
        let sp = ctx.saved_stack_pointer().expect("switched out");
        assert!(
            sp < here.get() && here.get() - sp < 512,
            "{sp:#x} vs {:#x}",
            here.get()
        );
        assert_eq!(
            sp % 16,
            8,
            "a call leaves the stack pointer at 16n + 8; two pushes keep it there"
        );
        // SAFETY: as above.
        unsafe { ctx.resume(&home) };
        assert_eq!(ctx.saved_stack_pointer(), None, "finished");
        assert_eq!(ctx.into_stack().size(), 64 * 1024, "the stack comes back");
    }
}

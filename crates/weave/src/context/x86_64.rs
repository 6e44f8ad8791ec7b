//! context/x86_64: weave's own context switch for x86_64 Linux (System V
//! ABI). Owns the switch routine, the initial frame of a fresh stack and
//! the saved stack pointer; knows nothing of threads or queues.
//!
//! ## The switch
//!
//! `switch(save, to, arg)` is an `asm!` block, inlined into each switch
//! site, that calls the routine `weave_context_switch` (`rdi` = `save`,
//! `rsi` = `to`, `rdx` = `arg`) and tells the compiler that every register
//! but `rbx`, `rbp` and `rsp` is lost across it: the caller-saved ones as
//! for any call, and `r12`-`r15` too, so the compiler keeps in memory only
//! what is live after the switch (`yield_current` and the block save
//! those four in their prologue anyway; the routine no longer pushes them
//! a second time). The routine pushes `rbp` and `rbx` (an `asm!` block cannot name
//! them), stores the stack pointer through `save`, loads `to` as the stack
//! pointer, pops the other side's two and returns into it with `arg` as
//! the return value (`rax`). The `call` and the `ret` stay paired on each
//! stack, so the return predictor, which expects the caller of the call,
//! is right whenever both sides switched from the same site (a yield, a
//! ping-pong's blocks). A switched-out context's stack, from its saved
//! pointer up:
//!
//! ```text
//!   higher addresses
//!   │ ... the switched-out code's frames ...  │
//!   │ return address (into its call of the    │
//!   │   switch)                               │
//!   │ rbp                                     │
//!   │ rbx                                     │◀ saved stack pointer (`Context::sp`)
//!   lower addresses: free (the 128-byte red zone of the ABI included)
//! ```
//!
//! The control word of the x87 unit and `mxcsr` (rounding modes, also
//! callee-saved in the ABI) are not switched: a ULT that changes them
//! changes them for the ULTs of its LWP, as corosensei's switch did.
//!
//! ## A fresh stack
//!
//! [`Context::new`] writes the entry closure at the top of the stack and,
//! below it, a frame that looks like a switched-out context whose return
//! address is [`weave_context_start`] and whose `rbx` holds the
//! monomorphised start function:
//!
//! ```text
//!   base (16-aligned)
//!   │ the closure `F` (rounded up to 16)      │◀ obj (16-aligned)
//!   │ weave_context_start                     │  return address (obj - 8)
//!   │ rbp = 0                                 │
//!   │ rbx = start::<F>                        │◀ initial stack pointer
//! ```
//!
//! The first switch into it "returns" into `weave_context_start` with the
//! stack pointer at `obj` (16-aligned, as a `call` wants), which calls
//! `start::<F>(obj, arg)` (`obj` is that stack pointer): `arg` is the
//! context being entered, which every switch into a ULT passes. Its
//! frame ends both kinds of backtrace: its saved frame pointer is 0 (a
//! frame-pointer walk stops there) and its DWARF rule marks the return
//! address undefined (an unwinder stops there). `start` takes the closure, runs it, and switches to the home
//! of whichever LWP runs the ULT then, saying `FINISHED`; it never
//! returns, and a panic out of the closure aborts (it is `extern "C"`):
//! the thread layer catches a ULT's panics in the closure already.

use std::cell::{Cell, UnsafeCell};

use crate::context::Resumed;
use crate::stack::Stack;

/// What the switch passes to the LWP's loop as a ULT goes back to it.
const SUSPENDED: usize = 0;
const FINISHED: usize = 1;

std::arch::global_asm!(
    ".pushsection .text.weave_context_switch,\"ax\",@progbits",
    ".balign 16",
    ".globl weave_context_switch",
    ".hidden weave_context_switch",
    ".type weave_context_switch,@function",
    "weave_context_switch:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset rbp, 0",
    "push rbx",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset rbx, 0",
    // Save ours, take theirs: from here on the stack is the other side's,
    // laid out the same way, so the rules above still describe it.
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "pop rbx",
    ".cfi_adjust_cfa_offset -8",
    "pop rbp",
    ".cfi_adjust_cfa_offset -8",
    "mov rax, rdx",
    "ret",
    ".cfi_endproc",
    ".size weave_context_switch, . - weave_context_switch",
    // The first frame of every ULT (module doc).
    ".balign 16",
    ".globl weave_context_start",
    ".hidden weave_context_start",
    ".type weave_context_start,@function",
    "weave_context_start:",
    ".cfi_startproc",
    ".cfi_undefined rip",
    "mov rdi, rsp",
    "mov rsi, rax",
    "call rbx",
    "ud2",
    ".cfi_endproc",
    ".size weave_context_start, . - weave_context_start",
    ".popsection",
);

extern "C" {
    /// Not called as a function (only by [`switch`]'s `call`, which saves
    /// what the routine does not): its address is what that `call` names.
    fn weave_context_switch();
    /// Not called: its address is the first return address of a context.
    fn weave_context_start();
}

/// Saves the caller's context, storing its stack pointer at `save`, and
/// resumes the context switched out with stack pointer `to`, whose switch
/// (or first frame) gets `arg`. Inlined into each switch site: the call of
/// `weave_context_switch` is made from an `asm!` block that tells the
/// compiler every register but `rbx`, `rbp` and `rsp` is lost across it, so
/// the caller keeps in memory only what is live after the switch (most
/// callers save the callee-saved registers in their prologue anyway) and
/// the routine saves the two the compiler cannot be told about.
///
/// # Safety
///
/// `save` is the running side's to write; `to` is the saved stack pointer
/// of a switched-out context, which nobody else resumes meanwhile.
#[inline(always)]
unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let r: usize;
    // SAFETY: the caller's contract. The routine keeps `rbx`, `rbp` and
    // `rsp` as a call does (the other side's values are its own, saved by
    // its own switch), and the stack is aligned for the call (no `nostack`).
    unsafe {
        std::arch::asm!(
            "call {switch}",
            switch = sym weave_context_switch,
            in("rdi") save,
            in("rsi") to,
            in("rdx") arg,
            lateout("rax") r,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            clobber_abi("C"),
        );
    }
    r
}

/// The LWP loop's side of the switch: where a ULT's `suspend` lands. One
/// per LWP, owned by it; a ULT reaches it through its context's `home`.
pub(crate) struct Home {
    /// The loop's stack pointer while a ULT runs.
    sp: UnsafeCell<usize>,
}

impl Home {
    pub(crate) const fn new() -> Home {
        Home {
            sp: UnsafeCell::new(0),
        }
    }
}

/// A ULT's saved execution context and its stack.
pub(crate) struct Context {
    /// The stack pointer the ULT was switched out with (the initial one
    /// before its first run); 0 once it has finished. Stale while it runs.
    sp: Cell<usize>,
    /// The home of the LWP that last resumed the ULT (directly, or a ULT
    /// that switched to it): where its `suspend` and its end go.
    home: Cell<*const Home>,
    stack: Stack,
}

impl Context {
    /// A context that will run `entry` on `stack` when first switched to.
    pub(crate) fn new<F: FnOnce() + 'static>(stack: Stack, entry: F) -> Context {
        const WORD: usize = std::mem::size_of::<usize>();
        let base = stack.limit_addr() + stack.size();
        let align = std::mem::align_of::<F>().max(16);
        let obj = (base - std::mem::size_of::<F>()) & !(align - 1);
        let frame: [usize; 3] = [
            start::<F> as unsafe extern "C" fn(*mut F, *const Context) -> ! as usize, // rbx
            0,                                                      // rbp: ends the frame chain
            weave_context_start as unsafe extern "C" fn() as usize, // return address
        ];
        let sp = obj - frame.len() * WORD;
        assert!(
            sp > stack.limit_addr() + 1024,
            "a {}-byte closure does not fit a {}-byte stack",
            std::mem::size_of::<F>(),
            stack.size()
        );
        // SAFETY: `sp..base` lies inside the stack (checked above), which is
        // ours and not running; `obj` is aligned for `F` and `sp` for words.
        unsafe {
            std::ptr::write(obj as *mut F, entry);
            std::ptr::write(sp as *mut [usize; 3], frame);
        }
        Context {
            sp: Cell::new(sp),
            home: Cell::new(std::ptr::null()),
            stack,
        }
    }

    /// Runs the ULT from its LWP's loop, `home`, until a ULT goes back to
    /// the loop (this one, or one it switched to): returns whether that
    /// one suspended or finished.
    ///
    /// # Safety
    ///
    /// Called by the LWP owning `home`, from its loop (not from a ULT), on
    /// a context that is switched out and not finished, which no other
    /// thread resumes meanwhile.
    #[inline]
    pub(crate) unsafe fn resume(&self, home: &Home) -> Resumed {
        debug_assert!(self.sp.get() != 0, "resumed a finished context");
        self.home.set(home);
        // SAFETY: the caller's contract: `self` is switched out, so its
        // saved stack pointer leads to a frame of the switch (or the
        // initial one), and `home` is this thread's to save into.
        let r = unsafe { switch(home.sp.get(), self.sp.get(), self as *const _ as usize) };
        if r == FINISHED {
            Resumed::Finished
        } else {
            Resumed::Suspended
        }
    }

    /// The stack pointer the ULT was switched out with: its lowest live
    /// byte (the switch's saved registers and return address are at and
    /// above it). `None` once finished.
    pub(crate) fn saved_stack_pointer(&self) -> Option<usize> {
        Some(self.sp.get()).filter(|&sp| sp != 0)
    }

    /// The stack back, once the ULT has finished (or never ran).
    pub(crate) fn into_stack(self) -> Stack {
        self.stack
    }
}

/// Switches from the running ULT, whose context is `ctx`, back to the loop
/// of the LWP running it.
///
/// # Safety
///
/// `ctx` is the context of the ULT running on this OS thread.
#[inline]
pub(crate) unsafe fn suspend(ctx: &Context) {
    // SAFETY: the caller's contract: we run on `ctx`'s stack, so saving
    // into it is right, and its home is the loop that switched us in,
    // switched out inside `resume`.
    unsafe { switch(ctx.sp.as_ptr(), *(*ctx.home.get()).sp.get(), SUSPENDED) };
}

/// Switches from the running ULT, whose context is `from`, straight to the
/// switched-out ULT `to`, which then goes back to the same loop.
///
/// # Safety
///
/// `from` is the context of the ULT running on this OS thread; `to` is
/// switched out, not finished, and its LWP's to run (the caller's LWP).
#[inline]
pub(crate) unsafe fn switch_to(from: &Context, to: &Context) {
    debug_assert!(to.sp.get() != 0, "switched to a finished context");
    to.home.set(from.home.get());
    // SAFETY: the caller's contract, as for `suspend` and `resume`.
    unsafe { switch(from.sp.as_ptr(), to.sp.get(), to as *const _ as usize) };
}

/// The body of `weave_context_start`'s call: runs the closure at `obj`,
/// then leaves the stack for good.
///
/// # Safety
///
/// Called only by `weave_context_start`, on the stack `Context::new` set
/// up, with `obj` the closure it wrote there and `ctx` the context being
/// entered.
unsafe extern "C" fn start<F: FnOnce()>(obj: *mut F, ctx: *const Context) -> ! {
    // SAFETY: `Context::new` wrote an `F` at `obj`; it is read once.
    let entry = unsafe { std::ptr::read(obj) };
    entry();
    // SAFETY: `ctx` is the context of this ULT (every switch into a ULT
    // passes its own), alive until its LWP, told `FINISHED`, takes it.
    let ctx = unsafe { &*ctx };
    ctx.sp.set(0);
    let mut gone = 0usize;
    // SAFETY: the home of the LWP running us is switched out in `resume`;
    // nothing will switch back here (`sp` is 0, and nobody saves `gone`).
    unsafe { switch(&mut gone, *(*ctx.home.get()).sp.get(), FINISHED) };
    crate::fatal("a finished ULT was switched to")
}

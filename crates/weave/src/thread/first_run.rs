//! first_run: a pooled ULT gets its stack when it first runs, not at spawn.
//!
//! Owns the hand-over of a promised stack (`stack::Pool::promise`, taken at
//! spawn) to the ULT that holds the promise, on the LWP that first picks
//! it: the stack comes from that LWP's death row when it has one, its
//! guard page and size go into the TCB's overflow record, and the entry
//! frame is written on it ([`Context::new`]). Until then the ULT is its
//! TCB and its join packet (the closure lives there): a burst of 100,000
//! spawns whose children run and end one after another on one LWP touches
//! the few stacks its death row holds, where taking a stack at spawn
//! faulted in 100,000 fresh ones before the first child ran.
//!
//! The ULT's entry is the public thread layer's (`thread::entry`), which
//! the LWP, below it, must not name: the spawn path registers it here as
//! a plain function pointer ([`register_entry`]), as the signal layer
//! registers its hooks with the engine.
//!
//! Layer 2 (beside the TCB): names the stack pool, the context and the
//! TCB; not the LWPs, the runtime or the public API.
//!
//! Readers of a ULT's stack that see one that has not run: the overflow
//! record says size 0 (`inspect/stacks.rs` walks nothing), `parked_sp` is
//! 0 (no trim, no compaction), `ctx` is `None` (a direct switch targets a
//! ULT that has not run only after its LWP took it from `fresh` and gave
//! it its stack, `Lwp::direct_new`: those wait in `fresh` or the
//! injector, and only placed ULTs are in a ready queue).

use std::sync::OnceLock;

use crate::context::Context;
use crate::stack::{class_size, Cache, Pool};
use crate::thread::tcb::Tcb;

/// The public layer's ULT entry: runs the job of the TCB it is given.
static ENTRY: OnceLock<fn(&'static Tcb)> = OnceLock::new();

/// Registers the ULT entry. Called by every spawn (after the first, a
/// load and a branch), before the TCB is published.
#[inline]
pub(crate) fn register_entry(entry: fn(&'static Tcb)) {
    if ENTRY.get().is_none() {
        let _ = ENTRY.set(entry);
    }
}

/// The first frame's body for a ULT whose stack was given at first run.
fn run(tcb: &'static Tcb) {
    match ENTRY.get() {
        Some(entry) => entry(tcb),
        None => crate::fatal("a ULT ran before any spawn registered the entry"),
    }
}

/// Gives `tcb`, which holds a promise of a stack of its class and is
/// about to run for the first time, that stack (from `cache` first, then
/// `pool`), records its guard in the overflow record, and makes its
/// context. Returns the context.
///
/// A stack that cannot be had even so (the guard page could not be
/// installed: the kernel is out of memory for page tables) ends the
/// process with a message naming the thread, the size and the error: the
/// spawn that could have reported it has returned long ago.
///
/// # Safety
///
/// The caller is the LWP holding `tcb` RUNNING, which owns its `ctx` and
/// overflow record; `tcb` has no context yet, and its `class` was written
/// at spawn with the promise.
pub(crate) unsafe fn give_stack(
    tcb: &'static Tcb,
    pool: &Pool,
    cache: &mut Cache,
) -> &'static Context {
    // SAFETY: written at spawn, before the TCB was published.
    let class = unsafe { *tcb.class.get() };
    let stack = match pool.take_promised(class, cache) {
        Ok(s) => s,
        Err(e) => no_stack(tcb, class, &e),
    };
    let (guard_lo, guard_hi) = stack.guard_range();
    let size = stack.size();
    // SAFETY: the caller's contract: the overflow record and the context
    // are the running LWP's; nothing reads the record's stack fields of a
    // ULT that has not run (module doc) until it runs, after this.
    unsafe {
        let info = &mut *tcb.overflow.get();
        info.guard_lo = guard_lo;
        info.guard_hi = guard_hi;
        info.stack_size = size;
        tcb.publish_stack(guard_hi, size);
        *tcb.ctx.get() = Some(Context::new(stack, move || run(tcb)));
        match (*tcb.ctx.get()).as_ref() {
            Some(ctx) => ctx,
            None => crate::fatal("a context just made is gone"),
        }
    }
}

#[cold]
#[inline(never)]
fn no_stack(tcb: &Tcb, class: u8, e: &std::io::Error) -> ! {
    let name = tcb.name();
    let label = match &name {
        Some(n) => format!("'{n}'"),
        None => "(unnamed)".to_owned(),
    };
    crate::fatal(&format!(
        "cannot start thread {label} ({:?}): no stack of {} bytes could be had at its first \
         run: {e}; free memory, or run fewer threads at once",
        tcb.id(),
        class_size(class),
    ))
}

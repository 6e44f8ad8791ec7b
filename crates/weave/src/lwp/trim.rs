//! Trimming parked stacks: giving back the pages below the stack pointer
//! of a ULT that has been parked for a while.
//!
//! A ULT that once ran deep (a recursive parse, a big buffer on the stack)
//! and then parks keeps every page it touched, as an OS thread does. Those
//! below its stack pointer hold nothing it will read again: they are given
//! back (`MADV_DONTNEED`) and fault in zero-filled if it ever goes that
//! deep again, as Go shrinks the stacks of idle goroutines.
//!
//! 1. As a ULT blocks, it records where its stack pointer is
//!    (`Tcb::parked_sp`, one relaxed store: [`note_parked`]).
//! 2. The monitor finds ULTs parked through one whole trim period
//!    (`monitor/trim.rs`) and hands each to its home LWP
//!    (`Lwp::request_trims`), waking that LWP if it sleeps.
//! 3. The home LWP, between two ULTs (at its io-poll cadence) or before it
//!    sleeps, trims each one that is still the same thread blocked in the
//!    same wait (`Lwp::trim_if_due`, then [`trim_all`]).
//!
//! Why the LWP and not the monitor: a started ULT runs only on its home
//! LWP (DESIGN.md decision 3), so while that LWP runs its scheduler loop
//! none of its ULTs can run, and none can touch the pages being given back.
//! The monitor could only make that true by adding a state to the thread
//! state word. Migratable ULTs, which any LWP may resume, are not trimmed.
//!
//! This file holds the steps; `lwp/mod.rs` only calls them (it owns the
//! waking of a sleeping LWP), so that this file need not name the LWP.
//! That wake is the sleep/wake handshake of `sched/idle.rs` with `due` as
//! the work flag (set, fence, claim the sleeper; against announce, fence,
//! look at `due`): its loom model `a_push_and_a_sleep_never_miss_each_other`
//! covers it. A request is never lost: each `push` sets `due` after adding
//! to the list, so a `take` follows that sees it (or an earlier one took it).
//!
//! What is given back: from the stack's limit up to the recorded stack
//! pointer less [`MARGIN`] (the frames of the switch itself sit below the
//! recorded point, and x86_64's 128-byte red zone below those).
//!
//! **Compaction** (`WEAVE_COMPACT`, `docs/design/compaction.md`) is the
//! next step of the same request: a request marked `compact`, for a ULT
//! parked long enough in a wait of the list ([`compactable`]), also has
//! the live part of its stack copied out and its pages guarded
//! (`stack::compact`), under the same checks (same thread, same wait, not
//! woken), and only if it owns no live `thread::scope` (`Tcb::scopes`: its
//! children may lend its stack to the kernel). [`restore_compacted`] puts
//! it back as its LWP switches to it.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Mutex;

use crate::pagevec::PageVec;
use crate::stack::{compact, Pool, PAGE};
use crate::thread::id::BlockReason;
use crate::thread::state;
use crate::thread::table::table;
use crate::thread::tcb::{Kind, Tcb};

/// Stack kept below a parked ULT's recorded stack pointer: the frames of
/// the switch itself (the callee-saved registers and a return address or
/// two, under 200 bytes) and the 128-byte red zone, with room to spare.
pub(crate) const MARGIN: usize = PAGE;

/// A ULT to trim, in one wait: table index and generation (a slot reused
/// by another thread since the monitor looked is left alone) and the block
/// epoch of the wait (a ULT that has run since is left alone: it may be
/// switched out deeper than the stack pointer it noted, after a yield).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) index: u32,
    pub(crate) generation: u32,
    pub(crate) epoch: u64,
    /// Compact the stack too (the ULT has been parked past
    /// `WEAVE_COMPACT` in a wait of the list).
    pub(crate) compact: bool,
}

/// `parked_fp`'s bit 0 while the stack is compacted: a frame pointer is
/// 16-byte aligned, so the bit is otherwise clear (and a dump's walk, which
/// needs an aligned pointer, stops before reading a compacted stack).
pub(crate) const COMPACTED: u32 = 1;

/// The waits whose ULTs may be compacted (`docs/design/compaction.md`
/// says why these and no others): a socket readiness wait, a sleep, a
/// channel send or receive, a `select!` over channels. `reason` is the
/// state word's (the timed bit ignored).
pub(crate) fn compactable(reason: u8) -> bool {
    let r = reason & !state::TIMED;
    [
        BlockReason::Net,
        BlockReason::Sleep,
        BlockReason::Channel,
        BlockReason::Select,
    ]
    .iter()
    .any(|&b| b as u8 == r)
}

/// An LWP's pending trim requests.
#[derive(Default)]
pub(crate) struct Requests {
    /// A mapping of its own (`PageVec`): the first pass after a burst
    /// parks asks for every ULT of it at once.
    list: Mutex<PageVec<Request>>,
    /// `list` is not empty: the one word the LWP's loop reads.
    due: AtomicBool,
}

impl Requests {
    /// Whether requests wait (the LWP's last look before it sleeps).
    #[inline]
    pub(crate) fn due(&self) -> bool {
        self.due.load(Relaxed)
    }
}

/// Step 1 (module doc): the blocking ULT `tcb` notes where its stack
/// pointer is (the low 32 bits: two instructions on the block path). Runs
/// on the ULT's stack.
#[inline]
pub(crate) fn note_parked(tcb: &Tcb) {
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    tcb.parked_sp.store(sp as u32, Relaxed);
}

/// The room below a parked ULT's stack pointer, from the low 32 bits of
/// that pointer and the stack's limit (stacks are under 4 GiB).
fn room_below(sp_low: u32, limit: usize) -> usize {
    sp_low.wrapping_sub(limit as u32) as usize
}

impl Requests {
    /// Step 2: adds `reqs`; the caller then wakes the LWP if it sleeps
    /// (`Lwp::request_trims`).
    pub(crate) fn push(&self, reqs: &[Request]) {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(reqs);
        // Release pairs with the Acquire swap in `take`.
        self.due.store(true, Release);
    }

    /// The requests, if any came since the last take.
    pub(crate) fn take(&self) -> Option<PageVec<Request>> {
        // Acquire pairs with the Release store in `push`.
        if !self.due.load(Relaxed) || !self.due.swap(false, Acquire) {
            return None;
        }
        Some(std::mem::take(
            &mut *self.list.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

/// Step 3: trims each ULT of `reqs` that is still the thread named, placed
/// on LWP `home`, and switched out, and compacts those asked for. Called by
/// LWP `home`'s scheduler loop only (never from a ULT), so that none of its
/// ULTs can run meanwhile. Returns the number compacted.
pub(crate) fn trim_all(reqs: PageVec<Request>, home: usize, pool: &Pool) -> usize {
    let mut compacted = 0;
    for &r in reqs.iter() {
        let t = table().slot(r.index);
        if !may_trim(t, r, home) || !pool_stack(t) {
            // Not ours to trim or compact: a stack of the program's, or a
            // solo one (a mapping of its own, which compaction's moves
            // between pool slots do not know).
            continue;
        }
        // SAFETY: `t` is switched out and pinned to the calling LWP
        // (`may_trim`), so its overflow record is stable and ours to read.
        let (limit, size) =
            unsafe { ((*t.overflow.get()).guard_hi, (*t.overflow.get()).stack_size) };
        let room = room_below(t.parked_sp.load(Relaxed), limit);
        if room > size {
            // Not a pointer into this stack: nothing to trust.
            continue;
        }
        let lo = limit;
        let hi = (limit + room.saturating_sub(MARGIN)) & !(PAGE - 1);
        if hi > lo {
            // SAFETY: `lo..hi` is page-aligned (the limit is a page
            // boundary) and lies in `t`'s stack below its parked stack
            // pointer less the margin; `t` cannot run until the calling
            // LWP returns to picking (`may_trim`).
            unsafe { pool.trim(lo, hi) };
        }
        // A ULT that owns a live scope is not compacted (its children may
        // lend its stack to the kernel): exact here, since the count is
        // written only by the ULT, which ran on this very kernel thread.
        if r.compact && compactable(t.state.load().reason()) && t.scopes.load(Relaxed) == 0 {
            // SAFETY: as above: `t` is switched out, blocked in the wait
            // named, and cannot run until this LWP picks it.
            if unsafe { compact_one(t, limit, size, pool) } {
                compacted += 1;
            }
        }
    }
    compacted
}

/// Compacts `t`'s stack (`limit`, `size` bytes): the pages below its saved
/// stack pointer are trimmed, the live part goes to a record.
///
/// # Safety
///
/// As in `trim_all`: `t` passed `may_trim` for the calling LWP.
unsafe fn compact_one(t: &Tcb, limit: usize, size: usize, pool: &Pool) -> bool {
    let top = limit + size;
    let noted = limit + room_below(t.parked_sp.load(Relaxed), limit);
    // SAFETY: `t` is switched out and pinned to the caller: its context is
    // not in use, and only the caller could resume it.
    let Some(ctx) = (unsafe { (*t.ctx.get()).as_ref() }) else {
        return false;
    };
    // Exact (weave's own switch keeps it); inside the stack, below what
    // the ULT noted as it blocked, or something is off: leave it alone.
    let Some(sp) = ctx
        .saved_stack_pointer()
        .filter(|&sp| sp > limit && sp <= noted && sp % 8 == 0)
    else {
        return false;
    };
    let page_lo = sp & !(PAGE - 1);
    if page_lo > limit {
        // SAFETY: page-aligned, inside the stack, below the live part.
        unsafe { pool.trim(limit, page_lo) };
    }
    // Marked before the pages are guarded: a thread dump that finds the
    // bit reads the record (or, before it exists, shows no stack), so it
    // never reads a guarded page, which would put the stack back.
    t.parked_fp.fetch_or(COMPACTED, Relaxed);
    // SAFETY: `sp..top` is the live part of a stack that cannot run until
    // the caller picks it; `top` is page-aligned (a stack's base).
    if unsafe { compact::compact(sp, top) } == 0 {
        t.parked_fp.fetch_and(!COMPACTED, Relaxed);
        return false;
    }
    true
}

/// Whether `t`, which [`may_trim`] found ours, runs on a stack of weave's
/// pool: not one of the program's, nor a solo one.
fn pool_stack(t: &Tcb) -> bool {
    // SAFETY: `class` is written at spawn, before the TCB is published,
    // and not again while the thread lives.
    let class = unsafe { *t.class.get() };
    class != crate::stack::USER_CLASS && class != crate::stack::SOLO_CLASS
}

/// At switch-in, on an LWP holding compacted ULTs: puts `t`'s stack back
/// if it is compacted. Returns whether it was (the LWP's count drops).
#[cold]
#[inline(never)]
pub(crate) fn restore_compacted(t: &Tcb) -> bool {
    if t.parked_fp.load(Relaxed) & COMPACTED == 0 {
        return false;
    }
    t.parked_fp.fetch_and(!COMPACTED, Relaxed);
    // SAFETY: the overflow record is written at spawn and stable while the
    // thread lives; the caller (its home LWP) is about to resume it.
    let (limit, size) = unsafe { ((*t.overflow.get()).guard_hi, (*t.overflow.get()).stack_size) };
    // SAFETY: `t` cannot run until the caller resumes it, after this.
    unsafe { compact::restore(limit + size) }
}

/// Whether `t` is still the thread `r` named, placed on LWP `home`, and
/// still blocked in the wait `r` named: then, with `home` calling, it
/// cannot run until `home` picks it, and it has not run since it noted its
/// stack pointer (a woken one, even if not yet run, is left alone: it may
/// have run and been switched out deeper, by a yield, since).
fn may_trim(t: &Tcb, r: Request, home: usize) -> bool {
    // In this order: a slot of this generation homed on the caller is
    // released only by the caller (when its ULT finishes), so after these
    // two checks nobody can be rewriting its `kind`.
    // Acquire pairs with the generation's move at release and reuse.
    if t.generation.load(Acquire) != r.generation || t.home.load(Relaxed) as usize != home {
        return false;
    }
    if !matches!(t.kind(), Kind::Pooled | Kind::Bound) || t.parked_sp.load(Relaxed) == 0 {
        return false;
    }
    let w = t.state.load();
    w.run() == state::BLOCKED && w.epoch() == r.epoch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_below_survives_a_stack_across_a_4_gib_boundary() {
        let limit = 0x7_ffff_f000usize;
        let sp = limit + 0x3000;
        assert_eq!(room_below(sp as u32, limit), 0x3000);
    }

    #[test]
    fn room_below_is_the_distance_to_the_limit() {
        assert_eq!(room_below(0x1234_5000, 0x7f00_1230_0000), 0x4_5000);
    }
}

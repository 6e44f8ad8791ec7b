//! Stacks of parked ULTs, for the thread dump and the deadlock report.
//!
//! A parked ULT is not running anywhere: its registers were saved by the
//! switch (`context`), and its stack is memory of our pool. As it switches
//! out, `lwp::switch_out` (or the direct yield) stores its frame pointer in the TCB
//! (`Tcb::parked_fp`, the low 32 bits: the TCB's size is pinned). With frame pointers kept, each frame starts with
//! the caller's frame pointer and the return address:
//!
//! ```text
//!   higher addresses (stack base)
//!   │ ...                     │
//!   │ return address into C   │  fp2 + 8
//!   │ saved fp (C's frame)    │◀ fp2
//!   │ ... B's locals ...      │
//!   │ return address into B   │  fp1 + 8
//!   │ saved fp = fp2          │◀ fp1
//!   │ ... A's locals ...      │
//!   │ return address into A   │  fp0 + 8
//!   │ saved fp = fp1          │◀ fp0 = parked_fp (switch_out's frame)
//!   lower addresses (stack limit, then the guard page)
//! ```
//!
//! [`walk`] follows that chain, reading only inside the ULT's own stack
//! (its bounds are in the TCB's overflow info) and only upwards, so a
//! register that held something else than a frame pointer ends the walk
//! instead of faulting. The state word is read before and after: if the
//! ULT ran meanwhile, the stack is thrown away.
//!
//! A ULT whose stack is compacted (`WEAVE_COMPACT`,
//! `docs/design/compaction.md`; bit 0 of `parked_fp` set) has its pages
//! guarded: reading them would fault and put the stack back. Its chain is
//! followed in a copy decoded from its compaction record
//! (`stack::compact::copy_of`) instead, so a dump leaves it compacted.
//!
//! **Limits.** The walk needs frame pointers in every frame between the
//! ULT's entry and the switch: functions compiled without them (Rust's
//! release profile omits them on x86_64 unless `-C force-frame-pointers=yes`)
//! end the chain early, at the first such frame. The workspace's
//! `.cargo/config.toml` keeps them for every build of weave, which costs
//! nothing measurable here (see `docs/ARCHITECTURE.md`); a program built
//! without them gets a short or empty stack, never a wrong one beyond the
//! frame where the chain broke. A ULT running on another LWP has no saved
//! frame and gets no stack; the calling thread's own stack comes from the
//! `backtrace` crate's unwinder.
//!
//! Reads only; the `backtrace` crate symbolises the addresses.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use crate::lwp::trim::COMPACTED;
use crate::thread::state;
use crate::thread::tcb::Tcb;

/// Yields a dump waits for a ULT that is switching out to be switched
/// out: its LWP finishes the switch in well under a microsecond unless it
/// is descheduled; a thousand yields cover that on a busy machine. (A
/// block held by its LWP may stay `BLOCKING` longer: `walk`.)
const BLOCKING_WAIT: usize = 1000;

/// The deepest stack a dump shows.
pub(crate) const MAX_FRAMES: usize = 64;

/// One frame of a stack, symbolised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The return address (or, for the innermost frame of the calling
    /// thread, the instruction pointer).
    pub ip: usize,
    /// The function, demangled, without its hash; `None` when the address
    /// has no symbol.
    pub function: Option<String>,
    /// The source file and line, when debug info has them.
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.function {
            Some(func) => write!(f, "{func}")?,
            None => write!(f, "{:#x} (no symbol)", self.ip)?,
        }
        if let Some(file) = &self.file {
            write!(f, "\n          at {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        Ok(())
    }
}

/// The return addresses of a parked ULT's stack, innermost first, or
/// `None` if it is not parked (never ran, runs now, or ran during the
/// walk).
pub(crate) fn walk(tcb: &Tcb) -> Option<Vec<usize>> {
    // A block the caller's own LWP holds uncommitted (`lwp/handoff.rs`)
    // would stay BLOCKING while we wait below: committed first.
    crate::lwp::Lwp::commit_held_here();
    // BLOCKING: the ULT is switching out, its frame pointer maybe not
    // stored yet; or it is off its stack, its block held by its LWP while
    // another ULT runs there (committed at that LWP's next switch). Wait
    // a bounded while for the commit (a dump is not a hot path); one
    // still BLOCKING in the same wait after that is held (a switch takes
    // well under a microsecond) and is walked as parked. A walk that
    // raced a switch anyway is thrown away by the checks at the end.
    let mut before = tcb.state.load();
    for _ in 0..BLOCKING_WAIT {
        if before.run() != state::BLOCKING {
            break;
        }
        std::thread::yield_now();
        before = tcb.state.load();
    }
    if !matches!(
        before.run(),
        state::BLOCKED | state::RUNNABLE | state::BLOCKING
    ) {
        return None;
    }
    let low = tcb.parked_fp.load(Relaxed);
    // SAFETY: the overflow info is written at spawn, before the TCB is
    // published, and not again while the thread lives.
    let info = unsafe { *tcb.overflow.get() };
    if low & !COMPACTED == 0 || info.stack_size == 0 {
        return None;
    }
    let (lo, hi) = (info.guard_hi, info.guard_hi + info.stack_size);
    // The TCB keeps the low 32 bits: a stack is under 4 GiB, so the offset
    // from the stack's limit gives the whole pointer (or one outside the
    // stack, which `chain` refuses, if the register held something else).
    let fp0 = lo.wrapping_add((low & !COMPACTED).wrapping_sub(lo as u32) as usize);
    let out = if low & COMPACTED == 0 {
        chain(fp0, lo, hi, |a| {
            // SAFETY: `a .. a + 8` lies inside the ULT's stack (`chain`
            // checks), which stays mapped for the life of the process
            // (the pool never unmaps). The ULT is parked, so nobody
            // writes these words now; if it was woken and ran meanwhile,
            // the state check below throws the result away. Volatile:
            // they belong to another thread's stack, and the compiler
            // must not assume anything.
            unsafe { std::ptr::read_volatile(a as *const usize) }
        })
    } else {
        // Compacted (`docs/design/compaction.md`): its pages are guarded,
        // and a read would fault and put the whole stack back. Its words
        // are read from the compaction record instead, which leaves it
        // compacted. No record: it was restored, so switched to since
        // the state was read, and is not parked any more.
        let (clo, words) = crate::stack::compact::copy_of(hi)?;
        chain(fp0, clo.max(lo), hi, |a| words[(a - clo) / 8] as usize)
    };
    // SeqCst: read after the walk's loads (pairs with nothing; a fence
    // against the loads above being moved past this check).
    std::sync::atomic::fence(SeqCst);
    let after = tcb.state.load();
    (after.epoch() == before.epoch()
        && after.run() == before.run()
        && tcb.parked_fp.load(Relaxed) == low)
        .then_some(out)
}

/// The return addresses of the frame-pointer chain from `fp0`, innermost
/// first, reading the word at an address with `read`, and only words of
/// `lo..hi`; the chain must go up the stack, so a value that was not a
/// frame pointer ends it.
fn chain(fp0: usize, lo: usize, hi: usize, read: impl Fn(usize) -> usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut fp = fp0;
    while out.len() < MAX_FRAMES && fp % std::mem::align_of::<usize>() == 0 {
        if fp < lo || fp + 16 > hi {
            break;
        }
        let (next, ra) = (read(fp), read(fp + 8));
        if ra == 0 {
            break;
        }
        out.push(ra);
        if next <= fp {
            break; // the chain must go up the stack
        }
        fp = next;
    }
    out
}

/// Symbolises return addresses, and ends the stack at the ULT's entry
/// (the `__rust_begin_short_backtrace` frame, where std's panic report
/// ends it too): what lies below is weave's start-up (the context's first
/// frame, whose saved frame pointer is 0, ends the walk itself). A
/// return address points after the call: one byte back is inside the
/// call instruction, whose line is the one a reader expects.
pub(crate) fn symbolise(ips: &[usize]) -> Vec<Frame> {
    let mut frames = symbolise_all(ips);
    if let Some(i) = frames.iter().position(|f| {
        f.function
            .as_deref()
            .is_some_and(|n| n.ends_with("__rust_begin_short_backtrace"))
    }) {
        frames.truncate(i);
    }
    frames
}

/// One frame per function: an address inside inlined code resolves to
/// the inlined functions first, then the function they were inlined into,
/// and each is listed (as std's backtraces do), so that a release build's
/// stack still names the caller that a lock or a wait was inlined into.
fn symbolise_all(ips: &[usize]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for &ip in ips {
        let before = frames.len();
        backtrace::resolve(ip.saturating_sub(1) as *mut std::ffi::c_void, |s| {
            frames.push(Frame {
                ip,
                function: s.name().map(|n| format!("{n:#}")),
                file: s.filename().map(|p| p.display().to_string()),
                line: s.lineno(),
            });
        });
        if frames.len() == before {
            frames.push(Frame {
                ip,
                function: None,
                file: None,
                line: None,
            });
        }
    }
    frames
}

/// The calling thread's own stack, symbolised, without the frames of the
/// dump itself.
pub(crate) fn here() -> Vec<Frame> {
    let mut ips = Vec::new();
    backtrace::trace(|f| {
        ips.push(f.ip() as usize);
        ips.len() < MAX_FRAMES + 8
    });
    let mut frames = symbolise(&ips);
    // Drop the frames of the unwinder and of the dump.
    if let Some(i) = frames.iter().rposition(|f| {
        f.function
            .as_deref()
            .is_some_and(|n| n.starts_with("weave::inspect::") || n.starts_with("backtrace::"))
    }) {
        frames.drain(..=i);
    }
    frames.truncate(MAX_FRAMES);
    frames
}

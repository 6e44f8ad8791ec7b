//! Alternate signal stacks per ULT (`sigaltstack`): the kernel keeps one
//! per kernel thread, and an LWP's is weave's own (the overflow handler
//! runs there). A ULT's is kept here, and a synchronous signal's handler
//! installed with `SA_ONSTACK` (`Immediate::onstack`) runs on it: a
//! `SIGSEGV` from a stack overflow, whose handler has no stack of its own
//! left to run on. Asynchronous signals' handlers run on the ULT's stack
//! whatever the flag says (they come at a point where the ULT has stack).
//!
//! A plain OS thread keeps the kernel's (`set` and `get` are
//! `sigaltstack` there).
//!
//! The table is fixed (`SLOTS` entries, zero pages until used) so that the
//! fault path reads it without a lock: each entry is a thread id (claimed
//! by CAS) and the stack's bounds. An entry whose thread has ended is
//! taken over by the next claim.
//!
//! ASYNC-SIGNAL-SAFE: [`of`] (atomics only).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use crate::thread::table::table;
use crate::thread::tcb::Tcb;

/// How many ULTs may have an alternate stack at once: a program gives one
/// to a few threads (the ones it expects to overflow), not to thousands.
const SLOTS: usize = 1024;

/// The kernel's smallest alternate stack (`MINSIGSTKSZ` on x86-64).
pub const MIN_SIZE: usize = 2048;

struct Entry {
    /// The ULT's id (`ThreadId::as_u64`), 0 when free.
    id: AtomicU64,
    lo: AtomicU64,
    hi: AtomicU64,
}

static TABLE: [Entry; SLOTS] = [const {
    Entry {
        id: AtomicU64::new(0),
        lo: AtomicU64::new(0),
        hi: AtomicU64::new(0),
    }
}; SLOTS];

/// An alternate signal stack: `size` bytes from `base` up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AltStack {
    pub base: usize,
    pub size: usize,
}

/// Why [`set_alt_stack`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AltStackError {
    /// The thread runs on its alternate stack now (`EPERM`).
    OnIt,
    /// Smaller than [`MIN_SIZE`] (`ENOMEM`).
    TooSmall { size: usize },
    /// `SLOTS` ULTs have one already (`ENOMEM`).
    TableFull,
}

impl std::fmt::Display for AltStackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AltStackError::OnIt => {
                write!(
                    f,
                    "the thread runs on its alternate signal stack: leave it first"
                )
            }
            AltStackError::TooSmall { size } => write!(
                f,
                "an alternate signal stack of {size} bytes is too small: at least {MIN_SIZE}"
            ),
            AltStackError::TableFull => write!(
                f,
                "{SLOTS} threads have an alternate signal stack already: remove one first"
            ),
        }
    }
}

impl std::error::Error for AltStackError {}

/// The entry of the ULT `id`, if it has one.
// ASYNC-SIGNAL-SAFE
fn entry_of(id: u64) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.id.load(Acquire) == id)
}

/// The alternate stack of `t` (a ULT), if it set one.
// ASYNC-SIGNAL-SAFE
pub(crate) fn of(t: &Tcb) -> Option<AltStack> {
    let e = entry_of(t.id().as_u64().get())?;
    let (lo, hi) = (e.lo.load(Relaxed) as usize, e.hi.load(Relaxed) as usize);
    (hi > lo).then_some(AltStack {
        base: lo,
        size: hi - lo,
    })
}

/// Whether the calling code runs on `s`.
// ASYNC-SIGNAL-SAFE
fn on(s: &AltStack) -> bool {
    let local = 0u8;
    let here = std::hint::black_box(&local) as *const u8 as usize;
    here >= s.base && here < s.base + s.size
}

/// The calling thread's alternate signal stack, and whether it runs on
/// it now (`sigaltstack`'s `SS_ONSTACK`).
pub fn alt_stack() -> (Option<AltStack>, bool) {
    match crate::thread::current::running() {
        Some(t) => {
            let s = of(t);
            (s, s.is_some_and(|s| on(&s)))
        }
        None => {
            // SAFETY: a zeroed stack_t is a valid out-value; a null new
            // stack only reads.
            let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
            let s = (cur.ss_flags & libc::SS_DISABLE == 0).then_some(AltStack {
                base: cur.ss_sp as usize,
                size: cur.ss_size,
            });
            (s, cur.ss_flags & libc::SS_ONSTACK != 0)
        }
    }
}

/// Sets (`Some`) or removes (`None`) the calling thread's alternate
/// signal stack; the old one back. On a ULT it is weave's (no system
/// call); on an OS thread, the kernel's.
pub fn set_alt_stack(new: Option<AltStack>) -> Result<Option<AltStack>, AltStackError> {
    if let Some(s) = new {
        if s.size < MIN_SIZE {
            return Err(AltStackError::TooSmall { size: s.size });
        }
    }
    let (old, on_it) = alt_stack();
    if on_it {
        return Err(AltStackError::OnIt);
    }
    let Some(t) = crate::thread::current::running() else {
        let st = match new {
            Some(s) => libc::stack_t {
                ss_sp: s.base as *mut libc::c_void,
                ss_flags: 0,
                ss_size: s.size,
            },
            None => libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            },
        };
        // SAFETY: a valid stack_t; the memory is the program's promise.
        let rc = unsafe { libc::sigaltstack(&st, std::ptr::null_mut()) };
        debug_assert_eq!(rc, 0);
        return Ok(old);
    };
    let id = t.id().as_u64().get();
    let e = match entry_of(id) {
        Some(e) => e,
        None if new.is_none() => return Ok(old),
        None => claim(id).ok_or(AltStackError::TableFull)?,
    };
    let (lo, hi) = new.map_or((0, 0), |s| (s.base, s.base + s.size));
    // Only this ULT writes its entry, and only while it does not run on
    // the stack; its own fault path reads it (same thread).
    e.lo.store(lo as u64, Relaxed);
    e.hi.store(hi as u64, Relaxed);
    if new.is_none() {
        // Release pairs with the Acquire of a later claim.
        e.id.store(0, Release);
    }
    Ok(old)
}

/// A free entry, or one whose ULT has ended, claimed for `id`.
fn claim(id: u64) -> Option<&'static Entry> {
    TABLE.iter().find(|e| {
        let cur = e.id.load(Acquire);
        let free = cur == 0
            || crate::thread::id::ThreadId::from_u64(cur)
                .map_or(true, |old| table().lookup(old).is_err());
        free && e.id.compare_exchange(cur, id, AcqRel, Relaxed).is_ok()
    })
}

/// Runs `f` on `t`'s alternate stack if it set one and the code does not
/// run on it already; else right here. For a synchronous signal's handler
/// installed with `SA_ONSTACK`.
// ASYNC-SIGNAL-SAFE
pub(crate) fn run_on(t: Option<&Tcb>, f: impl FnOnce()) {
    let s = t.and_then(of);
    match s {
        Some(s) if !on(&s) => {
            // SAFETY: the program gave this memory as its alternate stack
            // and does not run on it now (`sigaltstack`'s contract).
            unsafe { crate::context::run_on_stack(s.base, s.base + s.size, f) }
        }
        _ => f(),
    }
}

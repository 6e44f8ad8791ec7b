//! Stacks of parked ULTs, for the thread dump and the deadlock report.
//!
//! A parked ULT is not running anywhere: its registers were saved by the
//! switch (`context`), and its stack is memory that nobody writes until it
//! runs again. As it switches
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
//! (its bounds, as any thread may read them: `thread/stack_bounds.rs`)
//! and only upwards, so a register that held something else than a frame
//! pointer ends the walk instead of faulting. The state word and the
//! slot's generation are read before and after: if the ULT ran meanwhile,
//! or ended, the stack is thrown away.
//!
//! **Stacks that may go away under the walk.** A stack of the pool stays
//! mapped for the life of the process, so a walk that races the ULT's exit
//! reads stale words of mapped memory, and throws them away. A stack that
//! is not the pool's may be unmapped as the walk reads it: a solo stack
//! (a guard of its own size, `stack/solo.rs`) by its LWP as the ULT ends,
//! a stack of the program's (`Builder::stack`, `pthread_attr_setstack`)
//! by the program once the ULT is joined. The bounds say which kind a
//! stack is (published with them), and such a stack is read by the kernel
//! (`process_vm_readv` of our own process, a window of 4 KiB at a time),
//! which answers `EFAULT` for memory that is gone instead of faulting:
//! the walk ends there and is thrown away. Where the kernel refuses the
//! call (a sandbox without it), such stacks are not shown.
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

use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};

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
    // The thread this walk is about: the slot's generation now. Acquire:
    // pairs with the Release store of the generation in `Table::release`
    // (a later change of it throws the walk away, at the end).
    let generation = tcb.generation.load(Acquire);
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
    // The bounds of the stack of generation `generation`, and whether it
    // is the pool's (`thread/stack_bounds.rs`): `None` if the slot is
    // another thread's by now.
    let bounds = tcb.stack_bounds(generation)?;
    if low & !COMPACTED == 0 || bounds.size == 0 {
        return None;
    }
    let (lo, hi) = (bounds.lo, bounds.lo + bounds.size);
    // The TCB keeps the low 32 bits: a stack is under 4 GiB, so the offset
    // from the stack's limit gives the whole pointer (or one outside the
    // stack, which `chain` refuses, if the register held something else).
    let fp0 = lo.wrapping_add((low & !COMPACTED).wrapping_sub(lo as u32) as usize);
    let out = if low & COMPACTED != 0 {
        // Compacted (`docs/design/compaction.md`; pool stacks only): its
        // pages are guarded, and a read would fault and put the whole
        // stack back. Its words are read from the compaction record
        // instead, which leaves it compacted. No record: it was restored,
        // so switched to since the state was read, and is not parked any
        // more.
        let (clo, words) = crate::stack::compact::copy_of(hi)?;
        chain(fp0, clo.max(lo), hi, |a| {
            Some(words[(a - clo) / 8] as usize)
        })
    } else if !bounds.may_unmap {
        chain(fp0, lo, hi, |a| {
            // SAFETY: `a .. a + 8` lies inside the ULT's stack (`chain`
            // checks), a stack of the pool's (the bounds say so), which
            // stays mapped for the life of the process (the pool never
            // unmaps) even if the ULT ends meanwhile. The ULT is parked,
            // so nobody writes these words now; if it was woken and ran
            // meanwhile, the state check below throws the result away.
            // Volatile: they belong to another thread's stack, and the
            // compiler must not assume anything.
            Some(unsafe { std::ptr::read_volatile(a as *const usize) })
        })
    } else {
        // Not the pool's: a solo stack, unmapped by its LWP as the ULT
        // ends, or the program's, which it may unmap once the ULT is
        // joined; either may happen while we walk. The kernel reads it
        // for us (`Window`), and answers EFAULT for memory that is gone
        // instead of faulting.
        let mut window = Window::new(hi);
        chain(fp0, lo, hi, |a| window.read(a))
    };
    // SeqCst: read after the walk's loads (pairs with nothing; a fence
    // against the loads above being moved past this check).
    std::sync::atomic::fence(SeqCst);
    let after = tcb.state.load();
    (after.epoch() == before.epoch()
        && after.run() == before.run()
        && tcb.parked_fp.load(Relaxed) == low
        && tcb.generation.load(Relaxed) == generation)
        .then_some(out)
}

/// Words of a stack that may be unmapped under the reader, read by the
/// kernel (`process_vm_readv` of our own process): a window of them at a
/// time, so that a walk costs a system call or two, not one per frame.
struct Window {
    /// The first address of `words`, and how many of them were read.
    at: usize,
    len: usize,
    /// The stack's top: no read goes past it.
    hi: usize,
    words: [usize; WINDOW_WORDS],
}

/// Words a [`Window`] reads at once: 4 KiB, more than the innermost
/// frames of most parked ULTs take.
const WINDOW_WORDS: usize = 512;

impl Window {
    fn new(hi: usize) -> Window {
        Window {
            at: 0,
            len: 0,
            hi,
            words: [0; WINDOW_WORDS],
        }
    }

    /// The word at `a` (8-aligned, below `hi`), or `None` if the kernel
    /// cannot read it (unmapped: the walk ends there), or will not (a
    /// kernel or sandbox without `process_vm_readv`: the stack is not
    /// shown).
    fn read(&mut self, a: usize) -> Option<usize> {
        if a < self.at || a >= self.at + self.len * 8 {
            let want = ((self.hi - a) / 8).min(WINDOW_WORDS);
            let local = libc::iovec {
                iov_base: self.words.as_mut_ptr().cast(),
                iov_len: want * 8,
            };
            let remote = libc::iovec {
                iov_base: a as *mut _,
                iov_len: want * 8,
            };
            // SAFETY: the kernel writes at most `want * 8` bytes into
            // `words`, which has room for them, and reads `a ..` in our
            // own address space as a debugger would: memory that is not
            // mapped there any more is an error (EFAULT), never a fault.
            let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
            self.at = a;
            // A partial read stops at the first page it could not read.
            self.len = if n < 0 { 0 } else { n as usize / 8 };
        }
        let i = a.checked_sub(self.at)? / 8;
        (i < self.len).then(|| self.words[i])
    }
}

/// The return addresses of the frame-pointer chain from `fp0`, innermost
/// first, reading the word at an address with `read` (`None`: it cannot
/// be read, and the chain ends), and only words of `lo..hi`; the chain must go up the stack, so a value that was not a
/// frame pointer ends it.
fn chain(
    fp0: usize,
    lo: usize,
    hi: usize,
    mut read: impl FnMut(usize) -> Option<usize>,
) -> Vec<usize> {
    let mut out = Vec::new();
    let mut fp = fp0;
    while out.len() < MAX_FRAMES && fp % std::mem::align_of::<usize>() == 0 {
        if fp < lo || fp + 16 > hi {
            break;
        }
        let (Some(next), Some(ra)) = (read(fp), read(fp + 8)) else {
            break; // gone: the state check throws the walk away
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::table::table;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn in_child(name: &str) -> bool {
        crate::test_child::in_child(module_path!(), name)
    }

    #[inline(never)]
    fn nest(depth: usize) {
        if depth == 0 {
            for _ in 0..4 {
                crate::thread::yield_now();
            }
        } else {
            nest(depth - 1);
        }
        std::hint::black_box(depth);
    }

    /// A ULT of `kind` ("pool", "solo", "user": see below) that parks in
    /// `parked_here`: its walk, once it is parked.
    fn walk_parked(kind: &str) -> Vec<usize> {
        let b = crate::thread::Builder::new().stack_size(64 * 1024);
        let len = 64 * 1024;
        let mut mem = vec![0u128; len / 16];
        let b = match kind {
            "solo" => b.stack_guard(3 * crate::stack::PAGE),
            // SAFETY: `mem` outlives the thread: joined below.
            "user" => unsafe { b.stack(mem.as_mut_ptr().cast(), len) },
            _ => b,
        };
        let h = b.spawn(|| parked_here(3)).unwrap();
        let id = h.thread().id();
        while !matches!(
            crate::thread::threads()
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.state),
            Some(crate::thread::ThreadState::Blocked(_))
        ) {
            crate::thread::yield_now();
        }
        let ips = walk(table().slot(id.index())).expect("a parked ULT is walked");
        h.thread().unpark();
        h.join().unwrap();
        drop(mem);
        ips
    }

    #[inline(never)]
    fn parked_here(depth: usize) {
        if depth == 0 {
            crate::thread::park();
        } else {
            parked_here(depth - 1);
        }
        std::hint::black_box(depth);
    }

    /// Stacks that are not the pool's are read through the kernel
    /// (`Window`): the walk finds the same frames there as on a pool
    /// stack.
    #[test]
    fn a_parked_ult_on_a_stack_not_the_pools_is_walked() {
        let pool = walk_parked("pool");
        assert!(pool.len() >= 4, "frames of a pool stack: {pool:x?}");
        for kind in ["solo", "user"] {
            let ips = walk_parked(kind);
            assert_eq!(
                ips.len(),
                pool.len(),
                "{kind} stack: {ips:x?} against {pool:x?}"
            );
        }
    }

    /// Short-lived ULTs on stacks of `kind` ("solo": a guard of two pages,
    /// unmapped by weave at exit; "user": the program's, unmapped by it
    /// after the join) come and go while an OS thread walks every slot of
    /// the table in a loop, as a dump does. Returns the walks that found
    /// frames.
    fn walk_while_stacks_go(kind: &str) -> usize {
        let stop = Arc::new(AtomicBool::new(false));
        let walker = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut found = 0;
                while !stop.load(Relaxed) {
                    let t = table();
                    for i in 0..t.carved() {
                        if walk(t.slot(i as u32)).is_some_and(|ips| !ips.is_empty()) {
                            found += 1;
                        }
                    }
                }
                found
            })
        };
        for _ in 0..400 {
            let mut handles = Vec::new();
            let mut maps = Vec::new();
            for _ in 0..32 {
                let b = crate::thread::Builder::new().stack_size(64 * 1024);
                let b = if kind == "solo" {
                    b.stack_guard(2 * crate::stack::PAGE)
                } else {
                    let len = 64 * 1024;
                    // SAFETY: a fresh anonymous mapping of our own.
                    let p = unsafe {
                        libc::mmap(
                            std::ptr::null_mut(),
                            len,
                            libc::PROT_READ | libc::PROT_WRITE,
                            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                            -1,
                            0,
                        )
                    };
                    assert_ne!(p, libc::MAP_FAILED);
                    maps.push((p, len));
                    // SAFETY: the mapping is the thread's alone until joined.
                    unsafe { b.stack(p.cast(), len) }
                };
                handles.push(b.spawn(|| nest(8)).unwrap());
            }
            for h in handles {
                h.join().unwrap();
            }
            for (p, len) in maps {
                // SAFETY: joined: the memory is ours again.
                assert_eq!(unsafe { libc::munmap(p, len) }, 0);
            }
        }
        stop.store(true, Relaxed);
        walker.join().unwrap()
    }

    #[test]
    fn a_walk_racing_the_exit_of_solo_stacks_does_not_fault() {
        if in_child("a_walk_racing_the_exit_of_solo_stacks_does_not_fault") {
            let found = walk_while_stacks_go("solo");
            println!("walks with frames: {found}");
        }
    }

    #[test]
    fn a_walk_racing_the_unmap_of_user_stacks_does_not_fault() {
        if in_child("a_walk_racing_the_unmap_of_user_stacks_does_not_fault") {
            let found = walk_while_stacks_go("user");
            println!("walks with frames: {found}");
        }
    }
}

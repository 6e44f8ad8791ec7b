//! stack: address space for ULT stacks, red zones, and death row.
//!
//! Owns every byte of ULT stack memory. It does not know about threads: the
//! thread layer asks for a `Stack` of a size class and gives it back when
//! the ULT has exited.
//!
//! ```text
//!  one chunk = one mmap(MAP_NORESERVE) reservation of ~1 GiB, never split
//!  ┌────────┬──────────────────────┬────────┬──────────────────────┬─────
//!  │ guard  │ stack 0  (grows ↓)   │ guard  │ stack 1              │ ...
//!  │ 1 page │ limit ........ base  │ 1 page │ limit ........ base  │
//!  └────────┴──────────────────────┴────────┴──────────────────────┴─────
//!  low addresses                                          high addresses
//! ```
//!
//! The guard page below each stack (the *red zone* of Stein & Shah) is
//! installed with `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+), which marks
//! the page in the page tables without splitting the mapping, so a million
//! guarded stacks cost one VMA per chunk and never approach
//! `vm.max_map_count`. On older kernels the guard is an `mprotect(PROT_NONE)`,
//! which costs two VMAs a stack; when the map count runs out, spawn fails
//! with an error that says so.
//!
//! Fresh stacks are carved in batches once spawns come in bulk (up to
//! `BATCH` at a time, growing with the stacks carved so far): their guards
//! go in with one `process_madvise` and their top pages, which a ULT's
//! first frame is written to, are faulted in with another (`advise.rs`),
//! instead of a system call and a page-fault trap per stack. Stacks that
//! come back from the pool's clean list (released by the reaper) get their
//! top pages faulted in the same way. On kernels without `process_madvise`
//! on one's own memory, it is one `madvise` per page, as before.
//!
//! A pooled ULT gets its stack when it first runs, not at spawn
//! (`Pool::promise` at spawn, `Pool::take_promised` at the first run,
//! `thread/first_run.rs`): a spawned ULT that has not run yet holds no stack, so a burst of
//! 100,000 spawns on one LWP whose children run and end one after another
//! touches the few stacks of death row, not 100,000 fresh ones. A promise
//! is address space: the pool keeps enough reserved (uncarved, untouched)
//! for every promise outstanding, so that running out of address space
//! still fails the spawn, with an error, and never the first run. Until
//! the guard mode is known to be `MADV_GUARD_INSTALL` (the first carve
//! finds out), and for good under `mprotect` guards (whose map count can
//! run out at any carve), stacks are taken at spawn as before.
//!
//! Death row has two levels. Each LWP keeps up to `HOT_CACHE` stacks of
//! its exited ULTs (`Cache`): the next ULT to run first there reuses one
//! whose pages are already touched, so spawn-and-exit churn never faults.
//! Stacks beyond that bound go to the pool's *dirty* lists, which any LWP
//! may take from; the reaper hands the pages of dirty stacks that sat
//! unused for a whole reap period back to the kernel (`MADV_DONTNEED`), so
//! the resident set follows the number of live threads. A stack's address
//! space is never unmapped: a later ULT reuses it.
//!
//! A ULT that asks for a guard other than one page (`Builder::stack_guard`,
//! POSIX's guard size) gets a *solo* stack instead (`solo.rs`): a mapping
//! of its own with that guard (or none), which bypasses caches and pool
//! and is unmapped when the ULT is done.
//!
//! Every stack is registered with valgrind while a ULT may run on it: a
//! pool stack once, when carved, for good; a solo stack or one of the
//! program's from when it is made until it goes back (`valgrind.rs`).

mod advise;
pub(crate) mod compact;
mod overflow;
pub(crate) mod owner_lock;
mod room;
pub(crate) mod solo;
pub(crate) mod valgrind;

pub use compact::{compaction_support, keep_compaction_off_unless_set};
pub(crate) use overflow::set_overflow_router;
pub(crate) use overflow::{chain_to, running_info, set_fault_router, take_over, Buf, Chain};
pub(crate) use overflow::{install_overflow_handler, set_running_info, OverflowInfo};
pub use solo::MAX_GUARD_SIZE;
pub use valgrind::on_valgrind;

use std::io;
use std::sync::Mutex;

use crate::pagevec::PageVec;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

/// Page size of the platform. x86_64 and aarch64 Linux with 4 KiB pages are
/// the supported targets; `init` checks it against `sysconf`.
pub(crate) const PAGE: usize = 4096;

/// Stack size a ULT gets unless it asks otherwise: 256 KiB of address
/// space, of which only the touched pages cost memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest stack weave hands out. Smaller requests are rounded up to it:
/// below 16 KiB, the runtime's own frames, a panic's unwinding and the
/// formatting machinery of `println!` no longer fit (glibc's
/// `PTHREAD_STACK_MIN` is the same 16 KiB).
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Largest stack weave hands out: 1 GiB. Larger requests are refused with
/// an error; a thread that needs more wants an OS thread.
pub const MAX_STACK_SIZE: usize = 1 << 30;

const MIN_SHIFT: u32 = MIN_STACK_SIZE.trailing_zeros();
/// Size classes are the powers of two from 16 KiB to 1 GiB.
pub(crate) const CLASSES: usize = (MAX_STACK_SIZE.trailing_zeros() - MIN_SHIFT + 1) as usize;

/// Bytes reserved per chunk. 1 GiB holds ~4,000 default stacks: few enough
/// VMAs for a million threads (~250), large enough that a chunk is a rare
/// syscall, small enough that a program with 10 threads reserves little.
const CHUNK_BYTES: usize = 1 << 30;

/// Stacks an LWP keeps warm for its next spawns. 64 covers a burst of
/// short-lived children per LWP while bounding the warm memory per LWP to
/// 64 × the pages a ULT touched (typically one or two).
pub(crate) const HOT_CACHE: usize = 64;

/// Stacks moved between a cache and the pool at once: half the cache, so a
/// cache that just overflowed has room again for as many.
const BATCH: usize = HOT_CACHE / 2;

/// `MADV_GUARD_INSTALL` from `<linux/mman.h>` (Linux 6.13); the libc crate
/// does not carry it yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The size class for a requested stack size, or an error naming the limit.
pub(crate) fn class_of(requested: usize) -> Result<u8, StackSizeError> {
    if requested > MAX_STACK_SIZE {
        return Err(StackSizeError { requested });
    }
    let size = requested.max(MIN_STACK_SIZE).next_power_of_two();
    Ok((size.trailing_zeros() - MIN_SHIFT) as u8)
}

/// Usable bytes of a stack of class `class`.
pub(crate) const fn class_size(class: u8) -> usize {
    MIN_STACK_SIZE << class
}

/// A requested stack size above [`MAX_STACK_SIZE`].
#[derive(Debug)]
pub(crate) struct StackSizeError {
    pub(crate) requested: usize,
}

impl StackSizeError {
    pub(crate) fn into_io(self, thread: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot spawn thread {thread}: a stack of {} bytes exceeds weave's limit of {} \
                 (1 GiB); ask for less with Builder::stack_size or WEAVE_STACK_SIZE, or use \
                 std::thread for this thread",
                self.requested, MAX_STACK_SIZE
            ),
        )
    }
}

/// The class of a stack the program provided ([`Stack::user`]): not the
/// pool's, never recycled, no guard page of weave's.
pub(crate) const USER_CLASS: u8 = u8::MAX;

/// The class of a solo stack (`solo.rs`): weave's, with a guard of the
/// size the ULT asked for, in a mapping of its own, never recycled.
pub(crate) const SOLO_CLASS: u8 = u8::MAX - 1;

/// One ULT stack: `limit..base` is usable, the page below `limit` is its
/// guard. Owned by exactly one ULT, LWP cache or pool list at a time.
#[derive(Debug)]
pub(crate) struct Stack {
    base: usize,
    /// The size class (and, for a stack of the program's, its size).
    class: usize,
}

impl Stack {
    /// The program's memory `lo..hi` as a ULT's stack (the C API's
    /// `pthread_attr_setstack`), trimmed to 16-byte alignment at both
    /// ends. It has no guard page (the program did not ask weave for one),
    /// and when the ULT finishes it goes back to nobody: it is the
    /// program's again.
    ///
    /// # Safety
    ///
    /// `lo..hi` is writable memory that nothing else uses until the ULT
    /// running on it has finished.
    ///
    /// It is registered with valgrind (`valgrind.rs`) until
    /// [`Stack::user_done`] says the program has it back.
    pub(crate) unsafe fn user(lo: usize, hi: usize) -> Stack {
        let base = hi & !15;
        let limit = Stack::user_limit(lo);
        let size = base.saturating_sub(limit);
        valgrind::register(limit, base);
        Stack {
            base,
            // The size rides above the class byte.
            class: size << 8 | usize::from(USER_CLASS),
        }
    }

    /// The limit of the stack [`Stack::user`] makes of memory from `lo`.
    pub(crate) fn user_limit(lo: usize) -> usize {
        (lo + 15) & !15
    }

    /// The program has its memory from `lo` back, which was a stack of
    /// [`Stack::user`]: no ULT runs on it any more, nor will.
    pub(crate) fn user_done(lo: usize) {
        valgrind::deregister(Stack::user_limit(lo));
    }

    /// Whether the program provided this stack.
    pub(crate) fn is_user(&self) -> bool {
        self.class & 0xff == usize::from(USER_CLASS)
    }

    pub(crate) fn size(&self) -> usize {
        if self.is_user() {
            return self.class >> 8;
        }
        if self.is_solo() {
            return self.solo_size();
        }
        class_size(self.class as u8)
    }

    pub(crate) fn limit_addr(&self) -> usize {
        self.base - self.size()
    }

    #[cfg(test)]
    pub(crate) fn base_addr(&self) -> usize {
        self.base
    }

    /// The guard below this stack: one page, a solo stack's own size
    /// (`solo.rs`, empty for 0), or empty for a stack of the program's,
    /// which has none.
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        if self.is_user() {
            return (self.limit_addr(), self.limit_addr());
        }
        if self.is_solo() {
            return (self.limit_addr() - self.solo_guard(), self.limit_addr());
        }
        (self.limit_addr() - PAGE, self.limit_addr())
    }
}

// SAFETY: `limit..base` is a mapped, writable range owned by this `Stack`
// alone (the pool hands each slot to one owner at a time), and it stays
// mapped for the life of the process: chunks are never unmapped.
// For the portable context backend (`context/portable.rs`).
#[cfg(any(test, not(all(target_arch = "x86_64", target_os = "linux"))))]
unsafe impl corosensei::stack::Stack for Stack {
    #[inline]
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.base).expect("stack base is never 0")
    }

    #[inline]
    fn limit(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.limit_addr()).expect("stack limit is never 0")
    }
}

/// How guard pages are installed on this kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: no VMA split.
    Madvise,
    /// `mprotect(PROT_NONE)`: two VMAs per stack.
    Mprotect,
}

struct Class {
    /// Stacks whose pages went back to the kernel, or were never touched:
    /// runs of neighbours, `(base of the lowest, count)`, the next one up
    /// `class_size + PAGE` higher. A burst of a million stacks reaped
    /// comes back as a few runs, not 8 MiB of addresses.
    clean: Vec<(usize, usize)>,
    /// Stacks given back recently, pages still resident. Newest last. A
    /// mapping of its own (`PageVec`): it grows with a burst's exits, and
    /// a heap block would stay resident in the exiting LWP's malloc arena.
    dirty: PageVec<usize>,
    /// How many of the oldest entries of `dirty` were already there at the
    /// last reap: the next reap releases them.
    dirty_old: usize,
    /// Uncarved part of the current chunk.
    next: usize,
    end: usize,
    /// Chunks reserved ahead of need for promised stacks (`Pool::promise`),
    /// whole and untouched; the current chunk moves to the next of these
    /// before it reserves anew.
    ahead: Vec<(usize, usize)>,
    /// Stacks that can still be carved from `next..end` and `ahead` (the
    /// room of `Pool::room` before the promises are taken off it).
    carvable: usize,
}

/// Figures of the pool, for `weave demo` and `weave bench`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StackStats {
    /// Address space reserved for stacks, in bytes.
    pub reserved: usize,
    /// Stacks carved out of reservations so far (each got a guard page).
    pub carved: usize,
    /// Spawns served from the spawning thread's own stack cache: an LWP's
    /// death row, or a batch it (or an OS thread) took from the pool.
    /// Each cache adds its hits in at its next miss, or every 64 hits, so
    /// a snapshot lacks up to 64 hits of each other thread's cache (the
    /// calling thread's own are counted).
    pub reused_hot: usize,
    /// Stacks moved from the pool's lists (stacks given back beyond an
    /// LWP's death row, or reaped) into a thread's cache, in batches.
    pub reused_pool: usize,
    /// Stacks whose pages the reaper gave back to the kernel.
    pub released: usize,
    /// Spawned ULTs that have not run yet, each holding the promise of a
    /// stack (taken at its first run) rather than a stack. Room that other
    /// LWPs' caches hold as credit (`room.rs`, step 5) counts here too,
    /// up to 64 a class and LWP; the calling thread's own does not.
    pub promised: usize,
    /// Times the pages below a long-parked ULT's stack pointer were given
    /// back (see `Pool::trim`): a ULT that once ran deep keeps only what
    /// its parked frames use.
    pub trimmed: usize,
    /// Resident bytes those trims gave back.
    pub trimmed_bytes: usize,
    /// Stacks compacted now (`WEAVE_COMPACT`, docs/design/compaction.md):
    /// their live bytes sit in a record and their pages are released.
    pub compacted: usize,
    /// Bytes those records hold.
    pub compacted_bytes: usize,
    /// Compactions so far.
    pub compactions: usize,
    /// Compacted stacks put back because another thread touched them.
    pub fault_restores: usize,
    /// Compacted stacks put back by their LWP as their ULT was resumed.
    pub restores: usize,
    /// The nanoseconds those restores took in all (on top of the resume
    /// itself).
    pub restore_ns: usize,
    /// Compactions due but not made because the ULT owned a live
    /// `thread::scope` (its children may lend its stack to the kernel).
    pub compactions_held_for_scopes: usize,
    /// Compactions due but not made because threads weave did not start
    /// were running (one may hold a borrow of the ULT's stack); asked for
    /// again at the next pass.
    pub compactions_held_for_threads: usize,
}

/// The process-wide stack pool.
pub(crate) struct Pool {
    classes: [Mutex<Class>; CLASSES],
    mode: Mutex<Option<GuardMode>>,
    reserved: AtomicUsize,
    carved: AtomicUsize,
    reused_hot: AtomicUsize,
    reused_pool: AtomicUsize,
    released: AtomicUsize,
    trimmed: AtomicUsize,
    trimmed_bytes: AtomicUsize,
    /// Per class: the stacks that can still be carved from address space
    /// reserved already (the current chunk's rest and the chunks `ahead`),
    /// less the promises outstanding ([`Pool::promise`]; the steps and why
    /// they hold are in `room.rs`).
    room: [room::Room; CLASSES],
    /// The guard mode as a byte (`MODE_*`), readable without the lock: the
    /// spawn path asks it whether stacks may wait for the first run.
    mode_byte: AtomicU8,
}

const MODE_UNKNOWN: u8 = 0;
const MODE_MADVISE: u8 = 1;
const MODE_MPROTECT: u8 = 2;

/// The stack a ULT has before its first run, and what it will get then.
#[derive(Debug)]
pub(crate) enum Reserved {
    /// A stack already (a stack of the program's, or one taken at spawn
    /// because the guard mode does not allow waiting).
    Now(Stack),
    /// A promise of a stack of the class asked for ([`Pool::promise`]),
    /// to be kept by [`Pool::take_promised`] at the first run or given
    /// back with [`Pool::forget_promise`].
    Promised,
}

impl Pool {
    pub(crate) fn new() -> Pool {
        Pool {
            classes: std::array::from_fn(|_| {
                Mutex::new(Class {
                    clean: Vec::new(),
                    dirty: PageVec::new(),
                    dirty_old: 0,
                    next: 0,
                    end: 0,
                    ahead: Vec::new(),
                    carvable: 0,
                })
            }),
            mode: Mutex::new(None),
            reserved: AtomicUsize::new(0),
            carved: AtomicUsize::new(0),
            reused_hot: AtomicUsize::new(0),
            reused_pool: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
            trimmed: AtomicUsize::new(0),
            trimmed_bytes: AtomicUsize::new(0),
            room: std::array::from_fn(|_| room::Room::new()),
            mode_byte: AtomicU8::new(MODE_UNKNOWN),
        }
    }

    /// What a ULT spawned now gets for its stack: a promise of one of
    /// `class` when stacks may wait for the first run (guards by
    /// `MADV_GUARD_INSTALL`), else a stack from `cache` or the pool now
    /// (the guard mode is not known yet, or guards are `mprotect`s, whose
    /// map count may run out at any carve: that must fail the spawn, not
    /// the first run).
    pub(crate) fn reserve_for_spawn(&self, class: u8, cache: &mut Cache) -> io::Result<Reserved> {
        if self.mode_byte.load(Relaxed) == MODE_MADVISE {
            // A unit of room that this cache holds (`Cache::credit`) is a
            // promise's already: no RMW on the pool's count. Without one,
            // a batch of units while the room has them (one CAS for
            // `CREDIT_BATCH` spawns), else the promise's own steps.
            if !cache.take_credit(class) {
                let k = self.room[usize::from(class)].claim(CREDIT_BATCH as usize);
                if k == 0 {
                    self.promise(class)?;
                } else {
                    cache.credit[usize::from(class)] += k as u32 - 1;
                }
            }
            return Ok(Reserved::Promised);
        }
        self.take(class, cache).map(Reserved::Now)
    }

    /// Promises a stack of `class` to a ULT that has not run yet: makes
    /// sure that address space for it is reserved (one `mmap` of a chunk
    /// per ~4,000 default stacks, nothing touched), so that
    /// [`take_promised`](Self::take_promised) at its first run cannot run
    /// out of it. Fails, as a carve would have, when the address space
    /// cannot be reserved.
    #[inline]
    pub(crate) fn promise(&self, class: u8) -> io::Result<()> {
        if self.room[class as usize].promise() {
            return Ok(());
        }
        self.promise_slow(class)
    }

    /// Step 2 of `room.rs`: reserves chunks ahead until the room covers
    /// the promise, or withdraws it if the address space is not there.
    #[cold]
    fn promise_slow(&self, class: u8) -> io::Result<()> {
        let mut c = self.classes[class as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.room[class as usize].cover(|| {
            let span = class_size(class) + PAGE;
            let bytes = CHUNK_BYTES.max(span);
            let start = reserve(bytes)?;
            self.reserved.fetch_add(bytes, Relaxed);
            c.ahead.push((start, start + bytes));
            c.carvable += bytes / span;
            Ok(bytes / span)
        })
    }

    /// Gives back the promise of a ULT that will never run (a bound
    /// thread whose LWP could not start).
    pub(crate) fn forget_promise(&self, class: u8) {
        self.room[class as usize].give(1);
    }

    /// Keeps a promise: the stack of `class` for a ULT's first run, from
    /// `cache` (the LWP's death row) first, then the pool's lists, then a
    /// fresh slot of the address space the promise reserved.
    pub(crate) fn take_promised(&self, class: u8, cache: &mut Cache) -> io::Result<Stack> {
        let r = self.take_for_promise(class, cache);
        if r.is_err() {
            self.forget_promise(class);
        }
        r
    }

    pub(crate) fn stats(&self) -> StackStats {
        StackStats {
            reserved: self.reserved.load(Relaxed),
            carved: self.carved.load(Relaxed),
            reused_hot: self.reused_hot.load(Relaxed),
            reused_pool: self.reused_pool.load(Relaxed),
            released: self.released.load(Relaxed),
            trimmed: self.trimmed.load(Relaxed),
            trimmed_bytes: self.trimmed_bytes.load(Relaxed),
            promised: self.promised(),
            ..self.compaction_stats()
        }
    }

    /// [`stats`](Self::stats) as a thread whose cache is `cache` sees
    /// them: its hits not yet added in, and its credit (room it holds,
    /// which the pool counts as promised) not counted as promises. Other
    /// caches' credit still is.
    pub(crate) fn stats_with(&self, cache: &Cache) -> StackStats {
        let mut s = self.stats();
        let credit: usize = cache.credit.iter().map(|&c| c as usize).sum();
        s.promised = s.promised.saturating_sub(credit);
        s.reused_hot += cache.hot;
        s
    }

    /// Promises outstanding: per class, the stacks its reserved address
    /// space can still give less the room left (a snapshot; a spawn or a
    /// first run racing it may be counted or not).
    fn promised(&self) -> usize {
        let mut n = 0;
        for (slot, room) in self.classes.iter().zip(&self.room) {
            let c = slot.lock().unwrap_or_else(|e| e.into_inner());
            n += (c.carvable as isize - room.get()).max(0) as usize;
        }
        n
    }

    /// The compaction figures alone (`stack::compact`).
    fn compaction_stats(&self) -> StackStats {
        let [compacted, compacted_bytes, compactions, fault_restores, restores, restore_ns, held_for_scopes, held_for_threads] =
            compact::figures();
        StackStats {
            compacted,
            compacted_bytes,
            compactions,
            fault_restores,
            restores,
            restore_ns,
            compactions_held_for_scopes: held_for_scopes,
            compactions_held_for_threads: held_for_threads,
            ..StackStats::default()
        }
    }

    /// Gives back the resident pages of `lo..hi`, the part of a parked
    /// ULT's stack below its stack pointer (less a margin), and returns
    /// how many bytes that was. The pages read as zero-filled on their next
    /// touch, as fresh stack pages do, so the ULT runs on unaware.
    ///
    /// `mincore` first: most parked ULTs never ran deep, and a range with
    /// nothing resident costs no `madvise` (and no TLB shootdown).
    ///
    /// # Safety
    ///
    /// `lo..hi` is page-aligned and inside the stack of a ULT that cannot
    /// run until this returns (the caller is the LWP the ULT is pinned to,
    /// running its scheduler loop), below that ULT's parked stack pointer.
    pub(crate) unsafe fn trim(&self, lo: usize, hi: usize) -> usize {
        debug_assert!(lo % PAGE == 0 && hi % PAGE == 0 && lo < hi);
        let pages = (hi - lo) / PAGE;
        let mut resident = vec![0u8; pages];
        // SAFETY: `lo..hi` is mapped (the caller's guarantee) and
        // `resident` has one byte per page of it.
        let rc = unsafe { libc::mincore(lo as *mut _, hi - lo, resident.as_mut_ptr()) };
        let count = if rc == 0 {
            resident.iter().filter(|&&b| b & 1 != 0).count()
        } else {
            pages
        };
        if count == 0 {
            return 0;
        }
        // SAFETY: as for `reap`: private anonymous stack memory that nothing
        // uses now (below the parked ULT's stack pointer, which cannot move
        // until it runs again); the guard page is below `lo`.
        let rc = unsafe { libc::madvise(lo as *mut _, hi - lo, libc::MADV_DONTNEED) };
        if rc != 0 {
            return 0;
        }
        self.trimmed.fetch_add(1, Relaxed);
        self.trimmed_bytes.fetch_add(count * PAGE, Relaxed);
        count * PAGE
    }

    /// The guard mode in force, once a stack has been carved.
    pub(crate) fn guard_mode(&self) -> Option<GuardMode> {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stack of `class` now: from `cache` (an LWP's death row) first,
    /// then the pool's dirty and clean lists, then a fresh slot.
    pub(crate) fn take(&self, class: u8, cache: &mut Cache) -> io::Result<Stack> {
        self.promise(class)?;
        self.take_promised(class, cache)
    }

    /// `take_promised`'s search. A stack that is not a fresh slot gives
    /// the promise's room back; a carve spends it (`carve`).
    fn take_for_promise(&self, class: u8, cache: &mut Cache) -> io::Result<Stack> {
        if let Some(stack) = cache.pop(class) {
            // The promise's room was not needed: the cache keeps it for
            // its next spawn (`Cache::credit`), and counts the hit.
            cache.keep_credit(self, class);
            return Ok(stack);
        }
        if cache.hot != 0 {
            cache.flush_counts(self);
        }
        let mut c = self.classes[class as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Move a batch into the cache, so that a thread that spawns much
        // more than it reaps (an OS thread, a producer ULT) takes this lock
        // once per BATCH spawns, not once per spawn. Newest dirty stacks
        // first: their pages are the likeliest to be resident.
        // Clean stacks' top pages are not resident: they are faulted in
        // together, once the lock is dropped (`carve` says why).
        let mut moved = 0;
        let mut clean_tops = Vec::new();
        while moved < BATCH {
            let base = match c.dirty.pop() {
                Some(base) => base,
                None => match pop_run(&mut c.clean, class) {
                    Some(base) => {
                        clean_tops.push(base - PAGE);
                        base
                    }
                    None => break,
                },
            };
            cache.stacks.push(Stack {
                base,
                class: class.into(),
            });
            moved += 1;
        }
        c.dirty_old = c.dirty_old.min(c.dirty.len());
        if moved > 0 {
            drop(c);
            self.room[class as usize].give(1);
            // SAFETY: the top pages of stacks now in `cache`, ours alone.
            unsafe { advise::each_page(&clean_tops, libc::MADV_POPULATE_WRITE) };
            self.reused_pool.fetch_add(moved, Relaxed);
            self.reused_hot.fetch_add(1, Relaxed);
            return Ok(cache.pop(class).expect("just refilled"));
        }
        self.carve(class, c, cache)
    }

    /// Carves fresh stacks of `class` (the pool's lists being empty): a
    /// batch, growing with the stacks carved so far (one at first, so a
    /// program of ten threads carves ten; up to `BATCH` once spawns come in
    /// bulk), whose guards go in with one system call and whose top pages
    /// are faulted in with one more (`advise.rs`). The batch goes into
    /// `cache`; one of it is returned.
    ///
    /// The guards are installed under the class lock, so that a failure
    /// can give the unguarded rest of the batch back to the chunk; the
    /// top pages are populated after it (best effort: a page that fails
    /// faults in when the ULT first runs, as it would have).
    #[cold]
    fn carve(
        &self,
        class: u8,
        mut c: std::sync::MutexGuard<'_, Class>,
        cache: &mut Cache,
    ) -> io::Result<Stack> {
        let size = class_size(class);
        let span = size + PAGE;
        let room = &self.room[class as usize];
        if c.end - c.next < span {
            // The caller's promise reserved room in a chunk ahead (or in
            // what is left of this one, which it is not).
            let (start, end) = match c.ahead.pop() {
                Some(chunk) => chunk,
                None => {
                    // Not reached while promises are kept (the room says
                    // so); reserve all the same rather than fail.
                    let bytes = CHUNK_BYTES.max(span);
                    let start = reserve(bytes)?;
                    self.reserved.fetch_add(bytes, Relaxed);
                    c.carvable += bytes / span;
                    room.give(bytes / span);
                    (start, start + bytes)
                }
            };
            c.next = start;
            c.end = end;
        }
        let batched = self.guard_mode() == Some(GuardMode::Madvise);
        let want = if batched {
            (self.carved.load(Relaxed) / 8).clamp(1, BATCH)
        } else {
            // The first carve finds the guard mode; `mprotect` guards
            // cost two mappings each, and a failure part-way through a
            // batch (the map count ran out) would strand the rest.
            1
        };
        // The caller's stack is its promise's; the rest of the batch takes
        // room no other promise holds (none, if promisers are waiting for
        // a chunk).
        let extra = room.claim(want.min((c.end - c.next) / span) - 1);
        let n = 1 + extra;
        let guards: Vec<usize> = (0..n).map(|k| c.next + k * span).collect();
        let installed = if batched {
            // SAFETY: each guard page lies in a reservation of ours that no
            // stack uses yet (past `c.next`, under the class lock).
            let installed = unsafe { advise::each_page(&guards, MADV_GUARD_INSTALL) };
            // The room of the stacks not carved goes back (the caller's
            // own promise too, on an error: `take_promised`).
            room.give(n - installed.max(1));
            if installed == 0 {
                let err = io::Error::last_os_error();
                return Err(io::Error::new(
                    err.kind(),
                    format!("cannot install the guard page of a new stack: {err}"),
                ));
            }
            installed
        } else {
            self.install_guard(guards[0])?;
            1
        };
        // Stacks past the first failure were not guarded: the chunk keeps
        // them for the next carve.
        c.next += installed * span;
        c.carvable -= installed;
        drop(c);
        self.carved.fetch_add(installed, Relaxed);
        let tops: Vec<usize> = guards[..installed].iter().map(|g| g + size).collect();
        // SAFETY: the top page of each stack just carved, ours alone.
        unsafe { advise::each_page(&tops, libc::MADV_POPULATE_WRITE) };
        for &guard in &guards[..installed] {
            // Tell valgrind (if it runs us) that this range is a stack, so
            // that switching onto it is not reported as a wild stack change.
            // Stacks are never unmapped, so the registration is kept for
            // good. Outside valgrind this is a few no-op instructions, once
            // per stack carved.
            std::mem::forget(corosensei::stack::valgrind::ValgrindStackRegistration::new(
                (guard + PAGE) as *mut u8,
                size,
            ));
        }
        for &guard in guards[1..installed].iter().rev() {
            cache.stacks.push(Stack {
                base: guard + span,
                class: class.into(),
            });
        }
        Ok(Stack {
            base: guards[0] + span,
            class: class.into(),
        })
    }

    /// Gives a stack back: to `cache`; when the cache is full, its oldest
    /// BATCH go to the pool's dirty list. Returns true if stacks went to the
    /// pool (so the reaper has work).
    pub(crate) fn give(&self, stack: Stack, cache: &mut Cache) -> bool {
        cache.stacks.push(stack);
        if cache.stacks.len() <= HOT_CACHE {
            return false;
        }
        for s in cache.stacks.drain(..BATCH) {
            self.give_to_pool(s);
        }
        true
    }

    /// Takes back the stack of a ULT that is done with it, whatever its
    /// kind: a solo stack goes back to the kernel (`solo.rs`), a stack of
    /// the program's to nobody (it is the program's again), a pool stack
    /// to `cache` as [`give`](Self::give) does. Returns true if stacks went
    /// to the pool (so the reaper has work).
    ///
    /// # Safety
    ///
    /// Nothing runs on `stack` or refers into it any more (its ULT
    /// finished, or never ran).
    pub(crate) unsafe fn give_back(&self, stack: Stack, cache: &mut Cache) -> bool {
        if stack.is_solo() {
            // SAFETY: the caller's contract.
            unsafe { solo::release(stack) };
            return false;
        }
        if stack.is_user() {
            valgrind::deregister(stack.limit_addr());
            return false;
        }
        self.give(stack, cache)
    }

    /// Gives a stack straight to the pool's dirty list.
    pub(crate) fn give_to_pool(&self, stack: Stack) {
        let mut c = self.classes[stack.class]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        c.dirty.push(stack.base);
    }

    /// True when some stack sits on a dirty list, so the reaper has work.
    pub(crate) fn has_dirty(&self) -> bool {
        self.classes
            .iter()
            .any(|c| !c.lock().unwrap_or_else(|e| e.into_inner()).dirty.is_empty())
    }

    /// One round of the reaper: releases the pages of every dirty stack
    /// that was already dirty at the previous round. Returns how many.
    ///
    /// Neighbouring stacks go back in one `madvise` over the run, guard
    /// pages included, where guards are `MADV_GUARD_INSTALL` markers (which
    /// `MADV_DONTNEED` leaves in place): the end of a burst of a million
    /// threads costs a few calls, not a million.
    pub(crate) fn reap(&self) -> usize {
        let mut total = 0;
        let whole_runs = self.guard_mode() == Some(GuardMode::Madvise);
        for (class, slot) in self.classes.iter().enumerate() {
            let mut old = {
                let mut c = slot.lock().unwrap_or_else(|e| e.into_inner());
                let n = c.dirty_old;
                let mut old = PageVec::new();
                old.extend_from_slice(&c.dirty[..n]);
                c.dirty.remove_front(n);
                c.dirty_old = c.dirty.len();
                if c.dirty.capacity() > 4 * c.dirty.len().max(HOT_CACHE) {
                    // A burst's worth of capacity, touched, that no round
                    // needs now.
                    c.dirty.shrink_to_fit();
                }
                old
            };
            if old.is_empty() {
                continue;
            }
            old.sort_unstable();
            let size = class_size(class as u8);
            let runs = runs_of(&old, size + PAGE);
            for &(first, count) in &runs {
                if whole_runs {
                    let (lo, hi) = (first - size, first + (count - 1) * (size + PAGE));
                    // SAFETY: `lo..hi` is the usable ranges of stack slots
                    // of ours that no ULT uses (they were on the dirty list,
                    // which we drained under the lock) and the guard pages
                    // between them, whose markers MADV_DONTNEED keeps.
                    let rc = unsafe { libc::madvise(lo as *mut _, hi - lo, libc::MADV_DONTNEED) };
                    debug_assert_eq!(rc, 0, "madvise(MADV_DONTNEED) on stack slots failed");
                    continue;
                }
                for k in 0..count {
                    let base = first + k * (size + PAGE);
                    // SAFETY: `base - size .. base` is a stack slot of ours
                    // that no ULT uses (as above). MADV_DONTNEED on private
                    // anonymous memory drops the pages; the guard page below
                    // (a PROT_NONE mapping of its own here) is not in it.
                    let rc = unsafe {
                        libc::madvise((base - size) as *mut _, size, libc::MADV_DONTNEED)
                    };
                    debug_assert_eq!(rc, 0, "madvise(MADV_DONTNEED) on a stack slot failed");
                }
            }
            total += old.len();
            slot.lock()
                .unwrap_or_else(|e| e.into_inner())
                .clean
                .extend_from_slice(&runs);
        }
        self.released.fetch_add(total, Relaxed);
        total
    }

    fn install_guard(&self, addr: usize) -> io::Result<()> {
        let mut mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        if *mode != Some(GuardMode::Mprotect) {
            // SAFETY: `addr..addr+PAGE` lies in a reservation of ours that no
            // stack uses yet; installing a guard there has no other effect.
            let rc = unsafe { libc::madvise(addr as *mut _, PAGE, MADV_GUARD_INSTALL) };
            if rc == 0 {
                *mode = Some(GuardMode::Madvise);
                self.mode_byte.store(MODE_MADVISE, Relaxed);
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) || *mode == Some(GuardMode::Madvise) {
                return Err(io::Error::new(
                    err.kind(),
                    format!("cannot install the guard page of a new stack: {err}"),
                ));
            }
            // EINVAL on the first try: this kernel predates Linux 6.13.
            *mode = Some(GuardMode::Mprotect);
            self.mode_byte.store(MODE_MPROTECT, Relaxed);
        }
        // SAFETY: as above; PROT_NONE on an unused page of our reservation.
        let rc = unsafe { libc::mprotect(addr as *mut _, PAGE, libc::PROT_NONE) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOMEM) {
            let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "?".into());
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "cannot install the guard page of a new stack: the process has reached \
                     vm.max_map_count ({max} mappings). This kernel lacks MADV_GUARD_INSTALL \
                     (Linux 6.13+), so each guarded stack costs two mappings. Raise \
                     vm.max_map_count, run fewer threads at once, or upgrade the kernel"
                ),
            ));
        }
        Err(io::Error::new(
            err.kind(),
            format!("cannot install the guard page of a new stack: {err}"),
        ))
    }
}

/// Runs of neighbouring stacks, `(lowest base, count)`, in `bases`
/// (sorted), stacks `span` bytes apart.
fn runs_of(bases: &[usize], span: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &base in bases {
        match runs.last_mut() {
            Some((first, count)) if *first + *count * span == base => *count += 1,
            _ => runs.push((base, 1)),
        }
    }
    runs
}

/// The highest stack of the last run of `clean`, stacks of class `class`.
fn pop_run(clean: &mut Vec<(usize, usize)>, class: u8) -> Option<usize> {
    let (first, count) = clean.last_mut()?;
    *count -= 1;
    let base = *first + *count * (class_size(class) + PAGE);
    if *count == 0 {
        clean.pop();
    }
    Some(base)
}

/// Reserves `bytes` of address space without committing memory.
fn reserve(bytes: usize) -> io::Result<usize> {
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot reserve {} MiB of address space for thread stacks: {err}; \
                 check `ulimit -v` and vm.overcommit_memory, or use smaller stacks",
                bytes >> 20
            ),
        ));
    }
    Ok(p as usize)
}

/// An LWP's death row: warm stacks of ULTs that exited there. Owned by one
/// LWP; not shared.
///
/// It also holds *credit*: units of a class's room (`room.rs`) that a
/// promise kept from this cache did not need. The next spawn here takes
/// its promise from the credit, so that a spawn and a first run that both
/// find what they need on one LWP make no read-modify-write on the
/// pool's shared count (two a thread before). A unit of credit is room
/// taken out of the count and not yet used, as an outstanding promise is:
/// the count only looks smaller than it is, never larger, so the room's
/// argument holds. Credit above [`CREDIT_MAX`] goes back to the pool, and
/// all of it when the cache is drained. The hits (`reused_hot`) are
/// counted here too and added to the pool's figure on the cache's next
/// miss or drain, or every [`CREDIT_MAX`] hits.
#[derive(Default)]
pub(crate) struct Cache {
    stacks: Vec<Stack>,
    credit: [u32; CLASSES],
    /// Hits not yet added to `Pool::reused_hot`.
    hot: usize,
}

/// Credit a cache keeps per class before it gives half back: a cache's
/// worth of stacks (so that a burst of exits followed by as many spawns
/// makes no RMW), bounded so that an LWP that only runs what others spawn
/// does not sit on the room of many promises.
const CREDIT_MAX: u32 = HOT_CACHE as u32;

/// Units of room a cache without credit takes at once for a spawn: half
/// of [`CREDIT_MAX`], so that a burst of spawns on one LWP (whose first
/// runs come after the burst) makes one RMW on the count per this many.
const CREDIT_BATCH: u32 = CREDIT_MAX / 2;

impl Cache {
    /// Takes a unit of `class`'s room from the credit, if there is one.
    #[inline]
    fn take_credit(&mut self, class: u8) -> bool {
        let c = &mut self.credit[usize::from(class)];
        if *c == 0 {
            return false;
        }
        *c -= 1;
        true
    }

    /// Keeps the room of a promise that a stack of this cache kept, and
    /// counts the hit. The rare settling out of line, so that the hit
    /// stays small enough to inline into the first run.
    #[inline]
    fn keep_credit(&mut self, pool: &Pool, class: u8) {
        let c = &mut self.credit[usize::from(class)];
        *c += 1;
        self.hot += 1;
        if *c > CREDIT_MAX || self.hot >= CREDIT_MAX as usize {
            self.settle(pool, class);
        }
    }

    /// Gives back credit beyond [`CREDIT_MAX`] and adds the hits in.
    #[cold]
    #[inline(never)]
    fn settle(&mut self, pool: &Pool, class: u8) {
        let c = &mut self.credit[usize::from(class)];
        if *c > CREDIT_MAX {
            pool.room[usize::from(class)].give((CREDIT_MAX / 2) as usize);
            *c -= CREDIT_MAX / 2;
        }
        self.flush_counts(pool);
    }

    /// Adds the hits counted here to the pool's figure.
    #[cold]
    pub(crate) fn flush_counts(&mut self, pool: &Pool) {
        if self.hot != 0 {
            pool.reused_hot.fetch_add(self.hot, Relaxed);
            self.hot = 0;
        }
    }

    fn pop(&mut self, class: u8) -> Option<Stack> {
        let i = self
            .stacks
            .iter()
            .rposition(|s| s.class == usize::from(class))?;
        Some(self.stacks.swap_remove(i))
    }

    /// Empties the cache into the pool (when an LWP retires), credit and
    /// counts included.
    pub(crate) fn drain_into(&mut self, pool: &Pool) {
        for stack in self.stacks.drain(..) {
            pool.give_to_pool(stack);
        }
        for (class, c) in self.credit.iter_mut().enumerate() {
            if *c != 0 {
                pool.room[class].give(*c as usize);
                *c = 0;
            }
        }
        self.flush_counts(pool);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stacks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_a_power_of_two_class() {
        assert_eq!(class_size(class_of(0).unwrap()), MIN_STACK_SIZE);
        assert_eq!(class_size(class_of(1).unwrap()), MIN_STACK_SIZE);
        assert_eq!(
            class_size(class_of(DEFAULT_STACK_SIZE).unwrap()),
            DEFAULT_STACK_SIZE
        );
        assert_eq!(class_size(class_of(300 * 1024).unwrap()), 512 * 1024);
        assert_eq!(
            class_size(class_of(MAX_STACK_SIZE).unwrap()),
            MAX_STACK_SIZE
        );
        assert!(class_of(MAX_STACK_SIZE + 1).is_err());
        assert_eq!(CLASSES, 17);
    }

    #[test]
    fn stacks_are_writable_and_guarded() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        let a = pool.take(0, &mut cache).unwrap();
        let b = pool.take(0, &mut cache).unwrap();
        assert_ne!(a.base_addr(), b.base_addr());
        // The whole usable range is writable.
        // SAFETY: `a` is ours and `limit..base` is mapped read-write.
        unsafe {
            std::ptr::write_bytes(a.limit_addr() as *mut u8, 0xAB, a.size());
        }
        assert!(pool.guard_mode().is_some());
        // The guard page does not overlap the neighbour's stack.
        let (glo, ghi) = b.guard_range();
        assert!(ghi <= b.limit_addr() && glo >= a.base_addr().min(glo));
    }

    #[test]
    fn fresh_stacks_come_in_batches_with_their_top_page_resident() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        let stacks: Vec<Stack> = (0..300)
            .map(|_| pool.take(0, &mut cache).unwrap())
            .collect();
        let mut bases: Vec<usize> = stacks.iter().map(Stack::base_addr).collect();
        bases.sort_unstable();
        bases.dedup();
        assert_eq!(bases.len(), 300, "a stack handed out twice");
        let stats = pool.stats_with(&cache);
        assert!(
            stats.reused_hot > 200,
            "most fresh stacks come from a batch in the cache: {stats:?}"
        );
        for s in &stacks {
            let mut v = [0u8; 1];
            // SAFETY: the stack's top page is mapped; `v` has a byte for it.
            let rc =
                unsafe { libc::mincore((s.base_addr() - PAGE) as *mut _, PAGE, v.as_mut_ptr()) };
            assert_eq!(rc, 0);
            assert_eq!(
                v[0] & 1,
                1,
                "the top page of {:#x} is not resident",
                s.base_addr()
            );
        }
    }

    #[test]
    fn a_promise_is_outstanding_until_kept_or_forgotten() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        pool.promise(0).unwrap();
        pool.promise(0).unwrap();
        assert_eq!(pool.stats_with(&cache).promised, 2);
        assert!(
            pool.stats_with(&cache).reserved > 0,
            "the promises reserved room"
        );
        assert_eq!(
            pool.stats_with(&cache).carved,
            0,
            "nothing carved for a promise"
        );
        let s = pool.take_promised(0, &mut cache).unwrap();
        assert_eq!(pool.stats_with(&cache).promised, 1);
        pool.forget_promise(0);
        assert_eq!(pool.stats_with(&cache).promised, 0);
        // A promise kept from death row leaves the count as it was.
        pool.give(s, &mut cache);
        let carved = pool.stats_with(&cache).carved;
        pool.promise(0).unwrap();
        pool.take_promised(0, &mut cache).unwrap();
        assert_eq!(pool.stats_with(&cache).promised, 0);
        assert_eq!(pool.stats_with(&cache).carved, carved);
    }

    /// The room of a promise kept from death row stays with the cache as
    /// credit, the next spawn's promise comes out of it without touching
    /// the pool's count, and a drain gives it all back.
    #[test]
    fn a_promise_kept_from_the_cache_becomes_credit_for_the_next_spawn() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        let s = pool.take(0, &mut cache).unwrap();
        pool.give(s, &mut cache);
        pool.mode_byte.store(MODE_MADVISE, Relaxed);
        let room = pool.room[0].get();
        assert!(matches!(
            pool.reserve_for_spawn(0, &mut cache),
            Ok(Reserved::Promised)
        ));
        // A batch of room taken for this spawn and the next ones.
        let batch = room - pool.room[0].get();
        assert!(batch >= 1, "the spawn took room: {batch}");
        assert_eq!(cache.credit[0] as isize, batch - 1);
        let s = pool.take_promised(0, &mut cache).unwrap();
        assert_eq!(cache.credit[0] as isize, batch, "the kept promise's room");
        let before = pool.room[0].get();
        for _ in 0..batch {
            assert!(matches!(
                pool.reserve_for_spawn(0, &mut cache),
                Ok(Reserved::Promised)
            ));
        }
        assert_eq!(pool.room[0].get(), before, "promises out of the credit");
        assert_eq!(cache.credit[0], 0);
        for _ in 0..batch {
            pool.forget_promise(0);
        }
        pool.give(s, &mut cache);
        pool.promise(0).unwrap();
        pool.take_promised(0, &mut cache).unwrap();
        assert_eq!(cache.credit[0], 1);
        assert_eq!(pool.stats_with(&cache).promised, 0);
        assert_eq!(
            pool.stats().promised,
            1,
            "the pool counts credit as promised"
        );
        cache.drain_into(&pool);
        assert_eq!(pool.stats().promised, 0);
        assert_eq!(cache.credit[0], 0);
    }

    #[test]
    fn death_row_reuses_the_same_stack() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        let a = pool.take(4, &mut cache).unwrap();
        let base = a.base_addr();
        pool.give(a, &mut cache);
        assert_eq!(cache.len(), 1);
        let again = pool.take(4, &mut cache).unwrap();
        assert_eq!(again.base_addr(), base);
        assert_eq!(pool.stats_with(&cache).reused_hot, 1);
    }

    #[test]
    fn a_reaped_run_of_neighbours_comes_back_zeroed_one_by_one() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        let stacks: Vec<Stack> = (0..5).map(|_| pool.take(0, &mut cache).unwrap()).collect();
        let mut bases: Vec<usize> = stacks.iter().map(Stack::base_addr).collect();
        for s in stacks {
            // SAFETY: the stack is ours and mapped read-write.
            unsafe { *((s.base_addr() - 8) as *mut u64) = 7 };
            pool.give_to_pool(s);
        }
        pool.reap();
        assert_eq!(pool.reap(), 5);
        let mut back = Cache::default();
        let mut again: Vec<usize> = (0..5)
            .map(|_| pool.take(0, &mut back).unwrap().base_addr())
            .collect();
        again.sort_unstable();
        bases.sort_unstable();
        assert_eq!(again, bases, "each stack comes back once");
        for base in again {
            // SAFETY: as above; the pages were given back, so read zero.
            assert_eq!(unsafe { *((base - 8) as *const u64) }, 0);
        }
    }

    #[test]
    fn reaper_releases_stacks_idle_for_a_whole_round() {
        let pool = Pool::new();
        let mut cache = Cache::default();
        let s = pool.take(0, &mut cache).unwrap();
        let base = s.base_addr();
        // SAFETY: the stack is ours and mapped read-write.
        unsafe { *((base - 8) as *mut u64) = 7 };
        pool.give_to_pool(s);
        assert!(pool.has_dirty());
        assert_eq!(pool.reap(), 0, "a stack dirty for less than a round stays");
        assert_eq!(pool.reap(), 1);
        assert!(!pool.has_dirty());
        let again = pool.take(0, &mut cache).unwrap();
        assert_eq!(again.base_addr(), base);
        // SAFETY: as above; MADV_DONTNEED gave us a zero page back.
        assert_eq!(unsafe { *((base - 8) as *const u64) }, 0);
    }
}

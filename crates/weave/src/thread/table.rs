//! The thread table: maps a [`ThreadId`] to its TCB.
//!
//! As in Stein & Shah, a thread id is not a pointer but an index into a
//! table, here paired with a generation. The table is a directory of chunks
//! of TCBs; chunks are allocated on demand and never freed, so looking up
//! any id, however stale, touches valid memory, and a mismatched generation
//! says precisely that the thread has exited. Free slots are recycled
//! through per-LWP caches (death row for TCBs) and a global list.
//!
//! Below the LWPs and the scheduler: it names only the TCB.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::id::ThreadId;
use super::state;
use super::tcb::Tcb;

/// TCBs per chunk: 1,024 TCBs of ~400 bytes, ~400 KiB a chunk.
const CHUNK: usize = 1024;
/// Chunks in the directory: 65,536 × 1,024 = 64 M threads alive at once,
/// far beyond what fits in memory; the directory itself is 512 KiB of
/// address space, touched only as far as it is used.
const MAX_CHUNKS: usize = 65536;
/// Most threads the table can hold.
pub const MAX_THREADS: usize = CHUNK * MAX_CHUNKS;

/// Free slots a cache keeps before it hands a batch back to the global list.
const CACHE_HIGH: usize = 256;
/// Slots moved between a cache and the global list at once.
const BATCH: usize = 128;

pub(crate) struct Table {
    dir: Box<[AtomicPtr<Tcb>]>,
    /// Slots ever handed out; indices below it have a TCB.
    carved: AtomicUsize,
    free: Mutex<Vec<u32>>,
    grow: Mutex<()>,
}

/// Why a lookup failed.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The slot now holds another thread, or is free.
    Exited { name: Option<std::sync::Arc<str>> },
    /// The index was never handed out.
    Unknown,
}

static TABLE: OnceLock<Table> = OnceLock::new();

pub(crate) fn table() -> &'static Table {
    TABLE.get_or_init(|| Table {
        dir: (0..MAX_CHUNKS)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect(),
        carved: AtomicUsize::new(0),
        free: Mutex::new(Vec::new()),
        grow: Mutex::new(()),
    })
}

/// A thread's cache of free slots (an LWP's, or an OS thread's).
#[derive(Default)]
pub(crate) struct SlotCache {
    free: Vec<u32>,
}

impl Table {
    /// The TCB at `index`. `index` must be below `carved`.
    #[inline]
    pub(crate) fn slot(&self, index: u32) -> &'static Tcb {
        let i = index as usize;
        // Acquire pairs with the Release store in `carve`: the chunk's TCBs
        // are initialised before their pointer is seen.
        let chunk = self.dir[i / CHUNK].load(Ordering::Acquire);
        debug_assert!(!chunk.is_null());
        // SAFETY: chunks are allocated before any index in them is handed
        // out and are never freed; `i % CHUNK` is in bounds.
        unsafe { &*chunk.add(i % CHUNK) }
    }

    /// Holds the table's locks across a `fork` (see `thread/fork.rs`): the
    /// child must not inherit them held by a thread it does not have.
    pub(crate) fn lock_for_fork(&'static self) -> impl Sized {
        let grow = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        (grow, free)
    }

    /// Takes a free slot, growing the table if needed.
    pub(crate) fn alloc(&self, cache: &mut SlotCache) -> std::io::Result<&'static Tcb> {
        if cache.free.is_empty() {
            let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
            let n = g.len().min(BATCH);
            let at = g.len() - n;
            cache.free.extend(g.drain(at..));
        }
        let index = match cache.free.pop() {
            Some(i) => i,
            None => self.carve()?,
        };
        Ok(self.slot(index))
    }

    /// Returns `tcb`'s slot to `cache` once its thread is gone for good.
    pub(crate) fn release(&self, tcb: &Tcb, cache: &mut SlotCache) {
        // The generation moves first, so that a lookup racing with reuse
        // sees a mismatch rather than the next thread.
        let g = tcb.generation.load(Ordering::Relaxed);
        tcb.generation
            .store(if g == u32::MAX { 1 } else { g + 1 }, Ordering::Release);
        tcb.state.free();
        cache.free.push(tcb.index);
        if cache.free.len() > CACHE_HIGH {
            let at = cache.free.len() - BATCH;
            let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
            g.extend(cache.free.drain(at..));
        }
    }

    /// Gives every slot of `cache` back (an LWP or OS thread going away).
    pub(crate) fn drain(&self, cache: &mut SlotCache) {
        if !cache.free.is_empty() {
            let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
            g.append(&mut cache.free);
        }
    }

    #[cold]
    fn carve(&self) -> std::io::Result<u32> {
        let _g = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        let i = self.carved.load(Ordering::Relaxed);
        if i >= MAX_THREADS {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!(
                    "cannot spawn: the thread table is full ({MAX_THREADS} threads alive); \
                     join or let some threads exit first"
                ),
            ));
        }
        if i % CHUNK == 0 {
            let chunk: Box<[Tcb]> = (0..CHUNK).map(|k| Tcb::new((i + k) as u32)).collect();
            let p = Box::into_raw(chunk) as *mut Tcb;
            // Release pairs with the Acquire load in `slot`.
            self.dir[i / CHUNK].store(p, Ordering::Release);
        }
        // Release pairs with the Acquire load in `snapshot`/`lookup`.
        self.carved.store(i + 1, Ordering::Release);
        Ok(i as u32)
    }

    /// The live TCB for `id`, or why there is none.
    pub(crate) fn lookup(&self, id: ThreadId) -> Result<&'static Tcb, Lookup> {
        if id.index() as usize >= self.carved.load(Ordering::Acquire) {
            return Err(Lookup::Unknown);
        }
        let tcb = self.slot(id.index());
        // EXITED counts as gone: the joiner may already have returned while
        // the LWP has not recycled the slot yet.
        let run = tcb.state.load().run();
        let live = tcb.generation.load(Ordering::Acquire) == id.generation()
            && run != state::FREE
            && run != state::EXITED;
        if live {
            Ok(tcb)
        } else {
            // The name is kept while the slot waits on death row, so a
            // recently exited thread is still named.
            Err(Lookup::Exited {
                name: tcb.name_of(id.generation()),
            })
        }
    }

    /// Every slot handed out so far, for snapshots of the table.
    pub(crate) fn carved(&self) -> usize {
        self.carved.load(Ordering::Acquire)
    }
}

//! The thread table: maps a [`ThreadId`] to its TCB.
//!
//! As in Stein & Shah, a thread id is not a pointer but an index into a
//! table, here paired with a generation. The table is a directory of chunks
//! of TCBs; chunks are allocated on demand and never freed, so looking up
//! any id, however stale, touches valid memory, and a mismatched generation
//! says precisely that the thread has exited. Free slots are recycled
//! through per-LWP caches (death row for TCBs) and a global list.
//!
//! ## Giving back the pages of free slots
//!
//! A burst of a million threads carves a million slots (384 MiB); once the
//! burst is gone the slots are free but their pages would stay resident.
//! So the reaper calls [`Table::release_free_pages`] once per reap period:
//! of the slots that sat on the global free list for a whole period, every
//! run of consecutive ones that covers whole pages (counting the released
//! slots beside it, so that a page two runs share goes back once both are
//! free) leaves the
//! list for the *released* list, and the pages it covers go back to the
//! kernel (`MADV_DONTNEED`; chunks are their own `mmap`s, page-aligned, for
//! this). The slots stay where they are, so a `&'static Tcb` stays valid:
//!
//! 1. Under the free list's lock the run's slots are the table's alone
//!    (FREE, on no cache). `Tcb::prepare_release` drops their names and
//!    storage, leaving the two mutexes as a zeroed page reads them, and
//!    their generations and state epochs raise their chunk's *floor*.
//!    A slot whose room (`room.rs`) still holds a join packet is in no
//!    run: a handle that outlived its thread still reads it.
//! 2. The pages are released with [`RELEASING`] held for writing, so that
//!    no stale reader is inside a name lock as it turns to zeroes. What
//!    else a stale reference reads is atomics: a zeroed slot reads as FREE,
//!    generation 0, which matches no `ThreadId` (generations start at 1),
//!    so `lookup` says "exited", as before.
//! 3. `alloc` takes released slots only when the free list is empty, and
//!    `Tcb::revive`s each first: its plain fields rewritten, its generation
//!    and epoch set past the chunk's floor, so that neither an old id nor
//!    an old wake token can match its next thread.
//!
//! All of it runs under the free list's mutex; no lock-free step is added.
//!
//! Below the LWPs and the scheduler: it names only the TCB.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::id::ThreadId;
use super::state;
use super::tcb::{Tcb, RELEASING};
use crate::stack::PAGE;

/// TCBs per chunk: 1,024 TCBs of 408 bytes, 408 KiB (102 pages) a chunk.
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

/// Fewest consecutive free slots worth releasing: 4 pages' worth. Shorter
/// runs give back at most a page or two and come back as a revive each.
const MIN_RUN: usize = 4 * PAGE / std::mem::size_of::<Tcb>();

pub(crate) struct Table {
    dir: Box<[AtomicPtr<Tcb>]>,
    /// Slots ever handed out; indices below it have a TCB.
    carved: AtomicUsize,
    free: Mutex<Free>,
    grow: Mutex<()>,
    /// The slots of the OS threads registered with weave (`current.rs`),
    /// so that the deadlock check can look at those few threads without a
    /// walk of every slot ever carved.
    external: Mutex<Vec<u32>>,
}

/// The table's free slots that no cache holds.
#[derive(Default)]
struct Free {
    /// Free slots, pages resident.
    list: Vec<u32>,
    /// Free slots whose pages may have been released, revived before
    /// use: runs of consecutive slots, `(first, count)`, so that a million
    /// released slots cost a few KiB here, not 4 MiB.
    released: Vec<(u32, u32)>,
    /// Per chunk: the highest generation and state epoch a slot of it had
    /// when it was released (zero for a chunk never released from).
    floor: Vec<(u32, u64)>,
    /// How many of the oldest entries of `list` (its bottom: it is used
    /// as a stack) have been there since the last `release_free_pages`:
    /// only those are left over, the rest may be reused any moment.
    aged: usize,
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
    TABLE.get_or_init(Table::new)
}

/// A thread's cache of free slots (an LWP's, or an OS thread's).
#[derive(Default)]
pub(crate) struct SlotCache {
    free: Vec<u32>,
}

impl Table {
    fn new() -> Table {
        Table {
            dir: (0..MAX_CHUNKS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            carved: AtomicUsize::new(0),
            free: Mutex::new(Free::default()),
            grow: Mutex::new(()),
            external: Mutex::new(Vec::new()),
        }
    }

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
        // Nobody may be reading a name either: the child would inherit the
        // read lock from a thread it does not have, and never revive a slot.
        let pages = RELEASING.write().unwrap_or_else(|e| e.into_inner());
        let external = self.external.lock().unwrap_or_else(|e| e.into_inner());
        (grow, free, pages, external)
    }

    /// Lists `tcb` among the registered OS threads (`current.rs`, as it
    /// registers one), until [`forget_external`](Self::forget_external).
    pub(crate) fn note_external(&self, tcb: &Tcb) {
        let mut e = self.external.lock().unwrap_or_else(|e| e.into_inner());
        e.push(tcb.index);
    }

    /// Takes `tcb` off the list of registered OS threads (its thread exits).
    pub(crate) fn forget_external(&self, tcb: &Tcb) {
        let mut e = self.external.lock().unwrap_or_else(|e| e.into_inner());
        e.retain(|&i| i != tcb.index);
    }

    /// The slots of the registered OS threads: a few, however many ULTs
    /// the table holds.
    pub(crate) fn externals(&self) -> Vec<u32> {
        self.external
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes a free slot, growing the table if needed.
    pub(crate) fn alloc(&self, cache: &mut SlotCache) -> std::io::Result<&'static Tcb> {
        if cache.free.is_empty() {
            let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
            let n = g.list.len().min(BATCH);
            let at = g.list.len() - n;
            g.aged = g.aged.min(at);
            let Free { list, .. } = &mut *g;
            cache.free.extend(list.drain(at..));
            if n == 0 && !g.released.is_empty() {
                self.revive_batch(&mut g, cache);
            }
        }
        let index = match cache.free.pop() {
            Some(i) => i,
            None => self.carve(cache)?,
        };
        Ok(self.slot(index))
    }

    /// Returns `tcb`'s slot to `cache` once its thread is gone for good,
    /// unless its join handle holds the id and freed the packet
    /// (`thread/hold.rs`): then [`free_held`](Self::free_held) frees it.
    #[inline]
    pub(crate) fn release(&self, tcb: &Tcb, cache: &mut SlotCache) {
        if tcb.hold.ended() {
            self.free_slot(tcb, cache);
        }
    }

    /// The join handle of a thread spawned with its id held, having freed
    /// the thread's packet (it saw the thread finish): frees the slot into
    /// `cache` once the thread's LWP is done with it.
    pub(crate) fn free_held(&self, tcb: &Tcb, cache: &mut SlotCache, yield_now: fn()) {
        tcb.hold.wait_ended(yield_now);
        self.free_slot(tcb, cache);
    }

    #[inline]
    fn free_slot(&self, tcb: &Tcb, cache: &mut SlotCache) {
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
            g.list.extend(cache.free.drain(at..));
        }
    }

    /// Gives every slot of `cache` back (an LWP or OS thread going away).
    pub(crate) fn drain(&self, cache: &mut SlotCache) {
        if !cache.free.is_empty() {
            let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
            g.list.append(&mut cache.free);
        }
    }

    /// Carves fresh slots, the caches and lists being empty: a batch of
    /// up to [`BATCH`] under one hold of the grow lock, the first returned
    /// and the rest left in `cache` (lowest index popped first). One lock
    /// per batch rather than per slot: a burst of spawns used to take the
    /// free list's lock and this one for each thread (four locked
    /// instructions a spawn), and now takes them once a batch.
    #[cold]
    fn carve(&self, cache: &mut SlotCache) -> std::io::Result<u32> {
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
        // Not past the end of the chunk `i` is in: a later batch maps the
        // next one (and fails alone if it cannot).
        let n = BATCH.min(MAX_THREADS - i).min(CHUNK - i % CHUNK);
        if i % CHUNK == 0 {
            let p = map_chunk()?;
            for k in 0..CHUNK {
                // SAFETY: `p` is a fresh mapping with room for CHUNK TCBs,
                // aligned to a page; nobody else sees it yet.
                unsafe { p.add(k).write(Tcb::new((i + k) as u32)) };
            }
            // Release pairs with the Acquire load in `slot`.
            self.dir[i / CHUNK].store(p, Ordering::Release);
        }
        // Release pairs with the Acquire load in `snapshot`/`lookup`: the
        // batch's slots are FREE TCBs, as freed slots in a cache are.
        self.carved.store(i + n, Ordering::Release);
        cache.free.extend((i + 1..i + n).rev().map(|k| k as u32));
        Ok(i as u32)
    }

    /// Revives a batch of released slots into `cache` (step 3 of the
    /// module doc), the free list being empty.
    #[cold]
    fn revive_batch(&self, g: &mut Free, cache: &mut SlotCache) {
        let Some(run) = g.released.last_mut() else {
            return;
        };
        let n = (run.1 as usize).min(BATCH) as u32;
        run.1 -= n;
        let (first, left) = *run;
        if left == 0 {
            g.released.pop();
        }
        // Written under RELEASING too: a stale reader of a name must not
        // meet a slot half revived.
        let _pages = RELEASING.write().unwrap_or_else(|e| e.into_inner());
        for index in (first + left..first + left + n).rev() {
            let (generation, epoch) = g.floor[index as usize / CHUNK];
            let generation = if generation == u32::MAX {
                1
            } else {
                generation + 1
            };
            // SAFETY: the slot was released under this lock and is on no
            // list now but the caller's cache; `chunk_ptr` is the table's
            // own pointer to its chunk.
            unsafe {
                Tcb::revive(
                    self.chunk_ptr(index).add(index as usize % CHUNK),
                    index,
                    generation,
                    epoch + 1,
                )
            };
            cache.free.push(index);
        }
    }

    /// The start of the chunk holding `index`, with the write permission
    /// of the mapping (`revive` writes plain fields through it).
    fn chunk_ptr(&self, index: u32) -> *mut Tcb {
        // Acquire pairs with the Release store in `carve`.
        self.dir[index as usize / CHUNK].load(Ordering::Acquire)
    }

    /// True when slots arrived on the global free list since the last
    /// `release_free_pages`: the reaper must look once more (a period from
    /// now) before the monitor sleeps, or a burst's last slots would keep
    /// their pages for as long as the program stays idle.
    pub(crate) fn has_young_free(&self) -> bool {
        let g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        g.list.len() > g.aged
    }

    /// Gives back the pages of runs of free slots that sat on the global
    /// free list since the previous call, a reap period ago (module doc,
    /// steps 1 and 2).
    /// Returns the bytes released. Called by the reaper.
    pub(crate) fn release_free_pages(&self) -> usize {
        let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let len = g.list.len();
        let aged = std::mem::replace(&mut g.aged, len);
        if aged < MIN_RUN {
            return 0;
        }
        let young = g.list.split_off(aged);
        let mut list = std::mem::take(&mut g.list);
        // A slot whose room still holds a packet (its handle outlived it)
        // keeps its page: the kernel would zero the packet (`room.rs`).
        let mut keep = Vec::new();
        list.retain(|&i| {
            let busy = self.slot(i).room.is_busy();
            if busy {
                keep.push(i);
            }
            !busy
        });
        list.sort_unstable();
        // The runs released before, by first slot: a page is free once
        // every slot on it is, whichever pass released each (a run that
        // ends mid-page leaves that page to the run beside it).
        let mut before = g.released.clone();
        before.sort_unstable();
        let released_at = |i: u32| {
            let k = before.partition_point(|&(f, _)| f <= i);
            k > 0 && i < before[k - 1].0 + before[k - 1].1
        };
        let size = std::mem::size_of::<Tcb>();
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < list.len() {
            // A run: consecutive indices within one chunk.
            let mut end = start + 1;
            while end < list.len()
                && list[end] == list[end - 1] + 1
                && list[end] as usize % CHUNK != 0
            {
                end += 1;
            }
            let run = &list[start..end];
            let (mut a, mut b) = (run[0] as usize % CHUNK, run[run.len() - 1] as usize % CHUNK);
            // Stretched over released neighbours in the chunk, for the
            // pages only: the slots of a page a neighbour shares are free.
            let base = run[0] - a as u32;
            let beside = a > 0 && released_at(base + a as u32 - 1)
                || b + 1 < CHUNK && released_at(base + b as u32 + 1);
            let (lo_page, hi_page) = (
                a * size / PAGE * PAGE,
                ((b + 1) * size).div_ceil(PAGE) * PAGE,
            );
            while a > 0 && a * size > lo_page && released_at(base + a as u32 - 1) {
                a -= 1;
            }
            while b + 1 < CHUNK && (b + 1) * size < hi_page && released_at(base + b as u32 + 1) {
                b += 1;
            }
            let first_page = (a * size).div_ceil(PAGE);
            let end_page = (b + 1) * size / PAGE;
            if (run.len() < MIN_RUN && !beside) || end_page <= first_page {
                keep.extend_from_slice(run);
                start = end;
                continue;
            }
            let chunk = run[0] as usize / CHUNK;
            if g.floor.len() <= chunk {
                g.floor.resize(chunk + 1, (0, 0));
            }
            for &index in run {
                // SAFETY: a FREE slot off every cache, ours under the lock.
                let (generation, epoch) = unsafe { self.slot(index).prepare_release() };
                let f = &mut g.floor[chunk];
                *f = (f.0.max(generation), f.1.max(epoch));
            }
            g.released.push((run[0], run.len() as u32));
            let base = self.chunk_ptr(run[0]) as usize;
            ranges.push((base + first_page * PAGE, (end_page - first_page) * PAGE));
            start = end;
        }
        keep.extend_from_slice(&young);
        keep.shrink_to_fit();
        g.aged = keep.len();
        g.list = keep;
        let _pages = RELEASING.write().unwrap_or_else(|e| e.into_inner());
        let mut bytes = 0;
        for (at, len) in ranges {
            // SAFETY: whole pages inside a chunk, covered by FREE slots that
            // are the table's alone (taken off the list above, under the
            // lock we hold); a zeroed slot is a valid FREE TCB for every
            // reader that may still hold one (module doc, step 2).
            let rc = unsafe { libc::madvise(at as *mut _, len, libc::MADV_DONTNEED) };
            debug_assert_eq!(rc, 0, "madvise(MADV_DONTNEED) on table pages failed");
            if rc == 0 {
                bytes += len;
            }
        }
        bytes
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

/// Maps a chunk of the table: its own mapping, page-aligned, so that the
/// pages of its free slots can be given back one by one. Populated at
/// once (`MAP_POPULATE`): `carve` writes every TCB of the chunk right
/// away, and one system call that faults its 96 pages in costs less than
/// 96 page faults (the first round of a burst of spawns pays them).
fn map_chunk() -> std::io::Result<*mut Tcb> {
    let bytes = (CHUNK * std::mem::size_of::<Tcb>()).next_multiple_of(PAGE);
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let err = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            format!("cannot map {bytes} bytes for more thread control blocks: {err}"),
        ));
    }
    Ok(p.cast())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Runs a whole chunk of threads through `t` (spawned, named, exited,
    /// freed onto the global list) and returns their ids.
    fn burst(t: &Table) -> Vec<ThreadId> {
        let mut cache = SlotCache::default();
        let ids: Vec<ThreadId> = (0..CHUNK)
            .map(|_| {
                let tcb = t.alloc(&mut cache).unwrap();
                tcb.set_name(Some("burst".into()));
                tcb.state.spawn();
                tcb.id()
            })
            .collect();
        for id in &ids {
            let tcb = t.slot(id.index());
            tcb.state.exit();
            t.release(tcb, &mut cache);
        }
        t.drain(&mut cache);
        ids
    }

    fn resident_pages(at: usize, len: usize) -> usize {
        let mut v = vec![0u8; len.div_ceil(PAGE)];
        // SAFETY: `at..at+len` is a mapped chunk of the table; `v` has a
        // byte per page.
        let rc = unsafe { libc::mincore(at as *mut _, len, v.as_mut_ptr()) };
        assert_eq!(rc, 0);
        v.iter().filter(|&&b| b & 1 != 0).count()
    }

    #[test]
    fn free_slots_left_over_give_back_their_pages() {
        let t = Table::new();
        burst(&t);
        let bytes = CHUNK * std::mem::size_of::<Tcb>();
        let base = t.chunk_ptr(0) as usize;
        assert_eq!(resident_pages(base, bytes), bytes / PAGE);
        assert_eq!(t.release_free_pages(), 0, "freed this period: kept");
        assert_eq!(t.release_free_pages(), bytes);
        assert_eq!(resident_pages(base, bytes), 0);
    }

    #[test]
    fn a_page_two_runs_share_goes_back_once_both_are_free() {
        let t = Table::new();
        let mut cache = SlotCache::default();
        let tcbs: Vec<_> = (0..CHUNK)
            .map(|_| {
                let tcb = t.alloc(&mut cache).unwrap();
                tcb.state.spawn();
                tcb
            })
            .collect();
        // A split that falls inside a page: the first run leaves that page
        // to the second, released a period later.
        let split = CHUNK / 2 - 12;
        assert_ne!(split * std::mem::size_of::<Tcb>() % PAGE, 0);
        let free = |range: std::ops::Range<usize>, cache: &mut SlotCache| {
            for tcb in &tcbs[range] {
                tcb.state.exit();
                t.release(tcb, cache);
            }
            t.drain(cache);
        };
        free(0..split, &mut cache);
        t.release_free_pages();
        assert!(t.release_free_pages() > 0);
        free(split..CHUNK, &mut cache);
        t.release_free_pages();
        assert!(t.release_free_pages() > 0);
        let bytes = CHUNK * std::mem::size_of::<Tcb>();
        assert_eq!(
            resident_pages(t.chunk_ptr(0) as usize, bytes),
            0,
            "the page both runs share stayed resident"
        );
    }

    #[test]
    fn a_free_slot_whose_room_holds_a_packet_keeps_its_page() {
        let t = Table::new();
        let mut cache = SlotCache::default();
        let tcbs: Vec<_> = (0..CHUNK).map(|_| t.alloc(&mut cache).unwrap()).collect();
        // A thread whose handle outlives it: its packet is in the room.
        let held = tcbs[CHUNK / 2];
        let room = held.room.claim().unwrap();
        // SAFETY: the claimed bytes are ours; 8 of the room's 112.
        unsafe { room.cast::<u64>().write(0x5eed) };
        for tcb in tcbs {
            tcb.state.spawn();
            tcb.state.exit();
            t.release(tcb, &mut cache);
        }
        t.drain(&mut cache);
        t.release_free_pages();
        assert!(t.release_free_pages() > 0, "the other slots' pages went");
        let at = held as *const Tcb as usize / PAGE * PAGE;
        assert_eq!(resident_pages(at, PAGE), 1, "the busy room's page stayed");
        // SAFETY: still claimed, so still ours and resident.
        assert_eq!(unsafe { room.cast::<u64>().read() }, 0x5eed);
        // SAFETY: the claim above, vacated once; nothing uses the bytes.
        unsafe { super::super::room::Room::vacate_at(room) };
        assert!(!held.room.is_busy());
    }

    #[test]
    fn a_released_slot_still_says_its_thread_exited() {
        let t = Table::new();
        let ids = burst(&t);
        t.release_free_pages();
        assert!(t.release_free_pages() > 0);
        for id in [ids[0], ids[CHUNK / 2], ids[CHUNK - 1]] {
            assert!(matches!(t.lookup(id), Err(Lookup::Exited { name: None })));
        }
    }

    #[test]
    fn a_burst_carves_its_slots_a_batch_at_a_time() {
        let t = Table::new();
        let mut cache = SlotCache::default();
        let first = t.alloc(&mut cache).unwrap().index;
        assert_eq!(first, 0);
        assert_eq!(t.carved(), BATCH, "the first spawn carves a whole batch");
        let rest: Vec<u32> = (1..BATCH)
            .map(|_| t.alloc(&mut cache).unwrap().index)
            .collect();
        assert_eq!(rest, (1..BATCH as u32).collect::<Vec<_>>(), "in order");
        assert_eq!(t.carved(), BATCH, "the batch served its spawns");
        t.alloc(&mut cache).unwrap();
        assert_eq!(t.carved(), 2 * BATCH);
        // A whole chunk's batches, then the next chunk's first.
        for _ in 0..CHUNK {
            let tcb = t.alloc(&mut cache).unwrap();
            assert_eq!(tcb.state.load().run(), state::FREE);
        }
        assert_eq!(t.carved(), CHUNK + 2 * BATCH);
    }

    #[test]
    fn a_revived_slot_gets_a_newer_generation_and_epoch() {
        let t = Table::new();
        let ids = burst(&t);
        let old_epoch = t.slot(ids[0].index()).state.load().epoch();
        t.release_free_pages();
        assert!(t.release_free_pages() > 0);
        let mut cache = SlotCache::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..CHUNK {
            let tcb = t.alloc(&mut cache).unwrap();
            assert!(
                seen.insert(tcb.index),
                "slot {} handed out twice",
                tcb.index
            );
            let old = ids[tcb.index as usize];
            assert_eq!(tcb.id().index(), old.index());
            assert!(tcb.id().generation() > old.generation());
            assert_eq!(tcb.state.load().run(), state::FREE);
            assert!(tcb.state.load().epoch() > old_epoch);
            assert!(tcb.name().is_none());
            assert!(matches!(t.lookup(old), Err(Lookup::Exited { .. })));
        }
        assert_eq!(
            t.carved(),
            CHUNK,
            "released slots are reused before carving"
        );
    }

    #[test]
    fn slots_reused_within_a_period_keep_their_pages() {
        let t = Table::new();
        burst(&t);
        t.release_free_pages();
        // Draw the whole list and give it back: every slot is young again.
        let mut cache = SlotCache::default();
        let taken: Vec<_> = (0..CHUNK).map(|_| t.alloc(&mut cache).unwrap()).collect();
        for tcb in taken {
            tcb.state.spawn();
            tcb.state.exit();
            t.release(tcb, &mut cache);
        }
        t.drain(&mut cache);
        assert_eq!(
            t.release_free_pages(),
            0,
            "the slots were in use this period"
        );
        assert!(
            t.release_free_pages() > 0,
            "a whole period later they were not"
        );
    }
}

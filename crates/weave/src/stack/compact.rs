//! Compaction of long-idle stacks (`WEAVE_COMPACT`): the live part of a
//! long-parked ULT's stack is copied into a heap record, and its pages are
//! released and guarded (`MADV_GUARD_INSTALL`: every access faults, and no
//! VMA is split). The bytes go back to the same addresses before the ULT
//! runs again ([`restore`], by its home LWP) or when any other thread
//! touches them ([`on_fault`], from the SIGSEGV handler of `overflow.rs`),
//! so every pointer into the stack stays valid.
//!
//! A record keeps the stack as its differences from the *shape* of its
//! length (the first stack of that many live words, kept while any record
//! uses it: [`Shape`], [`encode`]), in a block of an [`Arena`]: a socket
//! reader's 1,096 live bytes take ~150.
//!
//! The design note, with what may point into a parked stack and how each
//! case stays correct, is `docs/design/compaction.md`.
//!
//! Owns the records, their shapes and arena, and the compaction lock. It
//! knows nothing of threads or waits: `lwp/trim.rs` chooses whom to
//! compact and checks that the thread cannot run meanwhile;
//! `Lwp::dispatch` decides when to restore.
//!
//! **The lock** guards the records and every change to a compacted range.
//! It is an `OwnerLock` (`owner_lock.rs`: a spin lock that knows its
//! holder), because the fault handler takes it: a handler may not wait on
//! a futex, and a fault taken by the holder itself (which nothing weave
//! does can cause) must be told from a wait, to crash instead of hanging.
//! Held for a few system calls at most.

use crate::published::Published;
use std::cell::{Cell, UnsafeCell};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicUsize};

use super::owner_lock::{Held, OwnerLock};
use super::PAGE;

/// `MADV_GUARD_INSTALL` and `MADV_GUARD_REMOVE` from `<linux/mman.h>`
/// (Linux 6.13); the libc crate does not carry them yet.
const MADV_GUARD_INSTALL: libc::c_int = super::MADV_GUARD_INSTALL;
const MADV_GUARD_REMOVE: libc::c_int = 103;

/// One compacted stack, as read from its block in the [`Arena`]: its live
/// words, which belong at `lo..top`.
struct Record<'a> {
    /// The first byte copied: the ULT's saved stack pointer (word-aligned).
    /// The guarded range starts at its page.
    lo: usize,
    /// The words of `lo..top`.
    body: Body<'a>,
    /// Already put back by a fault on another thread; the home LWP frees
    /// the record when the ULT next runs (the handler never frees).
    restored: bool,
}

/// How a record keeps its words.
enum Body<'a> {
    /// Its differences from the [`Shape`] of its length (see [`encode`]).
    Against(&'a [u8]),
    /// Its own words, packed (see [`pack`]): a stack unlike the shape of
    /// its length, whose differences would take more room.
    Packed(&'a [u64]),
}

impl Record<'_> {
    fn page_lo(&self) -> usize {
        self.lo & !(PAGE - 1)
    }
}

/// Where a record's block lies in the [`Arena`]: its chunk, and its first
/// word there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loc {
    chunk: u32,
    at: u32,
}

impl Loc {
    fn word(self) -> u64 {
        u64::from(self.chunk) << 32 | u64::from(self.at)
    }

    fn of(w: u64) -> Loc {
        Loc {
            chunk: (w >> 32) as u32,
            at: w as u32,
        }
    }
}

/// Words of an arena chunk: 256 KiB, ~1,800 blocks of a socket reader's
/// record, so that a chunk is a rare allocation and the tail a block does
/// not fit in (a block never spans two chunks) wastes little.
const CHUNK_WORDS: usize = 1 << 15;

/// A block's header word: the span `top - lo` in bytes (bits 0-31; a
/// stack is at most 1 GiB), [`RESTORED`], [`PACKED`], and the payload's
/// length in bytes (from bit 34).
const RESTORED: u64 = 1 << 32;
/// The payload is packed words (`Body::Packed`), not a code.
const PACKED: u64 = 1 << 33;
const LEN_SHIFT: u32 = 34;
/// Live bytes from which a stack is not compacted: a block's header holds
/// the payload's length in 30 bits (1 GiB), and the packed words of a
/// live part this large, with their bitmap, stay below that.
const MAX_LIVE: usize = 1 << 29;
/// End of a free list.
const NONE: u64 = u64::MAX;

/// Where the records live: chunks of words carved into blocks, one per
/// record (a header word, then the code or the packed words), rounded up
/// to an even number of words (16 bytes). A freed block waits on the free
/// list of its size for the next record of that size; when the last
/// record goes, the chunks go too. Each record so costs its block and,
/// in the map, a key and a [`Loc`], instead of an allocation and a
/// record in the map.
struct Arena {
    chunks: Vec<Box<[u64]>>,
    /// The next free word of the last chunk.
    bump: usize,
    /// Per block size in words: its first free block (`NONE`: none); a
    /// free block's first word holds the next one's [`Loc`].
    free: Vec<u64>,
}

impl Arena {
    const fn new() -> Arena {
        Arena {
            chunks: Vec::new(),
            bump: 0,
            free: Vec::new(),
        }
    }

    /// Words of the block that holds a payload of `bytes`.
    fn block_words(bytes: usize) -> usize {
        (1 + bytes.div_ceil(8)).next_multiple_of(2)
    }

    /// A block of `words` (from [`Arena::block_words`]): a freed one of
    /// that size if there is one, else carved from the last chunk (a
    /// new one if the block does not fit, of its own size if larger than
    /// a chunk).
    fn alloc(&mut self, words: usize) -> Loc {
        if let Some(head) = self.free.get(words).copied().filter(|&h| h != NONE) {
            let loc = Loc::of(head);
            self.free[words] = self.chunks[loc.chunk as usize][loc.at as usize];
            return loc;
        }
        let room = self.chunks.last().map_or(0, |c| c.len());
        if self.bump + words > room {
            self.chunks
                .push(vec![0u64; words.max(CHUNK_WORDS)].into_boxed_slice());
            self.bump = 0;
        }
        let loc = Loc {
            chunk: (self.chunks.len() - 1) as u32,
            at: self.bump as u32,
        };
        self.bump += words;
        loc
    }

    /// Stores a record of `span` bytes (`top - lo`) holding `body`.
    fn put(&mut self, span: usize, body: &Body) -> Loc {
        let (payload, flags) = match body {
            Body::Against(code) => (code.len(), 0),
            Body::Packed(words) => (words.len() * 8, PACKED),
        };
        let words = Arena::block_words(payload);
        let loc = self.alloc(words);
        let block = &mut self.chunks[loc.chunk as usize][loc.at as usize..][..words];
        block[0] = span as u64 | flags | (payload as u64) << LEN_SHIFT;
        let rest = &mut block[1..];
        match body {
            Body::Against(code) => {
                // SAFETY: `rest` is `words - 1` words, at least
                // `code.len()` bytes, and any byte is a valid `u8`.
                let bytes = unsafe {
                    std::slice::from_raw_parts_mut(rest.as_mut_ptr().cast::<u8>(), code.len())
                };
                bytes.copy_from_slice(code);
            }
            Body::Packed(packed) => rest[..packed.len()].copy_from_slice(packed),
        }
        loc
    }

    // ASYNC-SIGNAL-SAFE: plain loads.
    /// The record at `loc`, whose stack's top is `top`.
    fn get(&self, loc: Loc, top: usize) -> Record<'_> {
        let block = &self.chunks[loc.chunk as usize][loc.at as usize..];
        let h = block[0];
        let payload = (h >> LEN_SHIFT) as usize;
        let rest = &block[1..1 + payload.div_ceil(8)];
        let body = if h & PACKED != 0 {
            Body::Packed(rest)
        } else {
            // SAFETY: `rest` holds at least `payload` bytes, written by
            // `put` as the code's bytes.
            Body::Against(unsafe {
                std::slice::from_raw_parts(rest.as_ptr().cast::<u8>(), payload)
            })
        };
        Record {
            lo: top - (h as u32) as usize,
            body,
            restored: h & RESTORED != 0,
        }
    }

    // ASYNC-SIGNAL-SAFE: a plain store.
    fn set_restored(&mut self, loc: Loc) {
        self.chunks[loc.chunk as usize][loc.at as usize] |= RESTORED;
    }

    /// Bytes the block at `loc` takes.
    fn bytes(&self, loc: Loc) -> usize {
        let h = self.chunks[loc.chunk as usize][loc.at as usize];
        Arena::block_words((h >> LEN_SHIFT) as usize) * 8
    }

    /// Puts the block at `loc` on its size's free list.
    fn free(&mut self, loc: Loc) {
        let words = self.bytes(loc) / 8;
        if self.free.len() <= words {
            self.free.resize(words + 1, NONE);
        }
        self.chunks[loc.chunk as usize][loc.at as usize] = self.free[words];
        self.free[words] = loc.word();
    }
}

/// The reference stack of one length: the first stack of that many live
/// words to be compacted, kept while any record is written against it.
///
/// ULTs parked in the same wait went through the same frames, so their
/// live stacks are the same words but for a few: pointers into their own
/// stacks (the same once moved by the distance between the two tops),
/// and pointers to their TCB, their sockets, their closures' captures
/// (a small distance from the reference's word, often the same distance
/// for several words). A record against a shape keeps only those.
struct Shape {
    /// The stack top the words were copied below.
    top: usize,
    /// Its words, packed (see [`pack`]).
    words: Box<[u64]>,
    /// Records written against it (including the one it was made from).
    users: usize,
}

struct Registry {
    lock: OwnerLock,
    /// Keyed by the stack's top: a record covers `page_lo..top`.
    map: UnsafeCell<BTreeMap<usize, Loc>>,
    /// Keyed by the number of live words.
    shapes: UnsafeCell<BTreeMap<usize, Shape>>,
    /// The records' blocks.
    arena: UnsafeCell<Arena>,
}

// SAFETY: `map`, `shapes` and `arena` are touched only by the holder of
// `lock` (see `Locked`).
unsafe impl Sync for Registry {}

static REG: Registry = Registry {
    lock: OwnerLock::new(),
    map: UnsafeCell::new(BTreeMap::new()),
    shapes: UnsafeCell::new(BTreeMap::new()),
    arena: UnsafeCell::new(Arena::new()),
};

/// A stack was ever compacted: until then the fault handler need not look.
static EVER: AtomicBool = AtomicBool::new(false);
/// Records held now, and the bytes they hold.
static HELD: AtomicUsize = AtomicUsize::new(0);
static HELD_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Compactions so far, and restores made by faults of other threads.
static COMPACTIONS: AtomicUsize = AtomicUsize::new(0);
static FAULT_RESTORES: AtomicUsize = AtomicUsize::new(0);
/// Restores by home LWPs at switch-in, and the time they took in all (ns).
static RESTORES: AtomicUsize = AtomicUsize::new(0);
static RESTORE_NS: AtomicUsize = AtomicUsize::new(0);
/// Compactions due but not asked for: the ULT owned a live `thread::scope`,
/// or threads weave did not start were running (`monitor/trim.rs`).
static HELD_FOR_SCOPES: AtomicUsize = AtomicUsize::new(0);
static HELD_FOR_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Set by [`keep_compaction_off_unless_set`].
static ONLY_IF_SET: AtomicBool = AtomicBool::new(false);

/// Keeps compaction off in this process unless the environment sets
/// `WEAVE_COMPACT` (to any value the runtime accepts); the default
/// threshold then does not apply. For a program whose threads lend stack
/// memory to each other freely, as C programs do (a pointer into a
/// compacted stack that another thread hands to a system call fails it
/// with `EFAULT`: `docs/design/compaction.md`): weave's C library calls
/// this before it creates its first thread. It takes effect at the next
/// pass of the monitor, and cannot be undone.
pub fn keep_compaction_off_unless_set() {
    if ONLY_IF_SET.load(Relaxed) {
        return;
    }
    // Relaxed: read once per pass; a ULT created after this call (the C
    // library calls it before each create) is seen by a later pass, which
    // reads the flag after the create's own synchronisation with the
    // thread table.
    ONLY_IF_SET.store(true, Relaxed);
}

/// Whether [`keep_compaction_off_unless_set`] was called.
pub(crate) fn only_if_set() -> bool {
    ONLY_IF_SET.load(Relaxed)
}

/// Counts `n` compactions held back because their ULTs owned a live scope
/// (`scopes`) or because of threads weave did not start.
pub(crate) fn note_held(n: usize, scopes: bool) {
    let c = if scopes {
        &HELD_FOR_SCOPES
    } else {
        &HELD_FOR_THREADS
    };
    c.fetch_add(n, Relaxed);
}

thread_local! {
    /// This thread's kernel id, once asked (the lock's owner mark).
    static TID: Cell<i32> = const { Cell::new(0) };
    /// The address whose fault this thread last retried without finding a
    /// record (see `on_fault`).
    static RETRIED: Cell<usize> = const { Cell::new(0) };
}

// ASYNC-SIGNAL-SAFE: a const thread-local and gettid(2).
fn tid() -> i32 {
    TID.with(|t| {
        if t.get() == 0 {
            // SAFETY: gettid has no preconditions.
            t.set(unsafe { libc::gettid() });
        }
        t.get()
    })
}

/// The lock held: the licence to touch the map.
struct Locked(#[allow(dead_code)] Held<'static>);

/// What the lock guards, borrowed at once.
struct Parts<'a> {
    map: &'a mut BTreeMap<usize, Loc>,
    shapes: &'a mut BTreeMap<usize, Shape>,
    arena: &'a mut Arena,
}

impl Locked {
    fn parts(&mut self) -> Parts<'_> {
        // SAFETY: we hold the lock, the one licence to touch these, and
        // `&mut self` makes this the only borrow through it; the three
        // are distinct objects.
        unsafe {
            Parts {
                map: &mut *REG.map.get(),
                shapes: &mut *REG.shapes.get(),
                arena: &mut *REG.arena.get(),
            }
        }
    }
}

// ASYNC-SIGNAL-SAFE: see `OwnerLock::lock`.
/// Takes the lock; `None` if this thread holds it already.
fn lock() -> Option<Locked> {
    REG.lock.lock(tid()).map(Locked)
}

/// Whether this kernel can compact stacks: `Ok`, or why not (a probe of
/// `MADV_GUARD_INSTALL` on a scratch page, made once).
pub fn compaction_support() -> Result<(), String> {
    // A `Published`, not a `OnceLock`: a fork never finds it half made.
    static PROBE: Published<Result<(), String>> = Published::new();
    PROBE
        .get_or_make(|| {
            // SAFETY: a fresh anonymous mapping aliases nothing.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    PAGE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!(
                    "no page to probe MADV_GUARD_INSTALL with: {}",
                    std::io::Error::last_os_error()
                ));
            }
            // SAFETY: `p` is the page just mapped, ours alone.
            let rc = unsafe { libc::madvise(p, PAGE, MADV_GUARD_INSTALL) };
            let err = std::io::Error::last_os_error();
            // SAFETY: unmapping the page we mapped.
            unsafe { libc::munmap(p, PAGE) };
            if rc == 0 {
                Ok(())
            } else {
                Err(format!(
                    "this kernel lacks MADV_GUARD_INSTALL (Linux 6.13+), without which each \
                     compacted stack would cost VMAs of its own ({err})"
                ))
            }
        })
        .clone()
}

/// Compacts the stack whose live part is `sp..top`: copies it, releases
/// and guards the pages from `sp`'s page to `top`. Returns the bytes kept
/// (0: not compacted, the stack is as it was).
///
/// # Safety
///
/// `sp..top` is the live part of the stack of a ULT that cannot run until
/// the caller (its home LWP, in its scheduler loop) lets it, and
/// `sp`'s page .. `top` lies inside that stack; `top` is page-aligned.
pub(crate) unsafe fn compact(sp: usize, top: usize) -> usize {
    debug_assert!(sp < top && top % PAGE == 0);
    debug_assert!(sp % 8 == 0);
    if top - sp >= MAX_LIVE {
        return 0;
    }
    let page_lo = sp & !(PAGE - 1);
    let len = top - page_lo;
    // Allocated before the lock.
    let mut raw = vec![0u64; (top - sp) / 8];
    let Some(mut g) = lock() else {
        return 0;
    };
    if g.parts().map.contains_key(&top) {
        return 0;
    }
    // Before any page of this range can fault: a fault handler that read
    // `EVER` as false would pass the fault on as a crash. SeqCst: ordered
    // before the page-table changes below, which the faulting thread's
    // access follows (pairs with the SeqCst load in `on_fault`).
    EVER.store(true, SeqCst);
    // Read-only first, so that a write by another thread between the copy
    // and the guard faults (and waits for the lock) instead of being lost.
    // SAFETY: `page_lo..top` is stack memory of ours (the caller's
    // guarantee); making it read-only for a moment only delays writers.
    if unsafe { libc::mprotect(page_lo as *mut _, len, libc::PROT_READ) } != 0 {
        return 0;
    }
    // SAFETY: `sp..top` is readable, word-aligned, and `raw` has room for
    // its words.
    unsafe { std::ptr::copy_nonoverlapping(sp as *const u64, raw.as_mut_ptr(), raw.len()) };
    // SAFETY: as above; the ULT cannot run, and any other access now
    // faults into `on_fault`, which waits for this lock.
    let guarded = unsafe { libc::madvise(page_lo as *mut _, len, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: back to the stack's own protection; the VMA merges again.
    if unsafe { libc::mprotect(page_lo as *mut _, len, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
        crate::fatal(
            "cannot make a compacted stack writable again (mprotect failed); \
             run with WEAVE_COMPACT=0",
        );
    }
    if !guarded {
        return 0;
    }
    // Written under the lock: until the record is in the map, a fault on
    // the range would find nothing to restore.
    let Parts { map, shapes, arena } = g.parts();
    let mut n = 0;
    let shape = shapes.entry(raw.len()).or_insert_with(|| {
        let words = pack(&raw);
        n += words.len() * 8;
        Shape {
            top,
            words,
            users: 0,
        }
    });
    let code = encode(&raw, top, shape);
    let loc = if code.len() <= packed_len(&raw) * 8 {
        shape.users += 1;
        arena.put(top - sp, &Body::Against(&code))
    } else {
        arena.put(top - sp, &Body::Packed(&pack(&raw)))
    };
    n += arena.bytes(loc);
    map.insert(top, loc);
    drop(g);
    HELD.fetch_add(1, Relaxed);
    HELD_BYTES.fetch_add(n, Relaxed);
    COMPACTIONS.fetch_add(1, Relaxed);
    n
}

// ASYNC-SIGNAL-SAFE: madvise(2), a BTreeMap lookup, a decode, and
// `fatal` (write + abort).
/// Puts `rec`'s bytes back below `top`. The lock is held (`shapes` is its
/// map of shapes).
fn put_back(rec: &Record, top: usize, shapes: &BTreeMap<usize, Shape>) {
    let page_lo = rec.page_lo();
    // SAFETY: `page_lo..top` is the range `compact` guarded, ours.
    if unsafe { libc::madvise(page_lo as *mut _, top - page_lo, MADV_GUARD_REMOVE) } != 0 {
        crate::fatal("cannot remove the guard of a compacted stack (madvise failed)");
    }
    let (dst, n) = (rec.lo as *mut u64, (top - rec.lo) / 8);
    match &rec.body {
        Body::Packed(words) => {
            // SAFETY: the range is plain stack memory again, all zero
            // (zero-fill on first touch), and the record holds exactly the
            // words of `rec.lo..top`.
            unsafe { unpack(words, dst, n) }
        }
        Body::Against(code) => {
            let Some(shape) = shapes.get(&n) else {
                crate::fatal("a compacted stack's shape is gone (weave bug)");
            };
            // SAFETY: as above; `code` was written against `shape` for a
            // stack of `n` words below `top`.
            unsafe { decode(code, shape, top, dst, n) }
        }
    }
}

/// The live words of the compacted stack whose top is `top`, read from its
/// record, with the address they belong at: `(lo, words)`, the words of
/// `lo..top`. The guarded pages are not touched, so the stack stays
/// compacted (the thread dump walks a compacted ULT's frames in this
/// copy). `None` if no record covers that stack.
pub(crate) fn copy_of(top: usize) -> Option<(usize, Vec<u64>)> {
    let mut g = lock()?;
    let Parts { map, shapes, arena } = g.parts();
    let rec = arena.get(*map.get(&top)?, top);
    let n = (top - rec.lo) / 8;
    // Zeroed: `unpack` and `decode` skip the zero words.
    let mut words = vec![0u64; n];
    match &rec.body {
        // SAFETY: `words` has room for the `n` words the record holds, and
        // reads as zero.
        Body::Packed(packed) => unsafe { unpack(packed, words.as_mut_ptr(), n) },
        Body::Against(code) => {
            // A record's shape stays until the restore that frees the
            // record, which needs this lock.
            let shape = shapes.get(&n)?;
            // SAFETY: as above; `code` was written against `shape` for a
            // stack of `n` words below `top`.
            unsafe { decode(code, shape, top, words.as_mut_ptr(), n) }
        }
    }
    Some((rec.lo, words))
}

/// Bytes of the code's tag section for `n` words: two bits a word.
fn tag_bytes(n: usize) -> usize {
    n.div_ceil(4)
}

/// Deltas a code remembers: a thread's own values (its TCB, its socket,
/// its closure's captures) recur in several frames, each at the same
/// distance from the shape's word. Four cover the stacks of the socket
/// reads measured (`docs/design/compaction.md`); an index fits a byte.
const RECENT: usize = 4;
/// The tag byte of a delta not among the recent ones: a varint follows.
const NEW_DELTA: u8 = RECENT as u8;

/// Word tags (two bits each, in the code's first `tag_bytes(n)` bytes).
const SAME: u8 = 0;
/// The shape's word moved by the distance between the two stacks' tops
/// (a pointer into the stack itself).
const MOVED: u8 = 1;
const ZERO: u8 = 2;
/// A delta from the shape's word, in the byte stream after the tags.
const DELTA: u8 = 3;

/// Calls `each(i, word)` for the `n` words of a packed stack, in order.
// ASYNC-SIGNAL-SAFE: plain loads.
fn for_each_packed(packed: &[u64], n: usize, mut each: impl FnMut(usize, u64)) {
    let mut k = n.div_ceil(64);
    for i in 0..n {
        let w = if packed[i / 64] >> (i % 64) & 1 != 0 {
            k += 1;
            packed[k - 1]
        } else {
            0
        };
        each(i, w);
    }
}

/// The words of `raw` (a stack whose top is `top`) as their differences
/// from `shape`: a tag of two bits a word (the shape's word, the shape's
/// word moved by the distance between the tops, zero, or a delta), then,
/// for each delta in order, a byte naming one of the [`RECENT`] deltas
/// used last, or [`NEW_DELTA`] and the delta as a zigzag LEB128 varint.
fn encode(raw: &[u64], top: usize, shape: &Shape) -> Box<[u8]> {
    let n = raw.len();
    let mut out = vec![0u8; tag_bytes(n)];
    let mut recent = [0u64; RECENT];
    let moved = (top as u64).wrapping_sub(shape.top as u64);
    for_each_packed(&shape.words, n, |i, s| {
        let w = raw[i];
        let tag = if w == s {
            SAME
        } else if w == s.wrapping_add(moved) {
            MOVED
        } else if w == 0 {
            ZERO
        } else {
            let d = w.wrapping_sub(s);
            match recent.iter().position(|&r| r == d) {
                Some(j) => {
                    out.push(j as u8);
                    recent[..=j].rotate_right(1);
                }
                None => {
                    out.push(NEW_DELTA);
                    let mut z = d << 1 ^ ((d as i64) >> 63) as u64;
                    while z >= 0x80 {
                        out.push(z as u8 | 0x80);
                        z >>= 7;
                    }
                    out.push(z as u8);
                    recent.rotate_right(1);
                }
            }
            recent[0] = d;
            DELTA
        };
        out[i / 4] |= tag << (i % 4 * 2);
    });
    out.into_boxed_slice()
}

// ASYNC-SIGNAL-SAFE: plain loads and stores.
/// Writes the `n` words that `code` (see [`encode`]) holds against
/// `shape`, for a stack whose top is `top`, to `dst`, skipping zeros.
///
/// # Safety
///
/// `dst` is valid for `n` word writes and reads as zero already.
unsafe fn decode(code: &[u8], shape: &Shape, top: usize, dst: *mut u64, n: usize) {
    let mut recent = [0u64; RECENT];
    let mut at = tag_bytes(n);
    let moved = (top as u64).wrapping_sub(shape.top as u64);
    for_each_packed(&shape.words, n, |i, s| {
        let w = match code[i / 4] >> (i % 4 * 2) & 3 {
            SAME => s,
            MOVED => s.wrapping_add(moved),
            ZERO => 0,
            _ => {
                let b = code[at];
                at += 1;
                let d = if b == NEW_DELTA {
                    let (mut z, mut shift) = (0u64, 0);
                    loop {
                        let c = code[at];
                        at += 1;
                        z |= u64::from(c & 0x7f) << shift;
                        shift += 7;
                        if c < 0x80 {
                            break;
                        }
                    }
                    recent.rotate_right(1);
                    z >> 1 ^ (z & 1).wrapping_neg()
                } else {
                    let j = b as usize;
                    let d = recent[j];
                    recent[..=j].rotate_right(1);
                    d
                };
                recent[0] = d;
                s.wrapping_add(d)
            }
        };
        if w != 0 {
            // SAFETY: `i < n` (the caller's guarantee for `dst`).
            unsafe { dst.add(i).write(w) };
        }
    });
}

/// Words [`pack`] would make of `raw`.
fn packed_len(raw: &[u64]) -> usize {
    raw.len().div_ceil(64) + raw.iter().filter(|&&w| w != 0).count()
}

/// The words `raw` without their zero words: a bitmap (a bit per word, set
/// for a non-zero one), then the non-zero words in order. About 30% of a
/// parked stack's live words are zero.
fn pack(raw: &[u64]) -> Box<[u64]> {
    let map = raw.len().div_ceil(64);
    let mut out = vec![0u64; packed_len(raw)].into_boxed_slice();
    let mut k = map;
    for (i, &w) in raw.iter().enumerate() {
        if w != 0 {
            out[i / 64] |= 1 << (i % 64);
            out[k] = w;
            k += 1;
        }
    }
    out
}

// ASYNC-SIGNAL-SAFE: plain loads and stores.
/// Writes the `n` words `packed` holds (see [`pack`]) to `dst`, skipping
/// the zero ones.
///
/// # Safety
///
/// `dst` is valid for `n` word writes and reads as zero already.
unsafe fn unpack(packed: &[u64], dst: *mut u64, n: usize) {
    let mut k = n.div_ceil(64);
    for i in 0..n {
        if packed[i / 64] >> (i % 64) & 1 != 0 {
            // SAFETY: `i < n` (the caller's guarantee for `dst`).
            unsafe { dst.add(i).write(packed[k]) };
            k += 1;
        }
    }
}

/// Before a ULT runs: puts back its stack, whose top is `top`, if it is
/// compacted, and frees the record. Returns whether there was one.
///
/// # Safety
///
/// The stack is that of a ULT which the caller, its home LWP, is about to
/// resume: it cannot run until this returns.
pub(crate) unsafe fn restore(top: usize) -> bool {
    let t = std::time::Instant::now();
    let (freed, shape, arena) = {
        let Some(mut g) = lock() else {
            crate::fatal("an LWP restoring a stack already held the compaction lock");
        };
        let Parts { map, shapes, arena } = g.parts();
        let Some(loc) = map.remove(&top) else {
            return false;
        };
        let rec = arena.get(loc, top);
        if !rec.restored {
            put_back(&rec, top, shapes);
        }
        // The last record written against its shape takes the shape along.
        let mut shape = None;
        if let Body::Against(_) = rec.body {
            let n = (top - rec.lo) / 8;
            if let Some(s) = shapes.get_mut(&n) {
                s.users -= 1;
                if s.users == 0 {
                    shape = shapes.remove(&n);
                }
            }
        }
        let freed = arena.bytes(loc);
        arena.free(loc);
        // The last record takes the chunks along (freed below, unlocked).
        let emptied = map
            .is_empty()
            .then(|| std::mem::replace(arena, Arena::new()));
        (freed, shape, emptied)
    };
    HELD.fetch_sub(1, Relaxed);
    let freed = freed + shape.as_ref().map_or(0, |s| s.words.len() * 8);
    HELD_BYTES.fetch_sub(freed, Relaxed);
    // Freed after the lock: the fault handler never waits on a free.
    drop((shape, arena));
    RESTORES.fetch_add(1, Relaxed);
    RESTORE_NS.fetch_add(t.elapsed().as_nanos() as usize, Relaxed);
    true
}

// ASYNC-SIGNAL-SAFE: the lock, BTreeMap lookups (no allocation),
// `put_back`, const thread-locals.
/// From the SIGSEGV/SIGBUS handler: a fault at `addr`. Returns true when
/// the faulting access may simply run again: `addr` lay in a compacted
/// stack (now put back), or in one that no record covers any more (put
/// back between the fault and this look: retried once per address).
pub(crate) fn on_fault(addr: usize) -> bool {
    // SeqCst pairs with the store in `compact`, made before any guard.
    if !EVER.load(SeqCst) {
        return false;
    }
    let Some(mut g) = lock() else {
        return false;
    };
    let Parts { map, shapes, arena } = g.parts();
    let found = match map.range(addr + 1..).next() {
        Some((&top, &loc)) if addr >= arena.get(loc, top).page_lo() => {
            if !arena.get(loc, top).restored {
                put_back(&arena.get(loc, top), top, shapes);
                arena.set_restored(loc);
                FAULT_RESTORES.fetch_add(1, Relaxed);
            }
            true
        }
        _ => false,
    };
    drop(g);
    RETRIED.with(|r| {
        if found {
            r.set(0);
            true
        } else if r.get() == addr {
            r.set(0);
            false
        } else {
            r.set(addr);
            true
        }
    })
}

/// Figures for `StackStats`: records held, bytes they hold, compactions
/// so far, restores made by other threads' faults, restores made at
/// switch-in and the nanoseconds they took, compactions held back for a
/// scope and for threads weave did not start.
pub(crate) fn figures() -> [usize; 8] {
    [
        HELD.load(Relaxed),
        HELD_BYTES.load(Relaxed),
        COMPACTIONS.load(Relaxed),
        FAULT_RESTORES.load(Relaxed),
        RESTORES.load(Relaxed),
        RESTORE_NS.load(Relaxed),
        HELD_FOR_SCOPES.load(Relaxed),
        HELD_FOR_THREADS.load(Relaxed),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that compact into the process's one registry run one at
    /// a time: a record another test frees meanwhile goes on the same free
    /// lists, and would take the block a test expects back.
    fn registry_to_myself() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A private mapping standing in for a stack: `pages` pages.
    fn scratch(pages: usize) -> usize {
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p as usize
    }

    #[test]
    fn compact_then_restore_gives_back_the_same_bytes() {
        if compaction_support().is_err() {
            return;
        }
        let _serial = registry_to_myself();
        let base = scratch(4);
        let top = base + 4 * PAGE;
        let sp = top - PAGE - 200;
        for a in sp..top {
            // SAFETY: inside the scratch mapping.
            unsafe { *(a as *mut u8) = a as u8 };
        }
        // SAFETY: nothing runs on the scratch "stack".
        let kept = unsafe { compact(sp, top) };
        // Every word non-zero but a few, and the first stack of its length:
        // the words and their bitmap (its shape), and two bits a word (its
        // code against its shape) in a block with a header word, rounded
        // up to 16 bytes.
        let words = (top - sp) / 8;
        let bitmap = words.div_ceil(64) * 8;
        assert!(
            kept > 0 && kept <= top - sp + bitmap + tag_bytes(words) + 16,
            "{kept} bytes kept"
        );
        let mut resident = [0u8; 2];
        // SAFETY: `resident` has a byte per page of the range.
        unsafe { libc::mincore((top - 2 * PAGE) as *mut _, 2 * PAGE, resident.as_mut_ptr()) };
        assert_eq!(resident, [0, 0], "the compacted pages are released");
        // SAFETY: as above.
        assert!(unsafe { restore(top) });
        for a in sp..top {
            // SAFETY: put back, readable.
            assert_eq!(unsafe { *(a as *const u8) }, a as u8);
        }
        // SAFETY: as above; nothing is compacted any more.
        assert!(!unsafe { restore(top) });
    }

    #[test]
    fn pack_keeps_only_non_zero_words_and_unpack_puts_them_back() {
        let raw: Vec<u64> = (0..150u64)
            .map(|i| if i % 3 == 0 { 0 } else { i << 40 | i })
            .collect();
        let packed = pack(&raw);
        assert_eq!(
            packed.len(),
            3 + 100,
            "a 3-word bitmap and the 100 non-zero words"
        );
        let mut back = vec![0u64; raw.len()];
        // SAFETY: `back` has room for every word and is all zero.
        unsafe { unpack(&packed, back.as_mut_ptr(), raw.len()) };
        assert_eq!(back, raw);
    }

    #[test]
    fn a_range_already_compacted_is_not_compacted_twice() {
        if compaction_support().is_err() {
            return;
        }
        let _serial = registry_to_myself();
        let base = scratch(2);
        let top = base + 2 * PAGE;
        // SAFETY: nothing runs on the scratch "stack".
        unsafe {
            assert!(compact(top - 64, top) > 0);
            assert_eq!(compact(top - 64, top), 0);
            assert!(restore(top));
        }
    }

    /// A stack of `n` words below `top` as a ULT parked in a socket read
    /// leaves it: return addresses and constants (the same in every such
    /// stack), pointers into the stack itself (`top` less a fixed
    /// offset), zeros, and a few values of its own (`own`: its TCB, its
    /// socket), each in several frames.
    fn parked_like(n: usize, top: usize, own: [u64; 2]) -> Vec<u64> {
        (0..n)
            .map(|i| match i % 7 {
                0 => 0x5555_0000_1000 + i as u64,
                1 => (top - 64 * (n - i)) as u64,
                2 => 0,
                3 => own[0],
                4 => own[1] + 8 * (i as u64 % 3),
                5 => 1 << (i % 40),
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn a_stack_encoded_against_another_of_its_shape_decodes_to_its_words() {
        let n = 203;
        let (top_a, top_b) = (0x7f00_0010_0000, 0x7f00_3450_0000);
        let a = parked_like(n, top_a, [0x7f00_9000_0110, 0x5555_8000_0000]);
        let b = parked_like(n, top_b, [0x7f00_9000_f330, 0x5555_7fff_e0c0]);
        let shape = Shape {
            top: top_a,
            words: pack(&a),
            users: 1,
        };
        let code = encode(&b, top_b, &shape);
        // Two bits a word, then one byte per own value after the first
        // time each is seen (the first two with their varints).
        assert!(
            code.len() < tag_bytes(n) + 2 * n / 7 + 16,
            "{} bytes for {n} words",
            code.len()
        );
        let mut back = vec![0u64; n];
        // SAFETY: `back` has room for `n` words, all zero.
        unsafe { decode(&code, &shape, top_b, back.as_mut_ptr(), n) };
        assert_eq!(back, b);
    }

    #[test]
    fn a_stack_unlike_its_shape_decodes_to_its_words() {
        let n = 77;
        let shape_words: Vec<u64> = (0..n as u64).map(|i| i * 0x1_0000_0001).collect();
        let raw: Vec<u64> = (0..n as u64)
            .map(|i| match i % 4 {
                0 => u64::MAX - i,
                1 => 0,
                2 => i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                _ => i * 0x1_0000_0001 - 5,
            })
            .collect();
        let shape = Shape {
            top: 0x1000,
            words: pack(&shape_words),
            users: 1,
        };
        let code = encode(&raw, 0x9000, &shape);
        let mut back = vec![0u64; n];
        // SAFETY: `back` has room for `n` words, all zero.
        unsafe { decode(&code, &shape, 0x9000, back.as_mut_ptr(), n) };
        assert_eq!(back, raw);
    }

    #[test]
    fn a_shape_stays_while_a_stack_written_against_it_is_compacted() {
        if compaction_support().is_err() {
            return;
        }
        let _serial = registry_to_myself();
        // 1,000 live bytes.
        let (a, b) = (scratch(2) + 2 * PAGE, scratch(2) + 2 * PAGE);
        let n = 125;
        let fill = |top: usize, own: u64| {
            for (i, w) in parked_like(n, top, [own, own + 0x40]).iter().enumerate() {
                // SAFETY: inside the scratch mapping.
                unsafe { ((top - 8 * n) as *mut u64).add(i).write(*w) };
            }
        };
        fill(a, 0x7f00_0000_1000);
        fill(b, 0x7f00_0000_2220);
        let shapes = || lock().unwrap().parts().shapes.contains_key(&n);
        // SAFETY: nothing runs on the scratch "stacks".
        unsafe {
            let kept_a = compact(a - 8 * n, a);
            let kept_b = compact(b - 8 * n, b);
            assert!(kept_b < kept_a / 4, "{kept_b} bytes kept against {kept_a}");
            assert!(restore(a));
            assert!(shapes(), "the shape went with its first stack");
            assert!(restore(b));
        }
        assert!(!shapes(), "the shape outlived its last stack");
        for (top, own) in [(a, 0x7f00_0000_1000), (b, 0x7f00_0000_2220)] {
            let want = parked_like(n, top, [own, own + 0x40]);
            for (i, w) in want.iter().enumerate() {
                // SAFETY: put back, readable.
                assert_eq!(unsafe { ((top - 8 * n) as *const u64).add(i).read() }, *w);
            }
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_the_next_record_of_its_size() {
        let mut arena = Arena::new();
        let code = [7u8; 40];
        let a = arena.put(4000, &Body::Against(&code));
        let b = arena.put(4000, &Body::Against(&[1u8; 90]));
        arena.free(a);
        let c = arena.put(2000, &Body::Against(&[9u8; 33]));
        assert_eq!(c, a, "a 33-byte code takes the 40-byte one's block");
        let r = arena.get(c, 0x10_0000);
        assert_eq!(r.lo, 0x10_0000 - 2000);
        assert!(matches!(r.body, Body::Against(bytes) if bytes == [9u8; 33]));
        assert!(matches!(arena.get(b, 0x10_0000).body, Body::Against(bytes) if bytes == [1u8; 90]));
    }

    #[test]
    fn a_record_larger_than_a_chunk_gets_a_chunk_of_its_own() {
        let mut arena = Arena::new();
        let small = arena.put(64, &Body::Packed(&[1, 2, 3]));
        let words: Vec<u64> = (1..=CHUNK_WORDS as u64 + 5).collect();
        let big = arena.put(8 * words.len(), &Body::Packed(&words));
        assert_ne!(big.chunk, small.chunk);
        let after = arena.put(64, &Body::Packed(&[4, 5]));
        assert!(matches!(arena.get(big, 1 << 40).body, Body::Packed(w) if w == &words[..]));
        assert!(matches!(arena.get(small, 1 << 40).body, Body::Packed(w) if w == [1, 2, 3]));
        assert!(matches!(arena.get(after, 1 << 40).body, Body::Packed(w) if w == [4, 5]));
    }

    #[test]
    fn a_stack_compacted_after_another_resumed_takes_its_block() {
        if compaction_support().is_err() {
            return;
        }
        let _serial = registry_to_myself();
        // A record kept throughout, so that the arena is not given back
        // between the two.
        let keep = scratch(1) + PAGE;
        let (a, b) = (scratch(1) + PAGE, scratch(1) + PAGE);
        let n = 251;
        for top in [a, b] {
            for i in 0..n {
                // SAFETY: inside the scratch mapping.
                unsafe { ((top - 8 * n) as *mut u64).add(i).write(i as u64 * 3 + 1) };
            }
        }
        let loc = |top| lock().unwrap().parts().map.get(&top).copied();
        // SAFETY: nothing runs on the scratch "stacks".
        unsafe {
            assert!(compact(keep - 64, keep) > 0);
            assert!(compact(a - 8 * n, a) > 0);
            let was = loc(a).unwrap();
            assert!(restore(a));
            assert!(compact(b - 8 * n, b) > 0);
            assert_eq!(
                loc(b),
                Some(was),
                "the resumed stack's block was not reused"
            );
            assert!(restore(b));
            assert!(restore(keep));
        }
        for i in 0..n {
            // SAFETY: put back, readable.
            let w = unsafe { ((b - 8 * n) as *const u64).add(i).read() };
            assert_eq!(w, i as u64 * 3 + 1);
        }
    }
}

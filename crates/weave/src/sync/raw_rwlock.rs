//! The reader-writer lock word under [`RwLock`](super::RwLock): a state
//! word, a count of waiting writers, and two wait queues. Unlocking never
//! blocks (it may run while a panic unwinds, where a switch would let
//! other ULTs on the LWP see `std::thread::panicking()`).
//!
//! | word / bit          | meaning                                  | changed by |
//! |---------------------|------------------------------------------|------------|
//! | `state & WRITER`    | a writer holds the lock                  | a writer's CAS `0 -> WRITER` (or `QUEUED -> QUEUED \| WRITER`); its unlock |
//! | `state & QUEUED`    | a thread may be queued in either queue: the unlock that frees the lock must serve them (it may be set with nobody queued: that costs one slow unlock) | a waiter, under its queue lock, in one CAS with its look at the word | only a writer's unlock that finds both queues empty under both queue locks (step 0) |
//! | `state / READER`    | readers holding the lock                 | a reader's CAS (only while no writer holds or waits); its unlock |
//! | `writers_waiting`   | writers inside `write` that do not hold it yet | the writer, on entry and once it holds the lock |
//!
//! **Phases, so that neither side starves.** A reader does not enter
//! while `writers_waiting` is non-zero, so a stream of readers cannot
//! starve a writer. A writer's unlock hands the lock to **every reader
//! queued at that moment** (step 1), so a stream of writers cannot starve
//! readers either: readers and writers alternate in phases, as Go's
//! `RWMutex` and Java's fair `ReentrantReadWriteLock` do. Among writers,
//! priority order is bounded by age with hand-off: a writer that has
//! starved is handed the lock by the unlock that ends the phase before it
//! (steps 1 and 2), so no barging writer keeps it out. Each side waits at
//! most one phase of the other. (A thread that holds a read lock and asks
//! for another may still deadlock behind a waiting writer, as std warns.)
//!
//! **Reader preference on request.** `read_preferring` (glibc's
//! `PTHREAD_RWLOCK_PREFER_READER_NP`, the C layer's default) skips the
//! writer gate: such a reader gets in whenever no writer *holds* the lock,
//! even while writers wait, and blocks only on `state & WRITER`. A stream
//! of such readers can starve writers; that is what the caller asked for.
//! It is woken as any reader is: a writer holds the lock while it waits,
//! and that writer's unlock reaches step 1a (or its 1b wakes the readers),
//! so it waits at most one writer phase longer than it needs to (when it
//! queued between 1a and 1b's store).
//!
//! ## Who wakes whom, and why nobody sleeps forever
//!
//! 0. **Nobody queued: one CAS each way.** A waiter sets `QUEUED` under
//!    its queue lock, in the same CAS that finds the lock still held (or,
//!    for a reader, gated), before it links its node and blocks
//!    (`queue_unless`). An unlock that finds `QUEUED` clear frees the word
//!    with one CAS (`WRITER -> 0`, or the last reader's `READER -> 0`) and
//!    touches the lock no more; a waiter's CAS then either comes first
//!    (the unlock's CAS fails and it takes the slow path below) or finds
//!    the lock free and does not block. The slow paths keep `QUEUED` set
//!    whenever they free the word or hand it on, so the next holder's
//!    unlock goes through the queue locks too (what "nothing after the
//!    word goes free" below rests on). The bit is cleared in one place,
//!    as the mutex does it: a writer's unlock that finds both queues empty
//!    under both queue locks (1c) stores `WRITER` (still its own, the bit
//!    clear), releases the locks, then retries its step-0 CAS; a waiter
//!    that queued in between set the bit again, so that CAS fails and the
//!    unlock serves the queues once more.
//!
//! Both waits go through `RawCondvar::wait_unless_done`: the waiter checks
//! its blocking condition under the queue lock before queueing, and every
//! waker changes the words *before* it notifies, so a wake-up that happens
//! between a waiter's check and its block is impossible (proof in
//! `raw_condvar.rs`).
//!
//! 1. A **writer unlock** makes two choices, each under one queue lock,
//!    taken one after the other (never nested):
//!    - (a) under the readers' queue lock, if readers are queued it pops
//!      them all with `HANDED` and stores `state = n * READER | QUEUED` before it
//!      lets go of that lock: the word never passes through 0, so no
//!      writer barges in, and each popped reader owns one count. Queued
//!      writers keep waiting; the last of those readers wakes one (2);
//!    - (b) else, under the writers' queue lock, it picks the next writer
//!      (priority bounded by age, as the mutex: queue.rs). If that
//!      writer is overdue or has waited past `STARVE_NS` since it first
//!      queued, the lock is **handed** to it: `state` stays `WRITER` and
//!      the writer, popped with `HANDED`, owns it. Otherwise it stores
//!      `state = QUEUED` (free) and wakes that writer to retry. A reader that
//!      queued after (a) looked waits for `writers_waiting`, which counts
//!      that queued writer: its unlock comes back here and lets the
//!      reader in at (a). A woken writer that loses the retry queues
//!      again at the front of its class with its first arrival time.
//!    - (c) with no writer queued, still under the writers' queue lock it
//!      takes the readers' (the one nesting; nothing nests them the other
//!      way) and hands the lock to the readers queued since (a) looked,
//!      as (a) does, or, if there are none, stores `WRITER` and frees
//!      the word after both locks are released (step 0).
//! 2. A **read unlock** that would take the reader count to zero with
//!    `QUEUED` set takes the writers' queue lock first and decrements there (a CAS leaves
//!    the other readers' unlocks lock-free); if the count reached zero, it
//!    picks a queued writer the same way (with none, and no reader
//!    queued either, it clears `QUEUED` as 1c does: step 0). A starving one is handed the
//!    lock if the word is still free (a CAS `QUEUED -> QUEUED | WRITER` on its behalf;
//!    a barger that got in within that window leaves it to retry, and the
//!    barger's unlock comes back to step 1); any other is woken to retry.
//!
//! **Nothing after the word goes free.** POSIX lets the next holder
//! destroy and free the lock as soon as it has unlocked it, while the
//! unlock that freed the lock for it may still be running. A step-0
//! unlock frees the word with its last access. Every other store that
//! frees the word (1b, 2) happens under the writers' queue lock and
//! keeps `QUEUED` set, and the release of that lock is all the unlocker
//! does to the lock afterwards: whoever takes the lock once it is free
//! finds `QUEUED` and unlocks through the same locks (a writer's unlock
//! takes both, the last reader's the writers'), so it, and a destroy
//! after it, come after that release; 1c frees it only with step 0's
//! final CAS, after its locks are released. (Handed on, to readers in 1a or to a writer,
//! the lock is not free: its new holders leave through the queue locks
//! too.) Waking the popped waiters touches only them. Under loom the
//! models that destroy the lock (`free`) check this.
//! 3. `writers_waiting` falls only when a writer holds the lock, so a
//!    reader blocked on it is released by that writer's unlock (step 1).
//!
//! 4. A **downgrade** turns `WRITER` into one `READER` (never 0, so no writer gets
//!    in between) and then wakes the readers.
//!
//! 5. A **timed writer that gives up** (`write_until`) takes itself out
//!    of `writers_waiting` and wakes every queued reader to look again:
//!    readers may be queued behind its count (3), waiting for an unlock
//!    of its that will never come. It owes the other writers nothing: a
//!    writer woken to retry (1b, 2) always retries before it looks at
//!    its deadline, and a retry that fails means another thread holds the
//!    lock, whose unlock wakes the next writer. A timed reader that gives
//!    up owes nothing either: readers are only ever woken all at once.
//!    Either kind keeps a hand-off that raced its timeout (the unlink
//!    finds the node `HANDED`: the lock, or its read count, is already
//!    its own).
//!
//! Neither unlock decides from `writers_waiting`: an unlocker reading that
//! count while a writer increments it and reads `state` is a store-buffer
//! (Dekker) race in which each can miss the other's write, and the writer
//! sleeps with nobody to wake it (loom found exactly this). The writers'
//! queue lock closes it: a writer checks `state` under that lock, and
//! every unlocker stores `state` before it takes that lock.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::block::{self, BlockReason};
use super::queue::{Choice, Node};
use super::raw_condvar::{RawCondvar, NOTIFIED};
use super::raw_mutex::STARVE_NS;
use crate::loom::AtomicUsize;
use std::time::Instant;

const WRITER: usize = 1;
const QUEUED: usize = 2;
const READER: usize = 4;

/// Node result, in either queue: the unlocker handed the lock over (the
/// write lock to a writer; one read count, already in `state`, to a
/// reader).
const HANDED: u32 = 2;

pub(crate) struct RawRwLock {
    state: AtomicUsize,
    writers_waiting: AtomicUsize,
    readers: RawCondvar,
    writers: RawCondvar,
    /// Under loom: the starvation bound, so a model can force hand-off
    /// (0) or forbid it (`u64::MAX`).
    #[cfg(loom)]
    starve_ns: u64,
}

impl RawRwLock {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> RawRwLock {
        RawRwLock {
            state: AtomicUsize::new(0),
            writers_waiting: AtomicUsize::new(0),
            readers: RawCondvar::new(),
            writers: RawCondvar::new(),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> RawRwLock {
        Self::with_starve_ns(u64::MAX)
    }

    #[cfg(loom)]
    pub(crate) fn with_starve_ns(starve_ns: u64) -> RawRwLock {
        RawRwLock {
            state: AtomicUsize::new(0),
            writers_waiting: AtomicUsize::new(0),
            readers: RawCondvar::new(),
            writers: RawCondvar::new(),
            starve_ns,
        }
    }

    /// The starvation bound: [`STARVE_NS`], or the model's under loom.
    #[inline]
    fn starve_limit(&self) -> u64 {
        #[cfg(loom)]
        let limit = self.starve_ns;
        #[cfg(not(loom))]
        let limit = STARVE_NS;
        limit
    }

    /// Whether the writer `c` has waited past the starvation bound, or was
    /// picked over a higher priority by age.
    #[inline]
    fn starving(&self, c: &Choice, now: u64) -> bool {
        c.overdue || now.saturating_sub(c.since) >= self.starve_limit()
    }

    /// Takes a read lock if no writer holds or waits for the lock.
    #[inline]
    pub(crate) fn try_read(&self) -> bool {
        let mut cur = self.state().load(Relaxed);
        loop {
            // Relaxed: the writer gate is a preference, not what excludes
            // (the CAS on `state` is).
            if cur & WRITER != 0 || self.writers_waiting.load(Relaxed) != 0 {
                return false;
            }
            let new = cur.checked_add(READER).expect("RwLock: too many readers");
            // Acquire pairs with the Release store of the last
            // writer's unlock: we see what it wrote.
            match self
                .state()
                .compare_exchange_weak(cur, new, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes a read lock if no writer holds it, writers waiting or not
    /// (reader preference, module doc).
    #[inline]
    pub(crate) fn try_read_preferring(&self) -> bool {
        let mut cur = self.state().load(Relaxed);
        loop {
            if cur & WRITER != 0 {
                return false;
            }
            let new = cur.checked_add(READER).expect("RwLock: too many readers");
            // Acquire: as in `try_read`.
            match self
                .state()
                .compare_exchange_weak(cur, new, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    #[inline]
    pub(crate) fn read(&self) {
        if !self.try_read() {
            self.read_slow(false, None);
        }
    }

    /// Blocks until no writer holds the lock, then takes a read lock
    /// (reader preference, module doc).
    #[inline]
    pub(crate) fn read_preferring(&self) {
        if !self.try_read_preferring() {
            self.read_slow(true, None);
        }
    }

    /// As [`read`](Self::read) (or [`read_preferring`](Self::read_preferring)
    /// if `preferring`), giving up at `deadline`; true if the read lock was
    /// taken. A reader that gives up leaves nothing to pass on: readers
    /// are woken all together (steps 1 and 4), never one on another's
    /// behalf, and a hand-off that raced the timeout is kept (step 1a's
    /// count is ours once the unlink finds the node `HANDED`).
    pub(crate) fn read_until(&self, preferring: bool, deadline: Instant) -> bool {
        let fast = if preferring {
            self.try_read_preferring()
        } else {
            self.try_read()
        };
        fast || self.read_slow(preferring, Some(deadline))
    }

    #[cold]
    fn read_slow(&self, preferring: bool, deadline: Option<Instant>) -> bool {
        let me = block::me();
        let try_read = || {
            if preferring {
                self.try_read_preferring()
            } else {
                self.try_read()
            }
        };
        while !try_read() {
            if deadline.is_some_and(block::expired) {
                return false;
            }
            let node = Node::new(me.priority, me.id, 0);
            let result =
                self.readers
                    .wait_node(BlockReason::RwLock, deadline, &node, false, |_| {
                        // Under the readers' queue lock (protocol steps 0,
                        // 1, 3); a preferring reader waits only for a
                        // holding writer.
                        self.queue_unless(|s| {
                            s & WRITER == 0
                                && (preferring || self.writers_waiting.load(Relaxed) == 0)
                        })
                    });
            if result == HANDED {
                // Step 1a: a writer's unlock counted us in `state` and
                // popped us under the queue lock we took to unlink: what
                // it wrote is visible to us through that lock.
                return true;
            }
        }
        true
    }

    pub(crate) fn read_unlock(&self) {
        let mut cur = self.state().load(Relaxed);
        loop {
            debug_assert!(
                cur >= READER && cur & WRITER == 0,
                "read unlock without a read lock"
            );
            if cur == READER | QUEUED {
                if self.read_unlock_queued() {
                    return;
                }
                cur = self.state().load(Relaxed);
                continue;
            }
            // Other readers stay, or nobody is queued (step 0): this CAS
            // is our last access of the lock. Release pairs with the next
            // writer's Acquire CAS: it sees that we are done reading.
            match self
                .state()
                .compare_exchange_weak(cur, cur - READER, Release, Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Step 2: the last reader, as far as we can tell, with `QUEUED` set.
    /// The count falls under the writers' queue lock, whose release is
    /// then our last access: a writer that takes the lock when it goes
    /// free finds `QUEUED` and unlocks through that queue lock too, so it
    /// (and whoever destroys the lock after it) comes after us. The
    /// writer is chosen by priority bounded by age; a starving one is
    /// handed the lock if the word is still free. With no writer queued
    /// and no reader either (the readers' queue lock nested inside, the
    /// one order that nests them), step 0's exit: our read count stays,
    /// `QUEUED` goes, and false tells the caller to free the word with
    /// its CAS once the locks are released.
    #[cold]
    fn read_unlock_queued(&self) -> bool {
        let limit = self.starve_limit();
        let mut served = true;
        let writer = self.writers.with_locked(|w| {
            let now = block::now_ns();
            let Some(c) = w.choose(now, limit) else {
                self.readers.with_locked(|r| {
                    // A CAS, not a store: a reader's fast path may add its
                    // count meanwhile. Relaxed: the count stays ours; the
                    // caller's CAS releases.
                    let cleared = r.is_empty()
                        && self
                            .state()
                            .compare_exchange(READER | QUEUED, READER, Relaxed, Relaxed)
                            .is_ok();
                    if cleared {
                        served = false;
                    } else {
                        // Release: as in `read_unlock`.
                        self.state().fetch_sub(READER, Release);
                    }
                });
                return None;
            };
            // Release: as in `read_unlock`. `QUEUED` stays set (step 0).
            let left = self.state().fetch_sub(READER, Release) - READER;
            if left & !QUEUED != 0 {
                return None; // a reader came in meanwhile: not the last
            }
            // Acquire, on the writer's behalf, pairs with the Release of
            // every earlier unlock (ours included); the writer, popped
            // under this queue lock, sees it all through that lock.
            let handed = self.starving(&c, now)
                && self
                    .state()
                    .compare_exchange(left, left | WRITER, Acquire, Relaxed)
                    .is_ok();
            Some(w.pop_choice(c, if handed { HANDED } else { NOTIFIED }, now))
        });
        // Woken after the lock is released (queue.rs).
        if let Some(p) = writer {
            p.waiter.wake();
        }
        served
    }

    /// Takes the write lock if nobody holds the lock.
    #[inline]
    pub(crate) fn try_write(&self) -> bool {
        // Acquire pairs with the Release of the previous holder's unlock.
        match self.state().compare_exchange(0, WRITER, Acquire, Relaxed) {
            Ok(_) => true,
            Err(QUEUED) => self.try_write_queued(),
            Err(_) => false,
        }
    }

    /// `try_write` on a free word that has `QUEUED` set: the CAS keeps
    /// the bit, so our unlock takes the slow path and serves the queues.
    #[cold]
    fn try_write_queued(&self) -> bool {
        // Acquire: as in `try_write`.
        self.state()
            .compare_exchange(QUEUED, QUEUED | WRITER, Acquire, Relaxed)
            .is_ok()
    }

    #[inline]
    pub(crate) fn write(&self) {
        if !self.try_write() {
            self.write_slow(None);
        }
    }

    /// As [`write`](Self::write), giving up at `deadline`; true if the
    /// write lock was taken (step 5 of the module doc: what a writer that
    /// gives up owes the others).
    pub(crate) fn write_until(&self, deadline: Instant) -> bool {
        self.try_write() || self.write_slow(Some(deadline))
    }

    #[cold]
    fn write_slow(&self, deadline: Option<Instant>) -> bool {
        // Relaxed: readers read it as a gate under their queue lock, after
        // the unlock that matters took that lock (step 3), or as a
        // preference on their fast path.
        self.writers_waiting.fetch_add(1, Relaxed);
        let me = block::me();
        // When we first queued: a writer unlock hands the lock to a writer
        // that has waited past the bound (step 1).
        let mut since: Option<u64> = None;
        while !self.try_write() {
            if deadline.is_some_and(block::expired) {
                self.give_up_writing();
                return false;
            }
            let requeue = since.is_some();
            let node = Node::new(me.priority, me.id, *since.get_or_insert_with(block::now_ns));
            let result =
                self.writers
                    .wait_node(BlockReason::RwLock, deadline, &node, requeue, |_| {
                        // Under the writers' queue lock (steps 0, 1, 2).
                        self.queue_unless(|s| s & !QUEUED == 0)
                    });
            if result == HANDED {
                // The unlocker kept `state == WRITER` for us and popped us
                // under the queue lock we took to unlink: what it wrote
                // is visible to us through that lock.
                break;
            }
        }
        // Relaxed: we hold the lock, readers are shut out by WRITER, and
        // our own unlock reads this after it (same thread).
        self.writers_waiting.fetch_sub(1, Relaxed);
        true
    }

    /// Step 5: a timed writer leaves without the lock. It no longer
    /// counts in `writers_waiting`, so readers that queued behind it
    /// (gated by the count, step 3) would wait for an unlock of ours that
    /// never comes: wake them to look again (one that still finds a writer
    /// holding or waiting queues again).
    #[cold]
    fn give_up_writing(&self) {
        // Relaxed: the readers read the count under their queue lock,
        // which the `notify_all` below takes after this decrement.
        self.writers_waiting.fetch_sub(1, Relaxed);
        self.readers.notify_all();
    }

    pub(crate) fn write_unlock(&self) {
        // Step 0: nobody queued, one CAS, our last access. Release pairs
        // with the next locker's Acquire CAS.
        while self
            .state()
            .compare_exchange(WRITER, 0, Release, Relaxed)
            .is_err()
        {
            if self.write_unlock_queued() {
                return;
            }
        }
    }

    /// Step 1, with `QUEUED` set: serves the queues under their locks.
    /// True if the lock went to readers, to a writer, or free with
    /// `QUEUED` kept; false if both queues were empty, in which case the
    /// word was left `WRITER` (ours still, `QUEUED` cleared) for the
    /// caller's CAS to free once the locks are released.
    #[cold]
    fn write_unlock_queued(&self) -> bool {
        // Not a debug assertion: with the word in any other state the
        // caller's loop would never end.
        assert_eq!(
            self.state().load(Relaxed),
            WRITER | QUEUED,
            "write unlock without the write lock"
        );
        // Step 1a: the readers' phase. The store happens under the
        // readers' queue lock, before any of them is woken; Release pairs
        // with the Acquire CAS of a writer that later finds the word free.
        // While we hold `WRITER` only `QUEUED` can change, and it is set:
        // a plain store loses nothing.
        let handed_readers = self.readers.notify_all_as(HANDED, |n| {
            if n > 0 {
                self.state().store((n * READER) | QUEUED, Release);
            }
        });
        if handed_readers > 0 {
            return true;
        }
        // Step 1b, decided under the writers' queue lock: hand over to a
        // starving writer (the word never passes through 0, so nobody
        // barges in), or free the word and wake one writer to retry, or,
        // with no writer queued, let in the readers queued since (a) looked
        // (1c). Release pairs with the next locker's Acquire CAS; every
        // store happens before its notify.
        let limit = self.starve_limit();
        let mut readers = Vec::new();
        let writer = self.writers.with_locked(|w| {
            let now = block::now_ns();
            match w.choose(now, limit) {
                Some(c) => {
                    let result = if self.starving(&c, now) {
                        HANDED
                    } else {
                        self.state().store(QUEUED, Release);
                        NOTIFIED
                    };
                    Some(w.pop_choice(c, result, now))
                }
                // 1c, still under the writers' queue lock (the one nesting:
                // nothing takes the readers' lock and then the writers'),
                // so that the word goes free under both, and the releases
                // of the two locks (the readers' first) are all that
                // follows: a thread that takes the lock once it is free
                // unlocks through them (a writer through both, the last
                // reader through the writers', since `QUEUED` stays set),
                // and so comes after us, as does whoever destroys the lock
                // after it. A writer that queues meanwhile waits for the
                // writers' lock and then sees the readers, or the free
                // word. With both queues empty, step 0's exit: the word
                // stays ours, without `QUEUED`.
                None => {
                    self.readers.with_locked(|r| {
                        while let Some(p) = r.pop(HANDED) {
                            readers.push(p.waiter);
                        }
                        let held = if readers.is_empty() {
                            WRITER
                        } else {
                            (readers.len() * READER) | QUEUED
                        };
                        self.state().store(held, Release);
                    });
                    None
                }
            }
        });
        // Woken after both locks are released (queue.rs).
        let served = writer.is_some() || !readers.is_empty();
        if let Some(p) = writer {
            p.waiter.wake();
        }
        for r in readers {
            r.wake();
        }
        served
    }

    /// Under a queue lock, before a waiter blocks: sets `QUEUED` unless
    /// `free(state)` says the waiter may go in, in one atomic step with
    /// that look (step 0). True if the waiter should block.
    fn queue_unless(&self, free: impl Fn(usize) -> bool) -> bool {
        // Acquire (the load, and the CAS's failure): a step-0 unlock takes
        // no queue lock, so what a reader's `free` reads besides the word
        // (`writers_waiting`, which the writer lowered before its unlock)
        // is ordered only through the word: reading the unlock's Release
        // CAS, the reader sees the count it left. (Loom found the reader
        // asleep behind a writer that had gone: a stale count, read
        // Relaxed.)
        let mut cur = self.state().load(Acquire);
        loop {
            if free(cur) {
                return false;
            }
            if cur & QUEUED != 0 {
                return true;
            }
            // Acquire on success too, and `free` asked again after it: the
            // CAS can succeed on a word that went back to the value we
            // read (a writer that came, took the lock and left by step 0
            // meanwhile), and the count we read before it may predate that
            // writer's; reading the word's latest value, the CAS makes the
            // count it left visible. (Loom found this too.) Set and still
            // free, the bit only costs one slow unlock.
            match self
                .state()
                .compare_exchange_weak(cur, cur | QUEUED, Acquire, Acquire)
            {
                Ok(_) => return !free(cur),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Turns the write lock into a read lock in one store: no writer can
    /// get in between, since the word goes from `WRITER` to one reader
    /// without passing through 0. Readers waiting are woken to enter
    /// alongside (those behind a waiting writer go back to waiting).
    pub(crate) fn downgrade(&self) {
        debug_assert_eq!(
            self.state().load(Relaxed) & !QUEUED,
            WRITER,
            "downgrade without the write lock"
        );
        // Release pairs with the Acquire CAS of readers entering now: they
        // see what we wrote. Stored before the notify (the readers' check
        // is under their queue lock, as in step 1). An add, not a store:
        // `QUEUED` may be set, and stays (our unlock serves the queues).
        self.state().fetch_add(READER - WRITER, Release);
        self.readers.notify_all();
    }

    /// The state word. Under loom every access of it is an access of the
    /// lock's memory (`WaitQueue::touch`), which a model that destroys the
    /// lock checks is over before the destruction.
    #[inline(always)]
    fn state(&self) -> &AtomicUsize {
        #[cfg(loom)]
        self.writers.touch();
        &self.state
    }

    /// Under loom: the lock is destroyed here (`WaitQueue::free`).
    #[cfg(loom)]
    pub(crate) fn free(&self) {
        self.readers.free();
        self.writers.free();
    }

    /// Whether a writer holds the lock (for Debug).
    pub(crate) fn is_write_locked(&self) -> bool {
        self.state().load(Relaxed) & WRITER != 0
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib --release`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    struct Shared {
        l: RawRwLock,
        n: UnsafeCell<u32>,
    }

    fn shared() -> Arc<Shared> {
        shared_starving(u64::MAX)
    }

    fn shared_starving(starve_ns: u64) -> Arc<Shared> {
        Arc::new(Shared {
            l: RawRwLock::with_starve_ns(starve_ns),
            n: UnsafeCell::new(0),
        })
    }

    /// POSIX lets the next holder destroy the lock at once after its own
    /// unlock, while the unlock that freed the lock for it may still be
    /// running: `free` makes loom report any access of that unlock not
    /// ordered before the destruction. This thread holds the lock (for
    /// writing if `write`), a writer takes it when free (blocking in
    /// `write`, or retrying `try_write`), unlocks and destroys it.
    fn check_destroy_after_the_unlock(write: bool, blocking: bool) {
        loom::model(move || {
            let s = shared();
            if write {
                s.l.write();
            } else {
                s.l.read();
            }
            let writer = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    if blocking {
                        s.l.write();
                    } else {
                        while !s.l.try_write() {
                            loom::thread::yield_now();
                        }
                    }
                    s.l.write_unlock();
                    s.l.free();
                })
            };
            if write {
                s.l.write_unlock();
            } else {
                s.l.read_unlock();
            }
            writer.join().unwrap();
        });
    }

    #[test]
    fn a_writer_may_destroy_the_lock_right_after_a_write_unlock() {
        check_destroy_after_the_unlock(true, false);
        check_destroy_after_the_unlock(true, true);
    }

    #[test]
    fn a_writer_may_destroy_the_lock_right_after_the_last_read_unlock() {
        check_destroy_after_the_unlock(false, false);
        check_destroy_after_the_unlock(false, true);
    }

    /// As above, with a reader queued behind the holding writer as well
    /// (it is let in by the unlock's step 1a or 1c), and the destroyer a
    /// writer that retries until it gets the lock after that reader.
    #[test]
    fn a_writer_may_destroy_the_lock_after_the_readers_it_let_in() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            s.l.write();
            let reader = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    s.l.read();
                    s.l.read_unlock();
                })
            };
            let writer = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    while !s.l.try_write() {
                        loom::thread::yield_now();
                    }
                    s.l.write_unlock();
                    reader.join().unwrap();
                    s.l.free();
                })
            };
            s.l.write_unlock();
            writer.join().unwrap();
        });
    }

    /// Step 4: between the downgrade and the read, a writer waiting or
    /// arriving cannot get in; it gets in after the read unlock.
    #[test]
    fn a_downgrade_lets_no_writer_in_between() {
        loom::model(|| {
            let s = shared();
            s.l.write();
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            // SAFETY: the write lock is held.
            s.n.with_mut(|p| unsafe { *p = 10 });
            s.l.downgrade();
            // SAFETY: a read lock is held: only reads may overlap.
            assert_eq!(s.n.with(|p| unsafe { *p }), 10);
            s.l.read_unlock();
            w.join().unwrap();
            assert_eq!(read(&s), 11);
            assert_eq!(s.l.state.load(Relaxed), 0);
        });
    }

    /// Step 1 with hand-off forced (bound 0): a queued writer is handed
    /// the lock; writers still exclude each other and nobody is left
    /// waiting.
    #[test]
    fn hand_off_to_a_waiting_writer_excludes_and_finishes() {
        loom::model(|| {
            let s = shared_starving(0);
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            write(&s);
            w.join().unwrap();
            assert_eq!(read(&s), 2);
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    /// Step 1a: a writer unlock with a reader and a writer waiting (or
    /// arriving) hands the reader its phase or lets it in later; either
    /// way readers and writers exclude each other, the counts balance
    /// and nobody is left waiting.
    #[test]
    fn a_writer_unlock_hands_a_queued_reader_its_phase() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            s.l.write();
            let r = {
                let s = s.clone();
                loom::thread::spawn(move || read(&s))
            };
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            // SAFETY: the write lock is held.
            s.n.with_mut(|p| unsafe { *p = 10 });
            s.l.write_unlock();
            let seen = r.join().unwrap();
            w.join().unwrap();
            assert!(seen == 10 || seen == 11, "{seen}");
            assert_eq!(read(&s), 11);
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    /// Step 2 with hand-off forced (bound 0): the last reader's unlock
    /// hands a queued writer the lock through the CAS on its behalf, or
    /// wakes it to retry when a barger got in first; writers exclude each
    /// other and both writes land.
    #[test]
    fn the_last_reader_hands_a_starving_writer_the_lock() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared_starving(0);
            s.l.read();
            let w1 = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let w2 = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            s.l.read_unlock();
            w1.join().unwrap();
            w2.join().unwrap();
            assert_eq!(read(&s), 2);
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    fn write(s: &Shared) {
        s.l.write();
        // SAFETY: the write lock is held, so no other access to `n`
        // overlaps; loom's UnsafeCell would panic on a racing one.
        s.n.with_mut(|p| unsafe { *p += 1 });
        s.l.write_unlock();
    }

    fn read(s: &Shared) -> u32 {
        s.l.read();
        // SAFETY: a read lock is held: only reads of `n` may overlap.
        let v = s.n.with(|p| unsafe { *p });
        s.l.read_unlock();
        v
    }

    /// The last reader leaves as a writer arrives (step 2): the writer
    /// must get in, and readers and the writer exclude each other.
    #[test]
    fn the_last_reader_leaving_races_an_arriving_writer() {
        loom::model(|| {
            let s = shared();
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let v = read(&s);
            assert!(v <= 1);
            w.join().unwrap();
            assert_eq!(read(&s), 1);
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    /// Reader preference: a preferring reader gets in beside a reader
    /// that holds the lock while a writer waits (or arrives), and then all
    /// three finish: nobody sleeps for ever, the write lands once.
    #[test]
    fn a_preferring_reader_passes_a_waiting_writer_and_all_finish() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            s.l.read();
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let r = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    s.l.read_preferring();
                    // SAFETY: a read lock is held: only reads overlap.
                    let v = s.n.with(|p| unsafe { *p });
                    s.l.read_unlock();
                    v
                })
            };
            s.l.read_unlock();
            assert!(r.join().unwrap() <= 1);
            w.join().unwrap();
            assert_eq!(read(&s), 1);
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    /// A preferring reader that blocks on a holding writer is woken by
    /// that writer's unlock even with a second writer queued (the window
    /// between step 1a and 1b's store).
    #[test]
    fn a_preferring_reader_behind_two_writers_is_woken() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            let w1 = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let w2 = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            s.l.read_preferring();
            s.l.read_unlock();
            w1.join().unwrap();
            w2.join().unwrap();
            assert_eq!(read(&s), 2);
        });
    }

    /// Step 5: a timed writer gives up while a reader holds the lock
    /// (under loom a deadline passes once the thread has blocked); a
    /// reader that queued behind its count gets in beside the holder
    /// instead of waiting for an unlock that never comes (without the
    /// wake in `give_up_writing` this model deadlocks).
    #[test]
    fn a_timed_writer_that_gives_up_lets_the_readers_behind_it_in() {
        // Three preemptions, as the other three-thread models here: the
        // unbounded model took ~166 s, half of CI's loom step, and the
        // bounded one still deadlocks without the wake in
        // `give_up_writing`.
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            s.l.read();
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || s.l.write_until(Instant::now()))
            };
            let r = {
                let s = s.clone();
                loom::thread::spawn(move || read(&s))
            };
            assert!(
                !w.join().unwrap(),
                "the writer got in past a held read lock"
            );
            assert_eq!(r.join().unwrap(), 0);
            s.l.read_unlock();
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    /// A timed reader whose deadline races a writer's unlock that hands
    /// it a read count (step 1a) keeps that count: it reports the lock
    /// taken, and once it lets go the word is free (a count dropped on
    /// the floor would leave it read-locked for ever).
    #[test]
    fn a_timed_reader_keeps_a_hand_off_that_races_its_deadline() {
        loom::model(|| {
            let s = shared();
            s.l.write();
            let r = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let got = s.l.read_until(false, Instant::now());
                    if got {
                        s.l.read_unlock();
                    }
                    got
                })
            };
            s.l.write_unlock();
            let _ = r.join().unwrap();
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(read(&s), 0);
        });
    }

    /// A timed writer whose deadline races an unlock that hands it the
    /// lock (bound 0: every queued writer is starving) keeps it, and a
    /// timed writer that gives up leaves no count behind.
    #[test]
    fn a_timed_writer_keeps_a_hand_off_that_races_its_deadline() {
        loom::model(|| {
            let s = shared_starving(0);
            s.l.write();
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let got = s.l.write_until(Instant::now());
                    if got {
                        // SAFETY: the write lock is held.
                        s.n.with_mut(|p| unsafe { *p += 1 });
                        s.l.write_unlock();
                    }
                    got
                })
            };
            s.l.write_unlock();
            let got = w.join().unwrap();
            assert_eq!(read(&s), u32::from(got));
            assert_eq!(s.l.state.load(Relaxed), 0);
            assert_eq!(s.l.writers_waiting.load(Relaxed), 0);
        });
    }

    /// Two writers and a reader: no lost wake-up for the reader blocked
    /// behind waiting writers, and both writes land.
    #[test]
    fn a_reader_behind_two_writers_is_woken() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            let w1 = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let w2 = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let _ = read(&s);
            w1.join().unwrap();
            w2.join().unwrap();
            assert_eq!(read(&s), 2);
        });
    }

    /// Step 0: a writer's unlock races a writer and a reader that queue
    /// behind it (each sets `QUEUED` in the CAS that finds the lock
    /// held). Nobody is left waiting, and once everyone is done the bit
    /// is gone: a lone write and a lone read each leave the word 0 (their
    /// unlocks clear a bit left set by the slow paths, then free the
    /// word with one CAS), so the next unlocks are one CAS again.
    #[test]
    fn queued_is_set_by_waiters_and_cleared_by_the_unlock_that_finds_none() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared();
            s.l.write();
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || write(&s))
            };
            let r = {
                let s = s.clone();
                loom::thread::spawn(move || read(&s))
            };
            s.l.write_unlock();
            w.join().unwrap();
            let _ = r.join().unwrap();
            s.l.read();
            s.l.read_unlock();
            assert_eq!(s.l.state.load(Relaxed), 0);
            s.l.write();
            assert_eq!(s.l.state.load(Relaxed), WRITER);
            s.l.write_unlock();
            assert_eq!(s.l.state.load(Relaxed), 0);
        });
    }
}

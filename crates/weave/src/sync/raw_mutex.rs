//! The mutex word and its protocol: the adaptive, owner-recording lock
//! under [`Mutex`](super::Mutex) (and [`Condvar`](super::Condvar), and
//! everything built on them).
//!
//! One `AtomicU64` plus a [`WaitQueue`]:
//!
//! ```text
//!  63             34 33                          2   1        0
//! ┌─────────────────┬─────────────────────────────┬────────┬────────┐
//! │ (zero)          │ owner id                    │ PARKED │ LOCKED │
//! └─────────────────┴─────────────────────────────┴────────┴────────┘
//! ```
//!
//! | bit / field | set when                                     | set by                          | cleared by |
//! |-------------|----------------------------------------------|---------------------------------|------------|
//! | `LOCKED`    | somebody holds the lock                      | a locker's CAS, or an unlocker handing off | the holder's unlock |
//! | owner id    | with `LOCKED`: the holder's thread-table index + 1 | the same CAS or hand-off    | the unlock |
//! | `PARKED`    | waiters are queued and nobody on their way owes them a wake (it may be set with nobody queued: that costs one slow unlock) | a waiter queueing, under the queue lock; a woken waiter's acquire, for those it left queued | an unlocker that wakes one or finds the queue empty, and whoever empties the queue, under its lock |
//!
//! ## Protocol
//!
//! 1. **Fast path** (`lock`): one CAS `0 -> LOCKED | me`. `unlock`: one CAS
//!    `LOCKED | me -> 0`. Either fails whenever PARKED is set; the slow
//!    path then starts from the word that CAS found, without reading it
//!    again. The word carries no bit for a waiter that was woken and has
//!    not run yet (which can last as long as its LWP runs other threads
//!    first): such a bit stayed set for that long and sent every lock and
//!    unlock down the slow path meanwhile, three or four CASes a
//!    lock/unlock instead of two (the slow rounds of `c_mutex`, and of
//!    `mutex_contended` before the guard guessed the bits).
//! 2. **Spin** (`lock_slow`): while the word is locked by an owner that is
//!    RUNNING on another LWP (or is an OS thread), the contender spins a
//!    bounded number of rounds with exponential backoff and retries: the
//!    owner is making progress and will likely release before a block and
//!    wake would complete (lecture section 16, Solaris adaptive mutexes). An
//!    owner that is not running (blocked, preempted at a safe point, or on
//!    our own LWP) is never spun for.
//! 3. **Queue**: under the queue lock the waiter sets `PARKED` (or, if the
//!    lock is free by now, does not block and retries), links its node and
//!    blocks. Setting `PARKED` under the queue lock while the word is still
//!    `LOCKED` is what makes the wake-up impossible to lose: the holder's
//!    unlock CAS then fails and it takes the slow path.
//! 4. **Unlock slow path** (PARKED set): under the queue lock, the next
//!    waiter is popped: the first by priority (then arrival), unless
//!    the oldest waiter has been passed over for [`STARVE_NS`], in which
//!    case the oldest, whatever its priority (queue.rs: priority bounded
//!    by age). If it was chosen by age, or has waited longer than
//!    [`STARVE_NS`] since it first queued *and* has lost a retry to a
//!    barger before, the lock is **handed** to it: the word goes straight
//!    to `LOCKED | its id`, nobody can barge in (Go's starvation mode), and
//!    if it is placed on an LWP it runs there before the others of its
//!    priority (`Waiter::wake_next`). The clock is read only for those
//!    decisions: a waiter that has not lost a retry, and is the oldest or
//!    has not been passed over, is served without one. Otherwise the word
//!    goes to 0 (free, PARKED clear even if others still wait) and the
//!    waiter retries, competing with newcomers; if it loses it queues
//!    again at the front of its priority class, keeping its original
//!    arrival time, so it starves for at most `STARVE_NS` after its first
//!    wake-up.
//!
//!    **The word is written last.** POSIX lets the next owner destroy and
//!    free the mutex as soon as it has unlocked it, while this unlock may
//!    still be running, so once the word shows the lock free or handed
//!    on, the unlocker touches the mutex no more (waking the popped
//!    waiter touches only that waiter). Under the queue lock it pops and
//!    stores `LOCKED | me` (PARKED cleared, or kept for those left queued
//!    behind a hand-off); it releases the queue lock; then one atomic
//!    operation publishes: a CAS `LOCKED | me -> 0`, or for a hand-off an
//!    XOR of the owner field that keeps PARKED as it is. A waiter that
//!    queues between the two (it finds the lock held, and sets PARKED)
//!    makes that CAS fail: the lock is still ours, and the unlock serves
//!    the queue again. A handed waiter that leaves the queue before the
//!    XOR (a timeout) waits for it, since the lock is not its own yet.
//! 5. **The woken waiter speaks for those it left queued**: as it leaves
//!    the queue (under the queue lock) it notes whether others remain
//!    (`more`); until it acts, unlocks wake nobody else for those (one
//!    wake per hand-over, not one per unlock, as Go's `mutexWoken` gives,
//!    without a bit that fails the fast paths). A waiter that queues
//!    meanwhile sets PARKED for itself, and the next unlock wakes one
//!    more: each woken waiter speaks for those queued when it left, so
//!    wakes stay at most one per queueing. Then it either takes the lock, setting PARKED in the same CAS if
//!    `more`, so its own unlock wakes the next; or queues again, setting
//!    PARKED; or (a timed lock) gives up and passes the wake on: under the
//!    queue lock it wakes the next waiter if the lock is free, or sets
//!    PARKED for the holder's unlock to do it. So no queued waiter is left
//!    behind a free lock with nobody owing it a wake. A waiter that finds
//!    the lock handed to it as it times out owns it and says so.
//!
//! While a thread holds `LOCKED` and the queue lock, nobody else can change
//! the word (every other writer either needs `LOCKED` clear or the queue
//! lock), so the unlock slow path writes it there with a plain store;
//! once it has let go of the queue lock, only PARKED can change, which its
//! final CAS or XOR accounts for.
//!
//! Under loom every access of the word and of the queue lock is recorded
//! as an access of the mutex's memory (`WaitQueue::touch`), and the models
//! that destroy the mutex right after its last unlock (`WaitQueue::free`)
//! check that no access of the unlock that freed it comes after.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Instant;

use super::block::{self, BlockReason};
use super::queue::{LazyNow, Node, WaitQueue, PENDING};
use crate::loom::{spin_hint, AtomicU64};

const LOCKED: u64 = 1;
const PARKED: u64 = 2;
/// The owner id sits right above the two flag bits, so that the word of a
/// holder, `LOCKED | id << 2`, is one x86 `lea` from the id (a scaled index
/// plus 1), built at every lock and unlock; with the id in the high half
/// (`id << 32 | LOCKED`) it took a move, a shift and an or.
const OWNER_SHIFT: u32 = 2;

/// Node results: the unlocker woke the waiter to retry, or handed it the
/// lock.
const WOKEN_TO_RETRY: u32 = 1;
const HANDED: u32 = 2;

/// A waiter older than this gets the lock handed to it, and a waiter
/// passed over by higher priorities for this long goes next whatever its
/// priority: 1 ms, Go's `starvationThresholdNs`. Long enough that hand-off
/// (which forbids barging and so costs a full wake-up per hand-over) and
/// overriding priority stay rare under ordinary contention, short enough
/// that no waiter notices: a lock hand-over costs a few µs, so 1 ms is
/// hundreds of them. The rwlock's writers and the semaphore use the same
/// bound.
pub(crate) const STARVE_NS: u64 = 1_000_000;

/// Spin rounds before queueing, each twice as long as the last, capped at
/// 2^6 pauses: about 2,000 pauses in all, a few µs where a pause takes ~10
/// cycles, ~50 µs where it takes ~50 ns (recent Xeons). Measured on such
/// a Xeon (2 CPUs): capping it at ~190 pauses made `mutex_contended`
/// slower (median 46.8 ns against 24.8 over 100 processes each), as more
/// lockers queued and each queueing costs a block and a wake; so did not
/// spinning while the caller's LWP had other work (Go's rule: 29.8).
const SPIN_ROUNDS: u32 = 36;
const SPIN_MAX_SHIFT: u32 = 6;

#[inline]
const fn locked_by(id: u32) -> u64 {
    LOCKED | (id as u64) << OWNER_SHIFT
}

#[inline]
const fn owner_of(word: u64) -> u32 {
    (word >> OWNER_SHIFT) as u32
}

pub(crate) struct RawMutex {
    word: AtomicU64,
    queue: WaitQueue,
    /// Under loom: the starvation threshold, so a model can force hand-off
    /// (0) or forbid it (`u64::MAX`) deterministically.
    #[cfg(loom)]
    starve_ns: u64,
}

impl RawMutex {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> RawMutex {
        RawMutex {
            word: AtomicU64::new(0),
            queue: WaitQueue::new(),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> RawMutex {
        Self::with_starve_ns(u64::MAX)
    }

    #[cfg(loom)]
    pub(crate) fn with_starve_ns(starve_ns: u64) -> RawMutex {
        RawMutex {
            word: AtomicU64::new(0),
            queue: WaitQueue::new(),
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

    /// Under loom, a model made with a bound of 0 asks for a hand-off at
    /// every wake, whether or not the waiter lost a retry (two lockers
    /// that lock once each never make one lose), so that the hand-off
    /// paths of the word stay explored. Never outside loom.
    #[inline]
    fn forced_handoff(&self) -> bool {
        #[cfg(loom)]
        let forced = self.starve_ns == 0;
        #[cfg(not(loom))]
        let forced = false;
        forced
    }

    /// The lock word. Under loom every access of it is an access of the
    /// mutex's memory (`WaitQueue::touch`), which a model that destroys
    /// the mutex checks is over before the destruction.
    #[inline(always)]
    fn word(&self) -> &AtomicU64 {
        #[cfg(loom)]
        self.queue.touch();
        &self.word
    }

    /// Takes the lock for owner `me` (from [`block::me_id`]).
    #[inline]
    pub(crate) fn lock(&self, me: u32) {
        // Acquire pairs with the Release of the unlock that freed the word.
        if let Err(cur) = self
            .word()
            .compare_exchange(0, locked_by(me), Acquire, Relaxed)
        {
            // Without a deadline the slow path returns only with the lock.
            self.lock_slow(me, cur, None);
        }
    }

    /// Takes the lock unless `deadline` passes first; true if taken.
    pub(crate) fn lock_until(&self, me: u32, deadline: Instant) -> bool {
        // Acquire: as in `lock`.
        match self
            .word()
            .compare_exchange(0, locked_by(me), Acquire, Relaxed)
        {
            Ok(_) => true,
            Err(cur) => self.lock_slow(me, cur, Some(deadline)),
        }
    }

    /// Takes the lock if it is free now, waiters or not.
    #[inline]
    pub(crate) fn try_lock(&self, me: u32) -> bool {
        let mut cur = self.word().load(Relaxed);
        loop {
            if cur & LOCKED != 0 {
                return false;
            }
            // Acquire: as in `lock`. PARKED belongs to the waiters.
            match self
                .word()
                .compare_exchange_weak(cur, cur | locked_by(me), Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Releases the lock held by `me`.
    #[inline]
    pub(crate) fn unlock(&self, me: u32) {
        // Release pairs with the Acquire CAS of the next locker: it sees
        // everything written under the lock.
        if let Err(cur) = self
            .word()
            .compare_exchange(locked_by(me), 0, Release, Relaxed)
        {
            self.unlock_slow(me, cur);
        }
    }

    /// As [`unlock`](Self::unlock), for a caller that may not hold the
    /// lock (the C API's unlock, which answers `EPERM` then): false, and
    /// the word untouched, unless `me` holds it.
    #[inline]
    pub(crate) fn unlock_if_held(&self, me: u32) -> bool {
        // Release: as in `unlock`.
        match self
            .word()
            .compare_exchange(locked_by(me), 0, Release, Relaxed)
        {
            Ok(_) => true,
            // Only the holder's own unlock changes the owner field while
            // LOCKED is set, so the word the CAS found says whether we hold
            // it.
            Err(cur) if cur & LOCKED != 0 && owner_of(cur) == me => {
                self.unlock_slow(me, cur);
                true
            }
            Err(_) => false,
        }
    }

    /// The owner id of the holder, or 0 if the lock is free. Relaxed: the
    /// owner field changes only by its holder's unlock or a locker's CAS
    /// from free, so it reads `me` exactly when `me` holds the lock, and a
    /// reader that does not hold it learns only a moment's state.
    #[inline]
    pub(crate) fn holder(&self) -> u32 {
        let w = self.word().load(Relaxed);
        if w & LOCKED != 0 {
            owner_of(w)
        } else {
            0
        }
    }

    /// The contended lock, from `cur`, the word the fast path's CAS found:
    /// true once the lock is ours, false if `deadline` passed first.
    #[cold]
    fn lock_slow(&self, me_id: u32, mut cur: u64, deadline: Option<Instant>) -> bool {
        let mine = locked_by(me_id);
        let mut spins = 0u32;
        // We were woken to retry and others were still queued when we left
        // the queue: until we take the lock, queue again or give up, nobody
        // else owes them a wake (step 5), so our acquire sets PARKED.
        let mut more = false;
        // First time we queued: starvation counts from there.
        let mut since: Option<u64> = None;
        block::note_contended();
        loop {
            if cur & LOCKED == 0 {
                let new = cur | mine | if more { PARKED } else { 0 };
                // Acquire: as in `lock`.
                match self
                    .word()
                    .compare_exchange_weak(cur, new, Acquire, Relaxed)
                {
                    Ok(_) => {
                        if spins > 0 && since.is_none() {
                            block::note_spin_acquired();
                        }
                        return true;
                    }
                    Err(actual) => cur = actual,
                }
                continue;
            }
            debug_assert_ne!(owner_of(cur), me_id, "a mutex is not reentrant");
            if block::SPIN && spins < SPIN_ROUNDS && block::owner_running_elsewhere(owner_of(cur)) {
                for _ in 0..1u32 << spins.min(SPIN_MAX_SHIFT) {
                    spin_hint();
                }
                spins += 1;
                cur = self.word().load(Relaxed);
                continue;
            }
            if deadline.is_some_and(block::expired) {
                self.give_up(more);
                return false;
            }
            let requeue = since.is_some();
            // Read only here: most slow-path locks find the word free
            // (PARKED set) and never queue.
            let me = block::me();
            debug_assert_eq!(me.id, me_id);
            let node = Node::new(me.priority, me_id, *since.get_or_insert_with(block::now_ns))
                .retried(requeue);
            let mut queued = false;
            block::note_waits_for(owner_of(cur));
            block::note_wait_on(&self.word as *const _ as usize);
            block::block_on(BlockReason::Mutex, deadline, |w| {
                let mut q = self.queue.lock();
                let mut cur = self.word().load(Relaxed);
                loop {
                    if cur & LOCKED == 0 {
                        return false; // freed meanwhile: retry, don't block
                    }
                    if cur & PARKED != 0 {
                        break;
                    }
                    // Relaxed: the queue lock orders this against every
                    // other writer of PARKED but a woken waiter's acquire,
                    // which needs LOCKED clear; the holder's unlock CAS
                    // reads the word itself (step 3 of the protocol).
                    match self
                        .word()
                        .compare_exchange(cur, cur | PARKED, Relaxed, Relaxed)
                    {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
                // SAFETY: `node` lives on this stack frame until the
                // `remove` below, which runs under the queue lock.
                unsafe { q.push(&node, w, requeue) };
                queued = true;
                true
            });
            if queued {
                // Our PARKED speaks for everyone queued now.
                more = false;
                block::note_lock_block();
            }
            let (result, others) = {
                let mut q = self.queue.lock();
                let (was_linked, result) = q.remove(&node);
                let others = !q.is_empty();
                if was_linked && !others {
                    // Relaxed: PARKED is ordered by the queue lock.
                    self.word().fetch_and(!PARKED, Relaxed);
                }
                (result, others)
            };
            match result {
                // The unlocker popped us with the lock handed over: it
                // writes `LOCKED | me` after releasing the queue lock
                // (step 4), so a waiter that left early (a timeout) may
                // get here first and waits for that store. Acquire pairs
                // with its Release: the lock, and what its last holder
                // wrote, are ours.
                HANDED => {
                    while owner_of(self.word().load(Acquire)) != me_id {
                        block::yield_now();
                    }
                    return true;
                }
                WOKEN_TO_RETRY => {
                    // The unlocker cleared PARKED: those still queued are
                    // ours to speak for (step 5).
                    more = others;
                    spins = 0;
                }
                _ => debug_assert_eq!(result, PENDING),
            }
            cur = self.word().load(Relaxed);
        }
    }

    /// A timed lock gives up. If an unlocker woke us and others were left
    /// queued (`more`), the wake must not die with us: wake the next
    /// waiter if the lock is free, or set PARKED for its holder's unlock.
    #[cold]
    fn give_up(&self, more: bool) {
        if !more {
            return;
        }
        let popped = {
            let mut q = self.queue.lock();
            let mut cur = self.word().load(Relaxed);
            loop {
                if q.is_empty() {
                    break None;
                }
                if cur & LOCKED == 0 {
                    // The lock is free and others wait: the wake passes to
                    // the next of them, which speaks for the rest. A barger
                    // taking the lock meanwhile is harmless: that waiter
                    // then queues again and sets PARKED.
                    let p = q.pop(WOKEN_TO_RETRY);
                    if q.is_empty() {
                        // Relaxed: PARKED is ordered by the queue lock.
                        self.word().fetch_and(!PARKED, Relaxed);
                    }
                    break p;
                }
                // A holder exists: PARKED makes its unlock wake the next. A
                // CAS, not a blind set: if the holder releases between our
                // look and our write, we must look again.
                match self
                    .word()
                    .compare_exchange(cur, cur | PARKED, Relaxed, Relaxed)
                {
                    Ok(_) => break None,
                    Err(actual) => cur = actual,
                }
            }
        };
        if let Some(p) = popped {
            p.waiter.wake();
        }
    }

    /// The unlock that found PARKED in the word: `cur`, as its CAS found
    /// it. The word is written last (step 4): once it shows the lock free
    /// or handed on, this thread does not touch the mutex again, since
    /// the next owner may destroy it at once (POSIX allows that right
    /// after the last unlock).
    #[cold]
    fn unlock_slow(&self, me: u32, mut cur: u64) {
        let mine = locked_by(me);
        loop {
            debug_assert_eq!(cur & !PARKED, mine, "unlock by a non-owner");
            let (popped, handoff) = {
                let mut q = self.queue.lock();
                // We hold LOCKED and the queue lock: the word is ours to
                // write (module doc). PARKED may have been cleared since we
                // looked, by a waiter that timed out and emptied the queue.
                // The time only if a decision needs it (queue.rs, "The
                // time, read only when a decision needs it"): a waiter
                // that has not lost a retry is woken whatever its age, so
                // the common wake reads no clock.
                let mut now = LazyNow::new();
                let limit = self.starve_limit();
                let (popped, handoff) = match q.choose_lazy(&mut now, limit) {
                    None => (None, false),
                    Some(c) => {
                        // Overdue (chosen by age over a higher priority),
                        // or starved: queued for longer than the bound and
                        // already beaten once by a barger after a wake.
                        // Hand it the lock. A waiter that only queued long
                        // (behind others, or behind a holder whose LWP the
                        // kernel descheduled) is woken to retry instead:
                        // handing it the lock would stop every running
                        // thread until its LWP runs it, the next waiter
                        // would be as old, and the hand-offs went on for
                        // the rest of the run (the bimodal
                        // `mutex_contended`: thousands of hand-offs and
                        // blocks in the slow processes, none in the fast
                        // ones).
                        let handoff = c.overdue
                            || ((c.retried || self.forced_handoff())
                                && now.get().saturating_sub(c.since) >= limit);
                        let result = if handoff { HANDED } else { WOKEN_TO_RETRY };
                        (Some(q.pop_choice_lazy(c, result, &mut now)), handoff)
                    }
                };
                // Still ours, PARKED cleared: from here a waiter that
                // queues (or a timed one that gives up and leaves us its
                // wake) sets it again, and our release below sees that.
                // Woken to retry, the popped waiter speaks for those left
                // queued (step 5); handed the lock, it needs PARKED for
                // them. Relaxed: the queue lock orders it for the other
                // writers of PARKED, and our release below reads it.
                let keep = if handoff && !q.is_empty() { PARKED } else { 0 };
                self.word().store(mine | keep, Relaxed);
                (popped, handoff)
            };
            // The queue lock is released: what follows is the last access
            // to the mutex.
            if handoff {
                let p = popped.expect("a hand-off has a waiter");
                // LOCKED | me -> LOCKED | its id, keeping whatever PARKED
                // says now. Release: as in `unlock`; pairs with the
                // Acquire load of the waiter, which waits for this store
                // if it leaves the queue before we make it (a timeout).
                let owners = u64::from(me ^ p.id) << OWNER_SHIFT;
                self.word().fetch_xor(owners, Release);
                block::note_handoff();
                // It owns the lock now: let it run before the threads of
                // its LWP that would each find the lock held and block.
                p.waiter.wake_next();
                return;
            }
            // Release: as in `unlock`. The word is free and clean, so the
            // fast paths work until the woken waiter runs.
            let released = self.word().compare_exchange(mine, 0, Release, Relaxed);
            if let Some(p) = popped {
                p.waiter.wake();
            }
            match released {
                Ok(_) => return,
                // PARKED is set again: somebody queued after we let go of
                // the queue lock and needs a wake that nobody else owes
                // it. The lock is still ours: serve the queue once more.
                Err(actual) => cur = actual,
            }
        }
    }
}

/// The word's layout and the unlock's clock, on real threads.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn clock_reads() -> u64 {
        block::NOW_READS.with(|n| n.get())
    }

    /// The owner field round-trips every id the thread table can give,
    /// and never reaches the flag bits.
    #[test]
    fn owner_field_keeps_every_id_off_the_flags() {
        for id in [1, 2, 0x1234_5678, u32::MAX - 1, u32::MAX] {
            let w = locked_by(id);
            assert_eq!(owner_of(w), id);
            assert_eq!(w & (LOCKED | PARKED), LOCKED);
            assert_eq!(owner_of(w | PARKED), id);
        }
    }

    /// An unlock that wakes a waiter which has not lost a retry decides
    /// without the time: no clock read (a vDSO call, ~100 ns on a VM) on
    /// the unlock of a lock with waiters, unless a starvation decision
    /// needs one.
    #[test]
    fn waking_a_first_time_waiter_reads_no_clock() {
        let m = Arc::new(RawMutex::new());
        let me = block::me_id();
        m.lock(me);
        let waiter = {
            let m = m.clone();
            std::thread::spawn(move || {
                let id = block::me_id();
                m.lock(id);
                m.unlock(id);
            })
        };
        // PARKED is set under the queue lock that links the waiter, so
        // once it shows, the unlock below finds the waiter queued.
        while m.word.load(Relaxed) & PARKED == 0 {
            std::thread::yield_now();
        }
        let before = clock_reads();
        m.unlock(me);
        let reads = clock_reads() - before;
        waiter.join().unwrap();
        assert_eq!(reads, 0, "the unlock that woke a waiter read the clock");
        assert_eq!(m.word.load(Relaxed), 0);
    }
}

/// Model checks of the mutex word and queue under every interleaving
/// (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib --release`). Under
/// loom nobody spins, so every contender queues, and a timed lock times out
/// at the first chance, racing the unlock that would wake it.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    struct Shared {
        m: RawMutex,
        n: UnsafeCell<u32>,
    }

    fn shared(starve_ns: u64) -> Arc<Shared> {
        Arc::new(Shared {
            m: RawMutex::with_starve_ns(starve_ns),
            n: UnsafeCell::new(0),
        })
    }

    /// One locked increment.
    fn increment(s: &Shared) {
        let me = block::me_id();
        s.m.lock(me);
        // SAFETY: the mutex is held, so no other access to `n` overlaps;
        // loom's UnsafeCell would panic if one did.
        s.n.with_mut(|p| unsafe { *p += 1 });
        s.m.unlock(me);
    }

    fn check_mutual_exclusion(starve_ns: u64) {
        loom::model(move || {
            let s = shared(starve_ns);
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || increment(&s))
            };
            increment(&s);
            t.join().unwrap();
            // SAFETY: both lockers have finished (joined): nothing else touches `n`.
            assert_eq!(s.n.with(|p| unsafe { *p }), 2);
            assert_eq!(s.m.word.load(Relaxed), 0, "left locked or flagged");
        });
    }

    #[test]
    fn two_lockers_exclude_each_other_and_both_finish() {
        check_mutual_exclusion(u64::MAX);
    }

    #[test]
    fn hand_off_to_a_starving_waiter_excludes_and_finishes() {
        check_mutual_exclusion(0);
    }

    /// A waiter queues while the holder unlocks: the unlock either sees
    /// PARKED and wakes it, or the waiter sees the lock free and never
    /// blocks. Never both asleep.
    #[test]
    fn unlock_racing_a_new_waiter_loses_no_wake_up() {
        loom::model(|| {
            let s = shared(u64::MAX);
            let me = block::me_id();
            s.m.lock(me);
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || increment(&s))
            };
            s.m.unlock(me);
            t.join().unwrap();
            assert_eq!(s.m.word.load(Relaxed), 0);
        });
    }

    /// Two waiters queue behind the holder, which unlocks and locks again:
    /// the unlock wakes one of them and leaves the word free and clean
    /// (PARKED cleared while the other still waits), so the holder's second
    /// lock and unlock can take the fast paths and wake nobody. The woken
    /// waiter then speaks for the other (step 5): whether it takes the lock
    /// (setting PARKED in the same CAS) or queues again (setting it under
    /// the queue lock), the other must still be woken, so that every locker
    /// finishes and the word ends clean.
    #[test]
    fn a_woken_waiter_speaks_for_those_it_left_queued() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let s = shared(u64::MAX);
            let me = block::me_id();
            s.m.lock(me);
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let s = s.clone();
                    loom::thread::spawn(move || increment(&s))
                })
                .collect();
            s.m.unlock(me);
            increment(&s);
            for w in waiters {
                w.join().unwrap();
            }
            // SAFETY: every locker has finished (joined): nothing else touches `n`.
            assert_eq!(s.n.with(|p| unsafe { *p }), 3);
            assert_eq!(s.m.word.load(Relaxed), 0, "left locked or flagged");
        });
    }

    /// `unlock_if_held` (the C API's unlock): a thread that does not hold
    /// the lock is refused while the holder has it, whatever waiters do,
    /// and the holder's own unlock through it, racing a waiter that
    /// queues (PARKED set, so the fast CAS fails), still wakes it.
    #[test]
    fn unlock_if_held_refuses_a_non_holder_and_wakes_a_waiter() {
        loom::model(|| {
            let s = shared(u64::MAX);
            let me = block::me_id();
            s.m.lock(me);
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let other = block::me_id();
                    let refused = !s.m.unlock_if_held(other);
                    s.m.lock(other);
                    // SAFETY: the mutex is held: no other access overlaps.
                    s.n.with_mut(|p| unsafe { *p += 1 });
                    assert!(s.m.unlock_if_held(other));
                    refused
                })
            };
            assert!(s.m.unlock_if_held(me));
            assert!(t.join().unwrap(), "a non-holder's unlock went through");
            assert_eq!(s.m.word.load(Relaxed), 0, "left locked or flagged");
        });
    }

    /// The last user of a mutex locks it, unlocks it and destroys it
    /// while the thread whose unlock freed it is still inside that unlock
    /// (POSIX allows it): `free` makes loom report any access of that
    /// unlock not ordered before it. Here the unlock is a slow one with
    /// nobody to wake: PARKED left set by waiters that have gone (the
    /// module doc allows it), so the unlocker takes the queue lock, finds
    /// the queue empty and releases the word.
    #[test]
    fn an_unlock_with_nobody_queued_is_over_when_the_word_goes_free() {
        loom::model(|| {
            let s = shared(u64::MAX);
            let me = block::me_id();
            s.m.lock(me);
            s.m.word.fetch_or(PARKED, Relaxed);
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let me = block::me_id();
                    s.m.lock(me);
                    s.m.unlock(me);
                    s.m.queue.free();
                })
            };
            s.m.unlock(me);
            t.join().unwrap();
        });
    }

    /// As above, with a waiter for the unlock to wake or hand the lock
    /// to, which then destroys the mutex as C's rationale does: the
    /// holder sets a flag under the lock and unlocks; the other thread
    /// locks until it sees the flag, unlocks and destroys it at once,
    /// racing the rest of the holder's unlock. `timed`: the other thread
    /// locks with a deadline, which may pass as the unlock wakes it (or
    /// hands it the lock), so that it leaves the queue on its own.
    fn check_destroy_after_the_last_unlock(starve_ns: u64, timed: bool) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(move || {
            let s = shared(starve_ns);
            let holder = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let me = block::me_id();
                    s.m.lock(me);
                    // SAFETY: under the mutex (loom checks it).
                    s.n.with_mut(|p| unsafe { *p = 1 });
                    s.m.unlock(me);
                })
            };
            let me = block::me_id();
            loop {
                if !(timed && s.m.lock_until(me, Instant::now())) {
                    s.m.lock(me);
                }
                // SAFETY: under the mutex.
                let done = s.n.with(|p| unsafe { *p }) == 1;
                s.m.unlock(me);
                if done {
                    break;
                }
                loom::thread::yield_now();
            }
            s.m.queue.free();
            holder.join().unwrap();
        });
    }

    #[test]
    fn a_woken_waiter_may_destroy_the_mutex_at_once() {
        check_destroy_after_the_last_unlock(u64::MAX, false);
    }

    #[test]
    fn a_waiter_handed_the_lock_may_destroy_the_mutex_at_once() {
        check_destroy_after_the_last_unlock(0, false);
    }

    #[test]
    fn a_timed_waiter_handed_the_lock_may_destroy_the_mutex_at_once() {
        check_destroy_after_the_last_unlock(0, true);
    }

    fn check_unlock_racing_timeout(starve_ns: u64) {
        loom::model(move || {
            let s = shared(starve_ns);
            let me = block::me_id();
            s.m.lock(me);
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let me = block::me_id();
                    let got = s.m.lock_until(me, Instant::now());
                    if got {
                        s.m.unlock(me);
                    }
                    got
                })
            };
            s.m.unlock(me);
            let _ = t.join().unwrap();
            // Whether it timed out or was handed the lock, nothing is left
            // behind: no owner, no queued node, no PARKED left set.
            assert_eq!(s.m.word.load(Relaxed), 0);
            assert!(s.m.queue.lock().is_empty());
        });
    }

    #[test]
    fn unlock_racing_a_timeout_leaves_the_lock_clean() {
        check_unlock_racing_timeout(u64::MAX);
    }

    #[test]
    fn hand_off_racing_a_timeout_is_kept_or_refused_cleanly() {
        check_unlock_racing_timeout(0);
    }

    /// The unlock wakes a timed waiter, the holder barges back in, and the
    /// timed waiter gives up: the wake must pass on to the other waiter,
    /// which must still get the lock.
    #[test]
    fn a_woken_waiter_that_times_out_passes_the_wake_on() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let s = shared(u64::MAX);
            let me = block::me_id();
            s.m.lock(me);
            let timed = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let me = block::me_id();
                    if s.m.lock_until(me, Instant::now()) {
                        s.m.unlock(me);
                    }
                })
            };
            let patient = {
                let s = s.clone();
                loom::thread::spawn(move || increment(&s))
            };
            s.m.unlock(me);
            increment(&s);
            timed.join().unwrap();
            patient.join().unwrap();
            // SAFETY: both lockers have finished (joined): nothing else touches `n`.
            assert_eq!(s.n.with(|p| unsafe { *p }), 2);
            assert_eq!(s.m.word.load(Relaxed), 0);
        });
    }
}

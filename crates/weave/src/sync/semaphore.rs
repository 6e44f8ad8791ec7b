//! [`Semaphore`] (counting) and [`WaitGroup`] (Go's `sync.WaitGroup`): an
//! atomic counter and a `RawCondvar` queue to wait for it in, so waiting
//! blocks only the ULT and shows its own `BlockReason`.
//!
//! Giving back (`release`, a permit's drop, `done`) never blocks: it is an
//! atomic update and then a wake-up under the queue's short lock. Those
//! calls run in destructors, also while a panic unwinds, where switching
//! the ULT out would let other ULTs on its LWP see
//! `std::thread::panicking()`.
//!
//! ## The semaphore's word and protocol
//!
//! `word = permits << 1 | QUEUED`. `QUEUED` is set exactly while the wait
//! queue is not empty, and only changed under the queue lock.
//!
//! 1. **Fast paths**: an acquire CASes permits down only while `QUEUED`
//!    is clear (nobody waits, so taking them is fair); a release CASes
//!    permits up only while `QUEUED` is clear (nobody to wake).
//! 2. **Queue**: under the queue lock the acquirer takes the permits if
//!    enough are free and it would be first in line (nobody queued, or
//!    only lower priorities); else it sets `QUEUED`, links its node
//!    (asking for `n`) and blocks.
//! 3. **Grant pass** (a release with `QUEUED` set, or a waiter that joins
//!    or leaves the queue): under the queue lock, while the waiter that
//!    [`Locked::choose`](super::queue::Locked::choose) names (priority,
//!    FIFO among equals, bounded by age) asks for no more than is free,
//!    take its permits out of the word *for it*, pop it with `GRANTED` and
//!    wake it after the lock is released. So a release of `n` permits
//!    wakes at most `n` waiters, each of which leaves with its permits,
//!    and never a herd that re-checks. Whoever empties the queue clears
//!    `QUEUED`. A release adds its permits and makes the pass's first
//!    step under one hold of the lock, and a pass ends as it empties the
//!    queue (a ping-pong's post: one hold, one wake). The choice reads
//!    the clock only when it needs the time (queue.rs), and a waiter's
//!    arrival stamp is a ticket of the queue, not a time: with one waiter
//!    a post and a wait read no clock at all.
//! 4. A waiter that gives up (timeout) or wakes spuriously unlinks its
//!    node under the lock; if it had been granted meanwhile it keeps the
//!    permits (success). Its leaving may let the next waiter fit, so it
//!    runs a grant pass.
//!
//! No wake-up is lost: a release that sees `QUEUED` clear and adds
//! permits by CAS either precedes the acquirer's check under the queue
//! lock (which then sees the permits) or fails because the acquirer set
//! `QUEUED` first (and the release then takes the slow path, under the
//! lock). Once queued, a waiter is served only by grant passes, and one
//! runs after every change that can let the first waiter fit.

use std::fmt;
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use super::block::{self, BlockReason};
use super::queue::{LazyNow, Locked, Node, Popped};
use super::raw_condvar::RawCondvar;
use super::raw_mutex::STARVE_NS;
use crate::loom::AtomicUsize;

/// The wait queue is not empty.
const QUEUED: usize = 1;
/// One permit in the word.
const PERMIT: usize = 2;
/// The most permits a semaphore can hold (one bit goes to `QUEUED`).
const MAX_PERMITS: usize = usize::MAX >> 1;

/// What the thread table shows while waiting. Under loom the seam's
/// `BlockReason` has only the locks' reasons; the model does not look.
#[cfg(not(loom))]
const SEMAPHORE_WAIT: BlockReason = BlockReason::Semaphore;
#[cfg(not(loom))]
const WAITGROUP_WAIT: BlockReason = BlockReason::WaitGroup;
#[cfg(loom)]
const SEMAPHORE_WAIT: BlockReason = BlockReason::Condvar;
#[cfg(loom)]
const WAITGROUP_WAIT: BlockReason = BlockReason::Condvar;

/// Node result: the permits were taken for this waiter.
const GRANTED: u32 = 1;

pub use crate::thread::id::Interrupted;

/// A counting semaphore whose waits block the calling ULT, not its LWP.
///
/// ```
/// use std::sync::Arc;
/// use weave::sync::Semaphore;
///
/// let slots = Arc::new(Semaphore::new(2));
/// let hs: Vec<_> = (0..8)
///     .map(|_| {
///         let slots = slots.clone();
///         weave::thread::spawn(move || {
///             let _permit = slots.acquire(); // at most 2 threads in here
///         })
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(slots.available_permits(), 2);
/// ```
///
/// Fair: waiters are served by priority, first come first served among
/// equal priorities, and a low-priority waiter passed over for more than
/// 1 ms goes next whatever its priority. Nobody takes permits past a
/// waiter: while anyone waits, [`try_acquire`](Self::try_acquire) fails
/// and `acquire` queues, so a waiter for many permits is not starved by
/// smaller requests (but it holds up the smaller ones behind it until its
/// permits are free). A release of `n` permits wakes at most `n` waiters,
/// and each one it wakes leaves with its permits.
pub struct Semaphore {
    /// `permits << 1 | QUEUED` (module doc).
    word: AtomicUsize,
    waiters: RawCondvar,
}

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
#[must_use = "the permits are released as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Semaphore {
    /// A semaphore with `permits` permits; usable in a `static`.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds `usize::MAX / 2`.
    #[cfg(not(loom))]
    pub const fn new(permits: usize) -> Semaphore {
        assert!(
            permits <= MAX_PERMITS,
            "Semaphore::new: more than usize::MAX / 2 permits"
        );
        Semaphore {
            word: AtomicUsize::new(permits * PERMIT),
            waiters: RawCondvar::new(),
        }
    }

    /// As the `const` one; loom's atomics are not `const`.
    #[cfg(loom)]
    pub fn new(permits: usize) -> Semaphore {
        assert!(permits <= MAX_PERMITS);
        Semaphore {
            word: AtomicUsize::new(permits * PERMIT),
            waiters: RawCondvar::new(),
        }
    }

    /// Takes one permit, blocking until one is free.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, blocking until `n` are free.
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        self.acquire_until(n, None)
            .expect("an acquire without a deadline only returns with permits")
    }

    /// Takes one permit if one is free now and nobody waits.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if `n` are free now and nobody waits (a waiter
    /// comes first: the semaphore is fair).
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let want = n.checked_mul(PERMIT)?;
        let mut cur = self.word.load(Relaxed);
        loop {
            if cur & QUEUED != 0 || cur < want {
                return None;
            }
            // Acquire pairs with the Release of `release`: what the previous
            // holder did before giving the permits back is visible to us.
            match self
                .word
                .compare_exchange_weak(cur, cur - want, Acquire, Relaxed)
            {
                Ok(_) => return Some(SemaphorePermit { sem: self, n }),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes one permit, giving up (`None`) after `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(1, Instant::now().checked_add(timeout))
    }

    /// Takes one permit, giving up (`None`) at `deadline` (if any) or, at a
    /// [`cancellation_point`](crate::thread::cancellation_point), when a
    /// cancellation request for the caller ends the wait.
    pub fn acquire_cancellable(&self, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(1, deadline)
    }

    /// Takes `n` permits, giving up (`None`) after `timeout`.
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(n, Instant::now().checked_add(timeout))
    }

    /// Takes one permit, blocking until one is free or until a signal
    /// handler runs for the calling ULT while it waits (`Err`: POSIX's
    /// `EINTR` of `sem_wait`; the other waits of weave wait on after a
    /// handler, as with `SA_RESTART`).
    pub fn acquire_interruptible(&self) -> Result<SemaphorePermit<'_>, Interrupted> {
        if let Some(p) = self.try_acquire_many(1) {
            return Ok(p);
        }
        let me = block::me();
        // An interruption of an earlier wait is not this one's.
        block::take_signal_interrupt(&me);
        match self.acquire_slow(1, None, true, me) {
            Ok(Some(p)) => Ok(p),
            _ => Err(Interrupted),
        }
    }

    /// As [`acquire_cancellable`](Self::acquire_cancellable), and a signal
    /// handler run for the caller while it waits ends the wait too
    /// (`Err(Interrupted)`: `sem_wait`'s and `sem_timedwait`'s `EINTR`).
    pub fn acquire_cancellable_interruptible(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<SemaphorePermit<'_>>, Interrupted> {
        if let Some(p) = self.try_acquire_many(1) {
            return Ok(Some(p));
        }
        let me = block::me();
        // An interruption of an earlier wait is not this one's.
        block::take_signal_interrupt(&me);
        self.acquire_slow(1, deadline, true, me)
    }

    fn acquire_until(&self, n: usize, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        self.acquire_until_or(n, deadline, false).ok().flatten()
    }

    /// As `acquire_until`; `interruptible`: a signal that ends the wait
    /// ends the call too (`Err`).
    fn acquire_until_or(
        &self,
        n: usize,
        deadline: Option<Instant>,
        interruptible: bool,
    ) -> Result<Option<SemaphorePermit<'_>>, Interrupted> {
        if let Some(p) = self.try_acquire_many(n) {
            return Ok(Some(p));
        }
        self.acquire_slow(n, deadline, interruptible, block::me())
    }

    /// As `acquire_until_or` once the fast path failed; `me` is the
    /// caller, looked up once for the whole wait.
    fn acquire_slow(
        &self,
        n: usize,
        deadline: Option<Instant>,
        interruptible: bool,
        me: block::Me,
    ) -> Result<Option<SemaphorePermit<'_>>, Interrupted> {
        // More than the semaphore can ever hold: wait for the deadline,
        // as for any request that cannot be met.
        let want = n.checked_mul(PERMIT).unwrap_or(usize::MAX & !QUEUED);
        // The ticket of our first queueing (queue.rs, "Arrival stamps"):
        // the semaphore needs its waiters' order, never their age.
        let mut since: Option<u64> = None;
        loop {
            if deadline.is_some_and(block::expired) || block::wait_cancelled(&me) {
                return Ok(None);
            }
            let requeue = since.is_some();
            let node = Node::by_arrival(me.priority, me.id, since).with_need(n);
            let mut took = false;
            let result = self
                .waiters
                .wait_node(SEMAPHORE_WAIT, deadline, &node, requeue, |q| {
                    // Step 2, under the queue lock.
                    let mut cur = self.word.load(Relaxed);
                    loop {
                        // Free permits go to us if nobody queued would be
                        // served before us (we would be first in line).
                        let (new, taking) = if q.would_lead(me.priority) && cur >= want {
                            (cur - want, true)
                        } else {
                            (cur | QUEUED, false)
                        };
                        // Acquire: as in `try_acquire_many` when taking;
                        // setting QUEUED is ordered by the queue lock.
                        match self.word.compare_exchange(cur, new, Acquire, Relaxed) {
                            Ok(_) => {
                                took = taking;
                                return !taking;
                            }
                            Err(actual) => cur = actual,
                        }
                    }
                });
            if took || result == GRANTED {
                // Granted under the queue lock, which we took to unlink:
                // the releaser's writes are visible to us.
                return Ok(Some(SemaphorePermit { sem: self, n }));
            }
            since = Some(node.since());
            // Timed out or woken spuriously: our node is gone, which may
            // let the next waiter fit (step 4).
            self.grant();
            if interruptible && block::take_signal_interrupt(&me) {
                return Err(Interrupted);
            }
        }
    }

    /// Adds `n` permits (new ones, or ones a [`SemaphorePermit::forget`]
    /// kept) and serves the waiters that now fit, first come first served
    /// (module doc). Never blocks.
    ///
    /// # Panics
    ///
    /// If the count would exceed `usize::MAX / 2`.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let add = n
            .checked_mul(PERMIT)
            .expect("Semaphore: permit count overflows");
        let mut cur = self.word.load(Relaxed);
        loop {
            let new = cur
                .checked_add(add)
                .expect("Semaphore: permit count overflows");
            if cur & QUEUED != 0 {
                break;
            }
            // Release pairs with the Acquire of the next taker.
            match self.word.compare_exchange_weak(cur, new, Release, Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        // Waiters: add under the queue lock, so that the grant pass and
        // the waiters' checks see one order of events; the grant pass's
        // first step runs under the same hold.
        let first = self.waiters.with_locked(|q| {
            // Release: as above.
            let prev = self.word.fetch_add(add, Release);
            assert!(
                prev.checked_add(add).is_some(),
                "Semaphore: permit count overflows"
            );
            self.grant_one(q)
        });
        self.grant_from(first);
    }

    /// The grant pass (step 3): serves waiters one at a time, each under
    /// its own hold of the queue lock and woken after it.
    fn grant(&self) {
        let first = self.waiters.with_locked(|q| self.grant_one(q));
        self.grant_from(first);
    }

    /// The rest of a grant pass whose first step gave `step`: wakes the
    /// waiter it popped and goes on while one was popped and others
    /// still wait. It stops at a waiter that does not fit (the next
    /// change of the count or the queue runs a pass of its own), and at
    /// an empty queue without taking the lock again to find it empty.
    fn grant_from(&self, mut step: Option<(Popped, bool)>) {
        while let Some((p, more)) = step {
            p.waiter.wake();
            if !more {
                return;
            }
            step = self.waiters.with_locked(|q| self.grant_one(q));
        }
    }

    /// Takes the permits for the next waiter if they are free, and pops
    /// it; with it, whether others still wait. The time is read only if
    /// the choice needs it (queue.rs): never with a single waiter.
    fn grant_one(&self, q: &mut Locked<'_>) -> Option<(Popped, bool)> {
        let mut now = LazyNow::new();
        let popped = match q.choose_lazy(&mut now, STARVE_NS) {
            Some(c) if c.need.saturating_mul(PERMIT) <= self.word.load(Relaxed) & !QUEUED => {
                // Nobody else takes permits while QUEUED is set (the
                // fast path needs it clear), so they are still free.
                // Relaxed: the waiter synchronises through the queue lock.
                self.word.fetch_sub(c.need * PERMIT, Relaxed);
                Some(q.pop_choice_lazy(c, GRANTED, &mut now))
            }
            _ => None,
        };
        let more = !q.is_empty();
        if !more {
            // Relaxed: QUEUED is ordered by the queue lock.
            self.word.fetch_and(!QUEUED, Relaxed);
        }
        popped.map(|p| (p, more))
    }

    /// Permits free right now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.word.load(Relaxed) / PERMIT
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Keeps the permits taken: they are not given back on drop.
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

#[cfg(not(loom))]
pub use wait_group::WaitGroup;

/// [`WaitGroup`] (not built under loom: its `new` is `const`, and its
/// protocol is `RawCondvar::wait_unless_done`, modelled there).
#[cfg(not(loom))]
mod wait_group {
    use super::*;

    /// A counter of outstanding tasks to wait for, as Go's `sync.WaitGroup`:
    /// [`add`](Self::add) before starting work, [`done`](Self::done) when a
    /// piece finishes, [`wait`](Self::wait) until the count is zero. Waiting
    /// blocks only the calling ULT.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weave::sync::WaitGroup;
    ///
    /// let wg = Arc::new(WaitGroup::new());
    /// for _ in 0..10 {
    ///     wg.add(1);
    ///     let wg = wg.clone();
    ///     weave::thread::spawn(move || wg.done());
    /// }
    /// wg.wait();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub struct WaitGroup {
        count: StdAtomicUsize,
        waiters: RawCondvar,
    }

    impl WaitGroup {
        /// A wait group with a count of zero; usable in a `static`.
        pub const fn new() -> WaitGroup {
            WaitGroup {
                count: StdAtomicUsize::new(0),
                waiters: RawCondvar::new(),
            }
        }

        /// Adds `n` to the count.
        pub fn add(&self, n: usize) {
            // Relaxed: an add must come before the work it counts is started
            // (program order in the adding thread); `wait` synchronises with
            // the `done`s, not with the adds.
            let prev = self.count.fetch_add(n, Relaxed);
            assert!(
                prev.checked_add(n).is_some(),
                "WaitGroup: count overflows usize"
            );
        }

        /// Takes one from the count, waking the waiters when it reaches zero.
        /// Never blocks.
        ///
        /// # Panics
        ///
        /// If the count is already zero (more `done`s than `add`s), as Go's
        /// "negative WaitGroup counter".
        pub fn done(&self) {
            // Release pairs with the Acquire load in `wait`: through the
            // release sequence of these RMWs, a waiter that sees zero sees the
            // work of every `done` before it.
            match self
                .count
                .fetch_update(Release, Relaxed, |c| c.checked_sub(1))
            {
                Ok(1) => {
                    self.waiters.notify_all();
                }
                Ok(_) => {}
                Err(_) => {
                    panic!("WaitGroup::done called with a count of zero: more done() than add()")
                }
            }
        }

        /// Blocks until the count is zero.
        pub fn wait(&self) {
            self.wait_until(None);
        }

        /// Blocks until the count is zero or `timeout` passes; true if zero.
        pub fn wait_timeout(&self, timeout: Duration) -> bool {
            self.wait_until(Instant::now().checked_add(timeout))
        }

        fn wait_until(&self, deadline: Option<Instant>) -> bool {
            // Acquire: see `done`.
            while self.count.load(Acquire) != 0 {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return false;
                }
                // Relaxed: under the queue lock, which the last `done` takes
                // after its store (module doc).
                self.waiters
                    .wait_unless_done(WAITGROUP_WAIT, deadline, || self.count.load(Relaxed) != 0);
            }
            true
        }

        /// The current count (a snapshot).
        pub fn count(&self) -> usize {
            self.count.load(Relaxed)
        }
    }

    impl Default for WaitGroup {
        fn default() -> Self {
            WaitGroup::new()
        }
    }

    impl fmt::Debug for WaitGroup {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("WaitGroup")
                .field("count", &self.count())
                .finish()
        }
    }
}

/// Model checks of the semaphore word and its grant pass
/// (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib --release`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// A release races an acquirer queueing (step 2 against step 1): the
    /// acquirer must get the permit, and nothing is left queued.
    #[test]
    fn a_release_racing_a_queueing_acquirer_loses_no_wake_up() {
        loom::model(|| {
            let s = Arc::new(Semaphore::new(0));
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || s.acquire().forget())
            };
            s.release(1);
            t.join().unwrap();
            assert_eq!(s.word.load(Relaxed), 0);
        });
    }

    /// A timed acquirer gives up while a release grants it (step 4): the
    /// permit is either its own or back in the word, never lost.
    #[test]
    fn a_release_racing_a_timeout_keeps_the_permit() {
        loom::model(|| {
            let s = Arc::new(Semaphore::new(0));
            let t = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let got = s.acquire_until(1, Some(Instant::now()));
                    got.map(SemaphorePermit::forget).is_some()
                })
            };
            s.release(1);
            let got = t.join().unwrap();
            let left = s.word.load(Relaxed);
            assert_eq!(left, if got { 0 } else { PERMIT });
        });
    }
}

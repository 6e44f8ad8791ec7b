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
//! No wake-up is lost: a waiter checks the counter under the queue lock
//! before it queues (`RawCondvar::wait_unless_done`), and every update
//! that could release it is stored before the notify takes that lock.

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use super::block::BlockReason;
use super::raw_condvar::RawCondvar;

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
/// Not FIFO: a thread arriving while permits are free takes them even if
/// others wait (as most semaphores, it keeps the hand-over cheap). A
/// waiter for several permits (`acquire_many`) can therefore wait for as
/// long as smaller requests keep the count low. A release wakes every
/// waiter to re-check (any of them might now fit): cheap for the usual
/// handful of waiters, a thundering herd with hundreds.
pub struct Semaphore {
    permits: AtomicUsize,
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
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: AtomicUsize::new(permits),
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

    /// Takes one permit if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if `n` are free now.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        // Acquire pairs with the Release of `release`: what the previous
        // holder did before giving the permits back is visible to us.
        self.permits
            .fetch_update(Acquire, Relaxed, |p| p.checked_sub(n))
            .ok()
            .map(|_| SemaphorePermit { sem: self, n })
    }

    /// Takes one permit, giving up (`None`) after `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(1, Instant::now().checked_add(timeout))
    }

    /// Takes `n` permits, giving up (`None`) after `timeout`.
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(n, Instant::now().checked_add(timeout))
    }

    fn acquire_until(&self, n: usize, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        loop {
            if let Some(p) = self.try_acquire_many(n) {
                return Some(p);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            // Relaxed: read under the queue lock, which `release` takes
            // after its store (module doc).
            self.waiters
                .wait_unless_done(BlockReason::Semaphore, deadline, || {
                    self.permits.load(Relaxed) < n
                });
        }
    }

    /// Adds `n` permits (new ones, or ones a [`SemaphorePermit::forget`]
    /// kept) and wakes the waiters to re-check. Never blocks.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Release pairs with the Acquire of `try_acquire_many`.
        let prev = self.permits.fetch_add(n, Release);
        assert!(
            prev.checked_add(n).is_some(),
            "Semaphore: permit count overflows usize"
        );
        self.waiters.notify_all();
    }

    /// Permits free right now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.permits.load(Relaxed)
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
    count: AtomicUsize,
    waiters: RawCondvar,
}

impl WaitGroup {
    /// A wait group with a count of zero; usable in a `static`.
    pub const fn new() -> WaitGroup {
        WaitGroup {
            count: AtomicUsize::new(0),
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
                .wait_unless_done(BlockReason::WaitGroup, deadline, || {
                    self.count.load(Relaxed) != 0
                });
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

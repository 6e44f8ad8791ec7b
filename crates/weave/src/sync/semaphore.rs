//! [`Semaphore`] (counting) and [`WaitGroup`] (Go's `sync.WaitGroup`): a
//! counter under a weave [`Mutex`] and a [`Condvar`] to wait for it, so
//! waiting blocks only the ULT and shows its own `BlockReason`.

use std::fmt;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::block::BlockReason;
use super::{Condvar, Mutex, MutexGuard};

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
/// long as smaller requests keep the count low.
pub struct Semaphore {
    state: Mutex<SemState>,
    cv: Condvar,
}

struct SemState {
    permits: usize,
    /// Threads in the wait loop of `acquire*`.
    waiters: usize,
    /// Of those, the ones wanting more than one permit: while there are
    /// any, a release wakes everyone (any of them might now fit).
    many_waiters: usize,
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
            state: Mutex::new(SemState {
                permits,
                waiters: 0,
                many_waiters: 0,
            }),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SemState> {
        // No user code runs under this lock: poison cannot mean anything.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        let mut st = self.lock();
        (st.permits >= n).then(|| {
            st.permits -= n;
            SemaphorePermit { sem: self, n }
        })
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
        let mut st = self.lock();
        if st.permits < n {
            st.waiters += 1;
            st.many_waiters += usize::from(n > 1);
            while st.permits < n {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                st = self.cv.wait_for(st, BlockReason::Semaphore, deadline);
            }
            st.waiters -= 1;
            st.many_waiters -= usize::from(n > 1);
            if st.permits < n {
                return None;
            }
        }
        st.permits -= n;
        Some(SemaphorePermit { sem: self, n })
    }

    /// Adds `n` permits (new ones, or ones a [`SemaphorePermit::forget`]
    /// kept) and wakes waiters they may satisfy.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut st = self.lock();
        st.permits = st
            .permits
            .checked_add(n)
            .expect("Semaphore: permit count overflows usize");
        let (waiters, many) = (st.waiters, st.many_waiters);
        drop(st);
        // Waking after the unlock is safe: a waiter that saw the old count
        // queued before it released the lock (condvar protocol).
        if many > 0 {
            self.cv.notify_all();
        } else {
            // Single-permit waiters only: one wake per permit is enough.
            for _ in 0..n.min(waiters) {
                self.cv.notify_one();
            }
        }
    }

    /// Permits free right now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.lock().permits
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
    count: Mutex<usize>,
    cv: Condvar,
}

impl WaitGroup {
    /// A wait group with a count of zero; usable in a `static`.
    pub const fn new() -> WaitGroup {
        WaitGroup {
            count: Mutex::new(0),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // No user code runs under this lock.
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `n` to the count.
    pub fn add(&self, n: usize) {
        let mut c = self.lock();
        *c = c.checked_add(n).expect("WaitGroup: count overflows usize");
    }

    /// Takes one from the count, waking the waiters when it reaches zero.
    ///
    /// # Panics
    ///
    /// If the count is already zero (more `done`s than `add`s), as Go's
    /// "negative WaitGroup counter".
    pub fn done(&self) {
        let mut c = self.lock();
        let Some(n) = c.checked_sub(1) else {
            drop(c);
            panic!("WaitGroup::done called with a count of zero: more done() than add()");
        };
        *c = n;
        drop(c);
        if n == 0 {
            self.cv.notify_all();
        }
    }

    /// Blocks until the count is zero.
    pub fn wait(&self) {
        let mut c = self.lock();
        while *c > 0 {
            c = self.cv.wait_for(c, BlockReason::WaitGroup, None);
        }
    }

    /// Blocks until the count is zero or `timeout` passes; true if zero.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut c = self.lock();
        while *c > 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            c = self.cv.wait_for(c, BlockReason::WaitGroup, deadline);
        }
        true
    }

    /// The current count (a snapshot).
    pub fn count(&self) -> usize {
        *self.lock()
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

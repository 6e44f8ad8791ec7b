//! [`Condvar`]: `std::sync::Condvar`'s shape over weave's [`Mutex`]
//! (`raw_condvar.rs` has the protocol).
//!
//! A wait blocks only the calling ULT (an OS thread parks); the mutex is
//! released once the waiter is queued, so a notify that follows the
//! release always reaches it.

use std::fmt;
use std::sync::LockResult;
use std::time::{Duration, Instant};

use super::block::BlockReason;
use super::mutex::{MutexGuard, RawLock};
use super::poison::map_result;
use super::raw_condvar::RawCondvar;

/// A condition variable that blocks the calling ULT, not its LWP.
///
/// Same API as [`std::sync::Condvar`], used with [`weave::sync::Mutex`]
/// guards. As with std, a wait may return without a notify (a spurious
/// wake-up): wait in a loop, or use [`wait_while`](Self::wait_while).
///
/// ```
/// use std::sync::Arc;
/// use weave::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// weave::thread::spawn(move || {
///     let (ready, cv) = &*pair2;
///     *ready.lock().unwrap() = true;
///     cv.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// let guard = cv.wait_while(ready.lock().unwrap(), |r| !*r).unwrap();
/// assert!(*guard);
/// ```
///
/// Waiters are woken highest priority first, then in the order they
/// started waiting.
///
/// [`weave::sync::Mutex`]: super::Mutex
pub struct Condvar {
    raw: RawCondvar,
}

/// Whether a timed condvar wait ended because its time ran out.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout elapsed (and no notify
    /// chose this waiter).
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable; usable in a `static`.
    #[must_use]
    pub const fn new() -> Condvar {
        Condvar {
            raw: RawCondvar::new(),
        }
    }

    /// Releases the guard's mutex, blocks until notified, and re-takes the
    /// mutex. May also return spuriously. `Err` (holding the guard) if the
    /// mutex is poisoned when re-taken.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        guard.unlocked_while(|raw, owner| self.raw.wait(raw, owner, None, BlockReason::Condvar));
        let poisoned = guard.lock.is_poisoned();
        map_result(poisoned, guard)
    }

    /// Waits while `condition` holds: returns with the mutex held and the
    /// condition false. Spurious wake-ups are absorbed here.
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`wait`](Self::wait), giving up after `dur`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = Instant::now().checked_add(dur);
        let notified = guard
            .unlocked_while(|raw, owner| self.raw.wait(raw, owner, deadline, BlockReason::Condvar));
        let timed_out = !notified && deadline.is_some_and(|d| Instant::now() >= d);
        let poisoned = guard.lock.is_poisoned();
        map_result(poisoned, (guard, WaitTimeoutResult(timed_out)))
    }

    /// Waits while `condition` holds, for at most `dur` in all. The result
    /// says whether time ran out with the condition still true.
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(dur);
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            guard.unlocked_while(|raw, owner| {
                self.raw.wait(raw, owner, deadline, BlockReason::Condvar)
            });
            if guard.lock.is_poisoned() {
                return Err(std::sync::PoisonError::new((
                    guard,
                    WaitTimeoutResult(false),
                )));
            }
        }
    }

    /// As [`wait_timeout`](Self::wait_timeout), with a [`RawLock`] the
    /// caller holds instead of a guard, and a deadline (`None`: no limit).
    /// The lock is released once the caller is queued and held again when
    /// this returns. May return spuriously.
    ///
    /// # Panics
    ///
    /// If the caller does not hold `lock`.
    pub fn wait_raw(&self, lock: &RawLock, deadline: Option<Instant>) -> WaitTimeoutResult {
        let me = super::block::me_id();
        assert!(
            lock.raw().holder() == me,
            "Condvar::wait_raw: the caller does not hold the lock"
        );
        let notified = self
            .raw
            .wait(lock.raw(), me, deadline, BlockReason::Condvar);
        WaitTimeoutResult(!notified && deadline.is_some_and(|d| Instant::now() >= d))
    }

    /// Whether a thread is blocked in a wait on this condition variable
    /// and no notify has chosen it yet (a thread that was notified, or
    /// whose wait timed out and has left the queue, is not counted, even
    /// before it has taken its lock back). A snapshot: a wait may begin or
    /// end as this returns. The C API's `pthread_cond_destroy` answers
    /// `EBUSY` by it.
    ///
    /// ```
    /// use weave::sync::Condvar;
    /// assert!(!Condvar::new().has_waiters());
    /// ```
    pub fn has_waiters(&self) -> bool {
        self.raw.has_waiters()
    }

    /// Wakes one waiter (the highest-priority, longest-waiting one), if any.
    pub fn notify_one(&self) {
        self.raw.notify_one();
    }

    /// Wakes every thread waiting now.
    pub fn notify_all(&self) {
        self.raw.notify_all();
    }
}

impl Condvar {
    /// For the primitives built on a `Mutex` + `Condvar` pair (semaphore,
    /// wait group, barrier, once, rwlock): one wait that shows `reason` in
    /// the TCB and gives up at `deadline`. Their internal mutexes guard
    /// only counters no user code runs under, so poison is ignored.
    pub(super) fn wait_for<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        reason: BlockReason,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, T> {
        guard.unlocked_while(|raw, owner| self.raw.wait(raw, owner, deadline, reason));
        guard
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

//! [`Mutex`]: `std::sync::Mutex`'s shape on weave's adaptive lock word
//! (`raw_mutex.rs` has the word's table and protocol).
//!
//! A contended `lock` spins only while the holder runs on another LWP;
//! otherwise the caller queues and blocks: on a ULT only the ULT blocks and
//! its LWP runs other threads; on an OS thread, the thread parks.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};
use std::time::{Duration, Instant};

use super::block;
use super::poison::{self, map_result};
use super::raw_mutex::RawMutex;

/// A mutual-exclusion lock that blocks the calling ULT, not its LWP.
///
/// Same API and poisoning rules as [`std::sync::Mutex`]:
///
/// ```
/// use std::sync::Arc;
/// use weave::sync::Mutex;
///
/// let total = Arc::new(Mutex::new(0u64));
/// let handles: Vec<_> = (0..100)
///     .map(|_| {
///         let total = total.clone();
///         weave::thread::spawn(move || {
///             for _ in 0..100 {
///                 *total.lock().unwrap() += 1;
///             }
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*total.lock().unwrap(), 10_000);
/// ```
///
/// Holding a `std::sync::Mutex` across a weave blocking call (a `lock` of
/// this mutex, `sleep`, `join`, a condvar wait...) can deadlock an LWP: the
/// ULT blocks with the std lock held, the LWP runs another ULT that asks
/// for the same std lock, and the kernel blocks the whole LWP, so the
/// holder, placed on that LWP, never runs to release it. Use this mutex for
/// anything held across a blocking call; a std lock is only safe around
/// code that cannot switch.
///
/// Not reentrant: locking it again on the thread that holds it deadlocks
/// (debug builds catch it in the slow path).
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one thread at a time, so
// the mutex may be shared and sent whenever T may be sent (as std).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    pub(crate) lock: &'a Mutex<T>,
    /// The owner id the lock word records for us. Whether we were
    /// panicking when we took the lock is in the poison flag, which is
    /// ours while we hold the lock (`poison.rs`), not here: the guard is
    /// two words, and the lock and the unlock keep nothing between them.
    owner: u32,
    /// `!Send`: the word records the locking thread as owner.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a guard only gives `&T` to other threads that share it.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex; usable in a `static`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, consuming the mutex; `Err` (with the data) if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        map_result(poisoned, self.data.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the lock is ours. `Err` (holding the guard) if a thread
    /// panicked while holding it.
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let me = block::me_id();
        self.raw.lock(me);
        self.guard(me)
    }

    /// Takes the lock if nobody holds it, without blocking.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let me = block::me_id();
        if self.raw.try_lock(me) {
            Ok(self.guard(me)?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// As [`lock`](Self::lock), but gives up after `timeout`
    /// (`WouldBlock`). A weave extension: std's Mutex has no timed lock.
    /// On a ULT only the ULT waits.
    pub fn try_lock_for(&self, timeout: Duration) -> TryLockResult<MutexGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            None => Ok(self.lock()?),
        }
    }

    /// As [`try_lock_for`](Self::try_lock_for), with a deadline.
    pub fn try_lock_until(&self, deadline: Instant) -> TryLockResult<MutexGuard<'_, T>> {
        let me = block::me_id();
        if self.raw.lock_until(me, deadline) {
            Ok(self.guard(me)?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Called with the lock just taken.
    #[inline]
    fn guard(&self, owner: u32) -> LockResult<MutexGuard<'_, T>> {
        let poisoned = self.poison.locked();
        let guard = MutexGuard {
            lock: self,
            owner,
            _not_send: PhantomData,
        };
        map_result(poisoned, guard)
    }

    /// The guard's drop, while its thread panics (`poison.rs`).
    #[cold]
    #[inline(never)]
    fn unlocking_panicking(&self) {
        self.poison.unlocking_panicking();
    }

    /// Whether a thread panicked while holding the lock.
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        map_result(poisoned, self.data.get_mut())
    }
}

/// The lock of a [`Mutex`] with no data, no guard and no poisoning: the
/// same word and protocol (adaptive spin, queue, hand-off), locked and
/// unlocked by separate calls. For callers whose lock and unlock are not
/// one Rust scope, such as the C API's `pthread_mutex_lock` and
/// `pthread_mutex_unlock`; Rust code should use [`Mutex`].
///
/// The holder is the thread that locked it: [`unlock`](Self::unlock) from
/// any other thread does nothing and says so.
///
/// ```
/// use weave::sync::RawLock;
///
/// let lock = RawLock::new();
/// lock.lock();
/// assert!(lock.is_held_by_current());
/// assert!(!lock.try_lock());
/// assert!(lock.unlock());
/// assert!(!lock.unlock()); // not held any more
/// ```
pub struct RawLock {
    raw: RawMutex,
}

impl RawLock {
    /// A new unlocked lock; usable in a `static`.
    #[must_use]
    pub const fn new() -> RawLock {
        RawLock {
            raw: RawMutex::new(),
        }
    }

    /// Blocks (the ULT, or the OS thread) until the lock is the caller's.
    /// Not reentrant: locking it again on the thread that holds it
    /// deadlocks (debug builds catch it in the slow path).
    #[inline]
    pub fn lock(&self) {
        self.raw.lock(block::me_id());
    }

    /// Takes the lock if nobody holds it, without blocking.
    #[inline]
    pub fn try_lock(&self) -> bool {
        self.raw.try_lock(block::me_id())
    }

    /// As [`lock`](Self::lock), giving up at `deadline`; true if taken.
    pub fn lock_until(&self, deadline: Instant) -> bool {
        self.raw.lock_until(block::me_id(), deadline)
    }

    /// Releases the lock if the caller holds it, waking a waiter if any;
    /// false (and nothing changes) if the caller does not hold it.
    #[inline]
    pub fn unlock(&self) -> bool {
        self.raw.unlock_if_held(block::me_id())
    }

    /// Whether the calling thread holds the lock.
    #[inline]
    pub fn is_held_by_current(&self) -> bool {
        self.raw.holder() == block::me_id()
    }

    /// Whether some thread holds the lock (a moment's answer).
    pub fn is_locked(&self) -> bool {
        self.raw.holder() != 0
    }

    /// The word, for the condvar's wait.
    pub(super) fn raw(&self) -> &RawMutex {
        &self.raw
    }
}

impl Default for RawLock {
    fn default() -> Self {
        RawLock::new()
    }
}

impl fmt::Debug for RawLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawLock")
            .field("locked", &self.is_locked())
            .finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&**e.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get())
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, uniquely.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> MutexGuard<'_, T> {
    /// For the condvar: runs `wait` (which releases the lock word for
    /// owner id, and takes it again before it returns) with the guard
    /// alive, keeping the guard's poison state out of the flag while
    /// others may hold the lock.
    pub(super) fn unlocked_while<R>(&self, wait: impl FnOnce(&RawMutex, u32) -> R) -> R {
        let mine = self.lock.poison.unlocking_for_a_wait();
        let r = wait(&self.lock.raw, self.owner);
        self.lock.poison.relocked(mine);
        r
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    /// std's panic check, then the unlock; the poisoning itself out of
    /// line, called with the mutex's address, which the caller has at hand
    /// (with the flag's, the compiler kept that address on the stack
    /// across the critical section: two instructions a lock).
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.lock.unlocking_panicking();
        }
        self.lock.raw.unlock(self.owner);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

//! [`RwLock`]: `std::sync::RwLock`'s shape on weave's reader-writer word
//! (`raw_rwlock.rs` has its table and protocol), with readers and writers
//! in alternating phases.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{LockResult, TryLockError, TryLockResult};
use std::time::{Duration, Instant};

use super::poison::{self, map_result};
use super::raw_rwlock::RawRwLock;

/// A reader-writer lock that blocks the calling ULT, not its LWP.
///
/// Same API and poisoning as [`std::sync::RwLock`] (a writer that panics
/// poisons it; a reader does not). Readers and writers take turns in
/// phases: once a writer waits, new readers wait behind it, so readers
/// cannot starve writers; and a writer's unlock lets in every reader
/// waiting at that moment before the next writer, so writers cannot
/// starve readers (std's lock on Linux, writer-preferring, can). As with
/// std, a thread that already holds a read lock and asks for another may
/// deadlock behind a waiting writer.
///
/// ```
/// use std::sync::Arc;
/// use weave::sync::RwLock;
///
/// let config = Arc::new(RwLock::new(String::from("v1")));
/// let c = config.clone();
/// weave::thread::spawn(move || *c.write().unwrap() = String::from("v2"))
///     .join()
///     .unwrap();
/// assert_eq!(*config.read().unwrap(), "v2");
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: writers get `&mut T` one at a time (needs `T: Send`), readers
// share `&T` across threads (needs `T: Sync`), as std.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: sending the lock sends the data.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

/// Shared access to the data of a read-locked [`RwLock`].
///
/// Covariant in `T`, as std's: it only reads, so a guard of
/// `RwLock<&'static str>` may be used where one of `RwLock<&'a str>` is
/// expected.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    /// The data, as a pointer rather than `&RwLock<T>` (whose `UnsafeCell`
    /// would make the guard invariant). Also makes the guard `!Send`, as
    /// std's.
    data: NonNull<T>,
    raw: &'a RawRwLock,
}

// SAFETY: the guard only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// Unique access to the data of a write-locked [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock; usable in a `static`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawRwLock::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, consuming the lock; `Err` (with the data) if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        map_result(poisoned, self.data.into_inner())
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Blocks until no writer holds or waits for the lock, then takes a
    /// shared lock. `Err` (holding the guard) if poisoned.
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.raw.read();
        self.read_guard()
    }

    /// Takes a shared lock if that needs no wait.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.try_read() {
            Ok(self.read_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// As [`read`](Self::read), preferring readers: gets in whenever no
    /// writer *holds* the lock, even while writers wait, so a thread that
    /// already holds a read lock can take another without deadlocking
    /// behind a waiting writer. A stream of such readers can starve
    /// writers (glibc's `PTHREAD_RWLOCK_PREFER_READER_NP`, which the C
    /// layer's rwlocks use by default). `Err` (holding the guard) if
    /// poisoned.
    pub fn read_preferring(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.raw.read_preferring();
        self.read_guard()
    }

    /// As [`try_read`](Self::try_read), preferring readers: fails only
    /// if a writer holds the lock (see
    /// [`read_preferring`](Self::read_preferring)).
    pub fn try_read_preferring(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.try_read_preferring() {
            Ok(self.read_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Blocks until the lock is free, then takes it exclusively. `Err`
    /// (holding the guard) if poisoned.
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.raw.write();
        self.write_guard()
    }

    /// Takes the exclusive lock if nobody holds the lock.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if self.raw.try_write() {
            Ok(self.write_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// As [`read`](Self::read), but gives up after `timeout`
    /// (`WouldBlock`). A weave extension, as
    /// [`Mutex::try_lock_for`](super::Mutex::try_lock_for): std's RwLock
    /// has no timed lock. On a ULT only the ULT waits; the wait is a block,
    /// not a poll.
    pub fn try_read_for(&self, timeout: Duration) -> TryLockResult<RwLockReadGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_read_until(deadline),
            None => Ok(self.read()?),
        }
    }

    /// As [`try_read_for`](Self::try_read_for), with a deadline.
    pub fn try_read_until(&self, deadline: Instant) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.read_until(false, deadline) {
            Ok(self.read_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// As [`try_read_until`](Self::try_read_until), preferring readers
    /// (see [`read_preferring`](Self::read_preferring)): it waits only
    /// while a writer holds the lock.
    pub fn try_read_preferring_until(
        &self,
        deadline: Instant,
    ) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.read_until(true, deadline) {
            Ok(self.read_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// As [`write`](Self::write), but gives up after `timeout`
    /// (`WouldBlock`). A writer that gives up lets the readers queued
    /// behind it in, as if it had never asked.
    pub fn try_write_for(&self, timeout: Duration) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_write_until(deadline),
            None => Ok(self.write()?),
        }
    }

    /// As [`try_write_for`](Self::try_write_for), with a deadline.
    pub fn try_write_until(&self, deadline: Instant) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if self.raw.write_until(deadline) {
            Ok(self.write_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    fn read_guard(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        map_result(self.poison.get(), RwLockReadGuard::new(self))
    }

    fn write_guard(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let guard = RwLockWriteGuard {
            lock: self,
            poison: self.poison.guard(),
            _not_send: PhantomData,
        };
        map_result(self.poison.get(), guard)
    }

    /// Whether a writer panicked while holding the lock.
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

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&**e.get_ref()),
            Err(TryLockError::WouldBlock) => d.field(
                "data",
                &format_args!(
                    "<{}>",
                    if self.raw.is_write_locked() {
                        "write-locked"
                    } else {
                        "writer waiting"
                    }
                ),
            ),
        };
        d.field("poisoned", &self.poison.get())
            .finish_non_exhaustive()
    }
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// The guard of a read lock the caller has just taken on `lock`.
    fn new(lock: &'a RwLock<T>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            // SAFETY: `UnsafeCell::get` never returns null.
            data: unsafe { NonNull::new_unchecked(lock.data.get()) },
            raw: &lock.raw,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves a shared lock is held: no writer; the
        // pointer is to the lock's data, alive for 'a.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.raw.read_unlock();
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns this write lock into a read lock atomically: no writer can
    /// take the lock in between, so the reader sees exactly what this
    /// writer left (as [`std::sync::RwLockWriteGuard::downgrade`]).
    /// Readers that were waiting may enter alongside, unless a writer
    /// waits (writer preference).
    ///
    /// If the thread is panicking now, and was not when it took the write
    /// lock, the lock is poisoned here, as a dropped write guard would.
    ///
    /// ```
    /// use weave::sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write().unwrap();
    /// *w += 1;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_read().is_ok(), "other readers share it now");
    /// ```
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        // The write guard's drop would unlock; the read guard takes over.
        let s = ManuallyDrop::new(s);
        let lock = s.lock;
        lock.poison.done(&s.poison);
        lock.raw.downgrade();
        RwLockReadGuard::new(lock)
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the exclusive lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the exclusive lock is held, uniquely.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        self.lock.raw.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

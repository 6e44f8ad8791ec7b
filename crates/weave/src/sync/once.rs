//! [`Once`] and [`OnceLock`]: one-time initialisation where a thread that
//! arrives while another initialises blocks its ULT (not the LWP) until
//! the initialiser is done. [`LazyLock`](super::LazyLock) is built on
//! [`Once`] in `lazy_lock.rs`.
//!
//! ## States of `Once::state`
//!
//! | state        | meaning                                   | set by                           |
//! |--------------|-------------------------------------------|----------------------------------|
//! | `INCOMPLETE` | nobody has run the initialiser to the end | `new`; a panicked OnceLock init (retry) |
//! | `RUNNING`    | one thread runs it; others wait in `queue` | a CAS from INCOMPLETE (or POISONED, for `call_once_force`) |
//! | `COMPLETE`   | done; final                               | the initialiser, on return       |
//! | `POISONED`   | a `call_once`/`call_once_force` initialiser panicked | the initialiser, unwinding |
//!
//! Only the thread in RUNNING leaves it, by a store followed by
//! `notify_all`. A waiter (a caller that found RUNNING, or `wait`) checks
//! the state under the queue lock before it queues
//! (`RawCondvar::wait_unless_done`), so the store-then-notify cannot slip
//! between its check and its block. The finisher never blocks (it runs
//! while unwinding, where a switch would let other ULTs on the LWP see
//! `std::thread::panicking()`), and takes only the queue's short lock. The
//! Release store of COMPLETE pairs with the Acquire load of
//! `is_completed`, which then sees the initialiser's writes (the
//! `OnceLock` value).
//!
//! This module owns the state word and the wait for it; it does not touch
//! the scheduler except through `RawCondvar`.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::block::BlockReason;
use super::raw_condvar::RawCondvar;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;
const POISONED: u8 = 3;

/// std's message for a poisoned `Once`, kept word for word so that code
/// matching on it ports unchanged.
const POISONED_MSG: &str = "Once instance has previously been poisoned";

/// Runs an initialiser exactly once, as [`std::sync::Once`]; callers that
/// arrive while it runs block their ULT until it is done.
///
/// ```
/// use weave::sync::Once;
///
/// static INIT: Once = Once::new();
/// let hs: Vec<_> = (0..8)
///     .map(|_| weave::thread::spawn(|| INIT.call_once(|| println!("once"))))
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert!(INIT.is_completed());
/// ```
///
/// If the initialiser panics the `Once` is poisoned: later `call_once`s
/// and [`wait`](Self::wait)s panic, as std's, while
/// [`call_once_force`](Self::call_once_force) runs its initialiser anyway
/// and can complete it. Calling `call_once` from inside its own
/// initialiser deadlocks.
pub struct Once {
    state: AtomicU8,
    /// The callers waiting for RUNNING to end, and `wait`ers.
    queue: RawCondvar,
}

// std's `Once` is unwind-safe: a panic in the initialiser leaves it in a
// defined state (POISONED, or INCOMPLETE for a `OnceLock`), never half-set.
impl UnwindSafe for Once {}
impl RefUnwindSafe for Once {}

/// What [`Once::call_once_force`] tells its initialiser, as
/// [`std::sync::OnceState`].
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initialiser of this `Once` panicked (this call
    /// is then the retry).
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl fmt::Debug for OnceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceState")
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

/// What the slow path does with a POISONED state, and what a panic of the
/// initialiser leaves behind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `call_once`: panic on POISONED; a panic poisons.
    Once,
    /// `call_once_force`: run on POISONED; a panic poisons (again).
    Force,
    /// `OnceLock`: never POISONED; a panic resets to INCOMPLETE, so the
    /// next caller runs its own initialiser.
    Retry,
}

impl Once {
    /// A new `Once`; usable in a `static`.
    #[must_use]
    pub const fn new() -> Once {
        Once {
            state: AtomicU8::new(INCOMPLETE),
            queue: RawCondvar::new(),
        }
    }

    /// Runs `f` if no call has completed yet; returns once some call has.
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned (an earlier initialiser panicked), or
    /// becomes so while this call waits.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(Mode::Once, &mut |_| {
            (f.take().expect("the initialiser runs once"))()
        });
    }

    /// As [`call_once`](Self::call_once), but a poisoned `Once` does not
    /// panic: `f` runs, told by [`OnceState::is_poisoned`] that an earlier
    /// initialiser panicked, and if it returns the `Once` is complete. If
    /// `f` panics too, the `Once` stays poisoned. As
    /// [`std::sync::Once::call_once_force`].
    ///
    /// ```
    /// use std::panic::catch_unwind;
    /// use weave::sync::Once;
    ///
    /// static INIT: Once = Once::new();
    /// let _ = catch_unwind(|| INIT.call_once(|| panic!("first try fails")));
    /// INIT.call_once_force(|state| assert!(state.is_poisoned()));
    /// assert!(INIT.is_completed());
    /// ```
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(Mode::Force, &mut |state| {
            (f.take().expect("the initialiser runs once"))(state)
        });
    }

    /// Whether some call has completed (without panicking).
    #[inline]
    pub fn is_completed(&self) -> bool {
        // Acquire pairs with the Release store of COMPLETE in `Finish`.
        self.state.load(Acquire) == COMPLETE
    }

    /// Blocks (the ULT only) until some call has completed the `Once`;
    /// as [`std::sync::Once::wait`]. It does not run anything itself.
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned, or becomes so while this call waits; use
    /// [`wait_force`](Self::wait_force) to wait through poisoning.
    pub fn wait(&self) {
        if !self.is_completed() {
            self.wait_slow(false);
        }
    }

    /// Blocks (the ULT only) until some call has completed the `Once`,
    /// waiting through a poisoned state (until a
    /// [`call_once_force`](Self::call_once_force) completes it); as
    /// [`std::sync::Once::wait_force`].
    pub fn wait_force(&self) {
        if !self.is_completed() {
            self.wait_slow(true);
        }
    }

    #[cold]
    fn wait_slow(&self, ignore_poison: bool) {
        loop {
            // Acquire: a COMPLETE seen here pairs with the Release in
            // `Finish`, so the caller sees what the initialiser wrote.
            match self.state.load(Acquire) {
                COMPLETE => return,
                POISONED if !ignore_poison => panic!("{POISONED_MSG}"),
                _ => {}
            }
            self.queue.wait_unless_done(BlockReason::Once, None, || {
                // Relaxed: under the queue lock, which `Finish` takes
                // after its store (module doc).
                match self.state.load(Relaxed) {
                    COMPLETE => false,
                    POISONED => ignore_poison,
                    _ => true,
                }
            });
        }
    }

    /// The slow path of every initialising call (module doc's table).
    #[cold]
    fn call(&self, mode: Mode, f: &mut dyn FnMut(&OnceState)) {
        // Acquire: a COMPLETE seen here pairs with the Release in `Finish`.
        let mut cur = self.state.load(Acquire);
        loop {
            match cur {
                COMPLETE => return,
                RUNNING => {
                    self.queue.wait_unless_done(BlockReason::Once, None, || {
                        self.state.load(Relaxed) == RUNNING
                    });
                    cur = self.state.load(Acquire);
                }
                POISONED if mode == Mode::Once => panic!("{POISONED_MSG}"),
                _ => {
                    // Acquire: as above (on failure we may read COMPLETE);
                    // on success nothing was published yet.
                    match self.state.compare_exchange(cur, RUNNING, Acquire, Acquire) {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
            }
        }
        // On every way out of `f`, record the outcome and wake the waiters.
        let finish = Finish {
            once: self,
            on_unwind: if mode == Mode::Retry {
                INCOMPLETE
            } else {
                POISONED
            },
        };
        f(&OnceState {
            poisoned: cur == POISONED,
        });
        finish.set(COMPLETE);
        std::mem::forget(finish);
    }

    /// Whether an initialiser panicked and nobody has completed it since.
    pub(super) fn is_poisoned(&self) -> bool {
        self.state.load(Relaxed) == POISONED
    }

    /// Sets the state through a unique borrow (no waiter can exist): what
    /// `LazyLock::force_mut` records. Only INCOMPLETE, COMPLETE, POISONED.
    pub(super) fn set_exclusive(&mut self, complete: bool) {
        *self.state.get_mut() = if complete { COMPLETE } else { POISONED };
    }
}

/// Ends a `RUNNING` state: `COMPLETE` on return, or (dropped during
/// unwinding) poisoned / reset for a retry. Never blocks.
struct Finish<'a> {
    once: &'a Once,
    on_unwind: u8,
}

impl Finish<'_> {
    fn set(&self, state: u8) {
        // Release pairs with the Acquire loads of `is_completed` and
        // `call`: a reader that sees COMPLETE sees what the initialiser
        // wrote. Stored before the notify (module doc).
        self.once.state.store(state, Release);
        self.once.queue.notify_all();
    }
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.set(self.on_unwind);
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish_non_exhaustive()
    }
}

/// A cell written once, as [`std::sync::OnceLock`]; a thread that asks for
/// the value while another computes it blocks its ULT until it is there.
///
/// ```
/// use weave::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let v = weave::thread::spawn(|| CONFIG.get_or_init(|| "loaded".to_owned()).len())
///     .join()
///     .unwrap();
/// assert_eq!(v, 6);
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
///
/// If the initialiser panics, the cell stays empty and the next caller
/// runs its own initialiser (std's rule); nothing is poisoned.
///
/// Invariant in `T`, as std's: a shared `&OnceLock<&'static str>` seen as
/// a `&OnceLock<&'a str>` could be [`set`](Self::set) to a short-lived
/// string that the first owner would then read as `'static`. So this does
/// not compile (nor does it with `std::sync::OnceLock`):
///
/// ```compile_fail
/// use weave::sync::OnceLock;
///
/// fn shorten<'a>(cell: OnceLock<&'static str>) -> OnceLock<&'a str> {
///     cell
/// }
/// ```
pub struct OnceLock<T> {
    once: Once,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the thread that won `once`, before
// the Release store of COMPLETE; afterwards it is only read (`&T`), so
// sharing needs `T: Sync`, and since any thread may be the one to create
// it (or drop it), `T: Send`, as std.
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}
// SAFETY: sending the cell sends the value.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell; usable in a `static`.
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if it has been set.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: COMPLETE is stored only after the value was written,
            // and `is_completed`'s Acquire makes the write visible.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, through a unique borrow.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            // SAFETY: as in `get`; `&mut self` excludes other access.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// The value, computing it with `f` if nobody has yet. If another
    /// thread is computing it, blocks (the ULT only) until it is there.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let mut f = Some(f);
        let slot = self.value.get();
        self.once.call(Mode::Retry, &mut |_| {
            let v = (f.take().expect("the initialiser runs once"))();
            // SAFETY: we are the one thread in RUNNING, so nobody else
            // reads or writes the slot until COMPLETE is published.
            unsafe { (*slot).write(v) };
        });
        self.get().expect("call returns only once COMPLETE")
    }

    /// Blocks (the ULT only) until the cell has a value, then returns it;
    /// as [`std::sync::OnceLock::wait`]. It computes nothing itself: some
    /// other thread must [`set`](Self::set) it or run
    /// [`get_or_init`](Self::get_or_init). An initialiser that panics
    /// leaves the cell empty, and this goes on waiting.
    pub fn wait(&self) -> &T {
        self.once.wait_force();
        self.get().expect("wait_force returns only once COMPLETE")
    }

    /// Sets the value if empty; `Err(value)` if it was already set.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("set's initialiser runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        if !self.once.is_completed() {
            return None;
        }
        // Unique access: reset first, so drop sees an empty cell.
        self.once = Once::new();
        // SAFETY: the cell was COMPLETE, so the value is initialised, and
        // the reset above means nobody will read or drop it again.
        Some(unsafe { self.value.get_mut().assume_init_read() })
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: COMPLETE means initialised, and `&mut self` in drop
            // is the last access.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

// As std: a panic in an initialiser leaves the cell empty, never
// half-written, so sharing it across `catch_unwind` is sound whenever the
// value itself is.
impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}

/// A new cell holding a clone of the value, if there is one (a cell being
/// initialised meanwhile is cloned empty).
impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> Self {
        let cell = OnceLock::new();
        if let Some(v) = self.get() {
            let _ = cell.set(v.clone());
        }
        cell
    }
}

/// Equal when both are empty, or both hold equal values.
impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

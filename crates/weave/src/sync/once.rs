//! [`Once`] and [`OnceLock`]: one-time initialisation where a thread that
//! arrives while another initialises blocks its ULT (not the LWP) until
//! the initialiser is done.
//!
//! ## States of `Once::state`
//!
//! | state        | meaning                                   | set by                           |
//! |--------------|-------------------------------------------|----------------------------------|
//! | `INCOMPLETE` | nobody has run the initialiser to the end | `new`; a panicked OnceLock init (retry) |
//! | `RUNNING`    | one thread runs it; others wait in `queue` | a CAS from INCOMPLETE (or POISONED, retrying) |
//! | `COMPLETE`   | done; final                               | the initialiser, on return       |
//! | `POISONED`   | a `call_once` initialiser panicked        | the initialiser, unwinding       |
//!
//! Only the thread in RUNNING leaves it, by a store followed by
//! `notify_all`. A waiter checks for RUNNING under the queue lock before
//! it queues (`RawCondvar::wait_unless_done`), so the store-then-notify
//! cannot slip between its check and its block. The finisher never blocks
//! (it runs while unwinding, where a switch would let other ULTs on the
//! LWP see `std::thread::panicking()`), and takes only the queue's short
//! lock. The Release store of COMPLETE pairs with the Acquire load of
//! `is_completed`, which then sees the initialiser's writes (the
//! `OnceLock` value).

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::block::BlockReason;
use super::raw_condvar::RawCondvar;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;
const POISONED: u8 = 3;

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
/// panic, as std's. Calling `call_once` from inside its own initialiser
/// deadlocks.
pub struct Once {
    state: AtomicU8,
    /// The callers waiting for RUNNING to end.
    queue: RawCondvar,
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
        self.call(false, &mut || {
            (f.take().expect("the initialiser runs once"))()
        });
    }

    /// Whether some `call_once` has completed (without panicking).
    #[inline]
    pub fn is_completed(&self) -> bool {
        // Acquire pairs with the Release store of COMPLETE in `Finish`.
        self.state.load(Acquire) == COMPLETE
    }

    /// The slow path. With `retry`, a poisoned or panicked initialisation
    /// is run again by the next caller (OnceLock's rule) instead of
    /// poisoning.
    #[cold]
    fn call(&self, retry: bool, f: &mut dyn FnMut()) {
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
                POISONED if !retry => {
                    panic!("Once instance has previously been poisoned")
                }
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
            on_unwind: if retry { INCOMPLETE } else { POISONED },
        };
        f();
        finish.set(COMPLETE);
        std::mem::forget(finish);
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
        self.once.call(true, &mut || {
            let v = (f.take().expect("the initialiser runs once"))();
            // SAFETY: we are the one thread in RUNNING, so nobody else
            // reads or writes the slot until COMPLETE is published.
            unsafe { (*slot).write(v) };
        });
        self.get().expect("call returns only once COMPLETE")
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

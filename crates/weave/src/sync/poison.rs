//! Poisoning, as `std::sync`: a lock whose holder panicked is marked, and
//! later lockers get their guard inside a [`PoisonError`](std::sync::PoisonError).
//!
//! The flag is set when a guard is dropped while its thread unwinds from a
//! panic that started after the guard was taken. `std::thread::panicking`
//! answers for the calling ULT even when another ULT on the same LWP is
//! blocked mid-unwind: weave moves std's panic count with each ULT at every
//! switch (`thread/panic.rs`).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

pub(crate) struct Flag(AtomicBool);

/// Whether the thread was already panicking when it took the guard.
pub(crate) struct Guard {
    panicking: bool,
}

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    /// Relaxed: the flag is read and written under the lock it belongs to,
    /// whose own orderings publish it.
    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.0.load(Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Relaxed);
    }

    #[inline]
    pub(crate) fn guard(&self) -> Guard {
        Guard {
            panicking: std::thread::panicking(),
        }
    }

    /// The global panic count first (std's `panicking()` reads it before
    /// anything of the thread's own): while no thread panics, the whole
    /// check is that load and a branch.
    #[inline]
    pub(crate) fn done(&self, guard: &Guard) {
        if std::thread::panicking() && !guard.panicking {
            self.0.store(true, Relaxed);
        }
    }
}

/// `Ok(t)` unless `poisoned`, as std's `LockResult`.
pub(crate) fn map_result<T>(poisoned: bool, t: T) -> std::sync::LockResult<T> {
    if poisoned {
        Err(std::sync::PoisonError::new(t))
    } else {
        Ok(t)
    }
}

//! Poisoning, as `std::sync`: a lock whose holder panicked is marked, and
//! later lockers get their guard inside a [`PoisonError`](std::sync::PoisonError).
//!
//! The flag is set when a guard is dropped while its thread unwinds from a
//! panic that started after the guard was taken. `std::thread::panicking`
//! answers for the calling ULT even when another ULT on the same LWP is
//! blocked mid-unwind: weave moves std's panic count with each ULT at every
//! switch (`thread/panic.rs`).
//!
//! Whether the holder was already panicking when it took the lock is
//! recorded in one of two ways:
//!
//! - a [`Guard`] of its own, for locks that several may hold at once (the
//!   rwlock's readers);
//! - for a lock one thread holds at a time (the mutex), the flag's
//!   [`TAKEN_PANICKING`] bit, written only by the holder: the mutex's guard
//!   then carries nothing, and its lock and unlock keep no value of it
//!   between the two (on the fast path the bit is never written).
//!
//! Both read std's panic state twice per guard, as std does, at the lock
//! and at the drop: the drop needs to know whether the thread panics now,
//! and only the lock can know whether it panicked then (a lock taken and
//! released inside a destructor that runs during an unwind does not
//! poison).
//!
//! | bit | set when | set by | cleared by |
//! |---|---|---|---|
//! | [`POISONED`] | a holder's guard was dropped during a panic that started after its lock | that holder, as it drops the guard | `clear_poison`, by anyone |
//! | [`TAKEN_PANICKING`] | the mutex's holder was panicking when it took it | the holder, after its lock | the holder, at its unlock (or, if it unlocked without panicking, the next holder at its lock); moved aside by a condvar wait while the lock is released |

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// The lock is poisoned.
const POISONED: u8 = 1;
/// The mutex's holder was panicking when it took the lock (mutex only).
const TAKEN_PANICKING: u8 = 2;

/// Relaxed throughout: the flag is written under the lock it belongs to,
/// whose own orderings publish it, except by `clear`, which is a
/// read-modify-write (as every write is) so that no bit is lost.
pub(crate) struct Flag(AtomicU8);

/// Whether the thread was already panicking when it took the guard.
pub(crate) struct Guard {
    panicking: bool,
}

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag(AtomicU8::new(0))
    }

    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.0.load(Relaxed) & POISONED != 0
    }

    pub(crate) fn clear(&self) {
        self.0.fetch_and(!POISONED, Relaxed);
    }

    #[cold]
    fn poison(&self) {
        self.0.fetch_or(POISONED, Relaxed);
    }

    /// For a lock many may hold: what the guard must remember.
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
            self.poison();
        }
    }

    /// For the mutex, by its new holder right after the lock: records
    /// whether it is panicking (`TAKEN_PANICKING`) and says whether the
    /// lock is poisoned. While nobody panics and the lock is clean, one
    /// load of the flag and std's check, with nothing written.
    #[inline]
    pub(crate) fn locked(&self) -> bool {
        let f = self.0.load(Relaxed);
        if f != 0 || std::thread::panicking() {
            return self.locked_slow();
        }
        false
    }

    /// Out of line, the flag read again: the fast path keeps nothing for
    /// it (passing the flag's value or address made the compiler keep them
    /// across the critical section, an instruction or two a lock).
    #[cold]
    #[inline(never)]
    fn locked_slow(&self) -> bool {
        let f = self.0.load(Relaxed);
        // A holder that took the lock while panicking and let go of it
        // after its panic was over left its bit: not ours.
        let ours = if std::thread::panicking() {
            TAKEN_PANICKING
        } else {
            0
        };
        if f & TAKEN_PANICKING != ours {
            self.0.fetch_xor(TAKEN_PANICKING, Relaxed);
        }
        f & POISONED != 0
    }

    /// For the mutex, by its holder just before the unlock, if it panics
    /// now (the guard's drop asks std): poisons the lock unless the holder
    /// was panicking when it took it.
    #[cold]
    pub(crate) fn unlocking_panicking(&self) {
        let f = self.0.fetch_and(!TAKEN_PANICKING, Relaxed);
        if f & TAKEN_PANICKING == 0 {
            self.poison();
        }
    }

    /// For a condvar wait, by the mutex's holder before it lets the lock
    /// go with its guard alive: takes its `TAKEN_PANICKING` bit out of the
    /// flag (others hold the lock meanwhile), to give it back to
    /// [`relocked`](Self::relocked).
    #[inline]
    pub(crate) fn unlocking_for_a_wait(&self) -> u8 {
        let mine = self.0.load(Relaxed) & TAKEN_PANICKING;
        if mine != 0 {
            self.0.fetch_and(!TAKEN_PANICKING, Relaxed);
        }
        mine
    }

    /// After the wait, with the lock held again: the guard's bit back, in
    /// place of whatever a holder meanwhile left.
    #[inline]
    pub(crate) fn relocked(&self, mine: u8) {
        let f = self.0.load(Relaxed);
        if f & TAKEN_PANICKING != mine {
            self.0.fetch_xor(TAKEN_PANICKING, Relaxed);
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

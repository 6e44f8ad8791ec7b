//! Robust mutexes (`PTHREAD_MUTEX_ROBUST`): what happens to a mutex whose
//! owner exits while holding it.
//!
//! Owns each thread's list of the robust mutexes it holds and a robust
//! mutex's consistency state. It must not lock or queue: the mutex's lock
//! word and kinds are `mutex.rs`'s.
//!
//! A thread that takes a robust mutex adds it to its list (a
//! `weave::thread_local!`, per ULT, or per OS thread); its unlock takes it
//! out. When the thread exits (returns, `pthread_exit`, cancellation),
//! the list's destructor, which weave runs on the exiting thread after
//! the key destructors and before `join` returns, marks each mutex still
//! held inconsistent and releases its lock word, so the next locker (a
//! waiter, woken by that release, or a later one) gets it with
//! `EOWNERDEAD`:
//!
//! | state | a lock that takes the word answers | set by |
//! |-------|------------------------------------|--------|
//! | `CONSISTENT` | 0 | init, `pthread_mutex_consistent` |
//! | `INCONSISTENT` | `EOWNERDEAD`, held | the owner's exit with it held |
//! | `UNRECOVERABLE` | `ENOTRECOVERABLE`, not held (every later call too, without waiting) | an unlock of an inconsistent mutex |
//!
//! A process that exits ends every thread at once: only a mutex in that
//! process is robust here (process-shared mutexes are not covered).

use std::cell::RefCell;
use std::ffi::c_int;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::Relaxed;

use crate::mutex::CMutex;

const CONSISTENT: u8 = 0;
const INCONSISTENT: u8 = 1;
const UNRECOVERABLE: u8 = 2;

/// A robust mutex's state (module doc). Relaxed: read and written only by
/// the thread that holds the mutex's lock word, whose lock and unlock
/// order them; `is_unrecoverable` is a hint before waiting, checked again
/// once the word is held.
pub(crate) struct Robust(AtomicU8);

impl Robust {
    pub(crate) fn new() -> Robust {
        Robust(AtomicU8::new(CONSISTENT))
    }

    pub(crate) fn is_unrecoverable(&self) -> bool {
        self.0.load(Relaxed) == UNRECOVERABLE
    }

    pub(crate) fn owner_died(&self) {
        self.0.store(INCONSISTENT, Relaxed);
    }

    pub(crate) fn make_consistent(&self) {
        self.0.store(CONSISTENT, Relaxed);
    }
}

/// The robust mutexes this thread holds, released at its exit.
struct Held(RefCell<Vec<*const CMutex>>);

impl Drop for Held {
    fn drop(&mut self) {
        for m in self.0.take() {
            // SAFETY: a mutex this thread holds: destroying it is EBUSY
            // and freeing its memory while held is undefined (POSIX), so
            // it is alive.
            let m = unsafe { &*m };
            if !m.abandon() {
                crate::fatal("a robust mutex in a thread's list is not held by it at its exit");
            }
        }
    }
}

weave_rt::thread_local! {
    static HELD: Held = const { Held(RefCell::new(Vec::new())) };
}

fn remember(m: &CMutex) {
    // A lock taken by a destructor that runs after the list's own (the
    // thread is ending) is not remembered: that lock stays held, as a
    // stalled mutex's would.
    let _ = HELD.try_with(|h| h.0.borrow_mut().push(std::ptr::from_ref(m)));
}

fn forget(m: &CMutex) {
    let p = std::ptr::from_ref(m);
    // During the thread's own exit the list is being emptied: nothing to
    // forget then.
    let _ = HELD.try_with(|h| {
        let mut h = h.0.borrow_mut();
        if let Some(i) = h.iter().rposition(|&q| q == p) {
            h.swap_remove(i);
        }
    });
}

/// The answer of a lock that has just taken `m`'s lock word (module doc).
pub(crate) fn acquired(m: &CMutex) -> c_int {
    match m.robust_state().0.load(Relaxed) {
        UNRECOVERABLE => {
            m.release_word();
            libc::ENOTRECOVERABLE
        }
        state => {
            remember(m);
            if state == INCONSISTENT {
                libc::EOWNERDEAD
            } else {
                0
            }
        }
    }
}

/// After a condition wait took `m`'s lock word back (it stayed in the
/// list meanwhile): as [`acquired`].
pub(crate) fn reacquired(m: &CMutex) -> c_int {
    match m.robust_state().0.load(Relaxed) {
        UNRECOVERABLE => {
            forget(m);
            m.release_word();
            libc::ENOTRECOVERABLE
        }
        INCONSISTENT => libc::EOWNERDEAD,
        _ => 0,
    }
}

/// The last unlock of `m` by its holder, before the word is released: an
/// inconsistent mutex becomes unrecoverable (POSIX: unlocked without
/// `pthread_mutex_consistent`).
pub(crate) fn releasing(m: &CMutex) {
    let s = &m.robust_state().0;
    if s.load(Relaxed) == INCONSISTENT {
        s.store(UNRECOVERABLE, Relaxed);
    }
    forget(m);
}

/// `pthread_mutex_consistent` on a robust mutex the caller holds.
pub(crate) fn consistent(m: &CMutex) -> c_int {
    let s = &m.robust_state().0;
    if s.load(Relaxed) != INCONSISTENT {
        return libc::EINVAL;
    }
    s.store(CONSISTENT, Relaxed);
    0
}

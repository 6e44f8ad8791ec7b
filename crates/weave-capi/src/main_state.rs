//! The main thread's join state (`thread.rs`): whether `main` is
//! joinable, being joined, detached or joined.
//!
//! Owns the state word's steps and their loom model; the wait for
//! `main`'s `pthread_exit` and its value are `thread.rs`'s (a semaphore's
//! permit, released after the value is stored, orders them). `main` is no
//! C thread (it is not in the registry of `joinable.rs`), but POSIX lets
//! another thread detach it or join it, once.
//!
//! | word       | meaning | left by |
//! |------------|---------|---------|
//! | `JOINABLE` | nobody joins or detached it | the start, a fork child's reset, a join that gave up ([`end_join`](MainState::end_join)`(false)`) |
//! | `JOINING`  | a join is under way (a second one is `EINVAL`, a detach too) | a join's CAS ([`begin_join`](MainState::begin_join)) |
//! | `DETACHED` | a detach took it (a join or detach is then `EINVAL`) | a detach's CAS ([`detach`](MainState::detach)) |
//! | `JOINED`   | a join took its value (`ESRCH` from then on) | the join ([`end_join`](MainState::end_join)`(true)`) |
//!
//! Only the CASes out of `JOINABLE` race: a join and a detach, or two
//! joins, and one wins. `JOINING` is left by the one join that holds it,
//! with a store. Nothing is published through the word (the value rides
//! on the permit), so every access is `Relaxed`.

use std::ffi::c_int;
use std::sync::atomic::Ordering::Relaxed;

#[cfg(loom)]
use loom::sync::atomic::AtomicU8;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU8;

const JOINABLE: u8 = 0;
const JOINING: u8 = 1;
const DETACHED: u8 = 2;
const JOINED: u8 = 3;

pub(crate) struct MainState(AtomicU8);

impl MainState {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> MainState {
        MainState(AtomicU8::new(JOINABLE))
    }

    #[cfg(loom)]
    pub(crate) fn new() -> MainState {
        MainState(AtomicU8::new(JOINABLE))
    }

    /// `pthread_detach` of `main`: 0, `ESRCH` once joined, `EINVAL` if
    /// detached already or being joined.
    pub(crate) fn detach(&self) -> c_int {
        match self
            .0
            .compare_exchange(JOINABLE, DETACHED, Relaxed, Relaxed)
        {
            Ok(_) => 0,
            Err(JOINED) => libc::ESRCH,
            Err(_) => libc::EINVAL,
        }
    }

    /// A join of `main` starts: 0 (the caller then waits and must call
    /// [`end_join`](Self::end_join)), `ESRCH` once joined, `EINVAL` if
    /// detached or another join is under way.
    pub(crate) fn begin_join(&self) -> c_int {
        match self.0.compare_exchange(JOINABLE, JOINING, Relaxed, Relaxed) {
            Ok(_) => 0,
            Err(JOINED) => libc::ESRCH,
            Err(_) => libc::EINVAL,
        }
    }

    /// The join that [`begin_join`](Self::begin_join) started ends: it
    /// took `main`'s value (`joined`), or gave up (a timeout, `EBUSY`, a
    /// cancellation) and leaves `main` joinable.
    pub(crate) fn end_join(&self, joined: bool) {
        debug_assert_eq!(self.0.load(Relaxed), JOINING, "no join under way");
        self.0
            .store(if joined { JOINED } else { JOINABLE }, Relaxed);
    }

    /// Whether a detach took `main` (for `pthread_getattr_np`).
    pub(crate) fn is_detached(&self) -> bool {
        self.0.load(Relaxed) == DETACHED
    }

    /// In a child of `fork`: the forking thread is the child's `main`,
    /// joinable.
    pub(crate) fn reset(&self) {
        self.0.store(JOINABLE, Relaxed);
    }
}

/// Joins and a detach race for `main`: exactly one party takes it out of
/// `JOINABLE` at a time; a join that gives up lets the others in again;
/// once a join took the value, everyone gets `ESRCH`
/// (`RUSTFLAGS="--cfg loom" cargo test -p weave-capi --lib --release
/// main_state`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    #[test]
    fn a_join_and_a_detach_race_and_exactly_one_wins() {
        loom::model(|| {
            let s = Arc::new(MainState::new());
            let detacher = {
                let s = s.clone();
                loom::thread::spawn(move || s.detach())
            };
            let joined = s.begin_join();
            if joined == 0 {
                s.end_join(true);
            }
            let detached = detacher.join().unwrap();
            // One of the two succeeded; the other saw it (EINVAL for a
            // detached or joining main, ESRCH for a joined one).
            match (joined, detached) {
                (0, e) => {
                    assert!(e == libc::EINVAL || e == libc::ESRCH);
                    assert!(!s.is_detached());
                    assert_eq!(s.begin_join(), libc::ESRCH);
                }
                (libc::EINVAL, 0) => assert!(s.is_detached()),
                other => panic!("both or neither took main: {other:?}"),
            }
        });
    }

    #[test]
    fn two_joins_one_of_which_gives_up() {
        loom::model(|| {
            let s = Arc::new(MainState::new());
            let timed = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let r = s.begin_join();
                    if r == 0 {
                        s.end_join(false); // timed out
                    }
                    r
                })
            };
            let mine = s.begin_join();
            if mine == 0 {
                s.end_join(true);
            }
            let theirs = timed.join().unwrap();
            // Two joins never run at once: the loser saw one under way
            // (EINVAL) or done (ESRCH).
            assert!(mine == 0 || mine == libc::EINVAL);
            assert!(theirs == 0 || theirs == libc::EINVAL || theirs == libc::ESRCH);
            // `main` ends joined if the taking join ran; else (it lost to
            // the one that gave up) joinable, and a detach now succeeds.
            if mine == 0 {
                assert_eq!(s.detach(), libc::ESRCH);
            } else {
                assert_eq!(theirs, 0);
                assert_eq!(s.detach(), 0);
            }
        });
    }
}

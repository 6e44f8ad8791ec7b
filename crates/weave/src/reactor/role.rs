//! The poller role: which thread may collect the reactor's events, and the
//! note an idle LWP leaves when it finds the role held (the lock-free part
//! of "who polls", model-checked under loom).
//!
//! One thread at a time holds the role: an idle LWP sleeping in
//! `epoll_wait`, a busy LWP polling without blocking between picks, or
//! the monitor on its tick. An idle LWP that finds the role held sleeps on
//! its futex instead. If the holder was only polling for an instant, it
//! then goes back to running ULTs, and nobody waits in the reactor until a
//! busy LWP's next poll or the monitor's next tick: the readiness of a
//! socket waits there (`http_hello` at 100 connections: ~2,000 such sleeps
//! a second, and the monitor's tick collected 0.3-7% of all events).
//!
//! So the idle LWP notes the miss ([`Role::claim_or_note_miss`]) and tries
//! once more; the holder's [`Role::release`] reports a noted miss, and the
//! caller then wakes a sleeping LWP, which takes the role when it idles
//! again. A SeqCst fence on each side (Dekker): either the second try sees
//! the role free, or the release sees the note. No miss is lost.
//!
//! This file names nothing of weave's: the callers do the polling and the
//! waking.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::loom::{fence, AtomicBool};

/// The poller role and its miss note.
pub(crate) struct Role {
    held: AtomicBool,
    missed: AtomicBool,
}

impl Role {
    pub(crate) fn new() -> Role {
        Role {
            held: AtomicBool::new(false),
            missed: AtomicBool::new(false),
        }
    }

    /// Claims the role; false if another thread holds it.
    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        // Acquire pairs with the Release in `release`: the new holder sees
        // what the last one did with the events.
        !self.held.load(Relaxed)
            && self
                .held
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
    }

    /// For a thread about to sleep without the role: notes that it missed
    /// the role, then claims it if the holder let go meanwhile. True: the
    /// caller holds the role now. False: the holder's `release` will report
    /// the miss.
    pub(crate) fn claim_or_note_miss(&self) -> bool {
        self.missed.store(true, Relaxed);
        // Pairs with the fence in `release` (Dekker): either our claim
        // below sees the role free, or the holder's load sees the note.
        fence(SeqCst);
        self.try_claim()
    }

    /// Gives the role up. True if a thread missed it since the last
    /// release and may sleep with nobody polling: the caller must wake a
    /// sleeping LWP. The note is consumed (one wake per miss at most).
    pub(crate) fn release(&self) -> bool {
        self.held.store(false, Release);
        // Pairs with the fence in `claim_or_note_miss` (and with the fence
        // an idle LWP issues between announcing its sleep and claiming the
        // role, for the monitor's fallback: see `Reactor::poll_unattended`).
        fence(SeqCst);
        self.missed.load(Relaxed) && self.missed.swap(false, Relaxed)
    }

    /// Nobody holds the role and nobody missed it: after a `fork`, in the
    /// child, whose only thread holds nothing.
    pub(crate) fn reset(&self) {
        self.held.store(false, Relaxed);
        self.missed.store(false, Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_role_has_one_holder_at_a_time() {
        let r = Role::new();
        assert!(r.try_claim());
        assert!(!r.try_claim());
        assert!(!r.release());
        assert!(r.try_claim());
    }

    #[test]
    fn a_miss_is_reported_by_the_next_release_only() {
        let r = Role::new();
        assert!(r.try_claim());
        assert!(!r.claim_or_note_miss(), "the role is held");
        assert!(r.release(), "the miss is reported");
        assert!(r.try_claim());
        assert!(!r.release(), "one report per miss");
    }

    #[test]
    fn a_free_role_is_claimed_instead_of_missed() {
        let r = Role::new();
        assert!(r.claim_or_note_miss());
        assert!(!r.try_claim());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// A holder lets go of the role while an idle thread, finding it held,
    /// notes the miss and tries again. Every interleaving ends with the
    /// idle thread holding the role, or the holder told to wake it: never
    /// asleep with nobody polling and nobody told.
    #[test]
    fn a_miss_is_never_lost() {
        loom::model(|| {
            let r = Arc::new(Role::new());
            assert!(r.try_claim());
            let holder = {
                let r = r.clone();
                loom::thread::spawn(move || r.release())
            };
            let claimed = r.try_claim() || r.claim_or_note_miss();
            let told = holder.join().unwrap();
            assert!(claimed || told, "the idle thread sleeps and nobody polls");
        });
    }

    /// The mutation the fences are there for: without them the model must
    /// find the lost miss.
    #[test]
    #[should_panic(expected = "nobody polls")]
    fn without_the_fences_a_miss_can_be_lost() {
        loom::model(|| {
            let r = Arc::new(Role::new());
            assert!(r.try_claim());
            let holder = {
                let r = r.clone();
                loom::thread::spawn(move || {
                    r.held.store(false, Release);
                    r.missed.swap(false, Relaxed)
                })
            };
            let claimed = r.try_claim() || {
                r.missed.store(true, Relaxed);
                r.try_claim()
            };
            let told = holder.join().unwrap();
            assert!(claimed || told, "the idle thread sleeps and nobody polls");
        });
    }
}

//! The state word of a registry entry (`thread.rs`): whose join handle the
//! entry of a thread-table index holds, and whether a join (or a detach)
//! has it out.
//!
//! Owns the word's steps and their loom model; the handle itself and
//! what the steps mean for POSIX are `thread.rs`'s. A joinable C thread's
//! id is held (`Builder::hold_id`) until it is joined or detached, so its
//! index names no other thread meanwhile: one word per index.
//!
//! The word is the thread's generation (the high half of its `pthread_t`,
//! the low half being the index the entry is kept at) and two bits:
//!
//! | word           | meaning                                      | left by |
//! |----------------|----------------------------------------------|---------|
//! | `0`, or `gen`  | no entry for `gen`                           | [`remove`](Joinable::remove) (a join or a detach that took the handle) |
//! | `gen\|JOINABLE` | the entry holds `gen`'s handle               | [`publish`](Joinable::publish) (the creator), [`unclaim`](Joinable::unclaim) |
//! | `gen\|JOINABLE\|CLAIMED` | a join or a detach has the handle out | [`claim`](Joinable::claim) |
//!
//! **One RMW per create+join.** Only `claim` is an RMW (a CAS): two joins,
//! or a join and a detach, may race for the handle, and one must lose.
//! Every other step is a store by the one party the word lets write it: the
//! creator, before anyone can know the entry is there (the index was free:
//! the last entry at it was removed before its id was let go of); the
//! claimer, while `CLAIMED` keeps everyone else to loads and failing CASes.
//! (The spin lock this replaces took three: a create's store, a join's
//! claim and its removal.)

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;

const JOINABLE: u64 = 1;
const CLAIMED: u64 = 2;
/// The generation half of a `pthread_t` (the index half is the entry's).
const GEN: u64 = !0xffff_ffff;

/// Why [`Joinable::claim`] refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The entry is not that thread's: detached, joined, or never a
    /// joinable C thread (or a stale id).
    NotJoinable,
    /// Another join (or a detach) has the handle out.
    Claimed,
}

pub(crate) struct Joinable(AtomicU64);

impl Joinable {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Joinable {
        Joinable(AtomicU64::new(0))
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Joinable {
        Joinable(AtomicU64::new(0))
    }

    /// The creator, having stored `t`'s handle in the entry.
    #[inline]
    pub(crate) fn publish(&self, t: u64) {
        // Release: pairs with `claim`'s Acquire: the handle is seen.
        self.0.store(t & GEN | JOINABLE, Release);
    }

    /// Whether the entry is `t`'s (its handle there, or out with a join).
    #[inline]
    pub(crate) fn is(&self, t: u64) -> bool {
        let w = self.0.load(Relaxed);
        w & GEN == t & GEN && w & JOINABLE != 0
    }

    /// Takes the right to `t`'s handle: the caller may move it out of the
    /// entry, and must end with [`unclaim`](Self::unclaim) or
    /// [`remove`](Self::remove).
    #[inline]
    pub(crate) fn claim(&self, t: u64) -> Result<(), Refused> {
        let free = t & GEN | JOINABLE;
        // Acquire: pairs with the Release of `publish` or `unclaim`: the
        // handle they left is seen.
        match self
            .0
            .compare_exchange(free, free | CLAIMED, Acquire, Relaxed)
        {
            Ok(_) => Ok(()),
            Err(w) if w == free | CLAIMED => Err(Refused::Claimed),
            Err(_) => Err(Refused::NotJoinable),
        }
    }

    /// The claimer, having put `t`'s handle back: joinable again.
    pub(crate) fn unclaim(&self, t: u64) {
        // Release: pairs with the next claimer's Acquire.
        self.0.store(t & GEN | JOINABLE, Release);
    }

    /// The claimer, having taken the handle for good: no entry. Before the
    /// id is let go of (the index's next thread publishes after).
    #[inline]
    pub(crate) fn remove(&self) {
        // Relaxed: the next `publish` at this index comes after the id is
        // let go of, which orders it after this; everyone else only fails
        // to claim.
        self.0.store(0, Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const T: u64 = 7 << 32 | 5;

    #[test]
    fn one_claim_at_a_time_and_none_after_removal() {
        let j = Joinable::new();
        assert_eq!(j.claim(T), Err(Refused::NotJoinable));
        j.publish(T);
        assert!(j.is(T) && !j.is(8 << 32 | 5), "another generation");
        assert_eq!(j.claim(8 << 32 | 5), Err(Refused::NotJoinable));
        assert_eq!(j.claim(T), Ok(()));
        assert!(j.is(T), "a claimed entry is still the thread's");
        assert_eq!(j.claim(T), Err(Refused::Claimed));
        j.unclaim(T);
        assert_eq!(j.claim(T), Ok(()));
        j.remove();
        assert!(!j.is(T));
        assert_eq!(j.claim(T), Err(Refused::NotJoinable));
    }
}

/// Two claimants race for a published handle (a join that gives it back,
/// as a timed join does, and one that takes it): one at a time has it, a
/// give-back is seen by the next, and a taken one is gone
/// (`RUSTFLAGS="--cfg loom" cargo test -p weave-capi --lib --release
/// joinable`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    const T: u64 = 3 << 32 | 1;

    struct Entry {
        word: Joinable,
        handle: UnsafeCell<Option<u32>>,
    }

    #[test]
    fn one_claimant_at_a_time_has_the_handle() {
        loom::model(|| {
            let e = Arc::new(Entry {
                word: Joinable::new(),
                handle: UnsafeCell::new(None),
            });
            let creator = {
                let e = e.clone();
                loom::thread::spawn(move || {
                    // SAFETY: nobody claims before the publish.
                    e.handle.with_mut(|h| unsafe { *h = Some(9) });
                    e.word.publish(T);
                })
            };
            let giver = {
                let e = e.clone();
                loom::thread::spawn(move || {
                    if e.word.claim(T).is_ok() {
                        // SAFETY: claimed.
                        let h = e.handle.with_mut(|h| unsafe { (*h).take() });
                        assert_eq!(h, Some(9));
                        // SAFETY: still claimed.
                        e.handle.with_mut(|p| unsafe { *p = h });
                        e.word.unclaim(T);
                    }
                })
            };
            let taken = if e.word.claim(T).is_ok() {
                // SAFETY: claimed.
                let h = e.handle.with_mut(|h| unsafe { (*h).take() });
                assert_eq!(h, Some(9));
                e.word.remove();
                true
            } else {
                false
            };
            creator.join().unwrap();
            giver.join().unwrap();
            if taken {
                assert!(!e.word.is(T));
            } else {
                // SAFETY: every thread is done.
                assert_eq!(e.handle.with(|h| unsafe { *h }), Some(9));
            }
        });
    }
}

//! The join packet's state word: who may touch the waiter slot, who owns
//! (and so drops) the thread's result, and who frees the packet. See
//! `packet.rs` for the protocol as a whole; this file holds its atomic
//! steps and their loom model.
//!
//! | bit        | set by                       | meaning                                               |
//! |------------|------------------------------|-------------------------------------------------------|
//! | `WAITING`  | the joiner                   | its waiter is stored in the packet                    |
//! | `HANDED`   | the ULT, before exit         | the result belongs to the handle's side now           |
//! | `DETACHED` | the handle, on drop          | nobody will take the result                           |
//! | `DONE`     | the ULT, after exit          | the thread has exited and let go of the packet        |
//! | `GONE`     | the handle, after `DETACHED` | a handle that detached after `HANDED` let go, too     |
//!
//! There is no reference count: the word says who touches the packet
//! still. The ULT lets go with the RMW that sets DONE, so a handle that
//! sees DONE is the packet's only user, and frees it with no further RMW
//! (a join's common case: the wait saw DONE). The ULT frees it instead if
//! the handle had gone first: detached before HANDED (the handle left the
//! result to the ULT and touches nothing more), or GONE after dropping a
//! handed result. Per thread that is two RMWs on the ULT's side
//! ([`hand_over`](JoinState::hand_over), [`finish`](JoinState::finish))
//! and, for a join that waits, one on the joiner's
//! ([`set_waiting`](JoinState::set_waiting)).
//!
//! **The waiter.** The joiner writes it while WAITING is clear, then sets
//! WAITING. Once HANDED is set, WAITING is never cleared again
//! ([`clear_waiting`](JoinState::clear_waiting) refuses), so a ULT that
//! sees WAITING after its `hand_over` may read the waiter at any time
//! before its `finish`, and must not after (the handle may free the packet
//! once it sees DONE). `finish` is a CAS on the word as loaded: if WAITING
//! came meanwhile, it fails, and the ULT takes the waiter before trying
//! again.

use crate::loom::AtomicU32;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

const WAITING: u32 = 1;
const DONE: u32 = 2;
const HANDED: u32 = 4;
const DETACHED: u32 = 8;
const GONE: u32 = 16;

pub(crate) struct JoinState(AtomicU32);

/// What [`JoinState::detach`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Detach {
    /// The ULT had not handed the result over: it owns it, drops it, and
    /// frees the packet. The handle touches nothing more.
    UltOwns,
    /// Handed over, the thread not done: drop the result, then
    /// [`gone`](JoinState::gone).
    HandleOwns,
    /// The thread is done: drop the result and free the packet.
    HandleFrees,
}

impl JoinState {
    pub(crate) fn new() -> JoinState {
        JoinState(AtomicU32::new(0))
    }

    /// The ULT, its closure done and before it counts as exited: hands the
    /// result to the handle. True if the handle is gone already: then the
    /// ULT owns the result and drops it itself, and frees the packet at
    /// `finish`.
    pub(crate) fn hand_over(&self) -> bool {
        // AcqRel pairs with `detach`: whichever comes second sees the first.
        self.0.fetch_or(HANDED, AcqRel) & DETACHED != 0
    }

    /// The ULT, once exited: publishes the result and lets go of the
    /// packet. `take_waiter` runs (at most once) if a joiner's waiter is
    /// stored: the ULT must take it before DONE, and wake it after.
    /// `handle_gone` is what `hand_over` said. True if the ULT must free
    /// the packet (the handle let go first); otherwise it must not touch
    /// the packet again.
    pub(crate) fn finish(&self, handle_gone: bool, mut take_waiter: impl FnMut()) -> bool {
        // Acquire: the joiner's waiter write (before its `set_waiting`)
        // is visible once WAITING is seen.
        let mut s = self.0.load(Acquire);
        let mut taken = false;
        loop {
            if s & WAITING != 0 && !taken {
                // Set after HANDED, WAITING stays: the waiter is ours.
                take_waiter();
                taken = true;
            }
            // AcqRel: Release publishes the result to `is_done`'s Acquire
            // (and every write of ours to whoever frees); Acquire, on a
            // failure, as the load above.
            match self.0.compare_exchange_weak(s, s | DONE, AcqRel, Acquire) {
                Ok(_) => return handle_gone || s & GONE != 0,
                Err(now) => s = now,
            }
        }
    }

    /// A job dropped without running: done, with no result to hand over.
    /// True if the handle has let go: then the caller frees the packet.
    pub(crate) fn abandon(&self) -> bool {
        // AcqRel: Release pairs with the joiner's Acquire in `is_done`;
        // Acquire, with the handle's `detach`.
        self.0.fetch_or(HANDED | DONE, AcqRel) & DETACHED != 0
    }

    /// The handle, when dropped without a join (a join that saw DONE
    /// frees at once: `is_done`).
    pub(crate) fn detach(&self) -> Detach {
        // AcqRel pairs with `hand_over` and `finish`.
        let s = self.0.fetch_or(DETACHED, AcqRel);
        if s & DONE != 0 {
            Detach::HandleFrees
        } else if s & HANDED != 0 {
            Detach::HandleOwns
        } else {
            Detach::UltOwns
        }
    }

    /// The handle, after `Detach::HandleOwns` and the result's drop: lets
    /// go. True if the thread is done meanwhile: then the handle frees the
    /// packet (else the ULT does, at `finish`).
    pub(crate) fn gone(&self) -> bool {
        // AcqRel pairs with `finish`: whichever comes second frees, and
        // sees every write of the other.
        self.0.fetch_or(GONE, AcqRel) & DONE != 0
    }

    /// The joiner, after storing its waiter. False if the thread finished
    /// first: then the ULT did not read the waiter, and it is the
    /// joiner's again.
    pub(crate) fn set_waiting(&self) -> bool {
        // AcqRel: Release publishes the waiter to `finish`'s Acquire;
        // Acquire pairs with `finish`.
        self.0.fetch_or(WAITING, AcqRel) & DONE == 0
    }

    /// Whether the joiner may store a waiter: the thread is not done, and
    /// no waiter of an earlier wait is still stored (one the ULT may be
    /// reading: `clear_waiting` refused it).
    #[inline]
    pub(crate) fn may_wait(&self) -> bool {
        // Acquire pairs with `finish`.
        self.0.load(Acquire) & (DONE | WAITING) == 0
    }

    /// The joiner, after a wake that came before DONE (a spurious one, a
    /// cancellation, a deadline): withdraws its waiter. False if the ULT
    /// has handed its result over (or is done): then the waiter may be
    /// the ULT's to take, and stays stored; the thread is about to finish.
    pub(crate) fn clear_waiting(&self) -> bool {
        let mut s = self.0.load(Acquire);
        loop {
            if s & (DONE | HANDED) != 0 {
                return false;
            }
            // AcqRel pairs with `hand_over`.
            match self.0.compare_exchange(s, s & !WAITING, AcqRel, Acquire) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Whether the thread has exited (and its ULT let go of the packet).
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        // Acquire pairs with the Release of `finish` / `abandon`.
        self.0.load(Acquire) & DONE != 0
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::atomic::Ordering::SeqCst;
    use loom::sync::Arc;

    /// A packet as `packet.rs` keeps it: the result, the waiter slot, and
    /// how many times it was freed. A free "drops" the fields (writes
    /// them), so that loom sees a race of a free with any other access.
    struct Packet {
        s: JoinState,
        result: UnsafeCell<Option<u32>>,
        waiter: UnsafeCell<Option<u32>>,
        frees: AtomicUsize,
    }

    impl Packet {
        fn new() -> Arc<Packet> {
            Arc::new(Packet {
                s: JoinState::new(),
                result: UnsafeCell::new(None),
                waiter: UnsafeCell::new(None),
                frees: AtomicUsize::new(0),
            })
        }

        fn free(&self) {
            // SAFETY: the protocol makes the freer the only user.
            self.result.with_mut(|r| unsafe { *r = None });
            // SAFETY: as above.
            self.waiter.with_mut(|w| unsafe { *w = None });
            self.frees.fetch_add(1, SeqCst);
        }

        /// The ULT's side (`run_then`): returns the waiter it woke.
        fn ult(&self, between: impl FnOnce()) -> Option<u32> {
            // SAFETY: until HANDED nobody else touches the result.
            self.result.with_mut(|r| unsafe { *r = Some(7) });
            let handle_gone = self.s.hand_over();
            if handle_gone {
                // SAFETY: the handle detached before HANDED.
                self.result.with_mut(|r| unsafe { (*r).take() });
            }
            between();
            let mut woken = None;
            let free = self.s.finish(handle_gone, || {
                // SAFETY: WAITING seen after HANDED: the slot is ours.
                woken = self.waiter.with_mut(|w| unsafe { (*w).take() });
            });
            if free {
                self.free();
            }
            woken
        }

        /// The handle's drop without a join.
        fn drop_handle(&self) {
            match self.s.detach() {
                Detach::UltOwns => {}
                Detach::HandleOwns => {
                    // SAFETY: HANDED came before DETACHED: the result is ours.
                    self.result.with_mut(|r| unsafe { (*r).take() });
                    if self.s.gone() {
                        self.free();
                    }
                }
                Detach::HandleFrees => self.free(),
            }
        }

        /// The joiner's registration: true if it should block.
        fn register(&self, w: u32) -> bool {
            if !self.s.may_wait() {
                return false;
            }
            // SAFETY: WAITING is clear: only the joiner writes the slot.
            self.waiter.with_mut(|s| unsafe { *s = Some(w) });
            if !self.s.set_waiting() {
                // SAFETY: DONE came first: the ULT did not read the slot.
                self.waiter.with_mut(|s| unsafe { *s = None });
                return false;
            }
            true
        }

        /// A join that saw DONE: takes the result and frees.
        fn take(&self) -> Option<u32> {
            assert!(self.s.is_done());
            // SAFETY: DONE: the handle is the only user.
            let r = self.result.with_mut(|r| unsafe { (*r).take() });
            self.free();
            r
        }
    }

    /// The ULT finishes while the handle is dropped unjoined: the result
    /// is dropped by exactly one side, and the packet freed exactly once,
    /// after every other access.
    #[test]
    fn an_unjoined_packet_is_freed_once() {
        loom::model(|| {
            let p = Packet::new();
            let ult = {
                let p = p.clone();
                loom::thread::spawn(move || p.ult(|| {}))
            };
            p.drop_handle();
            assert_eq!(ult.join().unwrap(), None);
            assert_eq!(p.frees.load(SeqCst), 1);
        });
    }

    /// The joiner registers while the ULT finishes, then joins: it is
    /// woken, or finds DONE itself; the result reaches it; one free.
    #[test]
    fn a_join_that_waits_is_woken_or_finds_done() {
        loom::model(|| {
            let p = Packet::new();
            let ult = {
                let p = p.clone();
                loom::thread::spawn(move || p.ult(|| {}))
            };
            let blocked = p.register(1);
            let woken = ult.join().unwrap();
            assert_eq!(
                woken.is_some(),
                blocked,
                "woken {woken:?}, blocked {blocked}"
            );
            assert_eq!(p.take(), Some(7));
            assert_eq!(p.frees.load(SeqCst), 1);
        });
    }

    /// A joiner woken early (spuriously, or to give up) withdraws while
    /// the ULT finishes: a withdrawn waiter is never woken; one refused
    /// stays the ULT's, and the joiner may not store another; the joiner
    /// may then drop the handle unjoined (a timed join that gave up).
    #[test]
    fn a_withdrawn_waiter_is_not_woken_and_a_refused_one_stays() {
        loom::model(|| {
            let p = Packet::new();
            let ult = {
                let p = p.clone();
                loom::thread::spawn(move || p.ult(|| loom::thread::yield_now()))
            };
            let blocked = p.register(1);
            let withdrawn = blocked && p.s.clear_waiting();
            if blocked && !withdrawn {
                assert!(!p.register(2), "a refused waiter is not replaced");
            }
            p.drop_handle();
            let woken = ult.join().unwrap();
            if withdrawn {
                assert_eq!(woken, None);
            }
            if blocked && !withdrawn {
                assert_eq!(woken, Some(1));
            }
            assert_eq!(p.frees.load(SeqCst), 1);
        });
    }
}

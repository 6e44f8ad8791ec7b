//! The join packet's state word: who may touch the waiter slot and who
//! owns (and so drops) the thread's result. See `packet.rs` for the
//! protocol as a whole; this file holds its atomic steps and their loom
//! model.
//!
//! | bit        | set by                 | meaning                                      |
//! |------------|------------------------|----------------------------------------------|
//! | `WAITING`  | the joiner             | its waker is stored in the packet            |
//! | `HANDED`   | the ULT, before exit   | the result belongs to the handle's side now  |
//! | `DETACHED` | the handle, on drop    | nobody will take the result                  |
//! | `DONE`     | the ULT, after exit    | the thread has exited; `join` may return     |
//!
//! Every step is one RMW on the word, so of two racing steps the second
//! sees the first: of `hand_over` and `detach` exactly one reports that its
//! side owns the result; of `set_waiting` and `finish` exactly one reports
//! that its side must deal with the waiter (the ULT wakes it, or the joiner
//! takes it back).

use crate::loom::AtomicU32;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};

const WAITING: u32 = 1;
const DONE: u32 = 2;
const HANDED: u32 = 4;
const DETACHED: u32 = 8;

pub(crate) struct JoinState(AtomicU32);

impl JoinState {
    pub(crate) fn new() -> JoinState {
        JoinState(AtomicU32::new(0))
    }

    /// The ULT, its closure done and before it counts as exited: hands the
    /// result to the handle. True if the handle is gone already: then the
    /// ULT owns the result and drops it itself.
    pub(crate) fn hand_over(&self) -> bool {
        // AcqRel pairs with `detach`: whichever comes second sees the first.
        self.0.fetch_or(HANDED, AcqRel) & DETACHED != 0
    }

    /// The handle, when dropped. True if the result was handed over: then
    /// the handle's side owns it (and drops it, if `join` did not take it).
    pub(crate) fn detach(&self) -> bool {
        // AcqRel pairs with `hand_over`.
        self.0.fetch_or(DETACHED, AcqRel) & HANDED != 0
    }

    /// The ULT, once exited: publishes the result. True if a joiner's
    /// waiter is stored: the ULT must take and wake it.
    pub(crate) fn finish(&self) -> bool {
        // AcqRel: Release publishes the result to `is_done`'s Acquire;
        // Acquire makes the joiner's waiter write (before `set_waiting`)
        // visible here.
        self.0.fetch_or(DONE, AcqRel) & WAITING != 0
    }

    /// A job dropped without running: done, with no result to hand over.
    pub(crate) fn abandon(&self) {
        // Release pairs with the joiner's Acquire in `is_done`.
        self.0.fetch_or(HANDED | DONE, Release);
    }

    /// The joiner, after storing its waiter. False if the thread finished
    /// first: then the ULT did not read the waiter, and it is the
    /// joiner's again.
    pub(crate) fn set_waiting(&self) -> bool {
        // AcqRel pairs with `finish`.
        self.0.fetch_or(WAITING, AcqRel) & DONE == 0
    }

    /// The joiner, after a wake that came before DONE (a spurious one):
    /// withdraws. False if the thread finished (the ULT has the waiter).
    pub(crate) fn clear_waiting(&self) -> bool {
        let mut s = self.0.load(Acquire);
        loop {
            if s & DONE != 0 {
                return false;
            }
            // AcqRel pairs with `finish`.
            match self.0.compare_exchange(s, s & !WAITING, AcqRel, Acquire) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Whether the result is published (the thread has exited).
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
    use loom::sync::Arc;

    /// The ULT hands over while the handle detaches: exactly one of them
    /// owns the result, and the owner's drop does not race the other side.
    #[test]
    fn exactly_one_side_drops_the_result() {
        loom::model(|| {
            let s = Arc::new(JoinState::new());
            let result = Arc::new(UnsafeCell::new(Some(7u32)));
            let ult = {
                let (s, result) = (s.clone(), result.clone());
                loom::thread::spawn(move || {
                    let owns = s.hand_over();
                    if owns {
                        // SAFETY: the model checks that nobody else touches it.
                        result.with_mut(|r| unsafe { (*r).take() });
                    }
                    s.finish();
                    owns
                })
            };
            let handle_owns = s.detach();
            if handle_owns {
                // SAFETY: as above.
                result.with_mut(|r| unsafe { (*r).take() });
            }
            let ult_owns = ult.join().unwrap();
            assert!(
                ult_owns ^ handle_owns,
                "ult {ult_owns}, handle {handle_owns}"
            );
            // SAFETY: both threads are done.
            assert!(result.with(|r| unsafe { (*r).is_none() }));
        });
    }

    /// The joiner registers while the ULT finishes: the waiter is either
    /// woken by the ULT or taken back by the joiner, never both or neither.
    #[test]
    fn the_waiter_is_woken_or_taken_back() {
        loom::model(|| {
            let s = Arc::new(JoinState::new());
            let waiter = Arc::new(UnsafeCell::new(None::<u32>));
            let ult = {
                let (s, waiter) = (s.clone(), waiter.clone());
                loom::thread::spawn(move || {
                    s.hand_over();
                    if s.finish() {
                        // SAFETY: the model checks the hand-off.
                        waiter.with_mut(|w| unsafe { (*w).take() }).is_some()
                    } else {
                        false
                    }
                })
            };
            // SAFETY: WAITING is clear, so the ULT does not read it.
            waiter.with_mut(|w| unsafe { *w = Some(1) });
            let registered = s.set_waiting();
            let taken_back = !registered
                // SAFETY: DONE came first, so the ULT did not read it.
                && waiter.with_mut(|w| unsafe { (*w).take() }).is_some();
            let woken = ult.join().unwrap();
            assert!(woken ^ taken_back, "woken {woken}, taken back {taken_back}");
            assert!(s.is_done());
        });
    }
}

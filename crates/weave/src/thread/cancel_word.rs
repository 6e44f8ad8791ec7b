//! The cancellation byte of a TCB (`thread/cancel.rs` says what it is
//! for): the two read-modify-writes that make a request and a wait at a
//! cancellation point see each other, with its loom model.
//!
//! Plain atomics under the `crate::loom` facade; it names nothing else of
//! weave's but the state word in its model.

use std::sync::atomic::Ordering::{self, Relaxed, SeqCst};

use crate::loom::AtomicU8;

/// A cancellation request is pending on the thread.
pub(crate) const REQUESTED: u8 = 1;
/// The thread is in a wait at a cancellation point.
pub(crate) const POINT: u8 = 2;

/// The requester's step: sets `REQUESTED`; true if the thread is at a
/// cancellation point, so that the requester must end its wait.
#[inline]
pub(crate) fn request(b: &AtomicU8) -> bool {
    // SeqCst: one total order with the thread's fetch_or in `enter`, and
    // with the requester's next step, the SeqCst read of the state word in
    // `State::wake_any` (a Dekker pair with the LWP's "commit the block;
    // read this byte"; the model below fails if that read is Acquire).
    b.fetch_or(REQUESTED, SeqCst) & POINT != 0
}

/// The thread's step before its wait: sets `POINT`; false (and `POINT`
/// left clear) if a request is already pending, so it must not wait.
#[inline]
pub(crate) fn enter(b: &AtomicU8) -> bool {
    // SeqCst: pairs with `request` (one of the two sees the other).
    if b.fetch_or(POINT, SeqCst) & REQUESTED != 0 {
        b.fetch_and(!POINT, Relaxed);
        return false;
    }
    true
}

/// The thread's step after its wait.
#[inline]
pub(crate) fn leave(b: &AtomicU8) {
    // Relaxed: only the thread itself reads POINT to act on it; a
    // requester that still sees it ends a wait that is over (a no-op).
    b.fetch_and(!POINT, Relaxed);
}

/// Whether the thread waits at a cancellation point with a request
/// pending: its wait must end.
#[inline]
pub(crate) fn due(b: &AtomicU8, order: Ordering) -> bool {
    b.load(order) == REQUESTED | POINT
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::fence;
    use crate::thread::state::{State, RUNNABLE};
    use loom::sync::Arc;

    /// A request races a ULT entering its wait at a cancellation point:
    /// the ULT either does not wait, or ends up woken (RUNNABLE) by the
    /// requester or by its LWP's check after the commit. Never left
    /// blocked with a request pending.
    ///
    /// Loom regards SeqCst accesses as AcqRel (its README, "Unsupported
    /// features"), so the store-then-load order that the real code gets
    /// from SeqCst (the requester's RMW then its read of the state word;
    /// the LWP's commit CAS then its read of this byte) is written here as
    /// a SeqCst fence between the two, which loom does model. Without the
    /// fences the model fails, as loom's AcqRel would.
    #[test]
    fn a_request_is_never_lost_by_a_ult_entering_its_wait() {
        loom::model(|| {
            let s = Arc::new(State::new());
            s.spawn();
            s.set_running();
            let b = Arc::new(AtomicU8::new(0));
            let requester = {
                let (s, b) = (s.clone(), b.clone());
                loom::thread::spawn(move || {
                    if request(&b) {
                        fence(SeqCst);
                        s.wake_any();
                    }
                })
            };
            // The ULT (and, from the commit on, its LWP).
            let waited = enter(&b);
            if waited {
                let token = s.prepare_block(1);
                if s.commit_block() && {
                    fence(SeqCst);
                    due(&b, SeqCst)
                } {
                    s.wake(token);
                }
            }
            requester.join().unwrap();
            if waited {
                assert_eq!(s.load().run(), RUNNABLE, "blocked with a request pending");
            }
        });
    }
}

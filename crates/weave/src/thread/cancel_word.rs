//! The cancellation bytes of a TCB (`thread/cancel.rs` says what they
//! are for): the steps that make a request and a wait at a cancellation
//! point see each other, with its loom model.
//!
//! Three bytes, one per writer: the requesters set `requested`, the thread
//! alone sets and clears `point` and `asynchronous`. So the thread clears `point` after its
//! wait with a plain store (one locked instruction less per wait than a
//! shared byte's `fetch_and`, which had to keep a request made meanwhile).
//! Each side stores its own byte and then reads the other's, SeqCst both:
//! a Dekker pair, so at least one of the two sees the other. The same
//! pair orders `asynchronous` against a request: a thread that arms
//! asynchronous cancellation ([`arm`]) sees a request made before, or the
//! requester sees it armed and interrupts it (`signal/interrupt.rs`).
//!
//! Plain atomics under the `crate::loom` facade; it names nothing else of
//! weave's but the state word in its model.

use std::sync::atomic::Ordering::{self, Relaxed, Release, SeqCst};

use crate::loom::AtomicU8;

/// A TCB's two cancellation bytes.
pub(crate) struct CancelWord {
    /// Non-zero once a cancellation request was made (never cleared: the
    /// thread ends; a new thread in the slot starts at 0).
    requested: AtomicU8,
    /// Non-zero while the thread waits at a cancellation point.
    point: AtomicU8,
    /// [`ARMED`] while the thread runs the program's own code with
    /// asynchronous cancellation in force: a request may stop it at any
    /// instruction. [`DONE`] once it has begun to end: never armed again.
    asynchronous: AtomicU8,
}

/// `asynchronous`: a request interrupts the thread (set and cleared by the
/// thread only, around every call into weave it makes meanwhile).
pub(crate) const ARMED: u8 = 1;
/// `asynchronous`: the thread is ending (its start routine returned, or
/// it exits): [`arm`] no longer arms it.
pub(crate) const DONE: u8 = 2;

impl CancelWord {
    pub(crate) fn new() -> CancelWord {
        CancelWord {
            requested: AtomicU8::new(0),
            point: AtomicU8::new(0),
            asynchronous: AtomicU8::new(0),
        }
    }

    /// For a new thread in the slot (published with the rest of the TCB
    /// by the spawn).
    pub(crate) fn reset(&self) {
        self.requested.store(0, Relaxed);
        self.point.store(0, Relaxed);
        self.asynchronous.store(0, Relaxed);
    }
}

/// Under loom, which regards SeqCst accesses as AcqRel (its README,
/// "Unsupported features"), the store-then-load order of the Dekker pair
/// is written as a SeqCst fence between the two, which loom models; the
/// real code has it from the SeqCst store and load.
#[inline]
fn store_load_order() {
    #[cfg(loom)]
    crate::loom::fence(SeqCst);
}

/// What the requester must do after [`request`].
pub(crate) struct Requested {
    /// The thread is at a cancellation point: end its wait.
    pub(crate) at_point: bool,
    /// The thread runs with asynchronous cancellation armed: interrupt it.
    pub(crate) armed: bool,
}

/// The requester's step: records the request; says whether the thread is
/// at a cancellation point (the requester must end its wait) or armed for
/// asynchronous cancellation (the requester must interrupt it).
#[inline]
pub(crate) fn request(c: &CancelWord) -> Requested {
    // SeqCst: one total order with the thread's store in `enter` and in
    // `arm`, and with the requester's next step, the SeqCst read of the
    // state word in `State::wake_any` (a Dekker pair with the LWP's
    // "commit the block; read this word"; the model below fails if that
    // read is Acquire).
    c.requested.store(1, SeqCst);
    store_load_order();
    Requested {
        at_point: c.point.load(SeqCst) != 0,
        armed: c.asynchronous.load(SeqCst) == ARMED,
    }
}

/// The thread's step as it goes back to its own code with asynchronous
/// cancellation in force: marks it armed; true if a request is pending,
/// which the thread must then act on itself (the requester may have looked
/// before the mark). Leaves a thread that is ending ([`DONE`]) alone and
/// answers false.
#[inline]
pub(crate) fn arm(c: &CancelWord) -> bool {
    if c.asynchronous.load(Relaxed) == DONE {
        return false;
    }
    // SeqCst: pairs with `request` (one of the two sees the other).
    c.asynchronous.store(ARMED, SeqCst);
    store_load_order();
    c.requested.load(SeqCst) != 0
}

/// The thread's step as it enters weave (or stops being asynchronous):
/// not armed. `to` is 0, or [`DONE`] for a thread that is ending. Only the
/// thread writes the byte, and only the thread (or a signal handler on it)
/// reads it as armed: a plain store.
#[inline]
pub(crate) fn disarm(c: &CancelWord, to: u8) {
    c.asynchronous.store(to, Relaxed);
}

/// Whether the thread is armed for asynchronous cancellation with a
/// request pending: read by the interrupt's handler, on the thread.
#[inline]
pub(crate) fn async_due(c: &CancelWord) -> bool {
    c.asynchronous.load(Relaxed) == ARMED && c.requested.load(SeqCst) != 0
}

/// Whether the thread is armed (the byte is the thread's own).
#[inline]
pub(crate) fn armed(c: &CancelWord) -> bool {
    c.asynchronous.load(Relaxed) == ARMED
}

/// Whether a request was made.
#[inline]
pub(crate) fn requested(c: &CancelWord, order: Ordering) -> bool {
    c.requested.load(order) != 0
}

/// The thread's step before its wait: marks it at a cancellation point;
/// false (and the mark cleared) if a request is already pending, so it
/// must not wait.
#[inline]
pub(crate) fn enter(c: &CancelWord) -> bool {
    // SeqCst: pairs with `request` (one of the two sees the other).
    c.point.store(1, SeqCst);
    store_load_order();
    if c.requested.load(SeqCst) != 0 {
        c.point.store(0, Relaxed);
        return false;
    }
    true
}

/// The thread's step after its wait: a plain store, the byte being the
/// thread's alone.
#[inline]
pub(crate) fn leave(c: &CancelWord) {
    // Release, no stronger: only the thread itself reads the mark to act
    // on it; a requester that still sees it ends a wait that is over (a
    // no-op).
    c.point.store(0, Release);
}

/// Whether the thread waits at a cancellation point with a request
/// pending: its wait must end.
#[inline]
pub(crate) fn due(c: &CancelWord, order: Ordering) -> bool {
    c.point.load(order) != 0 && c.requested.load(order) != 0
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
    /// from SeqCst (the requester's store then its read of the state word;
    /// the LWP's commit CAS then its read of the bytes) is written here as
    /// a SeqCst fence between the two, which loom does model. Without the
    /// fences the model fails, as loom's AcqRel would.
    #[test]
    fn a_request_is_never_lost_by_a_ult_entering_its_wait() {
        loom::model(|| {
            let s = Arc::new(State::new());
            s.spawn();
            s.set_running();
            let b = Arc::new(CancelWord::new());
            let requester = {
                let (s, b) = (s.clone(), b.clone());
                loom::thread::spawn(move || {
                    if request(&b).at_point {
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

    /// A request races a thread arming asynchronous cancellation: the
    /// thread sees the request as it arms, or the requester sees it armed
    /// (and interrupts it). Never neither: the thread would run on in its
    /// own code with a request pending that nothing acts on.
    #[test]
    fn a_request_is_never_missed_by_a_thread_arming_asynchronous_cancel() {
        loom::model(|| {
            let b = Arc::new(CancelWord::new());
            let requester = {
                let b = b.clone();
                loom::thread::spawn(move || request(&b).armed)
            };
            let seen_by_thread = arm(&b);
            let seen_by_requester = requester.join().unwrap();
            assert!(
                seen_by_thread || seen_by_requester,
                "a request nobody acts on"
            );
        });
    }
}

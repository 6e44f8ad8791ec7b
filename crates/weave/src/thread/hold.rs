//! The hold on a thread's id: keeps a thread's table slot, and so its
//! [`ThreadId`](super::ThreadId), from going to another thread after the
//! thread ends, until its join handle lets go (`Builder::hold_id`).
//!
//! Owns one byte of the TCB and the rule of who frees a held slot; the
//! freeing itself is the table's (`table.rs` calls [`Hold::ended`] and
//! [`Hold::release`]). It must not name the LWPs or the scheduler.
//!
//! | bit     | set by                                | cleared by |
//! |---------|---------------------------------------|------------|
//! | `HELD`  | the spawner, before the thread can run | the handle, when joined or dropped ([`Hold::release`]) |
//! | `ENDED` | the thread's LWP, off its stack, when it would free the slot ([`Hold::ended`]) | the slot's next spawn ([`Hold::reset`]) |
//!
//! Both sides are one RMW on the byte once a hold exists, so of the two
//! exactly one sees the other's bit and frees the slot: the LWP if the hold
//! was gone by then, the handle if the thread had ended. A slot nobody held
//! costs the LWP one load.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

use crate::loom::AtomicU8;

const HELD: u8 = 1;
const ENDED: u8 = 2;

pub(crate) struct Hold(AtomicU8);

impl Hold {
    pub(crate) fn new() -> Hold {
        Hold(AtomicU8::new(0))
    }

    /// At spawn, on a FREE slot that is the spawner's: no hold yet.
    pub(crate) fn reset(&self) {
        // Relaxed: published with the rest of the TCB by the spawn.
        self.0.store(0, Relaxed);
    }

    /// The spawner, before the thread can run: its id stays reserved until
    /// [`release`](Self::release).
    pub(crate) fn hold(&self) {
        // Relaxed: published by the spawn's Release of the state word,
        // which the thread's LWP acquires before it runs (and ends) it.
        self.0.store(HELD, Relaxed);
    }

    /// The ended thread's LWP, once off its stack: true if the slot may be
    /// freed now; false if a hold defers that to [`release`](Self::release).
    #[inline]
    pub(crate) fn ended(&self) -> bool {
        // A clear HELD: never held (the common case: one load), or already
        // released, whose `release` then saw no ENDED and left the freeing
        // to us. Acquire pairs with `release`'s AcqRel.
        if self.0.load(Acquire) & HELD == 0 {
            return true;
        }
        // AcqRel pairs with `release`: the second of the two sees the
        // first's bit. Release: our last use of the slot comes before the
        // holder's freeing of it.
        self.0.fetch_or(ENDED, AcqRel) & HELD == 0
    }

    /// The holder lets go: true if the thread has ended meanwhile, and the
    /// caller must free the slot now. A second call (no hold left) is false.
    pub(crate) fn release(&self) -> bool {
        // AcqRel pairs with `ended`.
        let before = self.0.fetch_and(!HELD, AcqRel);
        before & HELD != 0 && before & ENDED != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_unheld_slot_is_freed_by_its_lwp() {
        let h = Hold::new();
        assert!(h.ended());
        assert!(!h.release(), "nothing was held");
    }

    #[test]
    fn a_held_slot_that_ended_is_freed_by_the_release_once() {
        let h = Hold::new();
        h.hold();
        assert!(!h.ended(), "the hold defers the freeing");
        assert!(h.release());
        assert!(!h.release(), "a second release frees nothing");
    }

    #[test]
    fn a_hold_released_before_the_end_leaves_the_freeing_to_the_lwp() {
        let h = Hold::new();
        h.hold();
        assert!(!h.release());
        assert!(h.ended());
    }
}

/// The LWP ending the thread races the handle letting go: exactly one of
/// them frees the slot, and the freer sees the other's writes
/// (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib --release hold`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    #[test]
    fn exactly_one_side_frees_a_held_slot() {
        loom::model(|| {
            let h = Arc::new(Hold::new());
            // The slot's other fields, written by whoever used it last.
            let slot = Arc::new(UnsafeCell::new(0u32));
            h.hold();
            let lwp = {
                let (h, slot) = (h.clone(), slot.clone());
                loom::thread::spawn(move || {
                    // SAFETY: the model checks that no access overlaps.
                    slot.with_mut(|p| unsafe { *p += 1 });
                    let frees = h.ended();
                    if frees {
                        // SAFETY: as above.
                        slot.with_mut(|p| unsafe { *p += 10 });
                    }
                    frees
                })
            };
            let handle_frees = h.release();
            if handle_frees {
                // SAFETY: as above.
                slot.with_mut(|p| unsafe { *p += 10 });
            }
            let lwp_frees = lwp.join().unwrap();
            assert!(
                lwp_frees ^ handle_frees,
                "lwp {lwp_frees}, handle {handle_frees}"
            );
            // SAFETY: both sides are done.
            assert_eq!(slot.with(|p| unsafe { *p }), 11);
        });
    }
}

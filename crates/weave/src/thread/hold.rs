//! The hold on a thread's id: keeps a thread's table slot, and so its
//! [`ThreadId`](super::ThreadId), from going to another thread after the
//! thread ends, until its join handle lets go (`Builder::hold_id`).
//!
//! Owns one byte of the TCB and the rule of who frees a held slot; the
//! freeing itself is the table's (`table.rs` calls [`Hold::ended`], the
//! handle's side [`Hold::wait_ended`]). It must not name the LWPs or the
//! scheduler.
//!
//! **Who frees a held slot: the side that frees the join packet.** The
//! packet's state word (`join_state.rs`) already decides, with the RMWs
//! both sides make anyway, which of the ULT and its handle lets go of the
//! packet last. The slot follows it, so the hold needs no RMW of its own:
//!
//! - the ULT freed the packet (the handle had let go before the thread
//!   finished): it clears `HELD` ([`Hold::let_go`]), a plain store, and its
//!   LWP frees the slot when it files the exit, as for any thread;
//! - the handle freed the packet (it saw DONE: every join): the ULT left
//!   `HELD` set, so its LWP, filing the exit off the thread's stack, only
//!   marks `ENDED` ([`Hold::ended`], a store); the handle waits for that
//!   mark ([`Hold::wait_ended`]) and frees the slot. The wait is short:
//!   the LWP files the exit right after the thread's last switch, and a
//!   joiner woken on the same LWP runs only after (the join's hand-off
//!   files it on the joiner's stack first).
//!
//! | bit     | set by                                  | cleared by |
//! |---------|-----------------------------------------|------------|
//! | `HELD`  | the spawner, before the thread can run   | the ULT, if it freed the packet ([`Hold::let_go`]) |
//! | `ENDED` | the thread's LWP, off its stack, if still `HELD` ([`Hold::ended`]) | the slot's next spawn ([`Hold::reset`]) |
//!
//! Each write is made by the one side the packet's protocol lets touch
//! the byte at that moment, so plain stores are enough. A slot nobody held
//! costs the LWP one load.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

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
    /// the packet's last user lets go of it.
    pub(crate) fn hold(&self) {
        // Relaxed: published by the spawn's Release of the state word,
        // which the thread's LWP acquires before it runs (and ends) it.
        self.0.store(HELD, Relaxed);
    }

    /// The ULT (or whoever drops a job that never ran), having freed the
    /// packet because the handle had let go first: the slot is freed as
    /// an unheld one. The handle touches the byte no more.
    #[inline]
    pub(crate) fn let_go(&self) {
        // Relaxed: read by this thread's LWP when it files the exit, after
        // this in its own order; nobody else reads it.
        self.0.store(0, Relaxed);
    }

    /// The ended thread's LWP, once off its stack: true if the slot may be
    /// freed now; false if the handle will free it ([`wait_ended`](Self::wait_ended)).
    #[inline]
    pub(crate) fn ended(&self) -> bool {
        // Relaxed: the byte was last written by the spawner (published
        // with the spawn) or by this thread's `let_go`, earlier on this LWP.
        if self.0.load(Relaxed) & HELD == 0 {
            return true;
        }
        // Release: pairs with `wait_ended`'s Acquire: our last use of the
        // slot comes before the handle's freeing of it.
        self.0.store(HELD | ENDED, Release);
        false
    }

    /// The handle, having freed the packet (it saw DONE): waits until the
    /// thread's LWP is done with the slot, which the caller then frees.
    /// `yield_now` lets the caller's thread's neighbours run between looks
    /// (the thread API's, which names the LWPs above this file).
    #[inline]
    pub(crate) fn wait_ended(&self, yield_now: fn()) {
        // Acquire: pairs with `ended`'s Release.
        if self.0.load(Acquire) & ENDED == 0 {
            Self::wait_ended_slow(&self.0, yield_now);
        }
    }

    #[cold]
    fn wait_ended_slow(b: &AtomicU8, yield_now: fn()) {
        let mut spins = 0u32;
        // Acquire: as in `wait_ended`.
        while b.load(Acquire) & ENDED == 0 {
            // The LWP files the exit right after the thread's last switch:
            // a few spins, then let it (and others) run.
            if spins < 100 {
                crate::loom::spin_hint();
                spins += 1;
            } else {
                yield_now();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_unheld_slot_is_freed_by_its_lwp() {
        let h = Hold::new();
        assert!(h.ended());
    }

    #[test]
    fn a_held_slot_is_left_to_the_handle_which_sees_the_end() {
        let h = Hold::new();
        h.hold();
        assert!(!h.ended(), "the hold defers the freeing");
        h.wait_ended(std::thread::yield_now);
    }

    #[test]
    fn a_hold_let_go_by_the_ult_leaves_the_freeing_to_the_lwp() {
        let h = Hold::new();
        h.hold();
        h.let_go();
        assert!(h.ended());
    }
}

/// The LWP ending a held thread races the handle that freed its packet:
/// the handle frees the slot only after the LWP's last use of it, and the
/// LWP does not free it (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib
/// --release hold`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    #[test]
    fn the_handle_frees_a_held_slot_after_the_lwp_is_done() {
        loom::model(|| {
            let h = Arc::new(Hold::new());
            // The slot's other fields, written by whoever used it last.
            let slot = Arc::new(UnsafeCell::new(0u32));
            h.hold();
            let lwp = {
                let (h, slot) = (h.clone(), slot.clone());
                loom::thread::spawn(move || {
                    // The ULT left HELD set: the handle saw DONE.
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
            h.wait_ended(loom::thread::yield_now);
            // SAFETY: as above.
            slot.with_mut(|p| unsafe { *p += 10 });
            assert!(!lwp.join().unwrap(), "only the handle frees");
            // SAFETY: both sides are done.
            assert_eq!(slot.with(|p| unsafe { *p }), 11);
        });
    }
}

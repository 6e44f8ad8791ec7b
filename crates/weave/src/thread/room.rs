//! A TCB's room: storage for the join packet of the thread spawned in the
//! slot, so that a small packet costs no allocation and no memory of its
//! own beside the slot's.
//!
//! Owns the room's bytes and the one-byte protocol of who may use them;
//! what lives there is the packet module's (`packet.rs`, "Rooms"). Below
//! the LWPs and the scheduler: names nothing of weave's.
//!
//! A packet may outlive its thread's slot: a join handle kept after the
//! thread ended holds the packet, while the slot goes back to the table
//! and on to the next spawn. So the room has a word of its own, `busy`:
//!
//! | step | who | what |
//! |---|---|---|
//! | [`Room::claim`] | the spawner, holding the FREE slot | sees `busy` clear (Acquire), sets it (a plain store), and writes the packet |
//! | [`Room::vacate_at`] | the packet's last user (`join_state.rs` says which side), once it has dropped the packet | clears `busy` (Release) |
//!
//! A spawner that finds the room busy puts its packet elsewhere (a block
//! or the heap). Only the slot's holder claims, and a slot has one holder
//! at a time, so no two claims race; only the packet's last user vacates,
//! once. The Acquire of a claim that sees the room vacant pairs with the
//! Release of the vacate, so the last user's accesses to the old packet
//! come before the new packet's writes. A claim's store reaches the
//! vacater with the packet itself (the spawn publishes the TCB with a
//! Release, the handle moves to its joiner with whatever moved it).
//!
//! The table gives back the pages of runs of free slots (`table.rs`):
//! such a run must not cover a busy room (the kernel would zero a live
//! packet), so it skips a slot whose room [`is_busy`](Room::is_busy).
//! Nobody can claim a slot on the table's free list while the table holds
//! it under its lock, and a zeroed room reads as vacant.
//!
//! Why: 100,000 threads spawned and then joined (`benches/peers`
//! `spawn_join`) have 100,000 packets live, beyond any per-LWP cache of
//! blocks; each took a `malloc` and a `free` (~330 instructions of the
//! ~2,500 of a spawn and join, callgrind), and on the first round grew the
//! heap by a page fault every ~40 packets. In the room, the packet is in
//! pages the table populates in bulk and gives back with the slot's.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::loom::AtomicU8;

/// Bytes a packet may take in a room: the packet of a closure of up to
/// four words with a word-sized result fits (the C API's start routine,
/// its argument and a signal mask; `void *`).
pub(crate) const ROOM: usize = 112;
/// Alignment of a room's bytes.
pub(crate) const ALIGN: usize = 8;

const VACANT: u8 = 0;
const BUSY: u8 = 1;

/// A TCB's room (module doc). `#[repr(C)]` with the bytes first: a packet
/// in the room is at the room's own address, so its last user finds the
/// room from the packet ([`vacate_at`](Room::vacate_at)).
#[repr(C)]
pub(crate) struct Room {
    bytes: UnsafeCell<MaybeUninit<[u64; ROOM / 8]>>,
    busy: AtomicU8,
}

// SAFETY: the bytes are written only by the claimer and then by the
// packet's users, one at a time, as the module doc's protocol orders them.
unsafe impl Sync for Room {}

impl Room {
    /// A vacant room (the zeroes of a fresh or released page read as one).
    pub(crate) fn new() -> Room {
        Room {
            bytes: UnsafeCell::new(MaybeUninit::uninit()),
            busy: AtomicU8::new(VACANT),
        }
    }

    /// The spawner that holds the room's FREE slot: the room's bytes if
    /// its last packet is gone (they are the caller's then, until it
    /// vacates the room through [`vacate_at`](Room::vacate_at)), or `None`.
    #[inline]
    pub(crate) fn claim(&self) -> Option<NonNull<u8>> {
        // Acquire pairs with `vacate_at`'s Release: the old packet's last
        // user is done with the bytes.
        if self.busy.load(Acquire) != VACANT {
            return None;
        }
        // Relaxed: only the slot's holder claims; the store reaches the
        // vacater with the packet (module doc).
        self.busy.store(BUSY, Relaxed);
        Some(NonNull::from(&self.bytes).cast())
    }

    /// Whether a packet may live in the room now (the table's page
    /// release keeps such a slot's page).
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        // Acquire: a vacant room's last packet is done before its page goes.
        self.busy.load(Acquire) != VACANT
    }

    /// Lets the room go: `p` is the address [`claim`](Room::claim)
    /// returned.
    ///
    /// # Safety
    ///
    /// `p` came from `claim` on a room that is still claimed (once per
    /// claim), and nothing uses the bytes any more.
    #[inline]
    pub(crate) unsafe fn vacate_at(p: NonNull<u8>) {
        // SAFETY: the bytes are the room's first field (`repr(C)`), so the
        // room is at `p`; rooms live in the table's slots, never freed
        // while a claim is out (a busy room's page is kept).
        let room = unsafe { p.cast::<Room>().as_ref() };
        // Release pairs with `claim`'s and `is_busy`'s Acquire.
        room.busy.store(VACANT, Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_room_is_busy_until_vacated() {
        let r = Room::new();
        assert!(!r.is_busy());
        let p = r.claim().expect("a new room is vacant");
        assert!(r.is_busy());
        assert!(r.claim().is_none(), "its packet may outlive the slot");
        // SAFETY: `p` is this room's claim, vacated once.
        unsafe { Room::vacate_at(p) };
        assert!(!r.is_busy());
        assert_eq!(r.claim(), Some(p));
    }

    #[test]
    fn a_zeroed_room_is_vacant() {
        let zeroed = MaybeUninit::<Room>::zeroed();
        // SAFETY: every field of a room is valid as zeroes (the page
        // release's promise).
        let r = unsafe { zeroed.assume_init() };
        assert!(!r.is_busy());
    }
}

/// The packet's last user vacates the room while the slot's next holder
/// tries to claim it: a claim that succeeds sees every write of the old
/// packet's users (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib
/// --release room`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    #[test]
    fn a_claim_after_a_vacate_sees_the_old_packet_done() {
        loom::model(|| {
            let r = Arc::new(Room::new());
            let p = r.claim().unwrap();
            // The old packet's last write, by the thread that vacates.
            let last = Arc::new(loom::cell::UnsafeCell::new(0u32));
            let user = {
                let (last, p) = (last.clone(), p.as_ptr() as usize);
                loom::thread::spawn(move || {
                    // SAFETY: the model checks that no access overlaps.
                    last.with_mut(|v| unsafe { *v = 1 });
                    // SAFETY: the claim above, vacated once.
                    unsafe { Room::vacate_at(NonNull::new(p as *mut u8).unwrap()) };
                })
            };
            // The slot's next holder.
            if r.claim().is_some() {
                // SAFETY: as above: the claim ordered the write before us.
                assert_eq!(last.with(|v| unsafe { *v }), 1);
            }
            user.join().unwrap();
        });
    }
}

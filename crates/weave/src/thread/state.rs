//! The state word of a TCB: who may run it, and the block/wake protocol.
//!
//! One `AtomicU64` per TCB:
//!
//! ```text
//!  63                                16 15        8 7          0
//! ┌────────────────────────────────────┬───────────┬────────────┐
//! │ epoch (48 bits)                    │ reason    │ run state  │
//! └────────────────────────────────────┴───────────┴────────────┘
//! ```
//!
//! | run state  | meaning                                         | who moves it out            |
//! |------------|-------------------------------------------------|-----------------------------|
//! | `FREE`     | slot on death row or never used                 | spawn                       |
//! | `RUNNABLE` | in exactly one run queue                        | the LWP that dequeues it    |
//! | `RUNNING`  | executing on an LWP                             | the ULT itself              |
//! | `BLOCKING` | decided to block, still switching out           | its LWP (commit) or a waker |
//! | `BLOCKED`  | switched out, waiting for a wake with its epoch | a waker                     |
//! | `EXITED`   | finished, its LWP is recycling it               | its LWP                     |
//!
//! Blocking is two steps, as in Go's `gopark`/`park_m`. The ULT calls
//! [`State::prepare_block`], which bumps the epoch and sets `BLOCKING`,
//! publishes a [`WakeToken`] carrying that epoch wherever its waker will
//! find it, and switches to its LWP. The LWP, now off the ULT's stack, calls
//! [`State::commit_block`]: `BLOCKING -> BLOCKED`. A waker calls
//! [`State::wake`] with the token:
//!
//! 1. state `BLOCKING` with the token's epoch: CAS to `RUNNABLE`. The waker
//!    does *not* enqueue; `commit_block` fails and the LWP requeues the ULT.
//! 2. state `BLOCKED` with the token's epoch: CAS to `RUNNABLE`, and the
//!    waker enqueues the ULT (`Wake::Enqueue`).
//! 3. any other state or epoch: the wait the token was made for is over
//!    (woken by someone else, timed out, or the slot was reused); no-op.
//!
//! Exactly one party moves a given epoch out of `BLOCKING`/`BLOCKED`, so a
//! ULT is enqueued once per block however many wakers race, and never while
//! it is still on its own stack.
//!
//! A block that a direct switch leaves to its LWP may stay `BLOCKING`,
//! *held*, while the ULT switched to runs (`lwp/handoff.rs`); a wake of it
//! made on that LWP ends it with a plain store ([`State::end_held`]),
//! since no waker enqueues a `BLOCKING` ULT: only the holder can. The epoch makes a late waker (a timer that
//! fires after an `unpark` already ended the wait) harmless. 48 bits of
//! epoch do not wrap in the life of a process (2^48 blocks of one thread).
//!
//! ## An OS thread's wait
//!
//! A registered OS thread (`main`, a `std::thread`) that waits inside weave
//! has no LWP to switch to: it spins briefly, then parks in the kernel
//! (`sched::block_os`). Its word goes RUNNING -> BLOCKED
//! ([`State::set_os_blocked`]) before its waiter is published, and then:
//!
//! 1. It spins, reading the word ([`State::os_waiting`]): a waker's
//!    [`State::wake_os`] CAS (BLOCKED -> RUNNING) ends the wait, and that
//!    CAS is the whole wake-up (a partner on another CPU answers within a
//!    few hundred ns in a ping-pong: no system call on either side).
//! 2. Spun out, it sets [`PARKS`] in the word with a CAS
//!    ([`State::announce_os_park`]), then parks (`std::thread::park`).
//!    If the CAS finds the wait over instead, it goes on: that waker saw
//!    no `PARKS`, so no unpark is on its way.
//! 3. A waker whose CAS replaced a word with `PARKS` unparks the thread
//!    (one `futex_wake`); one that replaced a word without it does not.
//!
//! Steps 2 and 3 are RMWs of the same word, so one comes first and the
//! other sees it: no wake-up is lost and none is made for a thread that
//! does not sleep. `loom_tests` checks both.
//!
//! Plain atomics under the `crate::loom` facade: it names nothing else of
//! weave's.

use crate::loom::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

pub(crate) const FREE: u64 = 0;
pub(crate) const RUNNABLE: u64 = 1;
pub(crate) const RUNNING: u64 = 2;
pub(crate) const BLOCKING: u64 = 3;
pub(crate) const BLOCKED: u64 = 4;
pub(crate) const EXITED: u64 = 5;

const RUN_MASK: u64 = 0xff;
/// In the reason byte of a registered OS thread's BLOCKED word: the wait
/// has a deadline (so a timer of the kernel will end it).
pub(crate) const TIMED: u8 = 0x80;
/// In the reason byte of a registered OS thread's BLOCKED word: the thread
/// has stopped spinning on the word and parks in the kernel (or is about
/// to), so its waker must unpark it. While it is clear the thread still
/// spins, and the waker's CAS alone ends the wait: no system call on
/// either side (see "An OS thread's wait" above). Never set in a ULT's
/// word; [`Word::reason`] leaves it out.
pub(crate) const PARKS: u8 = 0x40;
const REASON_SHIFT: u32 = 8;
const EPOCH_SHIFT: u32 = 16;

#[inline]
const fn pack(run: u64, reason: u8, epoch: u64) -> u64 {
    run | (reason as u64) << REASON_SHIFT | epoch << EPOCH_SHIFT
}

/// A decoded state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word(u64);

impl Word {
    #[inline]
    pub(crate) fn run(self) -> u64 {
        self.0 & RUN_MASK
    }
    /// The reason byte: a `BlockReason`, with [`TIMED`] for an OS thread's
    /// timed wait ([`PARKS`] left out).
    #[inline]
    pub(crate) fn reason(self) -> u8 {
        (self.0 >> REASON_SHIFT) as u8 & !PARKS
    }
    /// An OS thread's BLOCKED word whose thread parks (or is about to).
    #[inline]
    pub(crate) fn parks(self) -> bool {
        (self.0 >> REASON_SHIFT) as u8 & PARKS != 0
    }
    #[inline]
    pub(crate) fn epoch(self) -> u64 {
        self.0 >> EPOCH_SHIFT
    }
}

/// The result of a wake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The ULT was `BLOCKED`: the waker must enqueue it.
    Enqueue,
    /// The ULT was still switching out: its LWP requeues it.
    LwpRequeues,
    /// The wait was already over: nothing to do.
    Stale,
}

/// Identifies one wait of one ULT: whoever holds it may end that wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WakeToken {
    pub(crate) epoch: u64,
}

pub(crate) struct State(AtomicU64);

impl State {
    pub(crate) fn new() -> State {
        State(AtomicU64::new(FREE))
    }

    #[inline]
    pub(crate) fn load(&self) -> Word {
        Word(self.0.load(Acquire))
    }

    /// FREE -> RUNNABLE, for a new ULT. The epoch carries over so that a
    /// token of the slot's previous owner stays stale.
    pub(crate) fn spawn(&self) {
        let w = Word(self.0.load(Relaxed));
        debug_assert_eq!(w.run(), FREE);
        // Release pairs with the Acquire in `load` of whoever dequeues it:
        // the TCB's fields written at spawn are visible to the LWP.
        self.0.store(pack(RUNNABLE, 0, w.epoch()), Release);
    }

    /// RUNNABLE -> RUNNING, by the LWP that dequeued it. Only that LWP can
    /// touch a RUNNABLE word, so a store is enough.
    #[inline]
    pub(crate) fn set_running(&self) {
        let w = Word(self.0.load(Relaxed));
        debug_assert_eq!(w.run(), RUNNABLE, "dequeued a ULT that was not runnable");
        self.0.store(pack(RUNNING, 0, w.epoch()), Relaxed);
    }

    /// RUNNING -> RUNNABLE on a yield, by the ULT itself.
    #[inline]
    pub(crate) fn set_runnable(&self) {
        let w = Word(self.0.load(Relaxed));
        self.0.store(pack(RUNNABLE, 0, w.epoch()), Relaxed);
    }

    /// RUNNING -> BLOCKING with a new epoch; called by the ULT itself.
    pub(crate) fn prepare_block(&self, reason: u8) -> WakeToken {
        let w = Word(self.0.load(Relaxed));
        debug_assert_eq!(w.run(), RUNNING);
        let epoch = w.epoch() + 1;
        // SeqCst: the ULT's next step is to check its wake condition (the
        // park permit, a packet's state). This store and that load form a
        // Dekker pair with the waker's "set condition; wake()" so that at
        // least one of the two sees the other.
        self.0.store(pack(BLOCKING, reason, epoch), SeqCst);
        WakeToken { epoch }
    }

    /// As [`prepare_block`](Self::prepare_block), for a wait whose token
    /// reaches its waker only through a Release that comes after this
    /// store (a channel's wait record, published by a Release RMW or
    /// under a lock): that waker's Acquire orders its look at the state
    /// after BLOCKING, so no Dekker pair with the state word is needed,
    /// and the store is Relaxed (a plain store, where `prepare_block`'s
    /// SeqCst one is a locked instruction on x86). A cancellation or a
    /// signal, which hold no token, meet the LWP's SeqCst commit as with
    /// `prepare_block`.
    #[inline]
    pub(crate) fn prepare_block_handed(&self, reason: u8) -> WakeToken {
        let w = Word(self.0.load(Relaxed));
        debug_assert_eq!(w.run(), RUNNING);
        let epoch = w.epoch() + 1;
        self.0.store(pack(BLOCKING, reason, epoch), Relaxed);
        WakeToken { epoch }
    }

    /// BLOCKING -> RUNNING when the ULT finds it need not block after all.
    /// A waker may have made it RUNNABLE meanwhile; it did not enqueue it
    /// (case 1), so the ULT simply goes on running.
    pub(crate) fn cancel_block(&self) {
        let w = Word(self.0.load(Relaxed));
        self.0.store(pack(RUNNING, 0, w.epoch()), SeqCst);
    }

    /// BLOCKING -> BLOCKED, by the LWP once off the ULT's stack. Returns
    /// false if a waker got there first: the caller requeues the ULT.
    pub(crate) fn commit_block(&self) -> bool {
        let w = Word(self.0.load(Relaxed));
        if w.run() != BLOCKING {
            debug_assert_eq!(w.run(), RUNNABLE);
            return false;
        }
        // AcqRel on success pairs with the waker's CAS: a waker that later
        // sees BLOCKED also sees everything the ULT wrote before it blocked.
        self.0
            .compare_exchange(w.0, pack(BLOCKED, w.reason(), w.epoch()), SeqCst, Acquire)
            .is_ok()
    }

    /// Ends the wait `token` of a ULT whose block its LWP *holds*
    /// uncommitted (`lwp/handoff.rs`), on that LWP: no RMW. `None` if the
    /// token is stale (the word is at another wait); `Some(true)` if this
    /// call ended the wait (the caller queues the ULT, as for
    /// [`Wake::Enqueue`]); `Some(false)` if another waker ended it while
    /// it was `BLOCKING` (that waker left the queueing to the LWP: the
    /// caller requeues it, as a failed commit does).
    ///
    /// A store is enough because nobody else moves a held block's word
    /// anywhere but to `RUNNABLE` with the same epoch: the ULT cannot run
    /// (only its LWP, which is the caller, would run it), only its LWP
    /// commits, and every waker's CAS from `BLOCKING` writes exactly
    /// `pack(RUNNABLE, 0, epoch)`, the value stored here. Whatever order
    /// the store and such a CAS take, the word ends `RUNNABLE` at this
    /// epoch, and only the caller queues the ULT (a waker that finds
    /// `BLOCKING` never does). Acquire: a waker that ended the wait
    /// before, and what it wrote before its CAS (a cancellation request),
    /// are seen.
    #[inline]
    pub(crate) fn end_held(&self, token: WakeToken) -> Option<bool> {
        let w = Word(self.0.load(Acquire));
        if w.epoch() != token.epoch {
            return None;
        }
        match w.run() {
            BLOCKING => {
                self.0.store(pack(RUNNABLE, 0, w.epoch()), Relaxed);
                Some(true)
            }
            run => {
                debug_assert_eq!(run, RUNNABLE, "a held block moved on");
                Some(false)
            }
        }
    }

    /// Ends the wait identified by `token`, if it is still going on.
    pub(crate) fn wake(&self, token: WakeToken) -> Wake {
        self.wake_if(|w| w.epoch() == token.epoch).0
    }

    /// Ends the current wait if it is for `reason` (used by `unpark`, which
    /// has no token: it ends whatever park is in progress). Returns the
    /// outcome and the epoch of the wait it ended (the trace's Wake names
    /// it).
    pub(crate) fn wake_reason(&self, reason: u8) -> (Wake, u64) {
        self.wake_if(|w| w.reason() == reason)
    }

    /// Ends whatever wait is in progress (a cancellation request, which
    /// holds no token: `thread/cancel.rs`). Its first load is SeqCst, the
    /// requester's half of a Dekker pair with the LWP's commit. Returns
    /// the outcome and the epoch of the wait it ended.
    pub(crate) fn wake_any(&self) -> (Wake, u64) {
        self.wake_if(|_| true)
    }

    fn wake_if(&self, matches: impl Fn(Word) -> bool) -> (Wake, u64) {
        let mut cur = Word(self.0.load(SeqCst));
        loop {
            if !matches(cur) {
                return (Wake::Stale, cur.epoch());
            }
            let outcome = match cur.run() {
                BLOCKING => Wake::LwpRequeues,
                BLOCKED => Wake::Enqueue,
                _ => return (Wake::Stale, cur.epoch()),
            };
            let next = pack(RUNNABLE, 0, cur.epoch());
            // SeqCst pairs with `prepare_block` (Dekker, see there) and with
            // `commit_block`: exactly one of us leaves BLOCKING.
            match self.0.compare_exchange(cur.0, next, SeqCst, SeqCst) {
                Ok(_) => return (outcome, cur.epoch()),
                Err(actual) => cur = Word(actual),
            }
        }
    }

    /// A registered OS thread is about to park inside a weave wait: shown
    /// as BLOCKED with its reason (and `TIMED` in the reason's high bit when
    /// a deadline will end it), before its waiter is published, so that
    /// its waker's [`wake_os`](Self::wake_os) finds it so. Only the thread
    /// itself moves its word into a wait, so a store is enough.
    pub(crate) fn set_os_blocked(&self, reason: u8, timed: bool) -> WakeToken {
        let w = Word(self.0.load(Relaxed));
        let r = reason | if timed { TIMED } else { 0 };
        // A new epoch per wait, so that two looks at the table can tell
        // one long wait from two short ones.
        let epoch = w.epoch() + 1;
        self.0.store(pack(BLOCKED, r, epoch), SeqCst);
        WakeToken { epoch }
    }

    /// A waker ends the OS thread's wait `token` in the word (BLOCKED ->
    /// RUNNING), before it unparks the thread: from then on nobody looking
    /// at the table (the deadlock detector) takes a woken thread that the
    /// kernel has not run yet for a blocked one. Returns whether the
    /// thread must be unparked: it had announced its park
    /// ([`announce_os_park`](Self::announce_os_park)); while it spins,
    /// this CAS is the whole wake-up. Does nothing (false) if that wait
    /// is over.
    pub(crate) fn wake_os(&self, token: WakeToken) -> bool {
        let mut cur = Word(self.0.load(SeqCst));
        loop {
            if cur.run() != BLOCKED || cur.epoch() != token.epoch {
                // Over: woken by another, timed out, or a later wait.
                return false;
            }
            // SeqCst, as the thread's own stores. Release: what the waker
            // wrote before (the value it handed over) is visible to the
            // spinning thread's Acquire load that sees RUNNING. A failed
            // exchange is the thread announcing its park (or moving on):
            // look again.
            match self
                .0
                .compare_exchange(cur.0, pack(RUNNING, 0, cur.epoch()), SeqCst, SeqCst)
            {
                Ok(_) => return cur.parks(),
                Err(actual) => cur = Word(actual),
            }
        }
    }

    /// The OS thread, done spinning on its wait `token`, announces that it
    /// parks: BLOCKED -> BLOCKED with [`PARKS`]. False if a waker ended the
    /// wait first: the thread must not park (no unpark comes for this
    /// wait, since that waker saw no `PARKS`). Both this and `wake_os` are
    /// RMWs of the one word, so one of them sees the other: either the
    /// waker finds `PARKS` and unparks, or this finds the wait over.
    pub(crate) fn announce_os_park(&self, token: WakeToken) -> bool {
        let mut cur = Word(self.0.load(Relaxed));
        loop {
            if cur.run() != BLOCKED || cur.epoch() != token.epoch {
                return false;
            }
            let parks = cur.0 | (PARKS as u64) << REASON_SHIFT;
            // SeqCst as `wake_os`; Acquire on failure pairs with the
            // waker's Release, as the spinning load does.
            match self.0.compare_exchange(cur.0, parks, SeqCst, Acquire) {
                Ok(_) => return true,
                Err(actual) => cur = Word(actual),
            }
        }
    }

    /// Whether the OS thread's wait `token` is still going on (nobody has
    /// woken it): what its spin looks at. Acquire pairs with `wake_os`'s
    /// Release.
    #[inline]
    pub(crate) fn os_waiting(&self, token: WakeToken) -> bool {
        let w = self.load();
        w.run() == BLOCKED && w.epoch() == token.epoch
    }

    /// The OS thread is back from its weave wait.
    pub(crate) fn set_os_running(&self) {
        let w = Word(self.0.load(Relaxed));
        self.0.store(pack(RUNNING, 0, w.epoch()), SeqCst);
    }

    /// RUNNING -> EXITED, by the ULT as it finishes.
    pub(crate) fn exit(&self) {
        let w = Word(self.0.load(Relaxed));
        self.0.store(pack(EXITED, 0, w.epoch()), Release);
    }

    /// EXITED -> FREE, by its LWP once the slot may be reused.
    pub(crate) fn free(&self) {
        let w = Word(self.0.load(Relaxed));
        self.0.store(pack(FREE, 0, w.epoch() + 1), Release);
    }

    /// FREE at `epoch`, for a slot whose page the thread table gave back
    /// to the kernel (it read back as zero, epoch 0): `epoch` is past every
    /// epoch its earlier threads reached, so that a wake token one of them
    /// handed out can never match a later thread of the slot. Relaxed: the
    /// table's lock orders it before the slot is handed out.
    pub(crate) fn revive(&self, epoch: u64) {
        self.0.store(pack(FREE, 0, epoch), Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn running() -> State {
        let s = State::new();
        s.spawn();
        s.set_running();
        s
    }

    #[test]
    fn wake_before_commit_leaves_requeue_to_the_lwp() {
        let s = running();
        let t = s.prepare_block(1);
        assert_eq!(s.wake(t), Wake::LwpRequeues);
        assert!(!s.commit_block());
        assert_eq!(s.load().run(), RUNNABLE);
    }

    #[test]
    fn wake_after_commit_enqueues_once() {
        let s = running();
        let t = s.prepare_block(1);
        assert!(s.commit_block());
        assert_eq!(s.wake(t), Wake::Enqueue);
        assert_eq!(s.wake(t), Wake::Stale);
    }

    #[test]
    fn stale_token_does_not_wake_a_later_wait() {
        let s = running();
        let first = s.prepare_block(2);
        assert!(s.commit_block());
        assert_eq!(s.wake(first), Wake::Enqueue);
        s.set_running();
        let _second = s.prepare_block(2);
        assert!(s.commit_block());
        assert_eq!(
            s.wake(first),
            Wake::Stale,
            "a timer of the first wait fired late"
        );
        assert_eq!(s.load().run(), BLOCKED);
    }

    #[test]
    fn wake_reason_only_ends_matching_waits() {
        let s = running();
        let _t = s.prepare_block(3);
        assert!(s.commit_block());
        assert_eq!(s.wake_reason(4).0, Wake::Stale);
        assert_eq!(s.wake_reason(3).0, Wake::Enqueue);
    }

    fn os_running() -> State {
        let s = State::new();
        s.set_os_running();
        s
    }

    #[test]
    fn a_wake_while_the_os_thread_spins_needs_no_unpark() {
        let s = os_running();
        let t = s.set_os_blocked(6, false);
        assert!(s.os_waiting(t));
        assert!(!s.wake_os(t), "unparked a thread that never parked");
        assert!(!s.os_waiting(t));
        assert!(!s.announce_os_park(t), "parked after the wake");
    }

    #[test]
    fn a_wake_after_the_announced_park_unparks_once() {
        let s = os_running();
        let t = s.set_os_blocked(6, true);
        assert!(s.announce_os_park(t));
        // The reason stays readable, and TIMED with it.
        assert_eq!(s.load().reason(), 6 | TIMED);
        assert!(s.load().parks());
        assert!(s.wake_os(t));
        assert!(!s.wake_os(t), "a second waker unparked too");
        assert_eq!(s.load().run(), RUNNING);
    }

    #[test]
    fn a_stale_os_token_neither_wakes_nor_unparks() {
        let s = os_running();
        let first = s.set_os_blocked(6, false);
        s.set_os_running();
        let second = s.set_os_blocked(6, false);
        assert!(s.announce_os_park(second));
        assert!(!s.wake_os(first));
        assert!(s.os_waiting(second));
        assert!(!s.announce_os_park(first));
    }

    #[test]
    fn freeing_a_slot_makes_old_tokens_stale() {
        let s = running();
        let t = s.prepare_block(1);
        s.cancel_block();
        s.exit();
        s.free();
        s.spawn();
        s.set_running();
        let _ = s.prepare_block(1);
        assert!(s.commit_block());
        assert_ne!(t.epoch, s.load().epoch());
    }
}

/// Model checks of the block/wake protocol under every interleaving.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicU32;
    use loom::sync::Arc;

    fn running() -> State {
        let s = State::new();
        s.spawn();
        s.set_running();
        s
    }

    /// A waker races the ULT's switch-out: exactly one of them requeues it.
    #[test]
    fn wake_racing_commit_enqueues_exactly_once() {
        loom::model(|| {
            let s = Arc::new(running());
            let token = s.prepare_block(1);
            let w = {
                let s = s.clone();
                loom::thread::spawn(move || s.wake(token))
            };
            let lwp_requeues = !s.commit_block();
            let outcome = w.join().unwrap();
            let waker_enqueues = outcome == Wake::Enqueue;
            assert!(
                lwp_requeues ^ waker_enqueues,
                "requeued {lwp_requeues}, enqueued {waker_enqueues}"
            );
            assert_eq!(s.load().run(), RUNNABLE);
        });
    }

    /// A wait whose token is handed out by a Release RMW after a Relaxed
    /// BLOCKING (`prepare_block_handed`, the channels' waits): the waker
    /// that takes the token never finds the wait not begun, and exactly
    /// one of it and the LWP's commit requeues the ULT.
    #[test]
    fn a_handed_token_is_never_stale_to_its_taker() {
        use loom::sync::atomic::AtomicU64;
        use std::sync::atomic::Ordering::AcqRel;
        const NONE: u64 = u64::MAX;
        loom::model(|| {
            let s = Arc::new(running());
            let slot = Arc::new(AtomicU64::new(NONE));
            let w = {
                let (s, slot) = (s.clone(), slot.clone());
                loom::thread::spawn(move || {
                    // Acquire pairs with the publishing swap's Release.
                    match slot.swap(NONE, AcqRel) {
                        NONE => None,
                        epoch => Some(s.wake(WakeToken { epoch })),
                    }
                })
            };
            let token = s.prepare_block_handed(1);
            // Release: orders the Relaxed BLOCKING before the token.
            slot.swap(token.epoch, AcqRel);
            let lwp_requeues = !s.commit_block();
            match w.join().unwrap() {
                Some(outcome) => {
                    assert_ne!(outcome, Wake::Stale, "the taker found the wait not begun");
                    assert!(lwp_requeues ^ (outcome == Wake::Enqueue));
                }
                // Not taken: the wait goes on, committed.
                None => assert!(!lwp_requeues && s.load().run() == BLOCKED),
            }
        });
    }

    /// Two wakers for the same wait (an unpark and its timer): one wins.
    #[test]
    fn two_wakers_enqueue_once() {
        loom::model(|| {
            let s = Arc::new(running());
            let token = s.prepare_block(1);
            assert!(s.commit_block());
            let ws: Vec<_> = (0..2)
                .map(|_| {
                    let s = s.clone();
                    loom::thread::spawn(move || s.wake(token))
                })
                .collect();
            let enqueues = ws
                .into_iter()
                .map(|w| w.join().unwrap())
                .filter(|o| *o == Wake::Enqueue)
                .count();
            assert_eq!(enqueues, 1);
        });
    }

    /// An OS thread's wait ("An OS thread's wait" in the module doc): the
    /// thread spins on its word, then announces its park and parks, while
    /// a waker ends the wait. The waker unparks exactly when the thread
    /// parks: never a lost wake-up (loom reports the thread parked for
    /// good as a deadlock), never a `futex_wake` for a thread that did not
    /// sleep.
    #[test]
    fn an_os_wait_is_woken_once_and_only_if_it_parks() {
        use loom::sync::atomic::AtomicBool;
        loom::model(|| {
            let s = Arc::new(State::new());
            s.set_os_running();
            let token = s.set_os_blocked(6, false);
            let unparked = Arc::new(AtomicBool::new(false));
            let me = loom::thread::current();
            let w = {
                let (s, unparked) = (s.clone(), unparked.clone());
                loom::thread::spawn(move || {
                    if s.wake_os(token) {
                        unparked.store(true, SeqCst);
                        me.unpark();
                    }
                })
            };
            // One read of the spin, then the announcement.
            let parks = s.os_waiting(token) && s.announce_os_park(token);
            if parks {
                while s.os_waiting(token) {
                    loom::thread::park();
                }
            }
            w.join().unwrap();
            assert_eq!(
                unparked.load(SeqCst),
                parks,
                "an unpark without a park, or none for one"
            );
            assert!(!s.os_waiting(token));
        });
    }

    /// The park permit and the state word as `park`/`unpark` use them: an
    /// unpark is never lost, whatever the interleaving.
    #[test]
    fn unpark_is_never_lost() {
        const EMPTY: u32 = 0;
        const NOTIFIED: u32 = 1;
        const PARK: u8 = 1;
        loom::model(|| {
            let s = Arc::new(running());
            let permit = Arc::new(AtomicU32::new(EMPTY));
            let u = {
                let (s, permit) = (s.clone(), permit.clone());
                loom::thread::spawn(move || {
                    if permit.swap(NOTIFIED, SeqCst) == NOTIFIED {
                        return false;
                    }
                    s.wake_reason(PARK).0 == Wake::Enqueue
                })
            };
            // park(): prepare, re-check the permit, else switch out.
            let _t = s.prepare_block(PARK);
            let parked = if permit.swap(EMPTY, SeqCst) == NOTIFIED {
                s.cancel_block();
                false
            } else {
                s.commit_block()
            };
            let waker_enqueued = u.join().unwrap();
            if parked {
                // Blocked for real: the unparker must have enqueued it, or
                // the permit must still be there for the next check.
                assert!(
                    waker_enqueued || permit.load(SeqCst) == NOTIFIED,
                    "lost wake-up: blocked, not enqueued, no permit"
                );
            }
        });
    }
}

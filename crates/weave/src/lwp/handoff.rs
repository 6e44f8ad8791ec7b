//! lwp/handoff: the block a direct switch hands to the ULT it switches to,
//! held uncommitted until its LWP switches again; and a wait whose
//! publication its ULT leaves to its LWP, made late or never.
//!
//! A ULT that blocks is `BLOCKING` until someone off its stack commits the
//! block (`BLOCKING -> BLOCKED`, `thread/state.rs`): a waker that finds it
//! `BLOCKED` enqueues it, and its LWP may run it at once, so the commit
//! must come after the last write the switch makes on the blocking ULT's
//! stack. Through the loop, the loop commits (`Lwp::dispatch`). A blocking
//! ULT that switches straight to the next ULT of its LWP (`Lwp::block_to`)
//! has no loop to do it: it leaves its block in this LWP's [`Handoff`],
//! which *holds* it, uncommitted, while the ULT switched in runs.
//!
//! ## The steps
//!
//! 1. The blocking ULT A (`BLOCKING`, its wake token published; a pooled
//!    ULT, which only this LWP runs) puts itself in the slot
//!    ([`Handoff::switch_blocking`]) and switches to B. The switch saves
//!    A's registers on A's stack: A's last use of it.
//! 2. B runs; A stays `BLOCKING`, held. A waker on another thread that
//!    ends A's wait meanwhile (`BLOCKING -> RUNNABLE`, a CAS) does not
//!    enqueue it: that is left to this LWP, as for any `BLOCKING` ULT.
//! 3. Whichever comes first on this LWP:
//!    - **a wake of A with its token, made here** (B hands A a message and
//!      wakes it: the common case of a ping-pong): [`Handoff::end_held`]
//!      ends the wait with a plain store (`State::end_held`) and the waker
//!      queues A, or requeues it if another waker ended the wait in step
//!      2. The slot is empty again.
//!    - **the LWP's next pick**: before a ULT of this LWP blocks
//!      (`Lwp::block_current`, which then picks) and when a ULT goes back
//!      to the loop (`Lwp::dispatch`), the held block is committed ([`Handoff::commit`]), as the loop commits its own: if
//!      a waker ended A's wait in step 2 the commit fails and this LWP
//!      requeues A; otherwise A is `BLOCKED` and the next waker enqueues it.
//!      Then this LWP does what the loop does after a commit: a pending
//!      signal or cancellation request that came while A was `BLOCKING`
//!      ends the wait.
//!
//! **Why it is right.** A can run again only on this LWP, and only after
//! one of step 3's two: a waker elsewhere that finds `BLOCKING` does not
//! queue it, and nothing else makes it `BLOCKED`. So the ULT is queued
//! exactly once: by the wake of step 3 (no other waker queues a `BLOCKING`
//! ULT, and every other waker's CAS writes the same `RUNNABLE` word the
//! plain store writes: `State::end_held`), or by whichever of the failed
//! commit and the waker that finds `BLOCKED` comes second (the state
//! word's CAS, as before). Holding the block delays little: a waker
//! elsewhere would only have put A in this LWP's queue (a started pooled
//! ULT is never stolen), which the next block's pick reads after the
//! commit; a direct yield's pick does not settle (one load a yield less),
//! but a chain of yields goes through the loop within the pick's cadence
//! of looks at timers and io (`sched/pick.rs`). One case would not wait
//! so little: A of higher priority than the ULT that runs, which never
//! blocks or yields. A push on the inbox would have asked the LWP to
//! switch (`Lwp::push_remote`); a waker elsewhere that ends a held wait
//! asks the same (`sched::left_to_its_lwp`), and the safe point that
//! honours the request settles the held block before its pick
//! (`thread::preempt_point`). Both of step 3's paths come after step 1's switch on
//! this thread, so whoever runs A sees its stack as the switch left it.
//!
//! **Signals and cancellations.** `Thread::kill` and a cancellation
//! request meet the LWP in a Dekker pair: "set pending; read the state
//! word" against "commit; read pending" (`signal::kick`,
//! `thread/cancel.rs`), so that a request that found the ULT not yet
//! `BLOCKED` is acted on by the LWP. The held block keeps that pair: a
//! block that is committed is committed with the same SeqCst CAS and
//! followed by the same loads (step 3's second path). A block whose wait
//! a wake ends without a commit (the first path) needs no such check: the
//! ULT runs again, and it takes a pending signal at its switch-in
//! (`signal::state::switched_in`) and a request at its next wait, as a
//! running ULT does.
//!
//! **What else looks at a held ULT.** It reads `BLOCKING` for as long as
//! B runs, where it used to be that only during the switch: the deadlock
//! detector takes a `BLOCKING` ULT placed on an LWP stuck in the kernel
//! for blocked (its LWP cannot be in the middle of a switch then), and a
//! thread dump made on this LWP commits the block first
//! (`Lwp::commit_held_here`).
//!
//! The loom models below run both of step 3's paths against a waker on
//! another thread, with A's token and without one (a cancellation), and
//! check that A runs again exactly once and never while the switch may
//! still write its stack.
//!
//! ## An exit handed on
//!
//! A ULT that ends and has just woken its joiner on this LWP may switch
//! straight to the joiner (`Lwp::exit_to`, the join's hand-off) instead of
//! going back to the loop, which would file the exit and then pick the
//! joiner. The exited ULT leaves itself in the slot
//! ([`Handoff::switch_exiting`]) and the joiner, switched in, hands it to
//! its LWP's `finish` (its stack to death row, its slot to the table)
//! before anything else ([`Handoff::take_exit`]). No state word is
//! involved: the exited ULT is no longer in any queue or wait, and its
//! stack, whose last use is the switch, is taken only by the side switched
//! in, after the switch (the same owner-only order as a handed block;
//! nothing here is shared with another thread).
//!
//! ## A wait published late
//!
//! A waiting side that publishes its wait with a read-modify-write (a
//! channel receive's CAS into its channel's one-word waiter slot, which
//! the sender that serves it takes with a swap: `sync/mpmc/waiters.rs`)
//! may leave that publication to its LWP instead ([`Handoff::defer`]): a
//! [`Deferred`] names the place (`key`), the wait's record and the call
//! that publishes it. At most one wait is deferred per LWP, and only by
//! a pooled ULT about to block (one that finds the slot taken publishes
//! its own). Its ULT then blocks as any other, straight to the next ULT
//! (its block held) or through the loop.
//!
//! 1. **Served here.** A waker running on this LWP that would serve a
//!    wait at `key` takes the deferred record instead
//!    ([`Handoff::take_deferred`], if its own check says it can serve it
//!    now), serves the wait through its record, and wakes it with its
//!    token, which ends a held block with a store ([`Handoff::end_held`]).
//!    In a ping-pong on one LWP both sides' waits go so: no RMW at all.
//! 2. **Published before the commit.** Otherwise, before the block is
//!    committed (step 3's second path, [`Handoff::commit`], and the
//!    loop's own commit of a block that went through it), the LWP makes
//!    the publication the ULT would have made
//!    ([`Handoff::publish_deferred`]): the same RMW and the same look
//!    after it (the waiting side's half of its Dekker pair with wakers
//!    elsewhere), and if what the wait waits for came meanwhile, it ends
//!    the wait (the ULT retries). Then the commit as before.
//!
//! **Why it is right.** Until the publication, no waker elsewhere can find
//! the wait, so none wakes it; but the ULT cannot run before its block is
//! settled either (it is `BLOCKING`: held, or on its way to the loop), and
//! every settle that leaves it blocked publishes first. So a waker
//! elsewhere that came before the publication is seen by the publication's
//! look (its RMW on the waited-for thing precedes that look in the SeqCst
//! order, or it sees the published wait), exactly as if the ULT had
//! published and looked itself before switching: the publication moved
//! later on the same thread, before anyone else can see the ULT blocked.
//! The waker here (1) and the publication (2) are on this LWP's thread,
//! one after the other, and each takes the record first: a wait is served
//! here or published, never both. A wait's record lives on its ULT's
//! stack, which stays put while the ULT is blocked; the ULT runs again only
//! after one of the two, so it never leaves its wait with a record still
//! here (checked when the loop gets a ULT back).
//!
//! **The record carries the value.** What `wait` points to is the
//! waiting side's, opaque here; a channel receive's record holds the
//! message slot itself (`sync/mpmc/deferred.rs`, "The wait", for a
//! bounded channel or a rendezvous): a waker here that takes the record (1) writes the message
//! into it and wakes the ULT, with no wait record of the channel's made
//! at all, and the publication (2) is what makes one, in the same record,
//! and marks it published. So the ULT, once it runs, knows from its
//! record alone which of the two ended its wait: not published, it was
//! served, and its value is there (written before the wake that let it
//! run); published, it ends its wait the full way.
//!
//! The loom model of `sync/mpmc/deferred.rs` (the record's owner) runs
//! both ways against a sender on another thread whose message may come
//! before, during or after the publication: the waiting ULT runs again
//! exactly once, finds its value in its record if its wait was not
//! published, and no message is lost.
//!
//! The slots are owner-only state of one LWP (one OS thread): `Cell`s,
//! read and written only by that LWP and its ULTs, one at a time. Names
//! only the state word of `thread/state.rs`.

use std::cell::Cell;

use crate::thread::state::{State, WakeToken};

/// Something that blocks with a state word: a TCB, or a model's ULT.
pub(crate) trait Blocks: Copy {
    fn block_state(&self) -> &State;
    /// Whether both name the same ULT.
    fn same(self, other: Self) -> bool;
}

/// The ULT whose block this LWP holds uncommitted, and the ULT whose exit
/// the next ULT to switch in files (see the module doc). Each empty but
/// between its steps.
pub(crate) struct Handoff<R> {
    held: Cell<Option<R>>,
    exited: Cell<Option<R>>,
    /// A wait whose publication is deferred, and its ULT ("A wait
    /// published late"): that ULT runs and has not switched yet, or its
    /// block is `held`.
    deferred: Cell<Option<(R, Deferred)>>,
}

/// A wait that its ULT did not publish where its wakers look: what this
/// LWP needs to publish it before its block is committed, or to let a ULT
/// of this LWP serve it ("A wait published late" in the module doc).
/// Opaque here: the words belong to the waiting side.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deferred {
    /// Names the place the wait would be published in (a local waker
    /// matches it).
    pub(crate) key: *const (),
    /// What `publish` works on (the channel).
    pub(crate) on: *const (),
    /// The wait's own record (the waiting side's context).
    pub(crate) wait: *const (),
    /// Publishes the wait as its ULT would have, and ends the wait if
    /// what it waits for came meanwhile.
    pub(crate) publish: unsafe fn(on: *const (), wait: *const ()),
}

/// What [`Handoff::end_held`] did with a wake made on the LWP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndHeld {
    /// The ULT's block is not held here: wake it as any other.
    NotHeld,
    /// Held, but the token is of another wait: nothing to do.
    Stale,
    /// The wait ended now: the caller queues the ULT (`Wake::Enqueue`).
    Ended,
    /// Another waker ended it while it was held (`BLOCKING -> RUNNABLE`),
    /// leaving the queueing to this LWP: the caller requeues it.
    EndedBefore,
}

impl<R: Blocks> Handoff<R> {
    pub(crate) const fn new() -> Handoff<R> {
        Handoff {
            held: Cell::new(None),
            exited: Cell::new(None),
            deferred: Cell::new(None),
        }
    }

    /// On the running ULT `owner`, about to block (`BLOCKING`): leaves the
    /// publication of its wait to this LWP, if no other wait's is left
    /// here (false: the caller publishes it itself).
    #[inline(always)]
    pub(crate) fn defer(&self, owner: R, d: Deferred) -> bool {
        if self.deferred.get().is_some() {
            return false;
        }
        self.deferred.set(Some((owner, d)));
        true
    }

    /// For a waker running on this LWP: the record of the wait deferred
    /// here under `key`, if one is and `serve` (asked only then) says the
    /// waker can serve it now, taken (the caller serves it, then ends the
    /// wait with its token).
    #[inline(always)]
    pub(crate) fn take_deferred(
        &self,
        key: *const (),
        serve: impl FnOnce() -> bool,
    ) -> Option<*const ()> {
        match self.deferred.get() {
            Some((_, d)) if d.key == key && serve() => {
                self.deferred.set(None);
                Some(d.wait)
            }
            _ => None,
        }
    }

    /// Before `t`'s block is committed (by the loop, or step 3's second
    /// path): publishes the wait deferred by `t`, if any. `publish` may
    /// end the wait (it may wake `t` through this LWP: nothing of the slot
    /// is borrowed across the call).
    #[inline(always)]
    pub(crate) fn publish_deferred(&self, t: R) {
        if let Some((owner, d)) = self.deferred.get() {
            if owner.same(t) {
                self.deferred.set(None);
                // SAFETY: the waiting side's contract (`Deferred`): its
                // record stays alive while its ULT is blocked.
                unsafe { (d.publish)(d.on, d.wait) };
            }
        }
    }

    /// Step 1, on the blocking ULT `from` (`BLOCKING`): leaves its block
    /// held here, then makes the switch, which returns once `from` runs
    /// again. The caller settled any block held before (step 3).
    #[inline(always)]
    pub(crate) fn switch_blocking(&self, from: R, switch: impl FnOnce()) {
        debug_assert!(self.held.get().is_none(), "a held block not settled");
        self.held.set(Some(from));
        switch();
    }

    /// The exit hand-off, on the ending ULT `from`: leaves its filing to
    /// the side switched to, then makes the switch, which never returns
    /// (nothing switches to an exited ULT).
    #[inline(always)]
    pub(crate) fn switch_exiting(&self, from: R, switch: impl FnOnce()) {
        debug_assert!(
            self.exited.get().is_none(),
            "an exit handed on over another"
        );
        self.exited.set(Some(from));
        switch();
    }

    /// On the ULT just switched in, before anything else: the exited ULT
    /// handed on, if one was, for the caller's LWP to file.
    #[inline(always)]
    pub(crate) fn take_exit(&self) -> Option<R> {
        // A load and a branch when nothing was handed on (every switch-in
        // pays it): `take` would store `None` back every time.
        let t = self.exited.get()?;
        self.exited.set(None);
        Some(t)
    }

    /// Whether a block is held (step 3's second path has work to do).
    #[inline(always)]
    pub(crate) fn holds_block(&self) -> bool {
        self.held.get().is_some()
    }

    /// Step 3, the LWP's next pick: commits the block held, if any, and
    /// says whether it committed (false: a waker ended the wait while it
    /// was held, and the caller's LWP must requeue the ULT).
    #[inline(always)]
    pub(crate) fn commit(&self) -> Option<(R, bool)> {
        let t = self.held.get()?;
        // Its wait is published first, if it was deferred; that may end
        // the wait (`end_held`), and then there is nothing to commit. One
        // load and a branch when nothing is deferred (a `park`'s block).
        if self.deferred.get().is_some() {
            self.publish_deferred(t);
            self.held.get()?;
        }
        self.commit_undeferred()
    }

    /// [`commit`](Self::commit) when nothing the held ULT deferred is
    /// here (a caller that looked: its common path then makes no call).
    /// A wait deferred by the running ULT, about to block, may be.
    #[inline(always)]
    pub(crate) fn commit_undeferred(&self) -> Option<(R, bool)> {
        let t = self.held.get()?;
        self.held.set(None);
        Some((t, t.block_state().commit_block()))
    }

    /// Step 3, a wake made on this LWP: if `t`'s block is the one held
    /// here, ends its wait `token` without a read-modify-write.
    #[inline(always)]
    pub(crate) fn end_held(&self, t: R, token: WakeToken) -> EndHeld {
        match self.held.get() {
            Some(h) if h.same(t) => {}
            _ => return EndHeld::NotHeld,
        }
        debug_assert!(
            !matches!(self.deferred.get(), Some((o, _)) if o.same(t)),
            "a wait ended before it was published or served"
        );
        match t.block_state().end_held(token) {
            None => EndHeld::Stale,
            Some(ended) => {
                self.held.set(None);
                if ended {
                    EndHeld::Ended
                } else {
                    EndHeld::EndedBefore
                }
            }
        }
    }

    /// Whether the held and exited slots are empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.get().is_none() && self.exited.get().is_none()
    }

    /// Whether no wait is deferred here.
    #[inline(always)]
    pub(crate) fn defers_nothing(&self) -> bool {
        self.deferred.get().is_none()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::thread::state::{Wake, RUNNABLE};
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::atomic::Ordering::SeqCst;
    use loom::sync::Arc;

    /// A ULT of the model: its state word, and its stack, which the ULT
    /// writes while it runs and the switch writes as it leaves (loom flags
    /// two writers that nothing orders).
    pub(crate) struct Ult {
        pub(crate) state: State,
        pub(crate) stack: UnsafeCell<u64>,
        /// Times someone took it to run again after its block.
        pub(crate) resumed: AtomicUsize,
    }

    impl Blocks for &Ult {
        fn block_state(&self) -> &State {
            &self.state
        }
        fn same(self, other: Self) -> bool {
            std::ptr::eq(self, other)
        }
    }

    impl Ult {
        pub(crate) fn new() -> Ult {
            let u = Ult {
                state: State::new(),
                stack: UnsafeCell::new(0),
                resumed: AtomicUsize::new(0),
            };
            u.state.spawn();
            u.state.set_running();
            u
        }

        /// Runs the ULT on the calling thread: its code writes its stack.
        pub(crate) fn run(&self) {
            self.resumed.fetch_add(1, SeqCst);
            // SAFETY: the model's claim under test: whoever runs the ULT
            // is ordered after its last switch (loom checks it).
            self.stack.with_mut(|s| unsafe { *s += 1 });
        }
    }

    /// How the LWP settles the held block (step 3).
    #[derive(Clone, Copy)]
    enum Settle {
        /// The ULT switched in wakes A with A's token.
        WakeHere,
        /// The LWP's next pick commits it.
        Commit,
    }

    /// How the waker on another thread ends A's wait.
    #[derive(Clone, Copy)]
    enum Elsewhere {
        /// With A's token (a second holder of it: a timer, a select arm).
        Token,
        /// Without one (a cancellation request: `wake_any`).
        Any,
    }

    /// A blocks and switches straight to B, which holds A's block while it
    /// runs; a waker on another LWP ends A's wait at any moment, and this
    /// LWP settles the block one way or the other. A runs again exactly
    /// once, and never while the switch may still write its stack.
    fn held_block_races_a_waker_elsewhere(settle: Settle, elsewhere: Elsewhere) {
        loom::model(move || {
            let a = Arc::new(Ult::new());
            // A decides to block; its token goes where its wakers find it.
            let token = a.state.prepare_block_handed(1);
            let waker = {
                let a = a.clone();
                loom::thread::spawn(move || {
                    let outcome = match elsewhere {
                        Elsewhere::Token => a.state.wake(token),
                        Elsewhere::Any => a.state.wake_any().0,
                    };
                    // An enqueue hands A to its LWP, which may run it as
                    // soon as it takes it.
                    if outcome == Wake::Enqueue {
                        a.run();
                    }
                })
            };
            // This LWP: A switches straight to B, its block held here.
            let handoff: Handoff<&Ult> = Handoff::new();
            handoff.switch_blocking(&*a, || {
                // The switch saves A's registers on A's stack.
                // SAFETY: as in `run`.
                a.stack.with_mut(|s| unsafe { *s += 1 })
            });
            // B runs, then settles A's block.
            match settle {
                Settle::WakeHere => match handoff.end_held(&*a, token) {
                    // Queued by B's wake, or requeued as a failed commit
                    // would be; this LWP runs it.
                    EndHeld::Ended | EndHeld::EndedBefore => a.run(),
                    other => panic!("the held block's own token: {other:?}"),
                },
                Settle::Commit => {
                    let Some((prev, blocked)) = handoff.commit() else {
                        panic!("a block was held");
                    };
                    assert!(std::ptr::eq(prev, &*a));
                    if !blocked {
                        // Woken while held: this LWP requeues and runs it.
                        a.run();
                    }
                }
            }
            assert!(handoff.is_empty());
            waker.join().unwrap();
            assert_eq!(a.resumed.load(SeqCst), 1, "A ran again once");
            assert_eq!(a.state.load().run(), RUNNABLE);
        });
    }

    #[test]
    fn a_held_block_woken_here_races_a_token_waker_elsewhere() {
        held_block_races_a_waker_elsewhere(Settle::WakeHere, Elsewhere::Token);
    }

    #[test]
    fn a_held_block_woken_here_races_a_cancellation() {
        held_block_races_a_waker_elsewhere(Settle::WakeHere, Elsewhere::Any);
    }

    #[test]
    fn a_held_block_committed_races_a_token_waker_elsewhere() {
        held_block_races_a_waker_elsewhere(Settle::Commit, Elsewhere::Token);
    }

    #[test]
    fn a_held_block_committed_races_a_cancellation() {
        held_block_races_a_waker_elsewhere(Settle::Commit, Elsewhere::Any);
    }

    /// A wake made here with a token of an earlier wait (a late timer)
    /// leaves the held block alone.
    #[test]
    fn a_stale_token_leaves_the_held_block_held() {
        loom::model(|| {
            let a = Ult::new();
            let old = a.state.prepare_block_handed(1);
            a.state.cancel_block();
            let token = a.state.prepare_block_handed(1);
            let handoff: Handoff<&Ult> = Handoff::new();
            handoff.switch_blocking(&a, || {});
            assert_eq!(handoff.end_held(&a, old), EndHeld::Stale);
            assert!(handoff.holds_block());
            assert_eq!(handoff.end_held(&a, token), EndHeld::Ended);
            assert!(handoff.is_empty());
        });
    }
}

/// The model's ULT, for the model of a deferred wait's record
/// (`sync/mpmc/deferred.rs`).
#[cfg(all(test, loom))]
pub(crate) use loom_tests::Ult;

//! lwp/handoff: the block a direct switch hands to the ULT it switches to.
//!
//! A ULT that blocks is `BLOCKING` until someone off its stack commits the
//! block (`BLOCKING -> BLOCKED`, `thread/state.rs`): a waker that finds it
//! `BLOCKED` enqueues it, and its LWP may run it at once, so the commit
//! must come after the last write the switch makes on the blocking ULT's
//! stack. Through the loop, the loop commits (`Lwp::dispatch`). A blocking
//! ULT that switches straight to the next ULT of its LWP (`Lwp::block_to`)
//! has no loop to do it: it leaves its block in this LWP's [`Handoff`], and
//! the ULT switched in commits it before anything else, on every path a ULT
//! comes back on (from a direct yield, a direct block, or the loop's
//! resume: `Lwp::commit_handed`).
//!
//! ## The steps
//!
//! 1. The blocking ULT A (`BLOCKING`, its wake token published) puts itself
//!    in the slot ([`Handoff::switch_blocking`]) and switches to B. The
//!    switch saves A's registers on A's stack: A's last use of it.
//! 2. B, back from its own switch, takes A from the slot and commits A's
//!    block ([`Handoff::commit`]). If a waker on another LWP ended A's wait
//!    in between (`BLOCKING -> RUNNABLE`, which does not enqueue), the
//!    commit fails and B's LWP requeues A; otherwise A is `BLOCKED` and the
//!    next waker enqueues it. Then B's LWP does what the loop does after a
//!    commit: a pending signal or cancellation request that came while A
//!    was `BLOCKING` ends the wait.
//!
//! **Why it is right.** Exactly one party leaves `BLOCKING` (the state
//! word's CAS), so A is queued once. The commit's CAS is the release of
//! step 1's stack writes, and the waker's CAS that finds `BLOCKED` is its
//! acquire: whoever runs A after that wake sees A's stack as the switch left
//! it. A commit made before the switch would let a waker enqueue A, and
//! another ULT of its LWP run it, while the switch still writes A's stack;
//! a skipped commit leaves a waker that found `BLOCKING` thinking the LWP
//! requeues A, and nobody does. The loom model below fails in both cases
//! (both were tried by editing [`Handoff`]).
//!
//! ## An exit handed on
//!
//! A ULT that ends and has just woken its joiner on this LWP may switch
//! straight to the joiner (`Lwp::exit_to`, the join's hand-off) instead of
//! going back to the loop, which would file the exit and then pick the
//! joiner. The exited ULT leaves itself in the slot
//! ([`Handoff::switch_exiting`]) and the joiner, switched in, hands it to
//! its LWP's `finish` (its stack to death row, its slot to the table).
//! No state word is involved: the exited ULT is no longer in any queue or
//! wait, and its stack, whose last use is the switch, is taken only by the
//! side switched in, after the switch (the same owner-only order as a
//! handed block; nothing here is shared with another thread).
//!
//! The slot is owner-only state of one LWP (one OS thread): a `Cell`, read
//! and written only by the ULTs of that LWP, one at a time. Names only the
//! state word of `thread/state.rs`.

use std::cell::Cell;

use crate::thread::state::State;

/// Something that blocks with a state word: a TCB, or a model's ULT.
pub(crate) trait Blocks: Copy {
    fn block_state(&self) -> &State;
}

/// The ULT whose block the next ULT to switch in on this LWP commits, or
/// whose exit it files (see the module doc), with `true` for an exit.
/// Empty except between the two steps.
pub(crate) struct Handoff<R>(Cell<Option<(R, bool)>>);

/// What the ULT just switched in found in the slot.
pub(crate) enum Handed<R> {
    /// A block, and whether it committed (false: a waker ended the wait
    /// while the ULT was switching out, and the caller's LWP must requeue
    /// it).
    Block(R, bool),
    /// An exited ULT, off its stack for good: the caller's LWP files it.
    Exit(R),
}

impl<R: Blocks> Handoff<R> {
    pub(crate) const fn new() -> Handoff<R> {
        Handoff(Cell::new(None))
    }

    /// Step 1, on the blocking ULT `from` (`BLOCKING`): leaves the commit of
    /// its block to the side switched to, then makes the switch, which
    /// returns once `from` runs again.
    #[inline(always)]
    pub(crate) fn switch_blocking(&self, from: R, switch: impl FnOnce()) {
        debug_assert!(self.is_empty(), "a block handed on twice");
        self.0.set(Some((from, false)));
        switch();
    }

    /// The exit hand-off, on the ending ULT `from`: leaves its filing to
    /// the side switched to, then makes the switch, which never returns
    /// (nothing switches to an exited ULT).
    #[inline(always)]
    pub(crate) fn switch_exiting(&self, from: R, switch: impl FnOnce()) {
        debug_assert!(self.is_empty(), "an exit handed on over another");
        self.0.set(Some((from, true)));
        switch();
    }

    /// Step 2, on the ULT just switched in, before anything else: commits
    /// the block handed here, if one was, or returns the exited ULT.
    #[inline(always)]
    pub(crate) fn commit(&self) -> Option<Handed<R>> {
        // A load and a branch when nothing was handed on (every switch-in
        // pays it): `take` would store `None` back every time.
        let (prev, exited) = self.0.get()?;
        self.0.set(None);
        if exited {
            return Some(Handed::Exit(prev));
        }
        let blocked = prev.block_state().commit_block();
        Some(Handed::Block(prev, blocked))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.get().is_none()
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
    struct Ult {
        state: State,
        stack: UnsafeCell<u64>,
        /// Times someone took it to run again after its block.
        resumed: AtomicUsize,
    }

    impl Blocks for &Ult {
        fn block_state(&self) -> &State {
            &self.state
        }
    }

    impl Ult {
        /// Runs the ULT on the calling thread: its code writes its stack.
        fn run(&self) {
            self.resumed.fetch_add(1, SeqCst);
            // SAFETY: the model's claim under test: whoever runs the ULT
            // is ordered after its last switch (loom checks it).
            self.stack.with_mut(|s| unsafe { *s += 1 });
        }
    }

    /// The commit of a block handed on by a direct switch races a wake
    /// from another LWP: the ULT runs again exactly once, and never while
    /// the switch may still write its stack.
    #[test]
    fn a_wake_from_another_lwp_during_a_direct_switch_resumes_the_ult_once() {
        loom::model(|| {
            let a = Arc::new(Ult {
                state: State::new(),
                stack: UnsafeCell::new(0),
                resumed: AtomicUsize::new(0),
            });
            a.state.spawn();
            a.state.set_running();
            // A decides to block (its token goes where its waker finds it:
            // here, the waker thread).
            let token = a.state.prepare_block(1);
            let waker = {
                let a = a.clone();
                loom::thread::spawn(move || {
                    // Another LWP wakes A; an enqueue hands A to its LWP,
                    // which may run it as soon as it takes it.
                    if a.state.wake(token) == Wake::Enqueue {
                        a.run();
                    }
                })
            };
            // This LWP: A switches straight to B, handing its block on.
            let handoff: Handoff<&Ult> = Handoff::new();
            handoff.switch_blocking(&*a, || {
                // The switch saves A's registers on A's stack.
                // SAFETY: as in `run`.
                a.stack.with_mut(|s| unsafe { *s += 1 })
            });
            // B, switched in, commits A's block first thing.
            let Some(Handed::Block(prev, blocked)) = handoff.commit() else {
                panic!("a block was handed on");
            };
            assert!(std::ptr::eq(prev, &*a));
            if !blocked {
                // Woken while switching out: this LWP requeues and runs it.
                a.run();
            }
            waker.join().unwrap();
            assert!(handoff.is_empty());
            assert_eq!(a.resumed.load(SeqCst), 1, "A ran again once");
            assert_eq!(a.state.load().run(), RUNNABLE);
        });
    }
}

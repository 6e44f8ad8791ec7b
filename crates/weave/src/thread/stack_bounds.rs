//! The bounds of a ULT's stack as any thread may read them: the
//! publication behind `thread::stack_of` (the C API's `pthread_getattr_np`
//! of another thread) and behind the thread dump's walk of a parked ULT's
//! stack (`inspect/stacks.rs`).
//!
//! Owns two words of the TCB. The writer is whoever gives the ULT its
//! stack: the spawn (a stack taken now, or none yet for a promise: 0 and
//! 0) and the first run (a promise kept). A slot's next thread publishes
//! again after `Table::release` has moved the slot's generation on. The
//! readers are any threads, at any time, with the generation of the
//! thread they mean. It must not name the LWPs or the scheduler.
//!
//! ```text
//!   lo:   lowest usable address (0: no stack yet)
//!   size: usable bytes | MAY_UNMAP (bit 0; sizes are multiples of 16)
//! ```
//!
//! **Steps.**
//!
//! 1. Writer: `size` then `lo`, both Release stores ([`StackBounds::publish`]).
//!    For a slot's next thread, the generation was bumped (a Release
//!    store) before this, in the writer's or a thread's it synchronised
//!    with (the slot came off a free list).
//! 2. Reader: `lo` then `size`, both Acquire loads, then an Acquire fence,
//!    then the slot's generation ([`StackBounds::read`]); `None` if `lo`
//!    is 0 or the generation is not the one asked about.
//!
//! **Why a reader never mixes two threads' bounds, nor takes the next
//! thread's for the one it asked about.** If either load read a value of
//! the next thread's publication, that load synchronises with its Release
//! store, after which the generation bump is visible (step 1): the
//! generation load returns the new generation, and the reader gives up.
//! Otherwise both values are the asked thread's, and of one publication
//! or of a promise (0, which is refused) and its first run's: a reader
//! that read the first run's `lo` synchronised with it and reads its
//! `size` or a later one (that of a next thread, caught as above). Both
//! stores being Release matters: with `size` Relaxed, a reader could read
//! the next thread's `size` beside the old `lo` without seeing the bump.
//! `loom_tests` checks both cases.
//!
//! `MAY_UNMAP` says the stack is not the pool's (a solo stack, unmapped by
//! weave when its thread is done, or a stack of the program's, which the
//! program may unmap once the thread is joined): a reader that reads the
//! stack's memory from another thread must do it in a way that fails
//! instead of faulting. A pool stack stays mapped for the life of the
//! process, so it may be read directly even if its thread ends meanwhile.

use crate::loom::{fence, AtomicU32, AtomicUsize};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Bit 0 of the size word: the stack may be unmapped once its thread is
/// done (module doc). Set only by a writer whose stack is not the pool's.
const MAY_UNMAP: usize = 1;

/// A stack as a reader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// The lowest usable address.
    pub(crate) lo: usize,
    /// Usable bytes above `lo`.
    pub(crate) size: usize,
    /// Not the pool's: it may be unmapped once its thread is done
    /// (`MAY_UNMAP`).
    pub(crate) may_unmap: bool,
}

/// The two words (module doc).
pub(crate) struct StackBounds {
    lo: AtomicUsize,
    size: AtomicUsize,
}

impl StackBounds {
    pub(crate) fn new() -> StackBounds {
        StackBounds {
            lo: AtomicUsize::new(0),
            size: AtomicUsize::new(0),
        }
    }

    /// Step 1: publishes `lo` and `size` (0 and 0 for no stack yet);
    /// `may_unmap` for a stack that is not the pool's.
    pub(crate) fn publish(&self, lo: usize, size: usize, may_unmap: bool) {
        debug_assert!(size & MAY_UNMAP == 0, "a stack's size is a multiple of 16");
        let word = size | if may_unmap { MAY_UNMAP } else { 0 };
        // Release: pairs with the Acquire load of `size` in `read`, so
        // that a reader of this size sees the generation bump before it.
        self.size.store(word, Release);
        // Release: pairs with the Acquire load of `lo` in `read`, so that
        // a reader of this `lo` reads this `size` or a later one.
        self.lo.store(lo, Release);
    }

    /// Step 2: the bounds of the thread of generation `want` whose slot's
    /// generation is `generation`, or `None` if it has no stack yet or
    /// the slot is another thread's by now. Any thread may ask.
    pub(crate) fn read(&self, generation: &AtomicU32, want: u32) -> Option<Bounds> {
        // Acquire: pairs with the Release store of `lo` in `publish`.
        let lo = self.lo.load(Acquire);
        // Acquire: pairs with the Release store of `size` in `publish`.
        let word = self.size.load(Acquire);
        // Acquire fence: the generation's load below stays after the two
        // loads above (whose Acquire made the bump of a next thread's
        // publication visible, step 2's argument).
        fence(Acquire);
        if lo == 0 || generation.load(Relaxed) != want {
            return None;
        }
        Some(Bounds {
            lo,
            size: word & !MAY_UNMAP,
            may_unmap: word & MAY_UNMAP != 0,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bounds_carry_the_kind_and_refuse_another_generation() {
        let g = AtomicU32::new(3);
        let b = StackBounds::new();
        assert_eq!(b.read(&g, 3), None, "no stack yet");
        b.publish(0x10000, 0x4000, true);
        let got = b.read(&g, 3).unwrap();
        assert_eq!((got.lo, got.size, got.may_unmap), (0x10000, 0x4000, true));
        assert_eq!(b.read(&g, 2), None, "another generation");
        b.publish(0x20000, 0x8000, false);
        assert!(!b.read(&g, 3).unwrap().may_unmap);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;

    const A: (usize, usize) = (0x10000, 0x4000);
    const B: (usize, usize) = (0x90000, 0x8000);

    /// A slot's thread of generation 1 publishes its stack; it ends, the
    /// slot's generation moves to 2 and the slot goes to a free list, from
    /// which another thread's spawn takes it and publishes a stack of
    /// another kind. A reader asking about generation 1 gets thread 1's
    /// bounds whole, or nothing: never thread 2's, nor a mix.
    #[test]
    fn a_reader_never_mixes_a_reused_slots_bounds() {
        loom::model(|| {
            let g = Arc::new(AtomicU32::new(1));
            let b = Arc::new(StackBounds::new());
            let free = Arc::new(AtomicBool::new(false));
            b.publish(A.0, A.1, false);
            let releaser = {
                let (g, free) = (g.clone(), free.clone());
                loom::thread::spawn(move || {
                    // `Table::release`: the generation first, then the slot
                    // to a free list.
                    g.store(2, Release);
                    free.store(true, Release);
                })
            };
            let spawner = {
                let (b, free) = (b.clone(), free.clone());
                loom::thread::spawn(move || {
                    if free.load(Acquire) {
                        b.publish(B.0, B.1, true);
                    }
                })
            };
            if let Some(got) = b.read(&g, 1) {
                assert_eq!((got.lo, got.size, got.may_unmap), (A.0, A.1, false));
            }
            releaser.join().unwrap();
            spawner.join().unwrap();
        });
    }

    /// A promise's bounds (none) at spawn, then the first run's: a reader
    /// gets nothing or the first run's bounds whole.
    #[test]
    fn a_reader_sees_no_stack_or_the_first_runs() {
        loom::model(|| {
            let g = Arc::new(AtomicU32::new(1));
            let b = Arc::new(StackBounds::new());
            b.publish(0, 0, false);
            let first_run = {
                let b = b.clone();
                loom::thread::spawn(move || b.publish(A.0, A.1, false))
            };
            if let Some(got) = b.read(&g, 1) {
                assert_eq!((got.lo, got.size, got.may_unmap), (A.0, A.1, false));
            }
            first_run.join().unwrap();
        });
    }
}

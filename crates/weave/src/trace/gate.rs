//! The gate of one LWP: its answer to "may an event of a switch here be
//! heard?", read instead of the trace's listeners word (`trace::STATE`)
//! and the thread's open record (`Tracer::holds_open`) by the events an
//! LWP emits with its `Tracer` (Block, Run, Exit, a wake made there): one
//! load and branch on a field of the LWP, where the two looks cost ~9
//! instructions a switch while nobody listens.
//!
//! | value  | set by | when |
//! |--------|--------|------|
//! | open   | `trace::register_gate`; [`open_all`] after the listeners word changes to non-zero | the LWP starts; a hook is installed, a recording starts |
//! | closed | its LWP alone ([`Gate::close_unless`]) | one of its events found the listeners word 0 and no record of its thread's ring open |
//!
//! Open is always right: the events behind it look at the listeners word
//! and the open record as they would without a gate. Closed is right only
//! while the word is 0 and no record waits for its Run, so the close and
//! an opening race as in Dekker's protocol:
//!
//! 1. the publisher stores the listeners word, then a SeqCst fence, then
//!    opens every gate ([`open_all`]);
//! 2. the LWP closes its gate, then a SeqCst fence, then reads the word
//!    again and reopens the gate if it is not 0 ([`Gate::close_unless`]).
//!
//! Either the LWP's fence comes first in the fences' single order, and
//! the publisher's opening store comes after the close in the gate's
//! modification order (the gate ends open), or the publisher's comes
//! first, and the LWP's second read sees the new word (and reopens).
//! Either way a listener installed while the LWP closes its gate finds it
//! open. The loom model below checks it.
//!
//! This file is the protocol alone: `trace/mod.rs` calls it with its
//! listeners word; it names nothing else.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use crate::loom::{fence, AtomicBool};

/// One LWP's gate (see the module doc).
pub(crate) struct Gate(AtomicBool);

impl Gate {
    /// Open: its LWP closes it at its first event with nobody listening.
    pub(crate) fn new() -> Gate {
        Gate(AtomicBool::new(true))
    }

    /// Whether an event here must look further.
    #[inline(always)]
    pub(crate) fn is_open(&self) -> bool {
        self.0.load(Relaxed)
    }

    /// Opens the gate (step 1, for one gate; and as its LWP starts).
    pub(super) fn open(&self) {
        self.0.store(true, Relaxed);
    }

    /// Step 2, by the gate's LWP alone: closes the gate, unless
    /// `listening()` (a read of the listeners word) says someone listens
    /// after the close.
    pub(super) fn close_unless(&self, listening: impl FnOnce() -> bool) {
        self.0.store(false, Relaxed);
        // Pairs with the fence in `open_all`.
        fence(SeqCst);
        if listening() {
            self.0.store(true, Relaxed);
        }
    }
}

/// Step 1, after the publisher stored a non-zero listeners word: opens
/// `gates`.
pub(super) fn open_all<'a>(gates: impl IntoIterator<Item = &'a Gate>) {
    // Pairs with the fence in `Gate::close_unless`.
    fence(SeqCst);
    for g in gates {
        g.open();
    }
}

/// Model check: a listener installed while an LWP closes its gate.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::AtomicU64;
    use std::sync::Arc;

    #[test]
    fn a_listener_installed_during_a_close_finds_the_gate_open() {
        loom::model(|| {
            let word = Arc::new(AtomicU64::new(0));
            let gate = Arc::new(Gate::new());
            let publisher = {
                let (word, gate) = (word.clone(), gate.clone());
                loom::thread::spawn(move || {
                    word.store(2, Relaxed);
                    open_all([&*gate]);
                })
            };
            // The LWP saw the word 0 (before the publisher's store) and
            // closes its gate.
            gate.close_unless(|| word.load(Relaxed) != 0);
            publisher.join().unwrap();
            assert!(
                gate.is_open(),
                "a listener is installed: the gate must be open"
            );
        });
    }
}

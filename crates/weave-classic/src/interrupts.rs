//! Disabling interrupts, in its user-level form: turn off the thread
//! system's preemption for the length of the critical region.
//!
//! On a uniprocessor kernel, `cli` before the critical region and `sti`
//! after it give mutual exclusion for free: with no clock interrupt the
//! scheduler never runs, so no other process can. The user-level analogue in
//! a two-level runtime is to stop the runtime from preempting the current ULT
//! ([`Preemption::disable`]): no other ULT of this LWP runs until the guard
//! drops.
//!
//! It has the same two faults as the original, and the second is the one
//! that matters:
//!
//! * it trusts the thread inside not to block or yield (a ULT that yields
//!   inside lets another ULT of its LWP in), and to come out;
//! * it only holds the one processor. Other CPUs (other LWPs) keep running
//!   and walk straight in, so it is not mutual exclusion on a multiprocessor.
//!
//! With the default [`OsThread`] hooks there is nothing to disable (the
//! kernel preempts OS threads whatever they do), so [`InterruptLock`]
//! excludes no one at all: the model test
//! `disabling_interrupts_does_not_exclude_another_lwp` has loom find two
//! threads inside, and the lab shows it with two LWPs. weave plugs in a
//! [`Preemption`] that really turns off its preemption timer for the LWP;
//! the lock then excludes the ULTs of one LWP, and still not those of
//! another, which is why it does not implement
//! [`MutualExclusion`](crate::MutualExclusion).

use crate::critical_section::CriticalSection;
use crate::hooks::{OsThread, Preemption};
use core::fmt;
use core::marker::PhantomData;

/// "Disabling interrupts": the critical region runs with the preemption of
/// `P` turned off. Any number of threads, but exclusion only among the
/// threads of one processor (see the module docs).
pub struct InterruptLock<P = OsThread> {
    _preemption: PhantomData<fn() -> P>,
}

impl InterruptLock {
    /// The lock for OS threads, which disables nothing.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<P: Preemption> Default for InterruptLock<P> {
    fn default() -> Self {
        Self {
            _preemption: PhantomData,
        }
    }
}

impl<P> fmt::Debug for InterruptLock<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterruptLock").finish_non_exhaustive()
    }
}

/// Preemption is off while this lives.
#[must_use = "preemption comes back on as soon as the guard is dropped"]
pub struct InterruptGuard<P: Preemption = OsThread> {
    _preemption_off: P::Guard,
}

impl<P: Preemption> fmt::Debug for InterruptGuard<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterruptGuard").finish_non_exhaustive()
    }
}

impl<P: Preemption> CriticalSection for InterruptLock<P> {
    type Id = ();
    type Guard<'a>
        = InterruptGuard<P>
    where
        Self: 'a;

    /// Never waits: there is nothing to wait for, the point is that no one
    /// else can run.
    fn enter(&self, (): ()) -> InterruptGuard<P> {
        InterruptGuard {
            _preemption_off: P::disable(),
        }
    }

    fn try_enter(&self, (): ()) -> Option<InterruptGuard<P>> {
        Some(self.enter(()))
    }
}

//! What a lock asks of the thread system it runs on.
//!
//! The algorithms of this crate only touch memory; two things depend on who
//! runs them. A busy-waiting loop must let others run ([`Relax`]): with weave,
//! two ULTs can share one LWP, and a ULT that spins without yielding keeps the
//! LWP from ever running the ULT it waits for. And "disabling interrupts"
//! needs a way to stop the thread system from switching away ([`Preemption`]).
//!
//! [`OsThread`] implements both for plain OS threads and is the default
//! everywhere, so the crate works on its own. weave supplies its own type for
//! ULTs; this crate does not depend on weave. Plugging one in:
//!
//! ```
//! use weave_classic::{CriticalSection, Preemption, Relax, TicketLock};
//!
//! /// Stands for weave's ULT hooks.
//! struct Ult;
//!
//! impl Relax for Ult {
//!     fn relax() {
//!         std::thread::yield_now(); // weave: `weave::thread::yield_now()`
//!     }
//! }
//!
//! impl Preemption for Ult {
//!     type Guard = (); // weave: its guard that turns the LWP's preemption back on
//!     fn disable() {}
//! }
//!
//! let lock = TicketLock::<Ult>::default();
//! drop(lock.enter(()));
//! ```

use crate::sync::{thread_local, yield_now, SPINS_PER_YIELD};
use std::cell::Cell;

/// What a thread does for one turn of a busy-waiting loop.
///
/// Every spin loop in this crate calls `R::relax()` once per turn, never
/// spinning on a bare load, so that the lock can be used by threads that
/// share a processor without the waiter starving the holder.
pub trait Relax {
    /// Lets the holder of the lock make progress: a CPU hint, a yield, or
    /// both.
    fn relax();
}

/// Turns off the thread system's preemption of the current thread, the
/// user-level form of disabling interrupts.
///
/// Like `cli` on a uniprocessor, this gives mutual exclusion only among the
/// threads that share the one processor (for weave: the ULTs of one LWP), and
/// only as long as the critical region does not block or yield on its own.
/// Threads on another processor keep running: see
/// [`InterruptLock`](crate::InterruptLock).
pub trait Preemption {
    /// Preemption stays off while this lives; dropping it turns it back on.
    type Guard;

    /// Turns preemption off for the current thread until the guard drops.
    fn disable() -> Self::Guard;
}

/// The hooks for plain OS threads (one thread per LWP, scheduled by the
/// kernel).
///
/// * [`Relax`]: `std::hint::spin_loop` each turn, and a
///   `std::thread::yield_now` every few dozen turns, so that a waiter whose
///   lock holder was descheduled hands its CPU back.
/// * [`Preemption`]: does nothing. A user program cannot stop the kernel from
///   preempting its threads, and there is no user-level scheduler to stop, so
///   [`InterruptLock<OsThread>`](crate::InterruptLock) excludes no one: two OS
///   threads on two CPUs are both inside at once, which the lab shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsThread;

thread_local! {
    /// Turns of spin loops this thread has done since its last yield,
    /// always below `SPINS_PER_YIELD`.
    // loom's `thread_local!` (picked by `crate::sync`) takes no `const {}`.
    #[allow(clippy::missing_const_for_thread_local)]
    static SPINS: Cell<u32> = Cell::new(0);
}

impl Relax for OsThread {
    #[inline]
    fn relax() {
        let yield_due = SPINS.with(|spins| {
            let n = spins.get() + 1;
            let due = n >= SPINS_PER_YIELD;
            spins.set(if due { 0 } else { n });
            due
        });
        core::hint::spin_loop();
        if yield_due {
            yield_now();
        }
    }
}

impl Preemption for OsThread {
    type Guard = ();

    #[inline]
    fn disable() {}
}

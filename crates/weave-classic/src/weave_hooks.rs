//! The hooks for weave's user-level threads.
//!
//! On weave, two ULTs can share one LWP. A busy-waiting ULT must therefore
//! yield its LWP each turn, or the holder it waits for may never run:
//! [`Relax`] is `weave::thread::yield_now`. "Disabling interrupts" is
//! `weave::thread::disable_preemption`: while the guard lives, a request to
//! switch the ULT out stays pending, as a masked interrupt does, so no
//! other ULT of the same LWP gets in. ULTs on other LWPs, like other CPUs
//! under `cli`, are not held off.
//!
//! ```
//! use weave_classic::{CriticalSection, TicketLock, WeaveUlt};
//! let lock = TicketLock::<WeaveUlt>::default();
//! let h = weave::thread::spawn(move || {
//!     let _inside = lock.enter(());
//!     42
//! });
//! assert_eq!(h.join().unwrap(), 42);
//! ```

use crate::{Preemption, Relax};

/// The hooks for weave ULTs (they also work on plain OS threads, where
/// weave's calls fall back to the OS thread's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeaveUlt;

impl Relax for WeaveUlt {
    #[inline]
    fn relax() {
        weave::thread::yield_now();
    }
}

impl Preemption for WeaveUlt {
    type Guard = weave::thread::PreemptGuard;

    fn disable() -> Self::Guard {
        weave::thread::disable_preemption()
    }
}

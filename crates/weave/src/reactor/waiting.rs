//! The count of ULTs waiting for io on one epoll set, on a cache line of
//! its own.
//!
//! A ULT adds itself before it blocks on a registration and takes itself
//! off when it runs again: two read-modify-writes per wait. The set is the
//! one the registration lives in, which is the waiting ULT's own LWP's in
//! the common case, so the line stays on that LWP's CPU (one counter shared
//! by every LWP was a line that moved between the CPUs twice a request: the
//! `lock dec` after the wake was 35% of `Registration::wait`'s samples in
//! `http_hello` at 1000 connections). The readers are the set's own LWP
//! (deciding whether a poll between picks is worth making), the monitor's
//! tick and the deadlock check, which add the sets up.
//!
//! Only counts: it names no queue, thread or poller.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

/// One set's count, alone on its line (128 bytes: the adjacent-line
/// prefetcher pairs 64-byte lines, as crossbeam-utils' `CachePadded`
/// assumes).
#[repr(align(128))]
pub(crate) struct Waiting(AtomicUsize);

impl Waiting {
    pub(crate) fn new() -> Waiting {
        Waiting(AtomicUsize::new(0))
    }

    /// A wait on a registration of this set begins. Relaxed: the count
    /// only decides whether a poll is worth making; the readiness protocol
    /// (`Readiness`, the record's lock) is what keeps wake-ups from being
    /// lost.
    #[inline]
    pub(crate) fn enter(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// A wait that [`enter`](Self::enter) counted here ended (on this set
    /// even if its registration moved to another set meanwhile).
    #[inline]
    pub(crate) fn leave(&self) {
        self.0.fetch_sub(1, Relaxed);
    }

    /// ULTs waiting now.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.0.load(Relaxed)
    }

    /// Nobody waits (in a fork's child: the waiters were the parent's).
    pub(crate) fn reset(&self) {
        self.0.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_leaves_what_it_entered() {
        let w = Waiting::new();
        w.enter();
        w.enter();
        assert_eq!(w.count(), 2);
        w.leave();
        w.leave();
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn reset_forgets_every_wait() {
        let w = Waiting::new();
        w.enter();
        w.enter();
        w.reset();
        assert_eq!(w.count(), 0);
    }
}

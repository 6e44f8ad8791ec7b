//! The count of ULTs waiting for io, split across cache lines.
//!
//! A ULT adds itself before it blocks on a registration and takes itself
//! off when it runs again: two read-modify-writes per wait, on every LWP
//! at once in a busy server. One shared counter was a cache line that
//! moved between the CPUs twice a request (the `lock dec` after the wake
//! was 35% of `Registration::wait`'s samples in `http_hello` at 1000
//! connections). Here each LWP counts on its own line (shards by LWP
//! index), and the rare reader (an LWP deciding whether to poll, every
//! 64th pick or when idle, and the monitor's tick) adds the lines up.
//! A wait leaves the shard it entered, so no shard goes below zero even
//! for a migratable ULT that wakes on another LWP.
//!
//! Only counts: it names no queue, thread or poller.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

/// Lines of the count. LWPs beyond this share lines (still correct, only
/// slower when they do); 8 covers the machines weave is measured on
/// without making the reader's sum long.
const SHARDS: usize = 8;

/// One line of the count (128 bytes: the adjacent-line prefetcher pairs
/// 64-byte lines, as crossbeam-utils' `CachePadded` assumes).
#[repr(align(128))]
struct Shard(AtomicUsize);

pub(crate) struct Waiting([Shard; SHARDS]);

impl Waiting {
    pub(crate) fn new() -> Waiting {
        Waiting([const { Shard(AtomicUsize::new(0)) }; SHARDS])
    }

    /// A wait begins on the LWP with index `lwp`; returns the shard to give
    /// back to [`leave`](Self::leave). Relaxed: the count only decides
    /// whether a poll is worth making; the readiness protocol (`Readiness`,
    /// the record's lock) is what keeps wake-ups from being lost.
    #[inline]
    pub(crate) fn enter(&self, lwp: usize) -> usize {
        let shard = lwp % SHARDS;
        self.0[shard].0.fetch_add(1, Relaxed);
        shard
    }

    /// The wait that [`enter`](Self::enter) returned `shard` for ended.
    #[inline]
    pub(crate) fn leave(&self, shard: usize) {
        self.0[shard].0.fetch_sub(1, Relaxed);
    }

    /// ULTs waiting now (a moment's sum: a wait may begin or end while the
    /// lines are read).
    pub(crate) fn count(&self) -> usize {
        self.0
            .iter()
            .fold(0usize, |n, s| n.wrapping_add(s.0.load(Relaxed)))
    }

    /// Nobody waits (in a fork's child: the waiters were the parent's).
    pub(crate) fn reset(&self) {
        for s in &self.0 {
            s.0.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_on_many_lwps_add_up_and_leave_their_own_shard() {
        let w = Waiting::new();
        let shards: Vec<usize> = (0..20).map(|lwp| w.enter(lwp)).collect();
        assert_eq!(w.count(), 20);
        // LWPs past the shard count share lines, and each wait still takes
        // itself off the line it counted on.
        assert_eq!(shards[3], shards[3 + SHARDS]);
        for s in shards {
            w.leave(s);
        }
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn reset_forgets_every_wait() {
        let w = Waiting::new();
        w.enter(1);
        w.enter(5);
        w.reset();
        assert_eq!(w.count(), 0);
    }
}

//! `SigSet`: a set of signal numbers, as `sigset_t`, in one `u64`.
//!
//! Bit `n - 1` stands for signal `n` (1..=64, Linux's range on every
//! architecture weave runs on). Plain data: it names nothing of weave's, so
//! the TCB, the top half of a handler and the public API share it.

use std::fmt;

/// The highest signal number Linux has (`SIGRTMAX` on x86-64 and aarch64).
pub const MAX_SIGNAL: i32 = 64;

/// A set of signals, as `sigset_t` (bit `n - 1` for signal `n`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigSet(u64);

impl SigSet {
    /// No signal.
    pub const EMPTY: SigSet = SigSet(0);
    /// Every signal 1..=64.
    pub const FULL: SigSet = SigSet(u64::MAX);

    /// The empty set.
    pub const fn empty() -> SigSet {
        SigSet(0)
    }

    /// Every signal.
    pub const fn full() -> SigSet {
        SigSet::FULL
    }

    /// The set holding exactly `sigs`. Numbers outside 1..=64 are ignored.
    pub fn of(sigs: &[i32]) -> SigSet {
        sigs.iter().fold(SigSet(0), |s, &n| s.with(n))
    }

    /// This set with `sig` added.
    #[must_use]
    pub const fn with(self, sig: i32) -> SigSet {
        SigSet(self.0 | bit(sig))
    }

    /// Adds `sig` (ignored outside 1..=64).
    pub fn add(&mut self, sig: i32) {
        self.0 |= bit(sig);
    }

    /// Removes `sig`.
    pub fn remove(&mut self, sig: i32) {
        self.0 &= !bit(sig);
    }

    /// Whether `sig` is in the set.
    pub const fn contains(self, sig: i32) -> bool {
        bit(sig) != 0 && self.0 & bit(sig) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits (bit `n - 1` for signal `n`).
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The set with these raw bits.
    pub const fn from_bits(bits: u64) -> SigSet {
        SigSet(bits)
    }

    /// Signals in both sets.
    #[must_use]
    pub const fn intersection(self, other: SigSet) -> SigSet {
        SigSet(self.0 & other.0)
    }

    /// Signals in either set.
    #[must_use]
    pub const fn union(self, other: SigSet) -> SigSet {
        SigSet(self.0 | other.0)
    }

    /// Signals of `self` not in `other`.
    #[must_use]
    pub const fn difference(self, other: SigSet) -> SigSet {
        SigSet(self.0 & !other.0)
    }

    /// The signal numbers in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = i32> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let n = bits.trailing_zeros();
            bits &= bits - 1;
            Some(n as i32 + 1)
        })
    }

    /// The same set as a `sigset_t` for the kernel.
    pub fn to_sigset_t(self) -> libc::sigset_t {
        // SAFETY: a zeroed sigset_t is a valid (empty) set to fill in.
        let mut s: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `s` is a valid sigset_t.
        unsafe { libc::sigemptyset(&mut s) };
        for n in self.iter() {
            // SAFETY: `n` is in 1..=64, a valid signal number for the set.
            unsafe { libc::sigaddset(&mut s, n) };
        }
        s
    }

    /// The signals 1..=64 of a kernel `sigset_t`.
    pub fn from_sigset_t(s: &libc::sigset_t) -> SigSet {
        let mut out = SigSet(0);
        for n in 1..=MAX_SIGNAL {
            // SAFETY: `s` is a valid sigset_t and `n` a valid signal number.
            if unsafe { libc::sigismember(s, n) } == 1 {
                out.add(n);
            }
        }
        out
    }
}

/// The bit of `sig`, 0 outside 1..=64.
#[inline]
pub(crate) const fn bit(sig: i32) -> u64 {
    if sig >= 1 && sig <= MAX_SIGNAL {
        1u64 << (sig - 1)
    } else {
        0
    }
}

impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<i32> for SigSet {
    fn from_iter<I: IntoIterator<Item = i32>>(iter: I) -> SigSet {
        iter.into_iter().fold(SigSet(0), |s, n| s.with(n))
    }
}

/// Adds the asynchronous-cancellation interrupt's signal
/// (`interrupt::SIG`, glibc's `SIGCANCEL`) to `set` (glibc's `sigaddset`
/// refuses its own signals): the set the kernel blocks while weave's own
/// handlers run, which the interrupt must not cut off. Here, in a file that
/// names nothing of weave's, so that every handler's installer can use it.
pub(crate) fn block_async_cancel_in(set: &mut libc::sigset_t) {
    const SIGCANCEL: i32 = 32;
    // SAFETY: a sigset_t is at least 64 bits of bit-per-signal words on
    // Linux, signal n at bit n - 1 of the first u64.
    unsafe { *(set as *mut libc::sigset_t as *mut u64) |= 1u64 << (SIGCANCEL - 1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_round_trips_through_sigset_t() {
        let s = SigSet::of(&[libc::SIGINT, libc::SIGUSR1, 64]);
        assert_eq!(SigSet::from_sigset_t(&s.to_sigset_t()), s);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![2, 10, 64]);
    }

    #[test]
    fn out_of_range_numbers_are_ignored() {
        let s = SigSet::of(&[0, 65, -3]);
        assert!(s.is_empty());
        assert!(!s.contains(0));
    }
}

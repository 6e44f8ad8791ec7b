//! The tick clock for run-time accounting: a cheap counter (the TSC on
//! x86_64) read once per switch while accounting is on, and the switch
//! that turns accounting on. Names nothing of weave's.

use std::time::Instant;

static ACCOUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether LWPs measure each ULT's run time (see `crate::set_accounting`).
#[inline]
pub(crate) fn accounting() -> bool {
    ACCOUNTING.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn set_accounting(on: bool) {
    ACCOUNTING.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A monotonic tick counter for per-thread run time: the TSC on x86_64
/// (a few ns, no syscall, constant-rate on every CPU this runs on), the
/// monotonic clock elsewhere. Convert with [`ticks_to_ns`].
#[inline]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC is available on every x86_64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        epoch().elapsed().as_nanos() as u64
    }
}

/// Nanoseconds per 2^20 ticks, measured once against the monotonic clock.
fn ns_per_mega_tick() -> u64 {
    static SCALE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        if cfg!(not(target_arch = "x86_64")) {
            return 1 << 20;
        }
        let (t0, c0) = (Instant::now(), ticks());
        std::thread::sleep(std::time::Duration::from_millis(10));
        let (ns, c) = (t0.elapsed().as_nanos() as u64, ticks().wrapping_sub(c0));
        (ns << 20) / c.max(1)
    })
}

/// Converts a tick count to nanoseconds.
pub(crate) fn ticks_to_ns(t: u64) -> u64 {
    ((t as u128 * ns_per_mega_tick() as u128) >> 20) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advance_at_a_plausible_rate() {
        let t0 = ticks();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let ns = ticks_to_ns(ticks() - t0);
        assert!(ns >= 4_000_000, "5 ms measured as {ns} ns");
    }
}

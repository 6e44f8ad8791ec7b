//! The monitor's doorbell: the little state that the engine and the public
//! calls share with the monitor thread. An LWP rings it when it leaves its
//! idle sleep or fills the reaper's list, and asks through it for a
//! deadlock check; `set_time_slice` writes the slice here. The monitor's
//! loop (`monitor/mod.rs`) sits above the LWPs; this file sits below them
//! and names nothing of weave's, so that the LWPs can ring without naming
//! the monitor.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Default time slice.
pub const DEFAULT_TIME_SLICE: Duration = Duration::from_millis(10);

pub(crate) struct Monitor {
    /// Asked to look for a deadlock (the last LWP went idle, or an OS
    /// thread started waiting inside weave).
    pub(super) deadlock_check: AtomicBool,
    pub(super) wanted: Mutex<bool>,
    pub(super) cv: Condvar,
    pub(super) parked: AtomicBool,
    /// Time slice in µs; 0 turns slices off.
    slice_us: AtomicU64,
    pub(super) warn: AtomicBool,
    /// Kernel ids of registered OS threads that are exiting: the deadlock
    /// check waits for them to be gone (see `deadlock::check`).
    pub(super) exiting: Mutex<Vec<i32>>,
}

impl Monitor {
    pub(crate) fn new() -> Monitor {
        let slice = crate::config::time_slice().map_or(0, |d| d.as_micros() as u64);
        Monitor {
            deadlock_check: AtomicBool::new(false),
            wanted: Mutex::new(false),
            cv: Condvar::new(),
            parked: AtomicBool::new(false),
            slice_us: AtomicU64::new(slice),
            warn: AtomicBool::new(crate::config::warn()),
            exiting: Mutex::new(Vec::new()),
        }
    }

    /// Wakes the monitor if it is parked. Cheap when it is not: one load.
    pub(crate) fn wake(&self) {
        // SeqCst: pairs with the monitor's store to `parked` and re-check
        // of `sleeping` (see `anything_to_watch`).
        if self.parked.load(SeqCst) {
            let mut w = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
            *w = true;
            self.cv.notify_one();
        }
    }

    /// Asks the monitor to look for a deadlock soon. Cheap: a store, and a
    /// wake only if the monitor is parked.
    pub(crate) fn check_deadlock_soon(&self) {
        if !self.deadlock_check.swap(true, SeqCst) {
            self.wake();
        }
    }

    /// A registered OS thread (kernel id `tid`) is exiting. It may have been
    /// the only thread that could end some wait (it held a lock, kept a
    /// channel open) and left without waking anyone: look for a deadlock
    /// once it is gone.
    pub(crate) fn os_thread_exiting(&self, tid: i32) {
        self.exiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tid);
        self.check_deadlock_soon();
    }

    pub(crate) fn set_slice(&self, slice: Option<Duration>) {
        let us = slice.map_or(0, |d| d.as_micros().clamp(100, u64::MAX as u128) as u64);
        self.slice_us.store(us, Relaxed);
        self.wake();
    }

    pub(crate) fn slice(&self) -> Option<Duration> {
        match self.slice_us.load(Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

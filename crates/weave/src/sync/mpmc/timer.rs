//! The channels that carry time, as crossbeam-channel's: [`after`](super::after)
//! (one message at a deadline), [`tick`](super::tick) (a message every
//! period) and [`never()`](super::never) (no message, ever).
//!
//! They have no buffer and no senders: a message *is* the clock passing a
//! deadline, so a receive checks the clock, and a waiting receive (or a
//! `select!` holding one) blocks with that deadline, through the same wait
//! as a `recv_timeout`: on a ULT only the ULT waits, on the LWP's timers.
//! This module owns only the delivery state; it does not block anyone.

use std::time::{Duration, Instant};

use crate::loom::Mutex;

/// The delivery state of an `after` or `tick` channel, shared by clones of
/// its receiver.
pub(crate) struct Timer {
    /// The next delivery; `None` once an `after` channel has delivered.
    next: Mutex<Option<Instant>>,
    /// The period of a `tick` channel; `None` for `after`.
    period: Option<Duration>,
}

impl Timer {
    /// One message at `at`.
    pub(crate) fn once(at: Instant) -> Timer {
        Timer {
            next: Mutex::new(Some(at)),
            period: None,
        }
    }

    /// A message at `first` and then every `period` after each delivery.
    pub(crate) fn every(first: Instant, period: Duration) -> Timer {
        Timer {
            next: Mutex::new(Some(first)),
            period: Some(period),
        }
    }

    /// The message due now, if any: the instant it was due. A tick that
    /// was missed is not queued: the next is due one period after this
    /// delivery, as crossbeam's `tick`.
    pub(crate) fn try_take(&self) -> Option<Instant> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let at = (*next)?;
        let now = Instant::now();
        if now < at {
            return None;
        }
        *next = self.period.and_then(|p| now.checked_add(p));
        Some(at)
    }

    /// When the next message is due; `None` if never.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        *self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a message is due now.
    pub(crate) fn ready(&self) -> bool {
        self.deadline().is_some_and(|at| Instant::now() >= at)
    }
}

//! The public form of a signal's record: what a handler, a channel or a
//! `wait` caller gets. Plain data, below the rest of the signal layer (the
//! top half builds one for a Rust immediate handler).

use super::ring::{Record, Route};
use crate::thread::id::ThreadId;

/// A signal as a handler, a [`channel`](super::channel) or [`wait`](super::wait) gets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    /// The signal number.
    pub signo: i32,
    /// `si_code`: `SI_USER` for `kill`, `SI_QUEUE` for `sigqueue`,
    /// `SI_TKILL` for a thread-directed signal, ...
    pub code: i32,
    /// The sending process (for `kill`, `sigqueue`, and thread-directed).
    pub pid: i32,
    /// The sender's real user id.
    pub uid: u32,
    /// The `sigqueue` value (`si_value`), 0 otherwise.
    pub value: usize,
    /// The thread that took the signal (a ULT whose mask let it through, or
    /// an OS thread whose kernel mask did); `None` when a `wait` caller took
    /// it regardless of masks.
    pub target: Option<ThreadId>,
    /// Which delivery case brought it there.
    pub route: Route,
}

impl SigInfo {
    pub(crate) fn from_record(r: &Record) -> SigInfo {
        SigInfo {
            signo: r.signo,
            code: r.code,
            pid: r.pid,
            uid: r.uid,
            value: r.value as usize,
            target: ThreadId::from_u64(r.target),
            route: r.route,
        }
    }
}

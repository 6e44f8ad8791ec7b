//! Thread names and the parallelism figure of `std::thread` that weave
//! answers for itself.
//!
//! A ULT's name is kept whole in its TCB: the thread table
//! ([`threads`](super::threads)), panic messages and stack-overflow reports
//! show all of it. Only the kernel's copy is short: Linux keeps 15 bytes of
//! a thread's name (`comm`), so a bound thread's LWP, which is named after
//! its ULT for `top` and debuggers, shows the first 15 bytes (cut at a
//! character boundary). Pooled LWPs keep their own names (`weave-lwp-N`):
//! they run many ULTs.
//!
//! Owns no state; must not touch the scheduler.

use std::ffi::CString;
use std::io;
use std::num::NonZeroUsize;

use crate::runtime::{self, MAX_CONCURRENCY};

/// Bytes of a thread name the kernel keeps (`TASK_COMM_LEN` - 1).
const OS_NAME_MAX: usize = 15;

/// Panics, with std's message, if `name` cannot be a thread name (an
/// interior NUL byte): `std::thread::Builder::spawn` does the same.
pub(crate) fn check_name(name: &str) {
    if name.contains('\0') {
        // The same call as std's, so that the message is the same, the
        // `NulError` (position and bytes) included.
        CString::new(name.to_owned()).expect("thread name may not contain interior null bytes");
    }
}

/// Names the calling OS thread (an LWP) after a ULT: the first 15 bytes of
/// `name`, cut at a character boundary.
pub(crate) fn name_os_thread(name: &str) {
    let mut end = name.len().min(OS_NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let Ok(c) = CString::new(&name[..end]) else {
        return; // refused at spawn (check_name); nothing to do
    };
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
    // bytes; `c` is one and lives across the call.
    let rc = unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
    debug_assert_eq!(rc, 0, "PR_SET_NAME with a valid string cannot fail");
}

/// The number of ULTs that can run at the same time: the number of pool
/// LWPs the runtime uses, or would use if it has not started yet.
///
/// That is the level passed to [`crate::set_concurrency`] if one is in
/// force; before the runtime starts, `WEAVE_LWPS` if it is set; otherwise
/// the automatic level, one LWP per CPU the process may use (affinity mask
/// and cgroup quota, as `std::thread::available_parallelism`). Extra LWPs
/// that the monitor adds for LWPs blocked in the kernel, and bound threads'
/// LWPs, are not counted: they stand in for blocked ones or serve a single
/// thread. Never starts the runtime.
///
/// Returns an error only when the automatic level is wanted and the
/// kernel cannot say how many CPUs there are.
pub fn available_parallelism() -> io::Result<NonZeroUsize> {
    // The level in force, else the one the runtime starts (or started)
    // with; 0 for both means automatic.
    let requested = match runtime::try_rt().map_or(0, |rt| rt.requested_concurrency()) {
        0 => crate::config::lwps(),
        n => n,
    };
    if let Some(n) = NonZeroUsize::new(requested.min(MAX_CONCURRENCY)) {
        return Ok(n);
    }
    let cpus = std::thread::available_parallelism()?;
    Ok(cpus.min(NonZeroUsize::new(MAX_CONCURRENCY).expect("MAX_CONCURRENCY > 0")))
}

//! The porting trap, made visible: an LWP blocked in the kernel in a futex
//! wait while ULTs placed on it could run.
//!
//! A ULT that calls `std::sync::Mutex::lock`, `std::sync::Condvar::wait`,
//! `std::thread::park` or a channel of `std::sync::mpsc` and has to wait
//! blocks its whole LWP in a `futex` system call; every ULT placed on that
//! LWP waits with it (DESIGN.md decision 3: started ULTs do not move). When
//! the futex's owner is one of those ULTs (a `std::sync::Mutex` held across
//! a weave wait, then wanted by a neighbour on the same LWP), the wait
//! never ends. This module tells such an LWP apart and counts what it
//! holds up:
//!
//! - [`futex_wait`] reads the LWP's current system call from
//!   `/proc/self/task/TID/syscall` (number and arguments): a `futex` call
//!   and whether it has a timeout (one that has will end by itself);
//! - [`stuck_behind`] counts the runnable ULTs placed on the LWP.
//!
//! The monitor warns with both (see `on_blocked`), and the deadlock
//! detector treats an LWP in an untimed futex wait as one that cannot run
//! anything: if every other condition of a deadlock holds, the program is
//! reported and exits with status 2 instead of hanging.
//!
//! Reads only; must not touch run queues or TCB state.

use std::sync::atomic::Ordering::Relaxed;

use crate::lwp::Lwp;
use crate::thread::state;
use crate::thread::table::table;
use crate::thread::tcb::Kind;

/// A futex wait the kernel has an LWP in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FutexWait {
    /// The call has a timeout: it ends by itself.
    pub(crate) timed: bool,
}

/// The futex wait the LWP's thread is in right now, if it is in one.
/// `/proc/self/task/TID/syscall` holds the call's number and its six
/// arguments in hex; `futex(uaddr, op, val, timeout, ..)` has its timeout
/// pointer fourth (null: no timeout). The file says `running` for a thread
/// that is not in a system call.
pub(crate) fn futex_wait(l: &Lwp) -> Option<FutexWait> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{}/syscall", l.tid())).ok()?;
    parse_syscall(&text)
}

fn parse_syscall(text: &str) -> Option<FutexWait> {
    let mut fields = text.split_whitespace();
    let nr: libc::c_long = fields.next()?.parse().ok()?;
    if nr != libc::SYS_futex {
        return None;
    }
    let timeout = fields.nth(3)?;
    let timeout = u64::from_str_radix(timeout.trim_start_matches("0x"), 16).ok()?;
    Some(FutexWait {
        timed: timeout != 0,
    })
}

/// The runnable ULTs placed on `l`: started, woken, and waiting for that
/// LWP, which is blocked. A scan of the thread table, made only for an LWP
/// already found blocked.
pub(crate) fn stuck_behind(l: &Lwp) -> usize {
    let t = table();
    (0..t.carved())
        .map(|i| t.slot(i as u32))
        .filter(|tcb| {
            // A migratable ULT may run elsewhere: it is not stuck.
            tcb.kind() != Kind::Migratable
                && tcb.home.load(Relaxed) as usize == l.index
                && tcb.state.load().run() == state::RUNNABLE
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untimed_futex_wait_is_recognised() {
        let line = format!(
            "{} 0x7f12 0x89 0x2 0x0 0x0 0xffffffff 0x7ffd 0x7f34\n",
            libc::SYS_futex
        );
        assert_eq!(parse_syscall(&line), Some(FutexWait { timed: false }));
    }

    #[test]
    fn a_timed_futex_wait_is_recognised() {
        let line = format!(
            "{} 0x7f12 0x89 0x2 0x7ffd10 0x0 0xffffffff 0x7ffd 0x7f34\n",
            libc::SYS_futex
        );
        assert_eq!(parse_syscall(&line), Some(FutexWait { timed: true }));
    }

    #[test]
    fn other_calls_and_running_threads_are_not_futex_waits() {
        assert_eq!(parse_syscall("running\n"), None);
        let read = format!(
            "{} 0x3 0x7f00 0x100 0x0 0x0 0x0 0x7ffd 0x7f34\n",
            libc::SYS_read
        );
        assert_eq!(parse_syscall(&read), None);
    }
}

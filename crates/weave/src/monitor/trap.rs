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
//! - [`current_call`] reads the LWP's current system call from
//!   `/proc/self/task/TID/syscall` (number and arguments): a `futex` call
//!   and whether it has a timeout (one that has will end by itself),
//!   another call, or none (a page fault, which the ULT did not ask for:
//!   the monitor does not blame it);
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

/// Where the kernel has an LWP's thread, from `/proc/self/task/TID/syscall`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// In a futex wait (a std lock, Condvar, park or mpsc channel).
    Futex(FutexWait),
    /// In another system call (a read, a sleep, ...).
    Other,
    /// Blocked, but not in a system call: in a page fault, waiting for the
    /// process's memory map (held by an `mmap` or `munmap` of another
    /// thread) or for a page to come in. Not a call the ULT made.
    Fault,
}

/// The call the LWP's thread is in right now (`None`: running, gone, or
/// unreadable). `/proc/self/task/TID/syscall` holds the call's number and
/// its six arguments in hex; `futex(uaddr, op, val, timeout, ..)` has its
/// timeout pointer fourth (null: no timeout). The file says `running` for
/// a thread on a CPU, and `-1` then the stack and instruction pointers for
/// one blocked outside any system call.
pub(crate) fn current_call(l: &Lwp) -> Option<Call> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{}/syscall", l.tid())).ok()?;
    parse_syscall(&text)
}

/// The futex wait the LWP's thread is in right now, if it is in one.
pub(crate) fn futex_wait(l: &Lwp) -> Option<FutexWait> {
    match current_call(l)? {
        Call::Futex(f) => Some(f),
        _ => None,
    }
}

fn parse_syscall(text: &str) -> Option<Call> {
    let mut fields = text.split_whitespace();
    let nr: libc::c_long = fields.next()?.parse().ok()?;
    if nr == -1 {
        return Some(Call::Fault);
    }
    if nr != libc::SYS_futex {
        return Some(Call::Other);
    }
    let timeout = fields.nth(3)?;
    let timeout = u64::from_str_radix(timeout.trim_start_matches("0x"), 16).ok()?;
    Some(Call::Futex(FutexWait {
        timed: timeout != 0,
    }))
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
        assert_eq!(
            parse_syscall(&line),
            Some(Call::Futex(FutexWait { timed: false }))
        );
    }

    #[test]
    fn a_timed_futex_wait_is_recognised() {
        let line = format!(
            "{} 0x7f12 0x89 0x2 0x7ffd10 0x0 0xffffffff 0x7ffd 0x7f34\n",
            libc::SYS_futex
        );
        assert_eq!(
            parse_syscall(&line),
            Some(Call::Futex(FutexWait { timed: true }))
        );
    }

    #[test]
    fn other_calls_and_running_threads_are_not_futex_waits() {
        assert_eq!(parse_syscall("running\n"), None);
        let read = format!(
            "{} 0x3 0x7f00 0x100 0x0 0x0 0x0 0x7ffd 0x7f34\n",
            libc::SYS_read
        );
        assert_eq!(parse_syscall(&read), Some(Call::Other));
    }

    #[test]
    fn a_thread_blocked_outside_a_call_is_in_a_fault() {
        assert_eq!(
            parse_syscall("-1 0x7f3a5c1ff8d0 0x55d1c0a3e2b4\n"),
            Some(Call::Fault)
        );
    }
}

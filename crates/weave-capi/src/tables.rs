//! weave's own C API beyond pthreads: concurrency, priorities, the thread
//! and LWP tables, and `weave_blocking`.
//!
//! Owns the C shapes of weave's tables (`weave_thread_info`,
//! `weave_lwp_info`); the data are weave's snapshots.

use std::ffi::{c_char, c_int, c_void};

use libc::pthread_t;

use crate::guard;
use crate::thread::live;

/// Sets the number of LWPs in the pool (0: automatic, one per CPU), at
/// once, while threads run. `EINVAL` if negative, `EAGAIN` above weave's
/// limit or if an LWP cannot be started.
#[no_mangle]
pub extern "C" fn weave_set_concurrency(n: c_int) -> c_int {
    crate::thread::weave_pthread_setconcurrency(n)
}

/// The number of pool LWPs taking work now (bound LWPs not counted).
#[no_mangle]
pub extern "C" fn weave_concurrency() -> c_int {
    guard("weave_concurrency", 0, || {
        c_int::try_from(weave_rt::concurrency()).unwrap_or(c_int::MAX)
    })
}

/// Sets a thread's weave priority, 0 (lowest) to 31 (highest), default
/// 16. `EINVAL` outside that, `ESRCH` for a stale id.
#[no_mangle]
pub extern "C" fn weave_thread_set_priority(thread: pthread_t, priority: c_int) -> c_int {
    guard("weave_thread_set_priority", libc::EINVAL, || {
        let Ok(p) = u8::try_from(priority) else {
            return libc::EINVAL;
        };
        if p >= weave_rt::thread::PRIORITY_LEVELS {
            return libc::EINVAL;
        }
        match live(thread).map(|t| t.set_priority(p)) {
            Ok(Ok(())) => 0,
            Ok(Err(_)) | Err(_) => libc::ESRCH,
        }
    })
}

/// A thread's weave priority into `*priority`. `ESRCH` for a stale id.
#[no_mangle]
pub unsafe extern "C" fn weave_thread_get_priority(
    thread: pthread_t,
    priority: *mut c_int,
) -> c_int {
    guard("weave_thread_get_priority", libc::EINVAL, || {
        if priority.is_null() {
            return libc::EINVAL;
        }
        match live(thread).map(|t| t.priority()) {
            Ok(Ok(p)) => {
                // SAFETY: non-null; the program's int.
                unsafe { priority.write(c_int::from(p)) };
                0
            }
            _ => libc::ESRCH,
        }
    })
}

/// `weave_thread_info::state`: runnable (queued).
pub const WEAVE_THREAD_RUNNABLE: c_int = 0;
/// `weave_thread_info::state`: running on an LWP.
pub const WEAVE_THREAD_RUNNING: c_int = 1;
/// `weave_thread_info::state`: blocked (in a lock, join, sleep, io...).
pub const WEAVE_THREAD_BLOCKED: c_int = 2;

/// `weave_thread_info::block_reason`: in `park` (or a C thread not yet
/// released by its creator).
pub const WEAVE_BLOCK_PARK: c_int = 1;
/// `weave_thread_info::block_reason`: in a sleep.
pub const WEAVE_BLOCK_SLEEP: c_int = 2;
/// `weave_thread_info::block_reason`: in `pthread_join`.
pub const WEAVE_BLOCK_JOIN: c_int = 3;
/// `weave_thread_info::block_reason`: waiting for a mutex.
pub const WEAVE_BLOCK_MUTEX: c_int = 8;
/// `weave_thread_info::block_reason`: in a condition variable wait.
pub const WEAVE_BLOCK_CONDVAR: c_int = 9;
/// `weave_thread_info::block_reason`: in a semaphore wait.
pub const WEAVE_BLOCK_SEMAPHORE: c_int = 10;
/// `weave_thread_info::block_reason`: waiting for a read-write lock
/// (`pthread_rwlock_rdlock`, `wrlock` and their timed forms).
pub const WEAVE_BLOCK_RWLOCK: c_int = 14;
/// `weave_thread_info::block_reason`: waiting for a call that runs on
/// weave's blocking pool (`weave_blocking`, a named semaphore's wait).
pub const WEAVE_BLOCK_IO: c_int = 5;
/// `weave_thread_info::block_reason`: waiting for a socket (a `read`,
/// `write`, `accept`... that would block).
pub const WEAVE_BLOCK_NET: c_int = 15;

/// One row of the thread table.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct weave_thread_info {
    /// The thread's id, as `pthread_self` gives it.
    pub id: pthread_t,
    /// Its name, NUL-terminated, cut to 63 bytes; empty if it has none.
    pub name: [c_char; 64],
    /// `WEAVE_THREAD_RUNNABLE`, `WEAVE_THREAD_RUNNING` or
    /// `WEAVE_THREAD_BLOCKED`.
    pub state: c_int,
    /// Why it is blocked, when `state` is `WEAVE_THREAD_BLOCKED`: one of
    /// the `WEAVE_BLOCK_*` values (weave's `BlockReason`); 0 otherwise.
    pub block_reason: c_int,
    /// Weave priority, 0 to 31.
    pub priority: c_int,
    /// The LWP it is placed on, or -1 before it first runs.
    pub lwp: c_int,
    /// Non-zero for a bound thread.
    pub bound: c_int,
    /// Non-zero for a plain OS thread registered with weave (`main`).
    pub os_thread: c_int,
    /// Times an LWP switched to it.
    pub switches: u64,
}

/// One row of the LWP table.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct weave_lwp_info {
    /// Index in weave's LWP table.
    pub index: c_int,
    /// Kernel thread id.
    pub tid: c_int,
    /// Non-zero if it runs a single bound thread.
    pub bound: c_int,
    /// Non-zero while running (dead slots are kept for reuse).
    pub alive: c_int,
    /// Non-zero while leaving the pool.
    pub retiring: c_int,
    /// Non-zero while asleep in the kernel.
    pub sleeping: c_int,
    /// Started ULTs placed on it and not exited.
    pub placed: usize,
    /// Switches to ULTs so far.
    pub runs: u64,
}

/// A snapshot of the thread table: writes up to `cap` rows into `rows`
/// (which may be NULL when `cap` is 0) and returns the number of live
/// threads, which may exceed `cap`.
#[no_mangle]
pub unsafe extern "C" fn weave_thread_table(rows: *mut weave_thread_info, cap: usize) -> usize {
    let r = guard("weave_thread_table", 0, || {
        let all = weave_rt::thread::threads();
        for (i, t) in all
            .iter()
            .take(if rows.is_null() { 0 } else { cap })
            .enumerate()
        {
            let mut name = [0 as c_char; 64];
            for (d, s) in name
                .iter_mut()
                .zip(t.name.as_deref().unwrap_or("").bytes().take(63))
            {
                *d = s as c_char;
            }
            let row = weave_thread_info {
                id: t.id.as_u64().get() as pthread_t,
                name,
                state: match t.state {
                    weave_rt::thread::ThreadState::Runnable => WEAVE_THREAD_RUNNABLE,
                    weave_rt::thread::ThreadState::Running => WEAVE_THREAD_RUNNING,
                    weave_rt::thread::ThreadState::Blocked(_) => WEAVE_THREAD_BLOCKED,
                },
                block_reason: match t.state {
                    weave_rt::thread::ThreadState::Blocked(r) => r as c_int,
                    _ => 0,
                },
                priority: c_int::from(t.priority),
                lwp: t.lwp.map_or(-1, |l| l as c_int),
                bound: c_int::from(t.bound),
                os_thread: c_int::from(t.os_thread),
                switches: t.switches,
            };
            // SAFETY: `rows` has `cap` rows (the caller's contract), i < cap.
            unsafe { rows.add(i).write(row) };
        }
        c_int::try_from(all.len()).unwrap_or(c_int::MAX)
    });
    r as usize
}

/// A snapshot of the LWP table, as [`weave_thread_table`].
#[no_mangle]
pub unsafe extern "C" fn weave_lwp_table(rows: *mut weave_lwp_info, cap: usize) -> usize {
    let r = guard("weave_lwp_table", 0, || {
        let all = weave_rt::lwps();
        for (i, l) in all
            .iter()
            .take(if rows.is_null() { 0 } else { cap })
            .enumerate()
        {
            let row = weave_lwp_info {
                index: l.index as c_int,
                tid: l.tid,
                bound: c_int::from(l.bound),
                alive: c_int::from(l.alive),
                retiring: c_int::from(l.retiring),
                sleeping: c_int::from(l.sleeping),
                placed: l.placed,
                runs: l.runs,
            };
            // SAFETY: `rows` has `cap` rows (the caller's contract), i < cap.
            unsafe { rows.add(i).write(row) };
        }
        c_int::try_from(all.len()).unwrap_or(c_int::MAX)
    });
    r as usize
}

/// Runs `f(arg)` on a kernel thread of weave's blocking pool and returns
/// its result; the calling ULT blocks meanwhile, its LWP runs others. For
/// a call that blocks in the kernel (a read from a disk file, a
/// `getaddrinfo`); from an OS thread it runs `f` right there. `f` must
/// not call `pthread_exit`. `errno` is as if the caller had called `f`
/// itself: `f` starts with the caller's, and the caller gets back what
/// `f` left in it.
#[no_mangle]
pub extern "C" fn weave_blocking(
    f: Option<extern "C" fn(*mut c_void) -> *mut c_void>,
    arg: *mut c_void,
) -> *mut c_void {
    let Some(f) = f else {
        return std::ptr::null_mut();
    };
    let arg = arg as usize;
    let caller = crate::errno();
    let (r, e) = weave_rt::blocking(move || {
        // On the pool's kernel thread, whose errno is its own.
        crate::set_errno(caller);
        let r = f(arg as *mut c_void) as usize;
        (r, crate::errno())
    });
    crate::set_errno(e);
    r as *mut c_void
}

/// `sysconf`, with weave's answers where they differ from the system's,
/// for the options weave refuses: `_SC_THREAD_PROCESS_SHARED` (process-
/// shared objects are refused with `ENOTSUP`), `_SC_THREAD_PRIO_INHERIT`,
/// `_SC_THREAD_PRIO_PROTECT` and `_SC_THREAD_ROBUST_PRIO_*` (a mutex's
/// protocol and ceiling are stored and returned, not applied: no holder
/// is boosted) and `_SC_THREAD_CPUTIME` (a ULT that shares
/// LWPs has no CPU-time clock: `pthread_getcpuclockid` is `ENOENT` for it)
/// are -1, as the compat header's `_POSIX_THREAD_PROCESS_SHARED`,
/// `_POSIX_THREAD_PRIO_*` and `_POSIX_THREAD_ROBUST_PRIO_*`. Everything
/// else is the system's.
#[no_mangle]
pub extern "C" fn weave_sysconf(name: c_int) -> std::ffi::c_long {
    if matches!(
        name,
        libc::_SC_THREAD_PROCESS_SHARED
            | libc::_SC_THREAD_CPUTIME
            | libc::_SC_THREAD_PRIO_INHERIT
            | libc::_SC_THREAD_PRIO_PROTECT
            | libc::_SC_THREAD_ROBUST_PRIO_INHERIT
            | libc::_SC_THREAD_ROBUST_PRIO_PROTECT
    ) {
        return -1;
    }
    // SAFETY: a plain query.
    unsafe { libc::sysconf(name) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weave_rt::thread::BlockReason;

    #[test]
    fn block_reason_constants_are_weaves() {
        // Literal in the header (cbindgen writes only literals); checked here.
        assert_eq!(WEAVE_BLOCK_PARK, BlockReason::Park as c_int);
        assert_eq!(WEAVE_BLOCK_SLEEP, BlockReason::Sleep as c_int);
        assert_eq!(WEAVE_BLOCK_JOIN, BlockReason::Join as c_int);
        assert_eq!(WEAVE_BLOCK_MUTEX, BlockReason::Mutex as c_int);
        assert_eq!(WEAVE_BLOCK_CONDVAR, BlockReason::Condvar as c_int);
        assert_eq!(WEAVE_BLOCK_SEMAPHORE, BlockReason::Semaphore as c_int);
        assert_eq!(WEAVE_BLOCK_RWLOCK, BlockReason::RwLock as c_int);
        assert_eq!(WEAVE_BLOCK_NET, BlockReason::Net as c_int);
        assert_eq!(WEAVE_BLOCK_IO, BlockReason::Io as c_int);
    }
}

//! The cancellation points of POSIX that weave does not wait in itself,
//! or waits in by other means than the socket calls: each acts on a
//! cancellation request pending at entry, then is the system's call, as
//! the compatibility header maps it (opt out with `WEAVE_NO_IO`), except
//! where said below.
//!
//! **Waits a request ends.** `waitpid` for one child (`pid > 0`) and
//! `waitid(P_PID, ..)` for its exit (no `WUNTRACED`, `WCONTINUED`,
//! `WSTOPPED`): on a ULT the call is asked without waiting (`WNOHANG`),
//! and while the child runs the ULT waits for the child's pidfd
//! (`pidfd_open`, readable once it has exited) in weave's reactor, as a
//! socket read waits: only the ULT waits, a cancellation request ends
//! the wait (nothing is reaped), a handler without `SA_RESTART` ends it
//! with `EINTR`. Where no pidfd can be had (`ENOSYS`, a filter, no fd
//! left) the call is the system's.
//!
//! **On the blocking pool.** `fcntl` with `F_SETLKW` or `F_OFD_SETLKW`:
//! on a ULT the call runs on weave's blocking pool, so only the ULT
//! waits (a classic record lock belongs to the process, an OFD lock to
//! the open file: a pool thread may take either for the program). A
//! request made meanwhile cannot end the pool thread's wait (weave sends
//! its pool threads no signal, the only thing that ends a lock wait); it
//! is acted on when the call returns without the lock, and a call that
//! took it returns 0 and leaves the request for the next point (POSIX:
//! the side effects of a cancelled call are those of one interrupted by
//! a signal, which would not have taken the lock). Other `fcntl`
//! commands are the system's, not cancellation points. `lockf` with
//! `F_LOCK`, the same wait for a record lock (from the file's offset,
//! which the pool thread shares, being the process's), runs on the pool
//! the same way; its other commands do not wait.
//!
//! **At entry only**, then the system's call, which blocks the LWP if it
//! blocks (a request made meanwhile is acted on at the next point):
//! - `open`, `openat`, `creat`, `fsync`, `fdatasync`, `msync`, `pread`,
//!   `pwrite` (and `read`, `write`, `readv`, `writev` on regular files,
//!   directories and block devices, and on the files the kernel will not
//!   try without blocking: `io_pipe.rs`): file and disk waits the kernel
//!   does not let a signal end (they sleep uninterruptibly), and have no
//!   fd to wait on, so there is nothing to end early;
//! - `wait`, `waitpid` for any child or a group (`pid <= 0`) or with
//!   `WUNTRACED`/`WCONTINUED`, `waitid` for `P_ALL`/`P_PGID` or stops: no
//!   fd becomes ready for "some child" or for a stop (a pidfd reports
//!   one process's exit only);
//! - `msgrcv`, `msgsnd` (System V queues), `tcdrain`: no fd to wait on;
//!   only a signal to the kernel thread blocked in them ends their wait,
//!   and polling them (`IPC_NOWAIT` in a loop) is not a wait;
//!
//! Left out: the calls POSIX lists as ones that *may* be cancellation
//! points (`printf`, `fopen`, ...), which glibc makes so only through
//! their system calls. The message queue calls (`mq_*`) are in `mq.rs`.
//!
//! Nothing here holds state, and nothing changes the system call's result
//! or `errno`, but for `EINTR` where a handler ends a wait of weave's.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use libc::{id_t, idtype_t, mode_t, off_t, pid_t, siginfo_t, ssize_t};

use weave_rt::os::fd::Interest;

use crate::cancel;
use crate::io::{errno, on_ult, wait, Waited};

/// Acts on a cancellation request due at the entry of a cancellation
/// point.
#[inline]
fn entry() {
    if cancel::due() {
        cancel::act();
    }
}

/// `open`: acts on a pending cancellation request, then the system's
/// `open` (module doc). The mode is passed only as the header's macro passes it (0 when the program gave none).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_open(
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::open(path, flags, mode) }
}

/// `openat`: acts on a pending cancellation request, then the system's
/// `openat` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::openat(dirfd, path, flags, mode) }
}

/// `creat`: acts on a pending cancellation request, then the system's
/// `creat` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_creat(path: *const c_char, mode: mode_t) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::creat(path, mode) }
}

/// `fsync`: acts on a pending cancellation request, then the system's
/// `fsync` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_fsync(fd: c_int) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::fsync(fd) }
}

/// `fdatasync`: acts on a pending cancellation request, then the system's
/// `fdatasync` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_fdatasync(fd: c_int) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::fdatasync(fd) }
}

/// `msync`: acts on a pending cancellation request, then the system's
/// `msync` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_msync(addr: *mut c_void, len: usize, flags: c_int) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::msync(addr, len, flags) }
}

/// `wait`: acts on a pending cancellation request, then the system's
/// `wait` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_wait(status: *mut c_int) -> pid_t {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::wait(status) }
}

/// `waitpid`: acts on a pending cancellation request; then, on a ULT, for
/// one child (`pid > 0`) and its exit (no `WUNTRACED`/`WCONTINUED`), the
/// ULT waits for the child's pidfd in weave's reactor (module doc: a
/// request or a handler without `SA_RESTART` ends that wait); otherwise
/// the system's `waitpid`.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_waitpid(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
) -> pid_t {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    let system = || unsafe { libc::waitpid(pid, status, options) };
    if !on_ult() || pid <= 0 || options & !libc::__WALL & !libc::__WCLONE & !libc::__WNOTHREAD != 0
    {
        return system();
    }
    // SAFETY: as above; WNOHANG: an answer now, 0 while the child runs.
    let now = || match unsafe { libc::waitpid(pid, status, options | libc::WNOHANG) } {
        0 => None,
        r => Some(r),
    };
    cancel_finish(wait_child(pid, now, system))
}

/// `waitid`: acts on a pending cancellation request; then, on a ULT, for
/// one child (`P_PID`) and its exit only (`WEXITED`, with `WNOWAIT` or
/// not), the ULT waits for the child's pidfd as `waitpid` does;
/// otherwise the system's `waitid`.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_waitid(
    idtype: idtype_t,
    id: id_t,
    info: *mut siginfo_t,
    options: c_int,
) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    let system = || unsafe { libc::waitid(idtype, id, info, options) };
    let exit_only = options & !(libc::WEXITED | libc::WNOWAIT) == 0 && options & libc::WEXITED != 0;
    if !on_ult() || idtype != libc::P_PID || !exit_only || info.is_null() || id > i32::MAX as id_t {
        return system();
    }
    let now = || {
        // SAFETY: the program's siginfo (not null): with WNOHANG, while
        // the child runs, Linux answers 0 and writes a zeroed siginfo
        // (`si_pid` 0), which an exit never has; a bad pointer is the
        // system's EFAULT (-1), read no further.
        unsafe {
            match libc::waitid(idtype, id, info, options | libc::WNOHANG) {
                0 if (*info).si_pid() == 0 => None,
                r => Some(r),
            }
        }
    };
    cancel_finish(wait_child(id as pid_t, now, system))
}

/// The wait of `waitpid` and `waitid` for the exit of the child `pid`, on
/// a ULT: `now()` is the system's call without waiting (`None`: the
/// child runs on), `system()` the blocking call, the fallback where no
/// pidfd can be had (`pidfd_open` refused, or no fd left). The ULT waits
/// for the pidfd to be readable (the child has exited) in weave's
/// reactor, then asks again. `None` when a cancellation request is to be
/// acted on (nothing was reaped).
fn wait_child<R: Copy + From<i8>>(
    pid: pid_t,
    mut now: impl FnMut() -> Option<R>,
    system: impl FnOnce() -> R,
) -> Option<R> {
    let mut pidfd: Option<OwnedFd> = None;
    loop {
        if let Some(r) = now() {
            return Some(r);
        }
        let fd = match &pidfd {
            Some(fd) => fd.as_raw_fd(),
            None => {
                // SAFETY: a plain system call; the fd is owned below.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as c_int;
                if fd < 0 {
                    // ESRCH: reaped by another thread since; the system's
                    // call says so (ECHILD) without waiting.
                    return Some(system());
                }
                // SAFETY: a new fd that nothing else owns.
                pidfd
                    .insert(unsafe { OwnedFd::from_raw_fd(fd) })
                    .as_raw_fd()
            }
        };
        match wait(fd, Interest::Read, None) {
            Waited::Ready | Waited::TimedOut => {}
            Waited::Cancel => return None,
            Waited::Interrupted => {
                crate::set_errno(libc::EINTR);
                return Some(R::from(-1));
            }
            Waited::Failed(_) => return Some(system()),
        }
    }
}

/// The end of a call that waited in weave: acts on a cancellation request
/// (`None`) once the Rust frames of the call have returned.
fn cancel_finish<R>(r: Option<R>) -> R {
    match r {
        Some(r) => r,
        None => cancel::act(),
    }
}

/// `fcntl`: for `F_SETLKW` and `F_OFD_SETLKW`, POSIX cancellation points
/// that wait for a record lock: acts on a pending cancellation request;
/// then, on a ULT, the system's call runs on weave's blocking pool, so
/// only the ULT waits (a lock of either kind belongs to the process or
/// the open file, not the thread that takes it). A request made during
/// that wait is acted on when it ends, if the lock was not taken; a taken
/// lock is returned, and the request waits for the next point (module
/// doc). Every other command is the system's call as it stands, not a
/// cancellation point. `arg` is the third argument as the header's macro
/// passes it (0 when the program gave none).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    if cmd != libc::F_SETLKW && cmd != libc::F_OFD_SETLKW {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::fcntl(fd, cmd, arg) };
    }
    entry();
    if !on_ult() {
        // SAFETY: as above.
        return unsafe { libc::fcntl(fd, cmd, arg) };
    }
    let (r, e) = weave_rt::blocking(move || {
        // SAFETY: as above: `arg` is the program's `struct flock *`,
        // which outlives the call (the caller waits for it).
        let r = unsafe { libc::fcntl(fd, cmd, arg) };
        (r, errno())
    });
    if r < 0 {
        if cancel::due() {
            cancel::act();
        }
        crate::set_errno(e);
    }
    r
}

/// `tcdrain`: acts on a pending cancellation request, then the system's
/// `tcdrain` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_tcdrain(fd: c_int) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::tcdrain(fd) }
}

/// `lockf`: acts on a pending cancellation request; then, for `F_LOCK`
/// on a ULT, the system's call runs on weave's blocking pool, as
/// `fcntl(F_SETLKW)`'s does (the lock is a record lock of the process,
/// from the file's offset, which the pool thread shares), so only the ULT
/// waits; a request made during that wait is acted on when it ends
/// without the lock, and a taken lock is returned with the request left
/// for the next point (module doc). Other commands (`F_TLOCK`, `F_TEST`,
/// `F_ULOCK`) and calls from an OS thread are the system's.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_lockf(fd: c_int, cmd: c_int, len: off_t) -> c_int {
    entry();
    if cmd != libc::F_LOCK || !on_ult() {
        // SAFETY: the program's arguments, as it passed them.
        return unsafe { libc::lockf(fd, cmd, len) };
    }
    let (r, e) = weave_rt::blocking(move || {
        // SAFETY: as above.
        let r = unsafe { libc::lockf(fd, cmd, len) };
        (r, errno())
    });
    if r < 0 {
        if cancel::due() {
            cancel::act();
        }
        crate::set_errno(e);
    }
    r
}

/// `pread`: acts on a pending cancellation request, then the system's
/// `pread` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pread(
    fd: c_int,
    buf: *mut c_void,
    count: usize,
    offset: off_t,
) -> ssize_t {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::pread(fd, buf, count, offset) }
}

/// `pwrite`: acts on a pending cancellation request, then the system's
/// `pwrite` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pwrite(
    fd: c_int,
    buf: *const c_void,
    count: usize,
    offset: off_t,
) -> ssize_t {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::pwrite(fd, buf, count, offset) }
}

/// `msgrcv`: acts on a pending cancellation request, then the system's
/// `msgrcv` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_msgrcv(
    id: c_int,
    msgp: *mut c_void,
    size: usize,
    ty: c_long,
    flags: c_int,
) -> ssize_t {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::msgrcv(id, msgp, size, ty, flags) }
}

/// `msgsnd`: acts on a pending cancellation request, then the system's
/// `msgsnd` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_msgsnd(
    id: c_int,
    msgp: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::msgsnd(id, msgp, size, flags) }
}

//! The cancellation points of POSIX that weave does not wait in itself:
//! each acts on a cancellation request pending at entry, then is the
//! system's call, as the compatibility header maps it (opt out with
//! `WEAVE_NO_IO`).
//!
//! POSIX requires a cancellation point to act on a request pending when
//! it is called; a thread blocked in the kernel in one of these (a
//! `waitpid` for a child that runs on, a `msgrcv` on an empty queue, an
//! `fsync` on a slow disk) blocks its LWP, as the system's call does, and
//! a request that comes meanwhile is acted on at its next cancellation
//! point. The list: `open`, `openat`, `creat`, `fsync`, `fdatasync`,
//! `msync`, `wait`, `waitpid`, `waitid`, `tcdrain`, `lockf`, `pread`,
//! `pwrite`, `msgrcv`, `msgsnd` (`readv` and `writev` on what is not a
//! socket are in `io_msg.rs`). Left out: `fcntl` (a cancellation point
//! only for `F_SETLKW`, and variadic), and the calls POSIX lists as ones
//! that *may* be cancellation points (`printf`, `fopen`, ...), which glibc
//! makes so only through their system calls.
//!
//! Nothing here holds state, and nothing changes the system call's result
//! or `errno`.

use std::ffi::{c_char, c_int, c_long, c_void};

use libc::{id_t, idtype_t, mode_t, off_t, pid_t, siginfo_t, ssize_t};

use crate::cancel;

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

/// `waitpid`: acts on a pending cancellation request, then the system's
/// `waitpid` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_waitpid(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
) -> pid_t {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::waitpid(pid, status, options) }
}

/// `waitid`: acts on a pending cancellation request, then the system's
/// `waitid` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_waitid(
    idtype: idtype_t,
    id: id_t,
    info: *mut siginfo_t,
    options: c_int,
) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::waitid(idtype, id, info, options) }
}

/// `tcdrain`: acts on a pending cancellation request, then the system's
/// `tcdrain` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_tcdrain(fd: c_int) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::tcdrain(fd) }
}

/// `lockf`: acts on a pending cancellation request, then the system's
/// `lockf` (module doc).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_lockf(fd: c_int, cmd: c_int, len: off_t) -> c_int {
    entry();
    // SAFETY: the program's arguments, as it passed them.
    unsafe { libc::lockf(fd, cmd, len) }
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

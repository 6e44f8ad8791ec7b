//! `WEAVE_DUMP_SIGNAL`: a thread dump on a signal, as the JVM's on SIGQUIT.
//!
//! Opt-in: the variable names the signal (`SIGQUIT`, `QUIT`, `SIGUSR1`,
//! `USR1`, `SIGUSR2`, `USR2`; `off`, the default, for none), as
//! `config::parse_signal` reads it. A plain `sigaction` handler is the top
//! half: it only sets a flag and writes one byte to a pipe, both
//! async-signal-safe. The bottom half is a small thread (`weave-dump`)
//! that sleeps on the pipe's read end, takes the dump and prints it to
//! stderr. Not the monitor: the monitor parks when nothing runs, and a
//! program that is stuck, the one a user wants a dump of, is exactly one
//! where nothing runs. Not through `weave::signal` either: its handler
//! threads are ULTs, which need a free LWP, and its routing follows ULT
//! masks, which must not hold back a dump of the whole process. This
//! handler owns the signal it is given, and `weave::signal` refuses
//! handlers for it (`signal::check` reads `config::dump_signal`).
//!
//! Names only `inspect::dump` and `config`.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicI32};

/// A dump was asked for and not taken yet.
static WANTED: AtomicBool = AtomicBool::new(false);
/// The pipe's write end (-1 before `install`).
static PIPE_W: AtomicI32 = AtomicI32::new(-1);

/// Installs the handler for the signal named `name`, and the thread that
/// prints the dumps.
pub(super) fn install(name: &str) -> Result<(), String> {
    let sig = crate::config::parse_signal(name).ok_or_else(|| {
        format!("{name:?} is not a signal weave dumps on: expected SIGQUIT, SIGUSR1 or SIGUSR2")
    })?;
    if sig == 0 {
        return Ok(()); // off
    }
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("no pipe: {}", std::io::Error::last_os_error()));
    }
    PIPE_W.store(fds[1], SeqCst);
    let read_end = fds[0];
    crate::os::threads::spawn(
        std::thread::Builder::new()
            .name("weave-dump".into())
            .stack_size(256 * 1024),
        move || bottom_half(read_end),
    )
    .map_err(|e| format!("no dump thread: {e}"))?;
    // SAFETY: a zeroed sigaction is a valid starting value; we set the
    // handler, an empty mask and SA_RESTART before passing it.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = top_half as extern "C" fn(libc::c_int) as usize;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: `sa.sa_mask` is a valid sigset_t to empty.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // Not stopped half-way by an asynchronous cancellation.
    crate::signal::set::block_async_cancel_in(&mut sa.sa_mask);
    // SAFETY: `sa` is fully initialised; the old action is not wanted.
    if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
        return Err(format!(
            "cannot handle signal {sig}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The signal handler. ASYNC-SIGNAL-SAFE: one atomic store and one
/// `write`; errno is saved and restored.
extern "C" fn top_half(_sig: libc::c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    WANTED.store(true, SeqCst);
    let fd = PIPE_W.load(Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: `b` is one readable byte; write is async-signal-safe.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The dump thread: waits on the pipe, prints a dump per request (several
/// signals before it wakes make one dump).
fn bottom_half(fd: RawFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
        if WANTED.swap(false, SeqCst) {
            let d = super::dump::dump();
            eprintln!("{d}");
        }
    }
}

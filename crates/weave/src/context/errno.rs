//! errno per ULT: the C library's `errno` is a thread-local of the kernel
//! thread (glibc's `__thread`), which every ULT on an LWP shares; POSIX
//! wants one per thread. So a ULT carries its own across every switch, as
//! it carries its callee-saved registers: it reads the value as it
//! switches out and writes it back as it returns from the switch, on
//! whichever LWP runs it then. The value waits on the ULT's own stack, in
//! the frame of the call that switched (`Lwp::yield_to`, `block_to` and
//! `switch_out` in `lwp/mod.rs`): no TCB field, and no other thread's
//! state is touched.
//!
//! ```text
//!   ULT A (errno EINVAL)          LWP 1's errno      ULT B
//!   e = *loc          (EINVAL)    EINVAL
//!   switch ──────────────────────────────────────▶   returns from its switch
//!                                                    *loc = its own e (0)
//!                                 0 .. ENOMEM        runs, sets ENOMEM
//!                                                    e = *loc (ENOMEM)
//!   returns from its switch ◀───────────────────────  switch
//!   *loc = e          (EINVAL)    EINVAL
//! ```
//!
//! Every way back onto a ULT is the return of one of those switch calls,
//! save its first run, which starts with errno 0 as a new glibc thread
//! does (the public layer's entry writes it). The loop and weave's own
//! code in between may leave anything in the LWP's errno: the ULT's write
//! comes last. weave never switches a ULT away outside those calls: its
//! preemption is at safe points, which call the yield; asynchronous
//! cancellation stops the ULT for good; a signal handler runs either on
//! the interrupted ULT (its wrapper restores errno) or as a thread of its
//! own.
//!
//! `loc` is the LWP's `__errno_location()`, constant for a kernel thread:
//! read once as the LWP starts ([`Errno::of_this_thread`]) and kept in its
//! owner-only state, so that a switch costs a load and a store on each side,
//! and no call. With the `tls-per-ult` feature every ULT has its own TLS
//! block, errno included, and the switch has nothing to do: [`Errno::get`]
//! and [`Errno::set`] are then no-ops.
//!
//! An OS thread (the `main` thread, a `std::thread`) is never switched, but
//! it parks in the kernel inside weave's waits, and the park's futex call
//! may leave `EAGAIN` or `ETIMEDOUT` in its errno; `sched::block_os` puts
//! the thread's value back, as glibc's own waits do (they never touch errno
//! on success).
//!
//! ASYNC-SIGNAL-SAFE: a load and a store of the calling thread's errno.

use std::ffi::c_int;

/// Where a kernel thread keeps its errno.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Errno(*mut c_int);

impl Errno {
    /// A location for an LWP whose thread has not started yet: the LWP
    /// sets its own ([`Errno::of_this_thread`]) before any ULT runs there.
    pub(crate) const UNSET: Errno = Errno(std::ptr::null_mut());

    /// The calling kernel thread's errno.
    #[inline]
    pub(crate) fn of_this_thread() -> Errno {
        // SAFETY: `__errno_location` has no preconditions; it returns the
        // calling thread's errno, valid as long as that thread lives.
        Errno(unsafe { libc::__errno_location() })
    }

    /// The errno value now, as the running ULT switches out (0 with
    /// `tls-per-ult`, where nothing is carried).
    ///
    /// # Safety
    ///
    /// `self` is the calling kernel thread's errno (its LWP's, set).
    #[inline(always)]
    pub(crate) unsafe fn get(self) -> c_int {
        if cfg!(feature = "tls-per-ult") {
            return 0;
        }
        debug_assert!(
            !self.0.is_null(),
            "an LWP's errno was read before it started"
        );
        // SAFETY: the caller's contract: our own thread's errno, which
        // only this thread reads or writes.
        unsafe { *self.0 }
    }

    /// Puts `value`, the ULT's own errno, back as it returns from a switch.
    ///
    /// # Safety
    ///
    /// As for [`Errno::get`].
    #[inline(always)]
    pub(crate) unsafe fn set(self, value: c_int) {
        if cfg!(feature = "tls-per-ult") {
            return;
        }
        debug_assert!(
            !self.0.is_null(),
            "an LWP's errno was written before it started"
        );
        // SAFETY: as in `get`.
        unsafe { *self.0 = value };
    }
}

/// The calling kernel thread's errno value (for waits of OS threads,
/// which are not switched: `sched::block_os`).
#[inline]
pub(crate) fn read() -> c_int {
    // SAFETY: the calling thread's errno, valid while it runs.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling kernel thread's errno to `value`: the start of a
/// new ULT (0), or the value an OS thread had before it parked.
#[inline]
pub(crate) fn write(value: c_int) {
    // SAFETY: as in `read`.
    unsafe { *libc::__errno_location() = value };
}

//! The interrupt: how a cancellation request stops a ULT wherever it is
//! in the program's own code (asynchronous cancellation, the C API's
//! `PTHREAD_CANCEL_ASYNCHRONOUS`), where a deferred request waits for the
//! ULT's next cancellation point.
//!
//! Owns the internal signal weave sends for it and that signal's handler;
//! the bytes that say when a ULT may be stopped are `thread/cancel_word.rs`
//! (`asynchronous`), what stopping it does is the hook its user installs
//! ([`install`]: the C API's `pthread_exit(PTHREAD_CANCELED)`).
//!
//! **The signal** is the C library's own cancellation signal (glibc's
//! `SIGCANCEL`, 32): no program can handle it (glibc's `sigaction` and
//! weave's both refuse it), so weave takes none of the program's signals,
//! and the C library never blocks it on a thread (`pthread_sigmask`
//! removes it from every set), so every LWP takes it. The handler is
//! installed with the `rt_sigaction` system call (the C library's
//! `sigaction` refuses the number) and a restorer of its own. weave sends
//! it with `rt_tgsigqueueinfo` (`SI_QUEUE`, a value of its own): the C
//! library's handler, were a program to install it by calling the C
//! library's `pthread_cancel` on one of its own OS threads, acts only on
//! `SI_TKILL`, so it would ignore weave's (asynchronous cancellation would
//! then wait for the next cancellation point, as deferred).
//!
//! **The steps.**
//! 1. The requester records the request and reads the target's
//!    `asynchronous` byte (a Dekker pair with the target's `arm`,
//!    loom-checked in `cancel_word.rs`); armed, it sends the signal to the
//!    LWP the target is placed on (a ULT moves to another LWP only from
//!    inside weave, where it is not armed).
//! 2. The handler runs on that LWP. It acts only if the ULT running there
//!    is armed with a request pending, and the interrupted stack pointer
//!    is on that ULT's own stack: so never while the LWP runs its loop or
//!    switches between ULTs (a direct yield names the next ULT as running
//!    while still on the previous one's stack), nor on the alternate
//!    signal stack. Otherwise it returns, and the request waits for the
//!    ULT to arm again (which acts on it) or for a cancellation point.
//! 3. A ULT is armed only while it runs its own code: the C API clears the
//!    byte as it enters the calls a program may make with asynchronous
//!    cancellation in force and sets it again (acting on a pending
//!    request) as it leaves them, and weave's top half runs with the
//!    signal blocked (`install_with` adds it to every wrapper's
//!    `sa_mask`). So weave's own state is never left half-changed.
//! 4. To act, the handler disarms the ULT (a second signal finds nothing
//!    to do), puts back the kernel mask the interrupted code had (leaving
//!    a handler without `sigreturn` would keep the one the kernel set for
//!    it), and calls the hook on the ULT's stack, below the abandoned
//!    signal frame. The hook never returns: `pthread_exit` runs the cleanup
//!    handlers and jumps to the ULT's landing pad, above that frame.
//!
//! ASYNC-SIGNAL-SAFE: the handler up to the hook (atomics, the never-freed
//! thread table, `rt_sigprocmask`). The hook runs weave's ordinary code: the
//! interrupted code is the program's, which holds none of weave's locks,
//! and in asynchronous mode POSIX lets it call nothing that is not
//! async-cancel-safe.

use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::thread::tcb::Tcb;

/// The signal: glibc's `SIGCANCEL` (`__SIGRTMIN`), the one
/// `set::block_async_cancel_in` blocks.
pub(crate) const SIG: i32 = 32;

/// The `si_value` weave's interrupts carry ("weaveACX" in ASCII).
const MAGIC: u64 = 0x5843_4165_7661_6577;

/// The hook that acts on the request (a `fn() -> !`); null until
/// [`install`].
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Whether [`install`] has run: only then may a ULT be armed.
#[inline]
pub(crate) fn ready() -> bool {
    !HOOK.load(Relaxed).is_null()
}

/// Installs `hook`, what a ULT stopped by a request runs (on its own
/// stack, out of signal context), and the signal's handler. The first
/// hook stays; later calls change nothing.
pub(crate) fn install(hook: fn() -> !) {
    if ready() || !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return;
    }
    imp::install_handler();
    // Release pairs with the Acquire load in the handler.
    let _ = HOOK.compare_exchange(std::ptr::null_mut(), hook as *mut (), Release, Relaxed);
    // From now on a ULT may be armed, and a request interrupts it.
    crate::thread::interrupt_hook::set(send);
}

/// Sends the interrupt to the LWP `t` is placed on (step 1). Nothing if it
/// has none, or is the caller's own (then `t` is not running).
pub(crate) fn send(t: &Tcb) {
    let home = t.home.load(Relaxed);
    if home == crate::thread::tcb::NO_LWP {
        return;
    }
    let tid = crate::runtime::rt().lwp(home as usize).tid();
    // SAFETY: gettid has no preconditions.
    if tid == 0 || tid == unsafe { libc::gettid() } {
        return;
    }
    imp::send_to(tid);
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod imp {
    use super::*;
    use crate::signal::wrapper::KernelInfo;
    use crate::thread::cancel_word;

    // The restorer the kernel returns to when the handler returns: the
    // `rt_sigreturn` system call (15), as the C library's own.
    std::arch::global_asm!(
        ".pushsection .text.weave_interrupt_restorer,\"ax\",@progbits",
        ".globl weave__interrupt_restorer",
        ".hidden weave__interrupt_restorer",
        ".type weave__interrupt_restorer,@function",
        "weave__interrupt_restorer:",
        "mov rax, 15",
        "syscall",
        ".size weave__interrupt_restorer, . - weave__interrupt_restorer",
        ".popsection",
    );

    extern "C" {
        fn weave__interrupt_restorer();
    }

    /// The kernel's `struct sigaction` on x86-64.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }

    const SA_RESTORER: u64 = 0x0400_0000;

    pub(super) fn install_handler() {
        // Every catchable signal blocked while the handler decides, but
        // the synchronous ones (blocked, a fault would end the process
        // without a word); the handler puts the interrupted mask back
        // before it acts.
        let sync = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL]
            .iter()
            .fold(0u64, |m, &s| m | 1 << (s - 1));
        let act = KernelSigaction {
            handler: handler as *const () as usize,
            flags: (libc::SA_SIGINFO | libc::SA_RESTART) as u64 | SA_RESTORER,
            restorer: weave__interrupt_restorer as *const () as usize,
            mask: !sync,
        };
        // SAFETY: a valid kernel sigaction for a catchable signal; the
        // handler and the restorer live as long as the process.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                SIG,
                &act as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
        debug_assert_eq!(rc, 0, "rt_sigaction for the interrupt signal");
    }

    pub(super) fn send_to(tid: i32) {
        // SAFETY: getpid and getuid have no preconditions.
        let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
        let info = KernelInfo::queued(SIG, pid, uid, MAGIC);
        // SAFETY: a full 128-byte siginfo for our own process.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                tid,
                SIG,
                &info as *const KernelInfo,
            )
        };
        // ESRCH: the LWP is gone (the process is ending); EAGAIN: the
        // queue of pending signals is full, and the request waits for the
        // ULT's next cancellation point.
        debug_assert!(
            rc == 0
                || matches!(
                    std::io::Error::last_os_error().raw_os_error(),
                    Some(libc::ESRCH | libc::EAGAIN)
                )
        );
    }

    /// The handler (steps 2 and 4 of the module doc).
    // ASYNC-SIGNAL-SAFE up to the hook.
    extern "C" fn handler(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
        // SAFETY: the kernel passes a full siginfo to an SA_SIGINFO handler.
        let k = unsafe { &*(info as *const KernelInfo) };
        // SAFETY: getpid has no preconditions.
        if k.code != libc::SI_QUEUE || k.value != MAGIC || k.pid != unsafe { libc::getpid() } {
            return;
        }
        let Some(t) = crate::thread::current::running() else {
            return;
        };
        if !cancel_word::async_due(&t.cancel) {
            return;
        }
        // SAFETY: the kernel passes the interrupted context.
        let uc = unsafe { &*(uc as *const libc::ucontext_t) };
        let sp = uc.uc_mcontext.gregs[libc::REG_RSP as usize] as usize;
        // SAFETY: written at the ULT's first run, before it ran any code of
        // its own, and not again while it lives; it runs (it is armed).
        let o = unsafe { &*t.overflow.get() };
        if o.stack_size == 0 || sp < o.guard_hi || sp >= o.guard_hi + o.stack_size {
            return;
        }
        // Acquire pairs with the Release in `install` (armed implies set).
        let hook = HOOK.load(Acquire);
        if hook.is_null() {
            return;
        }
        cancel_word::disarm(&t.cancel, 0);
        // SAFETY: the mask the interrupted code ran with, from the kernel.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &uc.uc_sigmask as *const libc::sigset_t,
                std::ptr::null_mut::<libc::sigset_t>(),
                8usize,
            )
        };
        // SAFETY: only `install` stores here, a `fn() -> !`.
        let hook: fn() -> ! = unsafe { std::mem::transmute::<*mut (), fn() -> !>(hook) };
        hook()
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod imp {
    //! Elsewhere no handler is installed and no ULT is ever armed
    //! ([`super::install`] leaves [`super::ready`] false): requests wait
    //! for a cancellation point.
    pub(super) fn install_handler() {}
    pub(super) fn send_to(_tid: i32) {}
}

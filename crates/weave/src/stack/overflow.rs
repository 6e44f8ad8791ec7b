//! Reports a hit on a ULT's guard page the way std reports a stack overflow,
//! then aborts.
//!
//! The handler for SIGSEGV and SIGBUS runs on an alternate signal stack (the
//! ULT's stack is exhausted). It looks at the LWP's [`OverflowInfo`], which
//! the scheduler fills in before it resumes a ULT: when the fault address
//! lies in the running ULT's guard page, it writes
//! `thread 'name' (ULT 1234) has overflowed its stack of 256 KiB` to stderr
//! and aborts, unless the program has a handler for the signal (the
//! overflow router the signal layer registers, [`set_overflow_router`],
//! runs it: on the ULT's alternate stack if it set one). A fault in a compacted stack (`compact.rs`) puts that stack
//! back and runs the access again. Any other fault goes to the fault router
//! the signal layer registers ([`set_fault_router`], done by
//! `signal::fault::install` as the runtime starts): the faulting ULT's
//! immediate handler if the program installed one, else the handler that
//! was installed before weave's (std's own overflow handler for OS threads,
//! or the default action), so every other SIGSEGV keeps its normal
//! behaviour. With no router registered, the fault goes straight to that
//! earlier handler. This layer names nothing above it: the router is a
//! plain function pointer.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::Once;

/// What the overflow handler needs to know about the ULT running on this
/// LWP. Plain data, readable from a signal handler.
#[derive(Clone, Copy)]
pub(crate) struct OverflowInfo {
    pub(crate) guard_lo: usize,
    pub(crate) guard_hi: usize,
    pub(crate) stack_size: usize,
    pub(crate) ult: u64,
    /// Name of the ULT: pointer and length of a `str` the TCB keeps alive
    /// while the ULT runs; null when unnamed.
    pub(crate) name: *const u8,
    pub(crate) name_len: usize,
}

impl OverflowInfo {
    pub(crate) const NONE: OverflowInfo = OverflowInfo {
        guard_lo: 0,
        guard_hi: 0,
        stack_size: 0,
        ult: 0,
        name: std::ptr::null(),
        name_len: 0,
    };
}

thread_local! {
    static RUNNING: Cell<*const OverflowInfo> = const { Cell::new(std::ptr::null()) };
}

/// Records which ULT this LWP is about to run: a pointer to the info in its
/// TCB (TCBs are never freed), so a switch costs one thread-local store.
#[inline]
pub(crate) fn set_running_info(info: *const OverflowInfo) {
    RUNNING.with(|r| r.set(info));
}

static INSTALL: Once = Once::new();
static mut PREVIOUS_SEGV: MaybeUninit<libc::sigaction> = MaybeUninit::uninit();
static mut PREVIOUS_BUS: MaybeUninit<libc::sigaction> = MaybeUninit::uninit();

/// Size of each LWP's alternate signal stack. The handler only formats a
/// line into a fixed buffer, but a chained handler (std's) may do more.
const ALTSTACK: usize = 64 * 1024;

/// Installs the process-wide handler once, and an alternate signal stack on
/// the calling OS thread if it has none. Every LWP calls this when it starts.
pub(crate) fn install_overflow_handler() {
    INSTALL.call_once(|| {
        for (sig, prev) in [
            (libc::SIGSEGV, &raw mut PREVIOUS_SEGV),
            (libc::SIGBUS, &raw mut PREVIOUS_BUS),
        ] {
            // SAFETY: `prev` is static storage written once here, inside
            // `call_once`, before the handler can run and read it.
            unsafe { take_over(sig, handler, prev) };
        }
    });
    ensure_altstack();
}

/// Hands a fault to the handler that was in the kernel's table before
/// weave's (the last argument of a [`FaultRouter`]).
pub(crate) type Chain = fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Where a `SIGSEGV`/`SIGBUS` outside a guard page and outside a compacted
/// stack goes: `(sig, info, ctx, chain)`. Must be async-signal-safe.
pub(crate) type FaultRouter = fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void, Chain);

/// The registered [`FaultRouter`], null until one is.
static ROUTER: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Registers where faults that are not overflows go (the signal layer's
/// `fault`, registered by `signal::fault::install` as the runtime starts).
pub(crate) fn set_fault_router(f: FaultRouter) {
    // Release pairs with the Acquire load in `handler`.
    ROUTER.store(f as *mut (), Release);
}

/// Where a hit on the running ULT's guard page goes first: `(sig, info,
/// ctx)`, true if a handler of the program took it (it ran, and returned
/// or will not return); false for the report and the abort. Must be
/// async-signal-safe.
pub(crate) type OverflowRouter = fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) -> bool;

/// The registered [`OverflowRouter`], null until one is.
static OVERFLOW_ROUTER: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Registers where guard-page hits go before weave reports them (the
/// signal layer's, registered by `signal::fault::install`).
pub(crate) fn set_overflow_router(f: OverflowRouter) {
    // Release pairs with the Acquire load in `handler`.
    OVERFLOW_ROUTER.store(f as *mut (), Release);
}

/// A fault handler's signature (`SA_SIGINFO`).
pub(crate) type FaultHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Puts `handler` in the kernel's table for `sig` (`SA_SIGINFO |
/// SA_ONSTACK`, empty mask) and the action it replaces in `*prev`.
///
/// # Safety
///
/// `prev` is valid for writes and not read until this returns (the
/// handler, which reads it, may run from then on).
pub(crate) unsafe fn take_over(
    sig: libc::c_int,
    handler: FaultHandler,
    prev: *mut MaybeUninit<libc::sigaction>,
) {
    // SAFETY: a zeroed sigaction is a valid value to fill in; we set the
    // handler, flags and an empty mask before passing it on.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler as *const () as usize;
    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `act.sa_mask` is a valid sigset_t to clear.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `prev` is valid for writes (the caller's contract).
    let rc = unsafe { libc::sigaction(sig, &act, (*prev).as_mut_ptr()) };
    debug_assert_eq!(rc, 0, "sigaction for a valid signal cannot fail");
}

fn ensure_altstack() {
    // SAFETY: querying the current alternate stack with a null new value
    // changes nothing.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: `current` is a valid out-pointer.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return; // std (or the embedder) already gave this thread one.
    }
    // SAFETY: a fresh anonymous mapping aliases nothing. It is leaked on
    // purpose: the kernel may use it until the thread exits.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ALTSTACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return; // No alternate stack: an overflow then dies by SIGSEGV, unreported.
    }
    let stack = libc::stack_t {
        ss_sp: p,
        ss_flags: 0,
        ss_size: ALTSTACK,
    };
    // SAFETY: `stack` describes the mapping above, which stays valid.
    let rc = unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
    debug_assert_eq!(rc, 0);
}

/// What this LWP last recorded about the ULT it runs (`NONE` on an OS
/// thread or in the scheduler loop).
// ASYNC-SIGNAL-SAFE
pub(crate) fn running_info() -> OverflowInfo {
    let p = RUNNING.with(|r| r.get());
    if p.is_null() {
        OverflowInfo::NONE
    } else {
        // SAFETY: a TCB's overflow info; TCBs are never freed, and the info
        // of the running ULT is not written while it runs.
        unsafe { *p }
    }
}

// ASYNC-SIGNAL-SAFE: reads a Copy thread-local, formats into a stack buffer,
// and calls only write(2), abort(3) and sigaction(2); `compact::on_fault` and
// the router are async-signal-safe too.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let running = running_info();
    if running.guard_hi != 0 && addr >= running.guard_lo && addr < running.guard_hi {
        // Acquire pairs with the Release store in `set_overflow_router`.
        let router = OVERFLOW_ROUTER.load(Acquire);
        if !router.is_null() {
            // SAFETY: only `set_overflow_router` stores here, an
            // `OverflowRouter`.
            let router = unsafe { std::mem::transmute::<*mut (), OverflowRouter>(router) };
            if router(sig, info, ctx) {
                return;
            }
        }
        report(&running);
        // SAFETY: abort is async-signal-safe and does not return.
        unsafe { libc::abort() };
    }
    // A compacted stack touched from another thread: put back, run again.
    if super::compact::on_fault(addr) {
        return;
    }
    // Acquire pairs with the Release store in `set_fault_router`.
    let router = ROUTER.load(Acquire);
    if router.is_null() {
        chain(sig, info, ctx);
    } else {
        // SAFETY: only `set_fault_router` stores here, a `FaultRouter`.
        let router = unsafe { std::mem::transmute::<*mut (), FaultRouter>(router) };
        router(sig, info, ctx, chain);
    }
}

// ASYNC-SIGNAL-SAFE
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = if sig == libc::SIGSEGV {
        &raw const PREVIOUS_SEGV
    } else {
        &raw const PREVIOUS_BUS
    };
    // SAFETY: written once in `install_overflow_handler` before this handler
    // was installed.
    chain_to(unsafe { (*prev).assume_init_ref() }, sig, info, ctx);
}

/// Hands a signal to `prev`, the action that was in the kernel's table
/// before weave's: calls its handler, or for `SIG_DFL`/`SIG_IGN` puts the
/// default action back and returns (a fault then re-runs its instruction
/// and the kernel applies the default).
// ASYNC-SIGNAL-SAFE
pub(crate) fn chain_to(
    prev: &libc::sigaction,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let h = prev.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction
        // runs again and the kernel delivers the signal with its default
        // effect (a core dump), as if weave were not there.
        // SAFETY: a zeroed sigaction with SIG_DFL is valid.
        let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
        dfl.sa_sigaction = libc::SIG_DFL;
        // SAFETY: resetting a signal to its default is always allowed.
        unsafe { libc::sigaction(sig, &dfl, std::ptr::null_mut()) };
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed as a three-argument
        // handler and expects exactly these arguments.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the previous handler was installed as a one-argument one.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

// ASYNC-SIGNAL-SAFE: no allocation; one write(2).
fn report(r: &OverflowInfo) {
    let mut buf = Buf::new();
    buf.push(b"\nthread '");
    if r.name.is_null() {
        buf.push(b"<unnamed>");
    } else {
        // SAFETY: the TCB keeps the name alive while its ULT runs, and the
        // faulting ULT is running.
        buf.push(unsafe { std::slice::from_raw_parts(r.name, r.name_len) });
    }
    buf.push(b"' (ULT ");
    buf.push_num(r.ult);
    buf.push(b") has overflowed its stack of ");
    if r.stack_size >= 1 << 20 && r.stack_size % (1 << 20) == 0 {
        buf.push_num((r.stack_size >> 20) as u64);
        buf.push(b" MiB");
    } else {
        buf.push_num((r.stack_size >> 10) as u64);
        buf.push(b" KiB");
    }
    buf.push(b"\nfatal runtime error: stack overflow, aborting\n");
    // SAFETY: writing our own buffer to stderr.
    unsafe { libc::write(2, buf.bytes.as_ptr().cast(), buf.len) };
}

/// A line built without allocating, for signal handlers.
pub(crate) struct Buf {
    pub(crate) bytes: [u8; 512],
    pub(crate) len: usize,
}

impl Buf {
    pub(crate) fn new() -> Buf {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    pub(crate) fn push_num(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_formats_without_allocating() {
        let mut b = Buf::new();
        b.push(b"x");
        b.push_num(0);
        b.push_num(1234567);
        assert_eq!(&b.bytes[..b.len], b"x01234567");
    }
}

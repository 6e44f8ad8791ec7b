//! Synchronous signals: `SIGSEGV` outside a guard page, `SIGBUS`, `SIGFPE`,
//! `SIGILL`, raised by the instruction a thread is running. They belong to
//! that thread, so weave does not route them (no four cases, no dispatcher):
//! the faulting ULT's immediate handler runs right there, and with none the
//! process dies with a line naming the ULT, as a stack overflow does.
//!
//! `SIGSEGV` and `SIGBUS` reach [`fault`] from the stack-overflow handler
//! (`stack/overflow.rs`, on the alternate signal stack) when the address is
//! not a guard page; `SIGFPE` and `SIGILL` from weave's own handler. The
//! runtime's start (`start.rs`, before the first LWP) calls [`install`],
//! which registers [`fault`] as the overflow handler's router and puts the
//! `SIGFPE`/`SIGILL` handler in the kernel's table (keeping the action
//! installed before it, to hand on to).
//!
//! This file, `wrapper.rs`, `immediate.rs` and `slot.rs` are the signal
//! layer's top half: they name the thread table, the LWPs and the stack
//! layer, never the thread-side half (`signal/mod.rs`, `dispatch.rs`), so
//! the runtime's start may call [`install`].
//!
//! ASYNC-SIGNAL-SAFE, all of it. Must not touch the engine or allocate.

use std::mem::MaybeUninit;
use std::sync::Once;

use super::immediate;
use super::ring::{Record, Route};
use super::wrapper::{claim_once, KernelInfo};

/// Whether `sig` is one of the synchronous signals weave gives to the
/// faulting thread.
pub(crate) const fn is_synchronous(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL
    )
}

static INSTALL: Once = Once::new();
static mut PREVIOUS_FPE: MaybeUninit<libc::sigaction> = MaybeUninit::uninit();
static mut PREVIOUS_ILL: MaybeUninit<libc::sigaction> = MaybeUninit::uninit();

/// Registers [`fault`] as the overflow handler's router (which covers
/// `SIGSEGV` and `SIGBUS`) and puts weave's handler for `SIGFPE` and
/// `SIGILL` in the kernel's table; once.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        crate::stack::set_fault_router(fault);
        crate::stack::set_overflow_router(overflow);
        for (sig, prev) in [
            (libc::SIGFPE, &raw mut PREVIOUS_FPE),
            (libc::SIGILL, &raw mut PREVIOUS_ILL),
        ] {
            // SAFETY: `prev` is static storage written once here, inside
            // `call_once`, before the handler can run and read it.
            unsafe { crate::stack::take_over(sig, handler, prev) };
        }
    });
}

/// A hit on the running ULT's guard page: the program's handler takes it
/// if it has one (on the ULT's alternate stack with `SA_ONSTACK`; else on
/// the LWP's, where this runs); false leaves it to weave's report.
// ASYNC-SIGNAL-SAFE
fn overflow(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) -> bool {
    if immediate::lookup(sig).is_none() {
        return false;
    }
    fault(sig, info, ctx, chain);
    true
}

// ASYNC-SIGNAL-SAFE
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    fault(sig, info, ctx, chain);
}

// ASYNC-SIGNAL-SAFE
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = if sig == libc::SIGFPE {
        &raw const PREVIOUS_FPE
    } else {
        &raw const PREVIOUS_ILL
    };
    // SAFETY: written once in `install` before this handler was installed.
    crate::stack::chain_to(unsafe { (*prev).assume_init_ref() }, sig, info, ctx);
}

/// A synchronous signal on the calling thread: its immediate handler runs
/// here; with none, `chain` hands it to the action installed before weave's
/// and, if that leaves the default in place for a fault on a ULT, the line
/// naming the ULT is written before the faulting instruction runs again
/// and the kernel ends the process. A synchronous signal sent with `kill`
/// (no fault to re-run) is raised again with the default action.
// ASYNC-SIGNAL-SAFE
pub(crate) fn fault(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
    chain: crate::stack::Chain,
) {
    // SAFETY: errno is thread-local; a handler that makes system calls
    // saves and restores it.
    let errno = unsafe { *libc::__errno_location() };
    let _cx = super::wrapper::SignalContext::enter(ctx);
    // SAFETY: the kernel passes a valid siginfo (128 bytes) to an
    // SA_SIGINFO handler.
    let k = unsafe { &*(info as *const KernelInfo) };
    // si_code > 0: the kernel raised it for an instruction (a fault).
    let faulted = k.code > 0;
    let ult = crate::thread::current::running();
    if let Some(imm) = immediate::lookup(sig) {
        let rec = Record {
            signo: sig,
            code: k.code,
            pid: k.pid,
            uid: k.uid,
            value: k.value,
            target: ult.map_or(0, |t| t.id().as_u64().get()),
            route: if ult.is_some() {
                Route::Running
            } else {
                Route::OsThread
            },
        };
        if claim_once(sig, Some(imm)) {
            let run = || immediate::run_in_signal_context(imm, ult, &rec, info, ctx);
            if imm.onstack {
                super::altstack::run_on(ult, run);
            } else {
                run();
            }
        }
    } else {
        chain(sig, info, ctx);
        if is_default(sig) {
            if faulted {
                if ult.is_some() {
                    // SAFETY: si_addr is the faulting address for these
                    // four signals when the kernel raised them.
                    report(sig, k.code, unsafe { (*info).si_addr() } as usize);
                }
            } else {
                // SAFETY: tgkill to the calling thread; the signal is
                // blocked until this handler returns, then the default
                // action applies.
                unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), sig) };
            }
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Whether `sig`'s action in the kernel's table is now the default.
// ASYNC-SIGNAL-SAFE
fn is_default(sig: libc::c_int) -> bool {
    // SAFETY: a zeroed sigaction is a valid out-value.
    let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one.
    unsafe { libc::sigaction(sig, std::ptr::null(), &mut cur) };
    cur.sa_sigaction == libc::SIG_DFL
}

/// `thread 'name' (ULT 12) got SIGFPE (si_code 1) at address 0x...`: one
/// write(2), no allocation.
// ASYNC-SIGNAL-SAFE
fn report(sig: libc::c_int, code: i32, addr: usize) {
    let r = crate::stack::running_info();
    let mut buf = crate::stack::Buf::new();
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
    buf.push(b") got ");
    buf.push(match sig {
        libc::SIGSEGV => b"SIGSEGV (invalid memory access)" as &[u8],
        libc::SIGBUS => b"SIGBUS (bus error)",
        libc::SIGFPE => b"SIGFPE (arithmetic fault)",
        _ => b"SIGILL (illegal instruction)",
    });
    buf.push(b", si_code ");
    buf.push_num(code as u64);
    buf.push(b", at address 0x");
    push_hex(&mut buf, addr as u64);
    buf.push(
        b"; no handler for it, the process dies (install one with \
          weave::signal::handle_immediate or sigaction)\n",
    );
    // SAFETY: writing our own buffer to stderr.
    unsafe { libc::write(2, buf.bytes.as_ptr().cast(), buf.len) };
}

// ASYNC-SIGNAL-SAFE
fn push_hex(buf: &mut crate::stack::Buf, v: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut v = v;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    buf.push(&digits[i..]);
}

//! The POSIX signal calls, mapped onto `weave::signal`: per-ULT masks
//! (`pthread_sigmask`, a store on a ULT, no system call), thread-directed
//! signals to a ULT (`pthread_kill`, `pthread_sigqueue`, `raise`),
//! `sigpending`, `sigwait`/`sigwaitinfo`/`sigtimedwait` blocking only the
//! ULT (cancellation points), and `sigaction`/`signal`
//! whose C handlers are weave's *immediate* handlers (run in signal
//! context, on the stack of the thread that takes the signal).
//!
//! Owns the conversion only (C types to `weave::signal`'s, weave's errors
//! to POSIX numbers) and one piece of bookkeeping: the `sa_flags` a
//! program gave, so that `sigaction`'s old action reports them back.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};

use libc::{pthread_t, sigset_t};
use weave_rt::signal::{
    self, Disposition, How, Immediate, ImmediateFn, SigSet, SignalError, Waited,
};

use crate::thread::{ended_unjoined, live};
use crate::{guard, guard_errno};

/// A C handler: `void (*)(int)`.
#[allow(non_camel_case_types)]
pub type weave_sighandler = Option<extern "C" fn(c_int)>;

/// The `sa_flags` of the last `sigaction` that installed a handler, per
/// signal (reported back as the old action's flags).
static FLAGS: [AtomicI32; 65] = [const { AtomicI32::new(0) }; 65];

/// glibc's own signals (thread cancellation and setxid), which a mask or
/// a wait set silently leaves out, as glibc's calls do.
pub(crate) fn without_reserved(s: SigSet) -> SigSet {
    let mut s = s;
    for sig in 32..signal::sigrtmin() {
        s.remove(sig);
    }
    s
}

fn errno_of(e: &SignalError) -> c_int {
    match e {
        SignalError::NoThread { .. } => libc::ESRCH,
        _ => libc::EINVAL,
    }
}

fn how_of(how: c_int) -> Option<How> {
    match how {
        libc::SIG_BLOCK => Some(How::Block),
        libc::SIG_UNBLOCK => Some(How::Unblock),
        libc::SIG_SETMASK => Some(How::SetMask),
        _ => None,
    }
}

/// `pthread_sigmask`: changes the calling thread's mask. On a ULT the mask
/// is weave's (no system call); on an OS thread, the kernel's. `EINVAL`
/// for a bad `how` when `set` is given.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_sigmask(
    how: c_int,
    set: *const sigset_t,
    old: *mut sigset_t,
) -> c_int {
    guard("pthread_sigmask", libc::EINVAL, || {
        let before = if set.is_null() {
            signal::current_mask()
        } else {
            let Some(how) = how_of(how) else {
                return libc::EINVAL;
            };
            // SAFETY: non-null; the program's set.
            let s = without_reserved(SigSet::from_sigset_t(unsafe { &*set }));
            signal::mask(how, &s)
        };
        if !old.is_null() {
            // SAFETY: non-null; the program's set.
            unsafe { old.write(before.to_sigset_t()) };
        }
        0
    })
}

/// `sigsuspend`: the calling thread waits with `*mask` as its mask until a
/// handler has run on it (the C handlers of `sigaction` and `signal` do),
/// then gets its old mask back; always `-1` with `errno` `EINTR`, or
/// `EFAULT` for a null mask. On a ULT only the ULT waits. A cancellation
/// point: a request ends the wait (the old mask back) and is acted on.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sigsuspend(mask: *const sigset_t) -> c_int {
    let mut act = false;
    let r = guard_errno("sigsuspend", libc::EINVAL, || {
        // SAFETY: null or the program's set.
        let Some(m) = (unsafe { mask.as_ref() }) else {
            return libc::EFAULT;
        };
        act = suspend_point(&without_reserved(SigSet::from_sigset_t(m)));
        libc::EINTR
    });
    if act {
        crate::cancel::act();
    }
    debug_assert_eq!(r, -1);
    r
}

/// `pause`: waits until a handler has run on the calling thread (as
/// `sigsuspend` with the thread's own mask); always `-1` with `errno`
/// `EINTR`. A cancellation point.
#[no_mangle]
pub extern "C-unwind" fn weave_pause() -> c_int {
    let mut act = false;
    let r = guard_errno("pause", libc::EINVAL, || {
        act = suspend_point(&signal::current_mask());
        libc::EINTR
    });
    if act {
        crate::cancel::act();
    }
    r
}

/// `signal::suspend(set)` as a cancellation point: whether a request is
/// to be acted on (then the wait ended for it, or never began).
fn suspend_point(set: &SigSet) -> bool {
    match crate::cancel::point(|| signal::suspend(set)) {
        Err(()) | Ok(((), true)) => true,
        Ok(((), false)) => false,
    }
}

/// A create with a signal mask in its attributes
/// (`pthread_attr_setsigmask_np`): while it lives, the creating thread
/// blocks every signal, so the child, which inherits that, takes none
/// before its first step sets the attributes' mask ([`set_start_mask`]).
/// Dropped after the spawn: the creator's own mask is back (a signal
/// that came for it meanwhile is delivered then). The recipe glibc's
/// manual gives for creating a thread with a chosen mask.
pub(crate) struct SpawnMasked {
    old: SigSet,
}

impl SpawnMasked {
    pub(crate) fn new() -> SpawnMasked {
        SpawnMasked {
            old: signal::mask(How::SetMask, &without_reserved(SigSet::full())),
        }
    }
}

impl Drop for SpawnMasked {
    fn drop(&mut self) {
        signal::mask(How::SetMask, &self.old);
    }
}

/// A new C thread's first step when its attributes have a signal mask.
pub(crate) fn set_start_mask(mask: u64) {
    signal::mask(How::SetMask, &SigSet::from_bits(mask));
}

/// `sigprocmask`: as `pthread_sigmask` (the calling thread's mask), with
/// `-1` and `errno`.
#[no_mangle]
pub unsafe extern "C" fn weave_sigprocmask(
    how: c_int,
    set: *const sigset_t,
    old: *mut sigset_t,
) -> c_int {
    // SAFETY: the caller's contract is sigprocmask's, the same.
    match unsafe { weave_pthread_sigmask(how, set, old) } {
        0 => 0,
        e => {
            crate::set_errno(e);
            -1
        }
    }
}

/// `sigpending`: the signals pending for the calling thread or the
/// process that its mask blocks (a ULT's own are weave's, not the
/// kernel's); `-1` and `EFAULT` for a null set.
#[no_mangle]
pub unsafe extern "C" fn weave_sigpending(set: *mut sigset_t) -> c_int {
    guard_errno("sigpending", libc::EINVAL, || {
        if set.is_null() {
            return libc::EFAULT;
        }
        // SAFETY: non-null; the program's set.
        unsafe { set.write(signal::pending().to_sigset_t()) };
        0
    })
}

/// Sends to thread `t`: `value` for `pthread_sigqueue`. Signal 0 checks
/// only that `t` is a valid id (a thread that has ended but is not joined
/// yet still is: the signal then goes nowhere). `SIGKILL` and `SIGSTOP` act on the process, as
/// POSIX says.
fn send(name: &str, t: pthread_t, sig: c_int, value: Option<usize>) -> c_int {
    guard(name, libc::EINVAL, || {
        if !(0..=signal::MAX_SIGNAL).contains(&sig) {
            return libc::EINVAL;
        }
        let th = match live(t) {
            Ok(th) => th,
            // Ended but not joined: the id is valid, the signal has no
            // thread to go to (as glibc does).
            Err(_) if ended_unjoined(t) => return 0,
            Err(e) => return e,
        };
        if sig == 0 {
            return 0;
        }
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            // SAFETY: kill to our own process.
            unsafe { libc::kill(libc::getpid(), sig) };
            return 0;
        }
        let r = match value {
            Some(v) => th.sigqueue(sig, v),
            None => th.kill(sig),
        };
        match r {
            Ok(()) => 0,
            Err(e) => errno_of(&e),
        }
    })
}

/// `pthread_kill`: sends `sig` to thread `t` (a ULT: pending on it until
/// it unblocks the signal; woken from a weave wait to take it). `ESRCH`
/// for a stale or made-up id, `EINVAL` for a bad signal number.
#[no_mangle]
pub extern "C" fn weave_pthread_kill(t: pthread_t, sig: c_int) -> c_int {
    send("pthread_kill", t, sig, None)
}

/// `pthread_sigqueue`: as `pthread_kill`, with a value; real-time signals
/// queue on the thread in order, each with its value.
#[no_mangle]
pub extern "C" fn weave_pthread_sigqueue(t: pthread_t, sig: c_int, value: libc::sigval) -> c_int {
    send("pthread_sigqueue", t, sig, Some(value.sival_ptr as usize))
}

/// `raise`: `pthread_kill(pthread_self(), sig)`; a handler of an unblocked
/// signal has run when it returns. Non-zero and `errno` on error.
#[no_mangle]
pub extern "C" fn weave_raise(sig: c_int) -> c_int {
    match weave_pthread_kill(crate::thread::weave_pthread_self(), sig) {
        0 => 0,
        e => {
            crate::set_errno(e);
            -1
        }
    }
}

/// `kill`: to the calling process (`pid` its own), a signal handled
/// through weave is routed by weave before this returns: to a `sigwait`
/// caller, to the calling thread if it does not block it (its handler has
/// run when this returns), to another thread that does not block it, or,
/// when every thread blocks it, held pending for the process
/// (`sigpending` shows it at once) until a thread unblocks it or waits
/// for it. Any other `pid` or signal is the system's `kill`. `-1` and
/// `errno` on error.
#[no_mangle]
pub extern "C" fn weave_kill(pid: libc::pid_t, sig: c_int) -> c_int {
    to_process("kill", pid, sig, None)
}

/// `sigqueue`: as `kill`, with a value. Real-time signals the process
/// sends itself queue, each with its value, and reach a thread that
/// unblocks them lowest number first, each number in the order sent.
#[no_mangle]
pub extern "C" fn weave_sigqueue(pid: libc::pid_t, sig: c_int, value: libc::sigval) -> c_int {
    to_process("sigqueue", pid, sig, Some(value.sival_ptr as usize))
}

fn to_process(name: &str, pid: libc::pid_t, sig: c_int, value: Option<usize>) -> c_int {
    guard_errno(name, libc::EINVAL, || {
        // SAFETY: getpid has no preconditions.
        let r = if pid == unsafe { libc::getpid() } {
            signal::send_to_process(sig, value)
        } else {
            // SAFETY: the system's calls, with the program's arguments.
            let rc = unsafe {
                match value {
                    Some(v) => libc::sigqueue(
                        pid,
                        sig,
                        libc::sigval {
                            sival_ptr: v as *mut c_void,
                        },
                    ),
                    None => libc::kill(pid, sig),
                }
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        match r {
            Ok(()) => 0,
            Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
        }
    })
}

/// `sigaltstack`: the calling thread's alternate signal stack. A ULT's is
/// weave's (the kernel's belongs to the LWP): a synchronous signal's
/// handler installed with `SA_ONSTACK` runs on it, a `SIGSEGV` from a
/// stack overflow included; asynchronous signals' handlers run on the
/// thread's stack. `*old` gets the stack set before (`SS_DISABLE` for
/// none, `SS_ONSTACK` while the thread runs on it). `-1` and `EPERM` when
/// the thread runs on it, `ENOMEM` below `MINSIGSTKSZ` (or with 1,024
/// ULTs holding one), `EINVAL` for other flags. On an OS thread, the
/// system's.
#[no_mangle]
pub unsafe extern "C" fn weave_sigaltstack(
    new: *const libc::stack_t,
    old: *mut libc::stack_t,
) -> c_int {
    guard_errno("sigaltstack", libc::EINVAL, || {
        let (cur, on_it) = signal::alt_stack();
        // SAFETY: null or the program's stack_t.
        if let Some(n) = unsafe { new.as_ref() } {
            if n.ss_flags & !libc::SS_DISABLE != 0 {
                return libc::EINVAL;
            }
            let set = (n.ss_flags & libc::SS_DISABLE == 0).then_some(signal::AltStack {
                base: n.ss_sp as usize,
                size: n.ss_size,
            });
            match signal::set_alt_stack(set) {
                Ok(_) => {}
                Err(signal::AltStackError::OnIt) => return libc::EPERM,
                Err(_) => return libc::ENOMEM,
            }
        }
        if !old.is_null() {
            let st = match cur {
                Some(s) => libc::stack_t {
                    ss_sp: s.base as *mut c_void,
                    ss_flags: if on_it { libc::SS_ONSTACK } else { 0 },
                    ss_size: s.size,
                },
                None => libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                },
            };
            // SAFETY: non-null; the program's out-value.
            unsafe { old.write(st) };
        }
        0
    })
}

/// The wait set of `sigwait`: glibc's own signals and the uncatchable ones
/// left out; `None` if nothing is left or `set` is null.
///
/// # Safety
/// `set` is null or a valid `sigset_t`.
unsafe fn wait_set(set: *const sigset_t) -> Option<SigSet> {
    if set.is_null() {
        return None;
    }
    // SAFETY: non-null, per the contract.
    let mut s = without_reserved(SigSet::from_sigset_t(unsafe { &*set }));
    s.remove(libc::SIGKILL);
    s.remove(libc::SIGSTOP);
    (!s.is_empty()).then_some(s)
}

/// `sigwait`: blocks the calling ULT until a signal of `set` is pending
/// for it or the process, takes it and stores its number in `*sig`.
/// `EINVAL` for a null set; never `EINTR` (a handler that runs meanwhile
/// leaves the wait going on). A cancellation point: a request ends the
/// wait (a signal already taken is kept, and the request waits for the
/// next point).
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sigwait(set: *const sigset_t, sig: *mut c_int) -> c_int {
    let r = guard("sigwait", libc::EINVAL, || {
        // SAFETY: the program's set (or null).
        let Some(s) = (unsafe { wait_set(set) }) else {
            return libc::EINVAL;
        };
        match wait_point(&s, None, false) {
            Ok(Some(info)) => {
                if !sig.is_null() {
                    // SAFETY: non-null; the program's int.
                    unsafe { sig.write(info.signo) };
                }
                0
            }
            Ok(None) => crate::cancel::ACT,
            Err(e) => e,
        }
    });
    crate::cancel::finish(r)
}

/// The wait of `sigwait` (`eintr` false), `sigwaitinfo` and `sigtimedwait`
/// as a cancellation point: the signal taken, `Ok(None)` when a
/// cancellation request is to be acted on, `Err(EAGAIN)` when `deadline`
/// passed, `Err(EINTR)` when a handler ran on the thread (`eintr`).
fn wait_point(
    set: &SigSet,
    deadline: Option<std::time::Instant>,
    eintr: bool,
) -> Result<Option<signal::SigInfo>, c_int> {
    match crate::cancel::point(|| signal::wait_interruptible(set, deadline, eintr)) {
        // A signal taken is kept, even with a request pending.
        Ok((Ok(Waited::Signal(i)), _)) => Ok(Some(i)),
        Ok((_, true)) | Err(()) => Ok(None),
        Ok((Ok(Waited::Interrupted), false)) => Err(libc::EINTR),
        Ok((Ok(_), false)) => Err(libc::EAGAIN),
        Ok((Err(e), false)) => Err(errno_of(&e)),
    }
}

/// `siginfo_t`'s first fields as the kernel lays them out for `kill` and
/// `sigqueue` (the `libc` crate reads but does not write them).
#[repr(C)]
struct InfoHead {
    signo: c_int,
    errno: c_int,
    code: c_int,
    _pad: c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: usize,
}

/// `sigwaitinfo`: as `sigwait`, returning the signal number and filling
/// `*info` (number, code, sender, value); `-1` and `errno` on error,
/// `EINTR` when a signal handler ran on the thread while it waited (POSIX:
/// "interrupted by an unblocked, caught signal"; whatever `SA_RESTART`
/// says, as Linux). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sigwaitinfo(
    set: *const sigset_t,
    info: *mut libc::siginfo_t,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { wait_info("sigwaitinfo", set, info, None) }
}

/// `sigtimedwait`: as `sigwaitinfo`, giving up after `*timeout` (a
/// relative time; null waits for ever): `-1` with `errno` `EAGAIN` when no
/// signal of `set` came (an empty set waits for the timeout), `EINVAL`
/// for a `tv_nsec` outside `0..1e9` or a negative time.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_sigtimedwait(
    set: *const sigset_t,
    info: *mut libc::siginfo_t,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: null or the program's timespec.
    let limit = match unsafe { timeout.as_ref() } {
        None => None,
        Some(t) if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) => {
            crate::set_errno(libc::EINVAL);
            return -1;
        }
        Some(t) => {
            let now = std::time::Instant::now();
            let d = std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
            // A timeout too long for an `Instant` is none.
            now.checked_add(d)
        }
    };
    // SAFETY: the caller's contract, passed on.
    unsafe { wait_info("sigtimedwait", set, info, limit) }
}

/// The body of `sigwaitinfo` and `sigtimedwait` (`deadline`: its
/// timeout's end).
///
/// # Safety
///
/// `set` is null or a valid `sigset_t`; `info` is null or valid for
/// writes of a `siginfo_t`.
unsafe fn wait_info(
    call: &'static str,
    set: *const sigset_t,
    info: *mut libc::siginfo_t,
    deadline: Option<std::time::Instant>,
) -> c_int {
    let mut signo = 0;
    let mut got = None;
    let mut act = false;
    let r = guard_errno(call, libc::EINVAL, || {
        if set.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: the program's set.
        let s = unsafe { wait_set(set) }.unwrap_or(SigSet::EMPTY);
        if s.is_empty() {
            // Nothing can come: the timeout, as the kernel's call does.
            let Some(at) = deadline else {
                return libc::EINVAL;
            };
            return match crate::cancel::point(|| weave_rt::thread::sleep_until_interruptible(at)) {
                Ok((_, true)) | Err(()) => {
                    act = true;
                    0
                }
                Ok((Err(_), false)) => libc::EINTR,
                Ok((Ok(()), false)) => libc::EAGAIN,
            };
        }
        match wait_point(&s, deadline, true) {
            Ok(Some(i)) => {
                signo = i.signo;
                got = Some(i);
                0
            }
            Ok(None) => {
                act = true;
                0
            }
            Err(e) => e,
        }
    });
    if act {
        crate::cancel::act();
    }
    if r != 0 {
        return r;
    }
    if let (Some(i), false) = (got, info.is_null()) {
        // SAFETY: non-null; the program's siginfo_t (128 bytes), which
        // starts with these fields.
        unsafe {
            std::ptr::write_bytes(info as *mut u8, 0, std::mem::size_of::<libc::siginfo_t>());
            (info as *mut InfoHead).write(InfoHead {
                signo: i.signo,
                errno: 0,
                code: i.code,
                _pad: 0,
                pid: i.pid,
                uid: i.uid,
                value: i.value,
            });
        }
    }
    signo
}

/// The old action, as `sigaction` reports it.
fn current_action(sig: c_int) -> Result<libc::sigaction, c_int> {
    let d = if sig == libc::SIGKILL || sig == libc::SIGSTOP {
        Disposition::Default
    } else {
        signal::disposition(sig).map_err(|e| errno_of(&e))?
    };
    // SAFETY: a zeroed sigaction is valid plain data.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    match d {
        Disposition::Ignore => act.sa_sigaction = libc::SIG_IGN,
        Disposition::Immediate(imm) => {
            act.sa_flags = FLAGS[sig as usize].load(Relaxed);
            act.sa_mask = imm.mask.to_sigset_t();
            act.sa_sigaction = match imm.handler {
                ImmediateFn::Plain(f) => f as usize,
                ImmediateFn::Info(f) => f as usize,
                ImmediateFn::Rust(f) => f as usize,
            };
        }
        // A Rust handler (run as a thread) has no C function to show: it
        // reads as the default.
        _ => act.sa_sigaction = libc::SIG_DFL,
    }
    Ok(act)
}

/// Installs `act` for `sig`: `SIG_DFL`, `SIG_IGN`, or a C handler as an
/// immediate handler with its `sa_mask`, `SA_SIGINFO`, `SA_RESETHAND` and
/// `SA_NODEFER`.
fn set_action(sig: c_int, act: &libc::sigaction) -> Result<(), c_int> {
    let r = match act.sa_sigaction {
        libc::SIG_DFL => signal::reset(sig),
        libc::SIG_IGN => signal::ignore(sig),
        h => {
            let handler = if act.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: with SA_SIGINFO the program gave a three-argument
                // handler.
                ImmediateFn::Info(unsafe {
                    std::mem::transmute::<
                        usize,
                        extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void),
                    >(h)
                })
            } else {
                // SAFETY: without it, a one-argument handler.
                ImmediateFn::Plain(unsafe { std::mem::transmute::<usize, extern "C" fn(c_int)>(h) })
            };
            let imm = Immediate {
                handler,
                mask: without_reserved(SigSet::from_sigset_t(&act.sa_mask)),
                once: act.sa_flags & libc::SA_RESETHAND != 0,
                nodefer: act.sa_flags & libc::SA_NODEFER != 0,
                restart: act.sa_flags & libc::SA_RESTART != 0,
                onstack: act.sa_flags & libc::SA_ONSTACK != 0,
                nocldstop: sig == libc::SIGCHLD && act.sa_flags & libc::SA_NOCLDSTOP != 0,
                nocldwait: sig == libc::SIGCHLD && act.sa_flags & libc::SA_NOCLDWAIT != 0,
            };
            FLAGS[sig as usize].store(act.sa_flags, Relaxed);
            // SAFETY: a C signal handler is the program's promise that it
            // is async-signal-safe, which is handle_immediate's contract.
            unsafe { signal::handle_immediate(sig, imm) }
        }
    };
    r.map_err(|e| errno_of(&e))
}

/// `sigaction`: `act`'s handler becomes a weave immediate handler (run in
/// signal context, on the stack of the thread that takes the signal, with
/// `sa_mask` and the signal blocked); `SIG_DFL` and `SIG_IGN` go to the
/// kernel. `SA_SIGINFO`, `SA_RESETHAND` and `SA_NODEFER` are honoured,
/// and `SA_RESTART` for the system's calls and the socket calls (without
/// it, one a handler interrupts fails with `EINTR`) and `sem_wait`;
/// weave's other waits always restart after a handler, except
/// `sem_timedwait`, the sleeps, `sigwaitinfo` and `sigtimedwait`, which
/// fail with `EINTR` (as Linux's do whatever `SA_RESTART` says).
/// `SA_NOCLDSTOP` and `SA_NOCLDWAIT` go to the kernel for `SIGCHLD`.
/// `EINVAL` for a bad signal number, for `SIGKILL`/`SIGSTOP`, and for the
/// signals glibc keeps (32, 33). A plain OS thread that installs a
/// handler (`main`) is registered with weave, so that a signal its mask
/// lets in runs the handler there.
#[no_mangle]
pub unsafe extern "C" fn weave_sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    guard_errno("sigaction", libc::EINVAL, || {
        if !act.is_null() && (sig == libc::SIGKILL || sig == libc::SIGSTOP) {
            return libc::EINVAL;
        }
        // A plain OS thread that installs a handler (a C program's `main`)
        // becomes one that uses weave: a signal its kernel mask lets in
        // then runs the handler there (POSIX: any thread that does not
        // block it), as one sent by its own `kill` or `sigqueue` is at
        // once. Unknown to weave, it would pass such a signal on to a ULT
        // and block it in its own kernel mask for good.
        if !act.is_null() {
            let _ = weave_rt::thread::current();
        }
        let before = match current_action(sig) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !act.is_null() {
            // SAFETY: non-null; the program's action.
            if let Err(e) = set_action(sig, unsafe { &*act }) {
                return e;
            }
        }
        if !old.is_null() {
            // SAFETY: non-null; the program's out-value.
            unsafe { old.write(before) };
        }
        0
    })
}

/// `signal`: glibc's (BSD) semantics, `sigaction` with `SA_RESTART` and
/// an empty mask; returns the old handler, or `SIG_ERR` and `errno`.
#[no_mangle]
pub extern "C" fn weave_signal(sig: c_int, handler: weave_sighandler) -> weave_sighandler {
    // SAFETY: a zeroed sigaction is valid plain data.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler.map_or(libc::SIG_DFL, |f| f as usize);
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: a zeroed sigaction is valid plain data.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both point to valid actions.
    let r = unsafe { weave_sigaction(sig, &act, &mut old) };
    let out = if r == 0 {
        old.sa_sigaction
    } else {
        libc::SIG_ERR
    };
    // SAFETY: sighandler_t values (SIG_DFL is 0: None; SIG_IGN and SIG_ERR
    // are never called through the result) have a function pointer's size.
    unsafe { std::mem::transmute::<usize, weave_sighandler>(out) }
}

/// What weave keeps in a `sigjmp_buf`'s `__saved_mask` (`sigjmp.c`):
/// the thread's mask, a mark saying weave wrote these words, whether the
/// mask was saved, and the signal-context depth of the jump point.
#[repr(C)]
struct JumpWords {
    mask: u64,
    mark: u64,
    saved: u64,
    depth: u64,
}

/// "weave_jp": words that weave's `sigsetjmp` wrote.
const JUMP_MARK: u64 = u64::from_be_bytes(*b"weave_jp");

extern "C" {
    /// `src/sigjmp.c`: where weave's words are in the jump buffer `env`;
    /// with `reading`, null if the C library's own `sigsetjmp` saved a
    /// mask there.
    fn weave__jump_words(env: *mut c_void, reading: c_int) -> *mut JumpWords;
    /// `src/sigjmp.c`: the C library's `siglongjmp(env, val)`.
    fn weave__jump(env: *mut c_void, val: c_int) -> !;
}

/// The compatibility header's `sigsetjmp(env, savemask)` calls this, then
/// the C library's `__sigsetjmp(env, 0)`: the calling thread's jump point,
/// with its own mask when `savemask` is non-zero (a ULT's is weave's,
/// which the C library's `sigsetjmp` would not see), kept in `env`.
///
/// # Safety
///
/// `env` is a `sigjmp_buf`.
#[no_mangle]
pub unsafe extern "C" fn weave_sigsetjmp_prepare(env: *mut c_void, savemask: c_int) {
    let p = signal::jump_point(savemask != 0);
    // SAFETY: `env` is a sigjmp_buf (the caller's contract); the words lie
    // inside it.
    unsafe {
        weave__jump_words(env, 0).write(JumpWords {
            mask: p.mask.map_or(0, |m| m.bits()),
            mark: JUMP_MARK,
            saved: p.mask.is_some() as u64,
            depth: p.depth as u64,
        })
    };
}

/// `siglongjmp`: jumps to `env` (`val`, or 1 for 0) with the calling
/// thread's mask as `sigsetjmp` saved it (none saved: as it is); out of a
/// handler, the signal and its `sa_mask` are let in again as the
/// handler's return would have, on a ULT's LWP too. A buffer the C
/// library's own `sigsetjmp` set is the C library's to restore.
///
/// # Safety
///
/// `env` was set by `sigsetjmp` on the calling thread, in a function that
/// has not returned since.
#[no_mangle]
pub unsafe extern "C" fn weave_siglongjmp(env: *mut c_void, val: c_int) -> ! {
    // SAFETY: `env` is a sigjmp_buf (the caller's contract).
    let w = unsafe { weave__jump_words(env, 1) };
    // SAFETY: null or the words inside `env`.
    if let Some(w) = unsafe { w.as_ref() }.filter(|w| w.mark == JUMP_MARK) {
        let to = signal::JumpPoint {
            mask: (w.saved != 0).then(|| SigSet::from_bits(w.mask)),
            depth: w.depth as u32,
        };
        // SAFETY: a jump buffer belongs to the thread that set it, and we
        // jump right after.
        unsafe { signal::before_jump(&to) };
    }
    // SAFETY: the caller's contract; no frame of ours holds anything to
    // drop.
    unsafe { weave__jump(env, val) }
}

//! The top half: weave's handler in the kernel's table for every signal a
//! program handles through weave. It runs in signal context, on whichever
//! thread the kernel picked, and decides where the signal goes (the four
//! cases of `README.md` in this folder); it then leaves a record in the
//! signal's ring and wakes the dispatcher, sends the signal on, or blocks
//! it here and raises it again. A send the kernel refuses (`EAGAIN`, the
//! queue of pending signals full) ends in a record too: for the ULT case 3
//! chose, or, for case 4, one the dispatcher holds (`held.rs`). It never
//! waits for the dispatcher while there is room in the spill (`spill.rs`),
//! and then only for its drainer (rung by `ROOM`), which takes no lock:
//! the router, which may wait for a lock the interrupted code holds, it
//! never waits for.
//!
//! ASYNC-SIGNAL-SAFE, all of it: atomics, thread-local `Cell`s with const
//! initialisers, reads of the never-freed thread and LWP tables, and the
//! system calls `futex`, `tgkill`/`rt_tgsigqueueinfo`, `rt_sigqueueinfo`,
//! `sigaction`, `getpid`, `getuid`, `sched_yield`. No lock, no allocation,
//! no unwinding; `errno` is saved and restored.

use std::cell::Cell;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::bell::Bell;
use super::immediate;
use super::ring::{Record, Ring, Route};
use super::set::bit;
use super::slot::{is_realtime, keyed_stash, slot, spill, stash};
use super::state::{HANDLER, KBLOCKED, KBLOCKED_ANY};
use crate::lwp;
use crate::runtime::try_rt;
use crate::thread::state::{BLOCKED, BLOCKING, EXITED, FREE, RUNNABLE, RUNNING};
use crate::thread::table::table;
use crate::thread::tcb::{Kind, Tcb};

/// `siginfo_t` as the kernel lays it out for `kill`, `tgkill` and
/// `sigqueue` (the same on x86-64 and aarch64): 128 bytes.
#[repr(C)]
pub(crate) struct KernelInfo {
    pub(crate) signo: i32,
    pub(crate) errno: i32,
    pub(crate) code: i32,
    _pad: i32,
    pub(crate) pid: i32,
    pub(crate) uid: u32,
    pub(crate) value: u64,
    _rest: [u8; 96],
}

const _: () = assert!(std::mem::size_of::<KernelInfo>() == 128);

impl KernelInfo {
    pub(crate) fn queued(signo: i32, pid: i32, uid: u32, value: u64) -> KernelInfo {
        KernelInfo {
            signo,
            errno: 0,
            code: libc::SI_QUEUE,
            _pad: 0,
            pid,
            uid,
            value,
            _rest: [0; 96],
        }
    }

    /// Puts `rec`'s fields (the signal's original ones, when weave sent it
    /// on) where the kernel keeps them.
    // ASYNC-SIGNAL-SAFE
    pub(crate) fn set_from(&mut self, rec: &Record) {
        self.signo = rec.signo;
        self.code = rec.code;
        self.pid = rec.pid;
        self.uid = rec.uid;
        self.value = rec.value;
    }
}

/// Rung after every record pushed; the dispatcher's router sleeps on it
/// (`bell.rs`).
pub(crate) static BELL: Bell = Bell::new();
/// Rung by a top half that waits for room (its signal's ring and the spill
/// full), and by the router when it sees the spill in use; the dispatcher's
/// drainer, which takes no lock, sleeps on it and makes room.
pub(crate) static ROOM: Bell = Bell::new();
/// Where the scan for a target starts (spreads the choice among ULTs).
static SCAN_FROM: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while a ULT unblocks, in its LWP's kernel mask, a signal that
    /// case 4 left blocked there: what arrives then is a case-4 delivery.
    pub(crate) static IN_UNMASK: Cell<bool> = const { Cell::new(false) };
    /// How many top halves (and synchronous-signal handlers) this thread
    /// is inside: code that may take a lock asks, and leaves the work to
    /// the kernel when it would run in signal context.
    static IN_SIGNAL_CONTEXT: Cell<u32> = const { Cell::new(0) };
    /// The `ucontext_t` of the outermost of those handlers (null when
    /// there is none): its `uc_sigmask` is the kernel mask the thread
    /// returns to when it leaves them all (`leave_to`).
    static OUTER_CONTEXT: Cell<*mut libc::c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// Whether the calling thread runs inside a handler weave's top half or
/// fault handler called (a C handler in signal context): it may have
/// interrupted the holder of any lock.
// ASYNC-SIGNAL-SAFE
pub(crate) fn in_signal_context() -> bool {
    IN_SIGNAL_CONTEXT.with(|c| c.get()) > 0
}

/// How many top halves (and synchronous-signal handlers) the calling
/// thread is inside.
// ASYNC-SIGNAL-SAFE
pub(crate) fn signal_depth() -> u32 {
    IN_SIGNAL_CONTEXT.with(|c| c.get())
}

/// The calling thread leaves the handlers it is inside down to `depth`
/// other than by returning (`siglongjmp`, see `jump.rs`): their
/// [`SignalContext`]s will never drop. Returns the outermost handler's
/// `ucontext_t` when it leaves them all (its `uc_sigmask` is the kernel
/// mask the kernel would have put back), else null.
// ASYNC-SIGNAL-SAFE
pub(crate) fn leave_to(depth: u32) -> *mut libc::c_void {
    let now = signal_depth();
    if depth >= now {
        return std::ptr::null_mut();
    }
    IN_SIGNAL_CONTEXT.with(|c| c.set(depth));
    if depth == 0 {
        OUTER_CONTEXT.with(|c| c.replace(std::ptr::null_mut()))
    } else {
        std::ptr::null_mut()
    }
}

/// Marks the calling thread as in signal context while it lives.
pub(crate) struct SignalContext;

impl SignalContext {
    /// `uc`: the handler's `ucontext_t` (kept when it is the outermost).
    // ASYNC-SIGNAL-SAFE
    pub(crate) fn enter(uc: *mut libc::c_void) -> SignalContext {
        let depth = IN_SIGNAL_CONTEXT.with(|c| c.replace(c.get() + 1));
        if depth == 0 {
            OUTER_CONTEXT.with(|c| c.set(uc));
        }
        SignalContext
    }
}

impl Drop for SignalContext {
    // ASYNC-SIGNAL-SAFE
    fn drop(&mut self) {
        let depth = IN_SIGNAL_CONTEXT.with(|c| {
            c.set(c.get() - 1);
            c.get()
        });
        if depth == 0 {
            OUTER_CONTEXT.with(|c| c.set(std::ptr::null_mut()));
        }
    }
}

/// The handler weave installs (`SA_SIGINFO`, `SA_RESTART` unless an
/// immediate handler asked otherwise, see `install_with`).
// ASYNC-SIGNAL-SAFE (see the module doc).
pub(crate) extern "C" fn wrapper(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    uc: *mut libc::c_void,
) {
    // SAFETY: errno is thread-local; reading and restoring it is what
    // every handler that makes system calls must do.
    let errno = unsafe { *libc::__errno_location() };
    let _cx = SignalContext::enter(uc);
    // SAFETY: the kernel passes a valid siginfo of at least 128 bytes to an
    // SA_SIGINFO handler; we read only the fields every kind carries or
    // those of kill/sigqueue, which are plain integers for any kind.
    let k = unsafe { &*(info as *const KernelInfo) };
    let mut rec = Record {
        signo: sig,
        code: k.code,
        pid: k.pid,
        uid: k.uid,
        value: k.value,
        target: 0,
        route: Route::Running,
    };
    let mut forwarded = None;
    // SAFETY: getpid has no preconditions.
    let ours = k.code == libc::SI_QUEUE && k.pid == unsafe { libc::getpid() };
    if ours && stash().is_some_and(|s| s.owns(k.value)) {
        if let Some(orig) = stash().and_then(|s| s.take(k.value)) {
            forwarded = Some(orig.route);
            rec = orig;
        }
    } else if !is_realtime(sig) {
        if let Some(orig) = restore_standard(sig, k, ours) {
            forwarded = Some(orig.route);
            rec = orig;
        }
    }
    if IN_UNMASK.with(|c| c.get()) {
        forwarded = Some(Route::Unblocked);
    }
    top_half(sig, rec, forwarded, info, uc);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The key a standard signal sent on to thread `tid` (0: the process) is
/// kept under in the keyed stash.
// ASYNC-SIGNAL-SAFE
fn std_key(sig: i32, tid: i32) -> u64 {
    (sig as u64) << 32 | u64::from(tid as u32)
}

/// For a standard signal: the record weave kept when it sent this signal
/// on, if the kernel delivered it without weave's token (a stale token:
/// another delivery it merged with took the record; or the kernel's
/// `siginfo`-less delivery, `SI_USER` from pid 0, at `RLIMIT_SIGPENDING`).
/// The kernel delivers a thread's own pending signals before the
/// process's: so is the record looked up. A signal someone else sent, with
/// its `siginfo`, is left alone.
// ASYNC-SIGNAL-SAFE
fn restore_standard(sig: i32, k: &KernelInfo, ours: bool) -> Option<Record> {
    let st = keyed_stash()?;
    let token = ours && st.owns(k.value);
    if token {
        if let Some(r) = st.take(k.value) {
            return Some(r);
        }
    } else if !(k.code == libc::SI_USER && k.pid == 0 && k.uid == 0) {
        return None;
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let kept = st
        .take_key(std_key(sig, tid))
        .or_else(|| st.take_key(std_key(sig, 0)));
    match kept {
        Some(r) => Some(r),
        // Our stale token and nothing kept: what the kernel gives when it
        // dropped the siginfo, rather than the token.
        None if token => Some(Record {
            signo: sig,
            code: libc::SI_USER,
            pid: 0,
            uid: 0,
            value: 0,
            target: 0,
            route: Route::Running,
        }),
        None => None,
    }
}

/// Whether `t` may be charged with `sig`: a ULT (OS threads keep their
/// kernel masks), not of the handler pool, alive, not blocking it.
// ASYNC-SIGNAL-SAFE
#[inline]
pub(crate) fn takes(t: &Tcb, sig: i32) -> bool {
    t.kind() != Kind::External
        && t.sig.flags.load(Relaxed) & HANDLER == 0
        && t.sig.mask.load(Relaxed) & bit(sig) == 0
}

// ASYNC-SIGNAL-SAFE
fn top_half(
    sig: i32,
    mut rec: Record,
    forwarded: Option<Route>,
    info: *const libc::siginfo_t,
    uc: *mut libc::c_void,
) {
    let a = slot(sig);
    // A `signal::wait` caller takes it whatever the masks say (sigwait).
    if a.waiting.load(Relaxed) > 0 {
        rec.route = Route::Waited;
        deliver(sig, rec);
        return;
    }
    let here = lwp::current();
    if here.is_some() {
        // Case 1: the ULT this LWP runs does not block it.
        if let Some(t) = crate::thread::current::running() {
            if takes(t, sig) {
                rec.route = forwarded.unwrap_or(Route::Running);
                rec.target = t.id().as_u64().get();
                take_here(sig, rec, Some(t), info, uc);
                return;
            }
        }
    } else if let Some(t) = crate::thread::current::external() {
        // A plain OS thread that uses weave: its kernel mask let it in.
        rec.route = Route::OsThread;
        rec.target = t.id().as_u64().get();
        match immediate::lookup(sig) {
            Some(imm) => {
                if claim_once(sig, Some(imm)) {
                    if !imm.restart {
                        t.sig.flags.fetch_or(super::state::NO_RESTART, Relaxed);
                    }
                    // The wait it interrupts ends before the handler runs:
                    // a thread running a handler is not blocked, and the
                    // thread table must not show it so (a program that
                    // waits for it to block again would take the old wait
                    // for the next one).
                    super::state::interrupt_os_wait(t);
                    immediate::run_in_signal_context(imm, None, &rec, info, uc);
                }
            }
            None => deliver(sig, rec),
        }
        return;
    }
    // Sent here by case 3 for the ULT this LWP ran, which no longer runs
    // here: that ULT took it when case 3 chose it, and keeps it if it has
    // ended or still lets it through. Routed afresh instead, a signal whose
    // ULT unblocked it and then ended would be blocked everywhere (case 4)
    // with nobody left to unblock it.
    if forwarded == Some(Route::Directed) && directed_target_keeps(&rec, sig) {
        rec.route = Route::Directed;
        deliver(sig, rec);
        return;
    }
    if let Some(rec) = route_elsewhere(sig, rec, here.map(|l| l.index())) {
        block_and_raise_again(sig, rec, here.is_some(), uc);
    }
}

/// Whether the ULT case 3 named in `rec` (`Record::target`, set by
/// [`send_to_lwp`]) still takes `sig`: it has ended (its slot exited,
/// freed or reused since), or it is alive and does not block `sig`. False
/// when no ULT is named, or the named one blocks `sig` now.
// ASYNC-SIGNAL-SAFE: atomics of the never-freed thread table.
fn directed_target_keeps(rec: &Record, sig: i32) -> bool {
    let Some(id) = crate::thread::id::ThreadId::from_u64(rec.target) else {
        return false;
    };
    if id.index() as usize >= table().carved() {
        return false;
    }
    let t = table().slot(id.index());
    // Relaxed, as every read of the table here: a slot reused under us
    // (its generation and state read apart) is at worst taken for the
    // ended ULT it held, whose signal then goes to the pool, as for any
    // target that ended.
    let same = t.generation.load(Relaxed) == id.generation();
    let run = t.state.load().run();
    !same || matches!(run, FREE | EXITED) || takes(t, sig)
}

/// Cases 2 and 3: the interrupted thread (or, for [`super::process`], the
/// sender) does not take the signal; `here` is its LWP's index. The record
/// back when nobody takes it (case 4, the caller's to settle).
// ASYNC-SIGNAL-SAFE
pub(crate) fn route_elsewhere(sig: i32, mut rec: Record, here: Option<usize>) -> Option<Record> {
    let Some(rt) = try_rt() else {
        return Some(rec);
    };
    let n = table().carved();
    // Case 2: a ULT of this LWP that is not running (runnable, or waiting
    // inside weave) and does not block it. Remember a ULT of another LWP in
    // the same state, in case nobody runs with it unblocked (case 3).
    let mut other: Option<&'static Tcb> = None;
    if n > 0 {
        let from = SCAN_FROM.fetch_add(1, Relaxed) % n;
        for k in 0..n {
            let t = table().slot(((from + k) % n) as u32);
            let run = t.state.load().run();
            if matches!(run, FREE | EXITED) || !takes(t, sig) {
                continue;
            }
            let home = t.home.load(Relaxed);
            if run == RUNNING {
                // Running on this LWP, yet not `running()`: the signal came
                // in the middle of its switch (in or out). It is this LWP's
                // ULT: it takes it. Left to case 4, this LWP's kernel mask
                // would block the signal, and case 3 on another LWP would
                // then send it here, where it would wait for good.
                if here.is_some_and(|h| home as usize == h) {
                    rec.route = Route::Switched;
                    rec.target = t.id().as_u64().get();
                    deliver(sig, rec);
                    return None;
                }
                continue;
            }
            debug_assert!(matches!(run, RUNNABLE | BLOCKING | BLOCKED));
            if here.is_some_and(|h| home as usize == h) {
                rec.route = Route::Switched;
                rec.target = t.id().as_u64().get();
                deliver(sig, rec);
                return None;
            }
            if other.is_none() {
                other = Some(t);
                // Off an LWP, case 2 cannot apply: the first such ULT is all
                // the scan can find (a thread table of 100,000 ULTs would
                // otherwise be read whole for each signal).
                if here.is_none() {
                    break;
                }
            }
        }
    }
    // Case 3: a ULT running on another LWP does not block it: send the
    // signal there, where the wrapper will find it running (case 1).
    for l in rt.lwps() {
        if Some(l.index()) == here || !l.is_alive() {
            continue;
        }
        let Some(i) = lwp::running_ult(l.running.load(Relaxed)) else {
            continue;
        };
        if takes(table().slot(i), sig) && l.tid() != 0 {
            rec.route = Route::Directed;
            send_to_lwp(sig, rec, l.tid(), table().slot(i));
            return None;
        }
    }
    // A ULT of another LWP, not running, that does not block it.
    if let Some(t) = other {
        rec.route = Route::Switched;
        rec.target = t.id().as_u64().get();
        deliver(sig, rec);
        return None;
    }
    // Case 4: nobody takes it.
    Some(rec)
}

/// The interrupted thread takes the signal (case 1, or an OS thread): an
/// immediate handler runs right here, on its stack; any other kind of
/// handler gets a record. Whether a handler ran here.
// ASYNC-SIGNAL-SAFE
fn take_here(
    sig: i32,
    rec: Record,
    ult: Option<&'static Tcb>,
    info: *const libc::siginfo_t,
    uc: *mut libc::c_void,
) -> bool {
    match immediate::lookup(sig) {
        Some(imm) => {
            if claim_once(sig, Some(imm)) {
                immediate::run_in_signal_context(imm, ult, &rec, info, uc);
                return true;
            }
            false
        }
        None => {
            deliver(sig, rec);
            false
        }
    }
}

/// For a one-shot handler (`SA_RESETHAND`): whether this delivery is the
/// one it takes. The first disarms it and puts the default action back (an
/// immediate handler run here is forgotten now; one that runs later, on
/// its target, as it runs); a later one was raised again with the default
/// action, and is done.
// ASYNC-SIGNAL-SAFE
pub(crate) fn claim_once(sig: i32, run_now: Option<&'static immediate::Immediate>) -> bool {
    let a = slot(sig);
    if !a.once.load(Relaxed) {
        return true;
    }
    if a.once.swap(false, Relaxed) {
        if let Some(imm) = run_now {
            immediate::forget_if(sig, imm);
        }
        set_default(sig);
        true
    } else {
        // SAFETY: kill to our own process; the default action applies
        // (the signal stays blocked until this handler returns).
        unsafe { libc::kill(libc::getpid(), sig) };
        false
    }
}

/// Leaves the record for the dispatcher and wakes it. A standard signal
/// whose ring is full is already pending there: it coalesces (delivered at
/// least once). A real-time one must not be lost, nor wait for the
/// dispatcher (which may wait for a lock the code this handler interrupted
/// holds): it goes to the spill (`spill.rs`), as do the next ones of its
/// signal until the dispatcher has routed the spilled ones, so that none
/// passes them. Only with the spill full too does it wait for room.
// ASYNC-SIGNAL-SAFE
pub(crate) fn deliver(sig: i32, rec: Record) {
    let a = slot(sig);
    // One-shot (SA_RESETHAND): the first delivery disarms it and puts the
    // default action back; later ones get that default.
    if !claim_once(sig, None) {
        return;
    }
    // Acquire pairs with the Release store that published the ring.
    let ring = a.ring.load(Acquire);
    if ring.is_null() {
        return;
    }
    // SAFETY: rings are leaked when published and never freed.
    let ring = unsafe { &*ring };
    while !push_or_spill(sig, ring, &rec) {
        if !is_realtime(sig) {
            return;
        }
        ROOM.ring();
        // SAFETY: sched_yield has no preconditions. The ring and the spill
        // are full (thousands of records the dispatcher has not taken):
        // the dispatcher, another thread that blocks every signal, makes
        // room, unless it waits for a lock the interrupted code holds.
        unsafe { libc::sched_yield() };
    }
    wake_dispatcher();
}

/// The ring, or for a real-time signal whose ring is full or whose earlier
/// records wait in the spill, the spill. False if neither has room.
// ASYNC-SIGNAL-SAFE
fn push_or_spill(sig: i32, ring: &Ring, rec: &Record) -> bool {
    let a = slot(sig);
    if a.spilled.load(Relaxed) == 0 && ring.push(rec) {
        return true;
    }
    if !is_realtime(sig) {
        return false;
    }
    let Some(sp) = spill() else {
        return false;
    };
    // Counted before the record lands: the dispatcher uncounts it only
    // after routing it, so a later record of this thread sees the count.
    a.spilled.fetch_add(1, Relaxed);
    if sp.put(rec) {
        return true;
    }
    a.spilled.fetch_sub(1, Relaxed);
    false
}

// ASYNC-SIGNAL-SAFE
pub(crate) fn wake_dispatcher() {
    BELL.ring();
}

// ASYNC-SIGNAL-SAFE
fn set_default(sig: i32) {
    // SAFETY: a zeroed sigaction with SIG_DFL is valid; resetting a signal
    // to its default is always allowed.
    let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    dfl.sa_sigaction = libc::SIG_DFL;
    // SAFETY: as above.
    unsafe { libc::sigaction(sig, &dfl, std::ptr::null_mut()) };
}

/// The siginfo to re-send `rec` to thread `tid` (0: the process) with: a
/// stash token if a slot is free (a standard signal's in the keyed stash,
/// under its signal and `tid`), else the original when the kernel lets us
/// re-send it (`si_code < 0`). The token, if any, comes back too: a
/// refused re-send takes its record back.
// ASYNC-SIGNAL-SAFE
fn resend_info(sig: i32, rec: &Record, tid: i32) -> (Option<KernelInfo>, Option<u64>) {
    // SAFETY: getpid/getuid have no preconditions.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let token = if is_realtime(sig) {
        stash().and_then(|s| s.put(rec))
    } else {
        keyed_stash().and_then(|s| s.put_keyed(rec, std_key(sig, tid)))
    };
    if let Some(token) = token {
        return (Some(KernelInfo::queued(sig, pid, uid, token)), Some(token));
    }
    if rec.code < 0 && rec.code != libc::SI_TKILL {
        let mut k = KernelInfo::queued(sig, rec.pid, rec.uid, rec.value);
        k.code = rec.code;
        return (Some(k), None);
    }
    (None, None)
}

/// Sends `sig` on, to thread `tid` of this process or (`tid` 0) to the
/// process, with `rec` behind a stash token. False when the kernel refused
/// it (`EAGAIN`: the queue of pending signals, `RLIMIT_SIGPENDING`, is
/// full); the stash slot is then free again and `rec` is the caller's.
// ASYNC-SIGNAL-SAFE
pub(crate) fn resend(sig: i32, rec: &Record, tid: i32) -> bool {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let (info, token) = resend_info(sig, rec, tid);
    let rc = match (info, tid) {
        // SAFETY: `k` is a valid 128-byte siginfo; the target is a thread
        // of our own process.
        (Some(k), 0) => unsafe {
            libc::syscall(libc::SYS_rt_sigqueueinfo, pid, sig, &k as *const KernelInfo)
        },
        // SAFETY: as above, to one thread of our own process.
        (Some(k), _) => unsafe {
            libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                tid,
                sig,
                &k as *const KernelInfo,
            )
        },
        // SAFETY: kill to our own process.
        (None, 0) => unsafe { libc::syscall(libc::SYS_kill, pid, sig) },
        // SAFETY: tgkill to a thread of our own process.
        (None, _) => unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) },
    };
    if rc == 0 {
        return true;
    }
    if let Some(t) = token {
        // Nobody else knows the token: the slot is ours to free (a keyed
        // one may be shared with an earlier send of the signal to the same
        // thread; the kernel refuses a standard signal only if that thread
        // is gone).
        let st = if is_realtime(sig) {
            stash()
        } else {
            keyed_stash()
        };
        let _ = st.and_then(|s| s.take(t));
    }
    false
}

/// Case 3: sends the signal on to the LWP with kernel thread id `tid`,
/// which runs `ult` with it unblocked. If the kernel refuses to queue it
/// (`RLIMIT_SIGPENDING`), `ult` takes it now, as read: the record goes to
/// the dispatcher naming it (`Route::Directed`), as case 2 does for a ULT
/// that is not running.
// ASYNC-SIGNAL-SAFE
fn send_to_lwp(sig: i32, mut rec: Record, tid: i32, ult: &Tcb) {
    // Named in the stashed record: if `ult` no longer runs there when the
    // signal lands, it still takes it (`directed_target_keeps`).
    rec.target = ult.id().as_u64().get();
    if !resend(sig, &rec, tid) {
        deliver(sig, rec);
    }
}

/// Case 4: blocks the signal in this thread's kernel mask (in the mask the
/// kernel restores when the handler returns) and raises it again for the
/// process, so that the kernel tries another thread; once every LWP blocks
/// it, it waits pending in the kernel until a ULT unblocks it. If the
/// kernel refuses to queue it again (`RLIMIT_SIGPENDING` reached), weave
/// keeps it instead: the record goes to the dispatcher with no target
/// ([`Record::is_held`]), which holds it until a ULT does not block it.
// ASYNC-SIGNAL-SAFE
fn block_and_raise_again(sig: i32, mut rec: Record, on_lwp: bool, uc: *mut libc::c_void) {
    // SAFETY: `uc` is the ucontext_t the kernel passed to this SA_SIGINFO
    // handler; its signal mask is restored on return from the handler.
    unsafe { libc::sigaddset(&mut (*(uc as *mut libc::ucontext_t)).uc_sigmask, sig) };
    KBLOCKED.with(|k| k.fetch_or(bit(sig), Relaxed));
    if on_lwp {
        KBLOCKED_ANY.fetch_or(bit(sig), Relaxed);
    }
    rec.route = Route::Unblocked;
    rec.target = 0;
    if !resend(sig, &rec, 0) {
        deliver(sig, rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_info_fields_sit_where_the_kernel_puts_them() {
        // SAFETY: zeroed siginfo_t is valid plain data.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let k = KernelInfo::queued(10, 1234, 56, 0xabcd);
        // SAFETY: both are 128 bytes of plain data.
        unsafe {
            std::ptr::copy_nonoverlapping(
                &k as *const KernelInfo as *const u8,
                &mut si as *mut libc::siginfo_t as *mut u8,
                128,
            )
        };
        assert_eq!(si.si_signo, 10);
        assert_eq!(si.si_code, libc::SI_QUEUE);
        // SAFETY: a SI_QUEUE siginfo has pid, uid and value.
        unsafe {
            assert_eq!(si.si_pid(), 1234);
            assert_eq!(si.si_uid(), 56);
            assert_eq!(si.si_value().sival_ptr as u64, 0xabcd);
        }
    }
}

//! `handle_immediate`: the handler runs in signal context on the stack of
//! the thread that takes the signal (cases 1 and 3), on the target's stack
//! as it is switched in (case 2), and for a thread-directed signal when the
//! ULT unblocks it or is next switched in. Each test asserts which ULT ran
//! it (as the handler itself sees it) and that it ran on that ULT's stack.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use crate::signal_common::{
    blocked_by_every_thread, bound_spinner, lwp_tid, pending_here, spin_for, tgkill, wait_blocked,
    wait_for, wait_until,
};
use weave::signal::{self, Disposition, How, Immediate, ImmediateFn, Route, SigInfo, SigSet};
use weave::thread::{self, ThreadId};

const SIG: i32 = libc::SIGUSR1;

/// What the handler saw, in atomics (it may not lock or allocate).
static RUNS: AtomicUsize = AtomicUsize::new(0);
static RAN_ON: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(0);
static ROUTE: AtomicUsize = AtomicUsize::new(usize::MAX);
static STACK: AtomicUsize = AtomicUsize::new(0);
static MASK_WHILE: AtomicU64 = AtomicU64::new(0);

fn record(info: &SigInfo) {
    let here = 0u8;
    STACK.store(&here as *const u8 as usize, SeqCst);
    RAN_ON.store(
        signal::running_thread().map_or(0, |t| t.as_u64().get()),
        SeqCst,
    );
    TARGET.store(info.target.map_or(0, |t| t.as_u64().get()), SeqCst);
    ROUTE.store(route_no(info.route), SeqCst);
    MASK_WHILE.store(signal::current_mask().bits(), SeqCst);
    RUNS.fetch_add(1, SeqCst);
}

fn route_no(r: Route) -> usize {
    match r {
        Route::Running => 1,
        Route::Switched => 2,
        Route::Directed => 3,
        Route::Unblocked => 4,
        Route::Thread => 5,
        Route::OsThread => 6,
        _ => 7,
    }
}

/// Installs `record` as SIG's immediate handler (with SIGUSR2 in its
/// `sa_mask`) and blocks SIG on the calling OS thread, so that only ULTs
/// are candidates.
fn install() {
    let imm = Immediate {
        mask: SigSet::of(&[libc::SIGUSR2]),
        ..Immediate::new(ImmediateFn::Rust(record))
    };
    // SAFETY: `record` only stores to atomics and reads weave's
    // async-signal-safe `running_thread` and `current_mask`.
    unsafe { signal::handle_immediate(SIG, imm) }.unwrap();
    signal::mask(How::Block, &SigSet::of(&[SIG]));
}

fn id_bits(id: ThreadId) -> u64 {
    id.as_u64().get()
}

/// Whether the handler's frame was on the stack that holds `local` (a
/// ULT's stack is 256 KiB; other stacks are elsewhere in the address
/// space).
fn same_stack(local: usize) -> bool {
    STACK.load(SeqCst).abs_diff(local) < 256 * 1024
}

/// A bound ULT that unblocks SIG, notes a local's address, then spins on
/// its LWP until `stop`.
fn bound_taker(stop: &Arc<AtomicBool>) -> (thread::JoinHandle<ThreadId>, usize, Arc<AtomicUsize>) {
    let local = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicBool::new(false));
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (l, s, st, lw) = (local.clone(), started.clone(), stop.clone(), lwp.clone());
    let h = thread::Builder::new()
        .bound()
        .spawn(move || {
            let here = 0u8;
            l.store(&here as *const u8 as usize, SeqCst);
            signal::mask(How::Unblock, &SigSet::of(&[SIG]));
            lw.store(thread::current_lwp().unwrap(), SeqCst);
            s.store(true, SeqCst);
            spin_for(&st);
            std::hint::black_box(&here);
            thread::current().id()
        })
        .unwrap();
    wait_for(&started);
    (h, lwp.load(SeqCst), local)
}

#[test]
fn case1_immediate_handler_runs_on_the_interrupted_ults_stack() {
    if !in_child!("case1_immediate_handler_runs_on_the_interrupted_ults_stack") {
        return;
    }
    install();
    let stop = Arc::new(AtomicBool::new(false));
    let (a, lwp, local) = bound_taker(&stop);
    tgkill(lwp_tid(lwp), SIG);
    wait_until(|| RUNS.load(SeqCst) == 1);
    stop.store(true, SeqCst);
    let a_id = id_bits(a.join().unwrap());
    assert_eq!(RAN_ON.load(SeqCst), a_id, "ran on the running ULT");
    assert_eq!(TARGET.load(SeqCst), a_id);
    assert_eq!(ROUTE.load(SeqCst), route_no(Route::Running));
    assert!(same_stack(local.load(SeqCst)), "ran on that ULT's stack");
}

#[test]
fn case3_immediate_handler_runs_on_the_ult_of_the_other_lwp() {
    if !in_child!("case3_immediate_handler_runs_on_the_ult_of_the_other_lwp") {
        return;
    }
    install();
    let stop = Arc::new(AtomicBool::new(false));
    let (a, _, local) = bound_taker(&stop);
    let (b, b_lwp) = bound_spinner(How::Block, SigSet::of(&[SIG]), &stop);
    tgkill(lwp_tid(b_lwp), SIG);
    wait_until(|| RUNS.load(SeqCst) == 1);
    stop.store(true, SeqCst);
    let a_id = id_bits(a.join().unwrap());
    let b_id = id_bits(b.join().unwrap());
    assert_eq!(
        RAN_ON.load(SeqCst),
        a_id,
        "sent on to A's LWP and run there"
    );
    assert_ne!(RAN_ON.load(SeqCst), b_id);
    assert_eq!(ROUTE.load(SeqCst), route_no(Route::Directed));
    assert!(same_stack(local.load(SeqCst)), "ran on A's stack");
}

#[test]
fn case2_immediate_handler_runs_on_the_target_as_it_is_switched_in() {
    if !in_child!("case2_immediate_handler_runs_on_the_target_as_it_is_switched_in") {
        return;
    }
    weave::set_concurrency(1).unwrap();
    install();
    // C does not block SIG and waits (not running) on the one pool LWP.
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let c_local = Arc::new(AtomicUsize::new(0));
    let c_ready = Arc::new(AtomicBool::new(false));
    let (r, cl) = (c_ready.clone(), c_local.clone());
    let c = thread::spawn(move || {
        let here = 0u8;
        cl.store(&here as *const u8 as usize, SeqCst);
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        r.store(true, SeqCst);
        let _ = rx.recv();
        std::hint::black_box(&here);
        thread::current().id()
    });
    wait_for(&c_ready);
    // B blocks SIG and runs on the same LWP.
    let (started, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (s, st, l) = (started.clone(), stop.clone(), lwp.clone());
    let b = thread::spawn(move || {
        signal::mask(How::Block, &SigSet::of(&[SIG]));
        l.store(thread::current_lwp().unwrap(), SeqCst);
        s.store(true, SeqCst);
        spin_for(&st);
        thread::current().id()
    });
    wait_for(&started);
    tgkill(lwp_tid(lwp.load(SeqCst)), SIG);
    stop.store(true, SeqCst);
    let b_id = id_bits(b.join().unwrap());
    wait_until(|| RUNS.load(SeqCst) == 1);
    drop(tx);
    let c_id = id_bits(c.join().unwrap());
    assert_eq!(RAN_ON.load(SeqCst), c_id, "ran on the waiting ULT");
    assert_ne!(RAN_ON.load(SeqCst), b_id, "not on the one that blocks it");
    assert_eq!(ROUTE.load(SeqCst), route_no(Route::Switched));
    assert!(same_stack(c_local.load(SeqCst)), "ran on C's stack");
}

#[test]
fn kill_runs_the_immediate_handler_when_the_ult_unblocks_it() {
    if !in_child!("kill_runs_the_immediate_handler_when_the_ult_unblocks_it") {
        return;
    }
    install();
    let (go_tx, go_rx) = weave::sync::mpsc::channel::<()>();
    let t = thread::spawn(move || {
        // Inherited: SIG is blocked here.
        go_rx.recv().unwrap();
        let before = RUNS.load(SeqCst);
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        let after = RUNS.load(SeqCst);
        (before, after, thread::current().id())
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    go_tx.send(()).unwrap();
    let (before, after, id) = t.join().unwrap();
    assert_eq!(before, 0, "not run while the ULT blocks it");
    assert_eq!(
        after, 1,
        "run as the ULT unblocked it, before mask returned"
    );
    assert_eq!(RAN_ON.load(SeqCst), id_bits(id));
    assert_eq!(ROUTE.load(SeqCst), route_no(Route::Thread));
}

#[test]
fn kill_runs_the_immediate_handler_on_a_waiting_ult_as_it_is_switched_in() {
    if !in_child!("kill_runs_the_immediate_handler_on_a_waiting_ult_as_it_is_switched_in") {
        return;
    }
    install();
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let local = Arc::new(AtomicUsize::new(0));
    let l = local.clone();
    let t = thread::spawn(move || {
        let here = 0u8;
        l.store(&here as *const u8 as usize, SeqCst);
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        let _ = rx.recv();
        std::hint::black_box(&here);
        (signal::take_interrupted(), thread::current().id())
    });
    wait_blocked(t.thread().id());
    wait_until(|| local.load(SeqCst) != 0);
    t.thread().kill(SIG).unwrap();
    wait_until(|| RUNS.load(SeqCst) == 1);
    drop(tx);
    let (interrupted, id) = t.join().unwrap();
    assert_eq!(RAN_ON.load(SeqCst), id_bits(id));
    assert!(same_stack(local.load(SeqCst)), "ran on the ULT's stack");
    assert!(interrupted, "its wait saw the interruption");
}

#[test]
fn immediate_handler_runs_with_its_signal_and_sa_mask_blocked() {
    if !in_child!("immediate_handler_runs_with_its_signal_and_sa_mask_blocked") {
        return;
    }
    install();
    let stop = Arc::new(AtomicBool::new(false));
    let (a, lwp, _) = bound_taker(&stop);
    tgkill(lwp_tid(lwp), SIG);
    wait_until(|| RUNS.load(SeqCst) == 1);
    stop.store(true, SeqCst);
    a.join().unwrap();
    let during = SigSet::from_bits(MASK_WHILE.load(SeqCst));
    assert!(during.contains(SIG), "{during:?}");
    assert!(during.contains(libc::SIGUSR2), "{during:?}");
}

#[test]
fn immediate_handler_on_an_os_thread_runs_before_raise_returns() {
    if !in_child!("immediate_handler_on_an_os_thread_runs_before_raise_returns") {
        return;
    }
    install();
    // An OS thread that uses weave (weave's own threads never run a
    // program's handler).
    let _ = thread::current();
    signal::mask(How::Unblock, &SigSet::of(&[SIG]));
    // SAFETY: raising a signal whose handler is installed.
    assert_eq!(unsafe { libc::raise(SIG) }, 0);
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(RAN_ON.load(SeqCst), 0, "an OS thread, not a ULT");
    assert_eq!(ROUTE.load(SeqCst), route_no(Route::OsThread));
}

#[test]
fn one_shot_immediate_handler_runs_once_then_the_default_is_back() {
    if !in_child!("one_shot_immediate_handler_runs_once_then_the_default_is_back") {
        return;
    }
    let imm = Immediate {
        once: true,
        ..Immediate::new(ImmediateFn::Rust(record))
    };
    // SAFETY: `record` is async-signal-safe (see `install`).
    unsafe { signal::handle_immediate(SIG, imm) }.unwrap();
    let _ = thread::current(); // this OS thread uses weave
    assert_eq!(
        signal::disposition(SIG).unwrap(),
        Disposition::Immediate(imm)
    );
    // SAFETY: raising a signal whose handler is installed.
    unsafe { libc::raise(SIG) };
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(signal::disposition(SIG).unwrap(), Disposition::Default);
}

/// Runs of `again`.
static AGAIN_RUNS: AtomicUsize = AtomicUsize::new(0);

/// On its first run (at a safe point, not in signal context, so it may
/// wait): raises SIG for the process and waits until every thread blocks
/// it, the handler's own ULT included (SIG is blocked there while it runs).
/// Later runs (in signal context) only count.
fn again(_: &SigInfo) {
    if AGAIN_RUNS.fetch_add(1, SeqCst) == 0 {
        // SAFETY: kill to our own process.
        unsafe { libc::kill(libc::getpid(), SIG) };
        wait_until(|| pending_here(SIG) && blocked_by_every_thread(SIG));
    }
}

/// A signal that came while an immediate handler ran at a safe point,
/// and that every thread blocked (case 4), is let in as the handler
/// returns and the ULT's mask opens again: the handler runs a second time.
#[test]
fn a_signal_that_came_while_a_safe_point_handler_ran_runs_it_again_after() {
    if !in_child!("a_signal_that_came_while_a_safe_point_handler_ran_runs_it_again_after") {
        return;
    }
    // SAFETY: `again` waits only on its first run, which `Thread::kill`
    // makes run at a safe point; its other runs only store to an atomic.
    unsafe { signal::handle_immediate(SIG, Immediate::new(ImmediateFn::Rust(again))) }.unwrap();
    signal::mask(How::Block, &SigSet::of(&[SIG]));
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let t = thread::spawn(move || {
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        let _ = rx.recv();
    });
    wait_blocked(t.thread().id());
    t.thread().kill(SIG).unwrap();
    wait_until(|| AGAIN_RUNS.load(SeqCst) == 2);
    drop(tx);
    t.join().unwrap();
}

//! The bottom half: the dispatcher (a router and a drainer thread), the handler pool, and delivery
//! of thread-directed signals at a ULT's safe points.
//!
//! The top half (`wrapper.rs`) leaves records in each signal's ring and
//! wakes the **dispatcher**: two OS threads that block every signal. The
//! **router** sleeps on a futex (`BELL`), takes the records out of the
//! rings in order, and may then wait for locks that the code a signal
//! interrupted holds, but never while it holds the rings ([`CONSUMER`]).
//! The **drainer** sleeps on another (`ROOM`), rung only by a top half
//! that waits for room (its ring and the spill full) and by the router when
//! the spill is in use: it moves the spilled records and the rings' into a
//! channel the router reads before the rings, and takes no lock, so that a
//! top half waiting for room never waits for code it interrupted. So a
//! signal's way to its handler is one thread wake here, not two. The
//! router routes each record:
//! to a `signal::wait` caller if one waits for it, else to the signal's
//! **lane** (a queue per signal, so that one signal's handlers run one at a
//! time and in order, as the kernel runs a handler with its own signal
//! blocked), and wakes a ULT of the **handler pool**. The pool's ULTs are
//! made by the router ahead of time (two, growing to
//! [`MAX_POOL`] while every one is busy): no spawn on a signal's way, and a
//! handler is a plain ULT that may lock a `weave::sync::Mutex`, block and
//! allocate. They block every signal and are never a signal's target.
//!
//! Thread-directed signals (`Thread::kill`) are pending on their ULT
//! (`TcbSignals::pending`) and are routed here by the ULT itself, at its
//! next safe point with the signal unblocked ([`at_safe_point`]).
//!
//! Process-directed records the kernel refused to queue again (case 4
//! with `RLIMIT_SIGPENDING` reached: [`Record::is_held`]) are **held**
//! here, as the kernel holds a pending signal, until a ULT does not block
//! the signal (`held.rs`): a ULT that unblocks it takes them
//! ([`take_held`]), and the dispatcher looks for one that already lets it
//! through ([`place_held`]) as each is held and, while any is, after
//! each wake-up and at growing intervals (2 ms doubling to 256 ms).
//!
//! Must not touch the engine's queues: it wakes threads only through
//! weave's public blocking primitives (channels) and `Waiter`.

use crate::published::Published;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};
use std::sync::{Arc, Mutex};

use super::held::{pair_fence, Held};
use super::ring::{Pop, Record, Route};
use super::set::{bit, SigSet, MAX_SIGNAL};
use super::slot::{is_realtime, slot, slots, spill};
use super::state::{HANDLED, HANDLER, KBLOCKED_ANY};
use super::wrapper::{claim_once, takes, BELL, ROOM};
use super::{actions, immediate, SigInfo};
use crate::sync::{mpmc, mpsc};
use crate::thread::tcb::Tcb;

/// Most handler ULTs the pool grows to while all of them are busy (each
/// blocked in a handler): enough for handlers of different signals to
/// wait on one another's locks, few enough that a flood of signals whose
/// handlers all block cannot spawn without bound.
pub(crate) const MAX_POOL: usize = 16;
/// Handler ULTs made when the first handler is installed.
const FIRST_POOL: usize = 2;

/// One signal's queue of records waiting for its handler.
pub(crate) struct Lane {
    pub(crate) queue: VecDeque<Record>,
    /// A pool ULT is running this signal's handlers now.
    pub(crate) running: bool,
    /// Records nobody handles (the signal is only waited for): kept for the
    /// next `signal::wait`, as the kernel keeps a pending signal.
    pub(crate) unclaimed: VecDeque<Record>,
}

impl Lane {
    pub(crate) const fn new() -> Lane {
        Lane {
            queue: VecDeque::new(),
            running: false,
            unclaimed: VecDeque::new(),
        }
    }
}

/// A `signal::wait` caller.
pub(crate) struct Waiter {
    /// Its `ThreadId` bits: a thread-directed signal goes only to its own
    /// target's wait.
    pub(crate) me: u64,
    /// Set by whoever hands it a signal: a caller waiting for several
    /// signals takes one.
    pub(crate) taken: Arc<AtomicBool>,
    pub(crate) tx: mpsc::Sender<SigInfo>,
}

struct Pool {
    tx: mpmc::Sender<i32>,
    rx: mpmc::Receiver<i32>,
    idle: AtomicUsize,
    size: AtomicUsize,
}

/// The handler pool: made with the dispatcher, made again in the child of
/// a fork (the parent's pool ULTs are gone there). Leaked, never freed.
static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());

/// The current pool (made before any handler is installed).
fn pool() -> &'static Pool {
    // Acquire pairs with the Release store in `new_pool`.
    let p = POOL.load(Acquire);
    assert!(!p.is_null(), "the signal pool is made before handlers");
    // SAFETY: pools are leaked when published and never freed.
    unsafe { &*p }
}

fn new_pool() {
    let (tx, rx) = mpmc::unbounded();
    let p = Box::into_raw(Box::new(Pool {
        tx,
        rx,
        idle: AtomicUsize::new(0),
        size: AtomicUsize::new(0),
    }));
    // Release pairs with the Acquire load in `pool`.
    POOL.store(p, std::sync::atomic::Ordering::Release);
}

/// Whether the dispatcher was started (in this process or the parent).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Real-time records sent with `Thread::sigqueue`/`kill`, pending on their
/// target ULT, by (target id bits, signal).
type KillQueues = HashMap<(u64, i32), VecDeque<Record>>;
static KILLQ: Mutex<Option<KillQueues>> = Mutex::new(None);

/// Held records (see the module doc; `held.rs`).
fn held() -> &'static Held {
    // A `Published`, not a `OnceLock`: a fork never finds it half made.
    static HELD: Published<Held> = Published::new();
    HELD.get_or_make(Held::new)
}
/// How long the router first sleeps while it holds records before it
/// looks again for a ULT that lets one through (a mask opened other than
/// by `signal::mask`: a new ULT, the end of a handler run on its target);
/// each look that finds nobody doubles it, up to [`HELD_LOOK_MAX_NS`], so
/// that a signal every ULT keeps blocked costs few scans; a wake-up (a new
/// record) starts again from here.
const HELD_LOOK_NS: i64 = 2_000_000;
/// The longest sleep between two such looks.
const HELD_LOOK_MAX_NS: i64 = 256_000_000;

/// Starts the dispatcher (once; callers hold `signal::INSTALL`).
pub(crate) fn start() {
    if STARTED.swap(true, Relaxed) {
        return;
    }
    new_pool();
    super::state::set_deliver_hook(at_safe_point);
    crate::fork::at_child(after_fork_in_child);
    spawn_dispatcher();
}

/// Starts the dispatcher's two threads, joined by a channel of records
/// (the drainer's overflow, which the router reads before the rings).
fn spawn_dispatcher() {
    let (tx, rx) = std::sync::mpsc::channel::<Record>();
    spawn_os_thread("weave-signal-route", move || router(rx));
    spawn_os_thread("weave-signal", move || drainer(tx));
}

/// Starts an OS thread of the dispatcher with every signal blocked from
/// its first instruction: the creator blocks them all around the spawn (a
/// new thread starts with its creator's kernel mask) and then puts its own
/// mask back. Blocked only once the thread ran, a signal that came while
/// it started (the C library's and std's setup, which may take long on a
/// busy machine) ran the top half there, and with the ring and the spill
/// full it waited for the drainer: itself.
fn spawn_os_thread(name: &str, f: impl FnOnce() + Send + 'static) {
    let all = SigSet::FULL.to_sigset_t();
    // SAFETY: a zeroed sigset_t is a valid out-value.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets, on the calling thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) };
    let spawned = crate::os::threads::spawn(std::thread::Builder::new().name(name.into()), f);
    // SAFETY: `old` is the mask read above, put back on the same thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if let Err(e) = spawned {
        crate::fatal(&format!("cannot start weave's signal thread {name}: {e}"));
    }
}

/// In the child of a fork (single-threaded, the C library's locks reset):
/// the dispatcher and the pool ULTs stayed in the parent. Forgets the
/// parent's pool, its `signal::wait` callers and its running lanes, and
/// starts a new dispatcher, which makes a new pool in the child's runtime,
/// so that handlers installed before the fork run in the child.
pub(crate) fn after_fork_in_child() {
    if !STARTED.load(Relaxed) {
        return;
    }
    new_pool();
    for s in slots().iter() {
        s.waiting.store(0, Relaxed);
    }
    // Signals pending for the parent are not the child's (POSIX `fork`).
    held().clear();
    // The parent's router or drainer may have held the rings at the fork.
    CONSUMER.store(false, Relaxed);
    // The spill's records are the child's, as the rings' are; the ones the
    // parent's dispatcher had taken out went with it.
    if let Some(sp) = spill() {
        let mut counts = [0u32; MAX_SIGNAL as usize + 1];
        sp.after_fork(&mut counts);
        for (s, c) in slots().iter().zip(counts) {
            s.spilled.store(c, Relaxed);
        }
    }
    for a in actions().iter() {
        // A lock another thread of the parent held at the fork stays held
        // (as every lock does): that signal's waiters and lane are then
        // left as they were.
        if let Ok(mut w) = a.waiters.try_lock() {
            w.clear();
        }
        if let Ok(mut l) = a.lane.try_lock() {
            l.running = false;
        }
    }
    spawn_dispatcher();
}

/// Whoever takes records out of the rings and the spill (the router or
/// the drainer) holds this, so that each ring and the spill have one
/// consumer at a time and the records leave in order. The router takes no
/// lock and allocates nothing while it holds it (it pops into room
/// reserved before), so the drainer, which a top half may be waiting for,
/// waits for it at most a few pops; the drainer holds it while it passes
/// records on (its channel's sends allocate, as they did before the
/// router shared the rings), which only the router waits for. Both block
/// every signal, so no top half ever runs on a holder. A flag and not a
/// `Mutex`: the child of a fork puts it back, whoever held it in the
/// parent.
static CONSUMER: AtomicBool = AtomicBool::new(false);

/// Holds [`CONSUMER`] until dropped.
struct Consumer;

impl Consumer {
    fn take() -> Consumer {
        // Acquire pairs with the Release store of the last holder: the
        // rings' and the spill's consumer-side words it wrote are seen.
        while CONSUMER
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        Consumer
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        CONSUMER.store(false, Release);
    }
}

/// Takes the records of the rings, oldest first in each, into `out` (at
/// most its spare capacity: it never grows). True if a ring's next slot
/// was claimed by a push not yet published (its top half was itself
/// interrupted): that ring is left there, to be looked at again shortly.
/// The caller holds [`CONSUMER`].
fn pop_rings(out: &mut Vec<Record>, room: usize) -> bool {
    let mut busy = false;
    for sig in SigSet::from_bits(HANDLED.load(Acquire)).iter() {
        // Acquire pairs with the Release store that published the ring.
        let ring = slot(sig).ring.load(Acquire);
        if ring.is_null() {
            continue;
        }
        // SAFETY: rings are leaked when published and never freed.
        let ring = unsafe { &*ring };
        while out.len() < room {
            match ring.pop() {
                Pop::Item(r) => out.push(r),
                Pop::Empty => break,
                Pop::Busy => {
                    busy = true;
                    break;
                }
            }
        }
    }
    busy
}

/// The drainer: the thread a top half wakes when it waits for room (its
/// signal's ring and the spill full, `ROOM`), and the only one a top half
/// ever waits for. It takes the records out of the spill and the rings and
/// passes them, in order, to the router, and does nothing else: no lock of
/// weave's or the program's, so that it cannot wait for code a signal
/// interrupted (which may be waiting for it, in the top half). The router
/// may be stuck on such a lock: the records wait in the channel for it,
/// which is unbounded, so a flood grows it in memory instead of filling
/// the spill. It also takes the spill whenever the router finds it in use.
fn drainer(tx: std::sync::mpsc::Sender<Record>) {
    let mut spilled = Vec::new();
    let mut rings = Vec::new();
    loop {
        let seen = ROOM.ticket();
        let busy = {
            let _c = Consumer::take();
            // Spilled records first, then the rings: a ring record a
            // thread pushed before it spilled is then seen (the spill's
            // Acquire), and passed on first, below.
            if let Some(sp) = spill().filter(|sp| !sp.is_empty()) {
                sp.take_all(&mut spilled);
            }
            let busy = pop_rings(&mut rings, usize::MAX);
            for r in rings.drain(..) {
                pass_on(&tx, r);
            }
            for r in spilled.drain(..) {
                pass_on(&tx, r);
                // After it is in the channel, behind every record of its
                // signal before it: until then the top half spills this
                // signal's next records behind it.
                slot(r.signo).spilled.fetch_sub(1, Relaxed);
            }
            busy
        };
        // The router routes what was passed (after the rings' records it
        // took before, and before the ones it takes next).
        BELL.ring();
        if busy {
            // A push was interrupted between its claim and its publication;
            // it finishes as soon as its thread returns from the handler.
            std::thread::sleep(std::time::Duration::from_micros(20));
            continue;
        }
        ROOM.wait(seen);
    }
}

fn pass_on(tx: &std::sync::mpsc::Sender<Record>, r: Record) {
    // The router never leaves while the drainer lives (both loop for
    // ever): a send cannot fail.
    let _ = tx.send(r);
}

/// Most records the router takes out of the rings at a time: room
/// reserved once, so that it never allocates while it holds [`CONSUMER`].
const BATCH: usize = 256;

/// The router: the thread the top half wakes after each record (`BELL`).
/// It takes the records out of the rings (the drainer's overflow first:
/// those are older) and routes each, in order (to a `wait` caller, a lane
/// and the handler pool, a target ULT, or the held records), and looks
/// for a taker of held records while any is. It may wait for locks that
/// code a signal interrupted holds (a lane's while a pool ULT takes a
/// record from it, the `wait` callers', the queues of thread-directed
/// records, the runtime's as it spawns a pool ULT), but never while it
/// holds the rings ([`CONSUMER`]): a top half that waits for room then
/// has the drainer make it. Spilled records are the drainer's to move.
fn router(rx: std::sync::mpsc::Receiver<Record>) {
    // The handler ULTs this thread spawns inherit its kernel mask, which
    // blocks every signal, as their ULT mask.
    for _ in 0..FIRST_POOL {
        grow_pool();
    }
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut look_ns = HELD_LOOK_NS;
    loop {
        let seen = BELL.ticket();
        let mut busy = false;
        loop {
            // The drainer's records are older than any still in a ring.
            while let Ok(r) = rx.try_recv() {
                route(r);
            }
            let got_older = {
                let _c = Consumer::take();
                match rx.try_recv() {
                    // The drainer passed more before we held the rings.
                    Ok(r) => Some(r),
                    Err(_) => {
                        busy |= pop_rings(&mut batch, BATCH);
                        if spill().is_some_and(|sp| !sp.is_empty()) {
                            ROOM.ring();
                        }
                        None
                    }
                }
            };
            if let Some(r) = got_older {
                route(r);
                continue;
            }
            if batch.is_empty() {
                break;
            }
            for r in batch.drain(..) {
                route(r);
            }
        }
        if held().signals() != 0 {
            place_held();
        }
        if busy {
            // A push was interrupted between its claim and its publication;
            // it finishes as soon as its thread returns from the handler.
            std::thread::sleep(std::time::Duration::from_micros(20));
            continue;
        }
        if held().signals() != 0 {
            if BELL.wait_for(seen, look_ns as u64) {
                look_ns = HELD_LOOK_NS;
            } else {
                look_ns = (look_ns * 2).min(HELD_LOOK_MAX_NS);
            }
        } else {
            BELL.wait(seen);
            look_ns = HELD_LOOK_NS;
        }
    }
}

fn grow_pool() {
    let pool = pool();
    if pool.size.fetch_add(1, Relaxed) >= MAX_POOL {
        pool.size.fetch_sub(1, Relaxed);
        return;
    }
    let rx = pool.rx.clone();
    let spawned = crate::thread::Builder::new()
        .name("weave-signal-handler".into())
        .spawn(move || handler_ult(rx, pool));
    if spawned.is_err() {
        pool.size.fetch_sub(1, Relaxed);
    }
}

fn handler_ult(rx: mpmc::Receiver<i32>, pool: &'static Pool) {
    let me = crate::thread::current::current_tcb();
    me.sig.flags.fetch_or(HANDLER, Relaxed);
    me.sig.mask.store(u64::MAX, Relaxed);
    loop {
        pool.idle.fetch_add(1, Relaxed);
        let got = rx.recv();
        pool.idle.fetch_sub(1, Relaxed);
        match got {
            Ok(sig) => run_lane(sig),
            Err(_) => return,
        }
    }
}

/// The signals of which the dispatcher holds records for a ULT that
/// unblocks them (`sigpending`).
pub(crate) fn held_signals() -> u64 {
    held().signals()
}

/// Routes one record: to a waiting `signal::wait` caller, or to its lane
/// (a held one is held).
pub(crate) fn route(rec: Record) {
    // The trace's Signal event: here, on a thread, never in the handler.
    crate::trace::listen_with(|| crate::trace::Event::Signal {
        sig: rec.signo as u8,
        to: crate::thread::id::ThreadId::from_u64(rec.target),
        lwp: crate::lwp::current().map(|l| l.index),
    });
    if route_to_waiter(&rec) {
        return;
    }
    if rec.is_held() {
        hold(rec);
        return;
    }
    let a = &actions()[rec.signo as usize];
    let here = slot(rec.signo).on_target.load(Relaxed) || immediate::lookup(rec.signo).is_some();
    if here && to_target(&rec) {
        return;
    }
    {
        let mut lane = a.lane.lock().unwrap_or_else(|e| e.into_inner());
        // A standard signal already queued and not yet handled: coalesce.
        if !is_realtime(rec.signo) && lane.queue.iter().any(|r| r.signo == rec.signo) {
            return;
        }
        lane.queue.push_back(rec);
    }
    let pool = pool();
    if pool.idle.load(Relaxed) == 0 {
        grow_pool();
    }
    let _ = pool.tx.send(rec.signo);
}

pub(crate) fn route_to_waiter(rec: &Record) -> bool {
    let a = &actions()[rec.signo as usize];
    if slot(rec.signo).waiting.load(Relaxed) == 0 {
        return false;
    }
    let mut ws = a.waiters.lock().unwrap_or_else(|e| e.into_inner());
    let directed = rec.route == Route::Thread;
    let mut i = 0;
    while i < ws.len() {
        if directed && ws[i].me != rec.target {
            i += 1;
            continue;
        }
        let w = ws.remove(i);
        if !w.taken.swap(true, Relaxed) {
            let mut info = SigInfo::from_record(rec);
            if !directed {
                info.route = Route::Waited;
            }
            drop(ws);
            let _ = w.tx.send(info);
            return true;
        }
    }
    false
}

/// Holds, from thread context, a record of a signal the program sent its
/// own process that every thread blocks (`process.rs`): pending for the
/// process from now on.
pub(crate) fn hold_now(rec: Record) {
    hold(rec);
}

/// Takes the oldest held record of the lowest signal of `sigs`, for a
/// `wait` caller.
pub(crate) fn take_held_for_wait(sigs: u64) -> Option<Record> {
    if held().signals() & sigs == 0 {
        return None;
    }
    held().take_first(sigs)
}

/// Holds a record nobody took (see the module doc) and looks for a ULT
/// that takes it.
fn hold(rec: Record) {
    // Unmasking ULTs filter on KBLOCKED_ANY before they look at the held
    // signals: it names the signal before `place_held`'s fence and scan.
    KBLOCKED_ANY.fetch_or(bit(rec.signo), Relaxed);
    held().hold(rec, false, !is_realtime(rec.signo));
    place_held();
}

/// Called by the router: hands each held signal to a `signal::wait`
/// caller, or to a live ULT that does not block it (one pass over the
/// thread table per signal), as the kernel delivers a pending signal.
pub(crate) fn place_held() {
    // One side of the fence pair (`held.rs`): either an unblocking ULT sees
    // the held signal, or the scan below sees its open mask.
    pair_fence();
    for sig in SigSet::from_bits(held().signals()).iter() {
        let waited = slot(sig).waiting.load(Relaxed) > 0;
        let taker = if waited { None } else { find_taker(sig) };
        if !waited && taker.is_none() {
            continue;
        }
        for mut r in held().take_of(bit(sig), true).unwrap_or_default() {
            if route_to_waiter(&r) {
                continue;
            }
            match taker.or_else(|| find_taker(sig)) {
                Some(t) => {
                    r.target = t.id().as_u64().get();
                    route(r);
                }
                // Its `wait` caller took another signal meanwhile.
                None => held().hold(r, true, !is_realtime(sig)),
            }
        }
    }
}

/// A live ULT that does not block `sig` (running or not), if any.
fn find_taker(sig: i32) -> Option<&'static Tcb> {
    use crate::thread::state::{EXITED, FREE};
    let table = crate::thread::table::table();
    (0..table.carved()).map(|k| table.slot(k as u32)).find(|t| {
        let run = t.state.load().run();
        !matches!(run, FREE | EXITED) && takes(t, sig)
    })
}

/// Called by a ULT that opened its mask for `opened` (thread context,
/// after the mask store): it takes the held records of those signals, as
/// POSIX delivers pending signals on an unblock, each routed naming it. If
/// the lock is busy (this may run in a handler that interrupted its
/// holder), the dispatcher is woken (its drainer tells the router to look): the scan finds this ULT's open mask.
pub(crate) fn take_held(tcb: &'static Tcb, opened: u64) {
    // The other side of the fence pair (`held.rs`).
    pair_fence();
    let sigs = opened & held().signals();
    if sigs == 0 {
        return;
    }
    match held().take_of(sigs, false) {
        Some(recs) => {
            for mut r in recs {
                r.target = tcb.id().as_u64().get();
                // Queued on this ULT, all of them before any runs: its
                // delivery loop then takes the lowest signal first.
                let here =
                    slot(r.signo).on_target.load(Relaxed) || immediate::lookup(r.signo).is_some();
                if here && !route_to_waiter(&r) {
                    queue_pending(tcb, &r);
                } else if !here {
                    route(r);
                }
            }
        }
        None => super::wrapper::wake_dispatcher(),
    }
}

/// Called by a registered OS thread about to let in `opened` (thread
/// context, its kernel mask still blocking them): the held records of
/// those signals are sent to it, directed, in the order held, so that the
/// kernel delivers them as its mask opens (lowest number first, each in
/// that order). One the kernel refuses (`RLIMIT_SIGPENDING`) stays held.
pub(crate) fn give_held_to_os_thread(t: &'static Tcb, opened: u64) {
    let sigs = opened & held().signals();
    if sigs == 0 {
        return;
    }
    let tid = t.os_tid.load(Relaxed) as i32;
    for mut r in held().take_of(sigs, true).unwrap_or_default() {
        r.target = t.id().as_u64().get();
        r.route = Route::OsThread;
        if !super::wrapper::resend(r.signo, &r, tid) {
            r.target = 0;
            r.route = Route::Unblocked;
            held().hold(r, false, !is_realtime(r.signo));
        }
    }
}

/// For a handler that runs on its target: makes the record pending on the
/// target ULT and kicks it (as `Thread::kill` does). False if the target
/// is not a live ULT (an OS thread took it, or it has exited).
fn to_target(rec: &Record) -> bool {
    let Some(id) = crate::thread::id::ThreadId::from_u64(rec.target) else {
        return false;
    };
    let Ok(tcb) = crate::thread::table::table().lookup(id) else {
        return false;
    };
    if tcb.kind() == crate::thread::tcb::Kind::External {
        return false;
    }
    make_pending(tcb, rec);
    true
}

/// Makes `rec` pending on the ULT `tcb` (queued behind the records of its
/// signal already there; a standard signal pending already coalesces) and
/// kicks it: it runs the handler now if it is the caller.
pub(crate) fn make_pending(tcb: &'static Tcb, rec: &Record) {
    queue_pending(tcb, rec);
    super::kick(tcb, bit(rec.signo));
}

/// As [`make_pending`], without the kick: for the caller itself, which
/// delivers what is pending once it has queued all of it.
fn queue_pending(tcb: &'static Tcb, rec: &Record) {
    {
        let mut q = KILLQ.lock().unwrap_or_else(|e| e.into_inner());
        let m = q.get_or_insert_with(HashMap::new);
        sweep_exited(m);
        let v = m.entry((rec.target, rec.signo)).or_default();
        // A standard signal already pending on the target coalesces.
        if is_realtime(rec.signo) || v.is_empty() {
            v.push_back(*rec);
        }
    }
    tcb.sig
        .pending
        .fetch_or(bit(rec.signo), std::sync::atomic::Ordering::SeqCst);
}

/// Runs `sig`'s handler on the calling ULT `tcb`, with `sig` blocked in its
/// mask meanwhile (as `sa_mask` does), then its receivers.
fn run_on_target(tcb: &'static Tcb, rec: &Record, restore: fn(&'static Tcb, u64)) {
    let old = tcb.sig.mask.load(Relaxed);
    tcb.sig.mask.store(old | bit(rec.signo), Relaxed);
    run_handlers(rec);
    restore(tcb, old);
    super::state::handler_ran(tcb);
}

/// Runs the handlers of `sig`'s lane until it is empty, unless another
/// pool ULT is at it already.
fn run_lane(sig: i32) {
    let a = &actions()[sig as usize];
    {
        let mut lane = a.lane.lock().unwrap_or_else(|e| e.into_inner());
        if lane.running {
            return;
        }
        lane.running = true;
    }
    loop {
        let rec = {
            let mut lane = a.lane.lock().unwrap_or_else(|e| e.into_inner());
            match lane.queue.pop_front() {
                Some(r) => r,
                None => {
                    lane.running = false;
                    return;
                }
            }
        };
        run_handlers(&rec);
    }
}

/// The trace's SignalHandler event: `sig`'s handler (or its receivers)
/// starts on the calling ULT. On a thread, never in signal context: an
/// immediate handler run by the top half records none.
fn note_handler(sig: i32) {
    crate::trace::listen_with(|| crate::trace::Event::SignalHandler {
        sig: sig as u8,
        ult: crate::thread::current::current_tcb().id(),
        lwp: crate::lwp::current().map(|l| l.index),
    });
}

fn run_handlers(rec: &Record) {
    let a = &actions()[rec.signo as usize];
    if let Some(imm) = immediate::lookup(rec.signo) {
        // Its target has exited: a pool ULT stands in.
        note_handler(rec.signo);
        immediate::run_at_safe_point(imm, None, rec, super::restore_after_handler);
        return;
    }
    let info = SigInfo::from_record(rec);
    let handler = a.handler.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let subs: Vec<(u64, mpsc::Sender<SigInfo>)> = a
        .subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if handler.is_none() && subs.is_empty() {
        // Only waited for: to a `wait` caller that came meanwhile, else
        // kept for the next one. The lane lock is held across both, and
        // `wait` looks at `unclaimed` after registering, so none is missed.
        let mut lane = a.lane.lock().unwrap_or_else(|e| e.into_inner());
        if route_to_waiter(rec) {
            return;
        }
        if is_realtime(rec.signo) || lane.unclaimed.is_empty() {
            lane.unclaimed.push_back(*rec);
        }
        return;
    }
    note_handler(rec.signo);
    if let Some(h) = handler {
        // A panicking handler is reported by the panic hook like any panic
        // on a ULT; the pool ULT lives on for the next signal.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&info)));
    }
    let closed: Vec<u64> = subs
        .iter()
        .filter(|(_, s)| s.send(info).is_err())
        .map(|(id, _)| *id)
        .collect();
    if !closed.is_empty() {
        // Receivers dropped: forget their senders (Go's signal.Stop).
        a.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| !closed.contains(id));
    }
}

/// Queues a thread-directed real-time record on its target.
pub(crate) fn queue_for_thread(rec: Record) {
    let mut q = KILLQ.lock().unwrap_or_else(|e| e.into_inner());
    let m = q.get_or_insert_with(HashMap::new);
    sweep_exited(m);
    m.entry((rec.target, rec.signo)).or_default().push_back(rec);
}

/// The table size at which [`sweep_exited`] next looks for exited targets.
static SWEEP_AT: AtomicUsize = AtomicUsize::new(64);

/// Drops the records queued on ULTs that have exited without taking them
/// (their ids no longer name a live thread), once the table has doubled
/// since the last look: what exited ULTs leave costs at most as much as
/// what live ones hold.
fn sweep_exited(m: &mut KillQueues) {
    if m.len() < SWEEP_AT.load(Relaxed) {
        return;
    }
    m.retain(|&(target, _), _| {
        crate::thread::id::ThreadId::from_u64(target)
            .is_some_and(|id| crate::thread::table::table().lookup(id).is_ok())
    });
    SWEEP_AT.store((2 * m.len()).max(64), Relaxed);
}

/// How many (thread, signal) queues of thread-directed records are kept.
pub(crate) fn queued_targets() -> usize {
    let q = KILLQ.lock().unwrap_or_else(|e| e.into_inner());
    q.as_ref().map_or(0, HashMap::len)
}

/// Delivers the signals pending on `tcb` that it does not block: called on
/// the ULT itself at a safe point (switched back in, unblocking, sending to
/// itself). Each is routed as a record naming `tcb` (route `Thread`).
///
/// The lowest-numbered deliverable signal goes first, each signal's
/// records in the order they came, one record a round, and the pending
/// set is read again after each: a handler's return lets in what its mask
/// held back (its `restore` here does not deliver, so that this loop keeps
/// that order, as the kernel delivers the lowest pending signal after
/// each handler). Nothing is held across a handler but the record on the
/// stack, so a handler that leaves by a long jump loses no record (the
/// ones queued behind it stay queued, their signal pending).
pub(crate) fn at_safe_point(tcb: &'static Tcb) {
    let me = tcb.id().as_u64().get();
    loop {
        let d = tcb.sig.deliverable();
        if d == 0 {
            return;
        }
        let sig = d.trailing_zeros() as i32 + 1;
        if tcb.sig.pending.fetch_and(!bit(sig), Relaxed) & bit(sig) == 0 {
            continue;
        }
        let disposition = super::disposition(sig).unwrap_or(super::Disposition::Default);
        let immediate = matches!(disposition, super::Disposition::Immediate(_));
        if (HANDLED.load(Relaxed) & bit(sig) == 0 && !immediate)
            || disposition == super::Disposition::Default
        {
            // Not handled through weave (or reset since): the kernel's
            // action, as `pthread_kill` would get it.
            while take_queued(me, sig).is_some() {}
            // SAFETY: kill to our own process.
            unsafe { libc::kill(libc::getpid(), sig) };
            continue;
        }
        if disposition == super::Disposition::Ignore {
            while take_queued(me, sig).is_some() {}
            continue;
        }
        // One record a round, taken from the queue before its handler
        // runs and never held in a list of our own: a handler may leave
        // by a long jump (C's `siglongjmp`), and what this frame owned
        // then would be lost, the records after it with it. While more
        // wait, the signal stays pending: the next round (or, after a
        // jump, the next safe point the signal is open at) takes them.
        let (queued, more) = take_one_queued(me, sig);
        if more {
            // Relaxed: as the `fetch_and` above, on the ULT's own word; a
            // sender's SeqCst `fetch_or` of the same bit may come too.
            tcb.sig.pending.fetch_or(bit(sig), Relaxed);
        }
        let r = queued.unwrap_or_else(|| {
            // SAFETY: getpid/getuid have no preconditions.
            let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
            Record {
                signo: sig,
                code: libc::SI_TKILL,
                pid,
                uid,
                value: 0,
                target: me,
                route: Route::Thread,
            }
        });
        let here = slot(sig).on_target.load(Relaxed);
        if let Some(imm) = immediate::lookup(sig) {
            // Its immediate handler runs here, on the target's stack: a
            // thread-directed one is a delivery a one-shot handler takes
            // now; a process-directed one was taken as the top half
            // recorded it.
            if route_to_waiter(&r) {
                continue;
            }
            if r.route != Route::Thread || claim_once(sig, None) {
                note_handler(sig);
                immediate::run_at_safe_point(imm, Some(tcb), &r, super::restore_in_delivery);
            }
        } else if here && !route_to_waiter(&r) {
            run_on_target(tcb, &r, super::restore_in_delivery);
        } else if !here {
            route(r);
        }
    }
}

/// The first real-time record queued on `me` for `sig`, and whether more
/// wait behind it, under one lock.
fn take_one_queued(me: u64, sig: i32) -> (Option<Record>, bool) {
    let mut q = KILLQ.lock().unwrap_or_else(|e| e.into_inner());
    let Some(m) = q.as_mut() else {
        return (None, false);
    };
    let Some(v) = m.get_mut(&(me, sig)) else {
        return (None, false);
    };
    let r = v.pop_front();
    let more = !v.is_empty();
    if !more {
        m.remove(&(me, sig));
    }
    (r, more)
}

/// Forgets real-time records queued on a thread (its pending bit was
/// cleared without delivery: `signal::wait` took it).
pub(crate) fn take_queued(me: u64, sig: i32) -> Option<Record> {
    let mut q = KILLQ.lock().unwrap_or_else(|e| e.into_inner());
    let m = q.as_mut()?;
    let v = m.get_mut(&(me, sig))?;
    let r = v.pop_front();
    if v.is_empty() {
        m.remove(&(me, sig));
    }
    r
}

/// Whether more real-time records wait on `me` for `sig`.
pub(crate) fn take_queued_peek(me: u64, sig: i32) -> bool {
    let q = KILLQ.lock().unwrap_or_else(|e| e.into_inner());
    q.as_ref().is_some_and(|m| m.contains_key(&(me, sig)))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::signal::{How, SigSet};
    use std::time::{Duration, Instant};

    fn in_child(name: &str) -> bool {
        crate::test_child::in_child(module_path!(), name)
    }

    /// Queues `sig` with `value` on the calling kernel thread; false if the
    /// kernel refused (`EAGAIN`: its queue, shared by the user, is full).
    fn queue_on_me(sig: i32, value: usize) -> bool {
        // SAFETY: getpid/gettid/getuid have no preconditions.
        let (pid, tid, uid) = unsafe { (libc::getpid(), libc::gettid(), libc::getuid()) };
        // siginfo_t: signo, errno, code, pad, pid, uid, value.
        let mut info = [0u64; 16];
        info[0] = sig as u32 as u64;
        info[1] = libc::SI_QUEUE as u32 as u64;
        info[2] = pid as u32 as u64 | u64::from(uid) << 32;
        info[3] = value as u64;
        // SAFETY: a valid 128-byte siginfo, to a thread of our own process.
        let rc =
            unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, tid, sig, info.as_ptr()) };
        rc == 0
    }

    /// The ULT that takes every signal holds the lock the router needs to
    /// route them (the signal's lane) while it queues them on its own LWP:
    /// each runs the top half at once, on that ULT, which cannot give the
    /// lock back until the top half returns. The ring (1,024) and the
    /// spill (4,096) fill; the rest must not wait for the stuck router.
    #[test]
    fn a_full_realtime_ring_does_not_wait_for_a_dispatcher_stuck_on_the_interrupted_code() {
        if !in_child(
            "a_full_realtime_ring_does_not_wait_for_a_dispatcher_stuck_on_the_interrupted_code",
        ) {
            return;
        }
        const N: usize = 12_000;
        let sig = crate::signal::sigrtmin() + 5;
        let got: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        crate::signal::handle(sig, move |i| g.lock().unwrap().push(i.value)).unwrap();
        crate::signal::mask(How::Block, &SigSet::of(&[sig]));
        let h = crate::thread::Builder::new()
            .bound()
            .spawn(move || {
                crate::signal::mask(How::Unblock, &SigSet::of(&[sig]));
                let lane = actions()[sig as usize].lane.lock().unwrap();
                for v in 0..N {
                    while !queue_on_me(sig, v) {
                        std::thread::yield_now();
                    }
                }
                drop(lane);
            })
            .unwrap();
        h.join().unwrap();
        let start = Instant::now();
        while got.lock().unwrap().len() < N {
            assert!(start.elapsed() < Duration::from_secs(30), "waited 30 s");
            std::thread::sleep(Duration::from_millis(1));
        }
        let got = got.lock().unwrap();
        assert_eq!(got.len(), N, "each signal once");
        let first_wrong = got.iter().enumerate().find(|(k, v)| k != *v);
        assert_eq!(first_wrong, None, "in the order queued");
        assert!(spill().unwrap().is_empty());
        assert_eq!(slot(sig).spilled.load(Relaxed), 0);
    }
}

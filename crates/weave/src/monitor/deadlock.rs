//! The deadlock detector: "all threads are asleep".
//!
//! A deadlock is reported only when nothing could ever end any wait:
//!
//! 1. every LWP is asleep with an empty inbox and no timer pending (a timer
//!    ends a sleep or a timed wait), or is held by its running ULT in an
//!    untimed futex wait in the kernel (a std lock: see `monitor/trap.rs`),
//!    and no new work is queued;
//! 2. no `weave::blocking` call is queued or running (its end wakes a ULT);
//! 3. every live ULT is BLOCKED, or is held up by an LWP of step 1 in a
//!    futex wait (it is the ULT that made the call, or is runnable and
//!    placed on that LWP); none can run;
//! 4. every OS thread of the process is one of weave's own (LWPs, the
//!    monitor, the blocking pool) or a registered thread BLOCKED inside a
//!    weave wait without a deadline. Any other thread, running or asleep
//!    in the kernel, could still unlock, send or unpark: not a deadlock.
//!
//! Step 4 is looked at first, from the registered OS threads' own slots
//! (`Table::externals`): while an OS thread is outside a weave wait the
//! check ends there, without the walk of every slot that steps 3 needs (a
//! check is asked for whenever the last LWP goes idle, which a burst of a
//! million parked threads does again and again), and the count of threads
//! waiting for io (`Reactor::waiters`) ends it before the task list is
//! read (`monitor/tasks.rs`, one stream kept open). A snapshot keeps a few
//! words per blocked thread and puts them into words only for a report.
//!
//! The monitor takes two such snapshots 50 ms apart (500 ms when an LWP is
//! in a futex wait: a std lock may just be contended) and reports only if
//! both hold and every wait is the same one (same epoch, same switch of
//! each stuck LWP), so a moment in which all threads happen to be between
//! a wake and a run is never taken for a deadlock. It is asked to look when the last pool LWP goes idle,
//! when an OS thread starts waiting inside weave, and when a registered OS
//! thread exits: a thread that held a lock or kept a channel open may leave
//! without waking anyone. Such a thread still shows in `/proc/self/task`
//! while its thread-local destructors run, so the check first waits (a
//! bounded time) for every exiting thread to be gone from there.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::trap;
use crate::lwp;
use crate::runtime::Runtime;
use crate::thread::id::BlockReason;
use crate::thread::state::{self, TIMED};
use crate::thread::table::table;
use crate::thread::tcb::Kind;

/// One blocked thread in the report: what it waits in, kept as a few
/// words and put into words only for the report (a snapshot of a million
/// parked threads must not format a million lines to find that the main
/// thread is still running).
struct Row {
    index: u32,
    epoch: u64,
    why: Why,
}

/// Why a thread of a row cannot run.
#[derive(Clone, Copy)]
enum Why {
    /// Blocked in a weave wait (`BlockReason`, the TIMED bit clear); the
    /// LWP it is placed on, if that one is stuck.
    Blocked { reason: u8, on_stuck: Option<usize> },
    /// It is the ULT that holds LWP `.0` in a futex wait.
    HoldsLwp(usize),
    /// Runnable, placed on stuck LWP `.0`.
    Behind(usize),
}

/// What a snapshot found: the threads that wait, and the LWPs stuck in the
/// kernel in a futex wait (index, `running` word) that hold some of them.
struct Snapshot {
    rows: Vec<Row>,
    stuck: Vec<(usize, u64)>,
}

/// What must not change between two snapshots: each wait (thread, epoch)
/// and each stuck LWP (index, `running` word).
type Key = (HashSet<(u32, u64)>, HashSet<(usize, u64)>);

impl Snapshot {
    fn key(&self) -> Key {
        (
            self.rows.iter().map(|r| (r.index, r.epoch)).collect(),
            self.stuck.iter().copied().collect(),
        )
    }
}

/// The second snapshot comes this long after the first when only weave
/// waits are involved: enough to tell a deadlock from threads caught
/// between a wake and a run.
const CONFIRM: Duration = Duration::from_millis(50);

/// The second snapshot comes this long after the first when an LWP is
/// stuck in a futex wait: such a wait may be a std lock's ordinary
/// contention, so it must last well beyond any critical section before the
/// program is stopped.
const CONFIRM_STUCK: Duration = Duration::from_millis(500);

/// Looks for a deadlock; reports it and exits if there is one.
pub(super) fn check(rt: &Runtime) {
    wait_for_exits(rt);
    let Some(first) = snapshot(rt) else { return };
    std::thread::sleep(if first.stuck.is_empty() {
        CONFIRM
    } else {
        CONFIRM_STUCK
    });
    let Some(second) = snapshot(rt) else { return };
    if first.key() != second.key() {
        return;
    }
    let mut report = String::from("\nweave: all threads are blocked: deadlock!\n\n");
    for r in &second.rows {
        let _ = writeln!(report, "  {}", line(rt, r));
        // Each thread's stack, as the thread dump shows it.
        report.push_str(&crate::inspect::dump::stack_of(r.index, 6));
    }
    for &(lwp, _) in &second.stuck {
        let _ = writeln!(
            report,
            "\nweave: LWP {lwp} is blocked in the kernel in a futex wait (a std::sync lock, \
             Condvar, park or mpsc channel), so the threads placed on it cannot run until the \
             wait ends; inside ULTs use weave::sync and weave::thread::park, and never hold a \
             std lock across a weave wait"
        );
    }
    report.push_str(
        "\nweave: no timer, blocking call or other thread can end any of these waits; \
         exiting with status 2 instead of hanging\n",
    );
    eprint!("{report}");
    std::process::exit(2);
}

/// How long the check waits for an exiting OS thread to leave the task
/// list: its remaining thread-local destructors and the kernel's exit take
/// microseconds; a thread still there after this is doing real work in a
/// destructor, and the snapshot counts it as a thread that may wake others.
const EXIT_WAIT: Duration = Duration::from_millis(200);

/// Waits until the OS threads announced as exiting are gone from
/// `/proc/self/task`, for `EXIT_WAIT` at most.
fn wait_for_exits(rt: &Runtime) {
    let tids = std::mem::take(&mut *rt.monitor.exiting.lock().unwrap_or_else(|e| e.into_inner()));
    let deadline = std::time::Instant::now() + EXIT_WAIT;
    for tid in tids {
        let path = format!("/proc/self/task/{tid}");
        while std::path::Path::new(&path).exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The blocked threads, if the process is deadlocked right now.
fn snapshot(rt: &Runtime) -> Option<Snapshot> {
    // 1. The LWPs and the queues. An LWP is quiet when it sleeps with
    //    nothing to run, or when a ULT holds it in an untimed futex wait in
    //    the kernel: then its inbox and timers cannot be served either.
    let mut ours: HashSet<i32> = HashSet::new();
    let mut stuck: Vec<(usize, u64)> = Vec::new();
    for l in rt.lwps() {
        if !l.is_alive() {
            continue;
        }
        if l.has_fresh_work() {
            return None; // another LWP may steal it
        }
        if l.is_sleeping() {
            if !l.inbox.is_empty() || l.timers_pending() > 0 {
                return None;
            }
        } else {
            let word = l.running.load(Relaxed);
            lwp::running_ult(word)?;
            if trap::futex_wait(l) != Some(trap::FutexWait { timed: false }) {
                return None;
            }
            stuck.push((l.index, word));
        }
        ours.insert(l.tid());
    }
    // The injector's bits may stay set after it empties until an LWP looks
    // again, which a stuck LWP does not: ask the queues themselves.
    if rt.global_top() >= 0 && (stuck.is_empty() || !rt.global_is_empty()) {
        return None;
    }
    // 2. Blocking calls.
    let (busy, pool_tids) = crate::blocking::activity();
    if busy {
        return None;
    }
    // A thread waiting for io: a peer may make its fd ready (step 3 would
    // find it in the walk; the count answers before the task list is read).
    if crate::reactor::try_get().is_some_and(|r| r.waiters() > 0) {
        return None;
    }
    ours.extend(pool_tids);
    // SAFETY: gettid has no preconditions (we are the monitor thread).
    ours.insert(unsafe { libc::gettid() });

    // 4, first: every other OS thread must be weave's own or a registered
    //    one blocked in a weave wait without a deadline. The registered
    //    threads are a few slots of their own; looking at them before the
    //    walk below means that a program whose main thread spawns (or does
    //    anything outside weave) while every LWP idles costs this check a
    //    few reads, not a walk of every slot (a million parked threads took
    //    ~1 s and ~80 MB of the monitor's heap per check).
    let t = table();
    let mut registered: HashSet<i32> = HashSet::new();
    for i in t.externals() {
        let tcb = t.slot(i);
        let w = tcb.state.load();
        if tcb.kind() != Kind::External || w.run() != state::BLOCKED {
            continue; // gone, or not waiting inside weave: not excused
        }
        if w.reason() & TIMED != 0 || w.reason() & !TIMED == BlockReason::Net as u8 {
            return None; // its deadline, or a peer, may end the wait
        }
        registered.insert(tcb.os_tid.load(Relaxed) as i32);
    }
    if !super::tasks::every(|tid| ours.contains(&tid) || registered.contains(&tid))? {
        return None;
    }

    // 3. The threads weave knows: blocked, or held up by a stuck LWP (the
    //    ULT that blocks it, and the runnable ones placed on it).
    let mut rows = Vec::new();
    let stuck_on = |home: u32| stuck.iter().find(|&&(l, _)| l == home as usize);
    for i in 0..t.carved() {
        let tcb = t.slot(i as u32);
        let w = tcb.state.load();
        let external = tcb.kind() == Kind::External;
        let home = tcb.home.load(Relaxed);
        let why = match w.run() {
            state::FREE | state::EXITED => continue,
            state::BLOCKED => {
                if w.reason() & !TIMED == BlockReason::Net as u8 {
                    return None; // a peer may yet make its socket ready
                }
                if external {
                    if w.reason() & TIMED != 0 {
                        return None; // its deadline will end the wait
                    }
                    if !registered.contains(&(tcb.os_tid.load(Relaxed) as i32)) {
                        return None; // it began waiting after step 4: look again
                    }
                }
                Why::Blocked {
                    reason: w.reason() & !TIMED,
                    // Its wake-up (a timer, say) needs that LWP.
                    on_stuck: stuck_on(home).filter(|_| !external).map(|&(l, _)| l),
                }
            }
            // A block held uncommitted by its LWP (`lwp/handoff.rs`) while
            // that LWP's running ULT is stuck in the kernel: that LWP is
            // not in the middle of a switch, so the block is as good as
            // committed, and it is committed once the LWP gets back.
            state::BLOCKING if !external && stuck_on(home).is_some() => Why::Blocked {
                reason: w.reason(),
                on_stuck: stuck_on(home).map(|&(l, _)| l),
            },
            state::RUNNING if !external => match stuck_on(home) {
                Some(&(l, word)) if lwp::running_ult(word) == Some(i as u32) => Why::HoldsLwp(l),
                _ => return None,
            },
            state::RUNNABLE if !external && tcb.kind() != Kind::Migratable => {
                match stuck_on(home) {
                    Some(&(l, _)) => Why::Behind(l),
                    None => return None,
                }
            }
            _ => return None, // runnable, running or switching out
        };
        rows.push(Row {
            index: i as u32,
            epoch: w.epoch(),
            why,
        });
    }
    (!rows.is_empty()).then_some(Snapshot { rows, stuck })
}

/// The report's line for `r`.
fn line(rt: &Runtime, r: &Row) -> String {
    match r.why {
        Why::Blocked { reason, on_stuck } => {
            let line = describe(r.index, reason);
            match on_stuck {
                Some(l) => format!("{line}, placed on stuck LWP {l}"),
                None => line,
            }
        }
        Why::HoldsLwp(l) => {
            let behind = trap::stuck_behind(rt.lwp(l));
            format!(
                "{} blocks LWP {l} in the kernel in a futex wait; {behind} runnable \
                 thread(s) placed on LWP {l} are stuck behind it",
                who(r.index)
            )
        }
        Why::Behind(l) => format!("{} is runnable, stuck behind LWP {l}", who(r.index)),
    }
}

fn who(index: u32) -> String {
    let tcb = table().slot(index);
    let id = tcb.id();
    let os = if tcb.kind() == Kind::External {
        ", OS thread"
    } else {
        ""
    };
    match tcb.name() {
        Some(n) => format!("thread '{n}' ({id}{os})"),
        None => format!("thread {id}{os}"),
    }
}

fn describe(index: u32, reason: u8) -> String {
    let tcb = table().slot(index);
    let what = match BlockReason::from_u8(reason) {
        Some(BlockReason::Mutex) => "waits for a Mutex",
        Some(BlockReason::Channel) => "waits on a channel",
        Some(BlockReason::Select) => "waits in select! on channels",
        Some(BlockReason::Join) => "waits to join",
        Some(BlockReason::Park) => "is parked",
        Some(BlockReason::Sleep) => "sleeps",
        Some(BlockReason::Io) => "waits for a blocking call",
        Some(BlockReason::Condvar) => "waits on a Condvar",
        Some(BlockReason::RwLock) => "waits for an RwLock",
        Some(BlockReason::Semaphore) => "waits for a Semaphore permit",
        Some(BlockReason::Barrier) => "waits at a Barrier",
        Some(BlockReason::Once) => "waits for a Once to finish",
        Some(BlockReason::WaitGroup) => "waits on a WaitGroup",
        Some(BlockReason::Net) => "waits for a socket",
        Some(BlockReason::Signal) => "waits for a signal handler to run on it (sigsuspend)",
        Some(BlockReason::Sync) | None => "waits",
    };
    let holder = tcb.waits_for.load(Relaxed);
    let by = match (BlockReason::from_u8(reason), holder) {
        (_, 0) => String::new(),
        (Some(BlockReason::Join), h) => format!(" {}", who(h - 1)),
        (_, h) => format!(", held by {}", who(h - 1)),
    };
    let on = crate::inspect::dump::wait_object_of(index, reason);
    format!("{} {what}{on}{by}", who(index))
}

//! `weave demo`: a tour of the M:N runtime, printed for a person to read.
//!
//! Each step takes one idea of the seed lecture (Stein & Shah, Eykholt et
//! al.) and shows it working on this machine, with figures measured in this
//! run: the M:N mapping of ULTs onto LWPs, the thread table and its stale
//! ids, death row, `set_concurrency`, priorities and safe points, the
//! lecture's T1/T2/T3 scenario (an unlock on one LWP preempting another),
//! a stack overflow caught by a red zone (in a child process, since it
//! aborts), and signals: the four delivery cases, the lazy mask, queued
//! against coalesced signals, a handler thread (in a child process, since
//! handlers are process-wide). Steps 9 and 10, which answer the seed notes'
//! own questions, and the trace the tour records of itself are in
//! `demo_steps.rs`; the text helpers in `demo_text.rs`.
//!
//! What it must not do: print a figure it did not measure, leave the
//! runtime changed behind it (the event hook is removed and the concurrency
//! level restored to automatic on every path, errors included), block an
//! LWP with a kernel wait outside a bound thread, or take more than a few
//! seconds on a two-core machine. It only presents what the public API of
//! `weave` reports; it has no scheduling logic of its own.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use weave::thread::{self, Builder, JoinHandle, ThreadError, ThreadInfo, ThreadState};
use weave::trace::{self, Event};
use weave::LwpInfo;

use crate::demo_text::{fmt_duration, group, heading, para};

/// Set in the environment of the child process of step 7: `run` then
/// overflows a ULT's stack instead of giving the tour.
const OVERFLOW_ENV: &str = "WEAVE_DEMO_OVERFLOW";

/// Name of the ULT that overflows its stack in the child process.
const OVERFLOW_THREAD: &str = "runaway-recursion";

/// The signal `abort` raises (6 on every Linux architecture).
const SIGABRT: i32 = 6;

/// Runs the tour, or, in the child process of step 7, the overflow.
pub fn run() -> Result<(), String> {
    if std::env::var_os(OVERFLOW_ENV).is_some() {
        return overflow_child();
    }
    if std::env::var_os(SIGNALS_ENV).is_some() {
        return signals_child();
    }
    let started = Instant::now();
    let why = match weave::requested_concurrency() {
        0 => "automatic: one per CPU this process may use".to_owned(),
        n => format!("set to {n} by WEAVE_LWPS"),
    };
    println!(
        "weave demo: a pool of {} LWPs ({why})",
        weave::concurrency()
    );
    // The tour records a trace of itself (`demo_steps.rs`), stopped on
    // every path.
    let recording = crate::demo_steps::SelfTrace::start();
    let steps = (|| {
        mapping()?;
        thread_table()?;
        death_row()?;
        concurrency()?;
        priorities()?;
        multi_cpu()?;
        overflow()?;
        signals()?;
        crate::demo_steps::aiohttp()?;
        crate::demo_steps::popup_vs_pool()
    })();
    let traced = recording.map_or(Ok(()), |r| r.finish());
    steps?;
    traced?;
    println!();
    println!("tour done in {}", fmt_duration(started.elapsed()));
    Ok(())
}

// ---------------------------------------------------------------------------
// Step 1: the M:N mapping

/// ULTs spawned in step 1.
const MAPPING_ULTS: usize = 10_000;

/// Per-LWP event counts of step 1, filled by [`count_event`]. Step 1 runs
/// before any bound thread exists, so every LWP index is a pool index,
/// below `MAX_CONCURRENCY`; anything else is counted in the last slot.
const HOOK_SLOTS: usize = weave::MAX_CONCURRENCY + 1;
static HOOK_RUNS: [AtomicU64; HOOK_SLOTS] = [const { AtomicU64::new(0) }; HOOK_SLOTS];
static HOOK_SPAWNS: [AtomicU64; HOOK_SLOTS] = [const { AtomicU64::new(0) }; HOOK_SLOTS];
static HOOK_STEALS: [AtomicU64; HOOK_SLOTS] = [const { AtomicU64::new(0) }; HOOK_SLOTS];

fn hook_slot(lwp: usize) -> usize {
    lwp.min(HOOK_SLOTS - 1)
}

/// The event hook of step 1. It runs in the middle of switches, so it only
/// bumps counters: no lock, no allocation, no call into weave.
fn count_event(e: &Event) {
    let counter = match *e {
        Event::Run { lwp, .. } => &HOOK_RUNS[hook_slot(lwp)],
        Event::Spawn { lwp: Some(l), .. } => &HOOK_SPAWNS[hook_slot(l)],
        Event::Steal { to, .. } => &HOOK_STEALS[hook_slot(to)],
        _ => return,
    };
    counter.fetch_add(1, Relaxed);
}

/// Installs the event hook for its lifetime, so that an error in the
/// middle of a step cannot leave it installed.
struct HookGuard;

impl HookGuard {
    fn install(hook: trace::Hook) -> HookGuard {
        for slots in [&HOOK_RUNS, &HOOK_SPAWNS, &HOOK_STEALS] {
            for s in slots {
                s.store(0, Relaxed);
            }
        }
        trace::set_hook(Some(hook));
        HookGuard
    }
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        trace::set_hook(None);
    }
}

/// What the spawner ULT of step 1 saw of its children.
struct Mapping {
    /// ULTs that first ran on each LWP.
    ran_on: BTreeMap<usize, usize>,
    /// ULTs that ended on another LWP than they started on.
    moved: usize,
    /// Most children started and not yet finished at one moment.
    peak_alive: usize,
}

fn mapping() -> Result<(), String> {
    heading(1, "The M:N mapping: many ULTs, a few LWPs");
    para(&format!(
        "A ULT is the library's thread: a TCB and a stack, scheduled by weave. An \
         LWP is a kernel thread that weave treats as a virtual CPU. One ULT spawns \
         {} children (a quarter sleep 1 ms, a quarter yield three times, the \
         rest compute a few µs); an idle LWP steals a batch of children not yet \
         started from another's queue. By LWP, from current_lwp() and a trace \
         hook that counts events:",
        group(MAPPING_ULTS as u64)
    ));
    let hook = HookGuard::install(count_event);
    let started = Instant::now();
    let spawner = spawn(Builder::new().name("spawner".into()), spawn_many)?;
    let seen = join(spawner)??;
    let elapsed = started.elapsed();
    drop(hook);

    println!("    LWP  kernel tid  ULTs ran here  spawned here  steals  switches");
    let pool: Vec<_> = weave::lwps()
        .into_iter()
        .filter(|l| l.alive && !l.bound)
        .collect();
    let ran_here = |l: &LwpInfo| seen.ran_on.get(&l.index).copied().unwrap_or(0);
    let (shown, omitted) = some_rows(&pool, |l| ran_here(l) > 0);
    for l in shown {
        let slot = hook_slot(l.index);
        println!(
            "    {:>3}  {:>10}  {:>13}  {:>12}  {:>6}  {:>8}",
            l.index,
            l.tid,
            group(ran_here(l) as u64),
            group(HOOK_SPAWNS[slot].load(Relaxed)),
            group(HOOK_STEALS[slot].load(Relaxed)),
            group(HOOK_RUNS[slot].load(Relaxed)),
        );
    }
    if omitted > 0 {
        println!("    ... and {omitted} more LWPs");
    }
    println!(
        "  {} ULTs on {} LWPs in {}; up to {} of them alive at once.",
        group(MAPPING_ULTS as u64),
        weave::concurrency(),
        fmt_duration(elapsed),
        group(seen.peak_alive as u64),
    );
    println!(
        "  ULTs that ran on two LWPs: {} (a started ULT stays on its LWP).",
        seen.moved
    );
    match kernel_threads() {
        Some(n) => {
            println!("  The kernel sees {n} threads here: the LWPs, main and the reaper.")
        }
        None => println!("  (/proc/self/status is unreadable: kernel thread count unknown)"),
    }
    Ok(())
}

/// Rounds of arithmetic a child of step 1 does when it neither sleeps nor
/// yields: a few microseconds, so that the spawner's own LWP still has
/// children left to run when the spawner blocks in join.
const CHILD_WORK: u64 = 2_000;

/// Rounds of arithmetic the ULTs of steps 2 and 4 do before their first
/// yield or sleep, as real threads would: long enough (tens of µs) for a
/// sleeping LWP to wake and take the next one, since a started ULT never
/// moves to another LWP.
const START_WORK: u64 = 50_000;

fn compute(rounds: u64) {
    let mut acc = 0u64;
    for k in 0..rounds {
        acc = std::hint::black_box(acc.wrapping_mul(31).wrapping_add(k));
    }
}

/// The body of step 1's spawner: spawns the children, then joins them.
fn spawn_many() -> Result<Mapping, String> {
    let alive = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(MAPPING_ULTS);
    for i in 0..MAPPING_ULTS {
        let (alive, peak) = (alive.clone(), peak.clone());
        handles.push(spawn(Builder::new(), move || {
            let now = alive.fetch_add(1, Relaxed) + 1;
            peak.fetch_max(now, Relaxed);
            let first = thread::current_lwp();
            match i % 4 {
                0 => thread::sleep(Duration::from_millis(1)),
                1 => (0..3).for_each(|_| thread::yield_now()),
                _ => compute(CHILD_WORK),
            }
            let last = thread::current_lwp();
            alive.fetch_sub(1, Relaxed);
            (first, last)
        })?);
    }
    let mut seen = Mapping {
        ran_on: BTreeMap::new(),
        moved: 0,
        peak_alive: 0,
    };
    for h in handles {
        let (first, last) = join(h)?;
        let first = first.ok_or("a ULT saw no LWP from current_lwp()")?;
        *seen.ran_on.entry(first).or_default() += 1;
        seen.moved += usize::from(Some(first) != last);
    }
    seen.peak_alive = peak.load(Relaxed);
    Ok(seen)
}

/// The `Threads:` line of /proc/self/status.
fn kernel_threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------
// Step 2: the thread table

fn thread_table() -> Result<(), String> {
    heading(2, "The thread table");
    para(
        "Each thread has a TCB in weave's thread table; its id is a slot index and \
         a generation (shown as slot.generation). A snapshot while named ULTs \
         sleep, park, join and yield, a bound ULT waits in the kernel on an LWP \
         of its own, and main (an OS thread) is registered by thread::current():",
    );
    // Registers main (a plain OS thread) in the thread table.
    thread::current();
    // Measure each ULT's run time for this step (it costs a clock read per
    // switch, so it is off by default); turned off again at the end.
    weave::set_accounting(true);
    let stop = Arc::new(AtomicBool::new(false));
    // Naps of 10 ms until told to stop: asleep at almost any moment, and
    // still there however long the snapshot takes to settle.
    let sleeper = {
        let stop = stop.clone();
        spawn(
            Builder::new().name("sleeper".into()).priority(20),
            move || {
                while !stop.load(Acquire) {
                    thread::sleep(Duration::from_millis(10));
                }
            },
        )?
    };
    let sleeper_id = sleeper.thread().id();
    let joiner = spawn(Builder::new().name("joiner".into()), move || join(sleeper))?;
    let parker = {
        let stop = stop.clone();
        spawn(Builder::new().name("parker".into()), move || {
            while !stop.load(Acquire) {
                thread::park();
            }
        })?
    };
    // One more yielder than LWPs, so that at least two share an LWP and
    // one of them waits its turn (runnable) at any moment; at most four,
    // to keep the table short on a big machine.
    let yielders = (weave::concurrency() + 1).min(4);
    let mut yielding = Vec::new();
    for i in 0..yielders {
        let stop = stop.clone();
        yielding.push(spawn(
            Builder::new().name(format!("yielder-{i}")).priority(10),
            move || {
                compute(START_WORK);
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    thread::yield_now();
                    n += 1;
                }
                n
            },
        )?);
    }
    // The bound ULT blocks its own LWP in the kernel, which is what a call
    // that must block the kernel thread should do.
    let (release, wait) = mpsc::channel::<()>();
    let bound = spawn(
        Builder::new().name("bound-waiter".into()).bound(),
        move || wait.recv().is_ok(),
    )?;

    use thread::BlockReason::{Join, Park, Sleep};
    let mut expected = vec![
        (sleeper_id, Some(Sleep)),
        (joiner.thread().id(), Some(Join)),
        (parker.thread().id(), Some(Park)),
        (bound.thread().id(), None),
    ];
    expected.extend(yielding.iter().map(|h| (h.thread().id(), None)));
    let settled = wait_until(Duration::from_secs(1), || {
        let rows = thread::threads();
        expected.iter().all(|&(id, blocked)| {
            rows.iter().any(|r| {
                r.id == id
                    && r.lwp.is_some()
                    && blocked.map_or(true, |b| r.state == ThreadState::Blocked(b))
            })
        })
    });
    let rows = thread::threads();
    let lwps = weave::lwps();
    stop.store(true, Release);
    parker.thread().unpark();
    // If the bound thread already ended, there is nobody to release.
    let _ = release.send(());

    print_threads(&rows);
    if !settled {
        println!("  (not every thread was in place within 1 s: the snapshot is as it was)");
    }
    para(
        "bound-waiter shows as running: it waits in the kernel, where weave cannot \
         see it. Switches and run time count finished runs. The LWP table (a \
         bound LWP ends with its ULT):",
    );
    print_lwps(&lwps);
    let idle_lwp = lwps.iter().any(|l| l.alive && !l.bound && l.sleeping);
    if idle_lwp && rows.iter().any(|r| r.state == ThreadState::Runnable) {
        para(
            "An LWP sleeps while ULTs wait their turn on another: a started ULT \
             stays on the LWP where it first ran (unless built migratable), and no \
             idle LWP takes it over.",
        );
    }

    let mut yields = 0;
    for h in yielding {
        yields += join(h)?;
    }
    join(parker)?;
    join(joiner)??;
    join(bound)?;

    let short = spawn(Builder::new().name("short-lived".into()), || {
        thread::current().id()
    })?;
    let id = join(short)?;
    let stale = match thread::find(id) {
        Err(e @ ThreadError::Exited { .. }) => e.to_string(),
        Err(e) => format!("{e} (expected: has exited)"),
        Ok(t) => format!("found {t:?}, which has exited!"),
    };
    println!("  The yielders yielded {} times in all.", group(yields));
    println!(
        "  A stale id: after a join, find({}.{}) says:",
        id.index(),
        id.generation()
    );
    println!("    {stale}");
    weave::set_accounting(false);
    Ok(())
}

fn print_threads(rows: &[ThreadInfo]) {
    println!("    id        name          kind   state           prio  LWP  switches  run time");
    for r in rows {
        let kind = if r.os_thread {
            "OS"
        } else if r.bound {
            "bound"
        } else {
            "pool"
        };
        let state = match r.state {
            ThreadState::Running => "running".to_owned(),
            ThreadState::Runnable => "runnable".to_owned(),
            ThreadState::Blocked(why) => format!("blocked: {why:?}").to_lowercase(),
        };
        println!(
            "    {:<8}  {:<12}  {:<5}  {:<14}  {:>4}  {:>3}  {:>8}  {:>8}",
            format!("{}.{}", r.id.index(), r.id.generation()),
            r.name.as_deref().unwrap_or("-"),
            kind,
            state,
            r.priority,
            r.lwp.map_or("-".to_owned(), |l| l.to_string()),
            // weave does not schedule OS threads: it counts nothing for them.
            if r.os_thread {
                "-".to_owned()
            } else {
                group(r.switches)
            },
            if r.os_thread {
                "-".to_owned()
            } else {
                r.run_time.map_or_else(|| "-".to_owned(), fmt_duration)
            },
        );
    }
}

fn print_lwps(lwps: &[LwpInfo]) {
    println!("    LWP  kernel tid  kind   state       ULTs placed  switches");
    let alive: Vec<_> = lwps.iter().filter(|l| l.alive).cloned().collect();
    let (shown, omitted) = some_rows(&alive, |l| l.bound || l.retiring || l.placed > 0);
    for l in shown {
        let state = if l.retiring {
            "retiring"
        } else if l.sleeping {
            "asleep"
        } else {
            "running"
        };
        println!(
            "    {:>3}  {:>10}  {:<5}  {:<10}  {:>11}  {:>8}",
            l.index,
            l.tid,
            if l.bound { "bound" } else { "pool" },
            state,
            l.placed,
            group(l.runs),
        );
    }
    if omitted > 0 {
        println!("    ... and {omitted} more LWPs with nothing placed on them");
    }
    let dead = lwps.len() - alive.len();
    if dead > 0 {
        let slots = if dead == 1 { "slot" } else { "slots" };
        println!("    ({dead} more {slots} of exited LWPs, kept for reuse)");
    }
}

// ---------------------------------------------------------------------------
// Step 3: death row

const DEATH_ROW_WAVES: usize = 100;
const DEATH_ROW_WAVE: usize = 1_000;

/// How long step 3 waits for the reaper: it releases a stack that stayed
/// unused for one to two reap periods of 500 ms.
const REAPER_WAIT: Duration = Duration::from_millis(1_500);

fn death_row() -> Result<(), String> {
    heading(3, "Death row: exited threads' stacks and TCBs are reused");
    para(&format!(
        "An exited ULT's stack and TCB are not freed: they wait on death row, and \
         the next spawn takes the TCB and the next ULT to start the stack; a \
         reaper gives the pages of stacks left \
         unused for a while back to the kernel. {} spawns and joins in waves \
         of {}, from a ULT:",
        group((DEATH_ROW_WAVES * DEATH_ROW_WAVE) as u64),
        group(DEATH_ROW_WAVE as u64),
    ));
    let stacks_before = weave::stack_stats();
    let counters_before = trace::counters();
    let started = Instant::now();
    let waves = spawn(Builder::new().name("waves".into()), spawn_waves)?;
    let slots = join(waves)??;
    let elapsed = started.elapsed();
    let stacks = weave::stack_stats();
    let counters = trace::counters();

    let total = (DEATH_ROW_WAVES * DEATH_ROW_WAVE) as u64;
    println!(
        "  {} spawn+join in {} ({} each)",
        group(total),
        fmt_duration(elapsed),
        fmt_duration(elapsed / total as u32),
    );
    println!("    stack pool (stack_stats)        before      after   this step");
    let rows = [
        (
            "stacks carved (new mapping)",
            stacks_before.carved,
            stacks.carved,
        ),
        (
            "taken from a thread's cache",
            stacks_before.reused_hot,
            stacks.reused_hot,
        ),
        (
            "moved from the pool into caches",
            stacks_before.reused_pool,
            stacks.reused_pool,
        ),
        (
            "pages given back by reaper",
            stacks_before.released,
            stacks.released,
        ),
    ];
    for (what, before, after) in rows {
        println!(
            "    {what:<30}  {:>8}  {:>9}  {:>10}",
            group(before as u64),
            group(after as u64),
            group(after.saturating_sub(before) as u64),
        );
    }
    let reaped = Instant::now();
    let released = wait_until(REAPER_WAIT, || {
        weave::stack_stats().released > stacks.released
    });
    if released {
        println!(
            "  {} later the reaper had given back the pages of {} unused stacks.",
            fmt_duration(reaped.elapsed()),
            group((weave::stack_stats().released - stacks.released) as u64),
        );
    } else {
        println!(
            "  The reaper gave back no pages within {}.",
            fmt_duration(REAPER_WAIT)
        );
    }
    println!(
        "  TCB slots: {} distinct slots served {} threads.",
        group(slots as u64),
        group(total)
    );
    println!(
        "  trace::counters() over the step: +{} spawns, +{} exits,",
        group(counters.spawns - counters_before.spawns),
        group(counters.exits - counters_before.exits),
    );
    println!(
        "  +{} steals, +{} blocks and +{} wakes (joins that had to wait).",
        group(counters.steals - counters_before.steals),
        group(counters.blocks - counters_before.blocks),
        group(counters.wakes - counters_before.wakes),
    );
    let guard = match weave::guard_mode() {
        Some(weave::stack::GuardMode::Madvise) => {
            "madvise(MADV_GUARD_INSTALL): no VMA split per stack"
        }
        Some(weave::stack::GuardMode::Mprotect) => {
            "mprotect(PROT_NONE): this kernel predates MADV_GUARD_INSTALL, two VMAs a stack"
        }
        None => "none installed yet",
    };
    println!(
        "  {} of address space reserved for stacks.",
        fmt_bytes(stacks.reserved)
    );
    println!("  Red zones by {guard}.");
    Ok(())
}

/// The body of step 3's ULT: waves of spawns and joins. Returns how many
/// distinct TCB slots the threads' ids named.
fn spawn_waves() -> Result<usize, String> {
    let mut slots = HashSet::new();
    let mut wave = Vec::with_capacity(DEATH_ROW_WAVE);
    for _ in 0..DEATH_ROW_WAVES {
        for i in 0..DEATH_ROW_WAVE {
            wave.push(spawn(Builder::new(), move || std::hint::black_box(i))?);
        }
        for h in wave.drain(..) {
            slots.insert(h.thread().id().index());
            join(h)?;
        }
    }
    Ok(slots.len())
}

// ---------------------------------------------------------------------------
// Step 4: set_concurrency

/// Restores the concurrency level it was made at (0, automatic, unless
/// WEAVE_LWPS set one) when dropped, so that a failed step cannot leave
/// the pool resized.
struct RestoreConcurrency {
    level: usize,
}

impl RestoreConcurrency {
    fn new() -> RestoreConcurrency {
        RestoreConcurrency {
            level: weave::requested_concurrency(),
        }
    }
}

impl Drop for RestoreConcurrency {
    fn drop(&mut self) {
        if let Err(e) = weave::set_concurrency(self.level) {
            eprintln!(
                "weave demo: cannot restore the concurrency level {}: {e}",
                self.level
            );
        }
    }
}

/// Workers of step 4, and how long each runs: long enough to still be
/// running when the pool shrinks under them.
const WORKERS: usize = 32;
const WORKER_TIME: Duration = Duration::from_millis(150);

/// The pool sizes step 4 grows to and shrinks to.
const GROWN: usize = 4;
const SHRUNK: usize = 1;

fn set_concurrency(n: usize) -> Result<(), String> {
    weave::set_concurrency(n).map_err(|e| e.to_string())
}

fn pool_lwps() -> (usize, usize) {
    let lwps = weave::lwps();
    let pool = lwps.iter().filter(|l| l.alive && !l.bound);
    let retiring = pool.clone().filter(|l| l.retiring).count();
    (pool.count(), retiring)
}

/// The pool as one call of step 4 left it.
struct PoolSnapshot {
    call: String,
    concurrency: usize,
    requested: usize,
    alive: usize,
    retiring: usize,
}

impl PoolSnapshot {
    fn take(call: impl Into<String>) -> PoolSnapshot {
        let (alive, retiring) = pool_lwps();
        PoolSnapshot {
            call: call.into(),
            concurrency: weave::concurrency(),
            requested: weave::requested_concurrency(),
            alive,
            retiring,
        }
    }
}

fn concurrency() -> Result<(), String> {
    heading(4, "set_concurrency: resizing the pool while threads run");
    para(&format!(
        "As pthread_setconcurrency: set_concurrency(n) asks for n pool LWPs, 0 for \
         automatic. Surplus LWPs retire: they take no new ULTs and leave once the \
         ULTs that started on them have finished. {WORKERS} workers ({} of \
         sleeps and yields each) start after the pool grows to {GROWN}; it shrinks \
         to {SHRUNK} under them:",
        fmt_duration(WORKER_TIME)
    ));
    let restore = RestoreConcurrency::new();
    let mut snapshots = vec![PoolSnapshot::take("before")];
    set_concurrency(GROWN)?;
    snapshots.push(PoolSnapshot::take(format!("set_concurrency({GROWN})")));

    let workers = (0..WORKERS)
        .map(|_| {
            spawn(Builder::new(), || {
                compute(START_WORK);
                let home = thread::current_lwp();
                let until = Instant::now() + WORKER_TIME;
                while Instant::now() < until {
                    thread::sleep(Duration::from_millis(1));
                    thread::yield_now();
                }
                home
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Let every worker start, and so be placed on an LWP.
    std::thread::sleep(Duration::from_millis(20));
    set_concurrency(SHRUNK)?;
    let shrunk = Instant::now();
    snapshots.push(PoolSnapshot::take(format!("set_concurrency({SHRUNK})")));
    let lwps_shrunk = weave::lwps();
    let left = wait_until(Duration::from_secs(5), || pool_lwps().1 == 0);
    let waited = shrunk.elapsed();
    snapshots.push(PoolSnapshot::take("retirees left"));

    let mut homes = BTreeMap::new();
    for w in workers {
        let home = join(w)?.ok_or("a worker saw no LWP from current_lwp()")?;
        *homes.entry(home).or_insert(0) += 1;
    }
    let level = restore.level;
    drop(restore);
    snapshots.push(PoolSnapshot::take(format!("set_concurrency({level})")));

    println!("    after                concurrency()  requested  pool LWPs  retiring");
    for p in &snapshots {
        println!(
            "    {:<19}  {:>13}  {:>9}  {:>9}  {:>8}",
            p.call, p.concurrency, p.requested, p.alive, p.retiring
        );
    }
    let spread: Vec<_> = homes
        .iter()
        .map(|(l, n)| format!("{n} on LWP {l}"))
        .collect();
    println!(
        "  The workers ran {}. Just after set_concurrency({SHRUNK}):",
        spread.join(", ")
    );
    print_lwps(&lwps_shrunk);
    if left {
        println!(
            "  The retiring LWPs left {} after set_concurrency({SHRUNK}), their workers done.",
            fmt_duration(waited)
        );
    } else {
        println!("  The retiring LWPs had not left after 5 s.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Step 5: priorities

/// Priorities of the children of step 5, in spawn order.
const CHILD_PRIORITIES: [u8; 6] = [2, 30, 5, 25, 10, 31];

fn priorities() -> Result<(), String> {
    heading(5, "Priorities and safe points, on one LWP");
    para(&format!(
        "weave has priorities 0-{} (default {}) and switches only at safe points: \
         spawn, yield, any blocking call, and preempt_point(). With \
         set_concurrency(1), a parent of the default priority spawns {} children:",
        thread::PRIORITY_LEVELS - 1,
        thread::DEFAULT_PRIORITY,
        CHILD_PRIORITIES.len(),
    ));
    let _restore = RestoreConcurrency::new();
    set_concurrency(1)?;

    let parent = spawn(Builder::new().name("parent".into()), || {
        let order = Arc::new(AtomicUsize::new(0));
        let children = CHILD_PRIORITIES
            .iter()
            .map(|&p| {
                let order = order.clone();
                spawn(Builder::new().priority(p), move || {
                    (p, order.fetch_add(1, SeqCst))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        children
            .into_iter()
            .map(join)
            .collect::<Result<Vec<_>, _>>()
    })?;
    let parent_priority = thread::DEFAULT_PRIORITY;
    let mut ran = join(parent)??;
    ran.sort_by_key(|&(_, at)| at);
    let ran: Vec<u8> = ran.into_iter().map(|(p, _)| p).collect();
    // The rule: a child above the parent runs at once (its spawn is a safe
    // point); the rest wait for the parent to block in join, then run
    // highest first.
    let mut expected: Vec<u8> = CHILD_PRIORITIES
        .iter()
        .copied()
        .filter(|&p| p > parent_priority)
        .collect();
    let mut lower: Vec<u8> = CHILD_PRIORITIES
        .iter()
        .copied()
        .filter(|&p| p <= parent_priority)
        .collect();
    lower.sort_by(|a, b| b.cmp(a));
    expected.extend(lower);
    println!("  spawn order: {}", list(&CHILD_PRIORITIES));
    println!("  run order:   {}", list(&ran));
    if ran == expected {
        para(&format!(
            "Children above {parent_priority} ran as each was spawned (spawn is a \
             safe point); the rest waited until the parent blocked in join, then \
             ran highest first."
        ));
    } else {
        println!(
            "  (expected {}: children above {parent_priority} at spawn, then the rest \
             highest first)",
            list(&expected)
        );
    }

    para(
        "A long computation is preempted only where it calls preempt_point(). \
         'cruncher' (priority 8) loops on the LWP; main unparks 'urgent' \
         (priority 28):",
    );
    let before = trace::counters();
    let handover = preempt_scenario()?;
    let preempts = trace::counters().preempts - before.preempts;
    match handover {
        Handover::Midway {
            latency,
            before,
            after,
        } => {
            println!(
                "  urgent ran {} after the unpark, between two of cruncher's \
                 iterations",
                fmt_duration(latency)
            );
            println!("  ({before} before, {after} after); preemption requests: {preempts}.");
        }
        Handover::AfterCruncher { latency } => println!(
            "  urgent ran only when cruncher had finished, {} after the unpark",
            fmt_duration(latency)
        ),
    }
    Ok(())
}

/// When urgent got the LWP, as cruncher saw it.
enum Handover {
    /// Between two iterations of cruncher's loop, which then went on.
    Midway {
        latency: Duration,
        before: u64,
        after: u64,
    },
    /// Only once cruncher had finished.
    AfterCruncher { latency: Duration },
}

/// Cruncher iterations after urgent has run: enough to show that cruncher
/// resumed and finished its work, short enough to take well under 1 ms.
const ITERATIONS_AFTER: u64 = 100;

/// Rounds of arithmetic in one cruncher iteration, between two safe
/// points: about a microsecond.
const CRUNCH_ROUNDS: u64 = 1_000;

/// Cruncher iterations before main unparks urgent.
const ITERATIONS_BEFORE: u64 = 100;

/// The longest cruncher runs: if preemption failed, urgent runs after it.
const CRUNCH_LIMIT: Duration = Duration::from_secs(1);

fn preempt_scenario() -> Result<Handover, String> {
    let go = Arc::new(AtomicBool::new(false));
    let urgent_ran = Arc::new(AtomicBool::new(false));
    let urgent = {
        let (go, ran) = (go.clone(), urgent_ran.clone());
        spawn(
            Builder::new().name("urgent".into()).priority(28),
            move || {
                while !go.load(Acquire) {
                    thread::park();
                }
                ran.store(true, Release);
                Instant::now()
            },
        )?
    };
    let urgent_id = urgent.thread().id();
    let parked = wait_until(Duration::from_secs(1), || {
        state_of(urgent_id) == Some(ThreadState::Blocked(thread::BlockReason::Park))
    });
    // Iterations cruncher has done, so that main unparks urgent while
    // cruncher is well inside its loop.
    let progress = Arc::new(AtomicU64::new(0));
    let cruncher = {
        let (ran, progress) = (urgent_ran.clone(), progress.clone());
        spawn(
            Builder::new().name("cruncher".into()).priority(8),
            move || {
                let start = Instant::now();
                let (mut before, mut after) = (0u64, 0u64);
                while after < ITERATIONS_AFTER && start.elapsed() < CRUNCH_LIMIT {
                    compute(CRUNCH_ROUNDS);
                    thread::preempt_point();
                    if ran.load(Acquire) {
                        after += 1;
                    } else {
                        before += 1;
                        progress.store(before, Relaxed);
                    }
                }
                (before, after)
            },
        )?
    };
    let crunching = wait_until(Duration::from_secs(1), || {
        progress.load(Relaxed) >= ITERATIONS_BEFORE
    });
    if !(parked && crunching) {
        println!("  (urgent had not parked, or cruncher not started, within 1 s)");
    }
    let unparked_at = Instant::now();
    go.store(true, Release);
    urgent.thread().unpark();
    let ran_at = join(urgent)?;
    let (before, after) = join(cruncher)?;
    let latency = ran_at.saturating_duration_since(unparked_at);
    Ok(if before > 0 && after > 0 {
        Handover::Midway {
            latency,
            before,
            after,
        }
    } else {
        Handover::AfterCruncher { latency }
    })
}

fn state_of(id: thread::ThreadId) -> Option<ThreadState> {
    thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.state)
}

// ---------------------------------------------------------------------------
// Step 6: T1/T2/T3, an unlock on one LWP preempts the other

/// Priorities of the lecture's three threads: T3 highest, T1 lowest.
const T1_PRIORITY: u8 = 4;
const T2_PRIORITY: u8 = 16;
const T3_PRIORITY: u8 = 28;

/// Tries at landing a ULT on the LWP step 6 wants it on; each is about a
/// coin toss with two LWPs, since a ULT that lands wrong keeps its LWP busy.
const PLACEMENT_TRIES: usize = 100;

/// How long step 6 lets T1 run before giving up on T3: only reached if the
/// unlock failed to preempt T1, which the step then reports.
const HOG_LIMIT: Duration = Duration::from_secs(1);

/// The LWP whose preemption requests the step-6 hook counts.
static PREEMPT_WATCHED: AtomicUsize = AtomicUsize::new(usize::MAX);
static PREEMPTS_SEEN: AtomicU64 = AtomicU64::new(0);

/// The event hook of step 6: counts requests to switch sent to one LWP.
/// Atomics only, as `count_event`.
fn count_preempt(e: &Event) {
    if let Event::Preempt { lwp } = *e {
        if lwp == PREEMPT_WATCHED.load(Relaxed) {
            PREEMPTS_SEEN.fetch_add(1, Relaxed);
        }
    }
}

/// Restores the time slice in force when it was made.
struct RestoreSlice(Option<Duration>);

impl Drop for RestoreSlice {
    fn drop(&mut self) {
        weave::set_time_slice(self.0);
    }
}

/// How a step-6 candidate ULT says where it first ran.
struct Placement {
    report: mpsc::Sender<Option<usize>>,
    done: Arc<AtomicBool>,
}

impl Placement {
    /// Checks where the calling ULT first ran. On `wrong` it reports so and
    /// keeps that LWP busy (spinning) until a later candidate is placed, so
    /// that the next one lands on the other LWP; returns false. Otherwise
    /// it reports the LWP and returns true.
    fn settle(self, wrong: Option<usize>) -> bool {
        let here = thread::current_lwp();
        if here == wrong {
            let _ = self.report.send(None);
            while !self.done.load(Acquire) {
                std::hint::spin_loop();
            }
            return false;
        }
        let _ = self.report.send(here);
        true
    }
}

/// Spawns candidates made by `make` until one reports that it is placed;
/// returns it and its LWP.
fn spawn_placed<T: Send + 'static>(
    who: &str,
    mut make: impl FnMut(Placement) -> Result<JoinHandle<T>, String>,
) -> Result<(JoinHandle<T>, usize), String> {
    let done = Arc::new(AtomicBool::new(false));
    let mut misplaced = Vec::new();
    let mut placed = Err(format!(
        "{who} landed on the wrong LWP {PLACEMENT_TRIES} times"
    ));
    for _ in 0..PLACEMENT_TRIES {
        let (report, rx) = mpsc::channel();
        let h = make(Placement {
            report,
            done: done.clone(),
        })?;
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Some(lwp)) => {
                placed = Ok((h, lwp));
                break;
            }
            Ok(None) => misplaced.push(h),
            Err(_) => {
                placed = Err(format!("{who} did not run within 5 s"));
                break;
            }
        }
    }
    done.store(true, Release);
    for h in misplaced {
        join(h)?;
    }
    placed
}

fn multi_cpu() -> Result<(), String> {
    heading(6, "T1/T2/T3: an unlock on one LWP preempts another");
    para(&format!(
        "The lecture's scenario, on two LWPs: T2 (priority {T2_PRIORITY}) holds a \
         weave Mutex on one LWP; T3 ({T3_PRIORITY}) waits for it; T1 \
         ({T1_PRIORITY}) loops on preempt_point() on the other LWP, where T3 is \
         placed. T2's unlock cannot touch the other LWP's registers: it raises \
         that LWP's preempt flag. Time slices are off here, so nothing else \
         could let T3 in:"
    ));
    let _restore = RestoreConcurrency::new();
    let _slice = RestoreSlice(weave::time_slice());
    set_concurrency(2)?;
    weave::set_time_slice(None);
    PREEMPTS_SEEN.store(0, Relaxed);
    let _hook = HookGuard::install(count_preempt);

    let mutex = Arc::new(weave::sync::Mutex::new(()));
    let release = Arc::new(AtomicBool::new(false));
    let (t2, lwp_b) = spawn_placed("T2", |p| {
        let (mutex, release) = (mutex.clone(), release.clone());
        spawn(
            Builder::new().name("T2".into()).priority(T2_PRIORITY),
            move || {
                let guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
                p.settle(None);
                while !release.load(Acquire) {
                    thread::park();
                }
                // Taken before the unlock: T3 may run on the other LWP
                // before this ULT gets to read the clock again.
                let at = Instant::now();
                drop(guard);
                at
            },
        )
    })?;

    let t3_ran = Arc::new(AtomicBool::new(false));
    let t1_progress = Arc::new(AtomicU64::new(0));
    let (t3, lwp_a) = spawn_placed("T3", |p| {
        let (mutex, ran, progress) = (mutex.clone(), t3_ran.clone(), t1_progress.clone());
        spawn(
            Builder::new().name("T3".into()).priority(T3_PRIORITY),
            move || {
                if !p.settle(Some(lwp_b)) {
                    return None;
                }
                let _guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
                let at = Instant::now();
                // T1 is switched out on this LWP: the iteration it is at.
                let t1_at = progress.load(Relaxed);
                ran.store(true, Release);
                Some((at, thread::current_lwp(), t1_at))
            },
        )
    })?;
    PREEMPT_WATCHED.store(lwp_a, Relaxed);
    let t3_id = t3.thread().id();
    let t3_waits = wait_until(Duration::from_secs(1), || {
        state_of(t3_id) == Some(ThreadState::Blocked(thread::BlockReason::Mutex))
    });

    let (t1, _) = spawn_placed("T1", |p| {
        let (ran, progress) = (t3_ran.clone(), t1_progress.clone());
        spawn(
            Builder::new().name("T1".into()).priority(T1_PRIORITY),
            move || {
                if !p.settle(Some(lwp_b)) {
                    return None;
                }
                let start = Instant::now();
                let mut iterations = 0u64;
                loop {
                    iterations += 1;
                    progress.store(iterations, Relaxed);
                    thread::preempt_point();
                    if ran.load(Acquire) || start.elapsed() >= HOG_LIMIT {
                        break;
                    }
                }
                Some(iterations)
            },
        )
    })?;
    let hogging = wait_until(Duration::from_secs(1), || t1_progress.load(Relaxed) > 0);
    if !(t3_waits && hogging) {
        println!("  (T3 had not blocked on the mutex, or T1 not started, within 1 s)");
    }
    let preempts_before = PREEMPTS_SEEN.load(Relaxed);
    release.store(true, Release);
    t2.thread().unpark();
    let unlocked_at = join(t2)?;
    let t1_iterations = join(t1)?.unwrap_or(0);
    let (t3_at, t3_lwp, t1_at) = join(t3)?.ok_or("T3 was not placed")?;
    let preempts = PREEMPTS_SEEN.load(Relaxed) - preempts_before;
    let t3_lwp = t3_lwp.map_or("?".to_owned(), |l| l.to_string());
    let latency = fmt_duration(t3_at.saturating_duration_since(unlocked_at));
    if t1_at > 0 && t1_at == t1_iterations {
        println!(
            "  T2 unlocked on LWP {lwp_b}; T3 ran on LWP {t3_lwp} {latency} later, \
             between two of T1's"
        );
        println!(
            "  iterations: T1 was switched out at iteration {} and then finished.",
            group(t1_at)
        );
        println!("  Requests to switch sent to LWP {lwp_a}: {preempts}.");
    } else {
        println!(
            "  T3 ran on LWP {t3_lwp} only after T1 left its loop ({} iterations):",
            group(t1_iterations)
        );
        println!("  the unlock did not preempt T1.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Step 7: a stack overflow caught by the red zone

fn overflow() -> Result<(), String> {
    heading(
        7,
        "A stack overflow, caught by the red zone (in a child process)",
    );
    para(
        "Below each ULT stack lies a guard page, Stein & Shah's red zone: a stack \
         that overflows faults there at once, instead of overwriting a neighbour \
         that would fail later, far from the cause. The overflow aborts the \
         process, so this step re-runs this program with WEAVE_DEMO_OVERFLOW=1, \
         where a ULT recurses without bound:",
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let out = Command::new(&exe)
        .arg("demo")
        .env(OVERFLOW_ENV, "1")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("  The child's stdout, then its stderr:");
    for line in stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.is_empty())
    {
        println!("  | {line}");
    }
    let how = match out.status.signal() {
        Some(SIGABRT) => format!("killed by signal {SIGABRT} (SIGABRT)"),
        Some(sig) => format!("killed by signal {sig}"),
        None => format!("exited with {}", out.status),
    };
    println!("  The child was {how}.");
    Ok(())
}

/// The child process of step 7: overflows a named ULT's stack. Returns
/// only if the overflow was not caught.
fn overflow_child() -> Result<(), String> {
    let h = spawn(
        Builder::new()
            .name(OVERFLOW_THREAD.into())
            .stack_size(weave::stack::DEFAULT_STACK_SIZE),
        || recurse(0),
    )?;
    // The id spawn gave, for the parent to compare with the report.
    println!("spawned thread '{OVERFLOW_THREAD}' as {}", h.thread().id());
    let depth = join(h)?;
    Err(format!(
        "the recursion returned at depth {depth}: the stack overflow was not caught"
    ))
}

/// Recurses until the stack runs out: the local array is passed through
/// `black_box` so that neither it nor the recursion is optimised away.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return depth;
    }
    recurse(depth + 1).wrapping_add(frame[7])
}

// ---------------------------------------------------------------------------
// Helpers

/// Spawns with `b`, with spawn's error as a message.
fn spawn<F, T>(b: Builder, f: F) -> Result<JoinHandle<T>, String>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    b.spawn(f).map_err(|e| e.to_string())
}

/// Joins, turning a panic of the thread into a message that names it.
fn join<T>(h: JoinHandle<T>) -> Result<T, String> {
    let who = match h.thread().name() {
        Some(n) => format!("thread '{n}' ({})", h.thread().id()),
        None => format!("thread {}", h.thread().id()),
    };
    h.join().map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        format!("{who} panicked: {msg}")
    })
}

/// Polls `cond` from this OS thread every millisecond until it holds or
/// `timeout` passes; says whether it held.
fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Most rows an LWP table shows: enough for the 2 to 4 LWPs of the tour
/// on a small machine, while a machine with many CPUs still gets a short
/// tour.
const MAX_LWP_ROWS: usize = 8;

/// Picks at most [`MAX_LWP_ROWS`] of `rows`, those for which `notable`
/// holds first, keeping their order; returns them and how many were left
/// out.
fn some_rows<T>(rows: &[T], notable: impl Fn(&T) -> bool) -> (Vec<&T>, usize) {
    let mut spare = MAX_LWP_ROWS.saturating_sub(rows.iter().filter(|r| notable(r)).count());
    let mut shown = Vec::new();
    for r in rows {
        if notable(r) {
            shown.push(r);
        } else if spare > 0 {
            spare -= 1;
            shown.push(r);
        }
    }
    shown.truncate(MAX_LWP_ROWS);
    let omitted = rows.len() - shown.len();
    (shown, omitted)
}

fn fmt_bytes(n: usize) -> String {
    const GIB: usize = 1 << 30;
    const MIB: usize = 1 << 20;
    if n >= GIB && n % GIB == 0 {
        format!("{} GiB", n / GIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}

fn list(prios: &[u8]) -> String {
    prios
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Step 8: signals (in a child process: handlers are process-wide)

/// Set in the environment of the child process of step 8: `run` then
/// shows signal delivery instead of giving the tour.
const SIGNALS_ENV: &str = "WEAVE_DEMO_SIGNALS";

fn signals() -> Result<(), String> {
    heading(
        8,
        "Signals: per-ULT masks, the four delivery cases, handlers as threads",
    );
    para(
        "Each ULT has its own signal mask, kept in its TCB: changing it is a store, \
         and the kernel mask of an LWP changes only when a signal arrives that no \
         ULT takes (the lecture's lazy mask). weave's handler in the kernel's table \
         picks who takes each signal; the handler itself runs on a ULT of a small \
         pool. Handlers are process-wide, so this step runs in a child process \
         (WEAVE_DEMO_SIGNALS=1):",
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let out = Command::new(&exe)
        .arg("demo")
        .env(SIGNALS_ENV, "1")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  | {line}");
    }
    if !out.status.success() {
        return Err(format!(
            "the signals child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// A bound ULT named `name` that sets its mask for SIGUSR1 (`blocks`),
/// then runs (never yielding its LWP) until `stop`. Returns it and its LWP.
fn spinner(
    name: &str,
    blocks: bool,
    stop: &Arc<AtomicBool>,
) -> Result<(JoinHandle<()>, usize), String> {
    use weave::signal::{How, SigSet};
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (l, st) = (lwp.clone(), stop.clone());
    let h = Builder::new()
        .name(name.into())
        .bound()
        .spawn(move || {
            let how = if blocks { How::Block } else { How::Unblock };
            weave::signal::mask(how, &SigSet::of(&[libc::SIGUSR1]));
            l.store(thread::current_lwp().unwrap_or(usize::MAX), SeqCst);
            while !st.load(SeqCst) {
                std::hint::spin_loop();
            }
        })
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    while lwp.load(SeqCst) == usize::MAX {
        if t.elapsed() > Duration::from_secs(10) {
            return Err(format!("{name} did not start"));
        }
        std::thread::yield_now();
    }
    Ok((h, lwp.load(SeqCst)))
}

fn tgkill_lwp(lwp: usize, sig: i32) -> Result<(), String> {
    let tid = weave::lwps()
        .into_iter()
        .find(|l| l.index == lwp)
        .map(|l| l.tid)
        .ok_or("no such LWP")?;
    // SAFETY: tgkill to a thread of our own process.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) };
    if rc != 0 {
        return Err(format!("tgkill: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Waits (up to 10 s) until `got` has `n` entries.
fn wait_deliveries<T>(got: &std::sync::Mutex<Vec<T>>, n: usize) -> Result<(), String> {
    let t = Instant::now();
    while got.lock().map_err(|e| e.to_string())?.len() < n {
        if t.elapsed() > Duration::from_secs(10) {
            return Err("a signal was not delivered within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The child of step 8: each case happening, then the lazy mask, queued
/// against coalesced signals, and a handler locking a held mutex.
fn signals_child() -> Result<(), String> {
    use weave::signal::{self, How, SigInfo, SigSet};
    let sig = libc::SIGUSR1;
    let got: Arc<std::sync::Mutex<Vec<SigInfo>>> = Arc::default();
    let g = got.clone();
    signal::handle(sig, move |i| g.lock().unwrap().push(*i)).map_err(|e| e.to_string())?;
    // The main thread (an OS thread) blocks it: only ULTs take it here.
    signal::mask(How::Block, &SigSet::of(&[sig]));
    // The ULTs' names by id, kept here: a ULT may exit before its line is
    // printed, and then the thread table no longer names it.
    let known: Arc<std::sync::Mutex<Vec<(thread::ThreadId, String)>>> = Arc::default();
    let name_of = |i: &SigInfo| {
        known
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| Some(*id) == i.target)
            .map_or_else(|| "?".to_owned(), |(_, n)| n.clone())
    };
    let remember = |h: &thread::Thread| {
        known
            .lock()
            .unwrap()
            .push((h.id(), h.name().unwrap_or("?").to_owned()));
    };
    let show = |case: &str, sent_to: usize, n: usize| -> Result<(), String> {
        wait_deliveries(&got, n)?;
        let i = got.lock().unwrap()[n - 1];
        println!(
            "{case:<44} kernel chose LWP {sent_to}; taken by '{}' ({:?})",
            name_of(&i),
            i.route
        );
        Ok(())
    };
    // Case 1 and 3: two running ULTs, one blocking the signal.
    let stop = Arc::new(AtomicBool::new(false));
    let (open, open_lwp) = spinner("open", false, &stop)?;
    let (closed, closed_lwp) = spinner("closed", true, &stop)?;
    remember(open.thread());
    remember(closed.thread());
    tgkill_lwp(open_lwp, sig)?;
    show("case 1: the running ULT does not block it", open_lwp, 1)?;
    tgkill_lwp(closed_lwp, sig)?;
    show(
        "case 3: it blocks it, one on another LWP not",
        closed_lwp,
        2,
    )?;
    stop.store(true, SeqCst);
    open.join().map_err(|_| "a ULT panicked")?;
    closed.join().map_err(|_| "a ULT panicked")?;
    // Case 2: a waiting ULT of the LWP that runs one blocking it.
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let waiter = Builder::new()
        .name("waiter".into())
        .spawn(move || {
            signal::mask(How::Unblock, &SigSet::of(&[sig]));
            let _ = rx.recv();
        })
        .map_err(|e| e.to_string())?;
    remember(waiter.thread());
    while !matches!(
        state_of(waiter.thread().id()),
        Some(ThreadState::Blocked(_))
    ) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (closed, closed_lwp) = spinner("closed-2", true, &stop)?;
    tgkill_lwp(closed_lwp, sig)?;
    show("case 2: it blocks it, a ULT not running not", closed_lwp, 3)?;
    stop.store(true, SeqCst);
    closed.join().map_err(|_| "a ULT panicked")?;
    drop(tx);
    waiter.join().map_err(|_| "a ULT panicked")?;
    // Case 4: everyone blocks it, then one ULT unblocks it.
    let before = signal::kernel_mask_changes();
    let unblock = Arc::new(AtomicBool::new(false));
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (u, l) = (unblock.clone(), lwp.clone());
    let late = Builder::new()
        .name("late".into())
        .bound()
        .spawn(move || {
            let set = SigSet::of(&[sig]);
            signal::mask(How::Block, &set);
            for _ in 0..100_000 {
                signal::mask(How::Unblock, &set);
                signal::mask(How::Block, &set);
            }
            // Only now, with the signal blocked for good, is it sent.
            l.store(thread::current_lwp().unwrap_or(usize::MAX), SeqCst);
            while !u.load(SeqCst) {
                std::hint::spin_loop();
            }
            signal::mask(How::Unblock, &set);
        })
        .map_err(|e| e.to_string())?;
    remember(late.thread());
    while lwp.load(SeqCst) == usize::MAX {
        std::thread::yield_now();
    }
    let late_lwp = lwp.load(SeqCst);
    tgkill_lwp(late_lwp, sig)?;
    let t = Instant::now();
    loop {
        // SAFETY: a zeroed sigset_t is a valid out-value for sigpending.
        let mut p: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `p` is a valid out-pointer; `p` a valid set.
        if unsafe { libc::sigpending(&mut p) == 0 && libc::sigismember(&p, sig) == 1 } {
            break;
        }
        if t.elapsed() > Duration::from_secs(10) {
            return Err("the signal did not become pending".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "case 4: every ULT blocks it: pending in the kernel, {} deliveries meanwhile",
        got.lock().unwrap().len() - 3
    );
    unblock.store(true, SeqCst);
    show("  ... until 'late' unblocks it", late_lwp, 4)?;
    late.join().map_err(|_| "a ULT panicked")?;
    println!(
        "lazy mask: 'late' changed its mask 200,002 times; kernel mask changes: {}",
        signal::kernel_mask_changes() - before
    );
    // Queued against coalesced: 20 sends each to a ULT that blocks both.
    let rt = signal::sigrtmin() + 1;
    let counts: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    for (k, s) in [(0, rt), (1, libc::SIGUSR2)] {
        let c = counts.clone();
        signal::handle(s, move |_| {
            c[k].fetch_add(1, SeqCst);
        })
        .map_err(|e| e.to_string())?;
    }
    let both = SigSet::of(&[rt, libc::SIGUSR2]);
    let (ready, go) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (r, gg) = (ready.clone(), go.clone());
    let target = thread::spawn(move || {
        signal::mask(How::Block, &both);
        r.store(true, SeqCst);
        while !gg.load(SeqCst) {
            thread::yield_now();
        }
        signal::mask(How::Unblock, &both);
    });
    while !ready.load(SeqCst) {
        std::thread::yield_now();
    }
    for v in 0..20 {
        target.thread().sigqueue(rt, v).map_err(|e| e.to_string())?;
        target
            .thread()
            .kill(libc::SIGUSR2)
            .map_err(|e| e.to_string())?;
    }
    go.store(true, SeqCst);
    target.join().map_err(|_| "a ULT panicked")?;
    let t = Instant::now();
    while (counts[0].load(SeqCst) < 20 || counts[1].load(SeqCst) < 1)
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "20 x SIGRTMIN+1 (queued): {} deliveries; 20 x SIGUSR2 (standard): {} (coalesced)",
        counts[0].load(SeqCst),
        counts[1].load(SeqCst)
    );
    // A handler thread that locks a mutex held by the thread it interrupted.
    let m = Arc::new(weave::sync::Mutex::new(0u32));
    let entered = Arc::new(AtomicBool::new(false));
    let (hm, he) = (m.clone(), entered.clone());
    signal::handle(sig, move |_| {
        he.store(true, SeqCst);
        *hm.lock().unwrap() += 1;
    })
    .map_err(|e| e.to_string())?;
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (am, ae, l) = (m.clone(), entered.clone(), lwp.clone());
    let holder = Builder::new()
        .name("holder".into())
        .bound()
        .spawn(move || {
            signal::mask(How::Unblock, &SigSet::of(&[sig]));
            let g = am.lock().unwrap();
            l.store(thread::current_lwp().unwrap_or(usize::MAX), SeqCst);
            while !ae.load(SeqCst) {
                std::hint::spin_loop();
            }
            drop(g);
        })
        .map_err(|e| e.to_string())?;
    while lwp.load(SeqCst) == usize::MAX {
        std::thread::yield_now();
    }
    tgkill_lwp(lwp.load(SeqCst), sig)?;
    holder.join().map_err(|_| "a ULT panicked")?;
    let t = Instant::now();
    while *m.lock().unwrap() == 0 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "handler thread: locked the mutex 'holder' held when interrupted; \
         waited, then got it ({})",
        *m.lock().unwrap()
    );
    Ok(())
}

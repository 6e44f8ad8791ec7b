//! The lab: every algorithm on real OS threads for a moment, measured.
//!
//! [`run`] takes each algorithm in turn through two phases and returns a
//! [`LabReport`], which prints as a table (`Display`) or, with the crate's
//! `json` feature, as JSON (`LabReport::to_json`):
//!
//! 1. **Contention.** Its threads (2 for the two-thread algorithms,
//!    [`LabOptions::threads`] for the others) enter and leave the critical
//!    region as fast as they can for [`LabOptions::duration`]. Inside, a
//!    checker counts the threads present (an atomic occupancy counter: an
//!    entry that finds someone there is a *violation*) and increments a
//!    counter by a separate load and store, like `counter = counter + 1` in C;
//!    when two threads overlap, one increment is lost, and `entries - counter`
//!    is the number of *lost updates*. Each thread also notes how long it
//!    waited to get in (from its call to `enter`) and how many entries by
//!    others came between its passing the *doorway* and its own entry (how
//!    many times it was *overtaken*; see
//!    [`CriticalSection::enter_with_doorway`]). Counted from the doorway,
//!    the bounds hold whatever the kernel does: at most 1 for Peterson's and
//!    strict alternation, at most threads - 1 for the ticket lock (exact on
//!    x86; the ticket's `Relaxed` increment orders nothing, so on a weaker
//!    CPU an earlier holder's entry could in principle be counted late).
//!    TSL has no doorway and no bound; its count starts at the call.
//! 2. **Progress probe.** The other threads are gone (they stay in their
//!    noncritical regions for good) and thread 0 wants in
//!    [`PROBE_ENTRIES`] times, waiting up to [`LabOptions::patience`] for
//!    each. A correct solution lets it in at once; strict alternation lets
//!    it in at most once more, then stalls: the other side, outside, blocks
//!    it.
//!
//! The checker uses only `Relaxed` atomics, so it adds no ordering of its own
//! that could hide a bug of the lock, and it never makes the broken locks
//! undefined behaviour: the "racy" counter is an atomic whose load and store
//! are separate, which loses updates exactly as a plain `+=` would.
//!
//! Nothing here is timed against a threshold: a run reports what it saw. On a
//! machine with fewer CPUs than threads, throughput and waits reflect the
//! kernel's scheduling as much as the lock.
//!
//! This module uses `std` directly rather than `crate::sync`: it is about
//! real threads and real time, and is left out under `--cfg loom`.

mod report;

pub use report::{AlgorithmReport, LabReport, Progress};

use crate::{
    CriticalSection, InterruptLock, LockVariable, Peterson, Side, StrictAlternation,
    TextbookPeterson, TicketLock, TslLock, TtasLock,
};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// How many entries the progress probe asks for. Three, because strict
/// alternation may still owe the prober one turn from the contention phase
/// and let it in once; the second and third requests show the stall either
/// way, and a correct lock grants all three at once.
pub const PROBE_ENTRIES: u32 = 3;

/// How the lab runs. `Default` is the full run, [`LabOptions::quick`] a
/// short one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabOptions {
    /// How long each algorithm runs under contention.
    pub duration: Duration,
    /// Threads for the algorithms any number of threads may share; the
    /// two-thread ones, and disabling interrupts (shown on two LWPs), always
    /// run with 2.
    pub threads: usize,
    /// Spins between the lock variable's read and its write: the teaching
    /// knob of [`LockVariable::with_window`]. 0 is the bare algorithm.
    pub lock_variable_window: u32,
    /// Spins inside the critical region between reading and writing the
    /// counter, so that an overlap loses an update.
    pub critical_work: u32,
    /// Spins in the noncritical region between two entries, so that a
    /// thread that just left does not always come straight back first.
    pub noncritical_work: u32,
    /// How long the progress probe waits for each entry before calling it a
    /// stall.
    pub patience: Duration,
}

impl LabOptions {
    /// A short run: 50 ms per algorithm.
    pub fn quick() -> Self {
        Self {
            duration: Duration::from_millis(50),
            patience: Duration::from_millis(10),
            ..Self::default()
        }
    }
}

impl Default for LabOptions {
    /// 200 ms per algorithm, 4 threads for the N-thread locks (more than the
    /// 2 CPUs of a small machine, so that being descheduled while holding or
    /// waiting shows up in the fairness columns), and a lock-variable window
    /// of 64 spins, about a microsecond: wide enough that two threads on two
    /// cores fall into it many times in 50 ms, narrow enough that the lock
    /// still mostly works, which is what makes the bug treacherous.
    fn default() -> Self {
        Self {
            duration: Duration::from_millis(200),
            threads: 4,
            lock_variable_window: 64,
            critical_work: 16,
            noncritical_work: 16,
            patience: Duration::from_millis(20),
        }
    }
}

/// Runs every algorithm as described in the [module docs](self) and reports
/// what was seen. Takes about `8 * (duration + threads' start-up)` plus up to
/// `PROBE_ENTRIES * patience` for strict alternation's stall.
pub fn run(opts: LabOptions) -> LabReport {
    let n = opts.threads.max(1);
    let any = vec![(); n];
    let two = Side::BOTH;
    let rows = vec![
        measure(
            "disabling interrupts",
            "OS threads cannot stop the kernel preempting them: no exclusion between LWPs",
            &InterruptLock::new(),
            &[(); 2],
            &opts,
        ),
        measure(
            "lock variable",
            "broken on purpose: both read 0 before either writes 1",
            &LockVariable::new().with_window(opts.lock_variable_window),
            &any,
            &opts,
        ),
        measure(
            "strict alternation",
            "side 0 cannot re-enter while side 1 stays outside",
            &StrictAlternation::new(),
            &two,
            &opts,
        ),
        measure(
            "Peterson, textbook",
            "plain loads and stores: the store buffer lets both in (now and then)",
            &TextbookPeterson::new(),
            &two,
            &opts,
        ),
        measure(
            "Peterson",
            "turn written by an atomic swap, a full fence; once interested, passed at most once",
            &Peterson::new(),
            &two,
            &opts,
        ),
        measure(
            "TSL",
            "no bounded waiting: see overtakes and share",
            &TslLock::new(),
            &any,
            &opts,
        ),
        measure(
            "test-and-test-and-set",
            "TSL that waits with loads",
            &TtasLock::new(),
            &any,
            &opts,
        ),
        measure(
            "ticket lock",
            "FIFO: once it holds a ticket, at most threads - 1 entries pass it",
            &TicketLock::new(),
            &any,
            &opts,
        ),
    ];
    LabReport {
        options: opts,
        rows,
    }
}

/// Runs one algorithm through both phases.
fn measure<L: CriticalSection>(
    name: &'static str,
    note: &'static str,
    lock: &L,
    ids: &[L::Id],
    opts: &LabOptions,
) -> AlgorithmReport {
    let checker = Checker::default();
    let stop = AtomicBool::new(false);
    let start_line = Barrier::new(ids.len() + 1);
    let (threads, elapsed) = thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|&id| {
                let (checker, stop, start_line) = (&checker, &stop, &start_line);
                s.spawn(move || {
                    start_line.wait();
                    contend(lock, id, checker, stop, opts)
                })
            })
            .collect();
        start_line.wait();
        let started = Instant::now();
        thread::sleep(opts.duration);
        stop.store(true, Relaxed);
        let threads: Vec<ThreadStats> = handles
            .into_iter()
            .map(|h| h.join().expect("a lab thread panicked"))
            .collect();
        (threads, started.elapsed())
    });
    let entries = checker.entries.load(Relaxed);
    AlgorithmReport {
        name,
        note,
        threads: ids.len(),
        entries,
        violations: checker.violations.load(Relaxed),
        lost_updates: entries.saturating_sub(checker.counter.load(Relaxed)),
        progress: probe_progress(lock, ids[0], opts.patience),
        min_thread_entries: threads.iter().map(|t| t.entries).min().unwrap_or(0),
        max_wait: threads.iter().map(|t| t.max_wait).max().unwrap_or_default(),
        max_overtakes: threads.iter().map(|t| t.max_overtakes).max().unwrap_or(0),
        elapsed,
    }
}

/// What one thread saw during the contention phase.
#[derive(Default)]
struct ThreadStats {
    entries: u64,
    max_wait: Duration,
    max_overtakes: u64,
}

/// The contention phase for one thread: enter, check, leave, until told to
/// stop.
///
/// `stop` is read inside the critical region, so a thread leaves only after
/// an entry of its own. Strict alternation needs that: a side that quit
/// while it was its turn would leave the other waiting forever.
fn contend<L: CriticalSection>(
    lock: &L,
    id: L::Id,
    checker: &Checker,
    stop: &AtomicBool,
    opts: &LabOptions,
) -> ThreadStats {
    let mut stats = ThreadStats::default();
    loop {
        let mut entries_before = 0;
        let wanted_at = Instant::now();
        let guard = lock.enter_with_doorway(id, || entries_before = checker.entries_so_far());
        let waited = wanted_at.elapsed();
        let entry = checker.inside(opts.critical_work);
        let stopping = stop.load(Relaxed);
        drop(guard);

        stats.entries += 1;
        stats.max_wait = stats.max_wait.max(waited);
        stats.max_overtakes = stats
            .max_overtakes
            .max(entry.saturating_sub(entries_before));
        if stopping {
            return stats;
        }
        spin(opts.noncritical_work);
    }
}

/// The progress probe: everyone else stays outside, `id` wants in
/// [`PROBE_ENTRIES`] times.
fn probe_progress<L: CriticalSection>(lock: &L, id: L::Id, patience: Duration) -> Progress {
    for entered in 0..PROBE_ENTRIES {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(guard) = lock.try_enter(id) {
                drop(guard);
                break;
            }
            if Instant::now() >= deadline {
                return Progress::Stalled {
                    entered,
                    wanted: PROBE_ENTRIES,
                };
            }
            thread::yield_now();
        }
    }
    Progress::Ok
}

/// The instruments inside the critical region.
#[derive(Default)]
struct Checker {
    /// Threads inside right now.
    occupancy: AtomicUsize,
    /// Entries that found another thread inside.
    violations: AtomicU64,
    /// Entries so far, counted exactly (one atomic increment each).
    entries: AtomicU64,
    /// Entries so far, counted by load-then-store: loses one per overlap.
    counter: AtomicU64,
}

impl Checker {
    /// Entries so far, exactly: a read-modify-write reads the latest value
    /// in the counter's modification order, where a load may lag, so an
    /// entry that finished before this call is never counted as overtaking.
    fn entries_so_far(&self) -> u64 {
        self.entries.fetch_add(0, Relaxed)
    }

    /// The body of the critical region. Returns the number of entries
    /// before this one.
    fn inside(&self, work: u32) -> u64 {
        if self.occupancy.fetch_add(1, Relaxed) != 0 {
            self.violations.fetch_add(1, Relaxed);
        }
        let before = self.entries.fetch_add(1, Relaxed);
        let value = self.counter.load(Relaxed);
        spin(work);
        self.counter.store(value + 1, Relaxed);
        self.occupancy.fetch_sub(1, Relaxed);
        before
    }
}

/// Burns a little time without touching shared memory.
fn spin(turns: u32) {
    for _ in 0..turns {
        std::hint::spin_loop();
    }
}

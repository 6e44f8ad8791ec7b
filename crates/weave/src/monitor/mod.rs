//! monitor: one runtime thread that watches the LWPs (Go calls it sysmon).
//!
//! It does what the seeds give to the kernel-library interaction:
//!
//! - **Time slices.** Each LWP publishes, per switch, a word packing a
//!   switch sequence number and the running ULT (`Lwp::running`). A word
//!   that stays the same for a whole slice (10 ms by default) means one ULT
//!   has run that long; the monitor raises the LWP's `preempt` flag, and the
//!   ULT switches at its next safe point. A loop that calls
//!   `preempt_point()` cannot starve its neighbours.
//! - **LWPs blocked in the kernel** (the SIGWAITING idea). A word unchanged
//!   for 5 ms may also mean the ULT made a call that blocks its LWP in the
//!   kernel (`std::thread::sleep`, a blocking read). The monitor reads the
//!   LWP's state in `/proc/self/task/TID/stat` and, only if the kernel has
//!   it asleep, its count of voluntary switches in `status`: if it is
//!   still in the sleep the last tick saw, while work waits, it prints one
//!   warning naming the thread (`WEAVE_WARN=0` silences it; none when the
//!   thread is in a page fault rather than a system call, which it did not
//!   ask for) and, under automatic concurrency (`set_concurrency(0)`),
//!   adds an LWP so that new work goes on. ULTs
//!   already placed on the blocked LWP wait for it: they cannot move
//!   (DESIGN.md decision 3). When the pool has more LWPs than it needs, an
//!   idle surplus LWP retires. A cap (`MAX_CONCURRENCY`) stops a runaway.
//! - **The porting trap.** An LWP blocked in a futex wait (a ULT called a
//!   std lock, Condvar, park or mpsc channel) holds up every ULT placed on
//!   it: the monitor names the ULT and the number of runnable ULTs stuck
//!   behind it, and counts such an LWP as unable to run anything when it
//!   looks for a deadlock (see `monitor/trap.rs`).
//! - **Deadlocks.** When every thread is blocked on weave primitives and
//!   nothing else can wake one (no timer, no blocking call in flight, no
//!   OS thread outside a weave wait), weave prints a report naming each
//!   thread, what it waits on and who holds it, and exits with status 2
//!   instead of hanging, as Go's "all goroutines are asleep" (see
//!   `monitor/deadlock.rs`). It looks again when a registered OS thread
//!   exits, since that thread may have been the one that could end a wait.
//! - **The reaper.** Every `REAP_PERIOD` while stacks sit on the pool's
//!   dirty list, it gives their pages back (see `stack`); while free
//!   thread-table slots arrived on the table's free list, it gives back the
//!   pages of those left over for a whole period (see `thread/table.rs`).
//!
//! The monitor parks when no LWP has run a ULT for ten ticks in a row and
//! nothing waits to be reaped: an idle runtime uses no CPU after ~10 ms.
//! An LWP that leaves its idle sleep, and a stack that lands on the dirty
//! list, wake it. (Parking at the first quiet tick had the LWPs of a
//! server under load, idle for a moment between requests, ring it
//! hundreds of times a second; see `PARK_AFTER_QUIET_TICKS`.)
//! `WEAVE_PREEMPT=0` turns time slices off; the monitor then only watches
//! for blocked LWPs and reaps.
//!
//! Above the engine: it reads the LWP table and calls `lwp::pool` to add
//! or retire LWPs; the engine reaches it only through
//! `monitor/doorbell.rs`. It never touches a ULT's stack.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

mod deadlock;
pub(crate) mod doorbell;
mod tasks;
mod trap;
mod trim;

pub use doorbell::DEFAULT_TIME_SLICE;

use crate::lwp::{self, Lwp};
use crate::runtime::{Runtime, MAX_CONCURRENCY};
use crate::thread::table::table;

/// How often the monitor looks while ULTs run: fine enough to catch a
/// slice overrun within a tenth of a slice and a blocked LWP within a few
/// ms, coarse enough that its own wake-ups cost ~0.1% of a CPU.
const TICK: Duration = Duration::from_millis(1);

/// A ULT seen running this long without a switch is checked for being
/// blocked in the kernel. Reading /proc costs ~10 µs, so only stuck LWPs
/// are read; 5 ms is long for a computation between two safe points and
/// short for a user waiting on a stalled thread.
const BLOCKED_AFTER: Duration = Duration::from_millis(5);

/// How often the reaper runs while stacks are dirty. A dirty stack is
/// released after one to two periods, so the resident set follows the live
/// thread count within a second, while a burst that exits and spawns again
/// inside that time reuses warm stacks.
pub(crate) const REAP_PERIOD: Duration = Duration::from_millis(500);

/// An extra LWP that has slept this long while the pool is above its
/// automatic size retires.
const SURPLUS_IDLE: Duration = Duration::from_millis(200);

/// Ticks in a row that must find every pool LWP asleep, with no switch on
/// any LWP since the tick before, before the monitor parks. A parked
/// monitor is rung awake by the next LWP that leaves its idle sleep, a
/// `futex` wake on that LWP's way back to work and a wait and a wake-up of
/// the monitor's own. A server under load sleeps its LWPs for gaps of
/// microseconds to a few ms between requests: parking at the first quiet
/// tick made half of an HTTP server's `futex` calls (~500 rings a second
/// at 100 connections), where ticking on through the gap costs one
/// `clock_nanosleep` a ms, as while the LWPs run. Ten ticks (10 ms or
/// more) leave those gaps to the tick; an idle runtime still parks the
/// monitor within ~10 ms, after ten wake-ups.
const PARK_AFTER_QUIET_TICKS: u32 = 10;

/// When the monitor parks: after [`PARK_AFTER_QUIET_TICKS`] quiet ticks in
/// a row.
#[derive(Default)]
struct Quiet {
    ticks: u32,
    /// Some LWP switched since the last `park_now`.
    switched: bool,
}

impl Quiet {
    /// A tick saw an LWP's switch word move: it ran since the tick before.
    fn saw_switch(&mut self) {
        self.switched = true;
    }

    /// Called once a tick, before its sleep: `nothing_to_watch` if every
    /// pool LWP sleeps and nothing waits for the reaper or a deadlock
    /// check. True when the monitor should park now.
    fn park_now(&mut self, nothing_to_watch: bool) -> bool {
        let quiet = nothing_to_watch && !std::mem::take(&mut self.switched);
        self.ticks = if quiet { self.ticks + 1 } else { 0 };
        if self.ticks >= PARK_AFTER_QUIET_TICKS {
            self.ticks = 0;
            return true;
        }
        false
    }
}

/// What the monitor remembers about one LWP between ticks.
struct Watch {
    word: u64,
    since: Instant,
    preempted_at: Option<Instant>,
    /// An LWP was added for this blocking episode already.
    grew: bool,
    /// The kernel's count of the LWP thread's voluntary context switches
    /// at the last tick of this run (read only once the run is long).
    switches: Option<u64>,
    asleep_since: Option<Instant>,
    /// When this blocking episode last asked for a deadlock check (an LWP
    /// in an untimed futex wait; see `trap`).
    stuck_check_at: Option<Instant>,
    /// This blocking episode is in the trace already.
    traced: bool,
    /// When the LWP was first seen in the futex wait it is in now (one
    /// wait: no voluntary switch since); see [`FUTEX_BLOCKED_AFTER`].
    futex_since: Option<Instant>,
}

/// What the monitor needs made on the thread that starts the runtime,
/// before the monitor thread exists: the open list of the process's
/// threads (`tasks.rs`).
pub(crate) fn prepare() {
    tasks::open();
}

/// The monitor thread's loop.
pub(crate) fn run(rt: &'static Runtime) {
    crate::thread::current::on_external_exit(os_thread_exits);
    let m = &rt.monitor;
    let mut watches: HashMap<usize, Watch> = HashMap::new();
    let mut warned: HashSet<u64> = HashSet::new();
    let mut futex_warned: HashSet<u64> = HashSet::new();
    let mut cap_warned = false;
    let mut last_reap = Instant::now();
    let mut quiet = Quiet::default();
    let compact =
        crate::config::compact_after().filter(|_| crate::stack::compaction_support().is_ok());
    let mut trimmer = trim::Trimmer::new(crate::config::trim_after(), compact, last_reap);
    loop {
        if m.deadlock_check.swap(false, SeqCst) {
            deadlock::check(rt);
            // The LWP that asked went idle after running ULTs, and LWPs
            // that ran meanwhile found us busy, not parked, so they did
            // not wake us: ULTs may have parked that no trim pass has seen.
            trimmer.saw_activity();
        }
        let nothing = !anything_to_watch(rt) && !m.deadlock_check.load(SeqCst);
        if quiet.park_now(nothing) {
            let mut w = m.wanted.lock().unwrap_or_else(|e| e.into_inner());
            m.parked.store(true, SeqCst);
            // Re-check under the lock: a wake before `parked` was set did
            // not notify (pairs with the SeqCst load-then-lock in `wake`).
            while !*w && !anything_to_watch(rt) && !m.deadlock_check.load(SeqCst) {
                // Parked ULTs not yet trimmed: wake for the pass that will.
                match trimmer.wake_at() {
                    Some(at) => {
                        let now = Instant::now();
                        if at <= now {
                            break;
                        }
                        w =
                            m.cv.wait_timeout(w, at - now)
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                    }
                    None => w = m.cv.wait(w).unwrap_or_else(|e| e.into_inner()),
                }
            }
            *w = false;
            m.parked.store(false, SeqCst);
            // Woken: an LWP ran (or is about to).
            trimmer.saw_activity();
            watches.clear();
            last_reap = Instant::now();
        }
        std::thread::sleep(TICK);
        if let Some(r) = crate::reactor::try_get() {
            // An LWP may be busy (or gone), not in its epoll set: collect
            // io events for the ULTs waiting on its sockets (Go's sysmon
            // does the same). An LWP that went to sleep while we held its
            // set's role sleeps on its futex: wake it, and idle again it
            // takes the role.
            r.poll_unattended(|i| lwp::pool::wake_to_poll(rt, i));
        }
        let now = Instant::now();
        let slice = m.slice();
        let mut blocked_lwps = 0;
        for l in rt.lwps() {
            if !l.is_alive() {
                watches.remove(&l.index);
                continue;
            }
            let word = l.running.load(Relaxed);
            let w = watches.entry(l.index).or_insert(Watch {
                word,
                since: now,
                preempted_at: None,
                grew: false,
                switches: None,
                asleep_since: None,
                stuck_check_at: None,
                traced: false,
                futex_since: None,
            });
            w.asleep_since = if l.is_sleeping() {
                w.asleep_since.or(Some(now))
            } else {
                None
            };
            if word != w.word {
                quiet.saw_switch();
            }
            if word != w.word || lwp::running_ult(word).is_none() {
                w.word = word;
                w.since = now;
                w.preempted_at = None;
                w.grew = false;
                w.switches = None;
                w.stuck_check_at = None;
                w.traced = false;
                w.futex_since = None;
                continue;
            }
            let ran = now.duration_since(w.since);
            if let Some(slice) = slice {
                let due = w
                    .preempted_at
                    .map_or(ran >= slice, |at| now.duration_since(at) >= slice);
                if due && !l.is_bound() {
                    l.request_preempt();
                    w.preempted_at = Some(now);
                }
            }
            // Looked at every tick while stuck: the work that makes a blocked
            // LWP matter may arrive after it blocked.
            // Blocked means asleep in the kernel *and* not one voluntary
            // switch since the last tick: a ULT that only makes
            // non-blocking calls sleeps now and then for an instant (on a
            // socket lock held by another LWP, say), and one sample that
            // caught it asleep made false warnings and extra LWPs.
            let asleep = ran >= BLOCKED_AFTER
                && !l.is_bound()
                && asleep_since_last_look(
                    || blocked_in_kernel(l),
                    || voluntary_switches(l),
                    &mut w.switches,
                );
            let call = if asleep { trap::current_call(l) } else { None };
            let futex = matches!(call, Some(trap::Call::Futex(_)));
            // Called at every tick, asleep or not, so that a tick out of
            // the wait forgets when it began: the next wait starts its own
            // grace period.
            let counts = futex_wait_counts(&mut w.futex_since, futex, now);
            let blocked = asleep && counts;
            if blocked {
                blocked_lwps += 1;
                if !w.traced {
                    w.traced = true;
                    crate::trace::emit(crate::trace::Event::KernelBlocked {
                        lwp: l.index,
                        ult: lwp::running_ult(word).map(|i| table().slot(i).id()),
                        fault: call == Some(trap::Call::Fault),
                    });
                }
                if let Some(trap::Call::Futex(futex)) = call {
                    on_futex_wait(
                        rt,
                        l,
                        word,
                        ran,
                        futex,
                        w,
                        &mut warned,
                        &mut futex_warned,
                        now,
                    );
                }
                // A page fault is not a blocking call the ULT made (spawning
                // many threads faults in stacks while another LWP maps or
                // unmaps): the LWP may still grow the pool, without a
                // warning that blames the ULT.
                let blame = call != Some(trap::Call::Fault);
                on_blocked(
                    rt,
                    l,
                    word,
                    ran,
                    blame,
                    &mut w.grew,
                    &mut warned,
                    &mut cap_warned,
                );
            }
        }
        retire_surplus(rt, &watches, blocked_lwps, now);
        trimmer.saw_activity();
        trimmer.tick(rt, now);
        if now.duration_since(last_reap) >= REAP_PERIOD {
            last_reap = now;
            if rt.stacks.has_dirty() {
                rt.stacks.reap();
            }
            release_table_pages();
        }
    }
}

/// The reaper's second job: the pages of thread-table slots left free by
/// a burst of threads that is gone (`Table::release_free_pages`). Once a
/// burst's slots went back, so did most of its heap (join packets,
/// closures), scattered between the survivors' blocks where the allocator
/// keeps it: `malloc_trim` gives back the free pages inside its heaps,
/// once per burst, not per period.
fn release_table_pages() {
    if table().release_free_pages() == 0 {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it
    // takes the allocator's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The exit hook of registered OS threads (see `current::on_external_exit`).
fn os_thread_exits(tid: i32) {
    if let Some(rt) = crate::runtime::try_rt() {
        rt.monitor.os_thread_exiting(tid);
    }
}

/// Whether some pool LWP is awake (running ULTs, or about to), or stacks
/// wait to be reaped. Not "a ULT runs right now": an LWP between two ULTs
/// runs none for an instant, and one that goes from ULT to ULT without
/// idling would never wake a monitor that parked at such an instant.
/// Pairs (SeqCst, Dekker) with the LWP clearing `sleeping` and then
/// calling `Monitor::wake`.
fn anything_to_watch(rt: &Runtime) -> bool {
    rt.stacks.has_dirty()
        || table().has_young_free()
        || rt
            .lwps()
            .any(|l| l.is_alive() && !l.is_bound() && !l.is_sleeping())
}

/// Whether an LWP whose ULT has run long is asleep in the kernel in one
/// sleep since the last look: `asleep_now` (the thread's state, from the
/// one-line `stat`) says it sleeps, and `switches_now` (its voluntary
/// context switches, from the ~1.5 KB `status`, which the kernel takes
/// several times longer to write) equals the count of the last look that
/// found it asleep, `last`. The state is read first and the count only for
/// a sleeping thread: an LWP that is only off its CPU on a loaded host
/// (`R`) costs one read, not two. A count kept from a look that found the
/// thread asleep stays valid across looks that found it runnable: going
/// from running to asleep is itself a voluntary switch, which changes it.
fn asleep_since_last_look(
    asleep_now: impl FnOnce() -> bool,
    switches_now: impl FnOnce() -> Option<u64>,
    last: &mut Option<u64>,
) -> bool {
    if !asleep_now() {
        return false;
    }
    let now = switches_now();
    let still = now.is_some() && now == *last;
    *last = now;
    still
}

/// Reads a file of `/proc` in one `read` into `buf` (open, read, close:
/// `fs::read_to_string` also asks for the size, which procfs does not
/// know, and reads again to see the end). `None` if it cannot be read or
/// does not fit.
fn read_proc<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    use std::io::Read;
    let n = std::fs::File::open(path).ok()?.read(buf).ok()?;
    if n == buf.len() {
        return None;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// Whether the kernel has this LWP's thread asleep (`S`) or in an
/// uninterruptible wait (`D`), from `/proc/self/task/TID/stat`.
fn blocked_in_kernel(l: &Lwp) -> bool {
    // One line: 52 fields of at most 20 digits and a name of at most 64
    // bytes.
    let mut buf = [0u8; 1280];
    let Some(stat) = read_proc(&format!("/proc/self/task/{}/stat", l.tid()), &mut buf) else {
        return false;
    };
    // The state is the first field after the command name, which is in
    // parentheses and may contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    matches!(state, Some('S' | 'D'))
}

/// The LWP thread's voluntary context switches so far, from
/// `/proc/self/task/TID/status`.
fn voluntary_switches(l: &Lwp) -> Option<u64> {
    // ~1.5 KB today; room for the fields later kernels add.
    let mut buf = [0u8; 8192];
    let status = read_proc(&format!("/proc/self/task/{}/status", l.tid()), &mut buf)?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
}

/// How long one futex wait must last before it counts as an LWP blocked
/// in the kernel. A futex wait is most often a lock that another thread
/// holds for a moment: glibc's malloc arena lock, held by an LWP that
/// spawns a burst of threads (each spawn allocates), kept other LWPs
/// waiting 6-25 ms, which at [`BLOCKED_AFTER`] made false warnings that
/// blamed the waiting ULT and extra LWPs nobody needed. A ULT stuck on a
/// `std::sync` lock (the porting trap) waits far longer, and is still
/// found, 45 ms later.
const FUTEX_BLOCKED_AFTER: Duration = Duration::from_millis(50);

/// Whether an LWP asleep in the kernel now counts as blocked: any call
/// but a futex wait at once; a futex wait once it has lasted
/// [`FUTEX_BLOCKED_AFTER`]. `since` remembers when this wait was first
/// seen (cleared when the LWP is not in one).
fn futex_wait_counts(since: &mut Option<Instant>, in_futex_wait: bool, now: Instant) -> bool {
    if !in_futex_wait {
        *since = None;
        return true;
    }
    let first = *since.get_or_insert(now);
    now.duration_since(first) >= FUTEX_BLOCKED_AFTER
}

/// Whether work is waiting that another LWP could run.
fn work_waits(rt: &Runtime, blocked: &Lwp) -> bool {
    rt.global_top() >= 0 || !blocked.inbox.is_empty() || rt.lwps().any(|l| l.has_fresh_work())
}

/// How often an LWP that stays in an untimed futex wait asks for a
/// deadlock check: each check costs the monitor `CONFIRM_STUCK` (500 ms)
/// of sleep, so not at every tick.
const STUCK_RECHECK: Duration = Duration::from_secs(1);

/// An LWP blocked in the kernel in a futex wait (the porting trap, see
/// `trap`): name the ULT that made the call and the runnable ULTs stuck
/// behind it, once per ULT; and if the wait has no timeout, have the
/// deadlock detector look (every ULT may be held up by it).
#[allow(clippy::too_many_arguments)]
fn on_futex_wait(
    rt: &'static Runtime,
    l: &Lwp,
    word: u64,
    ran: Duration,
    futex: trap::FutexWait,
    w: &mut Watch,
    warned: &mut HashSet<u64>,
    futex_warned: &mut HashSet<u64>,
    now: Instant,
) {
    if !futex.timed
        && w.stuck_check_at
            .map_or(true, |at| now.duration_since(at) >= STUCK_RECHECK)
    {
        w.stuck_check_at = Some(now);
        rt.monitor.deadlock_check.store(true, SeqCst);
    }
    let Some(index) = lwp::running_ult(word) else {
        return;
    };
    let behind = trap::stuck_behind(l);
    if behind == 0 || !rt.monitor.warn.load(Relaxed) {
        return;
    }
    let tcb = table().slot(index);
    let id = tcb.id();
    if !futex_warned.insert(id.as_u64().get()) {
        return;
    }
    // This says more than the general warning: that one is not repeated.
    warned.insert(id.as_u64().get());
    let who = match tcb.name() {
        Some(n) => format!("thread '{n}' ({id})"),
        None => format!("thread {id}"),
    };
    eprintln!(
        "weave: {who} has blocked LWP {} in the kernel in a futex wait for {} ms (a std::sync \
         lock, Condvar, park or mpsc channel); {behind} runnable thread(s) placed on that LWP \
         are stuck behind it. Inside ULTs use weave::sync and weave::thread::park, and never \
         hold a std lock across a weave wait (WEAVE_WARN=0 silences this)",
        l.index,
        ran.as_millis()
    );
}

#[allow(clippy::too_many_arguments)]
fn on_blocked(
    rt: &'static Runtime,
    l: &Lwp,
    word: u64,
    ran: Duration,
    blame: bool,
    grew: &mut bool,
    warned: &mut HashSet<u64>,
    cap_warned: &mut bool,
) {
    let waits = work_waits(rt, l) || l.placed() > 1;
    if !waits {
        return;
    }
    if let Some(index) = lwp::running_ult(word) {
        let tcb = table().slot(index);
        let id = tcb.id();
        if blame && rt.monitor.warn.load(Relaxed) && warned.insert(id.as_u64().get()) {
            let name = tcb.name();
            let who = match name.as_deref() {
                Some(n) => format!("thread '{n}' ({id})"),
                None => format!("thread {id}"),
            };
            eprintln!(
                "weave: {who} has blocked LWP {} in the kernel for {} ms while other threads \
                 wait; run blocking calls with weave::blocking(..) or on a bound thread \
                 (WEAVE_WARN=0 silences this)",
                l.index,
                ran.as_millis()
            );
        }
    }
    // Automatic concurrency: add an LWP (once per blocking episode) so
    // that new work goes on.
    if !*grew && rt.requested_concurrency() == 0 && work_waits(rt, l) {
        *grew = true;
        if rt.idle.members() >= MAX_CONCURRENCY {
            if !*cap_warned && rt.monitor.warn.load(Relaxed) {
                *cap_warned = true;
                eprintln!(
                    "weave: cannot add another LWP for threads blocked in the kernel: the pool \
                     has reached its cap of {MAX_CONCURRENCY} LWPs; move blocking calls to \
                     weave::blocking(..)"
                );
            }
        } else if let Err(e) = lwp::pool::add_extra_lwp(rt) {
            if rt.monitor.warn.load(Relaxed) {
                eprintln!("weave: cannot add an LWP for a blocked one: {e}");
            }
        }
    }
}

/// Retires one idle extra LWP when the pool is larger than it needs to be:
/// its automatic size plus one for each LWP blocked in the kernel.
fn retire_surplus(
    rt: &'static Runtime,
    watches: &HashMap<usize, Watch>,
    blocked: usize,
    now: Instant,
) {
    if rt.requested_concurrency() != 0 {
        return;
    }
    let need = crate::runtime::automatic_concurrency().min(MAX_CONCURRENCY) + blocked;
    if rt.idle.members() <= need {
        return;
    }
    let idle_extra = rt.lwps().find(|l| {
        l.is_extra()
            && l.is_pool_member()
            && watches
                .get(&l.index)
                .and_then(|w| w.asleep_since)
                .is_some_and(|t| now.duration_since(t) >= SURPLUS_IDLE)
    });
    if let Some(l) = idle_extra {
        lwp::pool::retire_lwp(rt, l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitor_parks_only_after_ten_quiet_ticks_in_a_row() {
        let mut q = Quiet::default();
        for _ in 1..PARK_AFTER_QUIET_TICKS {
            assert!(!q.park_now(true), "parked before ten quiet ticks");
        }
        assert!(q.park_now(true));
        // After the park, the count starts over.
        assert!(!q.park_now(true));
    }

    #[test]
    fn a_tick_that_watches_something_or_saw_a_switch_starts_the_count_over() {
        let mut q = Quiet::default();
        for _ in 1..PARK_AFTER_QUIET_TICKS {
            assert!(!q.park_now(true));
        }
        assert!(!q.park_now(false));
        for _ in 1..PARK_AFTER_QUIET_TICKS {
            assert!(!q.park_now(true));
        }
        // Every LWP asleep at both ticks, but one ran in between: a server
        // whose LWPs sleep through most ticks keeps the monitor awake.
        q.saw_switch();
        assert!(!q.park_now(true));
        for _ in 1..PARK_AFTER_QUIET_TICKS {
            assert!(!q.park_now(true));
        }
        assert!(q.park_now(true));
    }

    #[test]
    fn a_runnable_lwp_costs_no_read_of_its_switch_count() {
        let mut last = Some(7);
        let asleep = asleep_since_last_look(
            || false,
            || panic!("status read for a thread that is not asleep"),
            &mut last,
        );
        assert!(!asleep);
        assert_eq!(last, Some(7), "the count of the last sleep is kept");
    }

    #[test]
    fn an_lwp_is_asleep_once_two_looks_find_one_sleep() {
        let mut last = None;
        assert!(!asleep_since_last_look(|| true, || Some(3), &mut last));
        // Runnable in between: the count stays.
        assert!(!asleep_since_last_look(|| false, || Some(4), &mut last));
        assert!(asleep_since_last_look(|| true, || Some(3), &mut last));
        // A new sleep (a voluntary switch since) starts over.
        assert!(!asleep_since_last_look(|| true, || Some(5), &mut last));
        assert!(asleep_since_last_look(|| true, || Some(5), &mut last));
        // An unreadable count never counts.
        let mut last = None;
        assert!(!asleep_since_last_look(|| true, || None, &mut last));
        assert!(!asleep_since_last_look(|| true, || None, &mut last));
    }

    #[test]
    fn this_threads_proc_files_read_in_one_call() {
        let mut buf = [0u8; 1280];
        let stat = read_proc("/proc/thread-self/stat", &mut buf).expect("stat read");
        assert!(
            stat.contains(") R "),
            "a thread reading its own stat runs: {stat}"
        );
        let mut buf = [0u8; 8192];
        let status = read_proc("/proc/thread-self/status", &mut buf).expect("status read");
        assert!(status.contains("voluntary_ctxt_switches:"));
        let mut small = [0u8; 8];
        assert_eq!(read_proc("/proc/thread-self/status", &mut small), None);
    }

    #[test]
    fn a_call_other_than_a_futex_wait_counts_as_blocked_at_once() {
        let now = Instant::now();
        let mut since = Some(now);
        assert!(futex_wait_counts(&mut since, false, now));
        assert_eq!(since, None, "the futex wait seen before is over");
    }

    #[test]
    fn a_futex_wait_counts_only_once_it_has_lasted_the_grace_period() {
        let start = Instant::now();
        let mut since = None;
        assert!(!futex_wait_counts(&mut since, true, start));
        assert_eq!(since, Some(start));
        let almost = start + FUTEX_BLOCKED_AFTER - Duration::from_millis(1);
        assert!(!futex_wait_counts(&mut since, true, almost));
        assert!(futex_wait_counts(
            &mut since,
            true,
            start + FUTEX_BLOCKED_AFTER
        ));
        // A new wait after the LWP woke starts its own grace period.
        assert!(futex_wait_counts(
            &mut since,
            false,
            start + FUTEX_BLOCKED_AFTER
        ));
        let later = start + 2 * FUTEX_BLOCKED_AFTER;
        assert!(!futex_wait_counts(&mut since, true, later));
    }
}

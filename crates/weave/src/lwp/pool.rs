//! Pool membership: which LWPs take new work, how many there are, and the
//! one way an LWP is started (for the pool, as an extra LWP for a blocked
//! one, or bound to one ULT) and leaves.
//!
//! Two locks, always taken in this order: `SPAWN` serialises the creation
//! of LWPs (so that two creators never claim the same dead slot), and the
//! pool lock (`Runtime::pool`) guards the member list; the count that the
//! idle protocol reads without a lock is written only from inside it
//! (`Idle::set_members`).

use std::io;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::{Mutex, MutexGuard};

use super::Lwp;
use crate::runtime::{rt, Runtime, MAX_CONCURRENCY};
use crate::thread::tcb::Tcb;

/// The pool's membership, behind `Runtime::pool`.
pub(crate) struct PoolState {
    /// The level last asked for by `set_concurrency`; 0 = automatic.
    pub(crate) requested: usize,
    /// Indices of the pool's active (not retiring) LWPs.
    pub(crate) members: Vec<usize>,
}

impl PoolState {
    pub(crate) const fn new() -> PoolState {
        PoolState {
            requested: 0,
            members: Vec::new(),
        }
    }
}

/// Wakes LWP `i` so that it takes its epoll set's poller role when it
/// idles again: for the monitor, which polled the set in its place and
/// learnt that the LWP found the role held meanwhile (`reactor/role.rs`)
/// and may be asleep on its futex with nobody polling its set.
pub(crate) fn wake_to_poll(rt: &Runtime, i: usize) {
    let l = rt.lwp(i);
    if l.is_alive() {
        // Claimed or not, unpark: a running LWP's next park returns at once
        // and it looks at its set again.
        l.claim_sleeping();
        l.parker.unpark();
    }
}

/// Serialises the creation of LWPs: bound ones with the pool's.
static SPAWN: Mutex<()> = Mutex::new(());

fn lock_spawn() -> MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds the lock that LWP creation takes, across a `fork` (see
/// `thread/fork.rs`): the child must not inherit it held.
pub(crate) fn lock_spawn_for_fork() -> MutexGuard<'static, ()> {
    lock_spawn()
}

/// What a new LWP is for.
enum Role {
    /// A member of the pool.
    Pool,
    /// A pool member added for an LWP blocked in the kernel: it retires
    /// first when the pool has more LWPs than it needs.
    Extra,
    /// The LWP of one bound ULT (RUNNABLE, not yet placed), 1:1.
    Bound(&'static Tcb),
}

/// Installs an LWP struct (a dead one's, or a new slot) and starts its OS
/// thread: the one place an LWP is started. On failure the slot goes back
/// to the dead list and nothing else changed. The `SPAWN` guard is the
/// proof that no other creator picks a slot meanwhile.
fn start_lwp(
    rt: &'static Runtime,
    role: Role,
    cpus: Option<Vec<usize>>,
    _spawn: &MutexGuard<'static, ()>,
) -> io::Result<&'static Lwp> {
    let bound = matches!(role, Role::Bound(_));
    let lwp = rt.install_lwp(|i| Box::leak(Box::new(Lwp::new(i, bound))))?;
    lwp.bound.store(bound, Relaxed);
    lwp.extra.store(matches!(role, Role::Extra), Relaxed);
    if let Role::Bound(tcb) = role {
        tcb.home.store(lwp.index as u32, Relaxed);
        lwp.placed.adopt();
        lwp.inbox.push(tcb);
    }
    if let Err(e) = spawn_os_thread(lwp, cpus) {
        // Undo: take a bound ULT back out of the inbox (the caller frees
        // its TCB), and let the slot be claimed again.
        lwp.inbox.take_all(|_| ());
        // Release pairs with the Acquire in `is_alive`/`try_claim_dead`.
        lwp.alive.store(false, Release);
        return Err(e);
    }
    Ok(lwp)
}

/// Starts a bound LWP for `tcb` (which is RUNNABLE and not yet placed).
pub(crate) fn start_bound(tcb: &'static Tcb, cpus: Option<Vec<usize>>) -> io::Result<()> {
    let spawn = lock_spawn();
    start_lwp(rt(), Role::Bound(tcb), cpus, &spawn)
        .map(drop)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start an LWP for a bound thread: {e}"),
            )
        })
}

/// Sets the number of pool LWPs; 0 means automatic.
pub(crate) fn set_concurrency_in(rt: &'static Runtime, n: usize) -> io::Result<()> {
    if n > MAX_CONCURRENCY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "set_concurrency({n}): the pool holds at most {MAX_CONCURRENCY} LWPs; \
                 use Builder::bound for threads that need an LWP of their own"
            ),
        ));
    }
    let target = if n == 0 {
        crate::runtime::automatic_concurrency_of(true).min(MAX_CONCURRENCY)
    } else {
        n
    };
    let spawn = lock_spawn();
    let mut pool = rt.pool.lock().unwrap_or_else(|e| e.into_inner());
    pool.requested = n;
    // Revive retiring LWPs first: they are already running.
    if pool.members.len() < target {
        for l in rt.lwps() {
            if pool.members.len() >= target {
                break;
            }
            // Not one that committed to leaving: it would be counted
            // after it left (`commit_leave`).
            if l.is_alive() && !l.is_bound() && l.retiring.load(Relaxed) && !l.leaving.load(Relaxed)
            {
                l.retiring.store(false, Release);
                pool.members.push(l.index);
            }
        }
    }
    while pool.members.len() < target {
        match start_lwp(rt, Role::Pool, None, &spawn) {
            Ok(lwp) => pool.members.push(lwp.index),
            Err(e) => {
                rt.idle.set_members(&pool.members);
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "set_concurrency({n}): started {} LWPs, the next failed: {e}",
                        pool.members.len()
                    ),
                ));
            }
        }
    }
    while pool.members.len() > target {
        let i = pool.members.pop().expect("more members than target");
        let l = rt.lwp(i);
        l.retiring.store(true, Release);
        // Wake it whether or not it sleeps: a retiring LWP must look at its
        // state again (hand off its fresh queue, maybe leave).
        l.claim_sleeping();
        l.parker.unpark();
    }
    rt.idle.set_members(&pool.members);
    let stays = pool.members.first().copied();
    drop(pool);
    // New work queued for the LWPs that just retired must reach one that
    // stays: they may have been the searchers that pushers relied on. (One
    // that is still searching hands over again when its search ends:
    // `sched/idle.rs`, step 2.)
    if let Some(i) = stays {
        rt.lwp(i).hand_over_new_work(rt);
    }
    Ok(())
}

/// The pool LWPs that take new work now.
pub(crate) fn pool_size(rt: &Runtime) -> usize {
    rt.pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .members
        .len()
}

/// Adds one LWP to the pool for an LWP blocked in the kernel (automatic
/// concurrency). It is marked extra: it retires first when idle.
pub(crate) fn add_extra_lwp(rt: &'static Runtime) -> io::Result<()> {
    let spawn = lock_spawn();
    let mut pool = rt.pool.lock().unwrap_or_else(|e| e.into_inner());
    if pool.members.len() >= MAX_CONCURRENCY {
        return Ok(());
    }
    let lwp = start_lwp(rt, Role::Extra, None, &spawn)?;
    pool.members.push(lwp.index);
    rt.idle.set_members(&pool.members);
    Ok(())
}

/// Retires one LWP of the pool (the monitor's surplus rule).
pub(crate) fn retire_lwp(rt: &'static Runtime, l: &'static Lwp) {
    let _spawn = lock_spawn();
    let mut pool = rt.pool.lock().unwrap_or_else(|e| e.into_inner());
    if !pool.members.contains(&l.index) {
        return;
    }
    pool.members.retain(|&i| i != l.index);
    rt.idle.set_members(&pool.members);
    l.retiring.store(true, Release);
    l.claim_sleeping();
    l.parker.unpark();
    drop(pool);
    l.hand_over_new_work(rt);
}

/// A retiring pool LWP with nothing left to run commits to leaving, from
/// its own thread: under the pool lock, so that `set_concurrency` either
/// revived it before (false: it stays, a member again) or sees it leaving
/// and revives or starts another. Without the lock, a level raised just as
/// the LWP decided to leave counted it as a member after it was gone.
pub(crate) fn commit_leave(l: &Lwp) -> bool {
    let _pool = rt().pool.lock().unwrap_or_else(|e| e.into_inner());
    // A sibling may have handed it a new ULT since it last looked
    // (`Lwp::adopt_new`, which counts and queues it under this lock).
    if !l.retiring.load(Relaxed) || l.has_placed_work() {
        return false;
    }
    l.leaving.store(true, Relaxed);
    true
}

/// An LWP leaves for good, from its own thread at the end of its loop: off
/// the member list (if it was on it), then dead, so that its slot can be
/// claimed again.
pub(crate) fn leave(l: &Lwp) {
    let rt = rt();
    let mut pool = rt.pool.lock().unwrap_or_else(|e| e.into_inner());
    pool.members.retain(|&i| i != l.index);
    rt.idle.set_members(&pool.members);
    // Release pairs with the Acquire in `is_alive`/`try_claim_dead`.
    l.alive.store(false, Release);
}

/// Starts an LWP OS thread.
fn spawn_os_thread(lwp: &'static Lwp, cpus: Option<Vec<usize>>) -> io::Result<()> {
    let name = if lwp.is_bound() {
        format!("weave-bound-{}", lwp.index)
    } else {
        format!("weave-lwp-{}", lwp.index)
    };
    crate::os::threads::spawn(
        std::thread::Builder::new().name(name).stack_size(1 << 20),
        move || {
            if let Some(cpus) = cpus {
                set_affinity(&cpus);
            }
            lwp.run()
        },
    )
    .map(drop)
}

fn set_affinity(cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        if c < libc::CPU_SETSIZE as usize {
            // SAFETY: `c` is below CPU_SETSIZE, so within `set`.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
    }
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc != 0 {
        eprintln!(
            "weave: cannot pin LWP to CPUs {cpus:?}: {}",
            io::Error::last_os_error()
        );
    }
}

/// Checks a CPU set before a bound thread is spawned on it.
pub(crate) fn validate_cpus(cpus: &[usize]) -> io::Result<()> {
    let n = automatic_cpu_count();
    if let Some(&bad) = cpus
        .iter()
        .find(|&&c| c >= libc::CPU_SETSIZE as usize || c >= n)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "CPU {bad} does not exist: this machine has CPUs 0 to {}",
                n - 1
            ),
        ));
    }
    if cpus.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an empty CPU set: name at least one CPU",
        ));
    }
    Ok(())
}

fn automatic_cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

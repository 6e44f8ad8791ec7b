//! The process-wide runtime: the LWP table, the global injector, the stack
//! pool, the sleep/wake bookkeeping of idle LWPs, and the start of the
//! monitor thread (time slices, blocked LWPs, deadlocks, the reaper).
//!
//! The runtime starts itself on first use from any thread (DESIGN.md
//! decision 6), as rayon's global pool does, and lives until the process
//! exits.
//!
//! ## Waking idle LWPs
//!
//! A syscall costs ~270 ns and waking a sleeping LWP costs one, so new work
//! wakes an LWP only when no LWP is already looking for work:
//!
//! 1. A pusher of stealable work (spawn, a migratable wake) pushes, issues a
//!    SeqCst fence, then reads `searching` and `sleepers`. Only if nobody
//!    searches and someone sleeps does it claim one sleeper (CAS on that
//!    LWP's `sleeping` flag) and unpark it.
//! 2. An LWP with nothing to run first *searches*: it counts itself in
//!    `searching`, steals and polls the injector for a while, and when it
//!    finds work while it was the last searcher it wakes another (step 1),
//!    so that a burst of spawns fans out one LWP at a time.
//! 3. Before sleeping it sets its `sleeping` flag and counts itself in
//!    `sleepers`, issues a SeqCst fence, and checks every source once more.
//!
//! The fences of 1 and 3 pair (Dekker): either the pusher sees the sleeper,
//! or the sleeper's last check sees the work. No wake-up is lost, and a
//! busy runtime makes no wake-up syscalls at all.

use std::io;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicUsize};
use std::sync::{Mutex, OnceLock};

use crossbeam_deque::{Injector, Steal};

use crate::lwp::Lwp;
use crate::sched::Task;
use crate::stack;
use crate::thread::tcb::{Tcb, PRIORITY_LEVELS};

/// Most LWPs of the pool (`set_concurrency`): a runaway guard, as in
/// Go's limit on Ms, set far above any useful number for a CPU-bound pool.
pub const MAX_CONCURRENCY: usize = 256;

/// Slots in the LWP table: the pool plus bound threads, each of which has
/// an LWP of its own while it lives.
const MAX_LWPS: usize = 16384;

pub(crate) struct Runtime {
    lwps: Box<[AtomicPtr<Lwp>]>,
    /// Slots of `lwps` in use (high-water mark).
    lwp_slots: AtomicUsize,
    pub(crate) pool: Mutex<PoolState>,
    injector: [Injector<Task>; PRIORITY_LEVELS as usize],
    /// Bit `p` is set when `injector[p]` may be non-empty.
    injector_bits: AtomicU32,
    pub(crate) searching: AtomicUsize,
    pub(crate) sleepers: AtomicUsize,
    /// `pool.members.len()`, readable without the lock (idle heuristics).
    pub(crate) members: AtomicUsize,
    /// Pool LWPs asleep or about to sleep, counted by the LWPs themselves
    /// (claimers do not touch it): "someone could take new work".
    pub(crate) idle_members: AtomicUsize,
    pub(crate) stacks: stack::Pool,
    pub(crate) default_stack: usize,
    pub(crate) monitor: crate::monitor::Monitor,
}

pub(crate) struct PoolState {
    /// 0 = automatic.
    pub(crate) requested: usize,
    /// Indices of the pool's active (not retiring) LWPs.
    pub(crate) members: Vec<usize>,
}

static RT: OnceLock<Runtime> = OnceLock::new();
static START: std::sync::Once = std::sync::Once::new();

/// The runtime, started on first use.
#[inline]
pub(crate) fn rt() -> &'static Runtime {
    match RT.get() {
        Some(r) if START.is_completed() => r,
        _ => init(),
    }
}

#[cold]
fn init() -> &'static Runtime {
    let r = RT.get_or_init(Runtime::new);
    START.call_once(|| r.start());
    r
}

/// The runtime if it has started; never starts it.
pub(crate) fn try_rt() -> Option<&'static Runtime> {
    RT.get()
}

/// Reads a positive integer from the environment, warning once on a bad
/// value instead of failing: a typo in a variable must not take down the
/// program, but must not pass unnoticed either.
fn env_usize(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    match parse_size(&v) {
        Some(n) => Some(n),
        None => {
            eprintln!(
                "weave: ignoring {name}={v:?}: expected a positive whole number \
                 (a size may end in K, M or G)"
            );
            None
        }
    }
}

/// Parses `123`, `64K`, `8M`, `1G`.
pub(crate) fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let (digits, mul) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1usize << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(mul)
}

/// The automatic concurrency level: one LWP per CPU the process may use.
/// Read from the kernel (affinity mask, cgroup quota: several files) when
/// `fresh`, else the last value read: the monitor asks every tick, and
/// opening those files 1,000 times a second cost 3.5% of a busy server's
/// samples.
pub(crate) fn automatic_concurrency_of(fresh: bool) -> usize {
    static CACHED: AtomicUsize = AtomicUsize::new(0);
    let n = CACHED.load(Relaxed);
    if n != 0 && !fresh {
        return n;
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    CACHED.store(n, Relaxed);
    n
}

/// The automatic concurrency level, as last read (see
/// [`automatic_concurrency_of`]).
pub(crate) fn automatic_concurrency() -> usize {
    automatic_concurrency_of(false)
}

impl Runtime {
    fn new() -> Runtime {
        let default_stack = match env_usize("WEAVE_STACK_SIZE") {
            Some(n) if n <= stack::MAX_STACK_SIZE => n.max(stack::MIN_STACK_SIZE),
            Some(n) => {
                eprintln!(
                    "weave: ignoring WEAVE_STACK_SIZE={n}: above the limit of {} bytes (1 GiB)",
                    stack::MAX_STACK_SIZE
                );
                stack::DEFAULT_STACK_SIZE
            }
            None => stack::DEFAULT_STACK_SIZE,
        };
        Runtime {
            lwps: (0..MAX_LWPS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            lwp_slots: AtomicUsize::new(0),
            pool: Mutex::new(PoolState {
                requested: 0,
                members: Vec::new(),
            }),
            injector: std::array::from_fn(|_| Injector::new()),
            injector_bits: AtomicU32::new(0),
            searching: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            members: AtomicUsize::new(0),
            idle_members: AtomicUsize::new(0),
            stacks: stack::Pool::new(),
            default_stack,
            monitor: crate::monitor::Monitor::new(),
        }
    }

    fn start(&'static self) {
        install_panic_hook();
        if std::env::var_os("WEAVE_ACCOUNTING").is_some_and(|v| v != "0") {
            crate::time::set_accounting(true);
        }
        let n = match env_usize("WEAVE_LWPS") {
            Some(0) | None => 0,
            Some(n) if n > MAX_CONCURRENCY => {
                eprintln!(
                    "weave: WEAVE_LWPS={n} is above the limit of {MAX_CONCURRENCY}; \
                     using {MAX_CONCURRENCY}"
                );
                MAX_CONCURRENCY
            }
            Some(n) => n,
        };
        if let Err(e) = crate::lwp::set_concurrency_in(self, n) {
            // Not even one LWP: nothing can run. Say why and stop.
            crate::fatal(&format!("cannot start the LWP pool: {e}"));
        }
        std::thread::Builder::new()
            .name("weave-monitor".into())
            .stack_size(256 * 1024)
            .spawn(move || crate::monitor::run(self))
            .map(drop)
            .unwrap_or_else(|e| {
                eprintln!(
                    "weave: no monitor thread ({e}): no time slices, no help for blocked \
                     LWPs, and stacks of exited threads stay cached"
                )
            });
    }

    /// The LWP in slot `i`.
    #[inline]
    pub(crate) fn lwp(&self, i: usize) -> &'static Lwp {
        // Acquire pairs with the Release store in `install_lwp`.
        let p = self.lwps[i].load(Acquire);
        debug_assert!(!p.is_null(), "LWP slot {i} is empty");
        // SAFETY: LWP structs are leaked when installed and never freed;
        // a non-null slot points to one.
        unsafe { &*p }
    }

    /// Every LWP ever installed, alive or not.
    pub(crate) fn lwps(&self) -> impl Iterator<Item = &'static Lwp> + '_ {
        let n = self.lwp_slots.load(Acquire);
        (0..n).filter_map(move |i| {
            let p = self.lwps[i].load(Acquire);
            // SAFETY: as in `lwp`.
            (!p.is_null()).then(|| unsafe { &*p })
        })
    }

    /// Finds a slot for a new LWP: a dead LWP's struct to reuse, or a new
    /// slot. Called with the pool lock held (or for bound LWPs, under
    /// `lwp::SPAWN`), so two creators never pick the same dead slot.
    pub(crate) fn install_lwp(
        &self,
        make: impl FnOnce(usize) -> &'static Lwp,
    ) -> io::Result<&'static Lwp> {
        for l in self.lwps() {
            if l.try_claim_dead() {
                return Ok(l);
            }
        }
        let i = self.lwp_slots.load(Relaxed);
        if i >= MAX_LWPS {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "cannot start another LWP: all {MAX_LWPS} LWP slots are in use \
                     (bound threads each hold one); join some bound threads first"
                ),
            ));
        }
        let l = make(i);
        // Release pairs with the Acquire loads in `lwp` and `lwps`.
        self.lwps[i].store(l as *const Lwp as *mut Lwp, Release);
        self.lwp_slots.store(i + 1, Release);
        Ok(l)
    }

    /// Pushes a runnable ULT where any pool LWP can take it.
    pub(crate) fn push_global(&self, tcb: &'static Tcb) {
        let p = tcb.priority().min(PRIORITY_LEVELS - 1);
        self.injector[p as usize].push(Task(tcb));
        // Set the bit after the push, and only if it is clear: every LWP
        // reads this word at every pick, so an RMW per push (from a thread
        // spawning in a loop) would bounce its cache line between CPUs.
        // The fence pairs with the popper's SeqCst `fetch_and` and re-check
        // in `pop_global` (Dekker): either we see the bit cleared and set
        // it again, or the popper's re-check sees our push.
        fence(SeqCst);
        if self.injector_bits.load(SeqCst) & (1 << p) == 0 {
            self.injector_bits.fetch_or(1 << p, SeqCst);
        }
        // The fence above also orders the push before the reads of
        // `searching` and `sleepers` (the Dekker pair of the module doc).
        self.notify_work_fenced(p);
    }

    /// The highest level that may have work in the injector, or -1.
    #[inline]
    pub(crate) fn global_top(&self) -> i32 {
        let bits = self.injector_bits.load(Relaxed);
        31 - bits.leading_zeros() as i32
    }

    /// Takes a ULT from the injector, highest level first, but none below
    /// level `floor` (-1: any).
    pub(crate) fn pop_global(&self, floor: i32) -> Option<&'static Tcb> {
        loop {
            let bits = self.injector_bits.load(SeqCst);
            if bits == 0 {
                return None;
            }
            let p = 31 - bits.leading_zeros();
            if (p as i32) < floor {
                return None;
            }
            loop {
                match self.injector[p as usize].steal() {
                    Steal::Success(t) => return Some(t.0),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
            // Empty: clear the bit, then look again in case a push slipped
            // in between our steal and the clear (its fetch_or may have come
            // before our fetch_and).
            self.injector_bits.fetch_and(!(1 << p), SeqCst);
            if !self.injector[p as usize].is_empty() {
                self.injector_bits.fetch_or(1 << p, SeqCst);
            }
        }
    }

    /// New stealable work at priority `p` was pushed: make sure an LWP will
    /// look at it (see the module doc), and ask LWPs running lower-priority
    /// ULTs to switch at their next safe point.
    pub(crate) fn notify_work(&self, p: u8) {
        fence(SeqCst);
        self.notify_work_fenced(p);
    }

    /// `notify_work` for a caller that issued the SeqCst fence itself, right
    /// after its push (`push_global`): one full fence per push, not two.
    fn notify_work_fenced(&self, p: u8) {
        if self.searching.load(SeqCst) == 0 && self.sleepers.load(SeqCst) > 0 {
            // An LWP asleep on its futex first: the one in the reactor
            // keeps polling for io (see `reactor`).
            for polling in [false, true] {
                for l in self.lwps() {
                    if l.is_pool_member() && l.parker.is_polling() == polling && l.claim_sleeping()
                    {
                        l.parker.unpark();
                        return;
                    }
                }
            }
        }
        if p > crate::thread::tcb::DEFAULT_PRIORITY {
            for l in self.lwps() {
                if l.is_pool_member() {
                    l.request_preempt_below(p);
                }
            }
        }
    }

    /// The level last passed to `set_concurrency` (0: automatic).
    pub(crate) fn requested_concurrency(&self) -> usize {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requested
    }
}

/// Wraps the panic hook once, so that a panic in a ULT is reported with the
/// ULT's name and id (`thread 'worker' (ULT 12) panicked at ...`) instead of
/// the name of the LWP it happened to run on. Panics on OS threads, and the
/// message format, stay those of the hook installed before; a hook the
/// program installs later replaces this one, as with std.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let Some((_, tcb)) = crate::lwp::current_ult() else {
            return previous(info);
        };
        let name = tcb.name();
        let name = name.as_deref().unwrap_or("<unnamed>");
        let location = info.location().map_or_else(String::new, |l| {
            format!(" at {}:{}:{}", l.file(), l.line(), l.column())
        });
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.as_str()
        } else {
            "Box<dyn Any>"
        };
        eprintln!(
            "\nthread '{name}' ({}) panicked{location}:\n{msg}",
            tcb.id()
        );
    }));
}

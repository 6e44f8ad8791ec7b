//! The pool's shared state: the LWP table, the global injector, the stack
//! pool, the sleep/wake bookkeeping of idle LWPs, and the monitor's
//! doorbell. Part of the engine (with `lwp`, `sched` and the reactor's
//! driver); it must not name the monitor's loop or the public API. The
//! start-up that brings up the LWPs and the monitor sits above both, in
//! `start.rs`.

//!
//! The protocol by which idle LWPs sleep and are woken is `sched/idle.rs`;
//! its counters live here, in [`Idle`].

use std::io;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicUsize};
use std::sync::Mutex;

use crossbeam_deque::{Injector, Steal};

use crate::lwp::pool::PoolState;
use crate::lwp::Lwp;
use crate::sched::idle::Idle;
use crate::sched::Task;
use crate::stack;
use crate::thread::tcb::{Tcb, PRIORITY_LEVELS};

/// Most LWPs of the pool (`set_concurrency`): a runaway guard, as in
/// Go's limit on Ms, set far above any useful number for a CPU-bound pool.
pub const MAX_CONCURRENCY: usize = 256;

/// Slots in the LWP table: the pool plus bound threads, each of which has
/// an LWP of its own while it lives.
const MAX_LWPS: usize = 16384;
// Every LWP index has room for an epoll set of its own in the reactor.
const _: () = assert!(MAX_LWPS <= crate::reactor::SETS);

pub(crate) struct Runtime {
    lwps: Box<[AtomicPtr<Lwp>]>,
    /// Slots of `lwps` in use (high-water mark).
    lwp_slots: AtomicUsize,
    pub(crate) pool: Mutex<PoolState>,
    injector: [Injector<Task>; PRIORITY_LEVELS as usize],
    /// Bit `p` is set when `injector[p]` may be non-empty.
    injector_bits: AtomicU32,
    /// The LWP sleep/wake protocol's counters (`sched/idle.rs`).
    pub(crate) idle: Idle,
    pub(crate) stacks: stack::Pool,
    pub(crate) default_stack: usize,
    /// `stack::class_of(default_stack)`, if that size is valid: a spawn
    /// at the default size looks it up instead of computing it.
    pub(crate) default_class: Option<u8>,
    pub(crate) monitor: crate::monitor::doorbell::Monitor,
    /// The LWPs and the monitor were started (`start.rs`); per runtime, so
    /// that the child of a fork starts its own.
    pub(crate) started: std::sync::Once,
}

/// The runtime: null until first use, and again in the child of a `fork`
/// (see `thread/fork.rs`), where the parent's runtime is left behind
/// (leaked: its LWPs did not survive the fork) and a new one is made.
static RT: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());

/// The runtime's shared state, made on first use. This does not start the
/// LWPs or the monitor: the engine runs only once they are started, and
/// the public calls that need them go through `start::rt`.
#[inline]
pub(crate) fn rt() -> &'static Runtime {
    match try_rt() {
        Some(r) => r,
        None => init(),
    }
}

#[cold]
fn init() -> &'static Runtime {
    let new = Box::into_raw(Box::new(Runtime::new()));
    // AcqRel: Release publishes the new runtime to `try_rt`'s Acquire;
    // Acquire (on failure) reads a rival's.
    match RT.compare_exchange(std::ptr::null_mut(), new, AcqRel, Acquire) {
        // SAFETY: `new` was leaked above and is never freed.
        Ok(_) => unsafe { &*new },
        Err(theirs) => {
            // SAFETY: ours was never shared; theirs is never freed.
            drop(unsafe { Box::from_raw(new) });
            // SAFETY: as above.
            unsafe { &*theirs }
        }
    }
}

/// The runtime if it was made; never makes it.
#[inline]
pub(crate) fn try_rt() -> Option<&'static Runtime> {
    // Acquire pairs with the Release of the CAS in `init`.
    let p = RT.load(Acquire);
    // SAFETY: a published runtime is never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// In the child of a `fork`: forgets the parent's runtime, so that the next
/// use makes and starts a new one. Only the child's one thread runs.
pub(crate) fn forget_after_fork() {
    RT.store(std::ptr::null_mut(), Release);
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
        let default_stack = crate::config::stack_size();
        Runtime {
            lwps: (0..MAX_LWPS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            lwp_slots: AtomicUsize::new(0),
            pool: Mutex::new(PoolState::new()),
            injector: std::array::from_fn(|_| Injector::new()),
            injector_bits: AtomicU32::new(0),
            idle: Idle::new(),
            stacks: stack::Pool::new(),
            default_stack,
            default_class: stack::class_of(default_stack).ok(),
            monitor: crate::monitor::doorbell::Monitor::new(),
            started: std::sync::Once::new(),
        }
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

    /// Whether the injector holds no ULT at any level: exact, where
    /// `global_top` may still show a level that has emptied.
    pub(crate) fn global_is_empty(&self) -> bool {
        self.injector.iter().all(|q| q.is_empty())
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
        if self.idle.should_wake() {
            // An LWP asleep on its futex first: one asleep in its epoll
            // set is as cheap to wake (an eventfd write), but this order
            // keeps the LWPs that wait for io where they are.
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

//! Threads: `pthread_create`, `join`, `detach`, `exit`, `self`, `equal`,
//! `once`, `yield`, concurrency, names and scheduling parameters, and
//! weave's own `weave_thread_create`.
//!
//! Owns the registry of joinable C threads (join handles and the
//! scheduling parameters as the program set them) and the landing pad that
//! `pthread_exit` jumps to. It must not touch a thread's stack or TCB: a C
//! thread is an ordinary weave ULT whose closure calls the start routine.
//!
//! A `pthread_t` is the weave `ThreadId` as a number (table index and
//! generation), so a stale or made-up one is `ESRCH`, never a crash.
//!
//! **What a create and a join cost.** `pthread_create` is one weave spawn
//! (no allocation: weave's join packet, which also carries the start
//! routine's value back, lives in storage of the held thread's index;
//! `attr` null gives no `Spec` at all) whose handle is recorded, together with
//! `*thread`, before the ULT can run (`Builder::spawn_published`), so the
//! child needs no handshake with its creator. The registry holds joinable
//! threads only, from create to join, in a table indexed by the thread's
//! weave table index (no map, no hashing): a joinable thread is spawned
//! with its id held (`Builder::hold_id`), so that its index names no other
//! thread until the join (or detach) drops its handle, and one entry per
//! index is enough. Its state word (`joinable.rs`) makes that one store
//! per create and, per join, one CAS (the claim: a second join or a
//! detach must lose) and a store; the child never touches it. The specs
//! (`pthread_getattr_np`, the scheduling parameters) sit beside it under
//! a spin lock of their own, which a create with a null `attr` does not
//! take. The count of live C threads that `pthread_exit` in `main` waits
//! on is kept per LWP without an RMW (`live.rs`). A detached thread is
//! not in it at all (its handle is dropped: weave frees the packet when it
//! ends, and its index is free for reuse at once). The landing pad sits in
//! the same table, which only the thread itself reads and writes.
//!
//! **How `pthread_exit` ends a ULT without unwinding C frames.** The
//! closure calls the start routine through `weave__run_landing`
//! (`src/landing.c`), which does `setjmp` and records the jump buffer as
//! the ULT's landing pad. `pthread_exit` `longjmp`s there: the C frames in
//! between are simply abandoned (the stack is weave's and is recycled when
//! the ULT ends); the cleanup handlers pushed in them have run just
//! before, while the frames were intact. The only Rust frame jumped over is
//! `weave_pthread_exit`'s own, which holds nothing to drop at the jump.
//! Then the closure goes on as after a return: key destructors run, the
//! registry is updated, and the value becomes the join result.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
use std::sync::LazyLock;
use std::time::Duration;

use libc::{pthread_attr_t, pthread_once_t, pthread_t, sched_param};
use weave_rt::sync::{Condvar, Mutex, Semaphore};
use weave_rt::thread::{Builder, JoinHandle, ThreadId};

use crate::joinable::{Joinable, Refused};
use crate::live::Counts;
use crate::main_state::MainState;
use crate::time::Clock;
use crate::{attr, guard, key};

/// A C start routine.
pub(crate) type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;

extern "C" {
    /// `src/landing.c`: calls `start(arg)` after a `setjmp`, handing the
    /// jump buffer to `publish(ctx, pad)`, and calling `ended()` as the
    /// start routine returns, before it leaves the pad's frame; returns the
    /// start routine's value, or the one given to `weave__land`.
    fn weave__run_landing(
        start: StartRoutine,
        arg: *mut c_void,
        publish: extern "C" fn(*const c_void, *mut c_void),
        ctx: *const c_void,
        ended: extern "C" fn(),
    ) -> *mut c_void;
    /// `src/landing.c`: stores `value` and `longjmp`s to `landing`.
    fn weave__land(landing: *mut c_void, value: *mut c_void) -> !;
}

/// Slots per chunk of the table below.
const CHUNK: usize = 1024;

/// What the C layer keeps per weave table index: the landing pad of the
/// C thread running there, and the registry entry of the joinable C
/// thread whose id has that index.
struct CSlot {
    /// The landing pad of the C thread at this index while inside its
    /// start routine (null outside). Only that thread reads or writes it,
    /// so Relaxed is enough.
    landing: AtomicPtr<c_void>,
    /// Whose handle `handle` is, and whether a join has it out
    /// (`joinable.rs`).
    word: Joinable,
    /// The joinable thread's handle: written by its creator before
    /// `word.publish`, then moved only by whoever holds `word`'s claim.
    handle: UnsafeCell<Option<JoinHandle<usize>>>,
    /// Guards `spec` (a few instructions at a time; never held across a
    /// wait). Taken only by calls about attributes and scheduling, and by
    /// a create that has a spec to store or an old one to clear.
    spec_lock: AtomicBool,
    /// Whether `spec` may hold one: set under `spec_lock`, so that a
    /// create with none to store skips the lock when there is none to
    /// clear either.
    has_spec: AtomicBool,
    /// How the thread was asked for, if not with the defaults, and the
    /// id it is for: a spec left by an earlier thread of the index (set
    /// by `pthread_setschedparam` racing with that thread's join) names
    /// that thread, so nobody takes it for the current one.
    spec: UnsafeCell<Option<(pthread_t, Box<Spec>)>>,
    /// The scheduling policy and priority of the thread at this index, if
    /// the program set them (`pthread_setschedparam`, an explicit or
    /// inherited create): a [`SchedWord`] naming the thread by generation,
    /// so that a later thread of the index reads the defaults. Any thread
    /// has one, `main` and detached ones too.
    sched: AtomicU64,
}

type Chunk = [CSlot; CHUNK];

/// The slots by weave table index. A joinable C thread's id is held
/// (`Builder::hold_id`) until it is joined or detached, so its index names
/// no other thread meanwhile and one entry per index is enough. Chunks are
/// made on first use and never freed; the directory is zeroed static
/// memory (512 KiB of address space, touched only as far as thread
/// indices go).
static SLOTS: [AtomicPtr<Chunk>; weave_rt::thread::MAX_THREADS / CHUNK] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; weave_rt::thread::MAX_THREADS / CHUNK];

/// The slot of table index `i`, made if `make` (else `None` if its chunk
/// was never made: no C thread ever had that index).
#[inline]
fn cslot(i: u32, make: bool) -> Option<&'static CSlot> {
    let dir = SLOTS.get(i as usize / CHUNK)?;
    // Acquire: pairs with the Release of the CAS that published the chunk.
    let mut chunk = dir.load(Acquire);
    if chunk.is_null() {
        if !make {
            return None;
        }
        chunk = new_chunk(dir);
    }
    // SAFETY: chunks are never freed; `i % CHUNK` is in bounds.
    Some(unsafe { &(*chunk)[i as usize % CHUNK] })
}

#[cold]
fn new_chunk(dir: &AtomicPtr<Chunk>) -> *mut Chunk {
    // Built in place: an array of this size made on the stack and moved
    // into a box costs a copy of it.
    let slots: Box<[CSlot]> = (0..CHUNK)
        .map(|_| CSlot {
            landing: AtomicPtr::new(std::ptr::null_mut()),
            word: Joinable::new(),
            handle: UnsafeCell::new(None),
            spec_lock: AtomicBool::new(false),
            has_spec: AtomicBool::new(false),
            spec: UnsafeCell::new(None),
            sched: AtomicU64::new(0),
        })
        .collect();
    let fresh: Box<Chunk> = slots
        .try_into()
        .unwrap_or_else(|_| unreachable!("the iterator made CHUNK slots"));
    let fresh = Box::into_raw(fresh);
    // Release (success): the chunk's contents are visible to whoever loads
    // the pointer; Acquire (failure): pairs with the winner's Release.
    match dir.compare_exchange(std::ptr::null_mut(), fresh, Release, Acquire) {
        Ok(_) => fresh,
        Err(won) => {
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            won
        }
    }
}

// SAFETY: `handle` is touched only by the creator before `word.publish`
// and by the holder of `word`'s claim (`joinable.rs`); `spec` only under
// `spec_lock` (`Specs`); the other fields are atomics.
unsafe impl Sync for CSlot {}

/// The slot of `t`'s index (`None` if no C thread ever had that index).
#[inline]
fn registry(t: pthread_t) -> Option<&'static CSlot> {
    cslot(t as u32, false)
}

/// A claimed entry's handle (`word.claim` succeeded for it).
fn take_handle(s: &CSlot) -> JoinHandle<usize> {
    // SAFETY: the caller holds the claim: nobody else touches `handle`.
    unsafe { &mut *s.handle.get() }
        .take()
        .expect("a claimed entry holds its handle")
}

/// Puts a claimed entry's handle back, and lets go of the claim.
fn give_back_handle(s: &CSlot, t: pthread_t, h: JoinHandle<usize>) {
    // SAFETY: the caller holds the claim, as above.
    unsafe { *s.handle.get() = Some(h) };
    s.word.unclaim(t);
}

/// The specs of one index, locked.
struct Specs(&'static CSlot);

impl Specs {
    fn lock(s: &'static CSlot) -> Specs {
        // Acquire: pairs with the Release in `drop`, so the last holder's
        // writes to the spec are seen.
        if s.spec_lock
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            Self::lock_contended(s);
        }
        Specs(s)
    }

    #[cold]
    fn lock_contended(s: &'static CSlot) {
        let mut spins = 0u32;
        // Acquire: as in `lock`.
        while s
            .spec_lock
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            // The holder copies a few words and lets go; if its LWP was
            // descheduled meanwhile, let this one do something else.
            if spins < 64 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                weave_rt::thread::yield_now();
            }
        }
    }

    /// `t`'s spec, if it is a joinable C thread's (not yet joined or
    /// detached) and was not made with the defaults.
    fn of(&mut self, t: pthread_t) -> Option<&mut Spec> {
        if !self.0.word.is(t) {
            return None;
        }
        // SAFETY: we hold the lock.
        match unsafe { &mut *self.0.spec.get() } {
            Some((id, s)) if *id == t => Some(s),
            _ => None,
        }
    }

    /// Stores `spec` as `t`'s (`None`: the defaults), dropping an earlier
    /// thread's.
    fn set(&mut self, t: pthread_t, spec: Option<Box<Spec>>) -> Option<(pthread_t, Box<Spec>)> {
        self.0.has_spec.store(spec.is_some(), Relaxed);
        // SAFETY: we hold the lock.
        std::mem::replace(unsafe { &mut *self.0.spec.get() }, spec.map(|s| (t, s)))
    }

    /// Takes `t`'s spec out, if it has one.
    fn take(&mut self, t: pthread_t) -> Option<Box<Spec>> {
        // SAFETY: we hold the lock.
        let cell = unsafe { &mut *self.0.spec.get() };
        match cell {
            Some((id, _)) if *id == t => {
                self.0.has_spec.store(false, Relaxed);
                cell.take().map(|(_, s)| s)
            }
            _ => None,
        }
    }
}

impl Drop for Specs {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `lock`.
        self.0.spec_lock.store(false, Release);
    }
}

/// The specs of `t`'s index, locked (`None` if no C thread ever had that
/// index).
fn specs(t: pthread_t) -> Option<Specs> {
    registry(t).map(Specs::lock)
}

/// A thread's scheduling policy and priority as the program set them,
/// in the `sched` word of its index's slot: the thread's generation (the
/// high half of its `pthread_t`) above [`SCHED_SET`], the policy in bits
/// 8 to 15 and the priority (0 to 99) in bits 0 to 7. A word of another
/// generation, or without `SCHED_SET`, reads as `SCHED_OTHER`, 0.
struct SchedWord;

const SCHED_SET: u64 = 1 << 16;

/// Set once any thread's policy or priority is set (`pthread_setschedparam`,
/// `setschedprio`, an explicit create): until then every thread has the
/// defaults, and a create need not look up its creator's to inherit them.
static EVER_SCHED: AtomicBool = AtomicBool::new(false);

impl SchedWord {
    /// `t`'s policy and priority.
    fn get(t: pthread_t) -> (c_int, c_int) {
        // Relaxed: the word is one value; a thread that set it sees its
        // own store, and another reads the latest or the one before, as
        // with any racing set and get.
        let w = cslot(t as u32, false).map_or(0, |s| s.sched.load(Relaxed));
        if w & SCHED_SET == 0 || w >> 32 != t >> 32 {
            return (libc::SCHED_OTHER, 0);
        }
        (((w >> 8) & 0xff) as c_int, (w & 0xff) as c_int)
    }

    /// Records `t`'s policy and priority (checked by `weave_priority`:
    /// the policy is below 256, the priority 0 to 99).
    fn set(t: pthread_t, policy: c_int, prio: c_int) {
        EVER_SCHED.store(true, Relaxed);
        let w = (t >> 32) << 32 | SCHED_SET | ((policy as u64 & 0xff) << 8) | (prio as u64 & 0xff);
        if let Some(s) = cslot(t as u32, true) {
            s.sched.store(w, Relaxed);
        }
    }
}

/// The calling thread's landing-pad slot.
fn landing_slot() -> &'static AtomicPtr<c_void> {
    let i = weave_rt::thread::current_id().index();
    &cslot(i, true)
        .expect("a thread index is below MAX_THREADS")
        .landing
}

/// Stores the landing pad in the thread's slot (`ctx`).
extern "C" fn publish_landing(ctx: *const c_void, landing: *mut c_void) {
    // SAFETY: `ctx` is the calling thread's landing slot, passed by
    // `run_c_thread`; slots are never freed.
    let slot = unsafe { &*ctx.cast::<AtomicPtr<c_void>>() };
    slot.store(landing, Relaxed);
}

/// The calling thread's landing pad, if it is a C thread inside its start
/// routine (null otherwise).
fn current_landing() -> *mut c_void {
    landing_slot().load(Relaxed)
}

/// How a thread was asked for: by `pthread_attr_t` or weave's options.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Spec {
    pub(crate) name: Option<String>,
    pub(crate) stack_size: Option<usize>,
    /// A stack of the program's: its lowest address and size.
    pub(crate) user_stack: Option<(usize, usize)>,
    pub(crate) guard_size: Option<usize>,
    pub(crate) priority: Option<u8>,
    pub(crate) bound: bool,
    pub(crate) detached: bool,
    pub(crate) policy: c_int,
    pub(crate) sched_priority: c_int,
    /// The signal mask the thread starts with (`pthread_attr_setsigmask_np`;
    /// none: its creator's).
    pub(crate) sigmask: Option<u64>,
}

/// The C threads that have not finished (`live.rs`): `pthread_exit` in
/// `main` waits for them (on `LIVE_DONE`) before the process exits.
/// (Pool LWPs have the lowest indices; past `MAX_CONCURRENCY`, the
/// shared pair.)
#[cfg(not(loom))]
static LIVE: Counts<{ weave_rt::MAX_CONCURRENCY }> = Counts::new();
#[cfg(loom)]
static LIVE: LazyLock<Counts<{ weave_rt::MAX_CONCURRENCY }>> = LazyLock::new(Counts::new);
static LIVE_DONE: LazyLock<(Mutex<()>, Condvar)> =
    LazyLock::new(|| (Mutex::new(()), Condvar::new()));
/// Set once `main` waits in `pthread_exit`: from then on each C thread
/// that finishes wakes it to count again.
static MAIN_WAITS: AtomicBool = AtomicBool::new(false);
/// How long `main` waits before it counts again unwoken: the backstop for
/// a wake lost to the race of `MAIN_WAITS`'s store with a thread's load
/// of it (neither side fences; a lost wake costs `main` this much).
const RECOUNT: Duration = Duration::from_millis(10);

/// Whether the thread that is forking is a C thread (set by the
/// `prepare` handler, read by the `child` one).
static FORKER_IS_C: AtomicBool = AtomicBool::new(false);

extern "C" fn before_fork() {
    // Only a ULT can be a C thread. Asked first: an OS thread's id would
    // register it with weave, which must not happen here (weave's own
    // fork handler holds the thread table's locks by now).
    let c = weave_rt::thread::current_lwp().is_some() && !current_landing().is_null();
    FORKER_IS_C.store(c, Relaxed);
}

/// In a child of `fork`, only the forking thread exists: the live count
/// is 1 if it is a C thread (it will finish here), else 0, so that
/// `pthread_exit` in the child's `main` does not wait for the parent's
/// threads.
extern "C" fn in_fork_child() {
    LIVE.reset(u64::from(FORKER_IS_C.load(Relaxed)));
    MAIN_WAITS.store(false, Relaxed);
    MAIN_STATE.reset();
}

/// Installs the fork handlers above, once, before the first C thread.
fn fork_handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: plain C function pointers that live for the program.
        let r = unsafe { libc::pthread_atfork(Some(before_fork), None, Some(in_fork_child)) };
        debug_assert_eq!(r, 0, "pthread_atfork fails only without memory");
    });
}

/// The calling C thread has finished.
fn live_done() {
    LIVE.ended(weave_rt::thread::current_lwp());
    if MAIN_WAITS.load(Relaxed) {
        // Under the lock `main` counts under, so that a wake after its
        // count is not lost.
        let (m, cv) = &*LIVE_DONE;
        let _g = m.lock().unwrap_or_else(|e| e.into_inner());
        cv.notify_all();
    }
}

fn wait_all_finished() {
    MAIN_WAITS.store(true, Relaxed);
    let (m, cv) = &*LIVE_DONE;
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    while !LIVE.none_live() {
        g = cv
            .wait_timeout(g, RECOUNT)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// The main thread's join state (`main_state.rs`): a join waits for
/// `main`'s `pthread_exit` (a return from `main` ends the process
/// instead) and gets its value.
static MAIN_STATE: MainState = MainState::new();
/// `main`'s `pthread_exit` value, stored before [`MAIN_EXITED`] gets its
/// permit.
static MAIN_VALUE: AtomicUsize = AtomicUsize::new(0);
/// One permit once `main` has called `pthread_exit`: the joiner takes it.
static MAIN_EXITED: Semaphore = Semaphore::new(0);

/// Whether `t` is the process's main thread (an OS thread whose kernel
/// id is the process id).
fn is_main(t: pthread_t) -> bool {
    // SAFETY: a plain system call.
    let pid = unsafe { libc::getpid() };
    live(t).is_ok_and(|th| th.kernel_tid() == Ok(Some(pid)))
}

/// `pthread_detach` of the main thread.
fn detach_main() -> c_int {
    MAIN_STATE.detach()
}

/// The joins of the main thread: as [`join_with`]'s, with `main`'s
/// `pthread_exit` as the end waited for.
fn join_main(retval: *mut *mut c_void, how: Wait) -> c_int {
    let r = MAIN_STATE.begin_join();
    if r != 0 {
        return r; // joined, detached, or another join under way
    }
    // One wait: joined `Some(0)`, a cancellation `Some(ACT)`, or `until`
    // passed `None`. A permit taken is kept even if a request came too.
    let wait = |until| match crate::cancel::point(|| MAIN_EXITED.acquire_cancellable(until)) {
        Ok((Some(p), _)) => {
            p.forget();
            Some(0)
        }
        Ok((None, false)) => None,
        Ok((None, true)) | Err(()) => Some(crate::cancel::ACT),
    };
    let r = match how {
        Wait::Not => match MAIN_EXITED.try_acquire() {
            Some(p) => {
                p.forget();
                0
            }
            None => libc::EBUSY,
        },
        Wait::Block => wait(None).unwrap_or(libc::ETIMEDOUT),
        Wait::Until(clock, abstime) => {
            crate::time::wait_until(clock, abstime, |until| wait(Some(until))).unwrap_or_else(|e| e)
        }
    };
    MAIN_STATE.end_join(r == 0);
    if r != 0 {
        return r;
    }
    if !retval.is_null() {
        // Relaxed: the permit's release and acquire order it after
        // `main`'s store.
        let value = MAIN_VALUE.load(Relaxed) as *mut c_void;
        // SAFETY: non-null; the program's `void *` to store into.
        unsafe { retval.write(value) };
    }
    0
}

/// The thread id a `pthread_t` holds, or `ESRCH`.
pub(crate) fn thread_id(t: pthread_t) -> Result<ThreadId, c_int> {
    ThreadId::from_u64(t).ok_or(libc::ESRCH)
}

/// `ESRCH` unless the id names a live thread.
pub(crate) fn live(t: pthread_t) -> Result<weave_rt::thread::Thread, c_int> {
    weave_rt::thread::find(thread_id(t)?).map_err(|_| libc::ESRCH)
}

/// Whether `t` names a C thread that has ended but whose id is still
/// valid (joinable, not yet joined: POSIX keeps the id alive until then).
pub(crate) fn ended_unjoined(t: pthread_t) -> bool {
    registry(t).is_some_and(|s| s.word.is(t))
}

/// The default stack size: `WEAVE_STACK_SIZE` or weave's default.
pub(crate) fn default_stack_size() -> usize {
    match weave_rt::config::variable("WEAVE_STACK_SIZE").map(|v| v.get()) {
        Some(weave_rt::config::Value::Size(n)) => n.max(weave_rt::stack::MIN_STACK_SIZE),
        _ => weave_rt::stack::DEFAULT_STACK_SIZE,
    }
}

/// The body of every C thread, on its ULT.
fn run_c_thread(start: StartRoutine, arg: usize) -> usize {
    let slot = landing_slot();
    // SAFETY: `weave__run_landing` calls `start(arg)` as the program asked
    // in pthread_create; the landing pad it publishes lives in its frame,
    // which is below this one until it returns.
    let ret = unsafe {
        weave__run_landing(
            start,
            arg as *mut c_void,
            publish_landing,
            std::ptr::from_ref(slot).cast(),
            crate::cancel::start_returned,
        )
    };
    slot.store(std::ptr::null_mut(), Relaxed);
    key::run_destructors();
    live_done();
    ret as usize
}

/// `pthread_create`: a new ULT running `start(arg)`, with `attr`'s
/// detach state, stack size, scope (`PTHREAD_SCOPE_SYSTEM` = a bound
/// thread), a stack of the program's (`pthread_attr_setstack`) and
/// scheduling. `EINVAL` for a null `thread` or `start` or an
/// uninitialised `attr`; `EAGAIN` when weave cannot get a stack or a
/// thread table slot.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_create(
    thread: *mut pthread_t,
    attr: *const pthread_attr_t,
    start: Option<extern "C" fn(*mut c_void) -> *mut c_void>,
    arg: *mut c_void,
) -> c_int {
    guard("pthread_create", libc::EAGAIN, || {
        let Some(start) = start else {
            return libc::EINVAL;
        };
        if thread.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: `attr` is null or a pthread_attr_t of the program.
        let spec = match unsafe { attr::spec_of(attr) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        create_with(thread, spec, start, arg)
    })
}

/// `b` set up as `spec` asks: name, stack, priority, scope.
fn spec_builder(mut b: Builder, spec: &Spec) -> Builder {
    if let Some(n) = &spec.name {
        b = b.name(n.clone());
    }
    if let Some(s) = spec.stack_size {
        b = b.stack_size(s);
    }
    if let Some((lo, size)) = spec.user_stack {
        // SAFETY: the program gave this memory as the thread's stack
        // (`pthread_attr_setstack`), which POSIX makes its promise that
        // nothing else uses it while the thread runs.
        b = unsafe { b.stack(lo as *mut u8, size) };
    } else if let Some(g) = spec.guard_size {
        // POSIX: ignored with a stack of the program's.
        b = b.stack_guard(g);
    }
    if let Some(p) = spec.priority {
        b = b.priority(p);
    }
    if spec.bound {
        b = b.bound();
    }
    b
}

/// The create itself, for `spec` (`None`: weave's defaults).
fn create_with(
    thread: *mut pthread_t,
    spec: Option<Spec>,
    start: StartRoutine,
    arg: *mut c_void,
) -> c_int {
    // C threads lend their stacks to each other's system calls freely:
    // weave compacts no idle C thread's stack unless WEAVE_COMPACT asks.
    weave_rt::stack::keep_compaction_off_unless_set();
    let mut b = Builder::new();
    if let Some(spec) = &spec {
        b = spec_builder(b, spec);
    }
    // The policy and priority the child starts with: the attributes'
    // (`PTHREAD_EXPLICIT_SCHED`), else its creator's
    // (`PTHREAD_INHERIT_SCHED`, the default), if not the defaults.
    let sched = match &spec {
        Some(s) if s.priority.is_some() => Some((s.policy, s.sched_priority)),
        _ if EVER_SCHED.load(Relaxed) => {
            let (policy, prio) = SchedWord::get(weave_pthread_self());
            if let Ok(p) = weave_priority(policy, prio) {
                b = b.priority(p);
            }
            Some((policy, prio))
        }
        _ => None,
    }
    .filter(|&s| s != (libc::SCHED_OTHER, 0));
    let arg = arg as usize;
    let detached = spec.as_ref().is_some_and(|s| s.detached);
    // A signal mask of the attributes' (`signal.rs`): blocked for everything
    // until the child's first step sets it.
    let sigmask = spec.as_ref().and_then(|s| s.sigmask);
    let _spawning = sigmask.map(|_| crate::signal::SpawnMasked::new());
    // Kept for `pthread_getattr_np` only if it is not the defaults.
    let spec = spec.filter(|s| *s != Spec::default()).map(Box::new);
    fork_handlers();
    LIVE.created(weave_rt::thread::current_lwp());
    let mut id = 0;
    // `*thread` and the registry entry are written before the child runs
    // a line of C (POSIX: the id is stored on return, and the child may
    // use it at once, to detach itself say).
    if !detached {
        // Its index names it until it is joined or detached: the key of
        // its registry entry.
        b = b.hold_id();
    }
    let spawned = b.spawn_published(
        move || {
            if let Some(m) = sigmask {
                crate::signal::set_start_mask(m);
            }
            run_c_thread(start, arg)
        },
        |handle: JoinHandle<usize>| {
            id = handle.thread().id().as_u64().get();
            // SAFETY: checked non-null by the caller; the program's storage.
            unsafe { thread.write(id as pthread_t) };
            if let Some((policy, prio)) = sched {
                SchedWord::set(id, policy, prio);
            }
            if !detached {
                let slot = cslot(id as u32, true).expect("a thread index is below MAX_THREADS");
                if spec.is_some() || slot.has_spec.load(Relaxed) {
                    // One to store, or an earlier thread's to clear.
                    let old = Specs::lock(slot).set(id, spec);
                    drop(old);
                }
                // SAFETY: the index's last entry was removed before its
                // id was let go of, and nobody claims this one before the
                // publish below.
                unsafe { *slot.handle.get() = Some(handle) };
                slot.word.publish(id);
            } else if let Some(spec) = spec {
                // For `pthread_getattr_np`.
                attr::keep_detached(id as pthread_t, *spec);
            }
            // Detached: dropping the handle detaches the weave thread.
        },
    );
    match spawned {
        Ok(()) => 0,
        Err(e) => {
            // The handle back out of the entry; dropping it lets go of
            // the id.
            if let Some(s) = registry(id) {
                if s.word.claim(id).is_ok() {
                    let h = take_handle(s);
                    s.word.remove();
                    drop(h);
                }
            }
            LIVE.undo_created();
            match e.kind() {
                std::io::ErrorKind::InvalidInput => libc::EINVAL,
                _ => libc::EAGAIN,
            }
        }
    }
}

/// `pthread_join`: waits for the thread and stores its exit value
/// (`PTHREAD_CANCELED` for a cancelled thread). `ESRCH` for an id that
/// names no live or unjoined thread (a made-up or stale one, or one
/// already joined), `EINVAL` for a detached thread or one another thread
/// is joining, `EDEADLK` for the caller itself. The main thread may be
/// joined too: the join returns when `main` calls `pthread_exit`, with its
/// value. A cancellation point: a joiner cancelled while it waits leaves
/// the thread joinable.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_join(
    thread: pthread_t,
    retval: *mut *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    crate::cancel::finish(unsafe { join(thread, retval) })
}

unsafe fn join(thread: pthread_t, retval: *mut *mut c_void) -> c_int {
    guard("pthread_join", libc::EINVAL, || {
        join_with(thread, retval, Wait::Block)
    })
}

/// How long a join waits for a thread that has not finished.
#[derive(Clone, Copy)]
enum Wait {
    /// Until it finishes (`pthread_join`).
    Block,
    /// Not at all: `EBUSY` (`pthread_tryjoin_np`).
    Not,
    /// Until `abstime` on the clock (`pthread_timedjoin_np`,
    /// `pthread_clockjoin_np`): `ETIMEDOUT` then.
    Until(Clock, *const libc::timespec),
}

/// The joins: the checks every join makes (`ESRCH`, `EDEADLK`, `EINVAL`),
/// then the wait `how` asks for. A thread that a join did not take (busy,
/// timed out, or the joiner cancelled) stays joinable.
fn join_with(thread: pthread_t, retval: *mut *mut c_void, how: Wait) -> c_int {
    let id = match thread_id(thread) {
        Ok(id) => id,
        Err(e) => return e,
    };
    if id == weave_rt::thread::current_id() {
        return libc::EDEADLK;
    }
    let slot = registry(thread);
    match slot.map(|s| s.word.claim(thread)) {
        Some(Ok(())) => {}
        Some(Err(Refused::Claimed)) => return libc::EINVAL, // another join is under way
        None | Some(Err(Refused::NotJoinable)) => {
            return match live(thread) {
                Ok(_) if is_main(thread) => join_main(retval, how),
                Ok(_) => libc::EINVAL, // not a C thread, or detached
                Err(e) => e,
            };
        }
    }
    let slot = slot.expect("claimed above");
    let handle = take_handle(slot);
    let give_back = |handle, r| {
        give_back_handle(slot, thread, handle);
        r
    };
    if handle.is_finished() {
        // A cancellation point even so (not tryjoin): the cheap check.
        if !matches!(how, Wait::Not) && crate::cancel::due() {
            return give_back(handle, crate::cancel::ACT);
        }
    } else {
        // One wait (a cancellation point: acted on before the join takes
        // anything): joined `Some(0)`, a cancellation `Some(ACT)`, or
        // `until` passed `None`.
        let wait = |until| match crate::cancel::point(|| handle.wait_cancellable_until(until)) {
            Ok((true, _)) => Some(0),
            Ok((false, false)) => None,
            Ok((false, true)) | Err(()) => Some(crate::cancel::ACT),
        };
        let r = match how {
            Wait::Not => libc::EBUSY,
            Wait::Block => wait(None).unwrap_or(libc::ETIMEDOUT),
            // On CLOCK_REALTIME in steps, the clock read again after each
            // (it may have been set): `time::wait_until`.
            Wait::Until(clock, abstime) => {
                crate::time::wait_until(clock, abstime, |until| wait(Some(until)))
                    .unwrap_or_else(|e| e)
            }
        };
        if r != 0 {
            return give_back(handle, r);
        }
    }
    // The entry goes before the join lets go of the id (which another
    // thread's entry may then take). Its spec, if any, stays, named for
    // this thread, until the index's next create clears it.
    slot.word.remove();
    let value = match handle.join() {
        Ok(v) => v as *mut c_void,
        Err(_) => crate::glibc::PTHREAD_CANCELED,
    };
    if !retval.is_null() {
        // SAFETY: non-null; the program's `void *` to store into.
        unsafe { retval.write(value) };
    }
    0
}

/// `pthread_tryjoin_np` (a GNU extension): as `pthread_join` for a thread
/// that has finished; `EBUSY` at once for one that has not, which stays
/// joinable. Not a cancellation point.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_tryjoin_np(
    thread: pthread_t,
    retval: *mut *mut c_void,
) -> c_int {
    guard("pthread_tryjoin_np", libc::EINVAL, || {
        join_with(thread, retval, Wait::Not)
    })
}

/// `pthread_timedjoin_np` (a GNU extension): as `pthread_join`, giving up
/// at `abstime` on `CLOCK_REALTIME` with `ETIMEDOUT` (the thread stays
/// joinable); `EINVAL` for a bad `abstime` when the thread has not
/// finished. The wait follows the realtime clock if it is set meanwhile
/// (read again at least once a second, `time::REALTIME_STEP`). A
/// cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_timedjoin_np(
    thread: pthread_t,
    retval: *mut *mut c_void,
    abstime: *const libc::timespec,
) -> c_int {
    crate::cancel::finish(guard("pthread_timedjoin_np", libc::EINVAL, || {
        join_with(thread, retval, Wait::Until(Clock::Realtime, abstime))
    }))
}

/// `pthread_clockjoin_np` (a GNU extension): as `pthread_timedjoin_np`,
/// with `abstime` on `clock` (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`;
/// `EINVAL` for another). A cancellation point.
#[no_mangle]
pub unsafe extern "C-unwind" fn weave_pthread_clockjoin_np(
    thread: pthread_t,
    retval: *mut *mut c_void,
    clock: libc::clockid_t,
    abstime: *const libc::timespec,
) -> c_int {
    let Some(clock) = Clock::from_id(clock) else {
        return libc::EINVAL;
    };
    crate::cancel::finish(guard("pthread_clockjoin_np", libc::EINVAL, || {
        join_with(thread, retval, Wait::Until(clock, abstime))
    }))
}

/// `pthread_detach`: the thread's storage is reclaimed when it ends (the
/// main thread's too: it can then no longer be joined). `ESRCH` for a
/// stale or made-up id, `EINVAL` for a thread that is not joinable
/// (already detached, being joined, or not a C thread nor `main`).
#[no_mangle]
pub extern "C" fn weave_pthread_detach(thread: pthread_t) -> c_int {
    guard("pthread_detach", libc::EINVAL, || {
        let slot = registry(thread);
        match slot.map(|s| s.word.claim(thread)) {
            Some(Ok(())) => {}
            Some(Err(Refused::Claimed)) => return libc::EINVAL, // being joined
            None | Some(Err(Refused::NotJoinable)) => {
                return match live(thread) {
                    Ok(_) if is_main(thread) => detach_main(),
                    Ok(_) => libc::EINVAL, // detached already, or not a C thread
                    Err(e) => e,
                };
            }
        }
        let slot = slot.expect("claimed above");
        let handle = take_handle(slot);
        let spec = slot
            .has_spec
            .load(Relaxed)
            .then(|| Specs::lock(slot).take(thread))
            .flatten();
        slot.word.remove();
        if let Some(spec) = spec {
            // For `pthread_getattr_np`.
            attr::keep_detached(thread, *spec);
        }
        // Dropping the handle detaches the weave thread (weave frees its
        // packet when it ends) and lets go of its id.
        drop(handle);
        0
    })
}

/// `pthread_self`: the calling thread's id (a ULT, or an OS thread such as
/// `main`, which weave registers on first use).
#[no_mangle]
pub extern "C" fn weave_pthread_self() -> pthread_t {
    match std::panic::catch_unwind(weave_rt::thread::current_id) {
        Ok(id) => id.as_u64().get() as pthread_t,
        Err(_) => crate::fatal("pthread_self: the thread table is full"),
    }
}

/// `pthread_equal`: non-zero if the two ids name the same thread.
#[no_mangle]
pub extern "C" fn weave_pthread_equal(a: pthread_t, b: pthread_t) -> c_int {
    c_int::from(a == b)
}

/// `pthread_exit`: ends the calling thread with `value` as its join
/// result. The cleanup handlers still pushed run first, newest first. On
/// a thread of `pthread_create`, the C frames above its start routine are
/// then abandoned without unwinding (module doc), and key destructors
/// run. In `main`, key destructors run, a thread joining `main` gets
/// `value`, the other C threads go on, and the process exits with status
/// 0 (running `atexit` handlers) once the last one has finished. On another OS thread, it is
/// the system's `pthread_exit` after weave's key destructors.
///
/// Aborts with a message on a ULT that `pthread_create` did not start
/// (one spawned from Rust): there is no C start routine to end.
#[no_mangle]
#[allow(clippy::not_unsafe_ptr_arg_deref)] // `value` is handed on as the join result, never read
pub extern "C-unwind" fn weave_pthread_exit(value: *mut c_void) -> ! {
    // First: no asynchronous cancellation stops the exit half-way.
    weave_rt::thread::end_async_cancel();
    crate::cleanup::run_all();
    let landing = current_landing();
    if !landing.is_null() {
        // SAFETY: the landing pad is live: it is in `weave__run_landing`'s
        // frame, below this one on the same stack. No value with a
        // destructor is live in this frame.
        unsafe { weave__land(landing, value) }
    }
    exit_outside_c_thread(value)
}

#[cold]
fn exit_outside_c_thread(value: *mut c_void) -> ! {
    if weave_rt::thread::current_lwp().is_some() {
        crate::fatal(&format!(
            "pthread_exit called on {}, a ULT that pthread_create did not start: \
             only C threads (and main) can exit this way; return from the thread's \
             function instead",
            describe_current()
        ));
    }
    key::run_destructors();
    // SAFETY: plain system calls with no arguments.
    let main = unsafe { libc::getpid() == libc::gettid() };
    if main {
        // A thread joining `main` gets the value and goes on, then `main`
        // waits for it (and the others) to finish.
        MAIN_VALUE.store(value as usize, Relaxed);
        MAIN_EXITED.release(1);
        wait_all_finished();
        // SAFETY: exit runs atexit handlers and ends the process.
        unsafe { libc::exit(0) }
    }
    // SAFETY: the system's own pthread_exit on a thread the system
    // created; it unwinds (forced) through this `C-unwind` frame.
    unsafe { libc::pthread_exit(value) }
}

fn describe_current() -> String {
    let t = weave_rt::thread::current();
    match t.name() {
        Some(n) => format!("thread '{n}' ({:?})", t.id()),
        None => format!("thread {:?}", t.id()),
    }
}

/// `once` states, in the `pthread_once_t` (an `int`, 0 =
/// `PTHREAD_ONCE_INIT`).
const ONCE_RUNNING: c_int = 1;
const ONCE_DONE: c_int = 2;

/// Where threads wait for another's `pthread_once` to finish. One for all
/// `pthread_once_t`s: waiting there is rare and short.
static ONCE_WAIT: LazyLock<(Mutex<()>, Condvar)> =
    LazyLock::new(|| (Mutex::new(()), Condvar::new()));

/// `pthread_once`: runs `init` exactly once for `once`; every caller
/// returns after it has run. `EINVAL` for a null argument. An `init`
/// that is cancelled (or calls `pthread_exit`) leaves `once` as if
/// `pthread_once` had never been called (POSIX): a cleanup record pushed
/// around it puts the state back and wakes the waiters, one of which then
/// runs `init` itself.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_once(
    once: *mut pthread_once_t,
    init: Option<extern "C" fn()>,
) -> c_int {
    guard("pthread_once", libc::EINVAL, || {
        let (Some(init), false) = (init, once.is_null()) else {
            return libc::EINVAL;
        };
        // SAFETY: a non-null pthread_once_t (an int) of the program, which
        // it shares only through these calls.
        let state = unsafe { std::sync::atomic::AtomicI32::from_ptr(once) };
        loop {
            // Acquire (either outcome): pairs with the Release store of DONE.
            match state.compare_exchange(0, ONCE_RUNNING, Acquire, Acquire) {
                Ok(_) => {
                    let mut rec = crate::cleanup::weave_cleanup_record {
                        routine: Some(once_abandoned),
                        arg: once.cast(),
                        prev: std::ptr::null_mut(),
                    };
                    // SAFETY: `rec` lives in this frame until the pop below;
                    // a cancellation or pthread_exit in `init` runs it while
                    // this frame is still intact.
                    unsafe { crate::cleanup::weave_cleanup_push(&mut rec, rec.routine, rec.arg) };
                    init();
                    // SAFETY: the record pushed above, not run.
                    unsafe { crate::cleanup::weave_cleanup_pop(&mut rec, 0) };
                    once_settle(state, ONCE_DONE);
                    return 0;
                }
                Err(ONCE_DONE) => return 0,
                Err(_) => {
                    let (m, cv) = &*ONCE_WAIT;
                    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
                    // Acquire: as above. Checked under the lock that the
                    // finisher takes to notify, so no wake-up is lost.
                    while state.load(Acquire) == ONCE_RUNNING {
                        g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
                    }
                    // Done, or abandoned by a cancelled `init`: look again.
                }
            }
        }
    })
}

/// Stores `to` (DONE, or 0 when `init` was abandoned) and wakes every
/// thread waiting for this `pthread_once` to finish.
fn once_settle(state: &std::sync::atomic::AtomicI32, to: c_int) {
    let (m, cv) = &*ONCE_WAIT;
    let _g = m.lock().unwrap_or_else(|e| e.into_inner());
    // Release: pairs with the waiters' Acquire loads.
    state.store(to, Release);
    cv.notify_all();
}

/// The cleanup handler `pthread_once` pushes around `init`: `init` did not
/// return (a cancellation, `pthread_exit`), so `once` goes back to
/// `PTHREAD_ONCE_INIT`.
extern "C" fn once_abandoned(once: *mut c_void) {
    // SAFETY: the program's pthread_once_t, which `weave_pthread_once`
    // pushed this handler for while it holds it RUNNING.
    let state = unsafe { std::sync::atomic::AtomicI32::from_ptr(once.cast()) };
    once_settle(state, 0);
}

/// `sched_yield` and `pthread_yield`: lets the other ULTs of this LWP run.
#[no_mangle]
pub extern "C" fn weave_sched_yield() -> c_int {
    // A thread of the asynchronous cancel type may yield (POSIX does not
    // list the call as async-cancel-safe, but programs do it): weave's
    // switch is not stopped half-way; a request is acted on as it returns.
    let armed = crate::cancel::enter_weave();
    let r = guard("sched_yield", 0, || {
        weave_rt::thread::yield_now();
        0
    });
    if armed {
        crate::cancel::leave_weave();
    }
    r
}

/// `pthread_setconcurrency`: the number of LWPs in the pool; 0 means
/// automatic (one per CPU). `EINVAL` if negative, `EAGAIN` above weave's
/// limit.
#[no_mangle]
pub extern "C" fn weave_pthread_setconcurrency(level: c_int) -> c_int {
    guard("pthread_setconcurrency", libc::EAGAIN, || {
        let Ok(n) = usize::try_from(level) else {
            return libc::EINVAL;
        };
        if n > weave_rt::MAX_CONCURRENCY {
            return libc::EAGAIN;
        }
        match weave_rt::set_concurrency(n) {
            Ok(()) => 0,
            Err(_) => libc::EAGAIN,
        }
    })
}

/// `pthread_getconcurrency`: the level last set (0: automatic).
#[no_mangle]
pub extern "C" fn weave_pthread_getconcurrency() -> c_int {
    guard("pthread_getconcurrency", 0, || {
        c_int::try_from(weave_rt::requested_concurrency()).unwrap_or(c_int::MAX)
    })
}

/// glibc's limit on a thread name, NUL included; weave keeps longer
/// names, but a ported program expects `ERANGE` past it.
const NAME_MAX: usize = 16;

/// `pthread_setname_np`: names the thread in weave's tables (and a bound
/// thread's LWP, if named at creation). `ERANGE` for a name of 16 bytes
/// or more, as glibc; `ESRCH` for a stale id; `EINVAL` for null.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_setname_np(thread: pthread_t, name: *const c_char) -> c_int {
    guard("pthread_setname_np", libc::EINVAL, || {
        if name.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: a non-null C string of the program.
        let name = unsafe { CStr::from_ptr(name) };
        if name.to_bytes().len() >= NAME_MAX {
            return libc::ERANGE;
        }
        let t = match live(thread) {
            Ok(t) => t,
            Err(e) => return e,
        };
        match t.set_name(&name.to_string_lossy()) {
            Ok(()) => 0,
            Err(_) => libc::ESRCH,
        }
    })
}

/// `pthread_getname_np`: the thread's name (the process's if it has none) into `buf`
/// of `len` bytes. `ERANGE` if it does not fit with its NUL.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_getname_np(
    thread: pthread_t,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    guard("pthread_getname_np", libc::EINVAL, || {
        if buf.is_null() {
            return libc::EINVAL;
        }
        let t = match live(thread) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let unnamed;
        let name = match t.name() {
            Some(n) => n.as_bytes(),
            None => {
                unnamed = process_name();
                unnamed.as_slice()
            }
        };
        if name.len() + 1 > len {
            return libc::ERANGE;
        }
        // SAFETY: `buf` has `len` bytes (the caller's contract), and
        // `name.len() + 1 <= len`.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr().cast(), buf, name.len());
            buf.add(name.len()).write(0);
        }
        0
    })
}

/// The name of a thread the program never named: the process's (its
/// main thread's `comm`), as on glibc, where every thread starts with the
/// name of the thread that created it; empty if `/proc` cannot say.
fn process_name() -> Vec<u8> {
    let mut name = std::fs::read("/proc/self/comm").unwrap_or_default();
    if name.last() == Some(&b'\n') {
        name.pop();
    }
    name
}

/// Maps a POSIX policy and priority onto weave's 32 levels: `SCHED_OTHER`
/// and `SCHED_BATCH` (priority 0) are weave's default, 16; `SCHED_IDLE`
/// (priority 0) is 0; `SCHED_FIFO` and `SCHED_RR` priorities 1 to 99 map
/// linearly onto 17 to 31. Anything else is `EINVAL`.
pub(crate) fn weave_priority(policy: c_int, sched_priority: c_int) -> Result<u8, c_int> {
    match policy {
        libc::SCHED_OTHER | libc::SCHED_BATCH if sched_priority == 0 => {
            Ok(weave_rt::thread::DEFAULT_PRIORITY)
        }
        libc::SCHED_IDLE if sched_priority == 0 => Ok(0),
        libc::SCHED_FIFO | libc::SCHED_RR if (1..=99).contains(&sched_priority) => {
            Ok(17 + ((sched_priority - 1) * 14 / 98) as u8)
        }
        _ => Err(libc::EINVAL),
    }
}

/// `pthread_setschedparam`: stores the policy and priority (returned by
/// `pthread_getschedparam`) and sets the weave priority they map to (see
/// `weave.h`). `EINVAL` for an unknown policy or a priority outside it,
/// `ESRCH` for a stale id.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_setschedparam(
    thread: pthread_t,
    policy: c_int,
    param: *const sched_param,
) -> c_int {
    guard("pthread_setschedparam", libc::EINVAL, || {
        // SAFETY: null or the program's sched_param.
        let Some(param) = (unsafe { param.as_ref() }) else {
            return libc::EINVAL;
        };
        set_sched(thread, policy, param.sched_priority)
    })
}

fn set_sched(thread: pthread_t, policy: c_int, sched_priority: c_int) -> c_int {
    let p = match weave_priority(policy, sched_priority) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let t = match live(thread) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if t.set_priority(p).is_err() {
        return libc::ESRCH;
    }
    SchedWord::set(thread, policy, sched_priority);
    0
}

/// `pthread_setschedprio`: as `pthread_setschedparam` with the policy
/// in force.
#[no_mangle]
pub extern "C" fn weave_pthread_setschedprio(thread: pthread_t, prio: c_int) -> c_int {
    guard("pthread_setschedprio", libc::EINVAL, || {
        let (policy, _) = SchedWord::get(thread);
        set_sched(thread, policy, prio)
    })
}

/// `pthread_getcpuclockid`: the kernel's CPU-time clock of the thread's
/// kernel thread, for a thread that has one of its own for its whole life:
/// a plain OS thread (`main`) or a bound thread (`PTHREAD_SCOPE_SYSTEM`).
/// `ENOENT` for a ULT that shares LWPs ("per-thread CPU-time clocks are
/// not supported": the kernel thread under it runs other ULTs too, so its
/// clock would count their time; `sysconf(_SC_THREAD_CPUTIME)` is -1 to
/// match). `ESRCH` for a stale id, `EINVAL` for a null `clock_id`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_getcpuclockid(
    thread: pthread_t,
    clock_id: *mut libc::clockid_t,
) -> c_int {
    guard("pthread_getcpuclockid", libc::EINVAL, || {
        if clock_id.is_null() {
            return libc::EINVAL;
        }
        let t = match live(thread) {
            Ok(t) => t,
            Err(e) => return e,
        };
        match t.kernel_tid() {
            Ok(Some(tid)) => {
                // SAFETY: non-null; the program's clockid_t.
                unsafe { clock_id.write(thread_cpu_clock(tid)) };
                0
            }
            Ok(None) => libc::ENOENT,
            Err(_) => libc::ESRCH,
        }
    })
}

/// The kernel's id for the CPU-time clock of thread `tid` of this process
/// (Linux's encoding, `clock_gettime(2)`: the complement of the id shifted
/// left by 3, then "per thread" (4) and "scheduler time" (2)).
fn thread_cpu_clock(tid: i32) -> libc::clockid_t {
    (!tid << 3) | 4 | 2
}

/// `pthread_getschedparam`: the policy and priority last set, or those
/// the thread was created with (the attributes' with
/// `PTHREAD_EXPLICIT_SCHED`, else its creator's); `SCHED_OTHER`, 0 for a
/// thread that never had others.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_getschedparam(
    thread: pthread_t,
    policy: *mut c_int,
    param: *mut sched_param,
) -> c_int {
    guard("pthread_getschedparam", libc::EINVAL, || {
        if policy.is_null() || param.is_null() {
            return libc::EINVAL;
        }
        if let Err(e) = live(thread) {
            return e;
        }
        let (p, prio) = SchedWord::get(thread);
        // SAFETY: both checked non-null; the program's storage.
        unsafe {
            policy.write(p);
            (*param).sched_priority = prio;
        }
        0
    })
}

/// `pthread_getattr_np`: fills `attr` (which the caller later destroys)
/// with the thread's detach state, stack and guard size, scope and
/// scheduling as created (the policy and priority as they are now).
/// Called on itself, a thread gets the stack it runs on
/// (`pthread_attr_getstack`: the top of its ULT stack and the size asked
/// for, a stack of the program's as given, or an OS thread's as the
/// system reports it, `main`'s included); so does another thread, but for
/// a ULT that has not run yet (it gets its stack when it first runs) and
/// an OS thread other than `main`, whose stack address is null (with the
/// size asked for), as for a joinable thread that has ended (described
/// until it is joined, as glibc does). `ESRCH` for a stale id.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_getattr_np(
    thread: pthread_t,
    attr: *mut pthread_attr_t,
) -> c_int {
    guard("pthread_getattr_np", libc::EINVAL, || {
        if attr.is_null() {
            return libc::EINVAL;
        }
        // A joinable thread that has ended is described too, as glibc
        // does, until it is joined (its stack is gone: null).
        let id = match live(thread) {
            Ok(t) => t.id(),
            Err(_) if ended_unjoined(thread) => match thread_id(thread) {
                Ok(id) => id,
                Err(e) => return e,
            },
            Err(e) => return e,
        };
        let mut spec = registry(thread)
            .is_some_and(|s| s.word.is(thread))
            .then(|| {
                specs(thread)
                    .and_then(|mut r| r.of(thread).map(|s| s.clone()))
                    .unwrap_or_default()
            })
            .or_else(|| attr::detached_spec(thread))
            .unwrap_or_else(|| {
                // Not a joinable C thread: a detached one made with the
                // defaults, or an OS thread (the caller's own, registered)
                // or a Rust ULT.
                let os_self = weave_rt::thread::current_lwp().is_none()
                    && id == weave_rt::thread::current_id();
                let main = is_main(thread);
                Spec {
                    bound: os_self || main,
                    detached: if os_self || main {
                        main && MAIN_STATE.is_detached()
                    } else {
                        true
                    },
                    ..Spec::default()
                }
            });
        // The scheduling in force now, as the thread was created or set
        // since.
        (spec.policy, spec.sched_priority) = SchedWord::get(thread);
        if spec.user_stack.is_some() {
            spec.guard_size = Some(0); // the program's stack: no guard of weave's
        }
        // The thread's stack as it is: the top of weave's, with the size
        // asked for (weave rounds it up; glibc reports it as asked), or
        // the program's as given, or an OS thread's own as glibc reports
        // it: the caller's, or `main`'s (another OS thread's is unknown to
        // weave: null).
        let own = id == weave_rt::thread::current_id();
        let ult_stack = if own {
            weave_rt::thread::current_stack()
        } else {
            // None for a thread that has not run yet: it has no stack.
            weave_rt::thread::stack_of(id).ok().flatten()
        };
        if let Some((lo, size)) = ult_stack {
            if spec.user_stack.is_none() {
                let shown = spec.stack_size.map_or(size, |asked| asked.min(size));
                spec.user_stack = Some((lo + size - shown, shown));
            }
        } else if let Some((lo, size, guard)) = if own {
            attr::os_stack()
        } else if is_main(thread) {
            attr::main_stack()
        } else {
            None
        } {
            spec.user_stack = Some((lo, size));
            spec.guard_size = Some(guard);
        }
        // SAFETY: non-null; the program's pthread_attr_t.
        unsafe { attr::fill(attr, &spec) };
        0
    })
}

/// Options for [`weave_thread_create`]; zero-initialise it for the
/// defaults.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct weave_thread_options {
    /// The thread's name (copied), or NULL. Any length.
    pub name: *const c_char,
    /// Stack size in bytes, or 0 for the default (`WEAVE_STACK_SIZE`).
    pub stack_size: usize,
    /// Priority 1 to 32 (weave's levels 0 to 31, plus one), or 0 for the
    /// default (weave's 16).
    pub priority: c_int,
    /// Non-zero: a bound thread (an LWP of its own, 1:1).
    pub bound: c_int,
    /// Non-zero: created detached (not joinable).
    pub detached: c_int,
}

/// Creates a thread with weave's own options (a name of any length, a
/// weave priority, a bound LWP); it is joined and detached with the
/// `pthread_*` calls. Same errors as `pthread_create`, plus `EINVAL` for
/// a priority outside 0 to 32 or a name that is not UTF-8.
#[no_mangle]
pub unsafe extern "C" fn weave_thread_create(
    thread: *mut pthread_t,
    options: *const weave_thread_options,
    start: Option<extern "C" fn(*mut c_void) -> *mut c_void>,
    arg: *mut c_void,
) -> c_int {
    guard("weave_thread_create", libc::EAGAIN, || {
        let Some(start) = start else {
            return libc::EINVAL;
        };
        if thread.is_null() {
            return libc::EINVAL;
        }
        let mut spec = Spec::default();
        // SAFETY: null or the program's options.
        if let Some(o) = unsafe { options.as_ref() } {
            if !o.name.is_null() {
                // SAFETY: a non-null C string of the program.
                match unsafe { CStr::from_ptr(o.name) }.to_str() {
                    Ok(n) => spec.name = Some(n.to_owned()),
                    Err(_) => return libc::EINVAL,
                }
            }
            if o.stack_size != 0 {
                spec.stack_size = Some(o.stack_size);
            }
            match o.priority {
                0 => {}
                p @ 1..=32 => spec.priority = Some((p - 1) as u8),
                _ => return libc::EINVAL,
            }
            spec.bound = o.bound != 0;
            spec.detached = o.detached != 0;
        }
        create_with(thread, Some(spec), start, arg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_priorities_map_onto_weave_levels() {
        assert_eq!(weave_priority(libc::SCHED_OTHER, 0), Ok(16));
        assert_eq!(weave_priority(libc::SCHED_BATCH, 0), Ok(16));
        assert_eq!(weave_priority(libc::SCHED_IDLE, 0), Ok(0));
        assert_eq!(weave_priority(libc::SCHED_FIFO, 1), Ok(17));
        assert_eq!(weave_priority(libc::SCHED_RR, 99), Ok(31));
        assert_eq!(weave_priority(libc::SCHED_OTHER, 1), Err(libc::EINVAL));
        assert_eq!(weave_priority(libc::SCHED_FIFO, 0), Err(libc::EINVAL));
        assert_eq!(weave_priority(libc::SCHED_FIFO, 100), Err(libc::EINVAL));
        assert_eq!(weave_priority(12345, 0), Err(libc::EINVAL));
    }

    #[test]
    fn ids_that_name_no_thread_are_esrch() {
        assert_eq!(thread_id(0).err(), Some(libc::ESRCH));
        // Index 5, generation 0: never handed out.
        assert_eq!(thread_id(5).err(), Some(libc::ESRCH));
        assert_eq!(live(0xFFFF_FFFF_0000_0003).err(), Some(libc::ESRCH));
    }
}

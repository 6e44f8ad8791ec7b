//! reactor: one epoll instance that turns "this fd is ready" into "wake the
//! ULTs waiting for it".
//!
//! A ULT that calls `read` on a weave socket tries the non-blocking system
//! call first. Only on `EAGAIN` does it register the fd here (once per
//! handle, edge-triggered for reading and writing), queue itself on the
//! fd's [`Record`] and block; its LWP runs other ULTs meanwhile. When the
//! kernel reports the fd ready, whoever is polling sets the readiness bits
//! and wakes the queued ULTs, which try the call again.
//!
//! ## Who polls
//! One epoll set per LWP (`set.rs`), as the fds' readiness is only of use
//! to the LWP that runs the ULTs waiting for it (a started ULT stays on its
//! LWP unless it is migratable). A registration goes into the set of the
//! LWP whose ULT first waits on the fd. An LWP with nothing to run sleeps
//! in its own set's `epoll_wait`, with the timeout of its earliest timer;
//! the set's eventfd is how `unpark` reaches it (see `lwp::parker`). So io
//! readiness, timers and new work all wake an idle LWP through one call,
//! and readiness wakes the LWP that will run the ULT, in the kernel: no
//! other LWP collects the event, pushes the wake across CPUs and wakes it
//! through a futex. A busy LWP polls its own set without blocking every
//! 64 picks and when it runs out of work.
//!
//! Who may poll a set at an instant is its poller role (`role.rs`): its
//! LWP, or the monitor, which on its 1 ms tick polls without blocking every
//! set whose LWP is not in it and has not polled it since the previous tick
//! (an LWP stuck in a long ULT or in the kernel, or one that left) and on
//! which a ULT waits that the poll lets run sooner: one that another LWP
//! could run (migratable, or placed elsewhere), or any once the set's LWP
//! has left. A ULT that only the set's LWP runs waits for that LWP's poll
//! either way. An LWP that finds its own role held by the monitor
//! leaves a note, and the monitor, letting go, wakes it to take the role.
//!
//! A wait from an LWP other than the registration's (a handle passed to a
//! ULT elsewhere, a migratable ULT that moved) is woken across LWPs by the
//! set's LWP; only a registration whose set no LWP attends any more (its
//! LWP left) moves to the waiter's own set, added there before it is
//! deleted from the old one, under the record's lock. (Why not one shared
//! epoll, as before: `docs/ARCHITECTURE.md`.)
//!
//! ## Lost wake-ups
//! A record's `state` word holds the readiness bits and a tick that every
//! event bumps. A ULT reads the word before its system call, and on `EAGAIN`
//! clears the bits only if the word is unchanged (CAS): an event that came
//! in between leaves them set, and the ULT retries instead of sleeping
//! through it. A waiter queues itself under the record's lock and re-checks
//! the bits there; the poller sets the bits before it takes the lock.
//!
//! ## Stale events
//! Records live in a table that never frees them (as the thread table);
//! the epoll event carries the record's index and generation, and a record
//! bumps its generation when its handle deregisters. An event that was
//! already collected by some thread for a closed fd finds a different
//! generation and is dropped.
//!
//! ## Deregistering by registration
//! epoll keys an entry by fd number *and* open file, but `EPOLL_CTL_DEL`
//! names only the number, and finds whatever file has it now. So a
//! registration is only ever made on an fd number that its owner keeps
//! open until the registration is dropped: a weave handle's own fd (the
//! handle closes it after dropping its registration), or, for an fd weave
//! does not own (`os::fd::wait`), a private duplicate that the
//! registration holds ([`Reactor::register_copy`]) and closes after its
//! `EPOLL_CTL_DEL`. The program may close and reuse the number it waited
//! on meanwhile: the delete still names the registration's own entry, never
//! a later file's. A registration's [`Token`] (index and generation) names
//! it for [`Reactor::close_waits`], which ends its waits when the
//! program closes the fd it was made for.
//!
//! Part of the engine (an idle LWP sleeps in it): it wakes ULTs only
//! through `sched::Waiter` and must not name run queues, the monitor's
//! loop or the public API.

use crate::published::Published;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sched::{self, Waiter};
use crate::thread::id::BlockReason;

mod readiness;
mod role;
mod set;
mod waiting;

pub(crate) use readiness::Dir;
pub(crate) use readiness::Readiness;
use readiness::{CLOSED, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use set::{Set, Sets, WAKE_TOKEN};

fn poll_events(dir: Dir) -> libc::c_short {
    match dir {
        Dir::Read => libc::POLLIN,
        Dir::Write => libc::POLLOUT,
    }
}

/// Epoll sets the reactor can hold: one per LWP index (the runtime's
/// `MAX_LWPS` is checked against it).
pub(crate) const SETS: usize = 16384;

/// Records a page of the table holds.
const PAGE: usize = 256;
/// Pages of the table: up to 1,048,576 registered fds at once.
const PAGES: usize = 4096;

/// Events one `epoll_wait` collects.
const EVENTS: usize = 256;

/// Readiness and waiters of one registered fd.
pub(crate) struct Record {
    generation: AtomicU32,
    state: Readiness,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    readers: Vec<Waiter>,
    writers: Vec<Waiter>,
}

impl Waiters {
    fn of(&mut self, dir: Dir) -> &mut Vec<Waiter> {
        match dir {
            Dir::Read => &mut self.readers,
            Dir::Write => &mut self.writers,
        }
    }
}

/// The waiters an event ends, taken out of a record's list under its lock.
/// Most events end one wait: that waiter is popped, and the list keeps its
/// allocation for the next wait (taking the whole list made a `malloc` at
/// the next wait and a `free` after the wake, ~2% of `http_hello`'s
/// samples).
#[derive(Default)]
enum Taken {
    #[default]
    None,
    One(Waiter),
    Many(Vec<Waiter>),
}

impl Taken {
    fn from(list: &mut Vec<Waiter>) -> Taken {
        match list.len() {
            0 => Taken::None,
            1 => list.pop().map_or(Taken::None, Taken::One),
            _ => Taken::Many(std::mem::take(list)),
        }
    }

    /// Wakes the waiters taken. A match, not an iterator: chaining an
    /// `Option` and a `vec::IntoIter` for the common single waiter cost
    /// ~80 instructions an event to build and drop (callgrind of
    /// `http_hello`), more than the wake's own bookkeeping.
    #[inline]
    fn wake(self) {
        match self {
            Taken::None => {}
            Taken::One(w) => wake_io(w),
            Taken::Many(v) => v.into_iter().for_each(wake_io),
        }
    }
}

/// Wakes one waiter of an io event (and says so to a trace).
#[inline]
fn wake_io(w: Waiter) {
    if crate::trace::hooked() {
        if let Waiter::Ult(tcb, _) = &w {
            crate::trace::emit(crate::trace::Event::IoReady {
                ult: tcb.id(),
                lwp: crate::lwp::current().map(|l| l.index()),
            });
        }
    }
    w.wake();
}

impl Record {
    fn new() -> Record {
        Record {
            generation: AtomicU32::new(0),
            state: Readiness::new(),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state word, read before a system call (see the module doc).
    #[inline]
    pub(crate) fn snapshot(&self) -> u64 {
        self.state.snapshot()
    }

    fn is_ready(&self, dir: Dir) -> bool {
        self.state.is_ready(dir)
    }

    /// A call made after `snap` would block: clear the readiness it
    /// assumed, unless an event came in since.
    pub(crate) fn clear(&self, snap: u64, dir: Dir) {
        self.state.clear(snap, dir);
    }

    /// A new registration's first look, without a call of the caller's own
    /// ([`Readiness::settle`]).
    pub(crate) fn settle(
        &self,
        dir: Dir,
        ready_now: impl FnMut() -> io::Result<bool>,
    ) -> io::Result<bool> {
        self.state.settle(dir, ready_now)
    }

    /// Whether the fd's waits were ended by a close ([`Reactor::close_waits`]).
    pub(crate) fn closed(&self) -> bool {
        self.state.is_closed()
    }

    /// Applies an event from epoll and wakes the waiters it concerns.
    fn on_event(&self, events: u32) {
        let mut bits = 0;
        if events & (libc::EPOLLIN | libc::EPOLLPRI) as u32 != 0 {
            bits |= READABLE;
        }
        if events & libc::EPOLLOUT as u32 != 0 {
            bits |= WRITABLE;
        }
        if events & libc::EPOLLRDHUP as u32 != 0 {
            bits |= READ_CLOSED;
        }
        if events & libc::EPOLLHUP as u32 != 0 {
            bits |= READ_CLOSED | WRITE_CLOSED;
        }
        if events & libc::EPOLLERR as u32 != 0 {
            bits |= ERROR;
        }
        self.apply(bits);
    }

    /// Sets `bits` and wakes the waiters they end.
    fn apply(&self, bits: u32) {
        // Bits first, then the waiters: one that queues after we took the
        // list sees the bits under the lock.
        self.state.set(bits);
        let (readers, writers) = {
            let mut w = self.lock();
            let r = if bits & Dir::Read.ready_mask() != 0 {
                Taken::from(&mut w.readers)
            } else {
                Taken::default()
            };
            let wr = if bits & Dir::Write.ready_mask() != 0 {
                Taken::from(&mut w.writers)
            } else {
                Taken::default()
            };
            (r, wr)
        };
        readers.wake();
        writers.wake();
    }
}

/// The process's reactor.
pub(crate) struct Reactor {
    /// The LWPs' epoll sets, by LWP index (module doc: who polls).
    sets: Sets,
    pages: Box<[AtomicPtr<Record>]>,
    /// Records carved from pages so far.
    carved: AtomicU32,
    /// Free records; its lock also serialises the making of sets, and a
    /// fork holds it.
    free: Mutex<Vec<u32>>,
    /// Whether `epoll_pwait2` (ns timeouts) works on this kernel.
    pwait2: AtomicBool,
}

/// A `Published`, not a `OnceLock`: a fork never finds it half made.
static REACTOR: Published<Reactor> = Published::new();

/// The reactor, created on the first registration.
pub(crate) fn get() -> io::Result<&'static Reactor> {
    REACTOR.get_or_try_make(Reactor::new)
}

/// The reactor if some fd was ever registered.
#[inline]
pub(crate) fn try_get() -> Option<&'static Reactor> {
    REACTOR.get()
}

impl Reactor {
    fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            sets: Sets::new(SETS),
            pages: (0..PAGES)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            carved: AtomicU32::new(0),
            free: Mutex::new(Vec::new()),
            pwait2: AtomicBool::new(true),
        })
    }

    /// The set of LWP `lwp`, made if it was not.
    fn set_or_make(&self, lwp: usize) -> io::Result<&Set> {
        if let Some(s) = self.sets.get(lwp) {
            return Ok(s);
        }
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        self.sets.get_or_make(lwp, &free)
    }

    /// The set of LWP `lwp`, if it was made.
    #[inline]
    fn set(&self, lwp: usize) -> Option<&Set> {
        self.sets.get(lwp)
    }

    fn record(&self, index: u32) -> &Record {
        let page = self.pages[index as usize / PAGE].load(Acquire);
        // SAFETY: `index` was carved, so its page is published (Release in
        // `alloc`) and never freed; PAGE records live in each page.
        unsafe { &*page.add(index as usize % PAGE) }
    }

    fn alloc(&self) -> io::Result<u32> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = free.pop() {
            return Ok(i);
        }
        let i = self.carved.load(Relaxed);
        if i as usize >= PAGE * PAGES {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "the reactor holds at most {} registered fds; close sockets you no \
                     longer use",
                    PAGE * PAGES
                ),
            ));
        }
        let p = i as usize / PAGE;
        if self.pages[p].load(Relaxed).is_null() {
            let page: Box<[Record]> = (0..PAGE).map(|_| Record::new()).collect();
            let ptr = Box::leak(page).as_mut_ptr();
            // Release pairs with the Acquire in `record`.
            self.pages[p].store(ptr, Release);
        }
        self.carved.store(i + 1, Release);
        Ok(i)
    }

    /// Adds `fd` to the epoll set, edge-triggered for both directions.
    /// The caller keeps `fd` open, under this number, until the
    /// registration is dropped (module doc: deregistering by registration).
    pub(crate) fn register(&'static self, fd: RawFd) -> io::Result<Registration> {
        self.register_owned(fd, fd, None)
    }

    /// Registers a private duplicate of `fd`, an fd weave does not own:
    /// the registration holds the copy and closes it after taking it out of
    /// the set, so the program may close or reuse `fd` meanwhile. Errors:
    /// `fcntl`'s (`EBADF`, `EMFILE` at the limit of open files) and
    /// `epoll_ctl`'s.
    pub(crate) fn register_copy(&'static self, fd: RawFd) -> io::Result<Registration> {
        // SAFETY: `F_DUPFD_CLOEXEC` only reads `fd`; a bad one is an error.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new fd that nothing else owns.
        let copy = unsafe { OwnedFd::from_raw_fd(copy) };
        self.register_owned(copy.as_raw_fd(), fd, Some(copy))
    }

    /// Ends every wait of the registration `token` names, now and to come
    /// (its record's [`CLOSED`] bit): the program closed the fd it was made
    /// for. Nothing if the registration is gone. The caller keeps the
    /// registration from being dropped meanwhile (`os::fd` holds the lock
    /// of the table it is listed in), so the record cannot be reused under
    /// the bit.
    pub(crate) fn close_waits(&self, token: Token) {
        if token.index >= self.carved.load(Acquire) {
            return;
        }
        let rec = self.record(token.index);
        if rec.generation.load(Acquire) == token.generation {
            rec.apply(CLOSED);
        }
    }

    /// Registers `fd`, which `copy` owns if given; `shown` is the number
    /// the thread table shows a waiter waiting on.
    fn register_owned(
        &'static self,
        fd: RawFd,
        shown: RawFd,
        copy: Option<OwnedFd>,
    ) -> io::Result<Registration> {
        // The set of the LWP whose ULT waits first (the only callers are
        // ULTs: an OS thread waits with `poll(2)`).
        let home = crate::lwp::current().map_or(0, |l| l.index());
        let set = self.set_or_make(home)?;
        let index = self.alloc()?;
        let rec = self.record(index);
        let generation = rec.generation.load(Acquire);
        rec.state.reset();
        if let Err(e) = set.add(fd, u64::from(generation) << 32 | u64::from(index)) {
            self.free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(index);
            return Err(e);
        }
        Ok(Registration {
            reactor: self,
            rec,
            index,
            generation,
            home: AtomicU32::new(home as u32),
            fd,
            shown,
            _copy: copy,
        })
    }

    /// Holds the reactor's lock across a `fork` (see `thread/fork.rs`); in
    /// the child, the returned closure gives the reactor an epoll instance
    /// and eventfd of its own while it is held. The child's copies of the
    /// fds still name the parent's instance, whose events the child would
    /// otherwise take; fresh ones are `dup2`ed onto the same numbers, so
    /// every reader of `epoll` and `waker` sees them. Fds registered before
    /// the fork are not in the new set (a limit of the child, see there).
    pub(crate) fn lock_for_fork(&'static self) -> impl FnOnce(bool) {
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        move |in_child| {
            if in_child {
                self.renew_after_fork();
            }
            drop(free);
        }
    }

    fn renew_after_fork(&self) {
        for (_, set) in self.sets.iter() {
            set.renew_after_fork();
        }
    }

    /// Wakes LWP `lwp` if it sleeps in its set's `epoll_wait`.
    pub(crate) fn wake(&self, lwp: usize) {
        if let Some(s) = self.set(lwp) {
            s.wake();
        }
    }

    /// Claims the poller role of LWP `lwp`'s set; false if another thread
    /// holds it (the monitor) or there is no set.
    #[inline]
    pub(crate) fn try_claim(&self, lwp: usize) -> bool {
        self.set(lwp).is_some_and(|s| s.role.try_claim())
    }

    /// For LWP `lwp`, idle and about to sleep, which found its set's role
    /// held: claims it if it came free, or leaves a note that the
    /// holder's release reports (`role.rs`), so that the holder wakes it.
    pub(crate) fn claim_or_note_miss(&self, lwp: usize) -> bool {
        self.set(lwp).is_some_and(|s| s.role.claim_or_note_miss())
    }

    /// LWP `lwp` gives up its own set's poller role. Only this LWP notes
    /// misses of its own set, and it held the role: a note found now is
    /// its own, from the second try of `claim_or_note_miss`, and is
    /// dropped.
    pub(crate) fn release(&self, lwp: usize) {
        if let Some(s) = self.set(lwp) {
            let _own_note = s.role.release();
        }
    }

    /// ULTs waiting for io now, on every set.
    pub(crate) fn waiters(&self) -> usize {
        self.sets
            .iter()
            .fold(0usize, |n, (_, s)| n.wrapping_add(s.waiting.count()))
    }

    /// ULTs waiting for io on LWP `lwp`'s set now.
    #[inline]
    pub(crate) fn waiters_of(&self, lwp: usize) -> usize {
        self.set(lwp).map_or(0, |s| s.waiting.count())
    }

    /// LWP `lwp` runs (`yes`) or left: a wait on a registration of the set
    /// of an LWP that left moves the registration to the waiter's set.
    pub(crate) fn attend(&self, lwp: usize, yes: bool) {
        if let Some(s) = self.set(lwp) {
            s.set_attended(yes);
        }
    }

    /// Waits for events on LWP `lwp`'s set until `deadline` (`None`:
    /// forever; in the past: don't wait) and handles them. The caller is
    /// LWP `lwp` and holds the set's poller role. Returns the number of io
    /// events handled.
    pub(crate) fn poll(&self, lwp: usize, deadline: Option<Instant>) -> usize {
        match self.set(lwp) {
            Some(s) => {
                s.note_own_poll();
                self.poll_set(s, deadline)
            }
            None => 0,
        }
    }

    fn poll_set(&self, set: &Set, deadline: Option<Instant>) -> usize {
        // Not zeroed: the kernel writes the first `n`, and only those are
        // read. Zeroing the 3 KiB was ~3,000 instructions a poll (a `memset`
        // of 5% of `http_hello`'s instructions in callgrind).
        let mut events = [const { MaybeUninit::<libc::epoll_event>::uninit() }; EVENTS];
        let n = set.epoll_wait(&mut events, deadline, &self.pwait2);
        let mut handled = 0;
        for ev in &events[..n] {
            // SAFETY: `epoll_wait` wrote the first `n` events.
            let ev = unsafe { ev.assume_init_read() };
            let token = ev.u64;
            if token == WAKE_TOKEN {
                set.drain_waker();
                continue;
            }
            let index = token as u32;
            if index >= self.carved.load(Acquire) {
                continue;
            }
            let rec = self.record(index);
            if rec.generation.load(Acquire) != (token >> 32) as u32 {
                continue; // the fd was deregistered since
            }
            rec.on_event(ev.events);
            handled += 1;
        }
        handled
    }

    /// The monitor's fallback, once a tick: polls without blocking every
    /// set whose LWP is not polling it now (busy, or gone) and has not
    /// polled it since the last tick ([`Set::polled_since_last_look`]), and
    /// on which some ULT waits that the poll would let run sooner: one that
    /// an LWP other than the set's could run (`Set::roaming`: migratable,
    /// or placed elsewhere), or any, once the set's LWP has left. A busy
    /// LWP polls its own set between picks; the events of a set the monitor
    /// polled became wakes made from the monitor's CPU into the LWP's inbox
    /// (0.3-0.4 of a request's wakes in `http_hello` at 1000 connections),
    /// for ULTs that, unless migratable, run only on that LWP and so ran no
    /// sooner; and the LWP's own next poll found the set empty.
    /// Calls `wake(lwp)` for each LWP that found its set's role held
    /// meanwhile and may sleep on its futex with nobody polling its set:
    /// the caller wakes it, and idle again it takes the role. Returns the
    /// number of io events handled.
    pub(crate) fn poll_unattended(&self, mut wake: impl FnMut(usize)) -> usize {
        let mut handled = 0;
        for (lwp, set) in self.sets.iter() {
            if set.polled_since_last_look() {
                continue;
            }
            let gains = if set.attended() {
                set.roaming.count() > 0
            } else {
                set.waiting.count() > 0
            };
            if gains && set.role.try_claim() {
                handled += self.poll_set(set, Some(Instant::now()));
                if set.role.release() {
                    wake(lwp);
                }
            }
        }
        handled
    }
}

/// An fd's place in the reactor, for the life of one handle.
pub(crate) struct Registration {
    reactor: &'static Reactor,
    /// The record at `index`, looked up once: the table never frees a
    /// record (module doc: stale events), and a read or write reaches it
    /// several times (the page lookup was ~40 instructions a request).
    rec: &'static Record,
    index: u32,
    generation: u32,
    /// The LWP whose set holds the fd (changed only under the record's
    /// lock, by a wait that moves it from a set nobody attends).
    home: AtomicU32,
    /// The number registered: the owner's fd, or `_copy`'s.
    fd: RawFd,
    /// The fd a waiter waits on, as the thread table shows it (the
    /// program's, for a copy).
    shown: RawFd,
    /// The private duplicate of [`Reactor::register_copy`], closed when the
    /// registration drops (a field: it drops after `Drop::drop` has taken
    /// it out of the epoll set).
    _copy: Option<OwnedFd>,
}

/// Names one registration (not an fd number): its record and the
/// record's generation while it is registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    index: u32,
    generation: u32,
}

impl Registration {
    /// This registration's name, for [`Reactor::close_waits`].
    pub(crate) fn token(&self) -> Token {
        Token {
            index: self.index,
            generation: self.generation,
        }
    }

    /// The fd number registered (a private copy's, for
    /// [`Reactor::register_copy`]).
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    #[inline]
    pub(crate) fn record(&self) -> &Record {
        self.rec
    }

    /// Blocks the calling ULT until the fd may be ready in `dir`, or until
    /// `deadline`. Returns false on timeout.
    pub(crate) fn wait(&self, dir: Dir, deadline: Option<Instant>) -> bool {
        // A socket whose closed bits are set stays "ready" for good; one that
        // still says would-block then (a UDP socket shut down for reading)
        // would retry forever. Its timeout, at least, still ends the wait.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        let rec = self.record();
        let mut me = None;
        let (home, set) = self.set_for_wait();
        // A waiter that only the set's LWP can run gains nothing from the
        // monitor's tick collecting its event: it is not counted as roaming.
        let roams = !sched::current_runs_only_on(home);
        set.waiting.enter();
        if roams {
            set.roaming.enter();
        }
        sched::note_wait_on(crate::thread::id::WaitOn::Fd(self.shown));
        sched::block_on(BlockReason::Net, deadline, |w| {
            let mut g = rec.lock();
            if rec.is_ready(dir) {
                return false;
            }
            g.of(dir).push(w.clone());
            me = Some(w);
            true
        });
        if roams {
            set.roaming.leave();
        }
        set.waiting.leave();
        if rec.is_ready(dir) {
            return true;
        }
        // Woken by the deadline (or spuriously): take our entry back out,
        // so that a long run of timeouts does not grow the list.
        if let Some(me) = me {
            rec.lock().of(dir).retain(|w| !w.same_wait(&me));
        }
        !matches!(deadline, Some(d) if Instant::now() >= d)
    }
}

impl Registration {
    /// The set a wait counts itself on, and its LWP's index: the
    /// registration's, unless no LWP attends that set any more (its LWP
    /// left) and the waiter runs on an LWP: then the registration moves to
    /// the waiter's LWP's set first.
    #[inline]
    fn set_for_wait(&self) -> (usize, &'static Set) {
        let home = self.home.load(Relaxed) as usize;
        let set = self.home_set(home);
        if set.attended() {
            return (home, set);
        }
        self.rehome().unwrap_or((home, set))
    }

    fn home_set(&self, home: usize) -> &'static Set {
        match self.reactor.set(home) {
            Some(s) => s,
            None => crate::fatal("a registration's epoll set was never made"),
        }
    }

    /// Moves the registration to the calling LWP's set, if its set is
    /// still unattended (checked again under the record's lock, which
    /// serialises the moves). The fd is added to the new set before it is
    /// deleted from the old one, so there is no instant in which it is in
    /// neither; `EPOLL_CTL_ADD` of an edge-triggered fd reports what is
    /// ready already, and an event the old set collected still names this
    /// record. `None` (stay) if there is nowhere to move to.
    #[cold]
    fn rehome(&self) -> Option<(usize, &'static Set)> {
        let me = crate::lwp::current()?.index();
        let _g = self.rec.lock();
        let home = self.home.load(Relaxed) as usize;
        let old = self.home_set(home);
        if home == me || old.attended() {
            return Some((home, old));
        }
        let new = self.reactor.set_or_make(me).ok()?;
        new.add(
            self.fd,
            u64::from(self.generation) << 32 | u64::from(self.index),
        )
        .ok()?;
        old.delete(self.fd);
        self.home.store(me as u32, Relaxed);
        Some((me, new))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The fd is still open under this number (its owner, or `_copy`,
        // closes it after us): take it out of the set, then retire the
        // record so that events already collected for it are dropped.
        let home = *self.home.get_mut() as usize;
        self.home_set(home).delete(self.fd);
        let rec = self.record();
        rec.generation.fetch_add(1, SeqCst);
        let stale = std::mem::take(&mut *rec.lock());
        // Nobody should wait on a handle being dropped; if someone does
        // (through a raw fd), wake them to see the error of the closed fd.
        for w in stale.readers.into_iter().chain(stale.writers) {
            w.wake();
        }
        self.reactor
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.index);
    }
}

/// Waits for `fd` to be ready in `dir` with `poll(2)`: how an OS thread
/// (not a ULT) waits. Returns false on timeout.
pub(crate) fn poll_fd(fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        let mut p = libc::pollfd {
            fd,
            events: poll_events(dir),
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        match n {
            1.. => return Ok(true),
            0 => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Whether `fd` is ready in `dir` right now (`poll(2)` with no timeout; a
/// hang-up or an error counts as ready, as the call will report it). For
/// fds whose flags are shared with other users and so stay blocking: a
/// caller asks this before a call that must not wait in the kernel.
pub(crate) fn ready_now(fd: RawFd, dir: Dir) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: poll_events(dir),
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut p, 1, 0) } {
            0 => return Ok(false),
            1.. => return Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// A deadline `timeout` from now; `None` for no timeout (or one too far
/// away to represent).
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two fds for the kernel to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
        // SAFETY: two new fds that nothing else owns.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn put_byte(fd: &OwnedFd) {
        // SAFETY: writing one byte from a valid buffer.
        let n = unsafe { libc::write(fd.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, 1);
    }

    fn take_byte(fd: &OwnedFd) {
        let mut b = 0u8;
        // SAFETY: reading one byte into a valid buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), (&mut b as *mut u8).cast(), 1) };
        assert_eq!(n, 1);
    }

    /// The monitor's tick leaves a set alone while its LWP polls it, and
    /// collects its events once the LWP has stopped polling (stuck, or
    /// gone) for a tick.
    #[test]
    fn the_tick_skips_a_set_its_lwp_polled_since_the_last_tick() {
        let r: &'static Reactor = Box::leak(Box::new(Reactor::new().unwrap()));
        let (rd, wr) = pipe();
        // Not on an LWP: the registration goes into set 0.
        let reg = r.register(rd.as_raw_fd()).unwrap();
        let set = r.set(0).unwrap();
        // As a ULT blocked on the fd counts itself, one that another LWP
        // could run (the tick leaves the others' events to their LWP).
        set.waiting.enter();
        set.roaming.enter();

        put_byte(&wr);
        assert!(r.try_claim(0));
        assert_eq!(r.poll(0, Some(Instant::now())), 1, "the LWP's own poll");
        r.release(0);
        take_byte(&rd);

        put_byte(&wr);
        assert_eq!(
            r.poll_unattended(|_| {}),
            0,
            "the LWP polled its set since the last tick: the tick leaves it"
        );
        assert_eq!(
            r.poll_unattended(|_| {}),
            1,
            "no poll by the LWP for a tick: the tick collects the event"
        );
        assert_eq!(r.poll_unattended(|_| {}), 0, "nothing more is ready");

        set.roaming.leave();
        set.waiting.leave();
        drop(reg);
    }

    /// The tick leaves a set whose waiters only its LWP can run, however
    /// long the LWP goes without polling it, while that LWP runs; once the
    /// LWP has left, or a waiter that could run elsewhere comes, it
    /// collects the events.
    #[test]
    fn the_tick_leaves_waits_only_the_sets_lwp_can_run() {
        let r: &'static Reactor = Box::leak(Box::new(Reactor::new().unwrap()));
        let (rd, wr) = pipe();
        let reg = r.register(rd.as_raw_fd()).unwrap();
        let set = r.set(0).unwrap();
        // A ULT placed on the set's LWP blocks on the fd.
        set.waiting.enter();
        put_byte(&wr);
        for tick in 0..3 {
            assert_eq!(
                r.poll_unattended(|_| {}),
                0,
                "tick {tick}: only the set's LWP runs the waiter; its own poll collects"
            );
        }
        // A migratable ULT (or one placed elsewhere) waits too.
        set.roaming.enter();
        assert_eq!(r.poll_unattended(|_| {}), 1, "a roaming waiter: collected");
        set.roaming.leave();
        take_byte(&rd);

        put_byte(&wr);
        assert_eq!(r.poll_unattended(|_| {}), 0);
        // The set's LWP leaves: nobody else would ever poll its set.
        r.attend(0, false);
        assert_eq!(r.poll_unattended(|_| {}), 1, "a left LWP's set: collected");

        set.waiting.leave();
        drop(reg);
    }
}

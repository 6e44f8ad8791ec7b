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
//! One reactor for the process, as Go's netpoller and tokio's io driver.
//! An LWP with nothing to run claims the *poller* role if nobody holds it
//! and sleeps in `epoll_wait` instead of on its futex, with the timeout of
//! its earliest timer; an eventfd in the epoll set is how `unpark` reaches
//! it (see `lwp::parker`). So io readiness, timers and new work all wake an
//! idle LWP through one call. The other idle LWPs sleep on their futexes.
//! An idle LWP that finds the role held while ULTs wait for io leaves a
//! note, and the holder, letting go, wakes a sleeping LWP to take the role
//! (`role.rs`): a busy LWP's poll between picks lasts an instant, and the
//! LWP that missed it would otherwise sleep with nobody in the reactor.
//! When every LWP is busy, nobody sleeps in the reactor: busy LWPs poll
//! without blocking every 64 picks, and the monitor on its 1 ms tick if
//! ULTs wait for io. (Why one shared epoll and not one per LWP:
//! `docs/ARCHITECTURE.md`.)
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
mod waiting;

pub(crate) use readiness::Dir;
pub(crate) use readiness::Readiness;
use readiness::{CLOSED, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};

fn poll_events(dir: Dir) -> libc::c_short {
    match dir {
        Dir::Read => libc::POLLIN,
        Dir::Write => libc::POLLOUT,
    }
}

/// The epoll data of the eventfd that `wake` writes to.
const WAKE_TOKEN: u64 = u64::MAX;

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
    epoll: OwnedFd,
    /// An eventfd in the epoll set: writing to it ends the poller's wait.
    waker: OwnedFd,
    /// Held by the thread polling (blocking or not), with the note of an
    /// idle LWP that found it held; see the module doc and `role.rs`.
    role: role::Role,
    /// ULTs blocked on io readiness right now.
    waiters: waiting::Waiting,
    pages: Box<[AtomicPtr<Record>]>,
    /// Records carved from pages so far.
    carved: AtomicU32,
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
        // SAFETY: plain system calls; the fds they return are owned below.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(cannot("create the epoll instance"));
        }
        // SAFETY: `epfd` is a new fd that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epfd) };
        // SAFETY: as above.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(cannot("create the reactor's eventfd"));
        }
        // SAFETY: `efd` is a new fd that nothing else owns.
        let waker = unsafe { OwnedFd::from_raw_fd(efd) };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both fds are open; `ev` is a valid event.
        if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, efd, &mut ev) } < 0 {
            return Err(cannot("add the eventfd to the epoll set"));
        }
        Ok(Reactor {
            epoll,
            waker,
            role: role::Role::new(),
            waiters: waiting::Waiting::new(),
            pages: (0..PAGES)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            carved: AtomicU32::new(0),
            free: Mutex::new(Vec::new()),
            pwait2: AtomicBool::new(true),
        })
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
        let index = self.alloc()?;
        let rec = self.record(index);
        let generation = rec.generation.load(Acquire);
        rec.state.reset();
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN
                | libc::EPOLLOUT
                | libc::EPOLLRDHUP
                | libc::EPOLLPRI
                | libc::EPOLLET) as u32,
            u64: u64::from(generation) << 32 | u64::from(index),
        };
        // SAFETY: `ev` is a valid event; a bad fd is an error, not UB.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0
        {
            let e = io::Error::last_os_error();
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
        let Ok(fresh) = Reactor::new() else {
            // No new instance: leave the old fds, but close the inherited
            // epoll so that the child cannot take the parent's events.
            // SAFETY: a plain close of our own fd number.
            unsafe { libc::close(self.epoll.as_raw_fd()) };
            return;
        };
        // SAFETY: dup2 onto fds this reactor owns, from fds open until
        // `fresh` drops below.
        unsafe {
            libc::dup2(fresh.epoll.as_raw_fd(), self.epoll.as_raw_fd());
            libc::dup2(fresh.waker.as_raw_fd(), self.waker.as_raw_fd());
        }
        // The new set's eventfd entry outlives `fresh`: an epoll entry goes
        // only when the last fd of its file description closes, and our
        // `waker` number now shares that description.
        drop(fresh);
        // The poller and the waiters were threads of the parent.
        self.role.reset();
        self.waiters.reset();
    }

    /// Wakes the thread sleeping in `epoll_wait`, if any.
    pub(crate) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to our eventfd. A full
        // counter (EAGAIN) still leaves the fd readable, which is all we
        // need.
        unsafe { libc::write(self.waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Claims the poller role; false if another thread holds it.
    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        self.role.try_claim()
    }

    /// For an idle LWP about to sleep, which found the role held: claims
    /// it if it came free, or leaves a note that the holder's
    /// [`release`](Reactor::release) reports (`role.rs`).
    pub(crate) fn claim_or_note_miss(&self) -> bool {
        self.role.claim_or_note_miss()
    }

    /// Gives the poller role up. True if an idle LWP found it held
    /// meanwhile and may be asleep on its futex with nobody polling: the
    /// caller must then wake a sleeping LWP, which takes the role when it
    /// idles again.
    #[must_use = "a true result asks the caller to wake a sleeping LWP"]
    pub(crate) fn release(&self) -> bool {
        self.role.release()
    }

    /// ULTs waiting for io now.
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.count()
    }

    /// Waits for events until `deadline` (`None`: forever; in the past:
    /// don't wait) and handles them. The caller holds the poller role.
    /// Returns the number of io events handled.
    pub(crate) fn poll(&self, deadline: Option<Instant>) -> usize {
        // Not zeroed: the kernel writes the first `n`, and only those are
        // read. Zeroing the 3 KiB was ~3,000 instructions a poll (a `memset`
        // of 5% of `http_hello`'s instructions in callgrind).
        let mut events = [const { MaybeUninit::<libc::epoll_event>::uninit() }; EVENTS];
        let n = self.epoll_wait(&mut events, deadline);
        let mut handled = 0;
        for ev in &events[..n] {
            // SAFETY: `epoll_wait` wrote the first `n` events.
            let ev = unsafe { ev.assume_init_read() };
            let token = ev.u64;
            if token == WAKE_TOKEN {
                let mut buf = 0u64;
                // SAFETY: reading 8 bytes into a valid u64 from our eventfd.
                unsafe { libc::read(self.waker.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
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

    /// Waits for events into `events`; returns how many it wrote (from
    /// the start).
    fn epoll_wait(
        &self,
        events: &mut [MaybeUninit<libc::epoll_event>],
        deadline: Option<Instant>,
    ) -> usize {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        loop {
            let n = if self.pwait2.load(Relaxed) && timeout.is_some_and(|t| !t.is_zero()) {
                let t = timeout.unwrap_or_default();
                let ts = libc::timespec {
                    tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                    tv_nsec: t.subsec_nanos() as libc::c_long,
                };
                // SAFETY: valid buffer of `len` events, valid timespec, no
                // signal mask.
                let n = unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        self.epoll.as_raw_fd(),
                        events.as_mut_ptr().cast::<libc::epoll_event>(),
                        events.len() as libc::c_int,
                        &ts as *const libc::timespec,
                        std::ptr::null::<libc::sigset_t>(),
                        0usize,
                    )
                };
                if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                    self.pwait2.store(false, Relaxed);
                    continue;
                }
                n as i32
            } else {
                // Milliseconds, rounded up: waking early would only spin.
                let ms = match timeout {
                    None => -1,
                    Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
                };
                // SAFETY: valid buffer of `len` events.
                unsafe {
                    libc::epoll_wait(
                        self.epoll.as_raw_fd(),
                        events.as_mut_ptr().cast::<libc::epoll_event>(),
                        events.len() as libc::c_int,
                        ms,
                    )
                }
            };
            if n >= 0 {
                return n as usize;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                // A signal: the caller's loop looks at its state again.
                return 0;
            }
            crate::fatal("epoll_wait failed on the reactor's own epoll instance");
        }
    }

    /// Polls without blocking if ULTs wait for io and nobody else polls:
    /// the monitor's fallback while every LWP is busy. Returns whether the
    /// caller should wake a sleeping LWP to take the role: it polled (then
    /// no LWP was in the reactor) and ULTs still wait for io, or an idle
    /// LWP missed the role meanwhile.
    pub(crate) fn poll_unattended(&self) -> bool {
        if self.waiters() > 0 && self.try_claim() {
            self.poll(Some(Instant::now()));
            // `release`'s fence also pairs with the fence an idle LWP
            // issues between setting its `sleeping` flag and trying to
            // claim the poller role: either it claimed the role after our
            // release, or our caller sees it asleep and can wake it.
            let missed = self.release();
            missed || self.waiters() > 0
        } else {
            false
        }
    }
}

fn cannot(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("weave: cannot {what}: {e}"))
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
        let shard = self
            .reactor
            .waiters
            .enter(crate::lwp::current().map_or(0, |l| l.index()));
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
        self.reactor.waiters.leave(shard);
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

impl Drop for Registration {
    fn drop(&mut self) {
        // The fd is still open under this number (its owner, or `_copy`,
        // closes it after us): take it out of the set, then retire the
        // record so that events already collected for it are dropped.
        // SAFETY: EPOLL_CTL_DEL ignores the event argument; a bad fd is an
        // error, not UB.
        unsafe {
            libc::epoll_ctl(
                self.reactor.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                self.fd,
                std::ptr::null_mut(),
            )
        };
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

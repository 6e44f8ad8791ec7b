//! Waiting for a raw file descriptor that weave did not open: the seam the
//! C API's socket calls (`read`, `write`, `accept`, ... on a socket the
//! program made) block the ULT through, and the `close` that ends those
//! waits.
//!
//! Owns the table of the waits in progress here, by fd number, and
//! nothing about the fds themselves: each wait registers a private
//! duplicate of the fd with the reactor for its length
//! (`Reactor::register_copy`) and takes it out again, so the program may
//! close or reuse the number at any time without the wait's deregistration
//! reaching another file. It must not change the fd's flags.
//!
//! **Closing under a waiter.** [`close`] ends every wait here on the fd
//! before it closes it: each waiter returns `EBADF` at once (it must not
//! retry its call on a number that may already name another file). That is
//! what some systems do for a thread blocked in a call on an fd another
//! thread closes; Linux instead keeps such a call blocked, holding the
//! file open, which on a ULT would hold the socket open with nobody to
//! notice. Other copies of the file (a `dup`, a forked child's) and their
//! waiters are untouched. A wait that *starts* while `close` runs may miss
//! it and wait on its private copy, as a call that overlaps a `close` on
//! Linux does; the program's next call on the number gets `EBADF`.
//!
//! **The table.** Sharded by fd number, each shard a map from number to
//! the waits' registration tokens: sparse, so any fd number (a process may
//! raise its limit of open files far past 65,536) is tracked, and nothing
//! is kept once the last wait on a number ends. A wait adds itself under
//! its shard's lock in the same critical section as its `dup`; `close`
//! looks under that lock before its `close(2)`: a wait that got its copy
//! before is found, one after finds the fd closed (`EBADF`). The child of
//! a `fork` starts with an empty table (`fork::at_child`).
//!
//! At the limit of open files, where the duplicate cannot be made, a wait
//! falls back to polling the fd in short ULT sleeps (`poll(2)`, no
//! registration).
//!
//! **Waiting on several fds** ([`wait_any`], C's `poll` and `select`): the
//! fds go into a private epoll instance made for the wait (level-triggered,
//! the events asked for), and the ULT waits in the reactor for that
//! instance to be readable, which it is while one of them is ready. So the
//! reactor needs no multi-fd wait of its own: one registration, of an fd
//! the wait owns. Fds epoll refuses (`EPERM`: regular files and
//! directories, which `poll(2)` reports always ready) are left out; the
//! caller asks `poll(2)` without a timeout first and after each wake-up.
//! Such a wait is in the table too, under each fd of the set (with the
//! instance's registration token): [`close`] of one of them ends it, and
//! it reports which of its fds were closed ([`AnyWait::Closed`]), so that
//! the caller answers for those numbers without asking the system about
//! them again (they may name another file by then). POSIX leaves a
//! `close` under a `poll` unspecified; Linux keeps the `poll` waiting
//! (the file stays open until it returns). Each fd is added to the set
//! under its shard's lock in the same critical section as its entry in
//! the table, so a `close` either finds the entry or ran before the add
//! (which then fails with `EBADF`, or adds a newer file of that number,
//! as a wait that overlaps a `close` may).

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicPtr, AtomicUsize};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::reactor::{self, Dir, Registration, Token};

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Readable (data, a connection to accept, end of file, an error).
    Read,
    /// Writable (room to send, a connect that finished, an error).
    Write,
}

/// Shards of the table of waits: waits on different fds rarely meet on a
/// lock; 64 keeps the table small for a program that waits on few fds.
const SHARDS: usize = 64;

type Shard = Mutex<BTreeMap<RawFd, Vec<Token>>>;

type Table = [Shard; SHARDS];

/// The waits in progress in [`wait`], by fd number (module doc): made on
/// first use, and made afresh in the child of a `fork` ([`after_fork`]),
/// where a shard may have been locked by a thread that is not there.
static WAITS: AtomicPtr<Table> = AtomicPtr::new(std::ptr::null_mut());

/// How many waits are in [`wait`] now: `close` skips the table while none
/// is.
static WAITING: AtomicUsize = AtomicUsize::new(0);

fn new_table() -> *mut Table {
    Box::into_raw(Box::new([const { Mutex::new(BTreeMap::new()) }; SHARDS]))
}

fn shard(fd: RawFd) -> MutexGuard<'static, BTreeMap<RawFd, Vec<Token>>> {
    // Acquire: pairs with the Release of the CAS (or the child's store)
    // that published the table.
    let mut t = WAITS.load(Acquire);
    if t.is_null() {
        t = first_table();
    }
    // SAFETY: tables are never freed (a child's old one is leaked).
    unsafe { &(*t)[fd.unsigned_abs() as usize % SHARDS] }
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

#[cold]
fn first_table() -> *mut Table {
    let fresh = new_table();
    // Release (success): the table is initialised before it is seen;
    // Acquire (failure): pairs with the winner's Release.
    match WAITS.compare_exchange(std::ptr::null_mut(), fresh, Release, Acquire) {
        Ok(_) => {
            crate::fork::at_child(after_fork);
            fresh
        }
        Err(won) => {
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            won
        }
    }
}

/// In the child of a `fork`: the parent's waiters are not there, and one
/// of them may have held a shard's lock; start from an empty table (the
/// old one is leaked: a few KiB once per fork that used this module).
fn after_fork() {
    // Release: pairs with the Acquire load in `shard`.
    WAITS.store(new_table(), Release);
    WAITING.store(0, Relaxed);
}

/// Blocks the calling thread until `fd` may be ready for `interest`, or
/// until `deadline`: `Ok(false)` when the deadline passed. On a ULT only
/// the ULT waits (the reactor wakes it); on an OS thread, `poll(2)`. The
/// wake-up may be spurious, as readiness in general is: retry the call
/// that would have blocked, and wait again if it still would. Inside a
/// [`cancellation_point`](crate::thread::cancellation_point), a
/// cancellation request ends the wait (`Ok(true)`).
///
/// Errors: `EBADF` for an fd that is not open, or that [`close`] closed
/// during the wait (do not retry the call then: the number may name
/// another file by now); those of `epoll_ctl` for an fd epoll cannot watch
/// (`EPERM` for a regular file).
pub fn wait(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<bool> {
    let dir = match interest {
        Interest::Read => Dir::Read,
        Interest::Write => Dir::Write,
    };
    if crate::lwp::current_ult().is_none() {
        return reactor::poll_fd(fd, dir, deadline);
    }
    let r = reactor::get()?;
    // SeqCst: pairs with the load in `close` (module doc: a close that
    // reads 0 runs before this wait's copy exists, or overlaps it).
    WAITING.fetch_add(1, SeqCst);
    let _counted = Counted;
    let tracked = {
        let mut waits = shard(fd);
        let reg = match r.register_copy(fd) {
            Ok(reg) => reg,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                drop(waits);
                return wait_polling(fd, dir, deadline);
            }
            Err(e) => return Err(e),
        };
        waits.entry(fd).or_default().push(reg.token());
        Tracked { fd, reg }
    };
    let ready = wait_registered(&tracked.reg, dir, deadline);
    if tracked.reg.record().closed() {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    ready
}

/// One fd of a [`wait_any`] and the `poll(2)` events (`POLLIN`,
/// `POLLOUT`, `POLLPRI`, ...) it waits for. A negative fd is ignored, as
/// `poll(2)` ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollFd {
    /// The fd.
    pub fd: RawFd,
    /// `poll(2)` event bits.
    pub events: i16,
}

/// The `poll(2)` bits that epoll shares (same values) and [`wait_any`]
/// passes on; errors and hang-ups epoll always reports.
const POLL_TO_EPOLL: i16 = libc::POLLIN
    | libc::POLLPRI
    | libc::POLLOUT
    | libc::POLLRDNORM
    | libc::POLLRDBAND
    | libc::POLLWRNORM
    | libc::POLLWRBAND
    | libc::POLLRDHUP;

/// How a [`wait_any`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyWait {
    /// One of the fds may be ready (ask `poll(2)`), or, inside a
    /// [`cancellation_point`](crate::thread::cancellation_point), a
    /// cancellation request or a signal handler ended the wait.
    Woken,
    /// The deadline passed.
    TimedOut,
    /// [`close`] closed these fds of the set during the wait (in the order
    /// of the set, each once): the numbers may name other files by now.
    Closed(Vec<RawFd>),
}

/// Blocks the calling thread until one of `fds` may be ready for its
/// events (or has an error or a hang-up), until `deadline`
/// ([`AnyWait::TimedOut`]), or until [`close`] closes one of them
/// ([`AnyWait::Closed`]). The readiness is not returned: ask `poll(2)`
/// without a timeout, which is also what to do first (an fd that epoll
/// cannot watch, a regular file, is left out of the wait and is ready at
/// once for `poll(2)`). On a ULT only the ULT waits (module doc: a
/// private epoll instance that the reactor watches); on an OS thread,
/// `poll(2)`, which no `close` ends. The wake-up may be spurious. Inside a
/// [`cancellation_point`](crate::thread::cancellation_point), a
/// cancellation request ends the wait ([`AnyWait::Woken`]), and so does a
/// signal handler that runs on the waiting ULT. With no fd that can be
/// waited on it is a sleep until `deadline`.
///
/// Errors: those of `epoll_create1` and `epoll_ctl` other than `EPERM`
/// (`ENOMEM`, `ENOSPC` past `max_user_watches`, `EMFILE`); `EBADF` for a
/// fd that is not open.
pub fn wait_any(fds: &[PollFd], deadline: Option<Instant>) -> io::Result<AnyWait> {
    if crate::lwp::current_ult().is_none() {
        return Ok(match poll_os(fds, deadline)? {
            true => AnyWait::Woken,
            false => AnyWait::TimedOut,
        });
    }
    // SAFETY: a plain system call; the fd it returns is owned below.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    let ep = unsafe { std::os::fd::OwnedFd::from_raw_fd(ep) };
    // An fd given twice (`poll(2)` allows it) is added once, for the
    // events of both.
    let mut set: Vec<PollFd> = fds.iter().filter(|p| p.fd >= 0).copied().collect();
    set.sort_unstable_by_key(|p| p.fd);
    set.dedup_by(|later, first| {
        let same = later.fd == first.fd;
        if same {
            first.events |= later.events;
        }
        same
    });
    // `ep` is ours and outlives `reg` (declared before it, dropped after).
    // Registered empty: an fd added later that is ready makes `ep`
    // readable, and the first wait asks `ready_now` anyway.
    let reg = reactor::get()?.register(ep.as_raw_fd())?;
    // SeqCst: as in `wait`.
    WAITING.fetch_add(1, SeqCst);
    let _counted = Counted;
    // Declared after `reg`: leaves the table before `reg` drops.
    let mut tracked = TrackedSet {
        fds: Vec::with_capacity(set.len()),
        token: reg.token(),
    };
    for p in set {
        let mut waits = shard(p.fd);
        if add_to_set(ep.as_raw_fd(), p)? {
            waits.entry(p.fd).or_default().push(tracked.token);
            tracked.fds.push(p.fd);
        }
    }
    let ready = wait_registered(&reg, Dir::Read, deadline)?;
    if reg.record().closed() {
        return Ok(AnyWait::Closed(tracked.closed()));
    }
    Ok(match ready {
        true => AnyWait::Woken,
        false => AnyWait::TimedOut,
    })
}

/// The fds of a [`wait_any`] listed in the table under the wait's token
/// until it drops (as [`Tracked`] for one fd).
struct TrackedSet {
    fds: Vec<RawFd>,
    token: Token,
}

impl TrackedSet {
    /// The fds whose entry `close` took out of the table: only `close`
    /// removes another's token, and it removes the fd's whole list.
    fn closed(&self) -> Vec<RawFd> {
        self.fds
            .iter()
            .copied()
            .filter(|fd| !shard(*fd).get(fd).is_some_and(|l| l.contains(&self.token)))
            .collect()
    }
}

impl Drop for TrackedSet {
    fn drop(&mut self) {
        for &fd in &self.fds {
            let mut waits = shard(fd);
            if let Some(list) = waits.get_mut(&fd) {
                list.retain(|t| *t != self.token);
                if list.is_empty() {
                    waits.remove(&fd);
                }
            }
        }
    }
}

/// Adds `p` to the epoll set `ep`: whether it was added (an fd epoll
/// refuses, `EPERM`, is left out).
fn add_to_set(ep: RawFd, p: PollFd) -> io::Result<bool> {
    let mut ev = libc::epoll_event {
        events: u32::from((p.events & POLL_TO_EPOLL) as u16),
        u64: p.fd as u64,
    };
    // SAFETY: `ep` is open, `ev` a valid event; a bad fd is an error.
    if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, p.fd, &mut ev) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EPERM) => Ok(false),
        _ => Err(e),
    }
}

/// [`wait_any`] on an OS thread: `poll(2)` on the set, restarted after a
/// signal until `deadline`.
fn poll_os(fds: &[PollFd], deadline: Option<Instant>) -> io::Result<bool> {
    let mut set: Vec<libc::pollfd> = fds
        .iter()
        .map(|p| libc::pollfd {
            fd: p.fd,
            events: p.events,
            revents: 0,
        })
        .collect();
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
        // SAFETY: `set` holds `set.len()` valid pollfds.
        match unsafe { libc::poll(set.as_mut_ptr(), set.len() as libc::nfds_t, ms) } {
            1.. => return Ok(true),
            0 if deadline.is_some_and(|d| Instant::now() >= d) => return Ok(false),
            0 => {}
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Counts a wait in [`WAITING`] until it drops.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        // SeqCst: as the increment in `wait`.
        WAITING.fetch_sub(1, SeqCst);
    }
}

/// A wait's registration, listed in the table under `fd` until it drops:
/// it leaves the table first (under the shard's lock, so that a `close`
/// holding that lock never sees a registration being dropped), then the
/// registration drops and closes its copy.
struct Tracked {
    fd: RawFd,
    reg: Registration,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut waits = shard(self.fd);
        let token = self.reg.token();
        if let Some(list) = waits.get_mut(&self.fd) {
            list.retain(|t| *t != token);
            if list.is_empty() {
                waits.remove(&self.fd);
            }
        }
    }
}

/// Closes `fd` (the system's `close(2)`, whose result this is), first
/// ending every [`wait`] on it, which return `EBADF`, and every
/// [`wait_any`] with it in its set, which return [`AnyWait::Closed`]
/// (module doc). Costs
/// one load more than `close(2)` while no thread waits in [`wait`] or
/// [`wait_any`].
///
/// # Safety
///
/// `fd` is not owned by anything that will close or use it as its own
/// (an `OwnedFd`, a `File`, a weave socket): the caller owns the number,
/// as with `libc::close`.
pub unsafe fn close(fd: RawFd) -> io::Result<()> {
    // SeqCst: pairs with the increment in `wait`.
    if WAITING.load(SeqCst) > 0 {
        let mut waits = shard(fd);
        if let (Some(list), Some(r)) = (waits.remove(&fd), reactor::try_get()) {
            for token in list {
                r.close_waits(token);
            }
        }
    }
    // SAFETY: the caller owns `fd` (the contract above).
    if unsafe { libc::close(fd) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The socket's own timeout for `interest` (`SO_RCVTIMEO` or
/// `SO_SNDTIMEO`), which a blocking call on it would honour; `None` if it
/// has none (or `fd` is not a socket).
pub fn socket_timeout(fd: RawFd, interest: Interest) -> Option<Duration> {
    let opt = match interest {
        Interest::Read => libc::SO_RCVTIMEO,
        Interest::Write => libc::SO_SNDTIMEO,
    };
    crate::net::kernel_timeout(fd, opt)
}

/// A new registration assumes the fd ready (the reactor's rule for a handle
/// that has made no call yet): check with `poll(2)` and clear that
/// assumption (`Readiness::settle`, which looks again if an event raced
/// the clear); then wait.
fn wait_registered(reg: &Registration, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
    if reg
        .record()
        .settle(dir, || reactor::ready_now(reg.fd(), dir))?
    {
        return Ok(true);
    }
    Ok(reg.wait(dir, deadline))
}

/// The longest sleep between two polls of [`wait_polling`]: a reader at
/// the limit of open files sees its data at most this late.
const POLL_SLICE_MAX: Duration = Duration::from_millis(20);

/// The wait without a registration, for when no fd is left for the copy:
/// `poll(2)` without blocking, then a ULT sleep (1 ms, doubling to
/// [`POLL_SLICE_MAX`]), until ready, the deadline, or a cancellation
/// request. A closed fd is "ready" (`POLLNVAL`): the caller's retry reports
/// `EBADF`.
#[cold]
fn wait_polling(fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
    let mut slice = Duration::from_millis(1);
    loop {
        if reactor::ready_now(fd, dir)? {
            return Ok(true);
        }
        let now = Instant::now();
        let mut until = now + slice;
        if let Some(d) = deadline {
            if now >= d {
                return Ok(false);
            }
            until = until.min(d);
        }
        crate::thread::sleep_until(until);
        if crate::thread::cancel::wait_cancelled() {
            return Ok(true);
        }
        slice = (slice * 2).min(POLL_SLICE_MAX);
    }
}

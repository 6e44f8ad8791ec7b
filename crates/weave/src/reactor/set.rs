//! One LWP's epoll set: the fds whose waits its ULTs began, the eventfd
//! that wakes the LWP when it sleeps in `epoll_wait`, who may poll the set
//! right now (the poller role, `role.rs`) and how many ULTs wait on it.
//!
//! Only the set's own LWP sleeps in it. The monitor's tick polls it without
//! blocking when the LWP has not polled it since the tick before (busy for
//! that long, or gone: the set counts its LWP's polls) and a waiter would
//! run sooner for it (one another LWP could run, counted apart, or any
//! once the LWP is gone), holding the same role for that instant. So
//! readiness of an fd wakes the LWP that runs the ULT waiting for it, in
//! the kernel, with no other LWP in between.
//!
//! Names nothing of weave's: the reactor says which set is whose.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize};
use std::time::Instant;

use super::role::Role;
use super::waiting::Waiting;

/// The epoll data of the eventfd that [`Set::wake`] writes to.
pub(super) const WAKE_TOKEN: u64 = u64::MAX;

pub(crate) struct Set {
    epoll: OwnedFd,
    /// An eventfd in the epoll set: writing to it ends the owner's sleep.
    waker: OwnedFd,
    /// Held by the thread polling the set (its LWP, or the monitor).
    pub(super) role: Role,
    /// ULTs blocked on this set's registrations right now.
    pub(super) waiting: Waiting,
    /// Of `waiting`, those that an LWP other than this set's could run
    /// once woken (migratable, or placed on another LWP): the only ones a
    /// poll by someone else than the set's LWP serves sooner.
    pub(super) roaming: Waiting,
    /// Whether an LWP with this set's index runs: a wait on a registration
    /// of a set nobody attends moves the registration to the waiter's own
    /// set (`Registration::wait`).
    attended: AtomicBool,
    /// Polls of the set by its own LWP ([`Set::note_own_poll`]).
    own_polls: AtomicU32,
    /// `own_polls` as the monitor's tick last read it
    /// ([`Set::polled_since_last_look`]; only the monitor writes it).
    own_polls_seen: AtomicU32,
}

impl Set {
    pub(super) fn new() -> io::Result<Set> {
        // SAFETY: plain system calls; the fds they return are owned below.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(cannot("create an epoll instance"));
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
        Ok(Set {
            epoll,
            waker,
            role: Role::new(),
            waiting: Waiting::new(),
            roaming: Waiting::new(),
            attended: AtomicBool::new(true),
            own_polls: AtomicU32::new(0),
            own_polls_seen: AtomicU32::new(0),
        })
    }

    /// Whether an LWP with this set's index runs (a hint: a tick that reads
    /// it late polls a left LWP's set one tick later).
    #[inline]
    pub(super) fn attended(&self) -> bool {
        self.attended.load(Relaxed)
    }

    pub(super) fn set_attended(&self, yes: bool) {
        self.attended.store(yes, Relaxed);
    }

    /// The set's own LWP polls it (blocking or not). Only the holder of the
    /// poller role calls this, so a load and a store count without a
    /// locked instruction; Relaxed, as the count is a hint for the
    /// monitor's tick, which polls anyway when it sees no change.
    #[inline]
    pub(super) fn note_own_poll(&self) {
        self.own_polls
            .store(self.own_polls.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// For the monitor's tick (its only caller): whether the set's LWP
    /// polled it since the last time the tick asked. Such a set is being
    /// collected by the LWP that runs its ULTs, and a poll by the monitor
    /// would only move its events' wakes onto another CPU. A set whose LWP
    /// stopped polling (stuck in a long ULT or in the kernel, or gone) shows
    /// no change at the next tick and is polled then: the fallback comes
    /// within two ticks instead of one.
    pub(super) fn polled_since_last_look(&self) -> bool {
        let n = self.own_polls.load(Relaxed);
        self.own_polls_seen.swap(n, Relaxed) != n
    }

    /// Adds `fd` to the set, edge-triggered for both directions, with
    /// `token` as its event data.
    pub(super) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN
                | libc::EPOLLOUT
                | libc::EPOLLRDHUP
                | libc::EPOLLPRI
                | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid event; a bad fd is an error, not UB.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes `fd` out of the set (the caller keeps it open under this
    /// number until then: module doc of the reactor).
    pub(super) fn delete(&self, fd: RawFd) {
        // SAFETY: EPOLL_CTL_DEL ignores the event argument; a bad fd is an
        // error, not UB.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Wakes the thread sleeping in this set's `epoll_wait`, if any.
    pub(super) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to our eventfd. A full
        // counter (EAGAIN) still leaves the fd readable, which is all we
        // need.
        unsafe { libc::write(self.waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Consumes the eventfd's count after its event was collected.
    pub(super) fn drain_waker(&self) {
        let mut buf = 0u64;
        // SAFETY: reading 8 bytes into a valid u64 from our eventfd.
        unsafe { libc::read(self.waker.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
    }

    /// In a fork's child: an epoll instance and eventfd of its own, `dup2`ed
    /// onto the same numbers (the inherited ones name the parent's
    /// instance, whose events the child would otherwise take). Fds
    /// registered before the fork are not in the new set.
    pub(super) fn renew_after_fork(&self) {
        let Ok(fresh) = Set::new() else {
            // No new instance: leave the old fds, but close the inherited
            // epoll so that the child cannot take the parent's events.
            // SAFETY: a plain close of our own fd number.
            unsafe { libc::close(self.epoll.as_raw_fd()) };
            return;
        };
        // SAFETY: dup2 onto fds this set owns, from fds open until `fresh`
        // drops below.
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
        self.waiting.reset();
        self.roaming.reset();
    }

    /// Waits for events into `events` until `deadline` (`None`: forever;
    /// in the past: don't wait); returns how many it wrote (from the
    /// start). `pwait2` says whether `epoll_pwait2` (ns timeouts) works on
    /// this kernel.
    pub(super) fn epoll_wait(
        &self,
        events: &mut [MaybeUninit<libc::epoll_event>],
        deadline: Option<Instant>,
        pwait2: &AtomicBool,
    ) -> usize {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        loop {
            let n = if pwait2.load(Relaxed) && timeout.is_some_and(|t| !t.is_zero()) {
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
                    pwait2.store(false, Relaxed);
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
}

/// The sets of the LWPs, by LWP index, made on first use and never freed
/// (an LWP's index is reused by the next LWP in its slot, which inherits
/// the set).
pub(super) struct Sets {
    slots: Box<[AtomicPtr<Set>]>,
    /// One past the highest index made so far (the monitor's sweep).
    made: AtomicUsize,
}

impl Sets {
    pub(super) fn new(n: usize) -> Sets {
        Sets {
            slots: (0..n)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            made: AtomicUsize::new(0),
        }
    }

    /// The set of LWP `i`, if made.
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&Set> {
        // Acquire pairs with the Release in `get_or_make`.
        let p = self.slots.get(i)?.load(Acquire);
        // SAFETY: a non-null pointer is a leaked box that is never freed.
        unsafe { p.as_ref() }
    }

    /// The set of LWP `i`, made now if it was not; `_making` (the
    /// reactor's table lock, which a fork holds) serialises the makers.
    pub(super) fn get_or_make<G>(&self, i: usize, _making: &G) -> io::Result<&Set> {
        if let Some(s) = self.get(i) {
            return Ok(s);
        }
        let Some(slot) = self.slots.get(i) else {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("the reactor has epoll sets for {} LWPs", self.slots.len()),
            ));
        };
        let p = Box::into_raw(Box::new(Set::new()?));
        // Release pairs with the Acquire in `get`.
        slot.store(p, Release);
        self.made.fetch_max(i + 1, Release);
        // SAFETY: just leaked, never freed.
        Ok(unsafe { &*p })
    }

    /// Every set made, with its LWP index.
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &Set)> + '_ {
        (0..self.made.load(Acquire)).filter_map(|i| self.get(i).map(|s| (i, s)))
    }
}

fn cannot(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("weave: cannot {what}: {e}"))
}

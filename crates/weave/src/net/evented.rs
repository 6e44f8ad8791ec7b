//! The handle every weave socket is built on: a std socket in non-blocking
//! mode, its place in the reactor (made on the first would-block), and the
//! timeouts and blocking mode that `std` keeps in the kernel. The same
//! handle carries a child's pidfd and pipes (`weave::process`) and the
//! standard streams (`weave::io`, which keep their flags: see
//! `Evented::keeping_flags`).

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::reactor::{self, Dir, Readiness, Registration};

/// Settings shared by a handle and its `try_clone`s, as std's are through
/// the kernel's socket options.
#[derive(Default)]
pub(crate) struct Settings {
    /// Nanoseconds + 1; 0 means none.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// `set_nonblocking(true)`: calls return `WouldBlock` instead of
    /// waiting.
    nonblocking: AtomicBool,
}

fn encode(t: Option<Duration>) -> u64 {
    t.map_or(0, |d| {
        (d.as_nanos().min(u128::from(u64::MAX - 1)) as u64) + 1
    })
}

fn decode(v: u64) -> Option<Duration> {
    (v != 0).then(|| Duration::from_nanos(v - 1))
}

/// A std socket (or other fd) that weave waits on through the reactor.
pub(crate) struct Evented<T: AsRawFd> {
    // Declared before `inner`: dropped (taken out of the epoll set) before
    // the fd closes.
    reg: OnceLock<io::Result<Registration>>,
    inner: T,
    settings: Arc<Settings>,
}

impl<T: AsRawFd> Evented<T> {
    /// Wraps `inner`, putting its fd in non-blocking mode.
    pub(crate) fn new(inner: T) -> io::Result<Evented<T>> {
        set_nonblocking(inner.as_raw_fd(), true)?;
        Ok(Evented {
            reg: OnceLock::new(),
            inner,
            settings: Arc::default(),
        })
    }

    /// Wraps an fd whose open file description others share (a process's
    /// standard streams): its flags stay as they are, blocking included,
    /// because `O_NONBLOCK` would change every other user's reads and
    /// writes too. The calls given to `io` must then check readiness
    /// themselves (`reactor::ready_now`) and return `WouldBlock` instead of
    /// making a call that would wait in the kernel.
    pub(crate) fn keeping_flags(inner: T) -> Evented<T> {
        Evented {
            reg: OnceLock::new(),
            inner,
            settings: Arc::default(),
        }
    }

    /// Adopts a socket made elsewhere (std, a raw fd): non-blocking from
    /// now on underneath, with the timeouts it had as kernel options and
    /// the non-blocking mode it had for its user.
    pub(crate) fn adopt(inner: T) -> Evented<T> {
        let fd = inner.as_raw_fd();
        // A socket that std had in non-blocking mode stays so for its user:
        // calls return WouldBlock rather than wait.
        // SAFETY: F_GETFL has no memory effects; a bad fd gives -1.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        let was_nonblocking = flags >= 0 && flags & libc::O_NONBLOCK != 0;
        // Cannot fail on an open socket; on anything else every call will
        // report the fd's own error.
        let _ = set_nonblocking(fd, true);
        let settings = Settings::default();
        settings.nonblocking.store(was_nonblocking, Relaxed);
        settings
            .read_timeout
            .store(encode(kernel_timeout(fd, libc::SO_RCVTIMEO)), Relaxed);
        settings
            .write_timeout
            .store(encode(kernel_timeout(fd, libc::SO_SNDTIMEO)), Relaxed);
        Evented {
            reg: OnceLock::new(),
            inner,
            settings: Arc::new(settings),
        }
    }

    pub(crate) fn is_nonblocking(&self) -> bool {
        self.settings.nonblocking.load(Relaxed)
    }

    /// A handle for `inner`, a duplicate of `self`'s fd: shares the settings.
    pub(crate) fn cloned(&self, inner: T) -> Evented<T> {
        Evented {
            reg: OnceLock::new(),
            inner,
            settings: self.settings.clone(),
        }
    }

    pub(crate) fn get(&self) -> &T {
        &self.inner
    }

    /// Gives the std socket back, in blocking mode, with the timeouts set
    /// as kernel options so that std honours them.
    pub(crate) fn into_blocking(self) -> T {
        let Evented {
            reg,
            inner,
            settings,
        } = self;
        drop(reg);
        let fd = inner.as_raw_fd();
        let _ = set_nonblocking(fd, settings.nonblocking.load(Relaxed));
        let _ = set_timeout_opt(
            fd,
            libc::SO_RCVTIMEO,
            decode(settings.read_timeout.load(Relaxed)),
        );
        let _ = set_timeout_opt(
            fd,
            libc::SO_SNDTIMEO,
            decode(settings.write_timeout.load(Relaxed)),
        );
        inner
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.settings.read_timeout.store(encode(t), Relaxed);
        Ok(())
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.settings.write_timeout.store(encode(t), Relaxed);
        Ok(())
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        decode(self.settings.read_timeout.load(Relaxed))
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        decode(self.settings.write_timeout.load(Relaxed))
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.settings.nonblocking.store(on, Relaxed);
    }

    /// Runs `f` (a non-blocking system call on the socket) until it does
    /// not return `WouldBlock`, waiting for readiness in `dir` between
    /// tries, for at most the handle's timeout in that direction.
    #[inline]
    pub(crate) fn io<R>(&self, dir: Dir, f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let timeout = match dir {
            Dir::Read => self.read_timeout(),
            Dir::Write => self.write_timeout(),
        };
        self.io_timeout(dir, timeout, f)
    }

    /// A read on a stream socket into `len` bytes of buffer: as `io`, and
    /// a short read (fewer bytes than asked) counts as having drained the
    /// socket, so the next read waits for an event instead of making a call
    /// that would fail (tokio's rule). Not for datagrams: a short datagram
    /// says nothing about the next one.
    pub(crate) fn read_stream(
        &self,
        len: usize,
        f: impl FnMut(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let timeout = self.read_timeout();
        self.io_inner(Dir::Read, timeout, f, |&n| n > 0 && n < len)
    }

    /// As `io`, with an explicit timeout.
    pub(crate) fn io_timeout<R>(
        &self,
        dir: Dir,
        timeout: Option<Duration>,
        f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_inner(dir, timeout, f, |_| false)
    }

    fn io_inner<R>(
        &self,
        dir: Dir,
        timeout: Option<Duration>,
        mut f: impl FnMut(&T) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        crate::thread::preempt_point();
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            let snap = self.snapshot();
            // A clear bit means the last call here would have blocked and
            // no event came since: the call would fail again, so wait for
            // the event instead of making it (one system call saved per
            // wait). The event may sit in epoll uncollected for a moment;
            // it is not lost, only collected by the next poll.
            let known_not_ready = matches!(snap, Some(s) if !Readiness::says_ready(s, dir));
            if !known_not_ready {
                match f(&self.inner) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Ok(r) => {
                        if let (Some(s), Some(Ok(reg))) = (snap, self.reg.get()) {
                            if drained(&r) {
                                // The same tick-guarded clear as after a
                                // would-block: data that came since keeps
                                // the bit set.
                                reg.record().clear(s, dir);
                            }
                        }
                        return Ok(r);
                    }
                    r => return r,
                }
            }
            if self.settings.nonblocking.load(Relaxed) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let d = *deadline.get_or_insert_with(|| reactor::deadline_after(timeout));
            if !self.wait(dir, snap, d)? {
                return Err(timed_out(dir, timeout));
            }
        }
    }

    /// The readiness word, if the fd is registered: read it before a
    /// system call and pass it to `wait` after a would-block.
    pub(crate) fn snapshot(&self) -> Option<u64> {
        match self.reg.get() {
            Some(Ok(r)) => Some(r.record().snapshot()),
            _ => None,
        }
    }

    /// Waits until the fd may be ready in `dir`; false on timeout. `snap`
    /// is the readiness word read before the call that would block (`None`
    /// if the fd was not registered then).
    pub(crate) fn wait(
        &self,
        dir: Dir,
        snap: Option<u64>,
        deadline: Option<Instant>,
    ) -> io::Result<bool> {
        if crate::lwp::current_ult().is_none() {
            // A plain OS thread waits in the kernel, as with std.
            return reactor::poll_fd(self.inner.as_raw_fd(), dir, deadline);
        }
        let reg = self
            .reg
            .get_or_init(|| reactor::get()?.register(self.inner.as_raw_fd()));
        let reg = match reg {
            Ok(r) => r,
            Err(e) => return Err(io::Error::new(e.kind(), e.to_string())),
        };
        if let Some(s) = snap {
            reg.record().clear(s, dir);
        }
        Ok(reg.wait(dir, deadline))
    }
}

impl<T: AsRawFd> AsRawFd for Evented<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for Evented<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

fn timed_out(dir: Dir, timeout: Option<Duration>) -> io::Error {
    let what = match dir {
        Dir::Read => "read",
        Dir::Write => "write",
    };
    let after = timeout.map_or(String::new(), |t| format!(" after {t:?}"));
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out{after}"))
}

/// std refuses a zero timeout; so do we.
fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout; use None for no timeout",
        ));
    }
    Ok(())
}

pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let mut v: libc::c_int = on.into();
    // SAFETY: FIONBIO reads one c_int; a bad fd is an error, not UB.
    if unsafe { libc::ioctl(fd, libc::FIONBIO, &mut v) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_timeout_opt(fd: RawFd, opt: libc::c_int, t: Option<Duration>) -> io::Result<()> {
    let tv = t.map_or(
        libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        |d| libc::timeval {
            tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_usec: d.subsec_micros().max(u32::from(d.is_zero())) as libc::suseconds_t,
        },
    );
    // SAFETY: a valid timeval of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the kernel's timeout option of a socket adopted from std, so that
/// a timeout set there carries over.
pub(crate) fn kernel_timeout(fd: RawFd, opt: libc::c_int) -> Option<Duration> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: a valid timeval buffer and its length.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if rc < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

//! Unix domain sockets with the shape of `std::os::unix::net`: streams,
//! listeners and datagram sockets whose blocking calls block only the
//! calling thread.
//!
//! They work as the sockets of [`crate::net`]: on a ULT a call that would
//! block registers the socket with the runtime's reactor and blocks the ULT
//! alone, its LWP runs other threads meanwhile; on a plain OS thread the
//! call waits in the kernel, as std's does.
//!
//! | std                                | weave                            |
//! |------------------------------------|----------------------------------|
//! | `std::os::unix::net::UnixListener` | [`UnixListener`]                 |
//! | `std::os::unix::net::UnixStream`   | [`UnixStream`]                   |
//! | `std::os::unix::net::UnixDatagram` | [`UnixDatagram`]                 |
//! | `std::os::unix::net::Incoming`     | [`Incoming`]                     |
//! | `std::os::unix::net::SocketAddr`   | [`SocketAddr`], the same type    |
//!
//! Differences from std, all additions, as in [`crate::net`]: timeouts end
//! with `ErrorKind::TimedOut`; `accept` out of fds warns once on stderr
//! with the fix (and returns the error, as std's does); there is
//! [`UnixListener::accept_timeout`]; and
//! [`UnixStream::peek`] is here though std keeps it unstable.
//! Conversions from and to the std types and fds are `From`/`Into`, as in
//! [`crate::net`].
//!
//! ## Two waits the reactor cannot see
//!
//! Two calls can find the socket *at the other end* full, and the kernel
//! does not say when it has room again to a caller that does not sleep in
//! the kernel:
//!
//! - `UnixStream::connect` to a listener whose backlog is full. A
//!   non-blocking connect then fails with `EAGAIN` and leaves the socket
//!   unconnected, which polls as writable and hung up at once.
//! - `UnixDatagram::send_to` (and `send_to_addr`) to a receiver whose queue
//!   is full. The socket polls writable anyway, and each failed send even
//!   signals writability again (its buffer is freed), so waiting on the
//!   reactor would spin. A *connected* socket's `send` is fine: the kernel
//!   wakes it when its peer's queue drains.
//!
//! Both calls retry on their own with pauses, 250 µs doubling up to 50 ms,
//! as a ULT sleep (only the ULT waits). `send_to` honours the write
//! timeout and the non-blocking mode; `connect` waits as long as it takes,
//! as std's does, and fails if the listener goes away.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net as std_unix;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::net::Evented;
use crate::reactor::{self, Dir};

pub use std::os::unix::net::SocketAddr;

/// A Unix domain socket server, listening for connections:
/// `std::os::unix::net::UnixListener` for ULTs. `accept` blocks only the
/// calling thread.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use weave::os::unix::net::UnixListener;
///
/// let listener = UnixListener::bind("/run/echo.sock")?;
/// for stream in listener.incoming() {
///     let mut stream = stream?;
///     weave::thread::spawn(move || {
///         let mut buf = [0; 1024];
///         while let Ok(n @ 1..) = stream.read(&mut buf) {
///             if stream.write_all(&buf[..n]).is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: Evented<std_unix::UnixListener>,
    /// Warned about running out of fds (once per listener).
    warned: AtomicBool,
}

/// A Unix domain stream socket: `std::os::unix::net::UnixStream` for ULTs.
/// Reads, writes and connects block only the calling thread.
pub struct UnixStream {
    io: Evented<std_unix::UnixStream>,
}

/// A Unix domain datagram socket: `std::os::unix::net::UnixDatagram` for
/// ULTs. Receives and sends block only the calling thread.
pub struct UnixDatagram {
    io: Evented<std_unix::UnixDatagram>,
}

impl UnixListener {
    /// Creates a listener bound to the file system path `path`, which must
    /// not exist yet.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::checked(std_unix::UnixListener::bind(path)?)
    }

    /// Creates a listener bound to `addr`: a path, or on Linux a name in
    /// the abstract namespace.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::checked(std_unix::UnixListener::bind_addr(addr)?)
    }

    fn checked(l: std_unix::UnixListener) -> io::Result<UnixListener> {
        crate::net::widen_backlog(l.as_raw_fd());
        Ok(UnixListener {
            io: Evented::new(l)?,
            warned: AtomicBool::new(false),
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// When the process runs out of file descriptors (`EMFILE`, `ENFILE`)
    /// or socket memory, the error is returned, as std's `accept` returns
    /// it, and the first time (per listener) weave warns on stderr with the
    /// limit and how to raise it, as `TcpListener::accept` does.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        self.accept_with(None)
    }

    /// As [`accept`](Self::accept), but gives up with
    /// `ErrorKind::TimedOut` after `timeout` (not in std).
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(UnixStream, SocketAddr)> {
        self.accept_with(Some(timeout))
    }

    fn accept_with(&self, timeout: Option<Duration>) -> io::Result<(UnixStream, SocketAddr)> {
        let addr = || {
            self.local_addr()
                .map_or_else(|_| "?".to_string(), |a| describe(&a))
        };
        let (s, peer) = crate::net::accept(&self.io, timeout, &self.warned, addr, |l| l.accept())?;
        Ok((
            UnixStream {
                io: Evented::new(s)?,
            },
            peer,
        ))
    }

    /// An iterator over the connections, as `accept` in a loop; it never
    /// returns `None`.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// A new handle to the same socket; the two share the non-blocking
    /// mode.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: self.io.cloned(self.io.get().try_clone()?),
            warned: AtomicBool::new(false),
        })
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// In non-blocking mode, `accept` returns `WouldBlock` instead of
    /// waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// An iterator over a listener's connections; see
/// [`UnixListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl UnixStream {
    /// Connects to the socket at the file system path `path`. Only the
    /// calling thread waits, also while the listener's backlog is full
    /// (see the module doc).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Connects to `addr`: a path, or on Linux a name in the abstract
    /// namespace.
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let to = sock_addr(addr)?;
        let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
        let io = Evented::new(std_unix::UnixStream::from(sock))?;
        // Linux completes a Unix connect at once (the connection waits in
        // the listener's backlog) or refuses it with EAGAIN while the
        // backlog is full; there is no handshake in flight to wait for.
        paced(false, None, "connect", || {
            socket2::SockRef::from(io.get()).connect(&to)
        })?;
        Ok(UnixStream { io })
    }

    /// A connected pair of unnamed sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std_unix::UnixStream::pair()?;
        Ok((
            UnixStream {
                io: Evented::new(a)?,
            },
            UnixStream {
                io: Evented::new(b)?,
            },
        ))
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// A new handle to the same socket; the two share timeouts and the
    /// non-blocking mode, as std's do.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: self.io.cloned(self.io.get().try_clone()?),
        })
    }

    crate::net::timeout_methods!();

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Reads without taking the bytes out of the queue (not yet stable in
    /// std).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes; a bad
            // fd is an error, not UB.
            let n = unsafe {
                libc::recv(
                    s.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(n as usize)
        })
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// In non-blocking mode, calls that would wait return `WouldBlock`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

crate::net::stream_io!(UnixStream);

impl UnixDatagram {
    /// Creates a socket bound to the file system path `path`, which must
    /// not exist yet.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::checked(std_unix::UnixDatagram::bind(path)?)
    }

    /// Creates a socket bound to `addr`: a path, or on Linux a name in the
    /// abstract namespace.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::checked(std_unix::UnixDatagram::bind_addr(addr)?)
    }

    /// Creates a socket bound to no address: it can send, and receive
    /// answers once connected or autobound by its first send.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::checked(std_unix::UnixDatagram::unbound()?)
    }

    /// A connected pair of unnamed sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std_unix::UnixDatagram::pair()?;
        Ok((UnixDatagram::checked(a)?, UnixDatagram::checked(b)?))
    }

    fn checked(s: std_unix::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Evented::new(s)?,
        })
    }

    /// Sets the default address of `send` and the only address `recv`
    /// accepts datagrams from. Nothing waits: there is no handshake.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get().connect(path)
    }

    /// As [`connect`](Self::connect), to `addr`: a path, or on Linux a name
    /// in the abstract namespace.
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.io.get().connect_addr(addr)
    }

    /// Sends `buf` as one datagram to the connected address. Fails if the
    /// socket is not connected, or with `ErrorKind::ConnectionRefused` once
    /// the peer is gone.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Dir::Write, |s| s.send(buf))
    }

    /// Waits for a datagram and copies it into `buf`. Bytes that do not fit
    /// in `buf` are dropped, as in std.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| match s.recv(buf) {
            Err(e) if self.read_is_shut_down(&e) => Ok(0),
            r => r,
        })
    }

    /// Sends `buf` as one datagram to the socket at `path`. While the
    /// receiver's queue is full, retries with pauses (see the module doc).
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.send_paced(|s| s.send_to(buf, path))
    }

    /// As [`send_to`](Self::send_to), to `addr`: a path, or on Linux a name
    /// in the abstract namespace.
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.send_paced(|s| s.send_to_addr(buf, addr))
    }

    fn send_paced(
        &self,
        mut send: impl FnMut(&std_unix::UnixDatagram) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let io = &self.io;
        paced(io.is_nonblocking(), io.write_timeout(), "send", || {
            send(io.get())
        })
    }

    /// Waits for a datagram, copies it into `buf` and returns its length
    /// and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Dir::Read, |s| match s.recv_from(buf) {
            // As std's blocking call: nothing, from an unnamed address.
            Err(e) if self.read_is_shut_down(&e) => Ok((0, SocketAddr::from_pathname("")?)),
            r => r,
        })
    }

    /// Whether a receive that would block must return 0 instead. After
    /// `shutdown(Read)` the kernel answers a blocking receive with 0 bytes
    /// but a non-blocking one with `EAGAIN`, while the socket polls
    /// readable: waiting would wake at once, again and again.
    fn read_is_shut_down(&self, e: &io::Error) -> bool {
        if e.kind() != io::ErrorKind::WouldBlock || self.io.is_nonblocking() {
            return false;
        }
        let mut p = libc::pollfd {
            fd: self.io.get().as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a zero timeout does not block.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & libc::POLLRDHUP != 0
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The address this socket is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// A new handle to the same socket; the two share timeouts and the
    /// non-blocking mode, as std's do.
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: self.io.cloned(self.io.get().try_clone()?),
        })
    }

    crate::net::timeout_methods!();

    /// Shuts down receiving, sending, or both. A receive after
    /// `Shutdown::Read` returns 0 at once (as std's does), also one that
    /// was waiting: a way to stop a receiving thread.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// In non-blocking mode, calls that would wait return `WouldBlock`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

crate::net::conversions!(UnixStream, std_unix::UnixStream, |io| UnixStream { io });
crate::net::conversions!(UnixDatagram, std_unix::UnixDatagram, |io| {
    UnixDatagram { io }
});
crate::net::conversions!(UnixListener, std_unix::UnixListener, |io| {
    UnixListener {
        io,
        warned: AtomicBool::new(false),
    }
});

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

/// The first pause of a paced retry. Short, so that a peer that is merely
/// busy costs the caller little latency.
const PACE_FIRST: Duration = Duration::from_micros(250);
/// The longest pause: a stalled peer costs each waiting thread at most 20
/// wake-ups a second.
const PACE_MAX: Duration = Duration::from_millis(50);

/// Runs `f` until it does not return `WouldBlock`, sleeping between tries
/// (the ULT alone sleeps), for at most `timeout`: for the calls after which
/// the socket's readiness says nothing (see the module doc). `what` names
/// the call in the timeout error.
fn paced<R>(
    nonblocking: bool,
    timeout: Option<Duration>,
    what: &str,
    mut f: impl FnMut() -> io::Result<R>,
) -> io::Result<R> {
    crate::thread::preempt_point();
    let deadline = reactor::deadline_after(timeout);
    let mut pause = PACE_FIRST;
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => {}
            r => return r,
        }
        let nap = match deadline {
            None => pause,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{what} timed out after {:?}", timeout.unwrap_or_default()),
                    ));
                }
                left.min(pause)
            }
        };
        crate::thread::sleep(nap);
        pause = (pause * 2).min(PACE_MAX);
    }
}

/// `addr` for a message: the path, `@name` for an abstract name (as `ss`
/// shows it), or `(unnamed)`.
fn describe(addr: &SocketAddr) -> String {
    if let Some(path) = addr.as_pathname() {
        return path.display().to_string();
    }
    if let Some(name) = addr.as_abstract_name() {
        return format!("@{}", String::from_utf8_lossy(name));
    }
    "(unnamed)".to_string()
}

/// `addr` as socket2 takes it.
fn sock_addr(addr: &SocketAddr) -> io::Result<socket2::SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return socket2::SockAddr::unix(path);
    }
    if let Some(name) = addr.as_abstract_name() {
        // socket2 takes an abstract name as a path with a leading NUL.
        let mut bytes = Vec::with_capacity(name.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(name);
        return socket2::SockAddr::unix(OsStr::from_bytes(&bytes));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot connect to an unnamed Unix socket address",
    ))
}

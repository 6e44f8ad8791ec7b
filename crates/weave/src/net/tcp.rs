//! TCP: `TcpListener` and `TcpStream`, shaped as `std::net`'s.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::evented::Evented;
use super::{each_addr, resolve};
use crate::reactor::{self, Dir};

/// A TCP socket server, listening for connections: `std::net::TcpListener`
/// for ULTs. `accept` blocks only the calling thread.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use weave::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:8080")?;
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
pub struct TcpListener {
    io: Evented<std::net::TcpListener>,
    /// Warned about running out of fds (once per listener).
    warned: AtomicBool,
}

/// A TCP stream between a local and a remote socket: `std::net::TcpStream`
/// for ULTs. Reads, writes and connects block only the calling thread.
pub struct TcpStream {
    io: Evented<std::net::TcpStream>,
}

impl TcpListener {
    /// Creates a listener bound to `addr` (resolved off the LWP if it is a
    /// host name). Tries each address in turn, as std does.
    pub fn bind<A: ToSocketAddrs + Send>(addr: A) -> io::Result<TcpListener> {
        let addrs = resolve(addr)?;
        let l = std::net::TcpListener::bind(&addrs[..])?;
        super::widen_backlog(l.as_raw_fd());
        TcpListener::from_std_checked(l)
    }

    fn from_std_checked(l: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Evented::new(l)?,
            warned: AtomicBool::new(false),
        })
    }

    /// The local address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// A new handle to the same socket.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: self.io.cloned(self.io.get().try_clone()?),
            warned: AtomicBool::new(false),
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// When the process runs out of file descriptors (`EMFILE`, `ENFILE`)
    /// or socket memory, the error is returned, as std's `accept` returns
    /// it; the first time (per listener) weave also warns on stderr with the
    /// limit and how to raise it. The pending connection stays queued, so a
    /// loop that retries at once spins: pause, or close idle connections,
    /// before the next `accept`.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_with(None)
    }

    /// As [`accept`](Self::accept), but gives up with
    /// `ErrorKind::TimedOut` after `timeout` (not in std).
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_with(Some(timeout))
    }

    fn accept_with(&self, timeout: Option<Duration>) -> io::Result<(TcpStream, SocketAddr)> {
        let addr = || {
            self.local_addr()
                .map_or_else(|_| "?".to_string(), |a| a.to_string())
        };
        let (s, peer) = super::accept(&self.io, timeout, &self.warned, addr, |l| l.accept())?;
        Ok((TcpStream::from_std_checked(s)?, peer))
    }

    /// An iterator over the connections, as `accept` in a loop; it never
    /// returns `None`.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets the IP time-to-live of sockets from this listener.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
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
/// [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each of its addresses in turn
    /// (host names are resolved off the LWP). Only the calling thread waits
    /// for the handshake.
    pub fn connect<A: ToSocketAddrs + Send>(addr: A) -> io::Result<TcpStream> {
        each_addr(&resolve(addr)?, |a| TcpStream::connect_addr(a, None))
    }

    /// Opens a connection to `addr`, giving up with `ErrorKind::TimedOut`
    /// after `timeout`. A zero timeout is an error, as in std.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_addr(addr, Some(timeout))
    }

    fn connect_addr(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(*addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        let io = Evented::new(std::net::TcpStream::from(sock))?;
        let sa = socket2::SockAddr::from(*addr);
        let started = socket2::SockRef::from(io.get()).connect(&sa);
        match started {
            Ok(()) => return Ok(TcpStream { io }),
            Err(e) if in_progress(&e) => {}
            Err(e) => return Err(e),
        }
        // The handshake goes on in the kernel; writable means it ended.
        let deadline = reactor::deadline_after(timeout);
        loop {
            let snap = io.snapshot();
            if let Some(e) = io.get().take_error()? {
                return Err(e);
            }
            match io.get().peer_addr() {
                Ok(_) => return Ok(TcpStream { io }),
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {}
                Err(e) => return Err(e),
            }
            if !io.wait(Dir::Write, snap, deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connect to {addr} timed out after {:?}",
                        timeout.unwrap_or_default()
                    ),
                ));
            }
        }
    }

    fn from_std_checked(s: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Evented::new(s)?,
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// A new handle to the same socket; the two share timeouts and the
    /// non-blocking mode, as std's do.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: self.io.cloned(self.io.get().try_clone()?),
        })
    }

    super::timeout_methods!();

    /// Reads without taking the bytes out of the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
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

super::stream_io!(TcpStream);

super::conversions!(TcpStream, std::net::TcpStream, |io| TcpStream { io });
super::conversions!(TcpListener, std::net::TcpListener, |io| TcpListener {
    io,
    warned: AtomicBool::new(false),
});

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

fn in_progress(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINPROGRESS | libc::EINTR | libc::EAGAIN)
    )
}

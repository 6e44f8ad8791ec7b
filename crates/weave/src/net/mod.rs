//! Networking with the shape of `std::net`: TCP and UDP sockets whose
//! blocking calls block only the calling thread.
//!
//! A read on a [`TcpStream`] in a ULT looks like a read on a
//! `std::net::TcpStream`, and it blocks like one: the call returns when
//! there is data. But only the ULT waits; its LWP runs other threads until
//! the kernel reports the socket readable (through the runtime's reactor,
//! an epoll instance). This is how a server can hold one plain, blocking
//! thread per connection for hundreds of thousands of connections.
//!
//! On a plain OS thread the same calls wait in the kernel, as std's do.
//!
//! | std                                  | weave                          |
//! |--------------------------------------|--------------------------------|
//! | `std::net::TcpListener`, `TcpStream` | [`TcpListener`], [`TcpStream`] |
//! | `std::net::UdpSocket`                | [`UdpSocket`]                  |
//! | `std::os::unix::net::*`              | [`crate::os::unix::net`]       |
//!
//! Differences from std, all additions: timeouts end with
//! `ErrorKind::TimedOut` (std gives `WouldBlock` on Unix); `accept` out of
//! fds returns `EMFILE` as std's does, and warns once on stderr with the
//! limit and the fix; there are `accept_timeout` and
//! `recv_from_timeout`-style calls; and `connect` and
//! `bind` need an address type that is `Send`, because host names are
//! resolved by `weave::blocking` (`getaddrinfo` blocks its kernel thread).
//! Conversions from and to the std types and raw fds are `From`/`Into`:
//! a weave socket keeps its fd in non-blocking mode, and gives it back in
//! blocking mode with the timeouts set as kernel options.

mod evented;
mod tcp;
mod udp;

pub(crate) use evented::kernel_timeout;
pub(crate) use evented::Evented;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
    ToSocketAddrs,
};

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use crate::reactor::Dir;

/// Resolves `addr`: on the blocking pool if it may be a host name
/// (`getaddrinfo` blocks its thread), in place if it is an address already.
pub(crate) fn resolve<A: ToSocketAddrs + Send>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = if needs_no_lookup::<A>() {
        addr.to_socket_addrs()?.collect()
    } else {
        crate::blocking(move || addr.to_socket_addrs().map(Iterator::collect))?
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        ));
    }
    Ok(addrs)
}

/// Whether std's `ToSocketAddrs` for `A` never looks a name up: the
/// address types and (ip, port) pairs, and references and slices of them.
/// Anything with a string in it, or a type of the program's own, may, and
/// goes to the blocking pool. The hand-off costs ~20 µs, which a UDP
/// `send_to(SocketAddr)` would otherwise pay on every datagram. (Type names
/// are not a stable format; a change could only send more types to the
/// pool, never skip a lookup: every word of the name must be one we know.)
fn needs_no_lookup<A>() -> bool {
    let name = std::any::type_name::<A>();
    let plain = [
        "SocketAddr",
        "SocketAddrV4",
        "SocketAddrV6",
        "IpAddr",
        "Ipv4Addr",
        "Ipv6Addr",
    ];
    !name.contains("str")
        && !name.contains("String")
        && name
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| {
                !w.is_empty()
                    && !["core", "std", "net", "socket_addr", "ip_addr", "u16"].contains(w)
            })
            .all(|w| plain.contains(&w))
}

/// Raises a new listener's backlog from std's 128 to the system's limit
/// (`net.core.somaxconn`, which the kernel clamps it to). Under a burst of
/// connects a full queue drops SYNs (the client retries after 1 s) or, with
/// SYN cookies, leaves a client connected to a server socket that never
/// exists. Best effort: on failure the listener keeps std's backlog.
pub(crate) fn widen_backlog(fd: std::os::fd::RawFd) {
    // SAFETY: listen on a socket that is listening already only changes its
    // backlog; a bad fd is an error, not UB.
    unsafe { libc::listen(fd, i32::MAX) };
}

/// Tries `f` on each address in turn, as std does: the first success, or
/// the last error.
pub(crate) fn each_addr<T>(
    addrs: &[SocketAddr],
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The accept call of every listener (TCP and Unix): runs `take` (the std
/// listener's `accept`) until a connection comes, for at most `timeout`.
///
/// When the process runs out of fds (`EMFILE`, `ENFILE`) or socket memory
/// (`ENOBUFS`, `ENOMEM`), the error goes back to the caller, as std's
/// `accept` returns it. The first time (once per listener: `warned`) it
/// also warns on stderr with the listener's address (`addr`), the fd limit
/// and how to raise it: the pending connection stays queued, so a server
/// loop that retries at once spins until an fd is free.
pub(crate) fn accept<L: AsRawFd, R>(
    io: &Evented<L>,
    timeout: Option<Duration>,
    warned: &AtomicBool,
    addr: impl Fn() -> String,
    mut take: impl FnMut(&L) -> io::Result<R>,
) -> io::Result<R> {
    let r = io.io_timeout(Dir::Read, timeout, |l| retry_eintr(|| take(l)));
    match &r {
        Err(e) if out_of_fds(e) && !warned.swap(true, Relaxed) => warn_out_of_fds(&addr(), e),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("accept timed out after {:?}", timeout.unwrap_or_default()),
            ));
        }
        _ => {}
    }
    r
}

#[cold]
fn warn_out_of_fds(addr: &str, e: &io::Error) {
    let me = crate::thread::current();
    let who = match me.name() {
        Some(n) => format!("thread '{n}' ({})", me.id()),
        None => format!("thread {}", me.id()),
    };
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    let limit = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        format!(
            " (RLIMIT_NOFILE: soft {}, hard {})",
            lim.rlim_cur, lim.rlim_max
        )
    } else {
        String::new()
    };
    eprintln!(
        "weave: {who}: accept on {addr} failed: {e}{limit}; the error goes to the caller \
         and the connection stays queued (a loop that retries at once will spin). Close \
         idle connections or raise the limit (`ulimit -n`, or setrlimit in the program)."
    );
}

/// Whether `accept` failed for lack of fds or memory: the connection stays
/// queued, and the warning says how to make room.
fn out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Retries a call interrupted by a signal, where std does (`accept`).
pub(crate) fn retry_eintr<R>(mut f: impl FnMut() -> io::Result<R>) -> io::Result<R> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// The conversions every weave socket has: from and to its std type, and
/// from and to raw and owned fds. `$make` builds the weave type from an
/// `Evented<$std>`.
macro_rules! conversions {
    ($weave:ident, $std:ty, $make:expr) => {
        impl From<$std> for $weave {
            /// Adopts a std socket: its fd becomes non-blocking (weave waits
            /// through the reactor), and its timeouts carry over.
            fn from(s: $std) -> $weave {
                let make: fn($crate::net::Evented<$std>) -> $weave = $make;
                make($crate::net::Evented::adopt(s))
            }
        }

        impl From<$weave> for $std {
            /// Gives the socket back to std in blocking mode, with the
            /// timeouts set as kernel options.
            fn from(s: $weave) -> $std {
                s.io.into_blocking()
            }
        }

        impl std::os::fd::AsRawFd for $weave {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $weave {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get().as_fd()
            }
        }

        impl std::os::fd::IntoRawFd for $weave {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.io.into_blocking().into_raw_fd()
            }
        }

        impl std::os::fd::FromRawFd for $weave {
            /// # Safety
            /// `fd` must be an open socket of the right kind that the
            /// caller owns, as for std's `from_raw_fd`.
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $weave {
                // SAFETY: the caller's contract is std's.
                <$weave>::from(unsafe { <$std>::from_raw_fd(fd) })
            }
        }

        impl From<std::os::fd::OwnedFd> for $weave {
            fn from(fd: std::os::fd::OwnedFd) -> $weave {
                <$weave>::from(<$std>::from(fd))
            }
        }

        impl From<$weave> for std::os::fd::OwnedFd {
            fn from(s: $weave) -> std::os::fd::OwnedFd {
                s.io.into_blocking().into()
            }
        }
    };
}
pub(crate) use conversions;

/// The timeout methods of a socket with an `io: Evented<_>` field, as
/// std's, inside its `impl` block.
macro_rules! timeout_methods {
    () => {
        /// A read that waits longer than `dur` fails with
        /// `ErrorKind::TimedOut`. `None`: wait as long as it takes. A zero
        /// duration is an error, as in std. Shared with `try_clone`s.
        pub fn set_read_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.io.set_read_timeout(dur)
        }

        /// A write that waits longer than `dur` fails with
        /// `ErrorKind::TimedOut`. Shared with `try_clone`s.
        pub fn set_write_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.io.set_write_timeout(dur)
        }

        /// The read timeout.
        pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            Ok(self.io.read_timeout())
        }

        /// The write timeout.
        pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            Ok(self.io.write_timeout())
        }
    };
}
pub(crate) use timeout_methods;

/// `Read` and `Write` for a stream socket `$t` and `&$t` (std has both):
/// reads count a short read as draining the socket (`read_stream`).
macro_rules! stream_io {
    ($t:ty) => {
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io
                    .read_stream(buf.len(), |mut s| std::io::Read::read(&mut s, buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io
                    .read_stream(len, |mut s| std::io::Read::read_vectored(&mut s, bufs))
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.io.io($crate::reactor::Dir::Write, |mut s| {
                    std::io::Write::write(&mut s, buf)
                })
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.io.io($crate::reactor::Dir::Write, |mut s| {
                    std::io::Write::write_vectored(&mut s, bufs)
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use stream_io;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_address_types_skip_the_lookup() {
        assert!(needs_no_lookup::<SocketAddr>());
        assert!(needs_no_lookup::<&SocketAddr>());
        assert!(needs_no_lookup::<SocketAddrV4>());
        assert!(needs_no_lookup::<(IpAddr, u16)>());
        assert!(needs_no_lookup::<(Ipv4Addr, u16)>());
        assert!(needs_no_lookup::<&[SocketAddr]>());
        assert!(!needs_no_lookup::<&str>());
        assert!(!needs_no_lookup::<String>());
        assert!(!needs_no_lookup::<(&str, u16)>());
        assert!(!needs_no_lookup::<(String, u16)>());
        struct Mine;
        assert!(!needs_no_lookup::<Mine>());
    }
}

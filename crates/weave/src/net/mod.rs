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
//! `ErrorKind::TimedOut` (std gives `WouldBlock` on Unix); `accept` backs
//! off when the process is out of fds instead of failing; there are
//! `accept_timeout` and `recv_from_timeout`-style calls; and `connect` and
//! `bind` need an address type that is `Send`, because host names are
//! resolved by `weave::blocking` (`getaddrinfo` blocks its kernel thread).
//! Conversions from and to the std types and raw fds are `From`/`Into`:
//! a weave socket keeps its fd in non-blocking mode, and gives it back in
//! blocking mode with the timeouts set as kernel options.

mod evented;
mod tcp;
mod udp;

pub(crate) use evented::Evented;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
    ToSocketAddrs,
};

use std::io;

/// Resolves `addr` on the blocking pool: `getaddrinfo` blocks its thread.
pub(crate) fn resolve<A: ToSocketAddrs + Send>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> =
        crate::blocking(move || addr.to_socket_addrs().map(Iterator::collect))?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        ));
    }
    Ok(addrs)
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

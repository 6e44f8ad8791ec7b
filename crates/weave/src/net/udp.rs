//! UDP: `UdpSocket`, shaped as `std::net`'s.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::evented::Evented;
use super::resolve;
use crate::reactor::Dir;

/// A UDP socket: `std::net::UdpSocket` for ULTs. Receiving and sending
/// block only the calling thread.
///
/// ```no_run
/// use weave::net::UdpSocket;
///
/// let socket = UdpSocket::bind("127.0.0.1:3400")?;
/// let mut buf = [0; 1500];
/// loop {
///     let (n, peer) = socket.recv_from(&mut buf)?;
///     socket.send_to(&buf[..n], peer)?;
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: Evented<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Creates a socket bound to `addr` (resolved off the LWP if it is a
    /// host name). Tries each address in turn, as std does.
    pub fn bind<A: ToSocketAddrs + Send>(addr: A) -> io::Result<UdpSocket> {
        let addrs = resolve(addr)?;
        Ok(UdpSocket {
            io: Evented::new(std::net::UdpSocket::bind(&addrs[..])?)?,
        })
    }

    /// Waits for a datagram, copies it into `buf` and returns its length
    /// and sender. Bytes that do not fit in `buf` are dropped, as in std.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Dir::Read, |s| s.recv_from(buf))
    }

    /// As [`recv_from`](Self::recv_from), but gives up with
    /// `ErrorKind::TimedOut` after `timeout` whatever the read timeout (not
    /// in std). A zero timeout is an error, as for `set_read_timeout`.
    pub fn recv_from_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> io::Result<(usize, SocketAddr)> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot wait with a 0 duration timeout",
            ));
        }
        self.io
            .io_timeout(Dir::Read, Some(timeout), |s| s.recv_from(buf))
    }

    /// As [`recv_from`](Self::recv_from), but leaves the datagram in the
    /// queue: the next receive returns it again.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Dir::Read, |s| s.peek_from(buf))
    }

    /// Sends `buf` as one datagram to `addr` and returns the bytes sent.
    /// Like std, it resolves `addr` and sends to the first address only.
    ///
    /// Resolving goes through `weave::blocking` (a host name may need
    /// `getaddrinfo`), even for an address that is already a
    /// `SocketAddr`: a hop to another kernel thread and back per call. A
    /// hot loop that answers one peer does better to `connect` a socket to
    /// it and `send`.
    pub fn send_to<A: ToSocketAddrs + Send>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        // `resolve` never returns an empty list.
        let to = resolve(addr)?[0];
        self.io.io(Dir::Write, |s| s.send_to(buf, to))
    }

    /// Sets the default address of `send` and the only address `recv`
    /// accepts datagrams from. Tries each address of `addr` in turn, as std
    /// does; nothing goes over the network, so nothing waits but the name
    /// lookup.
    pub fn connect<A: ToSocketAddrs + Send>(&self, addr: A) -> io::Result<()> {
        let addrs = resolve(addr)?;
        self.io.get().connect(&addrs[..])
    }

    /// Sends `buf` as one datagram to the connected address. Fails if the
    /// socket is not connected.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Dir::Write, |s| s.send(buf))
    }

    /// Waits for a datagram from the connected address and copies it into
    /// `buf`. A datagram the peer's host refused (no socket on its port)
    /// shows here as `ErrorKind::ConnectionRefused`, once.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.recv(buf))
    }

    /// As [`recv`](Self::recv), but leaves the datagram in the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.peek(buf))
    }

    /// The address this socket is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// A new handle to the same socket; the two share timeouts and the
    /// non-blocking mode, as std's do.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: self.io.cloned(self.io.get().try_clone()?),
        })
    }

    super::timeout_methods!();

    /// Sets `SO_BROADCAST`: whether datagrams may go to a broadcast
    /// address.
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.io.get().set_broadcast(broadcast)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`: whether IPv4 multicast datagrams sent from
    /// this socket come back to the local host.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`: how many hops IPv4 multicast datagrams
    /// from this socket may take (1, the default, keeps them on the local
    /// network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`: whether IPv6 multicast datagrams sent
    /// from this socket come back to the local host.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`Ipv4Addr::UNSPECIFIED`: the kernel picks).
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.io.get().join_multicast_v4(multiaddr, interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0: the kernel picks).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.io.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets the IP time-to-live of datagrams from this socket.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any: for a connected
    /// socket, a refusal reported by the peer's host.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// In non-blocking mode, calls that would wait return `WouldBlock`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

super::conversions!(UdpSocket, std::net::UdpSocket, |io| UdpSocket { io });

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

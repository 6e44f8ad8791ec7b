//! `weave::net::UdpSocket`: a ULT waiting for a datagram blocks alone (the
//! thread table shows it waiting on the network, and two ULTs on a single
//! LWP can play ping-pong); timeouts end with `TimedOut` and leave the
//! socket usable; clones share settings; conversions to and from std and
//! fds round-trip; plain OS threads can use the same sockets. Every
//! scenario runs under a watchdog, so a lost wake-up fails instead of
//! hanging.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use weave::net::UdpSocket;
use weave::thread::{self, BlockReason, ThreadId, ThreadState};

/// Runs `f` on an OS thread and fails the test if it has not finished
/// after a minute (far beyond any scenario here, even on a loaded machine).
fn watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let v = f();
        let _ = tx.send(());
        v
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "{what}: still waiting after 60 s; threads: {:#?}",
            thread::threads()
        ),
        _ => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
    }
}

/// Waits (yielding) until the thread table shows `id` in `state`.
fn wait_for_state(id: ThreadId, state: ThreadState) {
    loop {
        let now = thread::threads()
            .into_iter()
            .find(|r| r.id == id)
            .map(|r| r.state);
        if now == Some(state) {
            return;
        }
        std::thread::yield_now();
    }
}

fn local() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// A pair of sockets connected to each other.
fn connected_pair() -> (UdpSocket, UdpSocket) {
    let (a, b) = (local(), local());
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    (a, b)
}

/// Whether `fd` has `O_NONBLOCK` set, from the kernel's own account.
fn fd_is_nonblocking(fd: RawFd) -> bool {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .expect("fdinfo has a flags line")
        .trim();
    u32::from_str_radix(flags, 8).unwrap() & 0o4000 != 0
}

#[test]
fn a_ult_waiting_in_recv_from_is_blocked_on_the_network() {
    watchdog("recv_from", || {
        let rx = local();
        let to = rx.local_addr().unwrap();
        let h = thread::spawn(move || {
            let mut buf = [0; 16];
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            (buf[..n].to_vec(), from)
        });
        // A ULT that blocked its LWP in the kernel would show as Running.
        wait_for_state(h.thread().id(), ThreadState::Blocked(BlockReason::Net));
        let tx = local();
        assert_eq!(tx.send_to(b"hello", to).unwrap(), 5);
        let (data, from) = h.join().unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(from, tx.local_addr().unwrap());
    });
}

/// The tests that shrink the pool to one LWP run one at a time, and put it
/// back even if they fail.
static POOL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct OneLwp(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

fn one_lwp() -> OneLwp {
    let g = POOL.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    OneLwp(g)
}

impl Drop for OneLwp {
    fn drop(&mut self) {
        weave::set_concurrency(0).unwrap();
    }
}

#[test]
fn two_ults_on_one_lwp_play_ping_pong() {
    const ROUNDS: u32 = 500;
    let _pool = one_lwp();
    watchdog("ping-pong", || {
        let (a, b) = connected_pair();
        // Each side waits in `recv` while the other runs: with one LWP,
        // a wait that held the LWP would stop the game at the first ball.
        let pong = thread::spawn(move || {
            let mut buf = [0; 4];
            for _ in 0..ROUNDS {
                let n = b.recv(&mut buf).unwrap();
                b.send(&buf[..n]).unwrap();
            }
            thread::current_lwp()
        });
        let ping = thread::spawn(move || {
            let mut buf = [0; 4];
            for i in 0..ROUNDS {
                a.send(&i.to_le_bytes()).unwrap();
                assert_eq!(a.recv(&mut buf).unwrap(), 4);
                assert_eq!(u32::from_le_bytes(buf), i);
            }
            thread::current_lwp()
        });
        assert_eq!(ping.join().unwrap(), pong.join().unwrap());
    });
}

#[test]
fn ults_make_requests_and_get_their_own_answers() {
    const CLIENTS: u32 = 16;
    const REQUESTS: u32 = 50;
    watchdog("request/response", || {
        let server = local();
        let at = server.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        let srv = thread::spawn(move || {
            let mut buf = [0; 64];
            for _ in 0..CLIENTS * REQUESTS {
                let (n, peer) = server.recv_from(&mut buf).unwrap();
                let v = u32::from_le_bytes(buf[..n].try_into().unwrap());
                server.send_to(&(v * 2).to_le_bytes(), peer).unwrap();
                counter.fetch_add(1, SeqCst);
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                thread::spawn(move || {
                    let s = local();
                    s.connect(at).unwrap();
                    let mut buf = [0; 4];
                    for r in 0..REQUESTS {
                        let v = c * 1000 + r;
                        s.send(&v.to_le_bytes()).unwrap();
                        assert_eq!(s.recv(&mut buf).unwrap(), 4);
                        assert_eq!(u32::from_le_bytes(buf), v * 2);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        srv.join().unwrap();
        assert_eq!(served.load(SeqCst), (CLIENTS * REQUESTS) as usize);
    });
}

/// A read timeout ends the wait with `TimedOut`; the socket then works.
fn timeout_then_usable(s: &UdpSocket) {
    let mut buf = [0; 8];
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(
        s.recv_from(&mut buf).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert_eq!(s.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(
        s.recv_from_timeout(&mut buf, Duration::from_millis(10))
            .unwrap_err()
            .kind(),
        ErrorKind::TimedOut
    );
    let tx = local();
    tx.send_to(b"late", s.local_addr().unwrap()).unwrap();
    s.set_read_timeout(None).unwrap();
    let (n, from) = s.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"late"[..], tx.local_addr().unwrap()));
}

#[test]
fn a_read_timeout_gives_timed_out_and_leaves_the_socket_usable() {
    watchdog("timeouts", || {
        thread::spawn(|| timeout_then_usable(&local()))
            .join()
            .unwrap();
        // The same on a plain OS thread (it waits in poll(2)).
        timeout_then_usable(&local());
        // As in std, a zero timeout is refused.
        let s = local();
        let zero = Some(Duration::ZERO);
        assert_eq!(
            s.set_read_timeout(zero).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            s.set_write_timeout(zero).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let mut buf = [0; 1];
        assert_eq!(
            s.recv_from_timeout(&mut buf, Duration::ZERO)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn clones_share_timeouts_and_the_nonblocking_mode() {
    watchdog("try_clone", || {
        let a = local();
        let b = a.try_clone().unwrap();
        assert_eq!(a.local_addr().unwrap(), b.local_addr().unwrap());
        let t = Duration::from_millis(15);
        a.set_read_timeout(Some(t)).unwrap();
        b.set_write_timeout(Some(t * 2)).unwrap();
        assert_eq!(b.read_timeout().unwrap(), Some(t));
        assert_eq!(a.write_timeout().unwrap(), Some(t * 2));
        // The clone's wait honours the timeout set on the original.
        let h = thread::spawn(move || {
            let mut buf = [0; 1];
            b.recv(&mut buf).unwrap_err().kind()
        });
        assert_eq!(h.join().unwrap(), ErrorKind::TimedOut);

        let c = a.try_clone().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut buf = [0; 1];
        assert_eq!(
            c.recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        c.set_nonblocking(false).unwrap();
        assert_eq!(a.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn a_nonblocking_socket_returns_would_block_on_a_ult_too() {
    watchdog("nonblocking", || {
        thread::spawn(|| {
            let s = local();
            s.set_nonblocking(true).unwrap();
            let mut buf = [0; 1];
            assert_eq!(
                s.recv_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_eq!(
                s.peek_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            local().send_to(b"x", s.local_addr().unwrap()).unwrap();
            // Non-blocking, but the datagram is there: no WouldBlock.
            s.set_nonblocking(false).unwrap();
            s.peek_from(&mut buf).unwrap();
            s.set_nonblocking(true).unwrap();
            assert_eq!(s.recv_from(&mut buf).unwrap().0, 1);
        })
        .join()
        .unwrap();
    });
}

#[test]
fn peek_leaves_the_datagram_for_the_next_receive() {
    watchdog("peek", || {
        thread::spawn(|| {
            let (a, b) = connected_pair();
            let h = thread::spawn(move || {
                let mut buf = [0; 8];
                let n = b.peek(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"first");
                let (n, from) = b.peek_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"first");
                assert_eq!(b.recv(&mut buf).unwrap(), 5);
                let n = b.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"second");
                from
            });
            a.send(b"first").unwrap();
            a.send(b"second").unwrap();
            assert_eq!(h.join().unwrap(), a.local_addr().unwrap());
        })
        .join()
        .unwrap();
    });
}

#[test]
fn conversions_to_and_from_std_and_fds_round_trip() {
    watchdog("conversions", || {
        let peer = local();
        let to = peer.local_addr().unwrap();
        let s = local();
        let addr = s.local_addr().unwrap();
        assert!(fd_is_nonblocking(s.as_raw_fd()), "weave waits, not the fd");
        // A whole second: the kernel keeps timeouts in clock ticks.
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();

        // To std: blocking again, with the timeout as a kernel option.
        let std_sock: std::net::UdpSocket = s.into();
        assert!(!fd_is_nonblocking(std_sock.as_raw_fd()));
        assert_eq!(std_sock.local_addr().unwrap(), addr);
        assert_eq!(
            std_sock.read_timeout().unwrap(),
            Some(Duration::from_secs(1))
        );
        std_sock.send_to(b"std", to).unwrap();

        // Back from std: the kernel timeout carries over.
        let s = UdpSocket::from(std_sock);
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_secs(1)));
        s.set_read_timeout(None).unwrap();

        // Through an OwnedFd and a raw fd.
        let fd: OwnedFd = s.into();
        assert!(!fd_is_nonblocking(fd.as_raw_fd()));
        let s = UdpSocket::from(fd);
        let raw = s.into_raw_fd();
        assert!(!fd_is_nonblocking(raw));
        // SAFETY: `raw` is the open UDP socket we just took out of `s`.
        let s = unsafe { UdpSocket::from_raw_fd(raw) };
        assert_eq!(s.as_raw_fd(), raw);
        assert_eq!(s.local_addr().unwrap(), addr);

        // Still the same working socket, now waited on by a ULT.
        let h = thread::spawn(move || {
            let mut buf = [0; 8];
            let (n, from) = s.recv_from(&mut buf).unwrap();
            (buf[..n].to_vec(), from)
        });
        peer.send_to(b"back", addr).unwrap();
        assert_eq!(h.join().unwrap(), (b"back".to_vec(), to));
        let mut buf = [0; 8];
        assert_eq!(peer.recv_from(&mut buf).unwrap(), (3, addr));
        assert_eq!(&buf[..3], b"std");
        assert!(format!("{peer:?}").contains(&to.to_string()));
    });
}

#[test]
fn os_threads_and_ults_share_sockets() {
    watchdog("OS threads", || {
        let (a, b) = connected_pair();
        let (a, b) = (Arc::new(a), Arc::new(b));
        // An OS thread waits in recv (in the kernel) for a ULT's datagram,
        // then a ULT waits (in the reactor) for the OS thread's answer.
        let b2 = b.clone();
        let os = std::thread::spawn(move || {
            let mut buf = [0; 8];
            let n = b2.recv(&mut buf).unwrap();
            b2.send(&buf[..n]).unwrap();
        });
        let a2 = a.clone();
        let ult = thread::spawn(move || {
            a2.send(b"echo").unwrap();
            let mut buf = [0; 8];
            let n = a2.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        assert_eq!(ult.join().unwrap(), b"echo");
        os.join().unwrap();
    });
}

#[test]
fn a_refused_datagram_is_reported_once_and_later_waits_still_time_out() {
    watchdog("refused", || {
        // A port with nobody on it: bind, note it, close.
        let gone = local().local_addr().unwrap();
        let s = Arc::new(local());
        s.connect(gone).unwrap();
        thread::spawn(move || {
            // The refusal comes in while a ULT waits in the reactor.
            let waiter = {
                let s = s.clone();
                thread::spawn(move || {
                    let mut buf = [0; 8];
                    s.recv(&mut buf).unwrap_err().kind()
                })
            };
            wait_for_state(waiter.thread().id(), ThreadState::Blocked(BlockReason::Net));
            s.send(b"anyone?").unwrap();
            assert_eq!(waiter.join().unwrap(), ErrorKind::ConnectionRefused);
            // Reported once: the next wait is an ordinary one, which times
            // out instead of waking again and again for the old error.
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let mut buf = [0; 8];
            assert_eq!(s.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
            assert!(s.take_error().unwrap().is_none());
        })
        .join()
        .unwrap();
    });
}

#[test]
fn addresses_in_every_form_and_bad_ones_give_errors() {
    watchdog("addresses", || {
        let rx = local();
        let port = rx.local_addr().unwrap().port();
        let tx = local();
        tx.send_to(b"1", ("127.0.0.1", port)).unwrap();
        tx.send_to(b"2", format!("127.0.0.1:{port}")).unwrap();
        tx.send_to(b"3", (Ipv4Addr::LOCALHOST, port)).unwrap();
        let mut buf = [0; 4];
        for want in [b"1", b"2", b"3"] {
            let (n, _) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        let no_addrs: &[SocketAddr] = &[];
        assert_eq!(
            tx.send_to(b"x", no_addrs).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            tx.connect(no_addrs).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert!(tx.send_to(b"x", "not an address").is_err());
        assert!(UdpSocket::bind("127.0.0.1:notaport").is_err());
        // Not connected: an error, not a panic.
        assert!(tx.send(b"x").is_err());
        assert!(tx.peer_addr().is_err());
    });
}

#[test]
fn socket_options_round_trip() {
    let s = local();
    s.set_broadcast(true).unwrap();
    assert!(s.broadcast().unwrap());
    s.set_ttl(42).unwrap();
    assert_eq!(s.ttl().unwrap(), 42);
    s.set_multicast_loop_v4(false).unwrap();
    assert!(!s.multicast_loop_v4().unwrap());
    s.set_multicast_ttl_v4(7).unwrap();
    assert_eq!(s.multicast_ttl_v4().unwrap(), 7);
    assert!(s.take_error().unwrap().is_none());
    if let Ok(v6) = UdpSocket::bind("[::1]:0") {
        v6.set_multicast_loop_v6(false).unwrap();
        assert!(!v6.multicast_loop_v6().unwrap());
    }
    // Joining may be refused where there is no multicast route; either way
    // the answer is a Result, and leaving undoes a join.
    let group = Ipv4Addr::new(239, 255, 0, 77);
    if s.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED).is_ok() {
        s.leave_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
            .unwrap();
    }
    assert!(s
        .leave_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
        .is_err());
}

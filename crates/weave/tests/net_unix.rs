//! `weave::os::unix::net`: a ULT waiting on a Unix socket blocks alone
//! (the thread table shows it waiting on the network); 200 connections
//! served by 400 ULTs at once; a connect to a full backlog and a send to a
//! full receiver wait without failing and without spinning; timeouts end
//! with `TimedOut` and leave the socket usable; clones share settings;
//! conversions to and from std and fds round-trip; plain OS threads use the
//! same sockets; a closed peer gives end-of-file and std's error kinds.
//! Every scenario runs under a watchdog, so a lost wake-up fails instead of
//! hanging.

use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use weave::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
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

fn state_of(id: ThreadId) -> Option<ThreadState> {
    thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.state)
}

/// Waits (yielding) until the thread table shows `id` in `state`.
fn wait_for_state(id: ThreadId, state: ThreadState) {
    while state_of(id) != Some(state) {
        std::thread::yield_now();
    }
}

fn switches_of(id: ThreadId) -> u64 {
    thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map_or(0, |r| r.switches)
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

/// A directory of its own for a test's socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "weave-net-unix-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, SeqCst)
        ));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name in the abstract namespace no other test (or process) uses.
fn abstract_name() -> SocketAddr {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "weave-net-unix-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, SeqCst)
    );
    SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
}

#[test]
fn a_ult_waiting_in_read_is_blocked_on_the_network() {
    watchdog("read", || {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let h = thread::spawn(move || {
            let mut buf = [0; 16];
            let n = b.read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        // A ULT that blocked its LWP in the kernel would show as Running.
        wait_for_state(h.thread().id(), ThreadState::Blocked(BlockReason::Net));
        a.write_all(b"hello").unwrap();
        assert_eq!(h.join().unwrap(), b"hello");
    });
}

/// Echoes what comes in until the peer closes its end.
fn echo(mut s: UnixStream) {
    let mut buf = [0; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => s.write_all(&buf[..n]).unwrap(),
            Err(e) => panic!("echo: {e}"),
        }
    }
}

#[test]
fn two_hundred_connections_talk_at_once() {
    const PAIRS: usize = 200;
    const ROUNDS: usize = 20;
    watchdog("200 pairs", || {
        let dir = TempDir::new();
        let path = dir.path("echo.sock");
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = thread::spawn(move || {
            let handlers: Vec<_> = listener
                .incoming()
                .take(PAIRS)
                .map(|s| {
                    let s = s.unwrap();
                    thread::spawn(move || echo(s))
                })
                .collect();
            for h in handlers {
                h.join().unwrap();
            }
        });
        let rounds = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..PAIRS)
            .map(|c| {
                let path = path.clone();
                let rounds = rounds.clone();
                thread::spawn(move || {
                    let mut s = UnixStream::connect(&path).unwrap();
                    assert_eq!(s.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
                    let mut buf = [0; 16];
                    for r in 0..ROUNDS {
                        let msg = format!("{c}:{r}");
                        s.write_all(msg.as_bytes()).unwrap();
                        s.read_exact(&mut buf[..msg.len()]).unwrap();
                        assert_eq!(&buf[..msg.len()], msg.as_bytes());
                        rounds.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
        assert_eq!(rounds.load(SeqCst), PAIRS * ROUNDS);
    });
}

#[test]
fn connect_waits_while_the_listener_backlog_is_full() {
    const CONNECTORS: usize = 4;
    watchdog("full backlog", || {
        let dir = TempDir::new();
        let path = dir.path("busy.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // Backlog 0: Linux queues one connection, then refuses with EAGAIN.
        // SAFETY: listen(2) on the listener's open fd; it only changes the
        // backlog of a socket that already listens.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let connectors: Vec<_> = (0..CONNECTORS)
            .map(|i| {
                let path = path.clone();
                thread::spawn(move || {
                    let mut s = UnixStream::connect(path).unwrap();
                    s.write_all(&[i as u8]).unwrap();
                })
            })
            .collect();
        // All but the first wait for room, as a ULT sleep between tries.
        let ids: Vec<ThreadId> = connectors.iter().map(|h| h.thread().id()).collect();
        while ids
            .iter()
            .filter(|&&id| state_of(id) == Some(ThreadState::Blocked(BlockReason::Sleep)))
            .count()
            < CONNECTORS - 1
        {
            std::thread::yield_now();
        }
        let mut seen: Vec<u8> = (0..CONNECTORS)
            .map(|_| {
                let (mut s, _) = listener.accept().unwrap();
                let mut b = [0; 1];
                s.read_exact(&mut b).unwrap();
                b[0]
            })
            .collect();
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3]);
        for c in connectors {
            c.join().unwrap();
        }
    });
}

/// Timeouts end waits with `TimedOut`, and the stream works afterwards.
fn timeouts_then_usable() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut buf = [0; 4096];
    a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!((&a).read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(a.peek(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    b.write_all(b"late").unwrap();
    assert_eq!((&a).read(&mut buf).unwrap(), 4);

    // Fill the socket buffer, then a write waits and times out.
    a.set_nonblocking(true).unwrap();
    while (&a).write(&buf).is_ok() {}
    a.set_nonblocking(false).unwrap();
    a.set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    assert_eq!((&a).write(&buf).unwrap_err().kind(), ErrorKind::TimedOut);
    b.set_nonblocking(true).unwrap();
    while b.read(&mut buf).is_ok() {}
    assert_eq!((&a).write(b"room").unwrap(), 4);
}

#[test]
fn timeouts_give_timed_out_and_leave_the_stream_usable() {
    watchdog("timeouts", || {
        thread::spawn(timeouts_then_usable).join().unwrap();
        // The same on a plain OS thread (it waits in poll(2)).
        timeouts_then_usable();
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(
            a.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn clones_share_timeouts_and_the_nonblocking_mode() {
    watchdog("try_clone", || {
        let (a, _b) = UnixStream::pair().unwrap();
        let c = a.try_clone().unwrap();
        let t = Duration::from_millis(15);
        a.set_read_timeout(Some(t)).unwrap();
        c.set_write_timeout(Some(t * 2)).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(t));
        assert_eq!(a.write_timeout().unwrap(), Some(t * 2));
        let h = thread::spawn(move || {
            let mut buf = [0; 1];
            (&c).read(&mut buf).unwrap_err().kind()
        });
        assert_eq!(h.join().unwrap(), ErrorKind::TimedOut);

        let d = a.try_clone().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut buf = [0; 1];
        assert_eq!(
            (&d).read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        let (x, _y) = UnixDatagram::pair().unwrap();
        let z = x.try_clone().unwrap();
        x.set_read_timeout(Some(t)).unwrap();
        assert_eq!(z.read_timeout().unwrap(), Some(t));
        assert_eq!(z.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);

        let dir = TempDir::new();
        let l = UnixListener::bind(dir.path("l.sock")).unwrap();
        let m = l.try_clone().unwrap();
        l.set_nonblocking(true).unwrap();
        assert_eq!(m.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(m.take_error().unwrap().is_none());
    });
}

#[test]
fn conversions_to_and_from_std_and_fds_round_trip() {
    watchdog("conversions", || {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(fd_is_nonblocking(a.as_raw_fd()), "weave waits, not the fd");
        // A whole second: the kernel keeps timeouts in clock ticks.
        a.set_read_timeout(Some(Duration::from_secs(1))).unwrap();

        // To std: blocking again, with the timeout as a kernel option.
        let mut std_a: std::os::unix::net::UnixStream = a.into();
        assert!(!fd_is_nonblocking(std_a.as_raw_fd()));
        assert_eq!(std_a.read_timeout().unwrap(), Some(Duration::from_secs(1)));
        std_a.write_all(b"std").unwrap();

        // Back, through an OwnedFd and a raw fd.
        let a = UnixStream::from(std_a);
        assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_secs(1)));
        let fd: OwnedFd = a.into();
        assert!(!fd_is_nonblocking(fd.as_raw_fd()));
        let a = UnixStream::from(fd);
        let raw = a.into_raw_fd();
        // SAFETY: `raw` is the open stream socket we just took out of `a`.
        let mut a = unsafe { UnixStream::from_raw_fd(raw) };
        assert_eq!(a.as_raw_fd(), raw);
        let h = thread::spawn(move || {
            let mut buf = [0; 3];
            (&b).read_exact(&mut buf).unwrap();
            (&b).write_all(b"ult").unwrap();
            buf
        });
        assert_eq!(&h.join().unwrap(), b"std");
        let mut buf = [0; 3];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ult");

        let (x, y) = UnixDatagram::pair().unwrap();
        let std_x: std::os::unix::net::UnixDatagram = x.into();
        assert!(!fd_is_nonblocking(std_x.as_raw_fd()));
        std_x.send(b"d").unwrap();
        let x = UnixDatagram::from(std_x);
        assert_eq!(y.recv(&mut buf).unwrap(), 1);
        y.send(b"e").unwrap();
        assert_eq!(x.recv(&mut buf).unwrap(), 1);

        let dir = TempDir::new();
        let path = dir.path("l.sock");
        let l = UnixListener::bind(&path).unwrap();
        let std_l: std::os::unix::net::UnixListener = l.into();
        assert!(!fd_is_nonblocking(std_l.as_raw_fd()));
        let l = UnixListener::from(OwnedFd::from(std_l));
        let c = thread::spawn(move || UnixStream::connect(path).map(|_| ()));
        l.accept().unwrap();
        c.join().unwrap().unwrap();
        assert!(format!("{l:?}").contains("l.sock"));
    });
}

#[test]
fn os_threads_and_ults_share_streams() {
    watchdog("OS threads", || {
        let dir = TempDir::new();
        let path = dir.path("mixed.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // An OS thread accepts and echoes (waiting in the kernel); a ULT
        // connects and waits in the reactor for the answer.
        let os = std::thread::spawn(move || echo(listener.accept().unwrap().0));
        let ult = thread::spawn(move || {
            let mut s = UnixStream::connect(path).unwrap();
            s.write_all(b"from a ULT").unwrap();
            let mut buf = [0; 10];
            s.read_exact(&mut buf).unwrap();
            buf
        });
        assert_eq!(&ult.join().unwrap(), b"from a ULT");
        os.join().unwrap();
    });
}

#[test]
fn a_closed_peer_gives_end_of_file_then_broken_pipe() {
    watchdog("peer close", || {
        thread::spawn(|| {
            let (mut a, b) = UnixStream::pair().unwrap();
            let reader = thread::spawn(move || {
                let mut buf = [0; 8];
                let n = a.read(&mut buf).unwrap();
                let eof = a.read(&mut buf).unwrap();
                (n, eof, a)
            });
            (&b).write_all(b"bye").unwrap();
            b.shutdown(Shutdown::Write).unwrap();
            let (n, eof, mut a) = reader.join().unwrap();
            assert_eq!((n, eof), (3, 0));
            // Half-closed: the other way still works.
            a.write_all(b"ok").unwrap();
            let mut buf = [0; 2];
            (&b).read_exact(&mut buf).unwrap();
            drop(b);
            assert_eq!(a.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
            assert_eq!(a.read(&mut buf).unwrap(), 0);
        })
        .join()
        .unwrap();
    });
}

#[test]
fn peek_and_vectored_io() {
    watchdog("peek", || {
        thread::spawn(|| {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            let h = thread::spawn(move || {
                let mut buf = [0; 8];
                // Waits for the data, and leaves it there.
                let n = b.peek(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"hello w!");
                let (mut x, mut y) = ([0; 3], [0; 5]);
                let n = b
                    .read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])
                    .unwrap();
                (n, x, y)
            });
            let n = a
                .write_vectored(&[IoSlice::new(b"hel"), IoSlice::new(b"lo w!")])
                .unwrap();
            assert_eq!(n, 8);
            let (n, x, y) = h.join().unwrap();
            assert_eq!((n, &x, &y), (8, b"hel", b"lo w!"));
        })
        .join()
        .unwrap();
    });
}

#[test]
fn datagrams_go_between_pairs_and_bound_sockets() {
    watchdog("datagrams", || {
        let (a, b) = UnixDatagram::pair().unwrap();
        let h = thread::spawn(move || {
            let mut buf = [0; 8];
            let n = b.recv(&mut buf).unwrap();
            b.send(&buf[..n]).unwrap();
        });
        a.send(b"pair").unwrap();
        let mut buf = [0; 8];
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
        h.join().unwrap();

        let dir = TempDir::new();
        let (pa, pb) = (dir.path("a.sock"), dir.path("b.sock"));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        let h = thread::spawn(move || {
            let mut buf = [0; 8];
            let (n, from) = b.recv_from(&mut buf).unwrap();
            let from = from.as_pathname().unwrap().to_owned();
            b.send_to(&buf[..n], &from).unwrap();
            from
        });
        a.send_to(b"bound", &pb).unwrap();
        assert_eq!(h.join().unwrap(), pa);
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from.as_pathname()),
            (&b"bound"[..], Some(pb.as_path()))
        );

        // Connected, and by SocketAddr.
        let c = UnixDatagram::unbound().unwrap();
        c.connect(&pa).unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(pa.as_path()));
        c.send(b"conn").unwrap();
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
        let to = SocketAddr::from_pathname(&pa).unwrap();
        c.send_to_addr(b"addr", &to).unwrap();
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
        let d = UnixDatagram::unbound().unwrap();
        d.connect_addr(&to).unwrap();
        d.send(b"d").unwrap();
        assert_eq!(a.recv(&mut buf).unwrap(), 1);

        // Timeouts, shutdown, the local address.
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        assert_eq!(
            a.recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        assert_eq!(a.local_addr().unwrap().as_pathname(), Some(pa.as_path()));
        assert!(a.take_error().unwrap().is_none());
    });
}

#[test]
fn shutdown_read_ends_a_datagram_receive_with_nothing() {
    watchdog("datagram shutdown", || {
        let (a, _b) = UnixDatagram::pair().unwrap();
        let a = Arc::new(a);
        let waiting = {
            let a = a.clone();
            thread::spawn(move || {
                let mut buf = [0; 8];
                let n = a.recv(&mut buf).unwrap();
                let (m, from) = a.recv_from(&mut buf).unwrap();
                (n, m, from.is_unnamed())
            })
        };
        wait_for_state(
            waiting.thread().id(),
            ThreadState::Blocked(BlockReason::Net),
        );
        // Stops the ULT waiting in recv, as with std's blocking sockets.
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(waiting.join().unwrap(), (0, 0, true));
        // On an OS thread too; in non-blocking mode, std's WouldBlock.
        let mut buf = [0; 8];
        assert_eq!(a.recv(&mut buf).unwrap(), 0);
        a.set_nonblocking(true).unwrap();
        assert_eq!(a.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn a_datagram_to_a_closed_peer_is_refused() {
    watchdog("datagram peer close", || {
        let (a, b) = UnixDatagram::pair().unwrap();
        drop(b);
        assert_eq!(
            a.send(b"anyone?").unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
        let (s, t) = UnixStream::pair().unwrap();
        drop(t);
        let mut buf = [0; 1];
        assert_eq!((&s).read(&mut buf).unwrap(), 0);
    });
}

/// Fills `to`'s receive queue from a socket of its own; returns how many
/// datagrams it holds.
fn fill(to: &Path) -> usize {
    let filler = UnixDatagram::unbound().unwrap();
    filler.set_nonblocking(true).unwrap();
    let mut n = 0;
    loop {
        match filler.send_to(b"fill", to) {
            Ok(_) => n += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return n,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

#[test]
fn a_connected_send_to_a_full_receiver_waits_in_the_reactor() {
    watchdog("connected send", || {
        let dir = TempDir::new();
        let path = dir.path("full.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let tx = UnixDatagram::unbound().unwrap();
        tx.connect(&path).unwrap();
        let queued = fill(&path);
        // The kernel wakes a connected sender when its peer's queue
        // drains: the ULT waits on the reactor.
        let h = thread::spawn(move || tx.send(b"last").unwrap());
        wait_for_state(h.thread().id(), ThreadState::Blocked(BlockReason::Net));
        let mut buf = [0; 8];
        for _ in 0..queued {
            assert_eq!(rx.recv(&mut buf).unwrap(), 4);
        }
        assert_eq!(h.join().unwrap(), 4);
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"last");
    });
}

#[test]
fn send_to_a_full_receiver_waits_without_spinning() {
    watchdog("send_to a full receiver", || {
        let dir = TempDir::new();
        let path = dir.path("full.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let queued = fill(&path);
        let p = path.clone();
        let h = thread::spawn(move || {
            let tx = UnixDatagram::unbound().unwrap();
            tx.send_to(b"last", &p).unwrap()
        });
        let id = h.thread().id();
        // Nothing tells an unconnected sender that the queue drained (and
        // a failed send even signals writability): it retries after
        // growing sleeps rather than spinning on readiness.
        wait_for_state(id, ThreadState::Blocked(BlockReason::Sleep));
        let before = switches_of(id);
        std::thread::sleep(Duration::from_millis(200));
        let tries = switches_of(id) - before;
        // Pauses from 250 µs doubling to 50 ms give about a dozen tries in
        // 200 ms, fewer if the machine is slow; a spin gives thousands.
        assert!(tries < 40, "{tries} tries in 200 ms: the sender spins");
        let mut buf = [0; 8];
        for _ in 0..queued {
            assert_eq!(rx.recv(&mut buf).unwrap(), 4);
        }
        assert_eq!(h.join().unwrap(), 4);
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"last");

        // With a write timeout, or in non-blocking mode, it gives up.
        let queued = fill(&path);
        assert!(queued > 0);
        let tx = UnixDatagram::unbound().unwrap();
        tx.set_write_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let p = path.clone();
        let e = thread::spawn(move || tx.send_to(b"x", &p).unwrap_err().kind());
        assert_eq!(e.join().unwrap(), ErrorKind::TimedOut);
        let tx = UnixDatagram::unbound().unwrap();
        tx.set_nonblocking(true).unwrap();
        assert_eq!(
            tx.send_to(b"x", &path).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn abstract_names_bind_and_connect() {
    watchdog("abstract names", || {
        let addr = abstract_name();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        let to = addr.clone();
        let c = thread::spawn(move || {
            let mut s = UnixStream::connect_addr(&to).unwrap();
            s.write_all(b"abs").unwrap();
        });
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 3];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abs");
        c.join().unwrap();
        assert_eq!(
            s.local_addr().unwrap().as_abstract_name(),
            addr.as_abstract_name()
        );

        let daddr = abstract_name();
        let rx = UnixDatagram::bind_addr(&daddr).unwrap();
        UnixDatagram::unbound()
            .unwrap()
            .send_to_addr(b"d", &daddr)
            .unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap(), 1);
    });
}

#[test]
fn bad_addresses_and_timeouts_give_clear_errors() {
    watchdog("errors", || {
        let dir = TempDir::new();
        let path = dir.path("l.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let e = thread::spawn(move || {
            listener
                .accept_timeout(Duration::from_millis(20))
                .unwrap_err()
                .kind()
        });
        assert_eq!(e.join().unwrap(), ErrorKind::TimedOut);
        // The listener is gone; its file stays, and nobody answers there.
        assert_eq!(
            UnixStream::connect(&path).unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
        assert_eq!(
            UnixListener::bind(&path).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        assert_eq!(
            UnixStream::connect(dir.path("nobody")).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            UnixStream::connect("a\0b").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let long = dir.path(&"x".repeat(200));
        assert_eq!(
            UnixStream::connect(&long).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert!(UnixDatagram::bind(&long).is_err());
        let unnamed = UnixDatagram::unbound().unwrap().local_addr().unwrap();
        assert!(unnamed.is_unnamed());
        assert_eq!(
            UnixStream::connect_addr(&unnamed).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

const OUT_OF_FDS_CHILD: &str = "WEAVE_TEST_NET_UNIX_OUT_OF_FDS_CHILD";

/// Runs in a child process (it lowers the process's fd limit): `accept`
/// with no fd left returns `EMFILE`, twice, as std's does; with fds back,
/// the connection that stayed queued is taken.
#[test]
fn out_of_fds_child() {
    if std::env::var_os(OUT_OF_FDS_CHILD).is_none() {
        return; // Only meaningful in the child process.
    }
    let dir = TempDir::new();
    let path = dir.path("busy.sock");
    let listener = Arc::new(UnixListener::bind(&path).unwrap());
    let _client = UnixStream::connect(&path).unwrap();
    // Start the runtime and the reactor while fds are plentiful.
    thread::spawn(|| {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let _ = (&a).read(&mut [0; 1]);
    })
    .join()
    .unwrap();
    // The lowest free fd becomes the limit: the next fd is refused.
    let next = std::fs::File::open("/dev/null").unwrap().as_raw_fd();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    let low = libc::rlimit {
        rlim_cur: next as u64,
        rlim_max: old.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
    let l = listener.clone();
    let refused = thread::spawn(move || {
        [l.accept().err(), l.accept().err()].map(|e| e.and_then(|e| e.raw_os_error()))
    })
    .join()
    .unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
    assert_eq!(refused, [Some(libc::EMFILE); 2]);
    let fd = thread::spawn(move || listener.accept().map(|(s, _)| s.as_raw_fd()))
        .join()
        .unwrap()
        .unwrap();
    assert!(fd >= next);
}

#[test]
fn accept_out_of_fds_returns_emfile_and_warns_once() {
    let out = watchdog("out of fds", || {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "out_of_fds_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(OUT_OF_FDS_CHILD, "1")
            .output()
            .unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("weave: ") && l.contains("accept on"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per listener: {stderr}");
    for what in ["busy.sock", "RLIMIT_NOFILE", "ulimit -n"] {
        assert!(warnings[0].contains(what), "names {what}: {}", warnings[0]);
    }
}

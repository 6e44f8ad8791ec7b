//! weave::net TCP: blocking-style calls that block only the ULT, std's
//! error kinds, timeouts, conversions, and the same calls from OS threads.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::net::{TcpListener, TcpStream};
use weave::thread::{self, BlockReason, ThreadState};

/// Fails the test instead of hanging it.
fn watchdog(what: &'static str, secs: u64) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let t = Instant::now();
        while !d.load(Ordering::SeqCst) {
            if t.elapsed() > Duration::from_secs(secs) {
                eprintln!("watchdog: {what} still running after {secs} s");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    done
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn is_nonblocking(fd: i32) -> bool {
    // SAFETY: F_GETFL on an open fd.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags & libc::O_NONBLOCK != 0
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(20), "never saw: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn many_connections_echo_between_ults() {
    let done = watchdog("echo of 200 connections", 60);
    let (l, addr) = listener();
    let server = thread::spawn(move || {
        let mut hs = Vec::new();
        for _ in 0..200 {
            let (mut s, _) = l.accept().unwrap();
            hs.push(thread::spawn(move || {
                let mut buf = [0u8; 256];
                loop {
                    match s.read(&mut buf).unwrap() {
                        0 => return,
                        n => s.write_all(&buf[..n]).unwrap(),
                    }
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..200u32)
        .map(|i| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for r in 0..20u32 {
                    let msg = format!("client {i} round {r};");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    done.store(true, Ordering::SeqCst);
}

#[test]
fn a_ult_waiting_to_read_is_blocked_in_weave_not_in_the_kernel() {
    let done = watchdog("blocked reader", 30);
    let (l, addr) = listener();
    let reader = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        b[0]
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let id = reader.thread().id();
    wait_until("the reader blocked on its socket", || {
        thread::threads()
            .iter()
            .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Net))
    });
    // Its LWP is free meanwhile: plenty of ULTs run to completion.
    let ran = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let ran = ran.clone();
            thread::spawn(move || {
                thread::yield_now();
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(ran.load(Ordering::SeqCst), 100);
    c.write_all(&[42]).unwrap();
    assert_eq!(reader.join().unwrap(), 42);
    done.store(true, Ordering::SeqCst);
}

#[test]
fn read_timeout_gives_timed_out_and_the_stream_stays_usable() {
    let done = watchdog("read timeout", 30);
    let (l, addr) = listener();
    let (timed_out_tx, timed_out) = weave::sync::mpmc::bounded::<()>(1);
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(30)));
        let t = Instant::now();
        let e = (&s).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(t.elapsed() >= Duration::from_millis(30));
        timed_out_tx.send(()).unwrap();
        // Data that comes later is still read.
        s.set_read_timeout(None).unwrap();
        let mut b = [0u8; 2];
        (&s).read_exact(&mut b).unwrap();
        b
    });
    let mut c = TcpStream::connect(addr).unwrap();
    timed_out.recv().unwrap();
    c.write_all(b"ok").unwrap();
    assert_eq!(&h.join().unwrap(), b"ok");
    done.store(true, Ordering::SeqCst);
}

#[test]
fn zero_timeouts_are_refused_as_in_std() {
    let (l, addr) = listener();
    let s = TcpStream::connect(addr).unwrap();
    let e = s.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    drop(l);
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let (l, addr) = listener();
    drop(l);
    let r = thread::spawn(move || TcpStream::connect(addr).map(drop))
        .join()
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn connect_timeout_times_out_on_a_full_backlog() {
    let done = watchdog("connect_timeout", 30);
    let (l, addr) = listener();
    // A backlog of 0 and nobody accepting: once the accept queue is full,
    // the kernel drops further SYNs and a connect hangs.
    // SAFETY: listen on our own listening socket just changes its backlog.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
    let mut held = Vec::new();
    let r = thread::spawn(move || {
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => held.push(s),
                Err(e) => return Some(e),
            }
        }
        None
    })
    .join()
    .unwrap();
    let e = r.expect("16 connections fit in a backlog of 0");
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
    drop(l);
    done.store(true, Ordering::SeqCst);
}

#[test]
fn accept_timeout_times_out() {
    let (l, _) = listener();
    let e = thread::spawn(move || l.accept_timeout(Duration::from_millis(20)).map(drop))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[test]
fn a_peer_reset_gives_connection_reset() {
    let done = watchdog("reset", 30);
    let (l, addr) = listener();
    let h = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 16];
        s.read(&mut buf)
    });
    let c = std::net::TcpStream::connect(addr).unwrap();
    // Linger 0: close sends RST instead of FIN.
    let lin = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid linger of the size given, on our socket.
    let rc = unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&lin as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(c);
    let e = h.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    done.store(true, Ordering::SeqCst);
}

#[test]
fn writing_to_a_closed_peer_fails_without_killing_the_process() {
    let done = watchdog("write to closed", 30);
    let (l, addr) = listener();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        drop(s);
    });
    let r = thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        h.join().unwrap();
        let chunk = [7u8; 4096];
        loop {
            if let Err(e) = c.write(&chunk) {
                return e;
            }
        }
    })
    .join()
    .unwrap();
    assert!(
        matches!(r.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "{r}"
    );
    done.store(true, Ordering::SeqCst);
}

#[test]
fn shutdown_write_ends_the_peers_reads() {
    let (l, addr) = listener();
    let h = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let c = thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"bye").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        c
    })
    .join()
    .unwrap();
    assert_eq!(h.join().unwrap(), b"bye");
    drop(c);
}

#[test]
fn peek_leaves_the_bytes_and_nodelay_round_trips() {
    let (l, addr) = listener();
    let h = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut p = [0u8; 5];
        let n = s.peek(&mut p).unwrap();
        let mut r = [0u8; 5];
        s.read_exact(&mut r).unwrap();
        (n, p, r)
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
    c.write_all(b"hello").unwrap();
    let (n, p, r) = h.join().unwrap();
    assert!(n >= 1);
    assert_eq!(&p[..n], &b"hello"[..n]);
    assert_eq!(&r, b"hello");
}

#[test]
fn a_clone_reads_while_the_original_writes() {
    let done = watchdog("full duplex", 30);
    let (l, addr) = listener();
    // Echo server.
    thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let (mut r, mut w) = (s.try_clone().unwrap(), s);
        std::io::copy(&mut r, &mut w).unwrap();
    });
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = c.try_clone().unwrap();
    // Clones share settings, as std's do.
    assert_eq!(r.read_timeout().unwrap(), Some(Duration::from_secs(20)));
    const N: usize = 1 << 20;
    let reader = thread::spawn(move || {
        let mut got = vec![0u8; N];
        r.read_exact(&mut got).unwrap();
        got
    });
    let writer = thread::spawn(move || {
        let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        (&c).write_all(&data).unwrap();
        data
    });
    let data = writer.join().unwrap();
    assert!(reader.join().unwrap() == data, "echoed bytes differ");
    done.store(true, Ordering::SeqCst);
}

#[test]
fn nonblocking_mode_returns_would_block() {
    let (l, addr) = listener();
    let c = TcpStream::connect(addr).unwrap();
    c.set_nonblocking(true).unwrap();
    let e = (&c).read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    l.set_nonblocking(true).unwrap();
    let _first = l.accept().unwrap();
    assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn conversions_from_and_to_std_and_raw_fds() {
    let (l, addr) = listener();
    // std -> weave: timeouts carry over, the fd turns non-blocking.
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let w = TcpStream::from(s);
    assert!(is_nonblocking(w.as_raw_fd()));
    // The kernel keeps timeouts in clock ticks: allow for its rounding.
    let t = w.read_timeout().unwrap().unwrap();
    assert!(
        t.abs_diff(Duration::from_millis(250)) <= Duration::from_millis(10),
        "{t:?}"
    );
    // weave -> std: blocking again, timeout set in the kernel.
    w.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let s: std::net::TcpStream = w.into();
    assert!(!is_nonblocking(s.as_raw_fd()));
    let t = s.read_timeout().unwrap().unwrap();
    assert!(
        t.abs_diff(Duration::from_millis(400)) <= Duration::from_millis(10),
        "{t:?}"
    );
    // Raw fds.
    let fd = TcpStream::from(s).into_raw_fd();
    assert!(!is_nonblocking(fd));
    // SAFETY: `fd` is the socket we just took out, owned by nobody else.
    let w = unsafe { TcpStream::from_raw_fd(fd) };
    assert!(is_nonblocking(fd));
    let owned: std::os::fd::OwnedFd = w.into();
    let w = TcpStream::from(owned);
    assert_eq!(w.peer_addr().unwrap(), addr);
    // A std socket in non-blocking mode keeps that mode for its user.
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nonblocking(true).unwrap();
    let w = TcpStream::from(s);
    let e = (&w).read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    let std_l: std::net::TcpListener = l.into();
    let l = TcpListener::from(std_l);
    assert_eq!(l.local_addr().unwrap(), addr);
}

#[test]
fn os_threads_use_the_same_sockets() {
    let done = watchdog("os threads", 30);
    // A plain OS thread serves, a ULT is the client, and the other way.
    let (l, addr) = listener();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let e = s.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        s.set_read_timeout(None).unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
    });
    let client = thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        thread::sleep(Duration::from_millis(60));
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).unwrap();
        b
    });
    assert_eq!(&client.join().unwrap(), b"ping");
    server.join().unwrap();
    done.store(true, Ordering::SeqCst);
}

#[test]
fn host_names_resolve_and_bad_addresses_give_errors() {
    let (l, addr) = listener();
    let port = addr.port();
    let c = thread::spawn(move || TcpStream::connect(("localhost", port)).map(drop))
        .join()
        .unwrap();
    // localhost may resolve to ::1 first; std then tries 127.0.0.1.
    c.unwrap();
    drop(l);
    let e = TcpListener::bind("not an address").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

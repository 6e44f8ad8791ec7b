//! `TcpListener::accept` with no fd left returns `EMFILE` to the caller, as
//! std's does (it used to back off and retry without end), and the
//! connection stays queued: once an fd is free, the next `accept` takes it.
//! A test binary of its own: it lowers the process's fd limit.

use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

use weave::net::TcpListener;
use weave::thread;

#[test]
fn accept_out_of_fds_returns_emfile_and_the_connection_waits() {
    // A watchdog: an accept that retries without end fails the test
    // instead of hanging it.
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        scenario();
        let _ = tx.send(());
    });
    if rx.recv_timeout(Duration::from_secs(60)) == Err(mpsc::RecvTimeoutError::Timeout) {
        panic!("accept out of fds did not return within 60 s");
    }
    h.join().unwrap();
}

fn scenario() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // Start the runtime (and its reactor) before the fds run out.
    thread::spawn(|| ()).join().unwrap();
    let _client = std::net::TcpStream::connect(addr).unwrap();
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
    let l = std::sync::Arc::new(l);
    let l2 = l.clone();
    let refused = thread::spawn(move || l2.accept().map(|(s, _)| s.as_raw_fd()))
        .join()
        .unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
    let e = refused.expect_err("accept out of fds returned a connection");
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    // The connection stayed queued: with fds back, it is taken.
    let peer = thread::spawn(move || l.accept().map(|(_, peer)| peer))
        .join()
        .unwrap()
        .unwrap();
    assert!(peer.ip().is_loopback());
}

//! `accept` with no fd left: it backs off and retries (sleeping, not
//! spinning) and takes the connection once an fd is free. A test binary of
//! its own: it lowers the process's fd limit.

use std::time::{Duration, Instant};

use weave::net::TcpListener;
use weave::thread::{self, BlockReason, ThreadState};

#[test]
fn accept_out_of_fds_backs_off_then_succeeds() {
    // A low limit, so that using every fd up is quick.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_cur.min(256);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // Start the runtime (and its reactor) before the fds run out.
    thread::spawn(|| ()).join().unwrap();
    let _client = std::net::TcpStream::connect(addr).unwrap();
    let mut fillers = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => fillers.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let acceptor = thread::spawn(move || l.accept().map(|(_, peer)| peer));
    let id = acceptor.thread().id();
    // The acceptor hits EMFILE and pauses: it sleeps between tries.
    let t = Instant::now();
    let mut sleeps = 0;
    while sleeps < 3 {
        let st = thread::threads()
            .into_iter()
            .find(|r| r.id == id)
            .map(|r| r.state);
        if st == Some(ThreadState::Blocked(BlockReason::Sleep)) {
            sleeps += 1;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the acceptor never backed off (state {st:?})"
        );
        std::thread::sleep(Duration::from_millis(3));
    }
    assert!(!acceptor.is_finished(), "accept returned while out of fds");
    // Free fds: the pending connection is taken.
    fillers.truncate(fillers.len().saturating_sub(8));
    let peer = acceptor.join().unwrap().unwrap();
    assert!(peer.ip().is_loopback());
}

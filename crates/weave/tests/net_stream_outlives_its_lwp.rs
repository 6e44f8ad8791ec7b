//! A socket registered by a ULT whose LWP has left (a bound thread's) is
//! moved to the epoll set of the next LWP that waits on it: that LWP then
//! collects its readiness, not the monitor's tick.

use std::io::{ErrorKind, Read, Write};
use std::sync::Mutex;
use std::time::Duration;
use weave::net::{TcpListener, TcpStream};
use weave::thread::{self, BlockReason, ThreadId, ThreadState};
use weave::trace::{self, Event};

static READY: Mutex<Vec<(ThreadId, Option<usize>)>> = Mutex::new(Vec::new());

fn hook(e: &Event) {
    if let Event::IoReady { ult, lwp } = e {
        READY.lock().unwrap().push((*ult, *lwp));
    }
}

#[test]
fn a_wait_after_the_registering_lwp_left_is_polled_by_the_waiters_lwp() {
    weave::set_concurrency(2).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    // A bound ULT registers the stream (a read that times out waited in
    // its LWP's set), then exits, and its LWP leaves.
    let registrar = thread::Builder::new()
        .bound()
        .spawn(move || {
            server
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let e = (&server).read(&mut [0u8; 1]).unwrap_err();
            assert!(matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut
            ));
            server.set_read_timeout(None).unwrap();
            (server, thread::current_lwp().unwrap())
        })
        .unwrap();
    let (server, gone) = registrar.join().unwrap();
    while weave::lwps().iter().any(|l| l.index == gone && l.alive) {
        std::thread::sleep(Duration::from_millis(1));
    }
    trace::set_hook(Some(hook));
    let reader = thread::spawn(move || {
        let lwp = thread::current_lwp().unwrap();
        let mut s: &TcpStream = &server;
        let mut buf = [0u8; 1];
        for round in 0..3u8 {
            s.read_exact(&mut buf).unwrap();
            assert_eq!(buf[0], round);
        }
        lwp
    });
    let id = reader.thread().id();
    for round in 0..3u8 {
        while !thread::threads()
            .iter()
            .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Net))
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        client.write_all(&[round]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let lwp = reader.join().unwrap();
    trace::set_hook(None);
    let ready = READY.lock().unwrap();
    let mine: Vec<Option<usize>> = ready
        .iter()
        .filter(|(u, _)| *u == id)
        .map(|(_, by)| *by)
        .collect();
    assert!(!mine.is_empty(), "the reader never waited");
    // Left in the set of the LWP that left, only the monitor's tick would
    // collect the stream's readiness (`None`).
    assert!(
        mine.contains(&Some(lwp)),
        "the reader's LWP {lwp} never collected its readiness: {mine:?}"
    );
}

//! A socket's readiness is collected by the LWP whose ULT waits for it
//! (each LWP polls an epoll set of its own), never by another LWP.

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;
use weave::net::{TcpListener, TcpStream};
use weave::thread::{self, BlockReason, ThreadId, ThreadState};
use weave::trace::{self, Event};

/// Every IoReady event: the ULT woken and the LWP that collected it.
static READY: Mutex<Vec<(ThreadId, Option<usize>)>> = Mutex::new(Vec::new());

fn hook(e: &Event) {
    if let Event::IoReady { ult, lwp } = e {
        READY.lock().unwrap().push((*ult, *lwp));
    }
}

fn blocked_on_net(id: ThreadId) -> bool {
    thread::threads()
        .iter()
        .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Net))
}

#[test]
fn readiness_is_collected_by_the_readers_own_lwp() {
    weave::set_concurrency(2).unwrap();
    trace::set_hook(Some(hook));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Bound readers: each on an LWP of its own, so that no two share a set
    // and a wake made by any other LWP would show.
    const READERS: usize = 4;
    let mut clients = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        clients.push(std::net::TcpStream::connect(addr).unwrap());
        let (server, _) = listener.accept().unwrap();
        readers.push(
            thread::Builder::new()
                .bound()
                .spawn(move || {
                    let me = (thread::current().id(), thread::current_lwp().unwrap());
                    let mut s: &TcpStream = &server;
                    let mut buf = [0u8; 8];
                    for round in 0..3u8 {
                        s.read_exact(&mut buf[..1]).unwrap();
                        assert_eq!(buf[0], round);
                        assert_eq!(thread::current_lwp(), Some(me.1));
                    }
                    me
                })
                .unwrap(),
        );
    }
    let ids: Vec<ThreadId> = readers.iter().map(|h| h.thread().id()).collect();
    for round in 0..3u8 {
        // Write only once every reader waits in the reactor, so that each
        // write ends a wait (and makes an IoReady event).
        for id in &ids {
            while !blocked_on_net(*id) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for c in &mut clients {
            c.write_all(&[round]).unwrap();
        }
        // The next round waits for the readers to block again; they may
        // still be running this one.
        std::thread::sleep(Duration::from_millis(5));
    }
    let lwps: Vec<(ThreadId, usize)> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    trace::set_hook(None);
    let ready = READY.lock().unwrap();
    let mut own = 0;
    for (id, lwp) in &lwps {
        for (ult, by) in ready.iter().filter(|(u, _)| u == id) {
            // `None`: the monitor's tick polled the set in its LWP's place,
            // which it may for an instant. Another LWP: never.
            assert!(
                by.is_none() || *by == Some(*lwp),
                "{ult:?} on LWP {lwp} was woken for io by LWP {by:?}"
            );
            own += usize::from(*by == Some(*lwp));
        }
    }
    assert!(own > 0, "no wake was collected by a reader's own LWP");
}

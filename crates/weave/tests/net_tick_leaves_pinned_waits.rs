//! A socket whose waiting ULT can run only on its own LWP is left to that
//! LWP's polls, even while the LWP is busy for many of the monitor's
//! ticks: the tick's poll would only move the wake onto another CPU, and
//! the ULT would run no sooner.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
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

fn state_of(id: ThreadId) -> Option<ThreadState> {
    thread::threads()
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.state)
}

#[test]
fn a_pinned_readers_event_waits_for_its_busy_lwp() {
    // One LWP: the reader and the busy ULT share it.
    weave::set_concurrency(1).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    trace::set_hook(Some(hook));
    // Bytes the reader has read: the next round's byte is written only
    // once it waits again.
    let read = Arc::new(AtomicU8::new(0));
    let reader_read = read.clone();
    let reader = thread::spawn(move || {
        let mut s: &TcpStream = &server;
        let mut buf = [0u8; 1];
        for round in 0..3u8 {
            s.read_exact(&mut buf).unwrap();
            assert_eq!(buf[0], round);
            reader_read.store(round + 1, SeqCst);
        }
        thread::current_lwp().unwrap()
    });
    let id = reader.thread().id();
    for round in 0..3u8 {
        while read.load(SeqCst) != round
            || state_of(id) != Some(ThreadState::Blocked(BlockReason::Net))
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The LWP is kept busy, without polling its set, for tens of the
        // monitor's 1 ms ticks while the byte is ready.
        let release = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicBool::new(false));
        let busy = {
            let (release, running) = (release.clone(), running.clone());
            thread::spawn(move || {
                let _guard = thread::disable_preemption();
                running.store(true, SeqCst);
                while !release.load(SeqCst) {
                    std::hint::spin_loop();
                }
            })
        };
        while !running.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        client.write_all(&[round]).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        release.store(true, SeqCst);
        busy.join().unwrap();
    }
    let lwp = reader.join().unwrap();
    trace::set_hook(None);
    let ready = READY.lock().unwrap();
    let mine: Vec<Option<usize>> = ready
        .iter()
        .filter(|(u, _)| *u == id)
        .map(|(_, by)| *by)
        .collect();
    assert_eq!(mine.len(), 3, "each round's byte ends one wait: {mine:?}");
    // The monitor's tick collecting it would show as `None`.
    assert!(
        mine.iter().all(|by| *by == Some(lwp)),
        "collected by another thread than the reader's LWP {lwp}: {mine:?}"
    );
}

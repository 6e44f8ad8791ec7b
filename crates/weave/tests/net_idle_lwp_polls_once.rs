//! An LWP that runs out of work soon after it last polled its epoll set
//! polls it once on its way to sleep: the sleep's own `epoll_wait`, which
//! returns at once when an event is in already (a poll without blocking
//! before its search for work came back empty most of the time and made
//! every sleep two calls). One that has not polled its set for a while
//! (it ran for long) polls it before it searches: its events are likely
//! in, and the search would delay them.
//!
//! Seen from the trace: an event that is ready when the LWP runs out of
//! work is collected after the LWP's `LwpIdle` (the sleep's poll) or
//! before it (a poll before the search).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weave::net::{TcpListener, TcpStream};
use weave::thread::{self, BlockReason, ThreadId, ThreadState};
use weave::trace::{self, Event};

/// The events of interest, in the order the LWP emitted them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Seen {
    Idle(usize),
    Busy(usize),
    Ready(ThreadId, Option<usize>),
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn hook(e: &Event) {
    let seen = match *e {
        Event::LwpIdle { lwp } => Seen::Idle(lwp),
        Event::LwpBusy { lwp } => Seen::Busy(lwp),
        Event::IoReady { ult, lwp } => Seen::Ready(ult, lwp),
        _ => return,
    };
    SEEN.lock().unwrap().push(seen);
}

fn state_of(id: ThreadId) -> Option<ThreadState> {
    thread::threads()
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.state)
}

const ROUNDS: u8 = 8;

/// For each round: a ULT on the reader's one LWP writes a byte for the
/// reader, then keeps the LWP busy for `busy_for` (zero: ends at once)
/// before it ends and the LWP runs out of work. Returns, for each wake of
/// the reader, whether its LWP was in its sleep (an `LwpIdle` with no
/// `LwpBusy` after it) when the byte was collected.
fn rounds(busy_for: Duration) -> Vec<bool> {
    // One LWP: the reader and the writer share it.
    weave::set_concurrency(1).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Arc::new(std::net::TcpStream::connect(addr).unwrap());
    let (server, _) = listener.accept().unwrap();
    SEEN.lock().unwrap().clear();
    trace::set_hook(Some(hook));
    let read = Arc::new(AtomicU8::new(0));
    let reader_read = read.clone();
    let reader = thread::spawn(move || {
        let mut s: &TcpStream = &server;
        let mut buf = [0u8; 1];
        for round in 0..ROUNDS {
            s.read_exact(&mut buf).unwrap();
            assert_eq!(buf[0], round);
            reader_read.store(round + 1, SeqCst);
        }
        thread::current_lwp().unwrap()
    });
    let id = reader.thread().id();
    for round in 0..ROUNDS {
        while read.load(SeqCst) != round
            || state_of(id) != Some(ThreadState::Blocked(BlockReason::Net))
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Written from the LWP itself, right after the spawn's wake ended
        // its sleep (and that sleep's poll): with `busy_for` zero, the LWP
        // runs out of work a few microseconds after its last poll, whatever
        // this thread's share of the host. One byte on loopback: the
        // blocking `write` returns at once.
        let client = client.clone();
        let writer = thread::spawn(move || {
            let _guard = thread::disable_preemption();
            (&*client).write_all(&[round]).unwrap();
            let start = Instant::now();
            while start.elapsed() < busy_for {
                std::hint::spin_loop();
            }
        });
        writer.join().unwrap();
    }
    let lwp = reader.join().unwrap();
    trace::set_hook(None);
    let seen = SEEN.lock().unwrap();
    let mut asleep = false;
    let mut by_sleep = Vec::new();
    for s in seen.iter() {
        match *s {
            Seen::Idle(l) if l == lwp => asleep = true,
            Seen::Busy(l) if l == lwp => asleep = false,
            Seen::Ready(u, by) if u == id => {
                assert_eq!(
                    by,
                    Some(lwp),
                    "collected by another thread than the reader's LWP"
                );
                by_sleep.push(asleep);
            }
            _ => {}
        }
    }
    assert_eq!(
        by_sleep.len(),
        usize::from(ROUNDS),
        "each round's byte ends one wait: {by_sleep:?}"
    );
    by_sleep
}

/// One test, as the rounds share the trace hook and the one LWP.
#[test]
fn an_idle_lwp_polls_before_its_search_only_after_long_without_a_poll() {
    // Out of work at once: the byte waits for the sleep's poll. The busy
    // LWP's poll every 64th pick may fall on the pick after the writer
    // ends, and a loaded host may take the LWP off its CPU past the
    // threshold: allow a few rounds of either. A poll before every search
    // collects the byte before the sleep in every round.
    let short = rounds(Duration::ZERO);
    let in_sleep = short.iter().filter(|&&s| s).count();
    assert!(
        2 * in_sleep >= short.len(),
        "only {in_sleep} of {ROUNDS} bytes collected by the LWP's sleep: {short:?}"
    );
    // Busy for 20 ms after the byte came, far past the threshold (1 ms):
    // the LWP collects it before its search. The sleep's poll alone would
    // collect it in every round.
    let long = rounds(Duration::from_millis(20));
    let before = long.iter().filter(|&&s| !s).count();
    assert_eq!(
        before,
        long.len(),
        "{before} of {ROUNDS} bytes collected before the LWP slept: {long:?}"
    );
}

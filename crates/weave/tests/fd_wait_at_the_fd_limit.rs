//! `weave::os::fd::wait` in a process that has no fd number left: the
//! wait cannot make the private copy it registers with the reactor, and
//! falls back to polling the fd between short sleeps; it still ends when
//! the fd becomes ready. (One test in this file: it lowers the process's
//! limit of open files.)

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use weave::os::fd::{self, Interest};
use weave::thread::{self, BlockReason, ThreadState};

#[test]
fn a_wait_with_no_fd_number_left_still_ends_when_the_fd_is_ready() {
    let (mut a, mut peer) = UnixStream::pair().unwrap();
    let number = a.as_raw_fd();
    // The runtime and the reactor exist before the numbers run out.
    peer.write_all(b"0").unwrap();
    let first = thread::spawn(move || fd::wait(number, Interest::Read, None).unwrap());
    assert!(first.join().unwrap());
    let mut byte = [0u8; 1];
    a.read_exact(&mut byte).unwrap();

    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-value.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let saved = lim;
    lim.rlim_cur = lim.rlim_cur.min(256);
    // SAFETY: a valid limit, lower than the one in force.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let mut fillers = Vec::new();
    // A number another thread of the process holds for a moment while the
    // numbers are taken comes free after: weave's monitor lists
    // `/proc/self/task` in its deadlock check, which runs when every LWP
    // has gone idle, as they do right after the joins of this test. Then
    // the wait registers a copy and waits in the reactor, which is not
    // the case under test. Such a try is ended and the numbers taken again.
    let mut tries = 0;
    let got = loop {
        tries += 1;
        take_every_number(number, &mut fillers);
        std::thread::sleep(Duration::from_millis(20));
        take_every_number(number, &mut fillers);
        let waiter =
            thread::spawn(move || fd::wait(number, Interest::Read, None).map_err(|e| e.kind()));
        let id = waiter.thread().id();
        let start = Instant::now();
        // The fallback waits in sleeps between polls.
        let state = loop {
            let state = thread::threads()
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.state);
            match state {
                Some(ThreadState::Blocked(BlockReason::Sleep)) => break state,
                Some(ThreadState::Blocked(BlockReason::Net)) => break state,
                _ if waiter.is_finished() => {
                    panic!("the waiter ended before it waited: {:?}", waiter.join())
                }
                _ => {}
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the waiter never waited; its state: {state:?}"
            );
            std::thread::yield_now();
        };
        peer.write_all(b"1").unwrap();
        let (tx, rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(waiter.join());
        });
        let got = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the wait did not end within a minute")
            .expect("the waiter panicked");
        if state == Some(ThreadState::Blocked(BlockReason::Net)) && tries < 10 {
            a.read_exact(&mut byte).unwrap();
            continue;
        }
        assert_eq!(
            state,
            Some(ThreadState::Blocked(BlockReason::Sleep)),
            "in {tries} tries, a number always came free for the wait's copy"
        );
        break got;
    };

    for c in fillers {
        // SAFETY: our own copies.
        unsafe { libc::close(c) };
    }
    // SAFETY: the limit read above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) };
    assert_eq!(got, Ok(true));
}

/// Duplicates `number` until the process has no fd number left, keeping the
/// copies in `fillers`.
fn take_every_number(number: i32, fillers: &mut Vec<i32>) {
    loop {
        // SAFETY: dup of our own open fd; the copies are closed by the test.
        let c = unsafe { libc::dup(number) };
        if c < 0 {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EMFILE)
            );
            return;
        }
        fillers.push(c);
    }
}

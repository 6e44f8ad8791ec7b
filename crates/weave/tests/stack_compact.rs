//! Compaction of long-idle stacks (`WEAVE_COMPACT`,
//! docs/design/compaction.md): a ULT parked past the threshold in a wait
//! of the list has its stack copied out and its pages released; it
//! resumes unaware, and another thread that touches its stack meanwhile
//! reads and writes the right bytes.
//!
//! A ULT knows it is compacted from outside: the page holding one of its
//! live locals is no longer resident (`mincore`, which looks without
//! touching). The trim period is 20 ms and the threshold 60 ms for this
//! binary (set before the runtime starts); waits are watchdogs, not
//! timings.
//!
//! No libtest harness: compaction asks for none while threads weave did
//! not start are running, and libtest runs each test on a thread of its
//! own. `main` runs the tests one after another on the main thread (an
//! argument runs only the tests whose names contain it).

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Once};
use std::time::Duration;

use weave::sync::mpmc;
use weave::thread as wt;

mod stack_common;
use stack_common::{deep, wait_until};

fn setup() -> bool {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("WEAVE_TRIM", "20ms");
        std::env::set_var("WEAVE_COMPACT", "60ms");
    });
    match weave::stack::compaction_support() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("compaction unsupported here, test skipped: {why}");
            false
        }
    }
}

/// Whether the page holding `addr` is resident. Never touches it.
fn resident(addr: usize) -> bool {
    let page = addr & !4095;
    let mut v = 0u8;
    // SAFETY: `page` is mapped (a ULT stack, never unmapped) and `v` has
    // room for the one page asked about.
    let rc = unsafe { libc::mincore(page as *mut _, 4096, &mut v) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    v & 1 != 0
}

/// A raw pointer into a parked ULT's frame, sent to another thread.
#[derive(Clone, Copy)]
struct FramePtr(*mut u64);
// SAFETY: the frame it points into outlives every use (its ULT waits for
// the test's go-ahead before it returns).
unsafe impl Send for FramePtr {}

fn pattern(i: usize) -> u64 {
    0xc0de_0000_0000 + i as u64 * 3
}

/// Spawns a ULT that fills 48 locals with `pattern`, then waits in a
/// channel receive; returns once it is compacted, with a pointer to its
/// locals, the sender that wakes it (with a number it gets), and its
/// handle. Woken, it returns `then` of the number and its locals.
fn compacted_receiver<R: Send + 'static>(
    then: impl FnOnce(u64, &[u64; 48]) -> R + Send + 'static,
) -> (FramePtr, mpmc::Sender<u64>, wt::JoinHandle<R>) {
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (go_tx, go_rx) = mpmc::bounded::<u64>(1);
    let h = wt::spawn(move || {
        let mut locals: [u64; 48] = std::array::from_fn(pattern);
        ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
        let got = go_rx.recv().unwrap();
        then(got, black_box(&locals))
    });
    let p = ptr_rx.recv().unwrap();
    wait_until("the receiver's compaction", || !resident(p.0 as usize));
    (p, go_tx, h)
}

fn a_ult_compacted_in_a_channel_receive_resumes_with_its_locals_intact() {
    if !setup() {
        return;
    }
    let (_, go_tx, h) =
        compacted_receiver(|got, locals| (0..48).all(|i| locals[i] == pattern(i)) && got == 7);
    go_tx.send(7).unwrap();
    assert!(h.join().unwrap(), "a local changed across the compaction");
}

fn a_pointer_into_a_compacted_stack_reads_right_from_another_thread() {
    if !setup() {
        return;
    }
    let (p, go_tx, h) = compacted_receiver(|_, locals| locals[0]);
    let reader = std::thread::spawn(move || {
        let p = p;
        (0..48)
            // SAFETY: the ULT is parked with `locals` live.
            .map(|i| unsafe { p.0.add(i).read_volatile() })
            .collect::<Vec<_>>()
    });
    let seen = reader.join().unwrap();
    assert_eq!(seen, (0..48).map(pattern).collect::<Vec<_>>());
    go_tx.send(0).unwrap();
    assert_eq!(h.join().unwrap(), pattern(0));
}

/// Woken, a receiver of `compacted_receiver` returns its first local.
fn first_local(_: u64, locals: &[u64; 48]) -> u64 {
    locals[0]
}

fn a_stack_kept_against_an_earlier_ones_shape_reads_right_from_another_thread() {
    if !setup() {
        return;
    }
    // Two ULTs parked in the same frames: the second is kept as its
    // differences from the first (the shape of its length). The first
    // resumes, then another thread reads the second's locals: the fault
    // puts them back from the shape the first left behind.
    let (_, go1, h1) = compacted_receiver(first_local);
    let (p, go2, h2) = compacted_receiver(first_local);
    go1.send(0).unwrap();
    assert_eq!(h1.join().unwrap(), pattern(0));
    assert!(!resident(p.0 as usize), "the second ULT was woken too");
    let reader = std::thread::spawn(move || {
        let p = p;
        (0..48)
            // SAFETY: the second ULT is parked with `locals` live.
            .map(|i| unsafe { p.0.add(i).read_volatile() })
            .collect::<Vec<_>>()
    });
    assert_eq!(
        reader.join().unwrap(),
        (0..48).map(pattern).collect::<Vec<_>>()
    );
    go2.send(0).unwrap();
    assert_eq!(h2.join().unwrap(), pattern(0));
}

fn a_write_into_a_compacted_stack_from_another_thread_is_seen_by_its_ult() {
    if !setup() {
        return;
    }
    let (p, go_tx, h) = compacted_receiver(|_, locals| *locals);
    std::thread::spawn(move || {
        let p = p;
        // SAFETY: the ULT is parked with `locals` live, and reads them
        // only after the go-ahead below (which orders this write first).
        unsafe { p.0.add(5).write_volatile(0x5eed) };
    })
    .join()
    .unwrap();
    go_tx.send(0).unwrap();
    let locals = h.join().unwrap();
    for (i, v) in locals.iter().enumerate() {
        let want = if i == 5 { 0x5eed } else { pattern(i) };
        assert_eq!(*v, want, "local {i}");
    }
}

fn a_deep_stack_trimmed_then_compacted_then_reused_runs_correctly() {
    if !setup() {
        return;
    }
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (go_tx, go_rx) = mpmc::bounded::<()>(1);
    let h = wt::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let first = deep(50, 3);
            let mut kept = [0x1234u64; 16];
            ptr_tx.send(FramePtr(kept.as_mut_ptr())).unwrap();
            go_rx.recv().unwrap();
            let again = deep(50, 3);
            (first, again, black_box(&kept)[15])
        })
        .unwrap();
    let p = ptr_rx.recv().unwrap();
    wait_until("the compaction", || !resident(p.0 as usize));
    go_tx.send(()).unwrap();
    let (first, again, kept) = h.join().unwrap();
    assert_eq!(first, again, "running deep after the compaction differed");
    assert_eq!(kept, 0x1234);
}

fn a_ult_sleeping_past_the_threshold_is_compacted_and_resumes() {
    if !setup() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let s = stop.clone();
    let h = wt::spawn(move || {
        let mut locals: [u64; 32] = std::array::from_fn(pattern);
        ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
        let mut intact = true;
        while !s.load(SeqCst) {
            wt::sleep(Duration::from_millis(300));
            let l = black_box(&locals);
            intact &= (0..32).all(|i| l[i] == pattern(i));
        }
        intact
    });
    let p = ptr_rx.recv().unwrap();
    wait_until("the sleeper's compaction", || !resident(p.0 as usize));
    stop.store(true, SeqCst);
    assert!(
        h.join().unwrap(),
        "a local changed across a compacted sleep"
    );
}

fn a_ult_waiting_on_a_socket_is_compacted_and_reads_after_resuming() {
    if !setup() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let h = wt::spawn(move || {
        let mut s = weave::net::TcpStream::connect(addr).unwrap();
        let mut locals: [u64; 32] = std::array::from_fn(pattern);
        ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        let l = black_box(&locals);
        (buf, (0..32).all(|i| l[i] == pattern(i)))
    });
    let (mut peer, _) = listener.accept().unwrap();
    let p = ptr_rx.recv().unwrap();
    wait_until("the reader's compaction", || !resident(p.0 as usize));
    peer.write_all(b"hello").unwrap();
    let (buf, intact) = h.join().unwrap();
    assert_eq!(&buf, b"hello");
    assert!(intact, "a local changed across a compacted socket wait");
}

fn a_ult_compacted_while_sending_delivers_its_value() {
    if !setup() {
        return;
    }
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (tx, rx) = mpmc::bounded::<[u64; 40]>(0);
    let h = wt::spawn(move || {
        let mut locals: [u64; 8] = std::array::from_fn(pattern);
        ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
        // A rendezvous: the value waits in this ULT's frame until taken.
        tx.send(std::array::from_fn(|i| pattern(i + 100))).unwrap();
        *black_box(&locals)
    });
    let p = ptr_rx.recv().unwrap();
    wait_until("the sender's compaction", || !resident(p.0 as usize));
    // Taken from an OS thread: it reads the value out of the compacted
    // stack.
    let got = std::thread::spawn(move || rx.recv().unwrap())
        .join()
        .unwrap();
    assert_eq!(got, std::array::from_fn(|i| pattern(i + 100)));
    assert_eq!(h.join().unwrap(), std::array::from_fn(pattern));
}

fn a_ult_compacted_in_select_takes_the_value_sent_after() {
    if !setup() {
        return;
    }
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (_tx1, rx1) = mpmc::bounded::<u64>(0);
    let (tx2, rx2) = mpmc::bounded::<u64>(0);
    let h = wt::spawn(move || {
        let mut locals: [u64; 16] = std::array::from_fn(pattern);
        ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
        let got = mpmc::select! {
            recv(rx1) -> _m => unreachable!("nobody sends on rx1"),
            recv(rx2) -> m => m.unwrap(),
        };
        (got, *black_box(&locals))
    });
    let p = ptr_rx.recv().unwrap();
    wait_until("the selecting ULT's compaction", || !resident(p.0 as usize));
    // From an OS thread: it hands the value into the compacted stack.
    std::thread::spawn(move || tx2.send(41).unwrap())
        .join()
        .unwrap();
    let (got, locals) = h.join().unwrap();
    assert_eq!(got, 41);
    assert_eq!(locals, std::array::from_fn(pattern));
}

fn a_wait_not_on_the_list_is_never_compacted() {
    if !setup() {
        return;
    }
    // One ULT parks (`park` is not on the list); a second, started once
    // the first is parked, waits on a channel. When the second has been
    // compacted, the first has been parked longer than the threshold too.
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(2);
    let ptr_tx2 = ptr_tx.clone();
    let parked = wt::spawn(move || {
        let mut locals: [u64; 16] = std::array::from_fn(pattern);
        ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
        while black_box(&locals)[1] != 0 {
            wt::park();
        }
    });
    let pp = ptr_rx.recv().unwrap();
    let id = parked.thread().id();
    wait_until("the first ULT to park", || {
        wt::threads()
            .iter()
            .any(|t| t.id == id && t.state == wt::ThreadState::Blocked(wt::BlockReason::Park))
    });
    let (go_tx, go_rx) = mpmc::bounded::<()>(1);
    let listed = wt::spawn(move || {
        let mut locals: [u64; 16] = std::array::from_fn(pattern);
        ptr_tx2.send(FramePtr(locals.as_mut_ptr())).unwrap();
        go_rx.recv().unwrap();
        black_box(&locals)[0]
    });
    let lp = ptr_rx.recv().unwrap();
    wait_until("the listed ULT's compaction", || !resident(lp.0 as usize));
    assert!(
        resident(pp.0 as usize),
        "a ULT parked in `park` past the threshold was compacted"
    );
    go_tx.send(()).unwrap();
    listed.join().unwrap();
    // SAFETY: the first ULT is parked with `locals` live; it reads them
    // only after the unpark below.
    unsafe { pp.0.add(1).write_volatile(0) };
    parked.thread().unpark();
    parked.join().unwrap();
}

fn ults_woken_and_written_to_around_compactions_lose_nothing() {
    if !setup() {
        return;
    }
    // Each ULT parks on its own channel with a frame full of a pattern and
    // one cell that the test writes from an OS thread before waking it.
    // Some rounds wait until compactions happened, others write and wake at
    // once, racing the monitor's requests and the LWPs' compactions (a
    // write inside a compaction's copy window must fault, not be lost).
    const ULTS: usize = 24;
    const ROUNDS: u64 = 8;
    let (ready_tx, ready_rx) = mpmc::unbounded::<(usize, FramePtr)>();
    let mut wakers = Vec::new();
    let mut handles = Vec::new();
    for u in 0..ULTS {
        let (wake_tx, wake_rx) = mpmc::bounded::<()>(1);
        wakers.push(wake_tx);
        let ready_tx = ready_tx.clone();
        handles.push(wt::spawn(move || {
            let mut bad = 0;
            for r in 0..ROUNDS {
                let seed = (u as u64) << 32 | r;
                let mut frame: [u64; 64] = std::array::from_fn(|i| seed ^ pattern(i));
                ready_tx.send((u, FramePtr(frame.as_mut_ptr()))).unwrap();
                wake_rx.recv().unwrap();
                let f = black_box(&frame);
                for (i, v) in f.iter().enumerate() {
                    let want = if i == 63 { !seed } else { seed ^ pattern(i) };
                    if *v != want {
                        bad += 1;
                    }
                }
            }
            bad
        }));
    }
    for r in 0..ROUNDS {
        let mut ptrs = Vec::new();
        for _ in 0..ULTS {
            ptrs.push(ready_rx.recv().unwrap());
        }
        if r % 2 == 0 {
            let before = weave::stack_stats().compactions;
            wait_until("a compaction", || weave::stack_stats().compactions > before);
        }
        std::thread::spawn(move || {
            for (u, p) in ptrs {
                // SAFETY: ULT `u` is parked (or about to park) in its
                // receive with `frame` live; it reads the frame only after
                // its wake, below, which this write happens before.
                unsafe { p.0.add(63).write_volatile(!((u as u64) << 32 | r)) };
            }
        })
        .join()
        .unwrap();
        for w in &wakers {
            w.send(()).unwrap();
        }
    }
    for (u, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), 0, "ULT {u} saw a changed word");
    }
}

/// The read end of a pipe with `msg` written into it.
fn pipe_with(msg: &[u8]) -> std::fs::File {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both are fresh descriptors this test owns from here on.
    let (r, mut w) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    w.write_all(msg).unwrap();
    r
}

fn a_ult_owning_a_weave_scope_is_not_compacted_and_its_child_reads_into_its_stack() {
    if !setup() {
        return;
    }
    // The parent waits in a channel receive past the threshold inside a
    // scope whose child (a ULT) then reads a pipe into a buffer on the
    // parent's stack: on a compacted stack the kernel would fail the read
    // with EFAULT.
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (go_tx, go_rx) = mpmc::bounded::<()>(1);
    let (done_tx, done_rx) = mpmc::bounded::<std::io::Result<usize>>(1);
    let pipe = pipe_with(b"read into the parent's stack");
    let parent = wt::spawn(move || {
        let mut buf = [0u8; 64];
        let mut pipe = pipe;
        wt::scope(|s| {
            let buf = &mut buf;
            ptr_tx.send(FramePtr(buf.as_mut_ptr().cast())).unwrap();
            s.spawn(move || {
                go_rx.recv().unwrap();
                done_tx.send(pipe.read(buf)).unwrap();
            });
            // The parent's own wait, on the list of compactable waits.
            done_rx.recv().unwrap()
        })
        .map(|n| buf[..n].to_vec())
    });
    let p = ptr_rx.recv().unwrap();
    let before = weave::stack_stats().compactions_held_for_scopes;
    wait_until("a compaction held back for the scope", || {
        weave::stack_stats().compactions_held_for_scopes > before
    });
    assert!(resident(p.0 as usize), "the scope's owner was compacted");
    go_tx.send(()).unwrap();
    let got = parent
        .join()
        .unwrap()
        .expect("the child's read into the parent's stack");
    assert_eq!(got, b"read into the parent's stack");
}

fn a_ult_lending_its_stack_to_an_os_thread_is_compacted_only_after_that_thread_ends() {
    if !setup() {
        return;
    }
    // The parent, in a `std::thread::scope`, waits in a channel receive
    // while its child (an OS thread weave did not start) holds a borrow of
    // its buffer and, later, reads a pipe into it. Not compacted while
    // the child lives; compacted once it has ended.
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (go_tx, go_rx) = mpmc::bounded::<()>(1);
    let (read_tx, read_rx) = mpmc::bounded::<std::io::Result<usize>>(1);
    let (end_tx, end_rx) = mpmc::bounded::<()>(1);
    let pipe = pipe_with(b"an OS thread read this");
    let parent = wt::spawn(move || {
        let mut buf = [0u8; 64];
        let mut pipe = pipe;
        let n = std::thread::scope(|s| {
            let buf = &mut buf;
            ptr_tx.send(FramePtr(buf.as_mut_ptr().cast())).unwrap();
            s.spawn(move || {
                go_rx.recv().unwrap();
                read_tx.send(pipe.read(buf)).unwrap();
            });
            // A wait on the list while the child lives.
            read_rx.recv().unwrap()
        });
        let got = n.map(|n| buf[..n].to_vec());
        // A wait on the list after the child has ended, with the buffer's
        // page live.
        end_rx.recv().unwrap();
        (got, black_box(&buf)[0])
    });
    let p = ptr_rx.recv().unwrap();
    let before = weave::stack_stats().compactions_held_for_threads;
    wait_until("a compaction held back for the OS thread", || {
        weave::stack_stats().compactions_held_for_threads > before + 1
    });
    assert!(
        resident(p.0 as usize),
        "compacted while an OS thread borrowed its stack"
    );
    go_tx.send(()).unwrap();
    // The child has read and ended (the scope joined it); the parent waits
    // again, and is compacted once a pass finds no foreign thread.
    wait_until("the parent's compaction after its child ended", || {
        !resident(p.0 as usize)
    });
    end_tx.send(()).unwrap();
    let (got, first) = parent.join().unwrap();
    assert_eq!(
        got.expect("the OS thread's read"),
        b"an OS thread read this"
    );
    assert_eq!(first, b'a');
}

/// The function whose frame the dump of a compacted ULT must show: it
/// fills locals (whose page the test watches) and waits in a channel
/// receive.
#[inline(never)]
fn receives_here_while_compacted(
    ptr_tx: mpmc::Sender<FramePtr>,
    go_rx: mpmc::Receiver<u64>,
) -> u64 {
    let mut locals: [u64; 48] = std::array::from_fn(pattern);
    ptr_tx.send(FramePtr(locals.as_mut_ptr())).unwrap();
    let got = go_rx.recv().unwrap();
    black_box(&locals)[0] + got
}

fn a_dump_shows_a_compacted_ults_stack_and_leaves_it_compacted() {
    if !setup() {
        return;
    }
    let (ptr_tx, ptr_rx) = mpmc::bounded::<FramePtr>(1);
    let (go_tx, go_rx) = mpmc::bounded::<u64>(1);
    let h = wt::Builder::new()
        .name("compacted-receiver".into())
        .spawn(move || receives_here_while_compacted(ptr_tx, go_rx))
        .unwrap();
    let p = ptr_rx.recv().unwrap();
    wait_until("the receiver's compaction", || !resident(p.0 as usize));
    let d = weave::dump();
    // The frames came from the compaction record, not from the pages: the
    // dump did not put the stack back.
    let still_compacted = !resident(p.0 as usize);
    go_tx.send(1).unwrap();
    assert_eq!(h.join().unwrap(), pattern(0) + 1);
    let t = d
        .threads
        .iter()
        .find(|t| t.name.as_deref() == Some("compacted-receiver"))
        .expect("the compacted thread is in the dump");
    let names: Vec<&str> = t
        .stack
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("stack_compact::receives_here_while_compacted")),
        "{d}"
    );
    assert!(still_compacted, "the dump restored the compacted stack");
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let tests: [(&str, fn()); 14] = [
        (
            "a_ult_compacted_in_a_channel_receive_resumes_with_its_locals_intact",
            a_ult_compacted_in_a_channel_receive_resumes_with_its_locals_intact,
        ),
        (
            "a_pointer_into_a_compacted_stack_reads_right_from_another_thread",
            a_pointer_into_a_compacted_stack_reads_right_from_another_thread,
        ),
        (
            "a_stack_kept_against_an_earlier_ones_shape_reads_right_from_another_thread",
            a_stack_kept_against_an_earlier_ones_shape_reads_right_from_another_thread,
        ),
        (
            "a_write_into_a_compacted_stack_from_another_thread_is_seen_by_its_ult",
            a_write_into_a_compacted_stack_from_another_thread_is_seen_by_its_ult,
        ),
        (
            "a_deep_stack_trimmed_then_compacted_then_reused_runs_correctly",
            a_deep_stack_trimmed_then_compacted_then_reused_runs_correctly,
        ),
        (
            "a_ult_sleeping_past_the_threshold_is_compacted_and_resumes",
            a_ult_sleeping_past_the_threshold_is_compacted_and_resumes,
        ),
        (
            "a_ult_waiting_on_a_socket_is_compacted_and_reads_after_resuming",
            a_ult_waiting_on_a_socket_is_compacted_and_reads_after_resuming,
        ),
        (
            "a_ult_compacted_while_sending_delivers_its_value",
            a_ult_compacted_while_sending_delivers_its_value,
        ),
        (
            "a_ult_compacted_in_select_takes_the_value_sent_after",
            a_ult_compacted_in_select_takes_the_value_sent_after,
        ),
        (
            "a_wait_not_on_the_list_is_never_compacted",
            a_wait_not_on_the_list_is_never_compacted,
        ),
        (
            "ults_woken_and_written_to_around_compactions_lose_nothing",
            ults_woken_and_written_to_around_compactions_lose_nothing,
        ),
        (
            "a_dump_shows_a_compacted_ults_stack_and_leaves_it_compacted",
            a_dump_shows_a_compacted_ults_stack_and_leaves_it_compacted,
        ),
        (
            "a_ult_owning_a_weave_scope_is_not_compacted_and_its_child_reads_into_its_stack",
            a_ult_owning_a_weave_scope_is_not_compacted_and_its_child_reads_into_its_stack,
        ),
        (
            "a_ult_lending_its_stack_to_an_os_thread_is_compacted_only_after_that_thread_ends",
            a_ult_lending_its_stack_to_an_os_thread_is_compacted_only_after_that_thread_ends,
        ),
    ];
    let mut ran = 0;
    for (name, test) in tests {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        // A failure panics: the process fails with its message.
        test();
        ran += 1;
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {ran} passed; 0 failed");
}

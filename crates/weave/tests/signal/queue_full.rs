//! The kernel's queue of pending signals is full (`RLIMIT_SIGPENDING`):
//! when nobody takes a process-directed signal, weave cannot raise it
//! again to the process, and keeps it itself. It is still delivered, once,
//! to a ULT that takes it when one unblocks it. A standard signal weave
//! sends on to another thread keeps its siginfo, although the kernel
//! queues it without.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};

use crate::signal_common::wait_until;
use weave::signal::{self, How, Route, SigInfo, SigSet};
use weave::thread;

/// ULTs that block the signal, then unblock it.
const ULTS: usize = 4;
/// The child's `RLIMIT_SIGPENDING`.
const LIMIT: u64 = 4;
/// The value of the last signal, sent once the queue has room again.
const MARKER: usize = 0x5eed;

/// Bit `sig - 1` of a hex mask line of `/proc/self/task/*/status`.
fn has(line: &str, sig: i32) -> bool {
    let hex = line.split_whitespace().nth(1).expect("a mask");
    u64::from_str_radix(hex, 16).expect("hex") & 1 << (sig - 1) != 0
}

/// Whether `sig` is pending for the process, and whether every thread of
/// the process blocks it in its kernel mask.
fn kernel_state(sig: i32) -> (bool, bool) {
    let mut pending = false;
    let mut all_block = true;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(status) = std::fs::read_to_string(task.unwrap().path().join("status")) else {
            continue; // The thread exited meanwhile.
        };
        for line in status.lines() {
            if line.starts_with("ShdPnd:") && has(line, sig) {
                pending = true;
            }
            if line.starts_with("SigBlk:") && !has(line, sig) {
                all_block = false;
            }
        }
    }
    (pending, all_block)
}

/// Queues `sig` with `value` on the calling OS thread
/// (`rt_tgsigqueueinfo`); false if the kernel refused (`EAGAIN`).
fn queue_on_me(sig: i32, value: usize) -> bool {
    // SAFETY: a zeroed siginfo_t is valid plain data; the fields set below
    // are those of a SI_QUEUE siginfo.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    si.si_signo = sig;
    si.si_code = libc::SI_QUEUE;
    // SAFETY: getpid/gettid have no preconditions; pid, uid and value sit
    // at bytes 16, 20 and 24 of a SI_QUEUE siginfo.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    // SAFETY: as above, writes inside the 128-byte siginfo.
    unsafe {
        let p = &mut si as *mut libc::siginfo_t as *mut u8;
        *(p.add(16) as *mut i32) = pid;
        *(p.add(20) as *mut u32) = libc::getuid();
        *(p.add(24) as *mut usize) = value;
    }
    // SAFETY: a valid siginfo, to a thread of our own process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid,
            sig,
            &si as *const libc::siginfo_t,
        )
    };
    if rc != 0 {
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN)
        );
    }
    rc == 0
}

/// Lowers `RLIMIT_SIGPENDING` to [`LIMIT`] and fills the queue: `filler`
/// values wait on this thread, which blocks it. Returns the old limit.
fn limit_and_fill(filler: i32) -> libc::rlimit {
    // SAFETY: a zeroed rlimit is a valid out-value.
    let mut old: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut old) };
    assert_eq!(rc, 0);
    let limit = libc::rlimit {
        rlim_cur: LIMIT,
        rlim_max: old.rlim_max,
    };
    // SAFETY: a valid rlimit; lowering a limit is always allowed.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &limit) };
    assert_eq!(rc, 0);
    let mut filled = 0;
    while queue_on_me(filler, filled) {
        filled += 1;
        assert!(filled <= 64, "RLIMIT_SIGPENDING did not limit the queue");
    }
    old
}

#[test]
fn signals_nobody_takes_while_the_kernel_queue_is_full_are_delivered_once_on_unblock() {
    let name = "signals_nobody_takes_while_the_kernel_queue_is_full_are_delivered_once_on_unblock";
    if !in_child!(name) {
        return;
    }
    let sig = signal::sigrtmin() + 3;
    let filler = signal::sigrtmin() + 6;
    let set = SigSet::of(&[sig]);
    let got: Arc<StdMutex<Vec<SigInfo>>> = Arc::new(StdMutex::new(Vec::new()));
    let g = got.clone();
    signal::handle(sig, move |i| g.lock().unwrap().push(*i)).unwrap();
    // This OS thread blocks both; the ULTs it spawns inherit `sig` blocked.
    signal::mask(How::Block, &set);
    let fill = SigSet::of(&[filler]).to_sigset_t();
    // SAFETY: blocking a valid set on the calling thread.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &fill, std::ptr::null_mut()) };

    let go = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let ults: Vec<_> = (0..ULTS)
        .map(|_| {
            let (go, stop) = (go.clone(), stop.clone());
            thread::spawn(move || {
                while !go.load(SeqCst) {
                    thread::yield_now();
                }
                signal::mask(How::Unblock, &set);
                while !stop.load(SeqCst) {
                    thread::yield_now();
                }
            })
        })
        .collect();
    let ids: Vec<_> = ults.iter().map(|h| h.thread().id()).collect();

    let old = limit_and_fill(filler);

    // `kill` still gets through (with its siginfo), but weave's raise
    // again (case 4, `rt_sigqueueinfo`) is refused. Send until every
    // thread blocks it in its kernel mask (the last may wait there), at
    // least once: a thread just made may block every signal until it
    // first runs, and an LWP keeps the mask it inherited until it goes
    // idle.
    let mut sent = 0;
    loop {
        let (pending, all_block) = kernel_state(sig);
        if all_block && sent > 0 {
            break;
        }
        if !pending {
            // SAFETY: kill to our own process.
            assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
            sent += 1;
            assert!(sent <= 256, "some thread never blocked the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(sent > 0);
    assert!(got.lock().unwrap().is_empty(), "every ULT blocks it");

    go.store(true, SeqCst);
    wait_until(|| got.lock().unwrap().len() >= sent);

    // Room again: a last signal, after the others in the signal's lane.
    // SAFETY: a valid rlimit, back to what it was.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &old) }, 0);
    // SAFETY: a zeroed siginfo_t is a valid out-value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: takes the blocked `filler` values pending on this thread.
    while unsafe { libc::sigtimedwait(&fill, &mut info, &ts) } == filler {}
    crate::signal_common::sigqueue_self(sig, MARKER);
    wait_until(|| got.lock().unwrap().iter().any(|i| i.value == MARKER));
    stop.store(true, SeqCst);
    for h in ults {
        h.join().unwrap();
    }

    let got = got.lock().unwrap();
    assert_eq!(got.len(), sent + 1, "each signal once: {got:?}");
    for i in got.iter() {
        assert!(
            matches!(
                i.route,
                Route::Running | Route::Switched | Route::Directed | Route::Unblocked
            ),
            "{i:?}"
        );
        assert!(i.target.is_some_and(|t| ids.contains(&t)), "{i:?}");
    }
}

/// Rounds of the standard-signal test: enough that the kernel picks a
/// thread that does not take the signal (weave then sends it on) many
/// times.
const ROUNDS: usize = 60;

#[test]
fn standard_signals_sent_on_while_the_kernel_queue_is_full_keep_their_siginfo_and_free_their_slot()
{
    let name = "standard_signals_sent_on_while_the_kernel_queue_is_full_keep_their_siginfo_and_free_their_slot";
    if !in_child!(name) {
        return;
    }
    let sig = libc::SIGUSR1;
    let filler = signal::sigrtmin() + 6;
    let got: Arc<StdMutex<Vec<SigInfo>>> = Arc::new(StdMutex::new(Vec::new()));
    let g = got.clone();
    signal::handle(sig, move |i| g.lock().unwrap().push(*i)).unwrap();
    // Only a bound ULT takes it: the kernel's other picks (idle LWPs, the
    // watchdog thread) make weave send it on there (case 3).
    signal::mask(How::Block, &SigSet::of(&[sig]));
    let stop = Arc::new(AtomicBool::new(false));
    let (h, _) = crate::signal_common::bound_spinner(How::Unblock, SigSet::of(&[sig]), &stop);
    let fill = SigSet::of(&[filler]).to_sigset_t();
    // SAFETY: blocking a valid set on the calling thread.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &fill, std::ptr::null_mut()) };
    limit_and_fill(filler);

    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    for n in 1..=ROUNDS {
        // `kill` gets through a full queue (with its siginfo); weave's send
        // on (`rt_tgsigqueueinfo`) is queued without it.
        // SAFETY: kill to our own process.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
        wait_until(|| got.lock().unwrap().len() >= n);
    }
    stop.store(true, SeqCst);
    h.join().unwrap();
    let got = got.lock().unwrap();
    assert_eq!(got.len(), ROUNDS, "one at a time: none merged");
    assert!(
        got.iter().any(|i| i.route == Route::Directed),
        "the kernel never picked another thread: {got:?}"
    );
    for i in got.iter() {
        assert_eq!((i.pid, i.code), (pid, libc::SI_USER), "{i:?}");
    }
    assert_eq!(signal::stashed_in_flight(), 0, "every stash slot is free");
}

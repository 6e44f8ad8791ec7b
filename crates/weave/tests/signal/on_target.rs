//! `handle_on_target`: the handler runs on the ULT that took the signal, at
//! its next safe point, with the signal blocked while it runs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use crate::signal_common::{
    blocked_by_every_thread, lwp_tid, pending_here, tgkill, wait_blocked, wait_for, wait_until,
};
use weave::signal::{self, How, Route, SigInfo, SigSet};
use weave::thread::{self, ThreadId};

const SIG: i32 = libc::SIGUSR1;

/// What the handler saw: the thread it ran on, the signal, and whether the
/// signal was blocked in that thread's mask meanwhile.
type Seen = Arc<StdMutex<Vec<(ThreadId, SigInfo, bool)>>>;

fn record() -> Seen {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    signal::handle_on_target(SIG, move |i| {
        let blocked = signal::current_mask().contains(SIG);
        s.lock()
            .unwrap()
            .push((thread::current().id(), *i, blocked));
    })
    .unwrap();
    seen
}

/// A bound ULT that does not block SIG and passes safe points (it yields)
/// until `stop`, and its LWP's index once it runs. It returns its id and
/// whether SIG was blocked in its mask at the end.
fn bound_yielder(stop: &Arc<AtomicBool>) -> (thread::JoinHandle<(ThreadId, bool)>, usize) {
    let started = Arc::new(AtomicBool::new(false));
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (s, st, l) = (started.clone(), stop.clone(), lwp.clone());
    let a = thread::Builder::new()
        .bound()
        .spawn(move || {
            signal::mask(How::Unblock, &SigSet::of(&[SIG]));
            l.store(thread::current_lwp().unwrap(), SeqCst);
            s.store(true, SeqCst);
            while !st.load(SeqCst) {
                thread::yield_now();
            }
            (thread::current().id(), signal::current_mask().contains(SIG))
        })
        .unwrap();
    wait_for(&started);
    (a, lwp.load(SeqCst))
}

#[test]
fn process_signal_handler_runs_on_the_ult_that_took_it() {
    if !in_child!("process_signal_handler_runs_on_the_ult_that_took_it") {
        return;
    }
    let seen = record();
    signal::mask(How::Block, &SigSet::of(&[SIG]));
    let stop = Arc::new(AtomicBool::new(false));
    let (a, lwp) = bound_yielder(&stop);
    tgkill(lwp_tid(lwp), SIG);
    wait_until(|| !seen.lock().unwrap().is_empty());
    stop.store(true, SeqCst);
    let (a_id, blocked_after) = a.join().unwrap();
    let (ran_on, info, blocked) = seen.lock().unwrap()[0];
    assert_eq!(ran_on, a_id, "the handler ran on the target");
    assert_eq!(info.target, Some(a_id));
    assert!(
        matches!(info.route, Route::Running | Route::Switched),
        "{:?}",
        info.route
    );
    assert!(blocked, "the signal was blocked while its handler ran");
    assert!(!blocked_after, "and unblocked again afterwards");
}

#[test]
fn kill_runs_the_handler_on_a_sleeping_ult_which_sleeps_on() {
    if !in_child!("kill_runs_the_handler_on_a_sleeping_ult_which_sleeps_on") {
        return;
    }
    let seen = record();
    let t = thread::spawn(|| {
        let start = Instant::now();
        thread::sleep(Duration::from_millis(200));
        start.elapsed()
    });
    let id = t.thread().id();
    wait_blocked(id);
    t.thread().kill(SIG).unwrap();
    wait_until(|| !seen.lock().unwrap().is_empty());
    let slept = t.join().unwrap();
    let (ran_on, info, blocked) = seen.lock().unwrap()[0];
    assert_eq!(
        (ran_on, info.target, info.route),
        (id, Some(id), Route::Thread)
    );
    assert!(blocked);
    assert!(slept >= Duration::from_millis(200), "slept on: {slept:?}");
}

/// A second signal that comes while the first one's handler runs on its
/// target (SIG blocked there meanwhile), and that every other thread
/// blocks, waits in the kernel (case 4); when the handler returns and the
/// target's mask opens again, it is let in and the handler runs again on
/// the target, as POSIX's return from a handler lets in what became
/// pending while it ran.
#[test]
fn a_signal_that_came_while_the_handler_ran_runs_it_again_after() {
    if !in_child!("a_signal_that_came_while_the_handler_ran_runs_it_again_after") {
        return;
    }
    let ran: Arc<StdMutex<Vec<ThreadId>>> = Arc::default();
    let r = ran.clone();
    signal::handle_on_target(SIG, move |_| {
        let first = {
            let mut ran = r.lock().unwrap();
            ran.push(thread::current().id());
            ran.len() == 1
        };
        if first {
            // SAFETY: kill to our own process.
            unsafe { libc::kill(libc::getpid(), SIG) };
            // Nobody can take it now: this ULT runs the handler with SIG
            // blocked, every other thread blocks it.
            wait_until(|| pending_here(SIG) && blocked_by_every_thread(SIG));
        }
    })
    .unwrap();
    signal::mask(How::Block, &SigSet::of(&[SIG]));
    let stop = Arc::new(AtomicBool::new(false));
    let (a, lwp) = bound_yielder(&stop);
    tgkill(lwp_tid(lwp), SIG);
    wait_until(|| ran.lock().unwrap().len() == 2);
    stop.store(true, SeqCst);
    let (a_id, _) = a.join().unwrap();
    assert_eq!(*ran.lock().unwrap(), [a_id, a_id], "both ran on the target");
}

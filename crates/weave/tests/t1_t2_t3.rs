//! The lecture's T1/T2/T3 scenario (seeds, section 15, "Issues on Multiple
//! CPUs"): with two LWPs, T2 (middle priority) holds a mutex on one LWP, T3
//! (highest) waits for it, and T1 (lowest) runs on the other LWP. When T2
//! unlocks, T3 becomes runnable and T1, on the *other* LWP, must be asked to
//! switch: the library, running in T2's context, cannot touch the other
//! LWP's registers, so it raises that LWP's `preempt` flag and T1 gives
//! way at its next safe point.
//!
//! A ULT stays on the LWP where it first ran, so the test arranges the
//! placement: T3 and T1 on one LWP ("A"), T2 on the other ("B"). Waking T3
//! then means preempting T1 on A from B. Each candidate ULT reports where
//! it first ran; one on the wrong LWP keeps that LWP busy while another
//! candidate is spawned, which then lands on the other LWP.
//!
//! Time slices are turned off for the test: otherwise the monitor would
//! ask T1 to switch every 10 ms anyway, and T3 would get in without the
//! cross-LWP request this test is about.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use weave::sync::Mutex;
use weave::thread::{self, BlockReason, Builder, ThreadId, ThreadState};
use weave::trace::{self, Event};

const T1_PRIORITY: u8 = 4;
const T2_PRIORITY: u8 = 16;
const T3_PRIORITY: u8 = 28;

/// How often a candidate may land on the wrong LWP before the test gives
/// up: with two LWPs each try is about a coin toss.
const PLACEMENT_TRIES: usize = 200;

/// How long the test waits for a step that should take microseconds before
/// it fails instead of hanging. Only a liveness bound: no assertion is
/// about how long anything took.
const STUCK: Duration = Duration::from_secs(30);

/// LWP A's index, for the hook; `usize::MAX` until it is known.
static LWP_A: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Preemption requests addressed to LWP A.
static PREEMPTS_OF_A: AtomicU64 = AtomicU64::new(0);

/// Counts the requests to switch that reach LWP A. It runs in the middle
/// of switches: atomics only.
fn count_preempts(e: &Event) {
    if let Event::Preempt { lwp } = *e {
        if lwp == LWP_A.load(Relaxed) {
            PREEMPTS_OF_A.fetch_add(1, Relaxed);
        }
    }
}

/// Puts the runtime back as the test found it, on every path.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        trace::set_hook(None);
        weave::set_time_slice(Some(weave::DEFAULT_TIME_SLICE));
        let _ = weave::set_concurrency(0);
    }
}

/// Polls `cond` from the main OS thread until it holds; panics naming
/// `what` if it has not after [`STUCK`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + STUCK;
    while !cond() {
        assert!(Instant::now() < deadline, "stuck waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn state_of(id: ThreadId) -> Option<ThreadState> {
    thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.state)
}

/// What a candidate ULT gets to say where it first ran.
struct Placement {
    report: mpsc::Sender<Option<usize>>,
    done: Arc<AtomicBool>,
}

impl Placement {
    /// The candidate is where it should be.
    fn placed(&self, lwp: Option<usize>) {
        self.report.send(lwp).unwrap();
    }

    /// The candidate landed on the wrong LWP: it says so and keeps that
    /// LWP busy (spinning, not blocking) until a later candidate has been
    /// placed. Otherwise the same LWP, looking for work again at once,
    /// would take the next candidate too, and the one that should get it
    /// might sleep through every try.
    fn wrong_lwp(self) {
        self.report.send(None).unwrap();
        while !self.done.load(Acquire) {
            std::hint::spin_loop();
        }
    }
}

/// Spawns `make(..)` until the ULT reports (with [`Placement::placed`])
/// that it first ran where it should; returns it and its LWP.
fn spawn_placed<T: Send + 'static>(
    what: &str,
    mut make: impl FnMut(Placement) -> thread::JoinHandle<T>,
) -> (thread::JoinHandle<T>, usize) {
    let done = Arc::new(AtomicBool::new(false));
    let mut misplaced = Vec::new();
    let mut placed = None;
    for _ in 0..PLACEMENT_TRIES {
        let (report, rx) = mpsc::channel();
        let h = make(Placement {
            report,
            done: done.clone(),
        });
        match rx.recv_timeout(STUCK) {
            Ok(Some(lwp)) => {
                placed = Some((h, lwp));
                break;
            }
            Ok(None) => misplaced.push(h),
            Err(e) => panic!("{what} never reported where it ran: {e}"),
        }
    }
    done.store(true, Release);
    for h in misplaced {
        h.join().unwrap();
    }
    placed.unwrap_or_else(|| {
        panic!("{what} landed on the wrong LWP {PLACEMENT_TRIES} times in a row")
    })
}

#[test]
fn t2_unlocking_on_one_lwp_preempts_t1_on_the_other_for_t3() {
    let _restore = Restore;
    weave::set_concurrency(2).unwrap();
    weave::set_time_slice(None);
    trace::set_hook(Some(count_preempts));

    let mutex = Arc::new(Mutex::new(()));
    let release = Arc::new(AtomicBool::new(false));

    // T2 takes the mutex wherever it lands; that LWP is B.
    let (t2, lwp_b) = spawn_placed("T2", |report| {
        let (mutex, release) = (mutex.clone(), release.clone());
        Builder::new()
            .name("T2".into())
            .priority(T2_PRIORITY)
            .spawn(move || {
                let guard = mutex.lock().unwrap();
                report.placed(thread::current_lwp());
                // Parked, B is idle meanwhile: nothing on B competes with
                // the rest of the set-up.
                while !release.load(Acquire) {
                    thread::park();
                }
                let at = thread::current_lwp();
                drop(guard); // The unlock that makes T3 runnable.
                at
            })
            .unwrap()
    });

    // T3 must first run on the other LWP, A, and block there on the mutex.
    let t3_ran = Arc::new(AtomicBool::new(false));
    // T1's iterations, as T1 publishes them.
    let t1_progress = Arc::new(AtomicU64::new(0));
    let (t3, lwp_a) = spawn_placed("T3", |report| {
        let (mutex, ran, progress) = (mutex.clone(), t3_ran.clone(), t1_progress.clone());
        Builder::new()
            .name("T3".into())
            .priority(T3_PRIORITY)
            .spawn(move || {
                let here = thread::current_lwp();
                if here == Some(lwp_b) {
                    report.wrong_lwp();
                    return None;
                }
                report.placed(here);
                let _guard = mutex.lock().unwrap();
                // T1 is switched out right now (same LWP): this is the
                // iteration it was preempted at.
                let t1_at = progress.load(Relaxed);
                ran.store(true, Release);
                Some((thread::current_lwp(), t1_at))
            })
            .unwrap()
    });
    assert_ne!(lwp_a, lwp_b);
    LWP_A.store(lwp_a, Relaxed);
    let t3_id = t3.thread().id();
    wait_for("T3 to block on the mutex", || {
        state_of(t3_id) == Some(ThreadState::Blocked(BlockReason::Mutex))
    });

    // T1, the hog, on A too. It leaves its loop when T3 has run, or when
    // main gives up on the scenario.
    let give_up = Arc::new(AtomicBool::new(false));
    let (t1, _) = spawn_placed("T1", |report| {
        let (ran, progress, give_up) = (t3_ran.clone(), t1_progress.clone(), give_up.clone());
        Builder::new()
            .name("T1".into())
            .priority(T1_PRIORITY)
            .spawn(move || {
                let here = thread::current_lwp();
                if here != Some(lwp_a) {
                    report.wrong_lwp();
                    return None;
                }
                report.placed(here);
                let mut iterations = 0u64;
                // Slices are off and T1 never blocks: the only way T3 can
                // run on A before this loop ends is a request to switch
                // honoured at this preempt_point.
                loop {
                    iterations += 1;
                    progress.store(iterations, Relaxed);
                    thread::preempt_point();
                    if ran.load(Acquire) || give_up.load(Relaxed) {
                        break;
                    }
                }
                Some((iterations, ran.load(Acquire)))
            })
            .unwrap()
    });
    wait_for("T1 to start hogging LWP A", || {
        t1_progress.load(Relaxed) > 0
    });
    let preempts_before = PREEMPTS_OF_A.load(SeqCst);
    assert_eq!(
        state_of(t3_id),
        Some(ThreadState::Blocked(BlockReason::Mutex))
    );

    // T2 unlocks on B.
    release.store(true, Release);
    t2.thread().unpark();
    let deadline = Instant::now() + STUCK;
    while !t3.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    // If T3 never got in, let T1 finish so that the failure is reported
    // rather than the test hanging.
    give_up.store(true, Relaxed);

    let t2_ran_on = t2.join().unwrap();
    let (t1_iterations, t1_saw_t3) = t1.join().unwrap().expect("T1 was placed on A");
    let (t3_ran_on, t1_at_t3) = t3.join().unwrap().expect("T3 was placed on A");
    let preempts = PREEMPTS_OF_A.load(SeqCst) - preempts_before;

    assert_eq!(t2_ran_on, Some(lwp_b), "T2 unlocked on LWP B");
    assert_eq!(t3_ran_on, Some(lwp_a), "T3 stayed on LWP A");
    assert!(
        t1_saw_t3,
        "T3 did not run while T1 hogged LWP A: T2's unlock on LWP B did not \
         make A switch (T1 ran {t1_iterations} iterations)"
    );
    assert!(
        preempts >= 1,
        "T3 ran, but no request to switch reached LWP A"
    );
    // T3 ran between two of T1's iterations, and T1 resumed afterwards: it
    // was switched out at a safe point, not run to completion.
    assert!(t1_at_t3 > 0, "T1 had not started when T3 ran");
    assert_eq!(
        t1_iterations, t1_at_t3,
        "T1 went on after T3 took A without seeing that T3 had run"
    );
}

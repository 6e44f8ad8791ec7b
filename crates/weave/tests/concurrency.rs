//! set_concurrency grows and shrinks the pool while threads run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weave::thread;

/// The tests of this file resize the one pool: they run one at a time.
static POOL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

fn alive_pool_lwps() -> usize {
    weave::lwps().iter().filter(|l| l.alive && !l.bound).count()
}

#[test]
fn set_concurrency_grows_and_shrinks_while_threads_run() {
    let _g = serial();
    weave::set_concurrency(1).unwrap();
    assert_eq!(weave::concurrency(), 1);
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..64)
        .map(|i| {
            let done = done.clone();
            thread::spawn(move || {
                let mut acc = 0u64;
                for k in 0..200 {
                    acc = acc.wrapping_add(k * i);
                    if k % 10 == 0 {
                        thread::sleep(Duration::from_micros(300));
                    } else {
                        thread::yield_now();
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
                acc
            })
        })
        .collect();

    weave::set_concurrency(4).unwrap();
    assert_eq!(weave::concurrency(), 4);
    assert_eq!(weave::requested_concurrency(), 4);
    assert!(alive_pool_lwps() >= 4);

    // New threads spread over the grown pool.
    let homes: std::collections::HashSet<usize> = (0..200)
        .map(|_| {
            thread::spawn(|| {
                // A millisecond of work: more than one LWP can absorb alone.
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                thread::current_lwp().unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(
        homes.len() >= 2,
        "200 busy threads all ran on one LWP: {homes:?}"
    );

    weave::set_concurrency(2).unwrap();
    assert_eq!(weave::concurrency(), 2);
    for (i, w) in workers.into_iter().enumerate() {
        let expected = (0..200u64).fold(0u64, |a, k| a.wrapping_add(k * i as u64));
        assert_eq!(w.join().unwrap(), expected);
    }
    assert_eq!(done.load(Ordering::SeqCst), 64);

    // The retired LWPs leave once their placed ULTs are done.
    let t = Instant::now();
    while alive_pool_lwps() > 2 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "retiring LWPs did not leave"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // And work still runs on what is left.
    assert_eq!(thread::spawn(|| 7).join().unwrap(), 7);

    weave::set_concurrency(0).unwrap();
    assert_eq!(weave::requested_concurrency(), 0);
    let auto = std::thread::available_parallelism().unwrap().get();
    assert_eq!(weave::concurrency(), auto.min(weave::MAX_CONCURRENCY));
}

#[test]
fn set_concurrency_above_the_cap_is_refused() {
    let _g = serial();
    let err = weave::set_concurrency(weave::MAX_CONCURRENCY + 1).unwrap_err();
    assert!(err.to_string().contains("at most 256 LWPs"), "{err}");
}

/// CPU time of a kernel thread of this process, from /proc (clock ticks).
fn cpu_ticks(tid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

#[test]
fn a_retiring_lwp_with_blocked_ults_sleeps_instead_of_spinning() {
    let _g = serial();
    weave::set_concurrency(2).unwrap();
    // Parked ULTs on every LWP: spawn workers (each busy for 2 ms, so the
    // pool spreads them) until both pool LWPs hold some.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut parked = Vec::new();
    let spread = || {
        let placed: Vec<usize> = weave::lwps()
            .iter()
            .filter(|l| l.alive && !l.bound)
            .map(|l| l.placed)
            .collect();
        placed.len() >= 2 && placed.iter().all(|&p| p > 0)
    };
    while !spread() && parked.len() < 256 {
        for _ in 0..8 {
            let stop = stop.clone();
            parked.push(thread::spawn(move || {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(2) {
                    std::hint::spin_loop();
                }
                while !stop.load(Ordering::SeqCst) {
                    thread::park();
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(100));
    weave::set_concurrency(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let retiring: Vec<i32> = weave::lwps()
        .iter()
        .filter(|l| l.alive && l.retiring && l.placed > 0)
        .map(|l| l.tid)
        .collect();
    assert!(
        !retiring.is_empty(),
        "no retiring LWP kept parked ULTs: {:?}",
        weave::lwps()
    );
    let before: u64 = retiring.iter().map(|&t| cpu_ticks(t)).sum();
    std::thread::sleep(Duration::from_millis(500));
    let after: u64 = retiring.iter().map(|&t| cpu_ticks(t)).sum();
    stop.store(true, Ordering::SeqCst);
    for p in &parked {
        p.thread().unpark();
    }
    for p in parked {
        p.join().unwrap();
    }
    // A spinning LWP would burn ~50 ticks (500 ms) here; a sleeping one 0.
    assert!(
        after - before < 10,
        "retiring LWPs {retiring:?} used {} ticks of CPU while their ULTs were parked",
        after - before
    );
    weave::set_concurrency(0).unwrap();
}

/// Turns a stall of the calling test into a failure: aborts with the LWP
/// table and the thread dump when `progress` has not moved for 30 s (a real
/// stall lasts for ever; at 5 s, a round on a machine with a load average
/// of 20 was taken for a stall twice in 40 runs). Dropping the guard stops
/// the watch.
struct Watchdog {
    progress: Arc<AtomicUsize>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    fn start() -> Watchdog {
        let progress = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, d) = (progress.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = usize::MAX;
            while !d.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_secs(30));
                let now = p.load(Ordering::SeqCst);
                if now == last && !d.load(Ordering::SeqCst) {
                    eprintln!(
                        "stalled at round {now}: {:#?}\n{}",
                        weave::lwps(),
                        weave::dump()
                    );
                    std::process::abort();
                }
                last = now;
            }
        });
        Watchdog { progress, done }
    }

    fn round_done(&self) {
        self.progress.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// A ULT that waits for a timer, then yields: its LWP's search for new work
/// is cut short when the timer comes due.
fn short_sleeper() -> thread::JoinHandle<()> {
    thread::spawn(|| {
        thread::sleep(Duration::from_micros(200));
        thread::yield_now();
    })
}

/// Runs `round` `n` times under a [`Watchdog`], each round starting from a
/// pool of 4 LWPs, then puts the level back to automatic.
fn rounds_from_four_lwps(n: usize, round: impl Fn(usize)) {
    let watchdog = Watchdog::start();
    for i in 0..n {
        weave::set_concurrency(4).unwrap();
        round(i);
        watchdog.round_done();
    }
    drop(watchdog);
    weave::set_concurrency(0).unwrap();
}

fn join_all(handles: Vec<thread::JoinHandle<()>>) {
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn shrinking_the_pool_hands_queued_work_to_the_lwps_that_stay() {
    let _g = serial();
    // Queued, never-started ULTs that the retiring LWPs were searching for
    // must reach the LWP that stays, even if it sleeps. A retiring LWP that
    // stopped searching because a timer of its own came due used to leave
    // them unseen: 11 stalls in 32 runs of four copies at once.
    rounds_from_four_lwps(300, |_| {
        let workers = (0..16).map(|_| short_sleeper()).collect();
        weave::set_concurrency(1).unwrap();
        join_all(workers);
    });
}

#[test]
fn shrinking_the_pool_while_ults_spawn_runs_every_child() {
    let _g = serial();
    // Children spawned on LWPs go to their stealable queues, not the
    // injector: the retiring LWPs' queues must reach the LWP that stays.
    rounds_from_four_lwps(200, |_| {
        let spawners = (0..4)
            .map(|_| thread::spawn(|| join_all((0..8).map(|_| short_sleeper()).collect())))
            .collect();
        weave::set_concurrency(1).unwrap();
        join_all(spawners);
    });
}

#[test]
fn resizing_the_pool_up_and_down_runs_every_queued_thread() {
    let _g = serial();
    rounds_from_four_lwps(200, |round| {
        let workers = (0..16).map(|_| short_sleeper()).collect();
        weave::set_concurrency(2).unwrap();
        weave::set_concurrency(3 + round % 2).unwrap();
        weave::set_concurrency(1).unwrap();
        join_all(workers);
    });
}

#[test]
fn growing_the_pool_right_after_shrinking_it_keeps_the_new_level() {
    let _g = serial();
    // Raising the level revives retiring LWPs first; one that was already
    // on its way out must not take its place in the pool with it.
    for _ in 0..300 {
        weave::set_concurrency(4).unwrap();
        let workers = (0..8).map(|_| short_sleeper()).collect();
        weave::set_concurrency(1).unwrap();
        join_all(workers);
        weave::set_concurrency(4).unwrap();
        // Whatever was leaving has left after a while; the level stays.
        let t = Instant::now();
        while weave::lwps().iter().any(|l| l.alive && l.retiring) {
            assert!(t.elapsed() < Duration::from_secs(20), "{:?}", weave::lwps());
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(weave::concurrency(), 4, "{:?}", weave::lwps());
        assert!(alive_pool_lwps() >= 4, "{:?}", weave::lwps());
    }
    weave::set_concurrency(0).unwrap();
}

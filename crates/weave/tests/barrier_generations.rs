//! `Barrier`: nobody leaves a generation before all n have arrived, one
//! leader per generation, and the barrier is reused generation after
//! generation by ULTs and OS threads together.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use weave::sync::Barrier;

const ULTS: usize = 12;
const OSS: usize = 3;
const N: usize = ULTS + OSS;
const GENERATIONS: usize = 50;

struct Shared {
    barrier: Barrier,
    /// Arrivals per generation, counted before each `wait`.
    arrived: Vec<AtomicUsize>,
    leaders: AtomicUsize,
}

fn runner(s: Arc<Shared>) -> impl FnOnce() + Send + 'static {
    move || {
        for g in 0..GENERATIONS {
            s.arrived[g].fetch_add(1, SeqCst);
            let leader = s.barrier.wait().is_leader();
            // Everyone of this generation arrived before anyone left.
            assert_eq!(s.arrived[g].load(SeqCst), N, "left generation {g} early");
            if leader {
                s.leaders.fetch_add(1, SeqCst);
            }
        }
    }
}

#[test]
fn ults_and_os_threads_cross_many_generations_together() {
    let s = Arc::new(Shared {
        barrier: Barrier::new(N),
        arrived: (0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect(),
        leaders: AtomicUsize::new(0),
    });
    let ults: Vec<_> = (0..ULTS)
        .map(|_| weave::thread::spawn(runner(s.clone())))
        .collect();
    let oss: Vec<_> = (0..OSS)
        .map(|_| std::thread::spawn(runner(s.clone())))
        .collect();
    for h in ults {
        h.join().unwrap();
    }
    for h in oss {
        h.join().unwrap();
    }
    assert_eq!(
        s.leaders.load(SeqCst),
        GENERATIONS,
        "one leader per generation"
    );
}

#[test]
fn a_barrier_of_one_or_zero_never_blocks_and_always_leads() {
    for n in [0, 1] {
        let b = Barrier::new(n);
        assert!(b.wait().is_leader());
        assert!(b.wait().is_leader());
    }
}

#[test]
fn barrier_waiters_on_one_lwp_leave_it_to_the_last_arrival() {
    weave::set_concurrency(1).unwrap();
    let b = Arc::new(Barrier::new(5));
    let leaders = weave::thread::spawn(move || {
        // All on the one LWP: each waiter must yield it for the next to arrive.
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                weave::thread::spawn(move || b.wait().is_leader())
            })
            .collect();
        let mut leaders = usize::from(b.wait().is_leader());
        for h in hs {
            leaders += usize::from(h.join().unwrap());
        }
        leaders
    })
    .join()
    .unwrap();
    assert_eq!(leaders, 1);
}

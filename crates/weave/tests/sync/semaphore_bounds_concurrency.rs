//! A semaphore with n permits lets at most n threads in at once, ULTs and
//! OS threads alike, and every permit comes back.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use weave::sync::Semaphore;

struct Shared {
    sem: Semaphore,
    inside: AtomicUsize,
    most: AtomicUsize,
    entries: AtomicUsize,
}

fn worker(s: Arc<Shared>) -> impl FnOnce() + Send + 'static {
    move || {
        for _ in 0..200 {
            let p = s.sem.acquire();
            assert_eq!(p.num_permits(), 1);
            let now = s.inside.fetch_add(1, SeqCst) + 1;
            s.most.fetch_max(now, SeqCst);
            s.entries.fetch_add(1, SeqCst);
            weave::thread::yield_now();
            s.inside.fetch_sub(1, SeqCst);
        }
    }
}

#[test]
fn at_most_n_ults_and_os_threads_hold_permits_at_once() {
    const PERMITS: usize = 3;
    let s = Arc::new(Shared {
        sem: Semaphore::new(PERMITS),
        inside: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        entries: AtomicUsize::new(0),
    });
    let ults: Vec<_> = (0..40)
        .map(|_| weave::thread::spawn(worker(s.clone())))
        .collect();
    let oss: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(worker(s.clone())))
        .collect();
    for h in ults {
        h.join().unwrap();
    }
    for h in oss {
        h.join().unwrap();
    }
    assert_eq!(s.entries.load(SeqCst), 44 * 200);
    let most = s.most.load(SeqCst);
    assert!(most <= PERMITS, "{most} threads held permits at once");
    assert_eq!(s.sem.available_permits(), PERMITS, "a permit was lost");
}

#[test]
fn a_waiter_for_many_permits_gets_them_once_enough_are_released() {
    let s = Arc::new(Semaphore::new(0));
    let s2 = s.clone();
    let w = weave::thread::spawn(move || {
        let p = s2.acquire_many(3);
        let n = p.num_permits();
        p.forget();
        n
    });
    let s3 = s.clone();
    let small = std::thread::spawn(move || {
        // A single-permit waiter next to the big one.
        drop(s3.acquire());
    });
    for _ in 0..4 {
        s.release(1);
    }
    assert_eq!(w.join().unwrap(), 3);
    small.join().unwrap();
    // 4 released, 3 kept by forget, 1 taken and given back.
    assert_eq!(s.available_permits(), 1);
}

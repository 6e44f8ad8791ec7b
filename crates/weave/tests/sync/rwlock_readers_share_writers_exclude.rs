//! Readers of a weave `RwLock` hold it together; a writer holds it alone.
//! ULTs and OS threads mixed.

use std::sync::Arc;
use std::time::Duration;
use weave::sync::{Barrier, RwLock};

fn with_watchdog(what: &'static str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what}: still blocked after 60 s"));
}

/// Every reader waits, read lock held, until all readers hold it: only
/// possible if read locks are shared.
#[test]
fn all_readers_hold_the_lock_at_once() {
    with_watchdog("readers excluded each other", || {
        const ULTS: usize = 8;
        const OSS: usize = 2;
        let l = Arc::new(RwLock::new(7));
        let all_in = Arc::new(Barrier::new(ULTS + OSS));
        let reader = |l: Arc<RwLock<i32>>, all_in: Arc<Barrier>| {
            move || {
                let g = l.read().unwrap();
                all_in.wait();
                *g
            }
        };
        let ults: Vec<_> = (0..ULTS)
            .map(|_| weave::thread::spawn(reader(l.clone(), all_in.clone())))
            .collect();
        let oss: Vec<_> = (0..OSS)
            .map(|_| std::thread::spawn(reader(l.clone(), all_in.clone())))
            .collect();
        for h in ults {
            assert_eq!(h.join().unwrap(), 7);
        }
        for h in oss {
            assert_eq!(h.join().unwrap(), 7);
        }
    });
}

/// Writers keep two fields equal, in two steps; a reader that ever saw
/// them differ saw a write in progress.
#[test]
fn readers_never_see_a_write_in_progress() {
    with_watchdog("readers and writers", || {
        let l = Arc::new(RwLock::new((0u64, 0u64)));
        let writer = |l: Arc<RwLock<(u64, u64)>>| {
            move || {
                for _ in 0..500 {
                    let mut g = l.write().unwrap();
                    g.0 += 1;
                    weave::thread::yield_now();
                    g.1 += 1;
                }
            }
        };
        let reader = |l: Arc<RwLock<(u64, u64)>>| {
            move || {
                for _ in 0..500 {
                    let g = l.read().unwrap();
                    assert_eq!(g.0, g.1, "a reader saw a half-done write");
                    weave::thread::yield_now();
                }
            }
        };
        let mut ults = Vec::new();
        for _ in 0..4 {
            ults.push(weave::thread::spawn(writer(l.clone())));
            ults.push(weave::thread::spawn(reader(l.clone())));
        }
        let oss = vec![
            std::thread::spawn(writer(l.clone())),
            std::thread::spawn(reader(l.clone())),
        ];
        for h in ults {
            h.join().unwrap();
        }
        for h in oss {
            h.join().unwrap();
        }
        assert_eq!(*l.read().unwrap(), (2500, 2500));
    });
}

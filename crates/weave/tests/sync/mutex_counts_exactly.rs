//! Many ULTs (and some OS threads) incrementing under one weave Mutex lose
//! no update.

use std::sync::Arc;
use weave::sync::Mutex;

#[test]
fn a_thousand_ults_times_a_thousand_increments_give_a_million() {
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..1000)
        .map(|_| {
            let m = m.clone();
            weave::thread::spawn(move || {
                for _ in 0..1000 {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), 1_000_000);
}

#[test]
fn ults_and_os_threads_share_one_mutex() {
    let m = Arc::new(Mutex::new(0u64));
    let ults: Vec<_> = (0..50)
        .map(|_| {
            let m = m.clone();
            weave::thread::spawn(move || {
                for _ in 0..2000 {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    let oss: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in ults {
        h.join().unwrap();
    }
    for h in oss {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), 54 * 2000);
}

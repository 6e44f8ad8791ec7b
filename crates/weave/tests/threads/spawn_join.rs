//! Spawning and joining ULTs, from ULTs and from plain OS threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use weave::thread;

#[test]
fn hundred_thousand_spawn_join() {
    let n = 100_000u64;
    let handles: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn hundred_thousand_spawn_join_inside_a_ult() {
    let sum = thread::spawn(|| {
        let n = 100_000u64;
        let handles: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    })
    .join()
    .unwrap();
    assert_eq!(sum, 100_000 * 99_999 / 2);
}

#[test]
fn panic_is_returned_by_join_and_the_runtime_carries_on() {
    let r = thread::Builder::new()
        .name("doomed".into())
        .spawn(|| -> u32 { panic!("boom {}", std::hint::black_box(7)) })
        .unwrap()
        .join();
    let payload = r.unwrap_err();
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    assert_eq!(msg, Some("boom 7"));
    assert_eq!(thread::spawn(|| 42).join().unwrap(), 42);
}

#[test]
fn spawn_and_join_from_os_threads() {
    let os: Vec<_> = (0..4)
        .map(|k| {
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..1000).map(|i| thread::spawn(move || i + k)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
            })
        })
        .collect();
    let total: usize = os.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 4 * (999 * 1000 / 2) + 1000 * (1 + 2 + 3));
}

#[test]
fn join_waits_for_a_slow_thread() {
    let h = thread::spawn(|| {
        thread::sleep(std::time::Duration::from_millis(30));
        "done"
    });
    assert!(!h.is_finished() || h.is_finished()); // either is allowed here
    assert_eq!(h.join().unwrap(), "done");
}

#[test]
fn is_finished_turns_true_without_join() {
    let h = thread::spawn(|| 1);
    while !h.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn dropped_handle_detaches_and_the_thread_still_runs() {
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let d = done.clone();
        drop(thread::spawn(move || {
            d.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let t = std::time::Instant::now();
    while done.load(Ordering::SeqCst) < 100 {
        assert!(t.elapsed().as_secs() < 30, "detached threads did not run");
        std::thread::yield_now();
    }
}

#[test]
fn results_and_closures_are_dropped_exactly_once() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let captured = Counted(drops.clone());
    let d = drops.clone();
    let h = thread::spawn(move || {
        let _keep = captured;
        Counted(d)
    });
    let result = h.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the capture was dropped");
    drop(result);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // A result nobody joins is dropped when the handle goes.
    let d = drops.clone();
    let h = thread::spawn(move || Counted(d));
    while !h.is_finished() {
        std::thread::yield_now();
    }
    drop(h);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn current_names_the_ult_and_the_os_thread() {
    let h = thread::Builder::new()
        .name("named-ult".into())
        .spawn(|| thread::current().name().map(str::to_owned))
        .unwrap();
    assert_eq!(h.join().unwrap().as_deref(), Some("named-ult"));
    let main = thread::current();
    assert_eq!(main.id(), thread::current().id());
    let other = std::thread::spawn(|| thread::current().id())
        .join()
        .unwrap();
    assert_ne!(main.id(), other);
}

//! `LazyLock`, as std's: computed once on first use by whichever thread
//! gets there first (the others block their ULTs meanwhile), poisoned if
//! the initialiser panics, `DerefMut`/`force_mut` for unique access, and
//! the function or the value dropped exactly once.

use crate::wait_common::wait_blocked;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use weave::sync::{LazyLock, Semaphore};
use weave::thread::BlockReason;

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn ults_and_os_threads_see_one_value_computed_once() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static VALUE: LazyLock<usize> = LazyLock::new(|| {
        RUNS.fetch_add(1, SeqCst);
        42
    });
    let ults: Vec<_> = (0..16).map(|_| weave::thread::spawn(|| *VALUE)).collect();
    let oss: Vec<_> = (0..4).map(|_| std::thread::spawn(|| *VALUE)).collect();
    for h in ults {
        assert_eq!(h.join().unwrap(), 42);
    }
    for h in oss {
        assert_eq!(h.join().unwrap(), 42);
    }
    assert_eq!(RUNS.load(SeqCst), 1);
}

#[test]
fn a_thread_arriving_during_initialisation_blocks_until_the_value_is_there() {
    let go = Arc::new(Semaphore::new(0));
    let g = go.clone();
    let lazy = Arc::new(LazyLock::new(move || {
        g.acquire().forget();
        7
    }));
    let l1 = lazy.clone();
    let first = weave::thread::spawn(move || *LazyLock::force(&l1));
    wait_blocked(first.thread().id(), BlockReason::Semaphore);
    let l2 = lazy.clone();
    let second = weave::thread::spawn(move || *LazyLock::force(&l2));
    wait_blocked(second.thread().id(), BlockReason::Once);
    assert_eq!(LazyLock::get(&lazy), None);
    go.release(1);
    assert_eq!(first.join().unwrap(), 7);
    assert_eq!(second.join().unwrap(), 7);
}

#[test]
fn a_panicking_initialiser_poisons_the_lazy_lock() {
    let lazy: LazyLock<u32> = LazyLock::new(|| panic!("init failed"));
    let e = catch_unwind(AssertUnwindSafe(|| *lazy)).unwrap_err();
    assert_eq!(panic_message(e), "init failed");
    let e = catch_unwind(AssertUnwindSafe(|| *lazy)).unwrap_err();
    assert_eq!(
        panic_message(e),
        "LazyLock instance has previously been poisoned"
    );
    assert_eq!(LazyLock::get(&lazy), None);
}

#[test]
fn a_panicking_initialiser_under_force_mut_poisons_too() {
    let mut lazy: LazyLock<u32> = LazyLock::new(|| panic!("init failed"));
    assert!(catch_unwind(AssertUnwindSafe(|| *LazyLock::force_mut(&mut lazy))).is_err());
    let e = catch_unwind(AssertUnwindSafe(|| *lazy)).unwrap_err();
    assert_eq!(
        panic_message(e),
        "LazyLock instance has previously been poisoned"
    );
}

#[test]
fn deref_mut_computes_then_changes_the_value() {
    let mut lazy = LazyLock::new(|| vec![1]);
    assert_eq!(LazyLock::get_mut(&mut lazy), None);
    lazy.push(2);
    LazyLock::force_mut(&mut lazy).push(3);
    assert_eq!(
        LazyLock::get(&lazy).map(Vec::as_slice),
        Some(&[1, 2, 3][..])
    );
}

#[test]
fn get_does_not_compute_and_debug_shows_uninit_until_forced() {
    let lazy = LazyLock::new(|| 5u8);
    assert_eq!(LazyLock::get(&lazy), None);
    assert_eq!(format!("{lazy:?}"), "LazyLock(<uninit>)");
    assert_eq!(*lazy, 5);
    assert_eq!(format!("{lazy:?}"), "LazyLock(5)");
    let d: LazyLock<String> = LazyLock::default();
    assert_eq!(d.as_str(), "");
}

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn the_function_or_the_value_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    // Never forced: the captured value dies with the function.
    let captured = Counted(drops.clone());
    let lazy = LazyLock::new(move || captured.0.load(SeqCst));
    drop(lazy);
    assert_eq!(drops.load(SeqCst), 1);
    // Forced: the function was consumed by the call, the value drops later.
    let d = drops.clone();
    let lazy = LazyLock::new(move || Counted(d));
    let _ = &*lazy;
    assert_eq!(drops.load(SeqCst), 1, "forcing dropped the value");
    drop(lazy);
    assert_eq!(drops.load(SeqCst), 2);
}

//! Per-ULT storage (weave::thread_local!) and scoped threads.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use weave::thread;

weave::thread_local! {
    static COUNTER: Cell<u32> = Cell::new(0);
    static NAMES: RefCell<Vec<String>> = RefCell::new(Vec::new());
}

#[test]
fn each_ult_has_its_own_value_even_on_a_shared_lwp() {
    let hs: Vec<_> = (0..200)
        .map(|i| {
            thread::spawn(move || {
                for _ in 0..i % 7 + 1 {
                    COUNTER.with(|c| c.set(c.get() + 1));
                    thread::yield_now();
                }
                NAMES.with(|n| n.borrow_mut().push(format!("t{i}")));
                (COUNTER.with(Cell::get), NAMES.with(|n| n.borrow().len()))
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), (i as u32 % 7 + 1, 1));
    }
}

#[test]
fn values_are_dropped_when_the_ult_exits_before_join_returns() {
    struct Noisy(Arc<AtomicUsize>);
    impl Drop for Noisy {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    weave::thread_local! {
        static SLOT: RefCell<Option<Noisy>> = RefCell::new(None);
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    thread::spawn(move || SLOT.with(|s| *s.borrow_mut() = Some(Noisy(d))))
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // A recycled TCB starts with empty storage.
    let fresh = thread::spawn(|| SLOT.with(|s| s.borrow().is_none()))
        .join()
        .unwrap();
    assert!(fresh);
}

#[test]
fn os_threads_have_their_own_values_too() {
    COUNTER.with(|c| c.set(41));
    let other = std::thread::spawn(|| COUNTER.with(Cell::get))
        .join()
        .unwrap();
    assert_eq!(other, 0);
    assert_eq!(COUNTER.with(Cell::get), 41);
}

#[test]
fn scoped_threads_borrow_and_are_all_joined() {
    let mut data = vec![1u64, 2, 3, 4];
    let total = AtomicUsize::new(0);
    thread::scope(|s| {
        for x in data.iter_mut() {
            let total = &total;
            s.spawn(move || {
                thread::sleep(std::time::Duration::from_millis(*x));
                *x *= 10;
                total.fetch_add(*x as usize, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(data, vec![10, 20, 30, 40]);
    assert_eq!(total.load(Ordering::SeqCst), 100);
}

#[test]
fn a_scoped_panic_propagates_when_not_joined() {
    let r = std::panic::catch_unwind(|| {
        thread::scope(|s| {
            s.spawn(|| panic!("inside scope"));
        })
    });
    assert!(r.is_err());
    // Joined, the panic is the caller's to handle.
    thread::scope(|s| {
        let h = s.spawn(|| panic!("handled"));
        assert!(h.join().is_err());
    });
}

#[test]
fn scope_works_inside_a_ult() {
    let n = thread::spawn(|| {
        let v = [5u32, 6, 7];
        thread::scope(|s| {
            let hs: Vec<_> = v.iter().map(|x| s.spawn(move || x * 2)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        })
    })
    .join()
    .unwrap();
    assert_eq!(n, 36);
}

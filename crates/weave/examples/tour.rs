//! A small tour of the API, also run under valgrind's memcheck by CI:
//! spawn and join, panics, park/unpark, sleep, scoped threads, per-thread
//! storage, priorities and a bound thread.
//!
//! ```text
//! cargo run --release -p weave --example tour
//! ```

use std::cell::Cell;
use std::time::Duration;
use weave::thread;

weave::thread_local! {
    static VISITS: Cell<u32> = Cell::new(0);
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let handles: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, n * (n - 1) / 2);

    let nested = thread::spawn(|| {
        let inner: Vec<_> = (0..100u64).map(|i| thread::spawn(move || i)).collect();
        inner.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(nested.join().unwrap(), 4950);

    let sleeper = thread::spawn(|| thread::sleep(Duration::from_millis(5)));
    sleeper.join().unwrap();

    let parked = thread::spawn(|| {
        VISITS.with(|v| v.set(v.get() + 1));
        thread::park();
        VISITS.with(Cell::get)
    });
    thread::sleep(Duration::from_millis(5));
    parked.thread().unpark();
    assert_eq!(parked.join().unwrap(), 1);

    let boom = thread::Builder::new()
        .name("panics-on-purpose".into())
        .spawn(|| panic!("caught by join"))
        .unwrap();
    assert!(boom.join().is_err());

    let mut data = vec![1, 2, 3];
    thread::scope(|s| {
        for x in &mut data {
            s.spawn(move || *x *= 2);
        }
    });
    assert_eq!(data, vec![2, 4, 6]);

    let high = thread::Builder::new().priority(30).spawn(|| 1).unwrap();
    let bound = thread::Builder::new().bound().spawn(|| 2).unwrap();
    assert_eq!(high.join().unwrap() + bound.join().unwrap(), 3);

    println!(
        "tour: {n} threads spawned and joined; counters {:?}",
        weave::trace::counters()
    );
}

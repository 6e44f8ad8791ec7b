//! A small tour of the API, also run under valgrind's memcheck by CI:
//! spawn and join, panics, park/unpark, sleep, scoped threads, per-thread
//! storage, priorities and a bound thread.
//!
//! ```text
//! cargo run --release -p weave --example tour
//! cargo run --release -p weave --example tour -- 500 stacks
//! ```
//!
//! With `stacks` after the count, it also runs threads on stacks that are
//! not the pool's, each mapped and unmapped again and again at addresses
//! that come back: solo stacks (a guard other than one page, or none) and
//! stacks of the program's (`Builder::stack`), pooled and bound. Each is
//! registered with valgrind while a thread runs on it, so memcheck sees
//! the switches onto it as stack switches (CI runs this mode too).

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

    if std::env::args().nth(2).as_deref() == Some("stacks") {
        other_stacks(n);
    }

    println!(
        "tour: {n} threads spawned and joined; counters {:?}",
        weave::trace::counters()
    );
}

/// Uses `depth` frames of stack, each with a few words the next frame
/// reads back: memcheck checks every one of them.
#[inline(never)]
fn deep(depth: u64) -> u64 {
    let words = std::hint::black_box([depth; 16]);
    if depth == 0 {
        thread::yield_now();
        return words[3];
    }
    deep(depth - 1) + words[7]
}

/// Threads on solo stacks and on stacks of the program's (module doc).
fn other_stacks(n: u64) {
    const SIZE: usize = 64 * 1024;
    for round in 0..n.div_ceil(10) {
        let mut handles = Vec::new();
        for (i, guard) in [0, 3 * 4096, 16 * 4096].into_iter().enumerate() {
            let b = thread::Builder::new().stack_size(SIZE).stack_guard(guard);
            let b = if i == 0 && round % 2 == 0 {
                b.bound()
            } else {
                b
            };
            handles.push(b.spawn(move || deep(40 + round % 7)).unwrap());
        }
        for h in handles.drain(..) {
            let d = h.join().unwrap();
            assert_eq!(d, (40 + round % 7) * (40 + round % 7 + 1) / 2);
        }
        // The program's memory as a stack, freed after each join: the
        // allocator hands the same addresses out again.
        for bound in [false, true] {
            let mut mem = vec![0u128; SIZE / 16];
            let b = thread::Builder::new();
            let b = if bound { b.bound() } else { b };
            // SAFETY: `mem` is the thread's alone until it is joined below.
            let b = unsafe { b.stack(mem.as_mut_ptr().cast(), SIZE) };
            let h = b.spawn(move || deep(30)).unwrap();
            assert_eq!(h.join().unwrap(), 30 * 31 / 2);
            drop(mem);
        }
    }
}

//! Join packets of small closures live in the room of their thread's TCB
//! (`thread/room.rs`), or, while that room still holds the packet of a
//! thread whose handle outlived it, in blocks each LWP keeps and reuses
//! (`thread/blocks.rs`): a batch of spawns after a first one takes its
//! packets from neither the heap, a packet kept past its slot's reuse
//! keeps its result, and a reused room or block carries nothing of the
//! thread that had it before. The pool is set to one LWP, and the tests of
//! this file run one at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use weave::thread;

/// Counts the heap allocations made by ULTs, where the batches' spawns
/// and joins run: the monitor's, the harness's and other OS threads'
/// allocations are not the batch's.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if weave::thread::current_lwp().is_some() {
            ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

fn one_lwp() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    g
}

const BATCH: usize = 1000;

/// Spawns `BATCH` threads, then joins them, checking each result.
fn batch(hs: &mut Vec<thread::JoinHandle<usize>>) {
    hs.extend((0..BATCH).map(|i| thread::spawn(move || i)));
    for (i, h) in hs.drain(..).enumerate() {
        assert_eq!(h.join().unwrap(), i);
    }
}

#[test]
fn a_batch_after_a_first_one_takes_no_packet_from_the_heap() {
    let _g = one_lwp();
    let allocs = thread::spawn(|| {
        let mut hs = Vec::with_capacity(BATCH);
        batch(&mut hs);
        let before = ALLOCS.load(Relaxed);
        batch(&mut hs);
        ALLOCS.load(Relaxed) - before
    })
    .join()
    .unwrap();
    // One packet a thread came from the heap before the blocks: 1,000.
    // What is left is the queues' growth.
    assert!(
        allocs < BATCH / 10,
        "{allocs} heap allocations for {BATCH} spawns and joins after a first batch"
    );
}

/// A result that counts its drops.
struct Tracked(usize);

static MADE: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

impl Tracked {
    fn new(i: usize) -> Tracked {
        MADE.fetch_add(1, Relaxed);
        Tracked(i)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Relaxed);
    }
}

#[test]
fn a_reused_block_holds_only_its_own_threads_result() {
    let _g = one_lwp();
    thread::spawn(|| {
        for round in 0..4 {
            // Joined, detached before they run (their ULT drops the
            // result), and panicking threads, mixed, so that each block
            // serves every kind in turn.
            let mut joined = Vec::new();
            for i in 0..300 {
                match i % 3 {
                    0 => joined.push((i, thread::spawn(move || Tracked::new(i)))),
                    1 => drop(thread::spawn(move || Tracked::new(i))),
                    _ => joined.push((
                        i,
                        thread::spawn(move || -> Tracked { std::panic::panic_any(i) }),
                    )),
                }
            }
            for (i, h) in joined {
                match h.join() {
                    Ok(t) => assert_eq!(t.0, i, "round {round}: another thread's result"),
                    Err(p) => assert_eq!(
                        p.downcast_ref::<usize>(),
                        Some(&i),
                        "round {round}: another thread's panic"
                    ),
                }
            }
        }
    })
    .join()
    .unwrap();
    // Every result made is dropped once the detached threads have ended
    // (the watchdog only turns a missing drop into a failure); a result
    // dropped twice shows as more drops than results.
    assert_eq!(MADE.load(Relaxed), 4 * 100 * 2);
    let watchdog = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while DROPPED.load(Relaxed) < MADE.load(Relaxed) && std::time::Instant::now() < watchdog {
        thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(DROPPED.load(Relaxed), MADE.load(Relaxed));
}

#[test]
fn a_packet_kept_past_its_threads_end_survives_the_reuse_of_its_slot() {
    let _g = one_lwp();
    let (allocs, reused) = thread::spawn(|| {
        // Ended threads whose handles are kept: their slots go back to the
        // table while their packets stay in their rooms.
        let kept: Vec<_> = (0..BATCH)
            .map(|i| thread::spawn(move || [i, i + 1, i + 2]))
            .collect();
        while !kept.iter().all(|h| h.is_finished()) {
            thread::yield_now();
        }
        // Let their LWP file the ends (the slots go back then).
        for _ in 0..10 {
            thread::yield_now();
        }
        let kept_slots: std::collections::HashSet<u32> =
            kept.iter().map(|h| h.thread().id().index()).collect();
        let mut hs = Vec::with_capacity(BATCH);
        // The first batch takes the kept threads' slots, finds their rooms
        // busy and makes blocks; the next ones reuse those blocks.
        hs.extend((0..BATCH).map(|i| thread::spawn(move || i)));
        let reused = hs
            .iter()
            .filter(|h| kept_slots.contains(&h.thread().id().index()))
            .count();
        for (i, h) in hs.drain(..).enumerate() {
            assert_eq!(h.join().unwrap(), i);
        }
        let before = ALLOCS.load(Relaxed);
        batch(&mut hs);
        let allocs = ALLOCS.load(Relaxed) - before;
        for (i, h) in kept.into_iter().enumerate() {
            assert_eq!(
                h.join().unwrap(),
                [i, i + 1, i + 2],
                "a kept result was overwritten"
            );
        }
        (allocs, reused)
    })
    .join()
    .unwrap();
    assert!(
        reused > BATCH / 2,
        "only {reused} of the batch's threads reused a kept thread's slot: the test \
         proves nothing"
    );
    assert!(
        allocs < BATCH / 10,
        "{allocs} heap allocations for {BATCH} spawns and joins beside busy rooms"
    );
}

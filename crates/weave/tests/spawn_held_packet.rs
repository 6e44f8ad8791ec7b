//! A thread spawned with its id held (`Builder::hold_id`) keeps its join
//! packet in storage of its table index's rather than on the heap: its
//! result, its panic and its handle's drop work as for any thread, and the
//! next thread of the same index finds nothing of the last one's.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use weave::thread::{self, Builder};

/// A result that counts its drops (and checks that it is still itself).
struct Counted(Arc<AtomicUsize>, String);

impl Drop for Counted {
    fn drop(&mut self) {
        assert_eq!(
            self.1, "result",
            "a result dropped after its storage was reused"
        );
        self.0.fetch_add(1, SeqCst);
    }
}

/// On one LWP a joined held thread's slot is the next spawn's: a run of
/// them reuses one index, each getting back what it returned.
#[test]
fn held_threads_sharing_an_index_each_join_their_own_result() {
    weave::set_concurrency(1).unwrap();
    thread::spawn(|| {
        let mut indices = Vec::new();
        for i in 0..200usize {
            let name = format!("thread {i}");
            let h = Builder::new()
                .hold_id()
                .spawn(move || format!("{name} says {i}"))
                .unwrap();
            indices.push(h.thread().id().index());
            assert_eq!(h.join().unwrap(), format!("thread {i} says {i}"));
        }
        indices.sort_unstable();
        indices.dedup();
        assert!(
            indices.len() < 200,
            "no index came back: nothing here reused a packet's storage"
        );
    })
    .join()
    .unwrap();
}

#[test]
fn a_held_threads_panic_payload_reaches_join() {
    let h = Builder::new()
        .hold_id()
        .spawn(|| -> usize { std::panic::panic_any(41usize) })
        .unwrap();
    let payload = h.join().expect_err("the thread panicked");
    assert_eq!(payload.downcast_ref::<usize>(), Some(&41));
}

/// Dropping the handle unjoined detaches the thread: its result is dropped
/// once (by whichever side is last), and a thread spawned on the freed
/// index afterwards does not drop it again.
#[test]
fn a_held_threads_result_is_dropped_once_when_its_handle_is_dropped_unjoined() {
    weave::set_concurrency(1).unwrap();
    thread::spawn(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        for finished_first in [false, true] {
            let before = drops.load(SeqCst);
            let d = drops.clone();
            let h = Builder::new()
                .hold_id()
                .spawn(move || Counted(d, "result".to_owned()))
                .unwrap();
            if finished_first {
                while !h.is_finished() {
                    thread::yield_now();
                }
            }
            let index = h.thread().id().index();
            drop(h);
            // On one LWP the next spawn after the thread ended and let go
            // gets its index; join it, then look at the count.
            while drops.load(SeqCst) == before {
                thread::yield_now();
            }
            let next = Builder::new()
                .hold_id()
                .spawn(thread::current_id)
                .unwrap()
                .join()
                .unwrap();
            assert_eq!(
                drops.load(SeqCst),
                before + 1,
                "index {index}, next {next:?}"
            );
        }
    })
    .join()
    .unwrap();
}

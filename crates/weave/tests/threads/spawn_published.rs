//! `Builder::spawn_published`: the handle reaches `publish` before the
//! thread runs; and `JoinHandle::wait_cancellable_until`, the timed wait
//! behind the C API's `pthread_timedjoin_np`.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weave::thread::{Builder, JoinHandle};

#[test]
fn publish_sees_the_handle_before_the_thread_runs() {
    for _ in 0..200 {
        let published = Arc::new(AtomicU64::new(0));
        let seen = published.clone();
        let slot: Arc<Mutex<Option<JoinHandle<u64>>>> = Arc::new(Mutex::new(None));
        let keep = slot.clone();
        // A higher priority than the spawner's: it would run at once if
        // it could.
        Builder::new()
            .priority(30)
            .spawn_published(
                move || seen.load(SeqCst),
                move |h| {
                    published.store(h.thread().id().as_u64().get(), SeqCst);
                    *keep.lock().unwrap() = Some(h);
                },
            )
            .unwrap();
        let h = slot.lock().unwrap().take().expect("publish ran");
        let id = h.thread().id().as_u64().get();
        assert_eq!(h.join().unwrap(), id, "the thread ran before publish");
    }
}

#[test]
fn a_spawn_error_is_returned_and_publish_is_not_called() {
    let r = Builder::new()
        .priority(200)
        .spawn_published(|| (), |_h| panic!("publish of a failed spawn"));
    assert!(r.is_err());
}

#[test]
fn wait_cancellable_until_times_out_and_the_handle_still_joins() {
    let gate = Arc::new(weave::sync::Semaphore::new(0));
    let g = gate.clone();
    let h = weave::thread::spawn(move || {
        let _permit = g.acquire();
        5
    });
    let deadline = Instant::now() + Duration::from_millis(20);
    assert!(!h.wait_cancellable_until(Some(deadline)));
    assert!(Instant::now() >= deadline);
    assert!(!h.is_finished());
    gate.release(1);
    assert!(h.wait_cancellable_until(Some(Instant::now() + Duration::from_secs(60))));
    assert_eq!(h.join().unwrap(), 5);
}

//! `Builder::hold_id`: a thread's id stays its own after it ends, until
//! its join handle goes.

use std::time::{Duration, Instant};

use weave::thread::{self, Builder};

/// On one LWP, the slot of the thread that ended last is the first its
/// LWP hands out again: the next spawn would get it but for the hold.
#[test]
fn a_held_id_is_not_given_to_the_next_thread_while_its_handle_lives() {
    weave::set_concurrency(1).unwrap();
    thread::spawn(|| {
        let held = Builder::new().hold_id().spawn(|| 7).unwrap();
        let id = held.thread().id();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !held.is_finished() {
            assert!(Instant::now() < deadline, "the held thread never finished");
            thread::yield_now();
        }
        // On one LWP the ended thread is off its stack by now: its LWP
        // finished it before running us again.
        thread::yield_now();
        let next = thread::spawn(thread::current_id).join().unwrap();
        assert_ne!(next.index(), id.index(), "the held id's slot was reused");
        assert!(thread::find(id).is_err(), "an ended thread is not found");
        assert_eq!(held.join().unwrap(), 7);
    })
    .join()
    .unwrap();
}

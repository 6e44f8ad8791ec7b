//! `signal::suspend` inside a `cancellation_point` (`sigsuspend` and
//! `pause` are POSIX cancellation points): a cancellation request ends the
//! wait, with the thread's old mask back, although no handler ran.

use crate::signal_common::wait_blocked;
use weave::signal::{self, How, SigSet};
use weave::thread;

#[test]
fn a_request_ends_a_suspend_inside_a_cancellation_point() {
    let blocked = SigSet::empty().with(libc::SIGUSR2);
    let waiter = thread::spawn(move || {
        signal::mask(How::SetMask, &blocked);
        let ran = thread::cancellation_point(|| signal::suspend(&SigSet::empty()));
        (
            ran.is_some(),
            thread::cancel_requested(),
            signal::current_mask(),
        )
    });
    wait_blocked(waiter.thread().id());
    assert!(waiter.thread().request_cancel());
    let (ran, requested, mask) = waiter.join().unwrap();
    assert!(ran && requested, "the suspend ended for the request");
    assert_eq!(mask, blocked, "the old mask is back");
}

//! `Sender::same_channel` and `Receiver::same_channel`, as crossbeam's.

use std::time::Duration;

use weave::sync::mpmc::{self, after, never};

#[test]
fn clones_of_a_sender_are_the_same_channel() {
    let (tx, _rx) = mpmc::unbounded::<u32>();
    let (other, _rx2) = mpmc::unbounded::<u32>();
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&other));
}

#[test]
fn clones_of_a_receiver_are_the_same_channel() {
    let (_tx, rx) = mpmc::bounded::<u32>(1);
    let (_tx2, other) = mpmc::bounded::<u32>(1);
    assert!(rx.same_channel(&rx.clone()));
    assert!(!rx.same_channel(&other));
}

#[test]
fn time_channels_are_the_same_only_as_their_clones() {
    let a = after(Duration::from_secs(1));
    let b = after(Duration::from_secs(1));
    assert!(a.same_channel(&a.clone()));
    assert!(!a.same_channel(&b));
    assert!(never::<u32>().same_channel(&never()));
}

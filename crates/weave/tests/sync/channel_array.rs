//! Bounded channels (`bounded(n)`, `sync_channel(n)`, n >= 1) run on the
//! lock-free array of stamped slots: order across many laps of the buffer,
//! `len` as the buffer wraps, a place given back by a `select` send that
//! was never completed, and bounds too large for the array.

use weave::sync::mpmc::{self, Select};
use weave::thread;

#[test]
fn messages_keep_their_order_across_many_laps_of_the_buffer() {
    let (tx, rx) = mpmc::bounded::<u32>(3);
    let producer = thread::spawn(move || (0..10_000).for_each(|i| tx.send(i).unwrap()));
    let got: Vec<u32> = rx.iter().collect();
    producer.join().unwrap();
    assert_eq!(got, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn len_follows_the_buffer_as_it_wraps() {
    let (tx, rx) = mpmc::bounded::<u32>(3);
    for lap in 0..5 {
        tx.send(lap).unwrap();
        tx.send(lap).unwrap();
        assert_eq!(tx.len(), 2, "lap {lap}");
        rx.recv().unwrap();
        assert_eq!(rx.len(), 1, "lap {lap}");
        rx.recv().unwrap();
        assert!(rx.is_empty(), "lap {lap}");
    }
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert!(tx.is_full());
    assert_eq!(tx.len(), 3);
    assert!(tx.try_send(9).is_err());
}

#[test]
fn a_dropped_select_send_behind_a_later_message_frees_its_place() {
    let (tx, rx) = mpmc::bounded::<u32>(2);
    let mut sel = Select::new();
    sel.send(&tx);
    // The select secures the first place; a plain send takes the second.
    let oper = sel.try_select().unwrap();
    tx.try_send(5).unwrap();
    // Dropping a chosen operation uncompleted panics (as crossbeam's), and
    // gives its place back first.
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(oper)));
    assert!(dropped.is_err());
    // The receiver passes over the place that was given back ...
    assert_eq!(rx.try_recv(), Ok(5));
    assert!(rx.try_recv().is_err());
    // ... and both places are free again.
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!((rx.recv(), rx.recv()), (Ok(1), Ok(2)));
}

#[test]
fn a_bound_above_the_array_limit_is_still_a_bound() {
    let cap = (1 << 20) + 1;
    let (tx, rx) = mpmc::bounded::<u8>(cap);
    assert_eq!(tx.capacity(), Some(cap));
    tx.send(1).unwrap();
    assert_eq!(rx.recv(), Ok(1));
}

#[test]
fn dropping_the_receiver_while_holding_a_chosen_send_fails_that_send() {
    let h = thread::spawn(|| {
        let (tx, rx) = mpmc::bounded::<u32>(2);
        tx.send(1).unwrap();
        let mut sel = Select::new();
        sel.send(&tx);
        let oper = sel.try_select().unwrap();
        // The same thread drops the last receiver while its own send holds
        // a reserved place: the drain must not wait for that place.
        drop(rx);
        oper.send(&tx, 2)
    });
    // A watchdog, generous, turns a drain that waits forever into a failure.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !h.is_finished() {
        assert!(
            std::time::Instant::now() < give_up,
            "dropping the receiver waited for the dropping thread's own send"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(h.join().unwrap(), Err(mpmc::SendError(2)));
}

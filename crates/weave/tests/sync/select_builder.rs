//! The dynamic `Select`, as crossbeam-channel's: operations added at run
//! time, a `SelectedOperation` completed with the chosen channel, the
//! `try_`/timeout/deadline forms, `ready`, and `remove`.

use std::time::{Duration, Instant};

use weave::sync::mpmc::{
    self, ReadyTimeoutError, Select, SelectTimeoutError, TryReadyError, TrySelectError,
};
use weave::thread;

#[test]
fn select_returns_the_ready_receive_and_recv_completes_it() {
    let (_tx1, rx1) = mpmc::unbounded::<u32>();
    let (tx2, rx2) = mpmc::unbounded::<u32>();
    tx2.send(2).unwrap();
    let mut sel = Select::new();
    let _a = sel.recv(&rx1);
    let b = sel.recv(&rx2);
    let oper = sel.select();
    assert_eq!(oper.index(), b);
    assert_eq!(oper.recv(&rx2), Ok(2));
}

#[test]
fn a_chosen_send_takes_its_value_only_when_completed() {
    let (tx, rx) = mpmc::bounded::<String>(1);
    let mut sel = Select::new();
    let i = sel.send(&tx);
    let oper = sel.try_select().unwrap();
    assert_eq!(oper.index(), i);
    // The place is secured: nobody else can fill it now.
    assert!(tx.try_send("other".into()).is_err());
    oper.send(&tx, "mine".to_string()).unwrap();
    assert_eq!(rx.try_recv().as_deref(), Ok("mine"));
}

#[test]
fn select_waits_for_an_operation_of_another_thread() {
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let s = thread::spawn(move || tx.send(7).unwrap());
    let mut sel = Select::new();
    sel.recv(&rx);
    let oper = sel.select();
    assert_eq!(oper.recv(&rx), Ok(7));
    s.join().unwrap();
}

#[test]
fn try_select_fails_when_nothing_is_ready() {
    let (_tx, rx) = mpmc::bounded::<u32>(0);
    let mut sel = Select::new();
    sel.recv(&rx);
    assert!(matches!(sel.try_select(), Err(TrySelectError)));
}

#[test]
fn select_timeout_and_deadline_fail_when_nothing_becomes_ready() {
    let (_tx, rx) = mpmc::bounded::<u32>(0);
    let mut sel = Select::new();
    sel.recv(&rx);
    assert!(matches!(
        sel.select_timeout(Duration::from_millis(5)),
        Err(SelectTimeoutError)
    ));
    assert!(matches!(
        sel.select_deadline(Instant::now() + Duration::from_millis(5)),
        Err(SelectTimeoutError)
    ));
}

#[test]
fn ready_reports_without_performing_the_operation() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let mut sel = Select::new();
    let i = sel.recv(&rx);
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    tx.send(1).unwrap();
    assert_eq!(sel.try_ready(), Ok(i));
    assert_eq!(sel.ready(), i);
    // Still there: ready does not receive.
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn ready_waits_for_another_thread() {
    let (tx, rx) = mpmc::bounded::<u32>(1);
    let mut sel = Select::new();
    let i = sel.recv(&rx);
    let s = thread::spawn(move || tx.send(3).unwrap());
    assert_eq!(sel.ready(), i);
    assert_eq!(rx.try_recv(), Ok(3));
    s.join().unwrap();
}

#[test]
fn ready_timeout_fails_when_nothing_becomes_ready() {
    let (_tx, rx) = mpmc::bounded::<u32>(0);
    let mut sel = Select::new();
    sel.recv(&rx);
    assert_eq!(
        sel.ready_timeout(Duration::from_millis(5)),
        Err(ReadyTimeoutError)
    );
}

#[test]
fn a_removed_operation_is_never_chosen_and_indices_are_not_reused() {
    let (tx1, rx1) = mpmc::unbounded::<u32>();
    let (tx2, rx2) = mpmc::unbounded::<u32>();
    drop(tx1); // rx1 is disconnected: always ready
    tx2.send(2).unwrap();
    let mut sel = Select::new();
    let a = sel.recv(&rx1);
    let b = sel.recv(&rx2);
    sel.remove(a);
    let c = sel.recv(&rx1);
    assert!(c != a && c != b);
    sel.remove(c);
    let oper = sel.select();
    assert_eq!(oper.index(), b);
    assert_eq!(oper.recv(&rx2), Ok(2));
}

#[test]
fn a_select_can_be_used_again() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let first = sel.select().recv(&rx).unwrap();
    let second = sel.select().recv(&rx).unwrap();
    assert_eq!((first, second), (1, 2));
}

#[test]
fn completing_with_another_channel_panics() {
    let (tx, rx) = mpmc::unbounded::<u32>();
    let (_tx2, rx2) = mpmc::unbounded::<u32>();
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let oper = sel.select();
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| oper.recv(&rx2))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("another channel"), "{msg}");
}

#[test]
fn dropping_a_selected_operation_without_completing_panics() {
    let (tx, _rx) = mpmc::bounded::<u32>(1);
    let mut sel = Select::new();
    sel.send(&tx);
    let oper = sel.select();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(oper))).unwrap_err();
    let msg = err.downcast_ref::<&str>().unwrap();
    assert!(msg.contains("without completing"), "{msg}");
    // The secured place was given back.
    tx.try_send(1).unwrap();
}

#[test]
fn a_biased_select_chooses_the_first_ready_operation() {
    let (tx1, rx1) = mpmc::unbounded::<u32>();
    let (tx2, rx2) = mpmc::unbounded::<u32>();
    let mut sel = Select::new_biased();
    let a = sel.recv(&rx1);
    sel.recv(&rx2);
    for _ in 0..50 {
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
        let oper = sel.select();
        assert_eq!(oper.index(), a);
        oper.recv(&rx1).unwrap();
        rx2.try_recv().unwrap();
    }
}

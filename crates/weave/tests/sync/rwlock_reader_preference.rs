//! `RwLock::read_preferring` and `try_read_preferring` (reader
//! preference): a reader gets in while readers hold the lock even if a
//! writer waits, and one blocked by a holding writer gets in when that
//! writer lets go.

use crate::wait_common::wait_blocked;

use std::sync::Arc;
use weave::sync::RwLock;
use weave::thread::BlockReason;

#[test]
fn a_preferring_reader_gets_in_beside_a_reader_while_a_writer_waits() {
    let l = Arc::new(RwLock::new(Vec::new()));
    let first_read = l.read().unwrap();
    let l2 = l.clone();
    let writer = weave::thread::spawn(move || l2.write().unwrap().push("writer"));
    wait_blocked(writer.thread().id(), BlockReason::RwLock);
    // A writer waits: an ordinary reader is held back, a preferring one
    // is not, in either form.
    assert!(l.try_read().is_err());
    let second = l
        .try_read_preferring()
        .expect("held back by a waiting writer");
    let l3 = l.clone();
    let reader = weave::thread::spawn(move || l3.read_preferring().unwrap().clone());
    assert!(
        reader.join().unwrap().is_empty(),
        "the writer got in while readers held the lock"
    );
    drop(second);
    drop(first_read);
    writer.join().unwrap();
    assert_eq!(*l.read().unwrap(), ["writer"]);
}

#[test]
fn a_preferring_reader_waits_for_a_holding_writer_and_sees_its_write() {
    let l = Arc::new(RwLock::new(0u32));
    let mut w = l.write().unwrap();
    assert!(l.try_read_preferring().is_err());
    let l2 = l.clone();
    let reader = weave::thread::spawn(move || *l2.read_preferring().unwrap());
    wait_blocked(reader.thread().id(), BlockReason::RwLock);
    *w = 7;
    drop(w);
    assert_eq!(reader.join().unwrap(), 7);
}

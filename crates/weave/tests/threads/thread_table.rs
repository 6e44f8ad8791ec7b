//! The thread table: ids, stale ids, snapshots, priorities.

use std::time::Duration;
use weave::thread::{self, ThreadError, ThreadState};

#[test]
fn stale_id_is_reported_as_exited() {
    let h = thread::Builder::new()
        .name("short-lived".into())
        .spawn(|| thread::current().id())
        .unwrap();
    let handle = h.thread().clone();
    let id = h.join().unwrap();
    assert_eq!(id, handle.id());
    let err = thread::find(id).unwrap_err();
    match &err {
        ThreadError::Exited { id: e, name } => {
            assert_eq!(*e, id);
            // The slot may already hold another thread; if not, it still
            // remembers the name.
            if let Some(n) = name {
                assert_eq!(&**n, "short-lived");
            }
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    assert!(err.to_string().contains("has exited"), "{err}");
    // Operations on a handle of an exited thread are harmless.
    handle.unpark();
    assert!(handle.priority().is_err());
}

#[test]
fn an_id_never_handed_out_is_unknown() {
    let bogus = thread::ThreadId::from_u64((1u64 << 32) | 0xFFFF_FF00).unwrap();
    assert!(matches!(
        thread::find(bogus),
        Err(ThreadError::Unknown { .. })
    ));
    assert!(thread::ThreadId::from_u64(0).is_none());
    assert!(
        thread::ThreadId::from_u64(5).is_none(),
        "generation 0 is never valid"
    );
}

#[test]
fn reused_slots_get_new_generations() {
    let ids: Vec<_> = (0..2000)
        .map(|_| thread::spawn(|| thread::current().id()).join().unwrap())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for id in &ids {
        assert!(seen.insert(*id), "id {id:?} handed out twice");
    }
    let slots: std::collections::HashSet<u32> = ids.iter().map(|i| i.index()).collect();
    assert!(slots.len() < ids.len(), "death row reused no TCB slot");
}

#[test]
fn the_table_shows_live_threads_with_their_state() {
    let h = thread::Builder::new()
        .name("sleeper-in-table".into())
        .priority(20)
        .spawn(|| thread::sleep(Duration::from_millis(300)))
        .unwrap();
    let id = h.thread().id();
    let mut row = None;
    for _ in 0..100 {
        row = thread::threads().into_iter().find(|t| t.id == id);
        if matches!(row.as_ref().map(|r| r.state), Some(ThreadState::Blocked(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let row = row.expect("the sleeper is in the table");
    assert_eq!(row.name.as_deref(), Some("sleeper-in-table"));
    assert_eq!(row.priority, 20);
    assert_eq!(row.state, ThreadState::Blocked(thread::BlockReason::Sleep));
    assert!(row.lwp.is_some() && !row.os_thread);
    h.join().unwrap();
    assert!(thread::threads().iter().all(|t| t.id != id));
    // The main thread shows up as a registered OS thread.
    let me = thread::current().id();
    let mine = thread::threads().into_iter().find(|t| t.id == me).unwrap();
    assert!(mine.os_thread);
}

#[test]
fn priority_out_of_range_is_refused_with_the_range() {
    let err = thread::Builder::new()
        .priority(32)
        .spawn(|| ())
        .unwrap_err();
    assert!(err.to_string().contains("0 (lowest) to 31"), "{err}");
    let e = thread::current().set_priority(99).unwrap_err();
    assert_eq!(e, ThreadError::InvalidPriority { priority: 99 });
}

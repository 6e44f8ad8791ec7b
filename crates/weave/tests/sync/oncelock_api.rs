//! `OnceLock`'s std-shaped accessors: `set` only once, `get`, `get_mut`,
//! `take`, `into_inner`, and the value dropped exactly once.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use weave::sync::OnceLock;

struct Counted(Arc<AtomicUsize>, u32);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn set_succeeds_once_and_returns_later_values() {
    let cell = OnceLock::new();
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(1), Ok(()));
    assert_eq!(cell.set(2), Err(2));
    assert_eq!(cell.get(), Some(&1));
    assert_eq!(*cell.get_or_init(|| 3), 1, "get_or_init ran on a full cell");
}

#[test]
fn take_get_mut_and_into_inner_move_the_value_out() {
    let mut cell = OnceLock::from(5);
    *cell.get_mut().unwrap() += 1;
    assert_eq!(cell.take(), Some(6));
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(9), Ok(()), "a taken cell can be set again");
    assert_eq!(cell.into_inner(), Some(9));
    assert_eq!(OnceLock::<u8>::new().into_inner(), None);
}

#[test]
fn the_value_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let cell = OnceLock::new();
        let rejected = cell.set(Counted(drops.clone(), 1)).err();
        assert!(rejected.is_none());
        let rejected = cell.set(Counted(drops.clone(), 2)).unwrap_err();
        assert_eq!(rejected.1, 2);
        drop(rejected);
        assert_eq!(drops.load(SeqCst), 1);
    }
    assert_eq!(drops.load(SeqCst), 2, "the stored value was not dropped");
    let cell = OnceLock::new();
    let _ = cell.set(Counted(drops.clone(), 3));
    let v = cell.into_inner().unwrap();
    assert_eq!(
        drops.load(SeqCst),
        2,
        "into_inner dropped the value it returned"
    );
    drop(v);
    assert_eq!(drops.load(SeqCst), 3);
    let empty: OnceLock<Counted> = OnceLock::new();
    drop(empty);
    assert_eq!(drops.load(SeqCst), 3);
}

#[test]
fn clone_eq_and_debug_follow_the_value() {
    let empty: OnceLock<u32> = OnceLock::default();
    let full = OnceLock::from(3);
    assert_eq!(empty.clone(), OnceLock::new());
    assert_eq!(full.clone().get(), Some(&3));
    assert_eq!(full, OnceLock::from(3));
    assert_ne!(full, OnceLock::from(4));
    assert_ne!(full, empty);
    assert_eq!(format!("{empty:?}"), "OnceLock(<uninit>)");
    assert_eq!(format!("{full:?}"), "OnceLock(3)");
}

#[test]
fn wait_blocks_until_another_thread_sets_the_value() {
    use weave::thread::{BlockReason, ThreadState};
    let cell = Arc::new(OnceLock::new());
    let c = cell.clone();
    let waiter = weave::thread::spawn(move || *c.wait());
    let id = waiter.thread().id();
    while !weave::thread::threads()
        .iter()
        .any(|t| t.id == id && t.state == ThreadState::Blocked(BlockReason::Once))
    {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(cell.set(11), Ok(()));
    assert_eq!(waiter.join().unwrap(), 11);
}

/// std's `Once`, `OnceLock` and `LazyLock` may cross `catch_unwind`;
/// weave's must too, or ported code stops compiling.
#[test]
fn once_types_are_unwind_safe_like_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    unwind_safe::<weave::sync::Once>();
    unwind_safe::<OnceLock<u32>>();
    unwind_safe::<weave::sync::LazyLock<u32>>();
}

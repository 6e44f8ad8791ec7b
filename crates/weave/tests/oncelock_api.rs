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

//! `weave::thread_local!` while a thread destroys its values, as std's
//! `LocalKey` documents it: a key whose destructor is running or has run
//! gives `AccessError` (and `with` panics with std's message), a key not
//! used before may be initialised by a destructor and is destroyed in turn,
//! values are destroyed last-initialised first, and keys of types without
//! drop glue stay usable. On ULTs and on plain OS threads alike.

use std::cell::{Cell, RefCell};
use std::sync::mpsc;

/// Runs `f` on a ULT and on an OS thread; each gets a fresh set of values.
fn on_both(f: fn()) {
    weave::thread::spawn(f).join().unwrap();
    std::thread::spawn(f).join().unwrap();
}

/// Runs `f` when dropped.
struct OnDrop(Option<Box<dyn FnOnce()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

fn on_drop(f: impl FnOnce() + 'static) -> OnDrop {
    OnDrop(Some(Box::new(f)))
}

#[test]
fn try_with_during_its_own_destructor_is_access_error() {
    weave::thread_local! {
        static SELF_REF: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
    }
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let f = move || {
        let tx = tx2.clone();
        SELF_REF.with_borrow_mut(|s| {
            *s = Some(on_drop(move || {
                tx.send(SELF_REF.try_with(|_| ()).is_err()).unwrap();
            }))
        });
    };
    weave::thread::spawn(f.clone()).join().unwrap();
    std::thread::spawn(f).join().unwrap();
    drop(tx);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [true, true]);
}

#[test]
fn with_during_destruction_panics_with_std_message() {
    weave::thread_local! {
        static PROBE: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
    }
    let (tx, rx) = mpsc::channel::<String>();
    let run = move || {
        let tx = tx.clone();
        PROBE.with_borrow_mut(|s| {
            *s = Some(on_drop(move || {
                let err = std::panic::catch_unwind(|| PROBE.with(|_| ())).unwrap_err();
                let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
                tx.send(msg).unwrap();
            }))
        });
    };
    weave::thread::spawn(run).join().unwrap();
    let msg = rx.recv().unwrap();
    assert_eq!(
        msg,
        "cannot access a Thread Local Storage value during or after destruction: AccessError"
    );
}

#[test]
fn a_key_destroyed_earlier_gives_access_error_to_a_later_destructor() {
    // FIRST is initialised first, so destroyed last: by then SECOND's
    // destructor has run.
    weave::thread_local! {
        static FIRST: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
        static SECOND: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    static RESULTS: std::sync::Mutex<Vec<bool>> = std::sync::Mutex::new(Vec::new());
    on_both(|| {
        FIRST.with_borrow_mut(|f| {
            *f = Some(on_drop(|| {
                let gone = SECOND.try_with(|_| ()).is_err();
                RESULTS.lock().unwrap().push(gone);
            }))
        });
        SECOND.with_borrow_mut(|s| s.push(1));
    });
    assert_eq!(*RESULTS.lock().unwrap(), [true, true]);
}

#[test]
fn values_are_destroyed_last_initialised_first() {
    weave::thread_local! {
        static A: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
        static B: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
        static C: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
    }
    static ORDER: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(Vec::new());
    weave::thread::spawn(|| {
        // Initialised in the order B, C, A.
        for (key, name) in [(&B, "B"), (&C, "C"), (&A, "A")] {
            key.set(Some(on_drop(move || ORDER.lock().unwrap().push(name))));
        }
    })
    .join()
    .unwrap();
    assert_eq!(*ORDER.lock().unwrap(), ["A", "C", "B"]);
}

#[test]
fn a_destructor_may_initialise_an_unused_key_which_is_then_destroyed() {
    weave::thread_local! {
        static OUTER: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
        static LATE: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
    }
    static SEEN: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(Vec::new());
    on_both(|| {
        OUTER.set(Some(on_drop(|| {
            SEEN.lock().unwrap().push("outer");
            let ok = LATE
                .try_with(|l| {
                    *l.borrow_mut() = Some(on_drop(|| SEEN.lock().unwrap().push("late")));
                })
                .is_ok();
            assert!(ok, "an unused key can be initialised during destruction");
        })));
    });
    assert_eq!(*SEEN.lock().unwrap(), ["outer", "late", "outer", "late"]);
}

#[test]
fn a_key_without_drop_glue_stays_usable_during_destruction() {
    weave::thread_local! {
        static PLAIN: Cell<u32> = const { Cell::new(0) };
        static DTOR: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
    }
    static READ: std::sync::Mutex<Vec<Option<u32>>> = std::sync::Mutex::new(Vec::new());
    on_both(|| {
        DTOR.set(Some(on_drop(|| {
            READ.lock().unwrap().push(PLAIN.try_with(Cell::get).ok());
        })));
        PLAIN.set(7);
    });
    assert_eq!(*READ.lock().unwrap(), [Some(7), Some(7)]);
}

#[test]
fn a_destructor_may_block_the_ult() {
    weave::thread_local! {
        static SLOW: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
    }
    let (tx, rx) = weave::sync::mpsc::channel::<u32>();
    let h = weave::thread::spawn(move || {
        SLOW.set(Some(on_drop(move || {
            // Blocks this ULT until main sends.
            assert_eq!(rx.recv().unwrap(), 5);
        })));
    });
    tx.send(5).unwrap();
    h.join().unwrap();
}

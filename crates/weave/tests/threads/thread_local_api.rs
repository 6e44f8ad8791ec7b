//! The declaration forms of `weave::thread_local!` and the `LocalKey`
//! methods of std for `Cell` and `RefCell` keys, each per ULT.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

mod declared {
    use std::cell::Cell;
    weave::thread_local! {
        /// A documented, public key: attributes and visibility are kept.
        #[allow(dead_code)]
        pub static VISIBLE: Cell<u8> = const { Cell::new(9) };
        pub(crate) static ALSO: Cell<u8> = Cell::new(4)
    }
}

#[test]
fn several_declarations_with_attributes_and_visibility() {
    assert_eq!(declared::VISIBLE.get(), 9);
    assert_eq!(declared::ALSO.get(), 4);
}

#[test]
fn const_initialiser_gives_each_ult_its_own_value() {
    weave::thread_local! {
        static N: Cell<u32> = const { Cell::new(10) };
    }
    let hs: Vec<_> = (0..50)
        .map(|i| {
            weave::thread::spawn(move || {
                N.set(N.get() + i);
                weave::thread::yield_now();
                N.get()
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), 10 + i as u32);
    }
}

#[test]
fn cell_get_set_take_replace() {
    weave::thread_local! {
        static C: Cell<u32> = const { Cell::new(1) };
    }
    let r = weave::thread::spawn(|| {
        let first = C.get();
        C.set(5);
        let replaced = C.replace(6);
        let taken = C.take();
        (first, replaced, taken, C.get())
    })
    .join()
    .unwrap();
    assert_eq!(r, (1, 5, 6, 0));
}

static INITS: AtomicUsize = AtomicUsize::new(0);

fn counted_init() -> u32 {
    INITS.fetch_add(1, Ordering::SeqCst);
    100
}

#[test]
fn set_does_not_run_the_initialiser() {
    weave::thread_local! {
        static CELL: Cell<u32> = Cell::new(counted_init());
        static REF: RefCell<u32> = RefCell::new(counted_init());
    }
    let r = weave::thread::spawn(|| {
        CELL.set(1);
        REF.set(2);
        (CELL.get(), REF.with_borrow(|v| *v))
    })
    .join()
    .unwrap();
    assert_eq!(r, (1, 2));
    assert_eq!(INITS.load(Ordering::SeqCst), 0);
}

#[test]
fn refcell_with_borrow_set_take_replace() {
    weave::thread_local! {
        static V: RefCell<Vec<u32>> = RefCell::new(vec![1]);
    }
    let r = weave::thread::spawn(|| {
        V.with_borrow_mut(|v| v.push(2));
        let seen = V.with_borrow(|v| v.clone());
        let replaced = V.replace(vec![3]);
        let taken = V.take();
        V.set(vec![4]);
        (seen, replaced, taken, V.with_borrow(Vec::clone))
    })
    .join()
    .unwrap();
    assert_eq!(r, (vec![1, 2], vec![1, 2], vec![3], vec![4]));
}

#[test]
fn with_borrow_mut_while_borrowed_panics() {
    weave::thread_local! {
        static B: RefCell<u8> = const { RefCell::new(0) };
    }
    let r = weave::thread::spawn(|| B.with_borrow(|_| B.with_borrow_mut(|v| *v += 1))).join();
    assert!(r.is_err());
}

//! A permit held by a thread that panics is given back as the panic
//! unwinds, and a thread waiting for it gets it.

use std::sync::Arc;
use weave::sync::Semaphore;

#[test]
fn a_waiter_gets_the_permit_of_a_holder_that_panicked() {
    let s = Arc::new(Semaphore::new(1));
    let held = Arc::new(Semaphore::new(0));
    let go = Arc::new(Semaphore::new(0));
    let (s2, held2, go2) = (s.clone(), held.clone(), go.clone());
    let panicker = weave::thread::spawn(move || {
        let _p = s2.acquire();
        held2.release(1);
        go2.acquire().forget();
        panic!("while holding a permit");
    });
    // The panicker holds the only permit: the waiter can only get it back
    // from the unwinding.
    held.acquire().forget();
    let s3 = s.clone();
    let waiter = std::thread::spawn(move || s3.acquire().forget());
    go.release(1);
    assert!(panicker.join().is_err());
    waiter.join().unwrap();
    assert_eq!(s.available_permits(), 0, "the waiter kept the one permit");
}

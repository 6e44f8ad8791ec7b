//! `thread::stack_of`: any thread reads another ULT's stack, the one that
//! ULT runs on (its locals lie inside) and reads itself with
//! `current_stack`; a plain OS thread has none of weave's.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn another_ults_stack_holds_its_locals() {
    let local = Arc::new(AtomicUsize::new(0));
    let own = Arc::new(AtomicUsize::new(0));
    let (l, o) = (local.clone(), own.clone());
    let h = weave::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            let here = 0u8;
            o.store(weave::thread::current_stack().unwrap().0, SeqCst);
            l.store(std::ptr::addr_of!(here) as usize, SeqCst);
            weave::thread::park();
            std::hint::black_box(&here);
        })
        .unwrap();
    while local.load(SeqCst) == 0 {
        std::thread::yield_now();
    }
    let (lo, size) = weave::thread::stack_of(h.thread().id())
        .unwrap()
        .expect("a ULT that ran has a stack");
    assert_eq!(lo, own.load(SeqCst));
    assert_eq!(size, 128 * 1024);
    let at = local.load(SeqCst);
    assert!(at > lo && at < lo + size);
    h.thread().unpark();
    h.join().unwrap();
}

#[test]
fn a_plain_os_thread_has_no_stack_of_weaves() {
    assert_eq!(
        weave::thread::stack_of(weave::thread::current_id()).unwrap(),
        None
    );
}

//! LWPs that started with a signal blocked in the kernel mask they
//! inherited (the program blocked it before its first use of weave) open
//! it when the signal becomes handled through weave: a ULT that unblocked
//! it before then still gets it.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::signal_common::{lwp_tid, tgkill, wait_for, wait_until};
use weave::signal::{self, How, SigSet};
use weave::thread::{self, ThreadId};

const SIG: i32 = libc::SIGUSR2;

#[test]
fn signal_handled_after_lwps_inherited_a_mask_blocking_it_is_delivered() {
    if !in_child!("signal_handled_after_lwps_inherited_a_mask_blocking_it_is_delivered") {
        return;
    }
    // Before weave starts: this OS thread blocks SIG, and every LWP
    // started from here inherits that.
    signal::mask(How::Block, &SigSet::of(&[SIG]));
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let ready = Arc::new(AtomicBool::new(false));
    let r = ready.clone();
    let taker = thread::spawn(move || {
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        r.store(true, SeqCst);
        let _ = rx.recv();
        thread::current().id()
    });
    wait_for(&ready);
    let got: Arc<Mutex<Vec<Option<ThreadId>>>> = Arc::default();
    let g = got.clone();
    signal::handle(SIG, move |i| g.lock().unwrap().push(i.target)).unwrap();
    // To an LWP that started with SIG blocked (not to this process, whose
    // other threads weave does not know and might take it).
    tgkill(lwp_tid(0), SIG);
    wait_until(|| !got.lock().unwrap().is_empty());
    drop(tx);
    let id = taker.join().unwrap();
    assert_eq!(got.lock().unwrap()[0], Some(id));
}

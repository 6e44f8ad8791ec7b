//! Lecture 004, section 23: a handler that locks a mutex the interrupted
//! thread holds deadlocks when it runs on that thread's stack. weave runs
//! it as a thread (section 29): the handler blocks, the interrupted thread
//! goes on and unlocks, the handler gets the lock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};

use crate::signal_common::{lwp_tid, spin_for, tgkill, wait_for};
use weave::signal::{self, How, Route, SigSet};
use weave::sync::Mutex;
use weave::thread;

const SIG: i32 = libc::SIGUSR1;

#[test]
fn handler_locks_the_mutex_the_interrupted_ult_holds() {
    if !in_child!("handler_locks_the_mutex_the_interrupted_ult_holds") {
        return;
    }
    let m = Arc::new(Mutex::new(0u32));
    let entered = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let target = Arc::new(StdMutex::new(None));
    let (hm, he, hd, ht) = (m.clone(), entered.clone(), done.clone(), target.clone());
    signal::handle(SIG, move |info| {
        *ht.lock().unwrap() = Some((info.target, info.route));
        he.store(true, SeqCst);
        *hm.lock().unwrap() += 1; // held by the thread this signal interrupted
        hd.store(true, SeqCst);
    })
    .unwrap();
    signal::mask(How::Block, &SigSet::of(&[SIG]));

    let started = Arc::new(AtomicBool::new(false));
    let lwp = Arc::new(AtomicUsize::new(usize::MAX));
    let (am, ae, s, l) = (m.clone(), entered.clone(), started.clone(), lwp.clone());
    let a = thread::Builder::new()
        .bound()
        .spawn(move || {
            signal::mask(How::Unblock, &SigSet::of(&[SIG]));
            let g = am.lock().unwrap();
            l.store(thread::current_lwp().unwrap(), SeqCst);
            s.store(true, SeqCst);
            // Holding the lock, keep running until the handler is blocked on it.
            spin_for(&ae);
            drop(g);
            thread::current().id()
        })
        .unwrap();
    wait_for(&started);
    tgkill(lwp_tid(lwp.load(SeqCst)), SIG);
    wait_for(&done);
    let a_id = a.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 1, "the handler got the lock");
    assert_eq!(
        *target.lock().unwrap(),
        Some((Some(a_id), Route::Running)),
        "the signal interrupted the lock holder"
    );
}

//! A ULT blocked on a channel gives its LWP to others, and the thread
//! table says why it waits. One LWP makes it a proof: a receiver that
//! blocked the LWP would never let its sender run.

use weave::sync::mpmc;
use weave::thread::{self, BlockReason, ThreadState};

fn state_of(id: thread::ThreadId) -> Option<ThreadState> {
    thread::threads()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.state)
}

#[test]
fn receiver_and_sender_share_one_lwp() {
    weave::set_concurrency(1).unwrap();
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let (back_tx, back_rx) = mpmc::bounded::<u32>(0);
    let r = thread::spawn(move || {
        let v = rx.recv().unwrap();
        back_tx.send(v + 1).unwrap();
    });
    let s = thread::spawn(move || {
        tx.send(5).unwrap();
        back_rx.recv().unwrap()
    });
    assert_eq!(s.join().unwrap(), 6);
    r.join().unwrap();

    // The table shows a ULT blocked on a channel as such.
    let (tx, rx) = mpmc::bounded::<u32>(0);
    let waiting = thread::spawn(move || rx.recv());
    let id = waiting.thread().id();
    while state_of(id) != Some(ThreadState::Blocked(BlockReason::Channel)) {
        thread::yield_now();
        std::thread::yield_now();
    }
    tx.send(1).unwrap();
    assert_eq!(waiting.join().unwrap(), Ok(1));
    weave::set_concurrency(0).unwrap();
}

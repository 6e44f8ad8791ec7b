//! An OS thread waiting inside weave spins briefly on its state word, then
//! announces its park and parks in the kernel; its waker unparks it only
//! if it announced the park (`thread/state.rs`, "An OS thread's wait").
//! Whichever way each wait ends, none is lost: a wake that comes during
//! the spin, one that comes after the park, and waits that time out or
//! meet a stray `unpark` in between.

use std::time::Duration;

use weave::sync::mpsc;
use weave::thread;

/// Many short waits of an OS thread (main's side of a rendezvous
/// ping-pong with a ULT): woken during the spin when the ULT answers in
/// time, after the park otherwise, and with the spin skipped once it kept
/// failing. A lost wake-up hangs here.
#[test]
fn an_os_thread_ping_pongs_with_a_ult_losing_no_wake() {
    const TRIPS: usize = 20_000;
    let (to_ult, from_os) = mpsc::sync_channel::<usize>(0);
    let (to_os, from_ult) = mpsc::sync_channel::<usize>(0);
    let echo = thread::spawn(move || {
        for v in from_os.iter() {
            to_os.send(v + 1).unwrap();
        }
    });
    for i in 0..TRIPS {
        to_ult.send(i).unwrap();
        assert_eq!(from_ult.recv().unwrap(), i + 1);
    }
    drop(to_ult);
    echo.join().unwrap();
}

/// Waits far longer than any spin: the OS thread must park, and the ULT's
/// send must unpark it. Ten in a row take it through the back-off (it
/// stops spinning after a few misses) and a probe.
#[test]
fn an_os_thread_parked_past_its_spin_is_woken() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    let sender = thread::spawn(move || {
        for i in 0..10 {
            thread::sleep(Duration::from_millis(5));
            tx.send(i).unwrap();
        }
    });
    for i in 0..10 {
        assert_eq!(rx.recv().unwrap(), i);
    }
    sender.join().unwrap();
}

/// A wait that times out (its word goes back to running by the thread's
/// own hand, possibly with its park announced) leaves the next wait
/// intact, and so does a stray `unpark` of the OS thread meanwhile.
#[test]
fn a_timed_out_wait_and_a_stray_unpark_leave_the_next_wait_intact() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    for _ in 0..3 {
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(2)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
    }
    let main = std::thread::current();
    let sender = thread::spawn(move || {
        main.unpark();
        thread::sleep(Duration::from_millis(10));
        tx.send(7).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 7);
    sender.join().unwrap();
}

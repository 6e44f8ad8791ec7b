//! The locks on weave ULTs: spinning ULTs that share an LWP make progress,
//! and "disabling interrupts" keeps out exactly the ULTs of the same LWP.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use weave::thread;
use weave_classic::{
    CriticalSection, InterruptLock, OsThread, Preemption, TicketLock, TslLock, WeaveUlt,
};

static ONE_LWP: Mutex<()> = Mutex::new(());

#[test]
fn spinning_ults_on_one_lwp_do_not_deadlock() {
    let _g = ONE_LWP.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    let ticket = Arc::new(TicketLock::<WeaveUlt>::default());
    let tsl = Arc::new(TslLock::<WeaveUlt>::default());
    let count = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let (ticket, tsl, count) = (ticket.clone(), tsl.clone(), count.clone());
            thread::spawn(move || {
                for _ in 0..200 {
                    {
                        let _a = ticket.enter(());
                        // Hand the LWP over while holding the lock: the
                        // others spin, and must yield for us to come back.
                        thread::yield_now();
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    let _b = tsl.enter(());
                    thread::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(count.load(Ordering::Relaxed), 1600);
    weave::set_concurrency(0).unwrap();
}

struct Region<P> {
    lock: InterruptLock<P>,
    inside: AtomicUsize,
    overlaps: AtomicUsize,
}

impl<P: Preemption> Region<P> {
    fn arrive(&self) {
        if self.inside.fetch_add(1, Ordering::SeqCst) > 0 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// On one LWP, a low-priority ULT is inside the region (with safe points in
/// it) when a high-priority ULT that wants in becomes runnable. Returns how
/// many times both were inside at once.
fn overlaps_with<P>() -> usize
where
    P: Preemption + Send + Sync + 'static,
{
    let region = Arc::new(Region::<P> {
        lock: InterruptLock::default(),
        inside: AtomicUsize::new(0),
        overlaps: AtomicUsize::new(0),
    });
    let r = region.clone();
    thread::Builder::new()
        .priority(5)
        .spawn(move || {
            let cli = r.lock.enter(());
            r.arrive();
            let r2 = r.clone();
            // Spawn is a safe point: the high ULT is runnable from here on.
            let high = thread::Builder::new()
                .priority(30)
                .spawn(move || {
                    let _cli = r2.lock.enter(());
                    r2.arrive();
                    r2.leave();
                })
                .unwrap();
            for _ in 0..50 {
                thread::preempt_point();
            }
            r.leave();
            drop(cli);
            high.join().unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    region.overlaps.load(Ordering::SeqCst)
}

#[test]
fn disabling_interrupts_keeps_out_the_ults_of_the_same_lwp() {
    let _g = ONE_LWP.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    let with = overlaps_with::<WeaveUlt>();
    let without = overlaps_with::<OsThread>();
    weave::set_concurrency(0).unwrap();
    assert_eq!(
        with, 0,
        "preemption off: the high ULT waited for the region"
    );
    assert_eq!(
        without, 1,
        "no-op preemption: the high ULT ran inside the region"
    );
}

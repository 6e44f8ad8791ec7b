//! Condition 4, bounded waiting, for the ticket lock, on real threads.
//!
//! loom cannot state "a waiter is overtaken at most N - 1 times": it does not
//! model time and its scheduler is not fair. What bounded waiting rests on
//! can be checked directly, though: the lock serves tickets strictly in the
//! order they were taken. A thread that holds ticket `t` then enters after
//! exactly the holders of the earlier tickets, at most one per other thread.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Mutex;
use std::thread;
use weave_classic::{CriticalSection, TicketLock};

#[test]
fn waiters_are_served_in_the_order_they_took_tickets() {
    const WAITERS: u32 = 4;
    let lock = TicketLock::new();
    let order = Mutex::new(Vec::new());
    thread::scope(|s| {
        let held = lock.enter(());
        for waiter in 0..WAITERS {
            let (lock, order) = (&lock, &order);
            s.spawn(move || {
                let _inside = lock.enter(());
                order.lock().unwrap().push(waiter);
            });
            // Line the waiters up one at a time: wait until this one has
            // taken its ticket (holder + waiters so far) before starting
            // the next.
            while lock.queue_len() != waiter + 2 {
                thread::yield_now();
            }
        }
        drop(held);
    });
    assert_eq!(*order.lock().unwrap(), (0..WAITERS).collect::<Vec<_>>());
}

#[test]
fn every_entry_holds_the_next_ticket_under_contention() {
    const THREADS: u32 = 4;
    const ROUNDS: u32 = 5_000;
    let lock = TicketLock::new();
    let entries = AtomicU32::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let inside = lock.enter(());
                    // Only the holder touches `entries`, so Relaxed is
                    // enough; the lock orders the holders.
                    let entry = entries.fetch_add(1, Relaxed);
                    assert_eq!(inside.ticket(), entry, "served out of ticket order");
                }
            });
        }
    });
    assert_eq!(entries.load(Relaxed), THREADS * ROUNDS);
    assert_eq!(lock.queue_len(), 0);
}

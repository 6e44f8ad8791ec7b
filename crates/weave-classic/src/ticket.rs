//! The ticket lock: take a number, wait until it is called.
//!
//! ```text
//! enter:  my = fetch_and_increment(next);   /* take a ticket */
//!         while (serving != my) ;            /* wait to be called */
//! leave:  serving = my + 1;                  /* call the next one */
//! ```
//!
//! Like the bakery at the counter: tickets are handed out by one atomic
//! increment, so they are distinct and ordered, and threads enter in ticket
//! order. That adds the fourth condition, bounded waiting, to what TSL gives:
//! a thread that has taken ticket `t` enters after exactly the holders of the
//! tickets before it, at most one per other thread, so it is overtaken at most
//! `N - 1` times (FIFO).
//!
//! loom checks mutual exclusion and progress but cannot state "waits at most
//! N - 1 entries" (it explores interleavings, not the order threads are
//! served in over time, and its scheduler is not fair). The real-thread tests
//! in `tests/ticket_fairness.rs` check it instead: each entry holds exactly
//! the next ticket under contention, and waiters lined up one after another
//! come in in that order.
//!
//! The price of FIFO: if the thread holding the next ticket is descheduled,
//! everyone behind it waits too, even though the lock is free (a convoy). On
//! a machine with fewer CPUs than threads this shows in the lab's throughput.

use crate::critical_section::{CriticalSection, MutualExclusion};
use crate::hooks::{OsThread, Relax};
use crate::sync::AtomicU32;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// A FIFO spin lock. Any number of threads (fewer than 2^32 waiting at once:
/// the counters wrap).
pub struct TicketLock<R = OsThread> {
    /// The next ticket to hand out. Only ever incremented.
    next: AtomicU32,
    /// The ticket allowed in. Written only by the holder, as it leaves.
    serving: AtomicU32,
    _relax: PhantomData<fn() -> R>,
}

impl TicketLock {
    /// An unlocked ticket lock.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Relax> TicketLock<R> {
    /// Tickets handed out and not yet done: the holder plus the waiters, or
    /// 0 when free. A snapshot, stale as soon as it returns.
    pub fn queue_len(&self) -> u32 {
        let serving = self.serving.load(Relaxed);
        self.next.load(Relaxed).wrapping_sub(serving)
    }

    #[cold]
    fn wait_for(&self, ticket: u32) {
        // Acquire pairs with the Release store in `TicketGuard::drop` that
        // calls this ticket.
        while self.serving.load(Acquire) != ticket {
            R::relax();
        }
    }
}

impl<R: Relax> Default for TicketLock<R> {
    fn default() -> Self {
        Self {
            next: AtomicU32::new(0),
            serving: AtomicU32::new(0),
            _relax: PhantomData,
        }
    }
}

impl<R> fmt::Debug for TicketLock<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketLock").finish_non_exhaustive()
    }
}

/// Inside a [`TicketLock`] with [`ticket`](Self::ticket); dropping it calls
/// the next ticket.
#[must_use = "the critical region ends as soon as the guard is dropped"]
pub struct TicketGuard<'a> {
    serving: &'a AtomicU32,
    ticket: u32,
}

impl TicketGuard<'_> {
    /// The ticket this holder was served with. Entries of one lock hold
    /// tickets 0, 1, 2, ... in order (wrapping at 2^32).
    pub fn ticket(&self) -> u32 {
        self.ticket
    }
}

impl Drop for TicketGuard<'_> {
    fn drop(&mut self) {
        // Release pairs with the Acquire load of `serving` in `wait_for` and
        // `try_enter` of the next holder.
        self.serving.store(self.ticket.wrapping_add(1), Release);
    }
}

impl fmt::Debug for TicketGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketGuard")
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

impl<R: Relax> CriticalSection for TicketLock<R> {
    type Id = ();
    type Guard<'a>
        = TicketGuard<'a>
    where
        Self: 'a;

    #[inline]
    fn enter(&self, (): ()) -> TicketGuard<'_> {
        self.enter_with_doorway((), || {})
    }

    /// The doorway is taking the ticket.
    #[inline]
    fn enter_with_doorway(&self, (): (), passed: impl FnOnce()) -> TicketGuard<'_> {
        // Relaxed: the ticket only has to be unique; what orders this
        // critical region after the previous one is the Acquire of `serving`.
        let ticket = self.next.fetch_add(1, Relaxed);
        passed();
        // Acquire pairs with the Release store in `TicketGuard::drop`.
        if self.serving.load(Acquire) != ticket {
            self.wait_for(ticket);
        }
        TicketGuard {
            serving: &self.serving,
            ticket,
        }
    }

    fn try_enter(&self, (): ()) -> Option<TicketGuard<'_>> {
        // Acquire pairs with the Release store in `TicketGuard::drop` that
        // set `serving` to this value.
        let serving = self.serving.load(Acquire);
        // Take ticket `serving` only if it is the next one to hand out, i.e.
        // no one holds or waits. A stale `serving` cannot succeed: `next`
        // has moved past it. Relaxed: the Acquire above already ordered us
        // after the previous holder.
        self.next
            .compare_exchange(serving, serving.wrapping_add(1), Relaxed, Relaxed)
            .ok()?;
        Some(TicketGuard {
            serving: &self.serving,
            ticket: serving,
        })
    }
}

// SAFETY: `fetch_add` hands out each ticket once; `serving` names one ticket
// at a time and only its holder advances it, as it leaves; a thread enters
// only when `serving` equals its ticket. So one holder at a time, and each
// entry acquires the Release store of the previous holder's exit.
unsafe impl<R: Relax> MutualExclusion for TicketLock<R> {}

//! The classic proposals for mutual exclusion with busy waiting, implemented
//! and model-checked.
//!
//! Two threads that read, change and write the same data can interleave so
//! that one's write undoes the other's: a race condition. The fix is to make
//! the code that touches the shared data, the *critical region*, run in one
//! thread at a time. A solution must meet four conditions:
//!
//! 1. **Mutual exclusion**: no two threads are inside their critical regions
//!    at once.
//! 2. **No assumptions** about the speeds of the threads or the number of
//!    CPUs.
//! 3. **Progress**: no thread running outside its critical region blocks
//!    another.
//! 4. **Bounded waiting**: no thread waits forever to enter (no starvation).
//!
//! This crate implements each proposal of the course notes behind one trait,
//! [`CriticalSection`] (enter, get a guard, drop it to leave), and checks
//! which conditions it meets, with the `loom` model checker where the
//! condition is about interleavings and with real threads where it is about
//! time:
//!
//! | proposal | type | threads | 1 excl. | 2 no assumptions | 3 progress | 4 bounded wait |
//! |---|---|---|---|---|---|---|
//! | disabling interrupts | [`InterruptLock`] | one CPU | only on one CPU/LWP | no (one CPU) | yes | yes |
//! | lock variable | [`LockVariable`] | N | **no** (loom finds it) | no | yes | no |
//! | strict alternation | [`StrictAlternation`] | 2 | yes (loom) | no (lockstep) | **no** (loom finds it) | yes |
//! | Peterson, textbook | [`TextbookPeterson`] | 2 | **no** on real CPUs (loom finds it) | no | yes | yes |
//! | Peterson, fenced | [`Peterson`] | 2 | yes (loom) | yes | yes (loom) | yes, ≤ 1 overtake |
//! | TSL | [`TslLock`] | N | yes (loom) | yes | yes (loom) | **no** |
//! | test-and-test-and-set | [`TtasLock`] | N | yes (loom) | yes | yes (loom) | **no** |
//! | ticket lock | [`TicketLock`] | N | yes (loom) | yes | yes (loom) | yes, FIFO (real threads) |
//!
//! How each cell is checked:
//! * mutual exclusion and progress: `tests/loom_mutual_exclusion.rs` and
//!   `tests/loom_progress.rs` run every algorithm under loom, which explores
//!   the interleavings of the real code (bounded in preemptions); a checker
//!   in the critical region panics if two threads are inside, and loom's
//!   `UnsafeCell` panics if a critical region is not ordered after the
//!   previous one. For the broken ones the tests assert that loom *does*
//!   find the failure.
//! * no assumptions about speeds: loom's interleavings stand for every
//!   relative speed; the real-thread tests add real CPUs. Strict alternation
//!   is correct only if both sides want in equally often.
//! * bounded waiting: loom cannot express it (it does not model time and its
//!   scheduler is not fair), so `tests/ticket_fairness.rs` checks with real
//!   threads that the ticket lock serves tickets in order, and the
//!   [`lab`] measures the longest wait and the most times a thread was
//!   overtaken for every algorithm.
//!
//! [`MutualExclusion`] marks the correct ones; only those can guard data in
//! a [`Lock`]. The two-thread algorithms take a [`Side`] and are reached
//! through [`Lock::split`], which hands out one handle per side.
//!
//! ```
//! use weave_classic::{Lock, Peterson, TicketLock};
//!
//! // Any number of threads: a ticket lock.
//! let hits = Lock::new(TicketLock::new(), 0_u32);
//! std::thread::scope(|s| {
//!     for _ in 0..3 {
//!         s.spawn(|| *hits.lock() += 1);
//!     }
//! });
//! assert_eq!(*hits.lock(), 3);
//!
//! // Two threads: Peterson's solution, one side each.
//! let mut log = Lock::new(Peterson::new(), Vec::new());
//! let (mut zero, mut one) = log.split();
//! std::thread::scope(|s| {
//!     s.spawn(move || zero.lock().push(0));
//!     s.spawn(move || one.lock().push(1));
//! });
//! assert_eq!(log.into_inner().len(), 2);
//! ```
//!
//! # Busy waiting and user-level threads
//!
//! Every spin loop calls [`Relax::relax`] once per turn. The default,
//! [`OsThread`], hints the CPU and now and then yields to the kernel. weave
//! plugs in a hook that yields the ULT, because two ULTs sharing one LWP
//! would otherwise deadlock: the waiter spins forever on an LWP the holder
//! needs to run on. Likewise [`InterruptLock`] is generic over
//! [`Preemption`], which weave implements by turning off its preemption of
//! the current LWP.
//!
//! # The lab
//!
//! [`lab::run`] runs every algorithm on real OS threads for a moment and
//! reports mutual-exclusion violations seen, progress, fairness and
//! throughput, so the lock variable can be watched failing.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

mod critical_section;
mod hooks;
mod interrupts;
mod lock;
mod lock_variable;
mod peterson;
mod strict_alternation;
mod sync;
mod ticket;
mod tsl;

#[cfg(not(loom))]
pub mod lab;

pub use critical_section::{CriticalSection, MutualExclusion, Side};
pub use hooks::{OsThread, Preemption, Relax};
pub use interrupts::{InterruptGuard, InterruptLock};
pub use lock::{Lock, LockGuard, SideLock};
pub use lock_variable::{LockVariable, LockVariableGuard, Observed};
pub use peterson::{Peterson, PetersonGuard, TextbookPeterson, TextbookPetersonGuard};
pub use strict_alternation::{StrictAlternation, StrictAlternationGuard};
pub use ticket::{TicketGuard, TicketLock};
pub use tsl::{TslGuard, TslLock, TtasLock};

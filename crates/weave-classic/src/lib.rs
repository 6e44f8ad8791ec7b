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
//! | proposal | type | threads | 1 no two inside | 2 no assumptions | 3 progress | 4 bounded waiting |
//! |---|---|---|---|---|---|---|
//! | disabling interrupts | [`InterruptLock`] | any, on one CPU | only on one CPU (LWP); on two, **no** (loom finds it) | **no**: one CPU | yes (loom) | yes: never waits |
//! | lock variable | [`LockVariable`] | any | **no** (loom finds it, the lab shows it) | **no**: needs no switch between read and write | yes (lab) | no |
//! | strict alternation | [`StrictAlternation`] | 2 | yes (loom) | **no**: both must want in equally often | **no** (loom finds it) | yes: overtaken at most once (lab test) |
//! | Peterson, textbook | [`TextbookPeterson`] | 2 | **no** on real CPUs (loom finds it) | **no**: needs sequentially consistent memory | yes (lab) | yes |
//! | Peterson, fenced | [`Peterson`] | 2 | yes (loom) | yes | yes (loom) | yes: overtaken at most once (lab test) |
//! | TSL | [`TslLock`] | any | yes (loom) | yes | yes (loom) | **no** (lab: overtakes) |
//! | test-and-test-and-set | [`TtasLock`] | any | yes (loom) | yes | yes (loom) | **no** (lab: overtakes) |
//! | ticket lock | [`TicketLock`] | any | yes (loom) | yes | yes (loom) | yes: FIFO (real-thread test) |
//!
//! How each cell is checked:
//! * **No two inside**, and **progress**: `tests/loom_mutual_exclusion.rs`
//!   and `tests/loom_progress.rs` run the real code of every algorithm under
//!   loom, which explores the interleavings of two threads and the values
//!   each load may return under the Rust memory model (bounded in
//!   preemptions). A checker in the critical region panics if two threads
//!   are inside, and loom's `UnsafeCell` panics if a critical region is not
//!   ordered after the previous one by happens-before. For the broken
//!   algorithms the tests assert that loom *does* find the failure, so they
//!   fail if the algorithm were correct. Loom models have two threads; more
//!   are covered by the real-thread tests (`tests/counting.rs`, 4 threads).
//! * **No assumptions about speeds**: loom's interleavings stand for every
//!   relative speed, and its memory model for every CPU the Rust model
//!   allows; the real-thread tests add real CPUs. The entries in that column
//!   name the assumption each broken proposal makes.
//! * **Bounded waiting**: loom cannot express it (it does not model time and
//!   its scheduler is not fair), so `tests/ticket_fairness.rs` checks with
//!   real threads that the ticket lock serves tickets strictly in order, and
//!   the [`lab`] measures, for every algorithm, the longest wait, the most
//!   entries that overtook one waiter after its doorway
//!   ([`CriticalSection::enter_with_doorway`]), and the share of the least
//!   lucky thread; `tests/lab.rs` asserts the bound of one overtake for
//!   Peterson's and strict alternation. Starvation under TSL cannot be shown
//!   in finite time; the lab's overtakes column is the evidence.
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
mod weave_hooks;

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
#[cfg(not(loom))]
pub use weave_hooks::WeaveUlt;

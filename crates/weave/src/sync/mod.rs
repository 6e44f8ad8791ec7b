//! sync: synchronisation that blocks the calling ULT, not its LWP, with
//! the shape of `std::sync`. From a plain OS thread the same calls park the
//! thread in the kernel.
//!
//! - [`mpsc`]: `std::sync::mpsc`'s channels (`channel`, `sync_channel`).
//! - [`mpmc`]: crossbeam-channel-shaped channels (bounded, unbounded,
//!   rendezvous) with cloneable ends and [`select!`](crate::select).
//!
//! Both rest on one channel core (`mpmc/chan.rs`) and the wait protocol of
//! `mpmc/context.rs`; neither touches a run queue or a TCB directly: a
//! blocked operation goes through `sched::block_on` and wakes through a
//! `sched::Waiter`.

pub mod mpmc;
pub mod mpsc;

//! The thread table as a user sees it: [`threads`] reads every live
//! thread's row (id, name, state, priority, LWP, counters).
//!
//! Reads only, below the LWPs and the public thread API (the `thread`
//! module re-exports it): it names the table, the TCB and its state word,
//! and the clock, so the inspection layer (`weave top`, dumps) can use it.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use super::id::{BlockReason, ThreadId};
use super::state;
use super::table::table;
use super::tcb::{Kind, NO_LWP};

/// One row of the thread table.
#[derive(Clone, Debug)]
pub struct ThreadInfo {
    pub id: ThreadId,
    pub name: Option<Arc<str>>,
    pub state: ThreadState,
    pub priority: u8,
    /// The LWP the ULT is placed on, once it has run.
    pub lwp: Option<usize>,
    /// Runs a single bound ULT.
    pub bound: bool,
    /// A plain OS thread registered with weave.
    pub os_thread: bool,
    /// Times an LWP switched to it (the current run included).
    pub switches: u64,
    /// Time spent running on an LWP, finished runs only; `None` while run
    /// time is not measured (see [`crate::set_accounting`]) and for
    /// registered OS threads.
    pub run_time: Option<Duration>,
}

/// A thread's scheduling state, as the table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    Runnable,
    Running,
    Blocked(BlockReason),
}

/// A snapshot of the thread table: every live thread, ULT or registered
/// OS thread. Rows are read one at a time, not atomically as a whole.
pub fn threads() -> Vec<ThreadInfo> {
    let t = table();
    let mut rows = Vec::new();
    for i in 0..t.carved() {
        let tcb = t.slot(i as u32);
        let g = tcb.generation.load(SeqCst);
        let w = tcb.state.load();
        let st = match w.run() {
            state::RUNNABLE => ThreadState::Runnable,
            state::RUNNING => ThreadState::Running,
            state::BLOCKING | state::BLOCKED => ThreadState::Blocked(
                BlockReason::from_u8(w.reason() & !state::TIMED).unwrap_or(BlockReason::Sync),
            ),
            // EXITED: on its way to death row; not a live thread any more.
            _ => continue,
        };
        let home = tcb.home.load(Relaxed);
        let kind = tcb.kind();
        let row = ThreadInfo {
            id: ThreadId::new(i as u32, g),
            name: tcb.name_of(g),
            state: st,
            priority: tcb.priority(),
            lwp: (home != NO_LWP).then_some(home as usize),
            bound: kind == Kind::Bound,
            os_thread: kind == Kind::External,
            switches: tcb.switches.load(Relaxed),
            run_time: (crate::time::clock::accounting() && kind != Kind::External).then(|| {
                Duration::from_nanos(crate::time::clock::ticks_to_ns(tcb.run_ticks.load(Relaxed)))
            }),
        };
        // Keep the row only if the slot still holds the same thread.
        if tcb.generation.load(SeqCst) == g {
            rows.push(row);
        }
    }
    rows
}

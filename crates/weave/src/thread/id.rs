//! Thread ids, block reasons and wait objects: the names every layer uses
//! for a thread, for why it waits and for what it waits on (the trace, the
//! reactor, the scheduler, the thread dump, the deadlock report). Plain
//! values: this file imports nothing of weave's.

use std::fmt;
use std::num::NonZeroU64;

/// Identifies a thread: an index into the thread table and the generation
/// of that slot. An id stays unique for the life of the process in
/// practice (a slot would need 2^32 reuses to repeat one), and looking up
/// an id whose thread has exited says so instead of reaching another thread.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(NonZeroU64);

impl ThreadId {
    pub(crate) fn new(index: u32, generation: u32) -> ThreadId {
        let v = (u64::from(generation) << 32) | u64::from(index);
        ThreadId(NonZeroU64::new(v).expect("generations start at 1"))
    }

    /// The slot in the thread table.
    pub fn index(self) -> u32 {
        self.0.get() as u32
    }

    /// How many threads used the slot before this one, plus one.
    pub fn generation(self) -> u32 {
        (self.0.get() >> 32) as u32
    }

    /// The id as one number (for the C API and logs).
    pub fn as_u64(self) -> NonZeroU64 {
        self.0
    }

    /// The id from [`as_u64`](Self::as_u64), if it could be one.
    pub fn from_u64(v: u64) -> Option<ThreadId> {
        let id = ThreadId(NonZeroU64::new(v)?);
        (id.generation() != 0).then_some(id)
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThreadId({}.{})", self.index(), self.generation())
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ULT {}", self.index())
    }
}

/// Why a thread is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum BlockReason {
    /// In `park` or `park_timeout`.
    Park = 1,
    /// In `sleep`.
    Sleep = 2,
    /// Joining another thread, or waiting for a scope's threads.
    Join = 3,
    /// Waiting on a weave synchronisation primitive.
    Sync = 4,
    /// Waiting for a call run by `weave::blocking` (files, DNS, ...).
    Io = 5,
    /// Sending to or receiving from a `weave::sync` channel.
    Channel = 6,
    /// In `select!` over several channel operations.
    Select = 7,
    /// Waiting for a `sync::Mutex`.
    Mutex = 8,
    /// In a `sync::Condvar` wait (re-taking the mutex after it shows `Mutex`).
    Condvar = 9,
    /// Waiting for permits of a `sync::Semaphore`.
    Semaphore = 10,
    /// In `sync::WaitGroup::wait`.
    WaitGroup = 11,
    /// In `sync::Barrier::wait`.
    Barrier = 12,
    /// Waiting while another thread runs a `sync::Once` / `OnceLock`
    /// initialiser.
    Once = 13,
    /// Waiting for a `sync::RwLock`.
    RwLock = 14,
    /// Waiting for a socket (or other fd) to become readable or writable.
    Net = 15,
    /// In `signal::suspend` (`sigsuspend`, `pause`): waiting for a handler
    /// to run on it.
    Signal = 16,
}

impl BlockReason {
    pub(crate) fn from_u8(v: u8) -> Option<BlockReason> {
        Some(match v {
            1 => BlockReason::Park,
            2 => BlockReason::Sleep,
            3 => BlockReason::Join,
            4 => BlockReason::Sync,
            5 => BlockReason::Io,
            6 => BlockReason::Channel,
            7 => BlockReason::Select,
            8 => BlockReason::Mutex,
            9 => BlockReason::Condvar,
            10 => BlockReason::Semaphore,
            11 => BlockReason::WaitGroup,
            12 => BlockReason::Barrier,
            13 => BlockReason::Once,
            14 => BlockReason::RwLock,
            16 => BlockReason::Signal,
            15 => BlockReason::Net,
            _ => return None,
        })
    }
}

/// What a blocked thread waits on, beside its [`BlockReason`]: kept in one
/// word of its TCB, written by the thread as it blocks
/// (`sched::note_wait_on`), read by the thread dump and the deadlock
/// report. Only the reasons whose wait paths write it show it (see
/// `WaitOn::recorded_for`): for the others the word may be left over
/// from an earlier wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitOn {
    /// The object at this address: a `Mutex`'s lock word, the wait queue of
    /// a `Condvar`, `RwLock`, `Semaphore`, `Barrier`, `WaitGroup` or `Once`,
    /// or a channel (the first one a `select!` waits on).
    Object(usize),
    /// A file descriptor, for readiness.
    Fd(i32),
    /// A deadline: a sleep ends then.
    Deadline(std::time::Instant),
}

/// The word's tag, in its low two bits (objects are at least 4-aligned).
const WAIT_OBJECT: u64 = 1;
const WAIT_FD: u64 = 2;
const WAIT_DEADLINE: u64 = 3;

/// Deadlines are stored as nanoseconds after this instant (the first one
/// stored): 62 bits of them last 146 years.
fn deadline_base() -> std::time::Instant {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(std::time::Instant::now)
}

impl WaitOn {
    /// The TCB word for this wait.
    #[inline]
    pub(crate) fn word(self) -> u64 {
        match self {
            WaitOn::Object(a) => (a as u64 & !3) | WAIT_OBJECT,
            WaitOn::Fd(fd) => u64::from(fd as u32) << 2 | WAIT_FD,
            WaitOn::Deadline(at) => {
                let ns = at.saturating_duration_since(deadline_base()).as_nanos() as u64;
                ns.min(u64::MAX >> 2) << 2 | WAIT_DEADLINE
            }
        }
    }

    /// The wait a TCB word describes; `None` for 0 (nothing recorded).
    pub(crate) fn from_word(w: u64) -> Option<WaitOn> {
        Some(match w & 3 {
            WAIT_OBJECT => WaitOn::Object((w & !3) as usize),
            WAIT_FD => WaitOn::Fd((w >> 2) as u32 as i32),
            WAIT_DEADLINE => {
                WaitOn::Deadline(deadline_base() + std::time::Duration::from_nanos(w >> 2))
            }
            _ => return None,
        })
    }

    /// Whether every wait for `reason` records what it waits on (so the
    /// word is this wait's, not an earlier one's).
    pub(crate) fn recorded_for(reason: BlockReason) -> bool {
        !matches!(
            reason,
            BlockReason::Park | BlockReason::Join | BlockReason::Sync | BlockReason::Io
        )
    }
}

#[cfg(test)]
mod wait_on_tests {
    use super::*;

    #[test]
    fn each_kind_of_wait_survives_its_word() {
        let at = std::time::Instant::now() + std::time::Duration::from_millis(1500);
        let x = 7u64;
        for w in [
            WaitOn::Object(&x as *const u64 as usize),
            WaitOn::Fd(42),
            WaitOn::Deadline(at),
        ] {
            assert_eq!(WaitOn::from_word(w.word()), Some(w));
        }
        assert_eq!(WaitOn::from_word(0), None);
    }
}

/// A wait a signal handler interrupted
/// ([`Semaphore::acquire_interruptible`](crate::sync::Semaphore::acquire_interruptible),
/// [`sleep_until_interruptible`](crate::thread::sleep_until_interruptible)).
/// Here, beside the ids, so that the thread API and the locks both name it
/// without naming each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the wait was interrupted by a signal handler")
    }
}

impl std::error::Error for Interrupted {}

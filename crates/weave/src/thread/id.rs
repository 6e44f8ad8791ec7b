//! Thread ids and block reasons: the two names every layer uses for a
//! thread and for why it waits (the trace, the reactor, the scheduler, the
//! deadlock report). Plain values: this file imports nothing of weave's.

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
            15 => BlockReason::Net,
            _ => return None,
        })
    }
}

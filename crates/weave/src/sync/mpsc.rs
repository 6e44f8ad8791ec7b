//! Multi-producer, single-consumer channels with the API of
//! `std::sync::mpsc`: porting is a change of `use` line, and a blocked
//! `recv` or `send` then blocks only the calling ULT.
//!
//! ```
//! use weave::sync::mpsc;
//! use weave::thread;
//!
//! let (tx, rx) = mpsc::channel();
//! for id in 0..10u64 {
//!     let tx = tx.clone();
//!     thread::spawn(move || tx.send(id).unwrap());
//! }
//! drop(tx);
//! assert_eq!(rx.iter().sum::<u64>(), 45);
//!
//! // A rendezvous: `send` returns once the receiver has the value.
//! let (tx, rx) = mpsc::sync_channel(0);
//! let h = thread::spawn(move || tx.send("hello"));
//! assert_eq!(rx.recv(), Ok("hello"));
//! h.join().unwrap().unwrap();
//! ```
//!
//! This module owns only the std-shaped handles; the channel itself (the
//! buffer, the waiting queues, the hand-off protocol) is the one of
//! [`mpmc`], whose doc describes it and has the table of what
//! blocks a ULT and what blocks its LWP (in short: only the ULT, always;
//! an OS thread parks in the kernel).
//!
//! As in std, [`Sender`] (from [`channel`]) never blocks, [`SyncSender`]
//! (from [`sync_channel`]) blocks while the buffer is full, and
//! [`Receiver`] is not `Clone` and not `Sync`. A send to a channel whose
//! receiver is gone fails with the value inside [`SendError`]; a receive
//! from an empty channel whose senders are all gone fails with
//! [`RecvError`]. Dropping the receiver drops the buffered messages.
//!
//! Like std's, the receiver cannot be shared between threads:
//!
//! ```compile_fail
//! let (_tx, rx) = weave::sync::mpsc::channel::<u8>();
//! let rx = &rx;
//! std::thread::scope(|s| {
//!     s.spawn(move || rx.try_recv());
//! });
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::mpmc;

pub use super::mpmc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

/// An unbounded channel: `send` never blocks.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpmc::unbounded();
    (Sender { inner: tx }, Receiver::new(rx))
}

/// A channel of at most `bound` buffered messages; `0` makes every send a
/// rendezvous with a receive.
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (tx, rx) = mpmc::bounded(bound);
    (SyncSender { inner: tx }, Receiver::new(rx))
}

/// The sending half of [`channel`]. Cloneable; `send` never blocks.
pub struct Sender<T> {
    inner: mpmc::Sender<T>,
}

/// The sending half of [`sync_channel`]. Cloneable; `send` blocks while
/// the buffer is full.
pub struct SyncSender<T> {
    inner: mpmc::Sender<T>,
}

/// The receiving half. Only one thread receives at a time: it is neither
/// `Clone` nor `Sync` (share an [`mpmc::Receiver`] for that).
pub struct Receiver<T> {
    inner: mpmc::Receiver<T>,
    /// `!Sync`, as std's.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Sender<T> {
    /// Sends `value`; fails, giving it back, if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value)
    }
}

impl<T> SyncSender<T> {
    /// Sends `value`, waiting for room (at bound 0, for the receiver).
    /// Fails, giving the value back, if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value)
    }

    /// Sends `value` if that can be done without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(value)
    }
}

impl<T> Receiver<T> {
    fn new(inner: mpmc::Receiver<T>) -> Receiver<T> {
        Receiver {
            inner,
            _not_sync: PhantomData,
        }
    }

    /// Waits for a message; fails once the channel is empty and every
    /// sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.inner.recv()
    }

    /// A message if one is there now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// As [`recv`](Self::recv), waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.inner.recv_timeout(timeout)
    }

    /// As [`recv_timeout`](Self::recv_timeout) until `deadline` (`None`:
    /// none), also giving up with `Timeout` when `stop` says so as the
    /// wait begins and after each wake-up: for a wait that a signal
    /// handler or a cancellation request ends (`signal::wait`).
    pub(crate) fn recv_until_or(
        &self,
        deadline: Option<std::time::Instant>,
        stop: impl Fn() -> bool,
    ) -> Result<T, RecvTimeoutError> {
        self.inner.recv_until_or(deadline, stop)
    }

    /// Waits for each message; ends at disconnection.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// The messages there now, without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SyncSender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// From [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// From [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// From [`Receiver::into_iter`](IntoIterator::into_iter).
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

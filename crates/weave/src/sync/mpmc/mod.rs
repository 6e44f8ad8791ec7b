//! Multi-producer, multi-consumer channels, with the shape of
//! crossbeam-channel: [`bounded`], [`unbounded`], rendezvous (`bounded(0)`),
//! cloneable [`Sender`]s and [`Receiver`]s, [`select!`](crate::select) and
//! [`select_biased!`](crate::select_biased) over several operations, the
//! dynamic [`Select`], and the time channels [`after`], [`tick`] and
//! [`never()`]. Porting from crossbeam-channel is a change of `use` line.
//!
//! ```
//! use weave::sync::mpmc;
//! use weave::thread;
//!
//! let (tx, rx) = mpmc::bounded(16);
//! let producers: Vec<_> = (0..4)
//!     .map(|p| {
//!         let tx = tx.clone();
//!         thread::spawn(move || (0..100).for_each(|i| tx.send(p * 100 + i).unwrap()))
//!     })
//!     .collect();
//! drop(tx); // the receivers see the end once every producer is done
//! let consumers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let rx = rx.clone();
//!         thread::spawn(move || rx.iter().sum::<u64>())
//!     })
//!     .collect();
//! producers.into_iter().for_each(|h| h.join().unwrap());
//! let total: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(total, (0..400).sum());
//! ```
//!
//! ## What blocks what
//!
//! | call                                           | on a ULT blocks | on an OS thread blocks |
//! |------------------------------------------------|-----------------|------------------------|
//! | `send` (bounded, full), `recv` (empty), `select!` without `default`, `Select::select` | the ULT only: its LWP runs others | the OS thread (parked in the kernel) |
//! | `send_timeout`, `recv_timeout`, `select!` with `default(timeout)`, `Select::select_timeout`, a `recv` on [`after`] or [`tick`] | the ULT only, until the deadline (weave's timers) | the OS thread, until the deadline |
//! | `Select::ready`, `ready_timeout` | the ULT only, polling (sleeps of up to 1 ms) | the OS thread, the same way |
//! | `try_send`, `try_recv`, `select!` with `default`, `Select::try_select`, `send` on an unbounded channel | nothing | nothing |
//!
//! ULTs and OS threads may share a channel freely, on either side. Do not
//! hold a `std::sync::Mutex` guard across a blocking channel call: the ULT
//! blocks with the guard held, and another ULT of the same LWP that then
//! takes that mutex blocks the whole LWP, which may be the one that would
//! have run the sender it waits for.
//!
//! ## How it works
//!
//! One internal core (`chan.rs`) picks a flavour by capacity. [`bounded`]
//! channels of capacity 1 to 2^20 (and `sync_channel`'s) are an array of
//! stamped slots (`array.rs`, crossbeam-channel's design), [`unbounded`]
//! ones (and `mpsc::channel`'s) a list of blocks of slots (`list.rs`,
//! likewise): a send and a receive each claim a slot with one CAS,
//! without a lock. A lone waiting `send` or `recv` publishes itself in one
//! word (`waiters.rs`' fast slot), and a sender that finds a receiver
//! there while the buffer is empty hands it the message; other waiters
//! queue in a list under a lock taken only when someone waits, and a
//! woken operation retries. Rendezvous (`bounded(0)`) and
//! larger bounds use the locked flavour (`locked.rs`): a buffer and two
//! FIFO queues of waiting operations under one short lock, with direct
//! hand-off to a waiting partner, as Go's `chan.go`; on a rendezvous a
//! lone receiver waits in one word, and a failed `try_recv` returns,
//! without that lock while no sender waits. Either way a blocked
//! operation is an entry naming a per-call context on the waiter's stack;
//! a partner claims the context with one CAS, so exactly one operation of
//! a `select!` completes, then moves the value (locked) or leaves the
//! woken operation to retry (array), and releases the context
//! (`context.rs`, `select.rs`). A `select!` send arm first secures a
//! permit (a buffer place, a reserved slot, or a waiting receiver) and
//! evaluates its value only then; on an array channel a receiver that
//! reaches a slot reserved that way waits (spinning, then yielding) until
//! the value is written, as in crossbeam. The time channels (`timer.rs`) are receiver flavors with no
//! queue: their deadline joins the wait's. The dynamic [`Select`]
//! (`builder.rs`) runs the same wait. Everything blocks through
//! `sync/block.rs`, the seam the locks use. A blocked ULT shows
//! [`BlockReason::Channel`] or [`BlockReason::Select`] in the thread table.
//!
//! Dropping the last [`Receiver`] drops the buffered messages and makes
//! every send fail with the value given back; dropping the last [`Sender`]
//! lets receivers drain the buffer, then fail.
//!
//! [`BlockReason::Channel`]: crate::thread::id::BlockReason::Channel
//! [`BlockReason::Select`]: crate::thread::id::BlockReason::Select

mod array;
mod builder;
pub(crate) mod chan;
pub(crate) mod context;
mod deferred;
pub(crate) mod error;
mod list;
mod locked;
pub(crate) mod select;
mod timer;
mod waiters;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
// Under loom the channel's own reference count is a checked one too: the
// last handle's drop of the core (`list.rs`, `array.rs`) must see every
// other handle's work, which loom only knows through its own atomics.
#[cfg(loom)]
use loom::sync::Arc;
#[cfg(not(loom))]
use std::sync::Arc;
use std::time::{Duration, Instant};

use chan::{Chan, UNBOUNDED};
use select::{run_tried, run_tried_or, RecvOp, SendOp, Wait};
use timer::Timer;

pub use builder::{Select, SelectedOperation};
pub use error::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};

/// `select!` over several channel operations; see [`crate::select!`].
pub use crate::select;
/// `select!` that prefers its first ready arm; see [`crate::select_biased!`].
pub use crate::select_biased;

/// A channel of at most `cap` buffered messages. With `cap == 0` it is a
/// rendezvous: each send waits until a receiver takes the value.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    // `usize::MAX` would read as unbounded, and no buffer that large fits.
    let cap = cap.min(UNBOUNDED - 1);
    pair(Chan::new(cap))
}

/// A channel without a bound: `send` never blocks.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(UNBOUNDED))
}

fn pair<T>(chan: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    (
        Sender { chan: chan.clone() },
        Receiver {
            flavor: Flavor::Chan(chan),
        },
    )
}

/// A receiver of one message, the [`Instant`] it was due, once `duration`
/// has passed (as crossbeam-channel's `after`). It has no sender and never
/// disconnects; after its message, a receive waits forever. Waiting on it
/// (alone or in a [`select!`](crate::select)) blocks only the ULT, on
/// weave's timers.
///
/// ```
/// use std::time::Duration;
/// use weave::sync::mpmc::{after, select, unbounded};
///
/// let (_tx, rx) = unbounded::<u32>();
/// let timeout = after(Duration::from_millis(10));
/// let timed_out = select! {
///     recv(rx) -> _ => false,
///     recv(timeout) -> _ => true,
/// };
/// assert!(timed_out);
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(at) => at_instant(at),
        None => never(),
    }
}

/// As [`after`], with the message due at `when`.
pub fn at(when: Instant) -> Receiver<Instant> {
    at_instant(when)
}

fn at_instant(at: Instant) -> Receiver<Instant> {
    Receiver {
        flavor: Flavor::Timer(Arc::new(Timer::once(at)), |i| i),
    }
}

/// A receiver of a message every `duration`: the [`Instant`] each was due
/// (as crossbeam-channel's `tick`). The first is due `duration` from now;
/// a tick nobody received is not queued (the next is due one period after
/// the last delivery). Never disconnects; waiting blocks only the ULT.
pub fn tick(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(first) => Receiver {
            flavor: Flavor::Timer(Arc::new(Timer::every(first, duration)), |i| i),
        },
        None => never(),
    }
}

/// A receiver that never gets a message and never disconnects (as
/// crossbeam-channel's `never`): a `select!` arm that is switched off, for
/// example `recv(opt_rx.unwrap_or(never()))`. A receive waits forever.
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: Flavor::Never,
    }
}

/// The deadline `timeout` from now, or none if it is too far to represent.
fn wait_for(timeout: Duration) -> Wait {
    match Instant::now().checked_add(timeout) {
        Some(at) => Wait::Until(at),
        None => Wait::Forever,
    }
}

/// The sending side. Clone it for more producers; the channel disconnects
/// for receivers when the last clone is dropped.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving side. Clone it for more consumers (each message goes to
/// exactly one); the channel disconnects for senders when the last clone
/// is dropped. [`after`], [`tick`] and [`never()`] give receivers of time
/// channels, which have no senders.
pub struct Receiver<T> {
    flavor: Flavor<T>,
}

/// What a [`Receiver`] receives from.
pub(crate) enum Flavor<T> {
    /// A channel with senders.
    Chan(Arc<Chan<T>>),
    /// `after` or `tick`; the function makes the message of the due
    /// instant (the identity: these channels carry `Instant`s).
    Timer(Arc<Timer>, fn(Instant) -> T),
    /// `never`.
    Never,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room (or, at capacity 0, for a receiver).
    /// Fails, giving the value back, if every receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_with(value, Wait::Forever).map_err(|e| match e {
            SendTimeoutError::Disconnected(v) | SendTimeoutError::Timeout(v) => SendError(v),
        })
    }

    /// Sends `value` if that can be done without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// As [`send`](Self::send), waiting at most `timeout`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_with(value, wait_for(timeout))
    }

    /// As [`send`](Self::send), waiting until `deadline` at the latest.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_with(value, Wait::Until(deadline))
    }

    fn send_with(&self, value: T, wait: Wait) -> Result<(), SendTimeoutError<T>> {
        // The common case first, without an operation to build: a waiting
        // receiver or room in the buffer.
        let value = match self.chan.try_send_first(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(v)) => return Err(SendTimeoutError::Disconnected(v)),
            Err(TrySendError::Full(v)) => v,
        };
        let mut op = SendOp::new(&self.chan, value);
        match run_tried(&mut op, wait) {
            Some(_) => op
                .take()
                .map_err(|SendError(v)| SendTimeoutError::Disconnected(v)),
            None => Err(SendTimeoutError::Timeout(
                op.into_value()
                    .expect("an unsent value stays in its operation"),
            )),
        }
    }

    /// Messages waiting in the buffer.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty (always, at capacity 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always, at capacity 0; never when
    /// unbounded).
    pub fn is_full(&self) -> bool {
        self.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The buffer's capacity; `None` if unbounded.
    pub fn capacity(&self) -> Option<usize> {
        let c = self.chan.capacity();
        (c != UNBOUNDED).then_some(c)
    }

    /// Whether every receiver is gone (sends would fail).
    pub fn is_disconnected(&self) -> bool {
        self.chan.receivers_gone()
    }

    /// Whether `self` and `other` send on the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// The address that names this channel.
    fn id(&self) -> *const () {
        Arc::as_ptr(&self.chan).cast()
    }
}

impl<T> Receiver<T> {
    /// Receives a message, waiting for one. Fails once the channel is empty
    /// and every sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_with(Wait::Forever).map_err(|_| RecvError)
    }

    /// Receives a message if one is there now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Chan(chan) => chan.try_recv(),
            Flavor::Timer(timer, make) => timer.try_take().map(make).ok_or(TryRecvError::Empty),
            Flavor::Never => Err(TryRecvError::Empty),
        }
    }

    /// As [`recv`](Self::recv), waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_with(wait_for(timeout))
    }

    /// As [`recv`](Self::recv), waiting until `deadline` at the latest.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_with(Wait::Until(deadline))
    }

    fn recv_with(&self, wait: Wait) -> Result<T, RecvTimeoutError> {
        self.recv_with_or(wait, || false)
    }

    /// As [`recv_deadline`](Self::recv_deadline) (`None`: no deadline),
    /// also giving up with `Timeout` when `stop` says so as the wait
    /// begins and after each wake-up (`select::run_tried_or`).
    pub(crate) fn recv_until_or(
        &self,
        deadline: Option<Instant>,
        stop: impl Fn() -> bool,
    ) -> Result<T, RecvTimeoutError> {
        self.recv_with_or(deadline.map_or(Wait::Forever, Wait::Until), stop)
    }

    fn recv_with_or(&self, wait: Wait, stop: impl Fn() -> bool) -> Result<T, RecvTimeoutError> {
        // The common case first, as in `Sender::send_with`; a receive
        // without a deadline, which waits next if this fails, takes an
        // unwritten slot as empty without a fence (`Chan::try_recv_glance`).
        let got = match &self.flavor {
            Flavor::Chan(chan) => chan.try_recv_glance(matches!(wait, Wait::Forever)),
            _ => self.try_recv(),
        };
        match got {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        // Without a deadline, a first wait without an operation or a
        // context: handed a message by a send on its LWP in the common
        // case (`deferred.rs`; bounded and rendezvous channels); else the
        // full wait, from its first try.
        if let (Wait::Forever, Flavor::Chan(chan)) = (wait, &self.flavor) {
            if !stop() {
                match chan.recv_deferred() {
                    Ok(v) => return Ok(v),
                    Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                    Err(TryRecvError::Empty) => {}
                }
            }
        }
        let mut op = RecvOp::new(&self.flavor);
        match run_tried_or(&mut op, wait, stop) {
            Some(_) => op.take().map_err(RecvTimeoutError::from),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// An iterator that waits for each message and ends at disconnection.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages there now; it does not wait.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Messages waiting in the buffer (for [`after`] and [`tick`], 1 if a
    /// message is due).
    pub fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Chan(chan) => chan.len(),
            Flavor::Timer(timer, _) => usize::from(timer.ready()),
            Flavor::Never => 0,
        }
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always, at capacity 0).
    pub fn is_full(&self) -> bool {
        self.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The buffer's capacity; `None` if unbounded (`Some(1)` for [`after`]
    /// and [`tick`], `Some(0)` for [`never()`], as crossbeam's).
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            Flavor::Chan(chan) => {
                let c = chan.capacity();
                (c != UNBOUNDED).then_some(c)
            }
            Flavor::Timer(..) => Some(1),
            Flavor::Never => Some(0),
        }
    }

    /// Whether every sender is gone (never, for a time channel).
    pub fn is_disconnected(&self) -> bool {
        match &self.flavor {
            Flavor::Chan(chan) => chan.senders_gone(),
            Flavor::Timer(..) | Flavor::Never => false,
        }
    }

    /// Whether `self` and `other` receive from the same channel (every
    /// [`never()`] receiver is the same channel, as in crossbeam).
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (Flavor::Chan(a), Flavor::Chan(b)) => Arc::ptr_eq(a, b),
            (Flavor::Timer(a, _), Flavor::Timer(b, _)) => Arc::ptr_eq(a, b),
            (Flavor::Never, Flavor::Never) => true,
            _ => false,
        }
    }

    /// The address that names this channel (null for [`never()`]).
    fn id(&self) -> *const () {
        Self::flavor_id(&self.flavor)
    }

    /// As [`id`](Self::id), from the flavor an operation holds.
    fn flavor_id(flavor: &Flavor<T>) -> *const () {
        match flavor {
            Flavor::Chan(chan) => Arc::as_ptr(chan).cast(),
            Flavor::Timer(timer, _) => Arc::as_ptr(timer).cast(),
            Flavor::Never => std::ptr::null(),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            Flavor::Chan(chan) => {
                chan.add_receiver();
                Flavor::Chan(chan.clone())
            }
            Flavor::Timer(timer, make) => Flavor::Timer(timer.clone(), *make),
            Flavor::Never => Flavor::Never,
        };
        Receiver { flavor }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Flavor::Chan(chan) = &self.flavor {
            chan.drop_receiver();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// Waits for each message; ends when the channel is empty and every
/// sender is gone. From [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// The messages there now. From [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Waits for each message, owning the receiver. From
/// [`Receiver::into_iter`](IntoIterator::into_iter).
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

/// What `select!` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::select::{run, run_with, Operation, RecvOp, SendOp, Wait};
    use super::{wait_for, Receiver, Sender};
    use std::time::Duration;

    pub fn recv_op<T>(rx: &Receiver<T>) -> RecvOp<'_, T> {
        RecvOp::new(&rx.flavor)
    }

    /// A send whose value is given only if it is chosen.
    pub fn send_op<T>(tx: &Sender<T>) -> SendOp<'_, T> {
        SendOp::lazy(&tx.chan)
    }

    pub fn timeout(d: Duration) -> Wait {
        wait_for(d)
    }
}

/// Waits on several channel operations at once and completes exactly one
/// of them, as crossbeam-channel's `select!`.
///
/// Arms, separated by commas (a trailing comma is fine):
///
/// - `recv(receiver) -> result => body`: `result` is `Result<T, RecvError>`
///   (an error once that channel is empty and disconnected);
/// - `send(sender, value) -> result => body`: `result` is
///   `Result<(), SendError<T>>`. `value` is evaluated only if this arm is
///   chosen (the send is chosen first, with a buffer place or a waiting
///   receiver secured for it), as in crossbeam;
/// - at most one of `default => body` (do not wait: run `body` if nothing
///   is ready now) or `default(timeout) => body` (wait at most `timeout`).
///
/// The channel operands are evaluated once, in order, before anything
/// else, and may be temporaries (`recv(make_rx())`, `send(tx.clone(), v)`).
/// A select of only `default` runs its body; `default(timeout)` alone
/// waits out the timeout (the ULT only). Without a `default`, it waits as
/// long as it takes; on a ULT only the ULT waits. When several operations
/// are ready, one is picked at random ([`select_biased!`](crate::select_biased)
/// picks the first).
///
/// It is linearizable: it completes exactly one operation (never two, and
/// never loses or duplicates a message), and with a `default` it takes the
/// default only if no operation was ready when it tried each of them. One
/// difference from crossbeam: a send arm that is *waiting* on a rendezvous
/// channel (`bounded(0)`) counts as ready for a receiver that waits (it
/// gets the value), but not for a `try_recv` or a `select!` with
/// `default` on the other side, which would have to wait for the value to
/// be evaluated.
///
/// ```
/// use std::time::Duration;
/// use weave::sync::mpmc::{self, select};
///
/// let (tx1, rx1) = mpmc::unbounded::<i32>();
/// let (_tx2, rx2) = mpmc::unbounded::<&str>();
/// weave::thread::spawn(move || tx1.send(7).unwrap());
///
/// let got = select! {
///     recv(rx1) -> msg => msg.unwrap(),
///     recv(rx2) -> msg => msg.unwrap().len() as i32,
///     default(Duration::from_secs(10)) => panic!("nothing in 10 s"),
/// };
/// assert_eq!(got, 7);
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__weave_select!(@parse false [] [] $($arms)* ,)
    };
}

/// As [`select!`], but when several operations are ready the first one
/// (in the order written) is chosen, as crossbeam-channel's
/// `select_biased!`.
///
/// ```
/// use weave::sync::mpmc::{select_biased, unbounded};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = unbounded::<i32>();
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// let first = select_biased! {
///     recv(rx1) -> m => m.unwrap(),
///     recv(rx2) -> m => m.unwrap(),
/// };
/// assert_eq!(first, 1);
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($arms:tt)*) => {
        $crate::__weave_select!(@parse true [] [] $($arms)* ,)
    };
}

/// The parser and code generator behind [`select!`] and
/// [`select_biased!`]; not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __weave_select {
    // Each arm becomes `(recv op h [receiver] pattern => body)` or
    // `(send op h [sender] [value] pattern => body)`; `op` and `h` come
    // from different expansions, so hygiene keeps them apart.
    (@parse $b:tt [$($ops:tt)*] [$($dflt:tt)*]
        recv($rx:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b
            [$($ops)* (recv op h [$rx] $p => $body)] [$($dflt)*] $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] [$($dflt:tt)*]
        recv($rx:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b [$($ops)*] [$($dflt)*]
            recv($rx) -> $p => $body, $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] [$($dflt:tt)*]
        send($tx:expr, $v:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b
            [$($ops)* (send op h [$tx] [$v] $p => $body)] [$($dflt)*] $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] [$($dflt:tt)*]
        send($tx:expr, $v:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b [$($ops)*] [$($dflt)*]
            send($tx, $v) -> $p => $body, $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] []
        default => $body:expr, $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b [$($ops)*]
            [$crate::sync::mpmc::__private::Wait::Never, $body] $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] []
        default => $body:block $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b [$($ops)*] [] default => $body, $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] []
        default($timeout:expr $(,)?) => $body:expr, $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b [$($ops)*]
            [$crate::sync::mpmc::__private::timeout($timeout), $body] $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)*] []
        default($timeout:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__weave_select!(@parse $b [$($ops)*] []
            default($timeout) => $body, $($rest)*)
    };
    (@parse $b:tt [$($ops:tt)+] [] $(,)*) => {
        $crate::__weave_select!(@bind [$($ops)+] [] $b,
            $crate::sync::mpmc::__private::Wait::Forever,
            ::core::unreachable!("select! without default returned without an operation"))
    };
    (@parse $b:tt [$($ops:tt)*] [$wait:expr, $dbody:expr] $(,)*) => {
        $crate::__weave_select!(@bind [$($ops)*] [] $b, $wait, $dbody)
    };
    // Evaluate each channel operand once, in order; a temporary lives to
    // the end of the select (`let h = &temp;` extends it).
    (@bind [(recv $op:ident $h:ident [$rx:expr] $($arm:tt)*) $($rest:tt)*]
        [$($done:tt)*] $($tail:tt)*) => {{
        let $h = &$rx;
        #[allow(unused_mut)]
        let mut $op = $crate::sync::mpmc::__private::recv_op($h);
        $crate::__weave_select!(@bind [$($rest)*] [$($done)* (recv $op $($arm)*)] $($tail)*)
    }};
    (@bind [(send $op:ident $h:ident [$tx:expr] $($arm:tt)*) $($rest:tt)*]
        [$($done:tt)*] $($tail:tt)*) => {{
        let $h = &$tx;
        #[allow(unused_mut)]
        let mut $op = $crate::sync::mpmc::__private::send_op($h);
        $crate::__weave_select!(@bind [$($rest)*] [$($done)* (send $op $($arm)*)] $($tail)*)
    }};
    (@bind [] [$(($kind:ident $op:ident $($arm:tt)*))*] $b:tt, $wait:expr, $dbody:expr) => {{
        let __ops: &mut [&mut dyn $crate::sync::mpmc::__private::Operation] =
            &mut [$(&mut $op as &mut dyn $crate::sync::mpmc::__private::Operation),*];
        match $crate::sync::mpmc::__private::run_with(__ops, $wait, $b) {
            ::core::option::Option::None => $dbody,
            ::core::option::Option::Some(__i) => {
                $crate::__weave_select!(@dispatch __i, 0usize; $(($kind $op $($arm)*))*)
            }
        }
    }};
    (@dispatch $i:ident, $k:expr; (recv $op:ident $p:pat => $body:expr) $($rest:tt)*) => {
        if $i == $k {
            let $p = $op.take();
            $body
        } else {
            $crate::__weave_select!(@dispatch $i, $k + 1; $($rest)*)
        }
    };
    (@dispatch $i:ident, $k:expr; (send $op:ident [$v:expr] $p:pat => $body:expr) $($rest:tt)*) => {
        if $i == $k {
            // The value is evaluated here, once this send was chosen.
            let $p = $op.complete($v);
            $body
        } else {
            $crate::__weave_select!(@dispatch $i, $k + 1; $($rest)*)
        }
    };
    (@dispatch $i:ident, $k:expr;) => {
        ::core::unreachable!("select! completed an operation it does not have")
    };
}

//! [`Select`], the dynamic form of `select!` (crossbeam-channel's): a list
//! of operations built at run time, and the [`SelectedOperation`] it hands
//! back, which the caller completes with the chosen channel.
//!
//! It runs the same wait as `select!` (`select.rs`), with every send lazy:
//! choosing a send secures a permit (a buffer place or a waiting receiver)
//! and [`SelectedOperation::send`] hands the value over, so the value is
//! only produced for the chosen operation. This module owns the list and
//! the type-erased hand-back; it does not touch the channel core.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::error::{
    ReadyTimeoutError, RecvError, SelectTimeoutError, SendError, TryReadyError, TrySelectError,
};
use super::select::{run_with, Operation, RecvOp, SendOp, Wait};
use super::{wait_for, Receiver, Sender};

/// One operation of a [`Select`], with what identifies it again.
trait Handle<'a>: Operation {
    /// The operation itself, for `run`.
    fn as_op(&mut self) -> &mut dyn Operation;
    /// A new, not yet completed, operation on the same channel.
    fn fresh(&self) -> Box<dyn Handle<'a> + 'a>;
    /// The channel's address and the message type, to check the handle
    /// the caller passes to complete the operation.
    fn key(&self) -> Key;
}

/// What a completed operation is checked against.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key {
    id: *const (),
    send: bool,
    type_name: &'static str,
}

impl<'a, T> Handle<'a> for RecvOp<'a, T> {
    fn as_op(&mut self) -> &mut dyn Operation {
        self
    }
    fn fresh(&self) -> Box<dyn Handle<'a> + 'a> {
        Box::new(RecvOp::new(self.flavor()))
    }
    fn key(&self) -> Key {
        Key {
            id: Receiver::flavor_id(self.flavor()),
            send: false,
            type_name: std::any::type_name::<T>(),
        }
    }
}

impl<'a, T> Handle<'a> for SendOp<'a, T> {
    fn as_op(&mut self) -> &mut dyn Operation {
        self
    }
    fn fresh(&self) -> Box<dyn Handle<'a> + 'a> {
        Box::new(SendOp::lazy(self.chan()))
    }
    fn key(&self) -> Key {
        Key {
            id: std::ptr::from_ref::<Chan<T>>(self.chan()).cast(),
            send: true,
            type_name: std::any::type_name::<T>(),
        }
    }
}

/// A select over operations added at run time, as crossbeam-channel's
/// `Select`.
///
/// Add operations with [`send`](Self::send) and [`recv`](Self::recv)
/// (each returns the operation's index), then wait for one with
/// [`select`](Self::select) (or `try_select`, `select_timeout`,
/// `select_deadline`) and complete the [`SelectedOperation`] it returns
/// with the same channel handle. A `Select` may be used again.
///
/// ```
/// use weave::sync::mpmc::{unbounded, Select};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = unbounded::<i32>();
/// tx2.send(2).unwrap();
///
/// let mut sel = Select::new();
/// let a = sel.recv(&rx1);
/// let b = sel.recv(&rx2);
/// let oper = sel.select();
/// assert_eq!(oper.index(), b);
/// assert_eq!(oper.recv(&rx2), Ok(2));
/// # let _ = (a, tx1);
/// ```
///
/// [`ready`](Self::ready) and its variants only say which operation looks
/// ready (it may not be by the time the caller tries it). They notice
/// readiness by polling the channels, sleeping (the ULT only) a little
/// longer between polls, up to 1 ms.
pub struct Select<'a> {
    /// (index, operation), in the order added; removed ones are gone.
    ops: Vec<(usize, Box<dyn Handle<'a> + 'a>)>,
    next_index: usize,
    biased: bool,
}

impl<'a> Select<'a> {
    /// An empty select; when several operations are ready, a random one
    /// is chosen.
    pub fn new() -> Select<'a> {
        Select {
            ops: Vec::new(),
            next_index: 0,
            biased: false,
        }
    }

    /// An empty select that chooses the first ready operation in the order
    /// added.
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    fn add(&mut self, op: Box<dyn Handle<'a> + 'a>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.ops.push((index, op));
        index
    }

    /// Adds a send on `s`; returns its index. The value is given only once
    /// the send is chosen, to [`SelectedOperation::send`].
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        self.add(Box::new(SendOp::lazy(&s.chan)))
    }

    /// Adds a receive on `r`; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        self.add(Box::new(RecvOp::new(&r.flavor)))
    }

    /// Removes the operation `index` (for example one whose channel is
    /// disconnected). Indices are never reused.
    ///
    /// # Panics
    ///
    /// If there is no operation `index` (never added, or removed).
    pub fn remove(&mut self, index: usize) {
        let Some(pos) = self.ops.iter().position(|(i, _)| *i == index) else {
            panic!(
                "Select::remove: no operation with index {index} (never added or already removed)"
            );
        };
        self.ops.remove(pos);
    }

    fn run(&mut self, wait: Wait) -> Option<SelectedOperation<'a>> {
        let biased = self.biased;
        let mut ops: Vec<&mut dyn Operation> =
            self.ops.iter_mut().map(|(_, op)| op.as_op()).collect();
        let pos = run_with(&mut ops, wait, biased)?;
        let (index, op) = &mut self.ops[pos];
        let fresh = op.fresh();
        Some(SelectedOperation {
            index: *index,
            op: Some(std::mem::replace(op, fresh)),
            _not_send: PhantomData,
        })
    }

    /// Completes one ready operation now, or fails if none is ready.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.run(Wait::Never).ok_or(TrySelectError)
    }

    /// Waits until one operation completes.
    ///
    /// # Panics
    ///
    /// If the select has no operations (it would wait forever).
    pub fn select(&mut self) -> SelectedOperation<'a> {
        assert!(
            !self.ops.is_empty(),
            "Select::select with no operations would wait forever: add a send or recv first"
        );
        self.run(Wait::Forever)
            .expect("a select without a deadline returned without an operation")
    }

    /// As [`select`](Self::select), waiting at most `timeout`.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run(wait_for(timeout)).ok_or(SelectTimeoutError)
    }

    /// As [`select`](Self::select), waiting until `deadline` at the latest.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run(Wait::Until(deadline)).ok_or(SelectTimeoutError)
    }

    /// The index of an operation that is ready now (it is not performed).
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        let n = self.ops.len();
        let start = if self.biased || n == 0 {
            0
        } else {
            super::select::start_index(n)
        };
        (0..n)
            .map(|k| &self.ops[(start + k) % n])
            .find(|(_, op)| op.is_ready())
            .map(|(i, _)| *i)
            .ok_or(TryReadyError)
    }

    /// Waits until an operation is ready and returns its index.
    ///
    /// # Panics
    ///
    /// If the select has no operations (it would wait forever).
    pub fn ready(&mut self) -> usize {
        assert!(
            !self.ops.is_empty(),
            "Select::ready with no operations would wait forever: add a send or recv first"
        );
        self.ready_until(None)
            .expect("a ready without a deadline returned without an operation")
    }

    /// As [`ready`](Self::ready), waiting at most `timeout`.
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.ready_until(Instant::now().checked_add(timeout))
            .ok_or(ReadyTimeoutError)
    }

    /// As [`ready`](Self::ready), waiting until `deadline` at the latest.
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.ready_until(Some(deadline)).ok_or(ReadyTimeoutError)
    }

    fn ready_until(&mut self, deadline: Option<Instant>) -> Option<usize> {
        // Polls double from 10 us to 1 ms: quick for a partner that is
        // about to act, cheap for a long wait.
        const FIRST: Duration = Duration::from_micros(10);
        const MOST: Duration = Duration::from_millis(1);
        let mut pause = FIRST;
        loop {
            if let Ok(i) = self.try_ready() {
                return Some(i);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return None;
            }
            // Wake for the next poll, the deadline, or a due time channel.
            let wake = self
                .ops
                .iter()
                .filter_map(|(_, op)| op.deadline())
                .chain(deadline)
                .chain(now.checked_add(pause))
                .min()
                .unwrap_or(now);
            crate::sync::block::sleep_until(wake);
            pause = (pause * 2).min(MOST);
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            ops: self.ops.iter().map(|(i, op)| (*i, op.fresh())).collect(),
            next_index: self.next_index,
            biased: self.biased,
        }
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.ops.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// The operation a [`Select`] chose: complete it with
/// [`send`](Self::send) or [`recv`](Self::recv), passing the same channel
/// handle that was added. Dropping it without completing panics, as in
/// crossbeam (a chosen send gives its permit back first).
#[must_use = "a chosen operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    index: usize,
    op: Option<Box<dyn Handle<'a> + 'a>>,
    /// Completed where it was chosen, as crossbeam's.
    _not_send: PhantomData<*const ()>,
}

impl<'a> SelectedOperation<'a> {
    /// The index [`Select::send`] or [`Select::recv`] returned for it.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Takes the operation out, checking it is the one `want` names.
    fn take_checked(&mut self, want: Key, what: &str) -> Box<dyn Handle<'a> + 'a> {
        let op = self
            .op
            .take()
            .expect("a selected operation completed twice");
        let got = op.key();
        if got != want {
            // Give a chosen send's permit back before reporting the misuse.
            drop(op);
            panic!(
                "SelectedOperation::{what}: passed a handle of another channel (or \
                 operation) than the one selected (operation {})",
                self.index
            );
        }
        op
    }

    /// Completes a chosen send on `s` with `msg`.
    ///
    /// # Panics
    ///
    /// If `s` is not the sender whose operation was chosen.
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        let want = Key {
            id: s.id(),
            send: true,
            type_name: std::any::type_name::<T>(),
        };
        let op = self.take_checked(want, "send");
        // SAFETY: the key matched: the operation is a `SendOp` on the very
        // channel `s` sends on (its address is live for 'a), so its message
        // type is `T`; the box came from `Box::new(SendOp::<T>)`.
        let mut op = unsafe { Box::from_raw(Box::into_raw(op).cast::<SendOp<'_, T>>()) };
        op.complete(msg)
    }

    /// Completes a chosen receive on `r`: the message, or the error of a
    /// disconnected channel.
    ///
    /// # Panics
    ///
    /// If `r` is not the receiver whose operation was chosen.
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        let want = Key {
            id: r.id(),
            send: false,
            type_name: std::any::type_name::<T>(),
        };
        let op = self.take_checked(want, "recv");
        // SAFETY: as in `send`: the key names `r`'s channel and `T`, and
        // `never` (null id) never completes, so the box holds a
        // `RecvOp<'a, T>`.
        let mut op = unsafe { Box::from_raw(Box::into_raw(op).cast::<RecvOp<'_, T>>()) };
        op.take()
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            drop(op);
            if !std::thread::panicking() {
                panic!("dropped `SelectedOperation` without completing the operation");
            }
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

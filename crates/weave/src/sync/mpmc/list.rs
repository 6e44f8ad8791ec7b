//! The list flavour of the channel core: an unbounded queue of blocks of
//! slots that senders and receivers claim with one CAS each, without a
//! lock (the design of crossbeam-channel's list flavour, after Vyukov's
//! unbounded MPMC queue). It backs `unbounded()`; `chan.rs` chooses. It
//! owns the blocks, the two positions and the list of waiting receivers
//! ([`Waiters`]: a send never waits); it blocks nobody (`select.rs` does)
//! and counts no handles (`chan.rs` does).
//!
//! ## Positions
//!
//! `head` and `tail` are each an index and the block that index is in.
//! An index is `position << SHIFT | mark`. Position `p` names slot
//! `p % LAP` of block `p / LAP`; slot number `BLOCK_CAP` (`LAP - 1`) does
//! not exist: a position there means "moving to the next block", and
//! whoever stands there (the sender that filled the block's last slot, the
//! receiver that took it) installs the next block and steps over it, while
//! the others wait. `tail`'s mark bit is the disconnection mark, set by the
//! last handle of either side (as in `array.rs`); `head`'s mark bit is a
//! hint that a later block exists, so a receiver need not load `tail` to
//! know the queue is not empty.
//!
//! ## Slots
//!
//! | `state` bit | set by | when |
//! |---|---|---|
//! | `WRITE` | the sender that reserved the slot | its message is written (Release; the receiver's Acquire load pairs) |
//! | `HOLE` | with `WRITE`, by a permit given back | nothing is in the slot; the receiver skips it |
//! | `READ` | the receiver that reserved the slot | it is done with the slot |
//! | `DESTROY` | the receiver freeing the block | it found this slot not yet `READ`: that slot's receiver frees the block instead |
//!
//! A sender CASes `tail` one position on, writes, then sets `WRITE`; if it
//! took the block's last slot it first installs the next block (allocated
//! before the CAS, so that others wait on it as little as possible). A
//! receiver CASes `head` one position on, waits for `WRITE` (the sender is
//! between its CAS and its store: a few instructions, or, for a `select!`
//! permit, the value expression), reads, and sets `READ`. The receiver of
//! a block's last slot frees the block once every slot is `READ`; a slot
//! whose receiver is still reading gets `DESTROY`, and that receiver then
//! goes on with the freeing. So a block is freed exactly once, after its
//! last reader.
//!
//! ## Waiting, disconnection, the last receiver
//!
//! A receiver that finds the queue empty publishes itself in `receivers`
//! and checks again (`waiters.rs` has the no-lost-wake-up argument: the
//! `tail` CAS is the sender's `SeqCst` half); every message written
//! notifies `receivers`, or is handed straight to a lone waiting receiver
//! when the queue is empty (`Waiters::hand_off`). The last sender sets the
//! mark and wakes every waiting receiver: they drain the queue, then fail.
//! The last receiver sets the mark (sends fail from then on) and drops
//! the messages written so far, stopping at a slot reserved and not yet
//! written (its sender may be the very thread that drains, holding a
//! `select` permit): what such senders write is dropped with the channel.

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};

use super::array::{Backoff, Cell};
use super::context::Context;
use super::error::{SendError, TryRecvError, TrySendError};
use super::waiters::Waiters;
use crate::loom::{fence, AtomicPtr, AtomicUsize};

/// Slots per block. 31 makes `LAP` 32, so that `% LAP` and `/ LAP` are a
/// mask and a shift, and a block of word-sized messages about 512 bytes;
/// under loom 2, so that a model of a few messages crosses blocks.
#[cfg(not(loom))]
const BLOCK_CAP: usize = 31;
#[cfg(loom)]
const BLOCK_CAP: usize = 2;
/// Positions per block: its slots and the step to the next block.
const LAP: usize = BLOCK_CAP + 1;
/// The low bit of an index is the mark (module doc).
const SHIFT: usize = 1;
const MARK_BIT: usize = 1;

/// Slot state bits (module doc).
const WRITE: usize = 1;
const READ: usize = 2;
const DESTROY: usize = 4;
const HOLE: usize = 8;

struct Slot<T> {
    msg: Cell<MaybeUninit<T>>,
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Waits until the slot's sender has written it (module doc); returns
    /// the state seen.
    fn wait_write(&self) -> usize {
        let mut backoff = Backoff::new();
        loop {
            // Acquire pairs with the sender's Release `fetch_or(WRITE)`.
            let state = self.state.load(Acquire);
            if state & WRITE != 0 {
                return state;
            }
            backoff.snooze();
        }
    }
}

struct Block<T> {
    /// The next block, once installed.
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    fn new() -> Box<Block<T>> {
        Box::new(Block {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot {
                msg: Cell::new(MaybeUninit::uninit()),
                state: AtomicUsize::new(0),
            }),
        })
    }

    /// Waits until the next block is installed (its installer is between
    /// its `tail` CAS and this store: a few instructions).
    fn wait_next(&self) -> *mut Block<T> {
        let mut backoff = Backoff::new();
        loop {
            // Acquire pairs with the installer's Release store of `next`.
            let next = self.next.load(Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }

    /// Frees `this` once every slot from `start` on is read; a slot still
    /// being read is marked `DESTROY` and its reader calls this again.
    ///
    /// # Safety
    ///
    /// Every slot before `start` is read, and the caller read the block's
    /// last slot or found `DESTROY` on the slot at `start - 1`.
    unsafe fn destroy(this: *mut Block<T>, start: usize) {
        // The last slot is not looked at: its reader is the one that
        // started the destruction.
        for i in start..BLOCK_CAP - 1 {
            // SAFETY: the block is freed only by this call chain, after the
            // last slot's reader, so it is alive.
            let slot = unsafe { &(*this).slots[i] };
            // Acquire pairs with the reader's AcqRel `fetch_or(READ)`: its
            // read is done before the block goes.
            if slot.state.load(Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, AcqRel) & READ == 0
            {
                // Its reader will go on from `i + 1`.
                return;
            }
        }
        // SAFETY: every slot is read and nobody else frees it: it came from
        // `Box::into_raw` in `reserve`.
        drop(unsafe { Box::from_raw(this) });
    }
}

/// A head or tail: an index and its block.
struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// A position alone on its cache line pair (as `array.rs`'s `Padded`).
#[repr(align(128))]
struct Padded<T>(Position<T>);

/// A slot a sender has reserved and not yet written.
pub(crate) struct Token<T> {
    block: *mut Block<T>,
    offset: usize,
}

/// What [`List::take`] found.
enum Take<T> {
    Msg(T),
    Empty,
    Disconnected,
}

/// An unbounded channel of linked blocks; see the module doc.
pub(crate) struct List<T> {
    head: Padded<T>,
    tail: Padded<T>,
    /// Waiting receivers (the queue was empty).
    receivers: Waiters,
}

// SAFETY: messages move between threads through the slots (`T: Send`); a
// slot's message is accessed only by the one thread that won the index CAS
// for it, ordered by its state's Release/Acquire, and a block is freed by
// one thread, after its last reader (module doc).
unsafe impl<T: Send> Send for List<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for List<T> {}

/// The number of message slots before position `p` (the block steps do
/// not count).
fn slots_before(p: usize) -> usize {
    (p / LAP) * BLOCK_CAP + (p % LAP).min(BLOCK_CAP)
}

impl<T> List<T> {
    pub(crate) fn new() -> List<T> {
        let pos = || Position {
            index: AtomicUsize::new(0),
            block: AtomicPtr::new(ptr::null_mut()),
        };
        List {
            head: Padded(pos()),
            tail: Padded(pos()),
            receivers: Waiters::new(),
        }
    }

    /// Moves `tail` past a free slot; `None` if disconnected.
    fn reserve(&self) -> Option<Token<T>> {
        let mut backoff = Backoff::new();
        // Acquire pairs with the Release stores of a block's installer.
        let mut tail = self.tail.0.index.load(Acquire);
        let mut block = self.tail.0.block.load(Acquire);
        let mut next_block: Option<Box<Block<T>>> = None;
        loop {
            if tail & MARK_BIT != 0 {
                return None;
            }
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another sender is installing the next block.
                backoff.snooze();
                tail = self.tail.0.index.load(Acquire);
                block = self.tail.0.block.load(Acquire);
                continue;
            }
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(Block::new());
            }
            if block.is_null() {
                // The first message: install the first block.
                let new = Box::into_raw(next_block.take().unwrap_or_else(Block::new));
                // Release publishes the block's initialisation to the
                // Acquire loads of `block` (here and in `take`).
                if self
                    .tail
                    .0
                    .block
                    .compare_exchange(ptr::null_mut(), new, Release, Relaxed)
                    .is_ok()
                {
                    self.head.0.block.store(new, Release);
                    block = new;
                } else {
                    // SAFETY: `new` came from `Box::into_raw` just above and
                    // was not published.
                    next_block = Some(unsafe { Box::from_raw(new) });
                    tail = self.tail.0.index.load(Acquire);
                    block = self.tail.0.block.load(Acquire);
                    continue;
                }
            }
            let new_tail = tail.wrapping_add(1 << SHIFT);
            // SeqCst: the sender's half of the Dekker pair with a waiting
            // receiver (`waiters.rs`).
            match self
                .tail
                .0
                .index
                .compare_exchange_weak(tail, new_tail, SeqCst, Acquire)
            {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // We took the last slot: install the next block and
                        // step `tail` over the block's end. `fetch_add`, not
                        // a store: the disconnection mark may have been set
                        // since the CAS, and nobody else moves `tail` while
                        // it stands at the end.
                        let next = Box::into_raw(next_block.take().unwrap_or_else(Block::new));
                        // Release: the block's initialisation, to the Acquire
                        // loads of `tail.block` and `next`.
                        self.tail.0.block.store(next, Release);
                        self.tail.0.index.fetch_add(1 << SHIFT, Release);
                        // SAFETY: `block` is alive: its last slot (ours) is
                        // not read yet, and only that slot's reader frees it.
                        unsafe { (*block).next.store(next, Release) };
                    }
                    return Some(Token { block, offset });
                }
                Err(t) => {
                    tail = t;
                    block = self.tail.0.block.load(Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Writes `v` into a reserved slot (`None`: leaves a hole), and tells a
    /// waiting receiver.
    fn write(&self, token: Token<T>, v: Option<T>) {
        // SAFETY: the block is alive: this slot is not read yet.
        let slot = unsafe { &(*token.block).slots[token.offset] };
        let state = match v {
            Some(v) => {
                // SAFETY: the `tail` CAS gave this slot to us alone until
                // `WRITE` publishes it.
                slot.msg
                    .with_mut(|p| unsafe { p.write(MaybeUninit::new(v)) });
                WRITE
            }
            None => WRITE | HOLE,
        };
        // Release pairs with the receiver's Acquire in `wait_write`.
        slot.state.fetch_or(state, Release);
        self.receivers.notify();
    }

    /// Whether no message is in the queue or reserved now.
    fn is_empty_now(&self) -> bool {
        let head = self.head.0.index.load(SeqCst);
        let tail = self.tail.0.index.load(SeqCst);
        head >> SHIFT == tail >> SHIFT
    }

    /// Takes the message at `head`, skipping holes. A slot reserved and not
    /// yet written is waited for if `WAIT` (a receive), else taken as the
    /// end (the last receiver's drain, alone on its side: see the module
    /// doc).
    fn take<const WAIT: bool>(&self) -> Take<T> {
        let mut backoff = Backoff::new();
        loop {
            // Acquire pairs with the Release stores of the receiver that
            // stepped `head` into its block.
            let head = self.head.0.index.load(Acquire);
            let block = self.head.0.block.load(Acquire);
            let offset = (head >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another receiver is stepping into the next block.
                backoff.snooze();
                continue;
            }
            let mut new_head = head.wrapping_add(1 << SHIFT);
            if new_head & MARK_BIT == 0 {
                // No hint of a later block: is `tail` past us?
                // SeqCst: orders the loads of `head` and `tail`, as a
                // sender's `tail` CAS comes before its write.
                fence(SeqCst);
                let tail = self.tail.0.index.load(Relaxed);
                if head >> SHIFT == tail >> SHIFT {
                    return if tail & MARK_BIT != 0 {
                        Take::Disconnected
                    } else {
                        Take::Empty
                    };
                }
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= MARK_BIT;
                }
            }
            if block.is_null() {
                // The first block is being installed.
                backoff.snooze();
                continue;
            }
            if !WAIT {
                // SAFETY: `block` is alive: its slot at `head` is not read.
                let state = unsafe { (*block).slots[offset].state.load(Acquire) };
                if state & WRITE == 0 {
                    return Take::Empty;
                }
            }
            // SeqCst: as the `tail` CAS, for `len` and the readiness checks.
            if self
                .head
                .0
                .index
                .compare_exchange_weak(head, new_head, SeqCst, Acquire)
                .is_err()
            {
                backoff.spin();
                continue;
            }
            if offset + 1 == BLOCK_CAP {
                // We took the block's last slot: step `head` into the next.
                // SAFETY: alive until its last slot (ours) is read.
                let next = unsafe { (*block).wait_next() };
                let mut next_index = (new_head & !MARK_BIT).wrapping_add(1 << SHIFT);
                // SAFETY: `next` is installed and freed only after its own
                // last slot is read, which is ahead of `head`.
                if !unsafe { (*next).next.load(Relaxed) }.is_null() {
                    next_index |= MARK_BIT;
                }
                // Release pairs with the Acquire loads at the loop's top.
                self.head.0.block.store(next, Release);
                self.head.0.index.store(next_index, Release);
            }
            // SAFETY: the `head` CAS gave us this slot; the block is freed
            // only after we mark the slot read.
            let slot = unsafe { &(*block).slots[offset] };
            let state = slot.wait_write();
            let msg = (state & HOLE == 0).then(|| {
                // SAFETY: written (`WRITE`, not a hole), and ours alone.
                slot.msg.with(|p| unsafe { p.read().assume_init() })
            });
            if offset + 1 == BLOCK_CAP {
                // SAFETY: every other slot's reader has its own turn in
                // `destroy`; we read the last slot.
                unsafe { Block::destroy(block, 0) };
            } else if slot.state.fetch_or(READ, AcqRel) & DESTROY != 0 {
                // AcqRel: Release pairs with the destroyer's Acquire load;
                // Acquire with its `fetch_or(DESTROY)`.
                // SAFETY: the destroyer handed the freeing to us.
                unsafe { Block::destroy(block, offset + 1) };
            }
            match msg {
                Some(v) => return Take::Msg(v),
                None => continue,
            }
        }
    }

    /// Sends without waiting (an unbounded channel never waits): straight
    /// to a lone waiting receiver if the queue is empty, else queued. The
    /// hand-off is out of line, as in `Array::try_send`.
    #[inline]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        if self.receivers.lone_waiter() {
            return self.try_send_handing_off(v);
        }
        self.try_send_queued(v)
    }

    /// [`try_send`](Self::try_send) when a lone receiver was seen waiting.
    #[cold]
    #[inline(never)]
    fn try_send_handing_off(&self, v: T) -> Result<(), TrySendError<T>> {
        // SAFETY: a waiting receiver's slot is an `Option<T>` of this
        // channel's `T` (`register_recv`).
        match unsafe { self.receivers.hand_off(v, || self.is_empty_now()) } {
            Ok(()) => Ok(()),
            Err(v) => self.try_send_queued(v),
        }
    }

    /// Queues `v` without waiting.
    #[inline(always)]
    fn try_send_queued(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.reserve() {
            Some(token) => {
                self.write(token, Some(v));
                Ok(())
            }
            None => Err(TrySendError::Disconnected(v)),
        }
    }

    /// Receives without waiting.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.take::<true>() {
            Take::Msg(v) => Ok(v),
            Take::Empty => Err(TryRecvError::Empty),
            Take::Disconnected => Err(TryRecvError::Disconnected),
        }
    }

    /// Secures a slot for a send whose value does not exist yet; `None`
    /// if disconnected.
    pub(crate) fn try_permit(&self) -> Option<Token<T>> {
        self.reserve()
    }

    /// Completes a permit's send with its value now.
    pub(crate) fn complete(&self, token: Token<T>, v: T) -> Result<(), SendError<T>> {
        if self.is_disconnected() {
            // The last receiver left after the permit: nobody could ever
            // take the value.
            self.write(token, None);
            return Err(SendError(v));
        }
        self.write(token, Some(v));
        Ok(())
    }

    /// Gives a permit's slot back: a hole the receiver skips.
    pub(crate) fn cancel(&self, token: Token<T>) {
        self.write(token, None);
    }

    /// Messages in the queue (holes and reserved slots count).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.index.load(SeqCst);
            let head = self.head.0.index.load(SeqCst);
            // A consistent pair: `tail` did not move while `head` was read.
            if self.tail.0.index.load(SeqCst) == tail {
                return slots_before(tail >> SHIFT).wrapping_sub(slots_before(head >> SHIFT));
            }
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        super::chan::UNBOUNDED
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.0.index.load(SeqCst) & MARK_BIT != 0
    }

    /// Whether a receive would not wait now: a message is there (or being
    /// written), or the channel is disconnected.
    pub(crate) fn recv_ready(&self) -> bool {
        let tail = self.tail.0.index.load(SeqCst);
        tail & MARK_BIT != 0 || tail >> SHIFT != self.head.0.index.load(SeqCst) >> SHIFT
    }

    /// A send never waits.
    pub(crate) fn send_ready(&self) -> bool {
        true
    }

    /// A send never waits: nothing to publish.
    pub(crate) fn register_send(&self, _ctx: &Context, _op: usize) -> bool {
        false
    }

    /// Publishes a waiting receiver whose value slot is `*slot`; false
    /// (withdrawn) if a receive could go ahead now.
    ///
    /// # Safety
    ///
    /// As for [`Waiters::register`]; `slot` stays valid as long as `ctx`.
    pub(crate) unsafe fn register_recv(
        &self,
        ctx: &Context,
        op: usize,
        slot: *mut Option<T>,
    ) -> bool {
        // The waiter's check after its fence (`waiters.rs`): `recv_ready`
        // loads `tail`, which a sender's CAS moves before it notifies.
        // SAFETY: the caller's guarantee.
        unsafe {
            self.receivers
                .register_unless(ctx, op, slot.cast(), || self.recv_ready())
        }
    }

    pub(crate) fn unregister_send(&self, _ctx: &Context) {}

    pub(crate) fn unregister_recv(&self, ctx: &Context) {
        self.receivers.unregister(ctx);
    }

    /// Every sender handle is gone: mark, and wake the waiting receivers
    /// (they drain the queue, then fail).
    pub(crate) fn disconnect_senders(&self) {
        // SeqCst: a receiver that registers after this sees the mark in its
        // check; one that registered before is woken below.
        self.tail.0.index.fetch_or(MARK_BIT, SeqCst);
        self.receivers.disconnect();
    }

    /// Every receiver handle is gone: mark (sends fail from now on), then
    /// drop the messages written so far (module doc).
    pub(crate) fn disconnect_receivers(&self) {
        // SeqCst: as in `disconnect_senders`.
        self.tail.0.index.fetch_or(MARK_BIT, SeqCst);
        let mut buffered = Vec::new();
        while let Take::Msg(v) = self.take::<false>() {
            buffered.push(v);
        }
        // User code: a panicking `Drop` does not stop the others.
        drop(buffered);
    }
}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        // Every handle is gone, so every reserved slot is written, and the
        // blocks before `head`'s are freed.
        let mut head = self.head.0.index.load(Relaxed) & !MARK_BIT;
        let tail = self.tail.0.index.load(Relaxed) & !MARK_BIT;
        let mut block = self.head.0.block.load(Relaxed);
        while head != tail {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: the block holds position `head`, not yet read.
                let slot = unsafe { &(*block).slots[offset] };
                if slot.state.load(Relaxed) & HOLE == 0 {
                    // SAFETY: written (every sender is gone) and never read.
                    drop(slot.msg.with(|p| unsafe { p.read().assume_init() }));
                }
            } else {
                // SAFETY: every slot of `block` is behind us.
                let next = unsafe { (*block).next.load(Relaxed) };
                // SAFETY: from `Box::into_raw` in `reserve`; nobody else
                // frees a block whose last slot was not read.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        if !block.is_null() {
            // SAFETY: as above: the block `tail` is in.
            drop(unsafe { Box::from_raw(block) });
        }
    }
}

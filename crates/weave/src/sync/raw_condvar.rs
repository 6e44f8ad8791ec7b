//! The condition-variable protocol under [`Condvar`](super::Condvar), and
//! the wait that every other blocking primitive of `sync` (semaphore, wait
//! group, barrier, once, rwlock) is built on.
//!
//! A [`RawCondvar`] is a [`WaitQueue`] and nothing else: its state is the
//! list of waiters, always read and written under the queue lock, so there
//! is no lock-free word here. What needs care is the hand-over between the
//! caller's mutex and the queue, which loom checks below.
//!
//! ## Protocol
//!
//! 1. **Wait**: holding the mutex, the waiter enters `block_on_handed`
//!    (its waker finds it only in the queue, under the queue lock); inside its
//!    `register` step (before the ULT is switched out or the OS thread
//!    parks) it links its node under the queue lock, lets go of the queue
//!    lock, and only then unlocks the mutex. A notifier must take the mutex
//!    to change the condition, so any notify that follows the waiter's
//!    release finds the node linked: **no notify is lost**. A wake that
//!    lands between `register` and the actual block is kept by the wait
//!    token (ULT) or the park token (OS thread), so it is not lost either.
//! 2. **Notify**: under the queue lock, pop the first node (highest
//!    priority, then FIFO), mark it [`NOTIFIED`], take its waiter; wake it
//!    after the queue lock is released (queue.rs's lifetime rule).
//!    `notify_all` pops every node the same way.
//! 3. **Return**: the waiter, woken or timed out, removes its node under
//!    the queue lock. If the node was still linked nobody notified it (a
//!    timeout, or a spurious wake-up of a parked OS thread); otherwise a
//!    notify chose it. Then it re-takes the mutex, blocking as any locker.
//!
//! A waiter that was notified and also times out counts as notified: the
//! notify is never dropped on the floor, which is what std promises.

use std::time::Instant;

use super::block::{self, BlockReason};
use super::queue::{Locked, Node, WaitQueue};
use super::raw_mutex::RawMutex;

/// Node result: a notify popped this waiter.
pub(crate) const NOTIFIED: u32 = 1;

pub(crate) struct RawCondvar {
    queue: WaitQueue,
}

impl RawCondvar {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> RawCondvar {
        RawCondvar {
            queue: WaitQueue::new(),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> RawCondvar {
        RawCondvar {
            queue: WaitQueue::new(),
        }
    }

    /// Under loom: an access of the owning object's memory
    /// (`WaitQueue::touch`).
    #[cfg(loom)]
    pub(crate) fn touch(&self) {
        self.queue.touch();
    }

    /// Under loom: the owning object is destroyed (`WaitQueue::free`).
    #[cfg(loom)]
    pub(crate) fn free(&self) {
        self.queue.free();
    }

    /// Releases `mutex` (held by `owner`), blocks until notified or until
    /// `deadline`, and takes `mutex` again. Returns whether a notify woke
    /// us; false means a timeout or a spurious wake-up, and callers
    /// re-check their condition either way. The TCB shows `reason` while
    /// we wait.
    pub(crate) fn wait(
        &self,
        mutex: &RawMutex,
        owner: u32,
        deadline: Option<Instant>,
        reason: BlockReason,
    ) -> bool {
        debug_assert_eq!(
            block::me_id(),
            owner,
            "a condvar wait on another thread's lock"
        );
        // `since` is for mutex starvation; the condvar does not use it.
        // The priority is the waiter's, set from the TCB its wait holds.
        let mut node = Node::new(0, owner, 0);
        let mut released = false;
        // Handed: the waiter reaches its waker only through the queue,
        // under its lock (`sched::block_on_handed`), so the ULT's BLOCKING
        // is a plain store, and the TCB at hand names what it waits on.
        block::block_on_handed(reason, deadline, self as *const Self as usize, |w| {
            node.set_priority(block::priority_of(&w));
            let node = &node;
            {
                let mut q = self.queue.lock();
                // SAFETY: `node` lives on this stack frame until the
                // `remove` below, which runs under the queue lock.
                unsafe { q.push(node, w, false) };
            }
            // Step 1: linked first, released second.
            mutex.unlock(owner);
            released = true;
            true
        });
        debug_assert!(released, "register always runs and always blocks");
        let (still_linked, _) = self.queue.lock().remove(&node);
        mutex.lock(owner);
        !still_linked
    }

    /// Blocks until notified or `deadline`, unless `still_waiting()` is
    /// false when checked under the queue lock: the wait for a condition
    /// kept in an atomic word rather than under a mutex (`Once`). A waker
    /// that changes the word *before* its notify cannot be missed: either
    /// our check (under the queue lock) comes after its store, and sees
    /// it, or our node is queued before its notify takes the queue lock,
    /// and is woken. Returns whether a notify woke us.
    pub(crate) fn wait_unless_done(
        &self,
        reason: BlockReason,
        deadline: Option<Instant>,
        still_waiting: impl FnOnce() -> bool,
    ) -> bool {
        let me = block::me();
        let node = Node::new(me.priority, me.id, 0);
        self.wait_node(reason, deadline, &node, false, |_| still_waiting()) == NOTIFIED
    }

    /// [`wait_unless_done`](Self::wait_unless_done) with the caller's
    /// node (its `since` and `need` are for [`Locked::choose`]), queued
    /// again at the front of its class if `requeue`; `still_waiting` sees
    /// the locked queue. Returns the result a waker left in the node, or
    /// `PENDING` if none popped it (not queued, timed out, or a spurious
    /// wake-up). The node is unlinked on return.
    pub(crate) fn wait_node(
        &self,
        reason: BlockReason,
        deadline: Option<Instant>,
        node: &Node,
        requeue: bool,
        still_waiting: impl FnOnce(&mut Locked<'_>) -> bool,
    ) -> u32 {
        // Handed: the waiter reaches its waker only through the queue,
        // under its lock (`sched::block_on_handed`), so the ULT's BLOCKING
        // is a plain store, and the TCB at hand names what it waits on.
        block::block_on_handed(reason, deadline, self as *const Self as usize, |w| {
            let mut q = self.queue.lock();
            if !still_waiting(&mut q) {
                return false;
            }
            // SAFETY: `node` outlives this call, which unlinks it under
            // the queue lock (the `remove` below) before returning.
            unsafe { q.push(node, w, requeue) };
            true
        });
        self.queue.lock().remove(node).1
    }

    /// Whether a waiter is queued and not yet notified.
    pub(crate) fn has_waiters(&self) -> bool {
        !self.queue.lock().is_empty()
    }

    /// Runs `f` on the locked queue.
    pub(crate) fn with_locked<R>(&self, f: impl FnOnce(&mut Locked<'_>) -> R) -> R {
        f(&mut self.queue.lock())
    }

    /// Wakes the first waiter, if any; true if there was one.
    pub(crate) fn notify_one(&self) -> bool {
        let popped = self.queue.lock().pop(NOTIFIED);
        match popped {
            Some(p) => {
                p.waiter.wake();
                true
            }
            None => false,
        }
    }

    /// Wakes every waiter; returns how many there were.
    pub(crate) fn notify_all(&self) -> usize {
        self.notify_all_as(NOTIFIED, |_| {})
    }

    /// Pops every waiter with `result` left in its node, runs `popped(n)`
    /// under the queue lock once they are all unlinked (a waker that must
    /// publish something for exactly those `n`, as the rwlock's hand-off
    /// to readers, does it there), and wakes them after the lock is
    /// released. A waiter that queues after this call is not woken by it.
    /// Returns `n`.
    pub(crate) fn notify_all_as(&self, result: u32, popped: impl FnOnce(usize)) -> usize {
        let mut woken = Vec::new();
        {
            let mut q = self.queue.lock();
            while let Some(p) = q.pop(result) {
                woken.push(p.waiter);
            }
            popped(woken.len());
        }
        let n = woken.len();
        for w in woken {
            w.wake();
        }
        n
    }
}

/// Model checks of the wait/notify hand-over under every interleaving
/// (`RUSTFLAGS="--cfg loom" cargo test -p weave --lib --release`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    struct Shared {
        m: RawMutex,
        cv: RawCondvar,
        ready: UnsafeCell<bool>,
    }

    /// The classic lost wake-up: the notifier sets the flag and notifies
    /// while the waiter is between checking it and blocking. The waiter
    /// must always finish (loom reports a deadlock otherwise).
    #[test]
    fn a_notify_after_the_waiter_released_the_mutex_reaches_it() {
        loom::model(|| {
            let s = Arc::new(Shared {
                m: RawMutex::new(),
                cv: RawCondvar::new(),
                ready: UnsafeCell::new(false),
            });
            let waiter = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let me = block::me_id();
                    s.m.lock(me);
                    // SAFETY: under the mutex (loom checks it).
                    while !s.ready.with(|p| unsafe { *p }) {
                        s.cv.wait(&s.m, me, None, BlockReason::Condvar);
                    }
                    s.m.unlock(me);
                })
            };
            let me = block::me_id();
            s.m.lock(me);
            // SAFETY: under the mutex.
            s.ready.with_mut(|p| unsafe { *p = true });
            s.m.unlock(me);
            s.cv.notify_one();
            waiter.join().unwrap();
            assert!(s.cv.queue.lock().is_empty());
        });
    }

    /// A timed wait racing a notify: whichever wins, the node is gone and
    /// the mutex is free afterwards.
    #[test]
    fn a_notify_racing_a_timeout_leaves_nothing_behind() {
        loom::model(|| {
            let s = Arc::new(Shared {
                m: RawMutex::new(),
                cv: RawCondvar::new(),
                ready: UnsafeCell::new(false),
            });
            let waiter = {
                let s = s.clone();
                loom::thread::spawn(move || {
                    let me = block::me_id();
                    s.m.lock(me);
                    let _ =
                        s.cv.wait(&s.m, me, Some(Instant::now()), BlockReason::Condvar);
                    s.m.unlock(me);
                })
            };
            s.cv.notify_all();
            waiter.join().unwrap();
            assert!(s.cv.queue.lock().is_empty());
            let me = block::me_id();
            s.m.lock(me);
            s.m.unlock(me);
        });
    }

    /// The protocol of `wait_unless_done` (what `Once` relies on): the
    /// finisher stores its word and notifies without any mutex, while the
    /// waiter checks the word and queues. The waiter must always finish.
    #[test]
    fn a_store_then_notify_cannot_slip_past_wait_unless_done() {
        use loom::sync::atomic::AtomicUsize;
        use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
        loom::model(|| {
            let cv = Arc::new(RawCondvar::new());
            let word = Arc::new(AtomicUsize::new(0));
            let waiter = {
                let (cv, word) = (cv.clone(), word.clone());
                loom::thread::spawn(move || {
                    // Acquire pairs with the Release store below.
                    while word.load(Acquire) == 0 {
                        cv.wait_unless_done(BlockReason::Condvar, None, || word.load(Relaxed) == 0);
                    }
                })
            };
            word.store(1, Release);
            cv.notify_all();
            waiter.join().unwrap();
            assert!(cv.queue.lock().is_empty());
        });
    }
}

//! The wait queue every `sync` primitive parks its waiters in.
//!
//! A doubly-linked list of [`Node`]s that live on the waiters' own stacks,
//! kept in priority order: higher priority first, FIFO among equals (a
//! waiter that was woken, lost the race and waits again may go back to the
//! front of its class instead). The list sits behind a small lock (a
//! `std::sync::Mutex`, a loom mutex under `--cfg loom`) held only for a few
//! pointer writes and never across a weave call, so no ULT is ever switched
//! out holding it (weave has no involuntary preemption).
//!
//! Lifetime rule: a node is pushed by its own waiter, who then blocks; the
//! waiter removes it (or finds it already popped) under the list lock
//! before its stack frame ends. A waker pops a node, writes its `result`,
//! takes its [`Waiter`] out, and wakes it only after releasing the lock, so
//! a waker never touches a node its waiter may already have left.
//!
//! The lock guard, [`Locked`], is the proof that the list is held: every
//! operation on nodes is a method on it.

use std::cell::UnsafeCell;
use std::ptr;

use super::block::Waiter;
use crate::loom::{Mutex, MutexGuard};

/// Result a waker leaves in a node it pops: nothing written yet.
pub(crate) const PENDING: u32 = 0;

/// One waiter, on its own stack for the duration of one wait.
pub(crate) struct Node {
    priority: u8,
    /// Owner id of the waiter (table index + 1): a mutex hands the lock to it.
    id: u32,
    /// When the waiter first queued (`block::now_ns`), for starvation.
    since: u64,
    links: UnsafeCell<Links>,
}

struct Links {
    prev: *const Node,
    next: *const Node,
    linked: bool,
    waiter: Option<Waiter>,
    /// What the waker decided for this waiter (primitive-specific).
    result: u32,
}

// SAFETY: `links` is only touched with the queue's lock held (every access
// goes through `Locked`), which serialises the threads sharing a node; the
// other fields are immutable.
unsafe impl Sync for Node {}
// SAFETY: as above; a node is never moved while linked (it is borrowed).
unsafe impl Send for Node {}

impl Node {
    pub(crate) fn new(priority: u8, id: u32, since: u64) -> Node {
        Node {
            priority,
            id,
            since,
            links: UnsafeCell::new(Links {
                prev: ptr::null(),
                next: ptr::null(),
                linked: false,
                waiter: None,
                result: PENDING,
            }),
        }
    }
}

struct List {
    head: *const Node,
    tail: *const Node,
    len: usize,
}

// SAFETY: the raw pointers are to nodes whose waiters keep them alive while
// linked (module doc); the list is only reached through its mutex.
unsafe impl Send for List {}

/// A priority-ordered queue of blocked threads.
pub(crate) struct WaitQueue {
    list: Mutex<List>,
}

/// What a waker learns about the node it popped.
pub(crate) struct Popped {
    pub(crate) waiter: Waiter,
    pub(crate) id: u32,
}

/// The queue, locked.
pub(crate) struct Locked<'a> {
    list: MutexGuard<'a, List>,
}

impl WaitQueue {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            list: Mutex::new(List {
                head: ptr::null(),
                tail: ptr::null(),
                len: 0,
            }),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> WaitQueue {
        WaitQueue {
            list: Mutex::new(List {
                head: ptr::null(),
                tail: ptr::null(),
                len: 0,
            }),
        }
    }

    pub(crate) fn lock(&self) -> Locked<'_> {
        // The list lock is never held across anything that can panic, so a
        // poisoned lock still guards a consistent list.
        Locked {
            list: self.list.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

impl Locked<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.list.len == 0
    }

    /// The first node to be woken, if any: (owner id, since).
    pub(crate) fn front(&self) -> Option<(u32, u64)> {
        // SAFETY: a linked node is alive (module doc) and we hold the lock.
        unsafe { self.list.head.as_ref() }.map(|n| (n.id, n.since))
    }

    /// Links `node` by priority: after its equals, or before them if
    /// `front_of_class` (a waiter that already waited once).
    ///
    /// # Safety
    ///
    /// `node` stays where it is and alive until the caller has observed,
    /// under this lock, that it is no longer linked ([`Locked::remove`]).
    pub(crate) unsafe fn push(&mut self, node: &Node, waiter: Waiter, front_of_class: bool) {
        // SAFETY: we hold the lock; `node` is ours and not linked.
        let l = unsafe { &mut *node.links.get() };
        debug_assert!(!l.linked);
        l.waiter = Some(waiter);
        l.result = PENDING;
        l.linked = true;
        // Find the node to insert after: scan from the tail past nodes that
        // rank below us (lower priority, or equal priority if we go first).
        let ranks_below = |n: &Node| {
            n.priority < node.priority || (front_of_class && n.priority == node.priority)
        };
        let mut after = self.list.tail;
        // SAFETY: linked nodes are alive and we hold the lock.
        while let Some(n) = unsafe { after.as_ref() } {
            if !ranks_below(n) {
                break;
            }
            // SAFETY: as above.
            after = unsafe { (*n.links.get()).prev };
        }
        let before = if after.is_null() {
            self.list.head
        } else {
            // SAFETY: as above.
            unsafe { (*(*after).links.get()).next }
        };
        l.prev = after;
        l.next = before;
        let me: *const Node = node;
        // SAFETY: as above.
        match unsafe { after.as_ref() } {
            // SAFETY: as above.
            Some(a) => unsafe { (*a.links.get()).next = me },
            None => self.list.head = me,
        }
        // SAFETY: as above.
        match unsafe { before.as_ref() } {
            // SAFETY: as above.
            Some(b) => unsafe { (*b.links.get()).prev = me },
            None => self.list.tail = me,
        }
        self.list.len += 1;
    }

    /// Unlinks `node` if it is still linked (a timeout or a spurious
    /// wake-up) and returns whether it was, with the result its waker left
    /// (`PENDING` if none). After this the node may be dropped.
    pub(crate) fn remove(&mut self, node: &Node) -> (bool, u32) {
        // SAFETY: we hold the lock, and `node` is the caller's own.
        let linked = unsafe { (*node.links.get()).linked };
        if linked {
            self.unlink(node);
        }
        // SAFETY: as above.
        let l = unsafe { &mut *node.links.get() };
        l.waiter = None;
        (linked, l.result)
    }

    /// Pops the first waiter, leaving `result` in its node.
    pub(crate) fn pop(&mut self, result: u32) -> Option<Popped> {
        // SAFETY: a linked node is alive and we hold the lock.
        let n = unsafe { self.list.head.as_ref() }?;
        self.unlink(n);
        // SAFETY: as above; the node stays alive until its waiter sees it
        // unlinked under this lock, which we still hold.
        let l = unsafe { &mut *n.links.get() };
        l.result = result;
        let waiter = l.waiter.take().expect("a linked node has a waiter");
        Some(Popped { waiter, id: n.id })
    }

    fn unlink(&mut self, n: &Node) {
        // SAFETY: `n` is linked, so it and its neighbours are alive, and we
        // hold the lock.
        unsafe {
            let l = &mut *n.links.get();
            match l.prev.as_ref() {
                Some(p) => (*p.links.get()).next = l.next,
                None => self.list.head = l.next,
            }
            match l.next.as_ref() {
                Some(x) => (*x.links.get()).prev = l.prev,
                None => self.list.tail = l.prev,
            }
            l.prev = ptr::null();
            l.next = ptr::null();
            l.linked = false;
        }
        self.list.len -= 1;
    }
}

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
//!
//! ## Priority, bounded by age
//!
//! Besides the priority order, every node is also linked in **arrival
//! order** (a second list: fresh waiters at its tail, a waiter that queues
//! again at the place its first arrival time gives it), so the longest
//! waiter is at hand in O(1). The queue remembers when that oldest waiter
//! was first **passed over**: a pop ([`Locked::pop_choice`]) served
//! somebody else while it waited. [`Locked::choose`] serves the priority
//! order, except that once the oldest waiter has been passed over for
//! longer than the caller's bound, it goes next whatever its priority.
//! So a low-priority waiter behind a stream of high-priority ones waits at
//! most one bound (plus one holder) after others start overtaking it. The
//! clock starts at the first overtaking, not at arrival, so that a waiter
//! that merely waited long behind one slow holder does not jump ahead of
//! a higher-priority waiter that arrived meanwhile: priority keeps its
//! meaning for short waits, and age wins only against real starvation.
//! The mutex, the rwlock's writers and the semaphore pop this way; a
//! condvar pops in plain priority order ([`Locked::pop`]) since its
//! waiters then queue on the mutex, which bounds their wait.

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
    /// What the waiter asks for (a semaphore: permits), 0 if nothing.
    need: usize,
    /// The waiter queues again after a wake that did not get it what it
    /// waited for (a mutex waiter that lost the lock to a barger).
    retried: bool,
    links: UnsafeCell<Links>,
}

struct Links {
    prev: *const Node,
    next: *const Node,
    /// Neighbours in arrival order (module doc).
    older: *const Node,
    newer: *const Node,
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
            need: 0,
            retried: false,
            links: UnsafeCell::new(Links {
                prev: ptr::null(),
                next: ptr::null(),
                older: ptr::null(),
                newer: ptr::null(),
                linked: false,
                waiter: None,
                result: PENDING,
            }),
        }
    }

    /// The same node, marked as queueing again after a wake-up that did not
    /// serve it (see [`Choice::retried`]).
    pub(crate) fn retried(mut self, retried: bool) -> Node {
        self.retried = retried;
        self
    }

    /// The same node, asking for `need` (a semaphore's permits).
    pub(crate) fn with_need(mut self, need: usize) -> Node {
        self.need = need;
        self
    }
}

struct List {
    head: *const Node,
    tail: *const Node,
    /// The arrival-order list: `oldest` is the longest waiter.
    oldest: *const Node,
    newest: *const Node,
    /// When `oldest` was first passed over (module doc), if it has been.
    passed_since: Option<u64>,
    len: usize,
}

const EMPTY_LIST: List = List {
    head: ptr::null(),
    tail: ptr::null(),
    oldest: ptr::null(),
    newest: ptr::null(),
    passed_since: None,
    len: 0,
};

// SAFETY: the raw pointers are to nodes whose waiters keep them alive while
// linked (module doc); the list is only reached through its mutex.
unsafe impl Send for List {}

/// A priority-ordered queue of blocked threads.
pub(crate) struct WaitQueue {
    list: Mutex<List>,
    /// Under loom: stands for the memory of the object this queue belongs
    /// to. Taking and releasing the queue lock read it ([`touch`]), and a
    /// model that destroys the object writes it ([`free`]), so loom
    /// reports any access that is not ordered before the destruction: an
    /// unlocker still at work after the lock word showed the lock free.
    ///
    /// [`touch`]: WaitQueue::touch
    /// [`free`]: WaitQueue::free
    #[cfg(loom)]
    memory: loom::cell::UnsafeCell<()>,
}

/// What a waker learns about the node it popped.
pub(crate) struct Popped {
    pub(crate) waiter: Waiter,
    pub(crate) id: u32,
}

/// The waiter [`Locked::choose`] picked, to look at and then pop with
/// [`Locked::pop_choice`] under the same hold of the lock.
pub(crate) struct Choice {
    node: *const Node,
    /// When it first queued.
    pub(crate) since: u64,
    /// What it asks for.
    pub(crate) need: usize,
    /// Picked by age over a higher priority (module doc).
    pub(crate) overdue: bool,
    /// It queued again after a wake-up that did not serve it.
    pub(crate) retried: bool,
}

/// The queue, locked.
pub(crate) struct Locked<'a> {
    list: MutexGuard<'a, List>,
    /// Under loom: the queue, whose memory the release touches.
    #[cfg(loom)]
    queue: &'a WaitQueue,
}

/// Under loom the release of the queue lock is an access to the object's
/// memory (see `WaitQueue::memory`): `drop` runs before the guard's own.
#[cfg(loom)]
impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.queue.touch();
    }
}

impl WaitQueue {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            list: Mutex::new(EMPTY_LIST),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> WaitQueue {
        WaitQueue {
            list: Mutex::new(EMPTY_LIST),
            memory: loom::cell::UnsafeCell::new(()),
        }
    }

    pub(crate) fn lock(&self) -> Locked<'_> {
        #[cfg(loom)]
        self.touch();
        // The list lock is never held across anything that can panic, so a
        // poisoned lock still guards a consistent list.
        Locked {
            list: self.list.lock().unwrap_or_else(|e| e.into_inner()),
            #[cfg(loom)]
            queue: self,
        }
    }

    /// Under loom: records an access to the owning object's memory.
    #[cfg(loom)]
    pub(crate) fn touch(&self) {
        self.memory.with(|_| ());
    }

    /// Under loom: the owning object is destroyed here (a model's
    /// `pthread_*_destroy` and `free`); loom reports every access of
    /// [`touch`](Self::touch) that this does not come after.
    #[cfg(loom)]
    pub(crate) fn free(&self) {
        self.memory.with_mut(|_| ());
    }
}

impl Locked<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.list.len == 0
    }

    /// Whether a waiter of `priority` would go ahead of every node queued
    /// now (the queue is empty, or its first ranks lower).
    pub(crate) fn would_lead(&self, priority: u8) -> bool {
        // SAFETY: a linked node is alive (module doc) and we hold the lock.
        unsafe { self.list.head.as_ref() }.map_or(true, |n| n.priority < priority)
    }

    /// The waiter to serve next (module doc): the first in priority
    /// order, unless the oldest waiter has been passed over for `bound_ns`
    /// or more by `now_ns`.
    pub(crate) fn choose(&self, now_ns: u64, bound_ns: u64) -> Option<Choice> {
        let overdue = self.list.oldest != self.list.head
            && self
                .list
                .passed_since
                .is_some_and(|t| now_ns.saturating_sub(t) >= bound_ns);
        let node = if overdue {
            self.list.oldest
        } else {
            self.list.head
        };
        // SAFETY: a linked node is alive (module doc) and we hold the lock.
        unsafe { node.as_ref() }.map(|n| Choice {
            node,
            since: n.since,
            need: n.need,
            overdue,
            retried: n.retried,
        })
    }

    /// Pops the waiter `choice` names (from [`choose`](Self::choose) under
    /// this same hold of the lock), leaving `result` in its node; `now_ns`
    /// starts the passed-over clock if it overtakes the oldest waiter.
    pub(crate) fn pop_choice(&mut self, choice: Choice, result: u32, now_ns: u64) -> Popped {
        if choice.node == self.list.oldest {
            // Unlinking it resets the clock for the next oldest.
        } else if self.list.passed_since.is_none() {
            self.list.passed_since = Some(now_ns);
        }
        // SAFETY: `choice` was made under this hold of the lock, so its
        // node is still linked and alive.
        let n = unsafe { &*choice.node };
        self.take(n, result)
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
        self.link_by_arrival(node, front_of_class);
        self.list.len += 1;
    }

    /// Links `node` into the arrival list: a fresh waiter at the newest
    /// end; one queueing again (`requeue`) before the first node that
    /// arrived after it, scanning from the oldest end, where it belongs.
    fn link_by_arrival(&mut self, node: &Node, requeue: bool) {
        let mut newer = ptr::null();
        if requeue {
            newer = self.list.oldest;
            // SAFETY: linked nodes are alive and we hold the lock.
            while let Some(n) = unsafe { newer.as_ref() } {
                if n.since > node.since {
                    break;
                }
                // SAFETY: as above.
                newer = unsafe { (*n.links.get()).newer };
            }
        }
        // SAFETY: linked nodes are alive and we hold the lock.
        let older = match unsafe { newer.as_ref() } {
            // SAFETY: as above.
            Some(n) => unsafe { (*n.links.get()).older },
            None => self.list.newest,
        };
        let me: *const Node = node;
        // SAFETY: we hold the lock; `node` is ours, being linked.
        let l = unsafe { &mut *node.links.get() };
        l.older = older;
        l.newer = newer;
        // SAFETY: linked nodes are alive and we hold the lock.
        match unsafe { older.as_ref() } {
            // SAFETY: as above.
            Some(o) => unsafe { (*o.links.get()).newer = me },
            None => {
                // A new oldest waiter has not been passed over yet.
                self.list.oldest = me;
                self.list.passed_since = None;
            }
        }
        // SAFETY: as above.
        match unsafe { newer.as_ref() } {
            // SAFETY: as above.
            Some(n) => unsafe { (*n.links.get()).older = me },
            None => self.list.newest = me,
        }
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

    /// Pops the first waiter in priority order (no age rule), leaving
    /// `result` in its node.
    pub(crate) fn pop(&mut self, result: u32) -> Option<Popped> {
        // SAFETY: a linked node is alive and we hold the lock.
        let n = unsafe { self.list.head.as_ref() }?;
        Some(self.take(n, result))
    }

    fn take(&mut self, n: &Node, result: u32) -> Popped {
        self.unlink(n);
        // SAFETY: as above; the node stays alive until its waiter sees it
        // unlinked under this lock, which we still hold.
        let l = unsafe { &mut *n.links.get() };
        l.result = result;
        let waiter = l.waiter.take().expect("a linked node has a waiter");
        Popped { waiter, id: n.id }
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
            match l.older.as_ref() {
                Some(o) => (*o.links.get()).newer = l.newer,
                None => {
                    // The oldest leaves: its successor's clock starts
                    // when it is first passed over.
                    self.list.oldest = l.newer;
                    self.list.passed_since = None;
                }
            }
            match l.newer.as_ref() {
                Some(x) => (*x.links.get()).older = l.older,
                None => self.list.newest = l.older,
            }
            l.prev = ptr::null();
            l.next = ptr::null();
            l.older = ptr::null();
            l.newer = ptr::null();
            l.linked = false;
        }
        self.list.len -= 1;
    }
}

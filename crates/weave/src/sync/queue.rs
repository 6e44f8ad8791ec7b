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
//!
//! ## The time, read only when a decision needs it
//!
//! A clock read costs more than the rest of a wake-up decision (~100 ns
//! through the vDSO on a virtual machine), and most decisions do not need
//! one: with a single waiter, or whenever the oldest waiter is the head
//! in priority order, [`choose`](Locked::choose) serves the head whatever
//! the time; [`pop_choice`](Locked::pop_choice) starts the passed-over
//! clock only when it pops past the oldest waiter and the clock is not
//! running yet. [`Locked::choose_lazy`] and [`Locked::pop_choice_lazy`]
//! take a [`LazyNow`], which reads the clock on the first decision that
//! asks for it and never otherwise (an empty queue, a ping-pong's single
//! waiter: no read at all).
//!
//! ## Arrival stamps: times or tickets
//!
//! A node's `since` orders the arrival list. A queue whose users need the
//! waiter's age (the mutex's and the rwlock's hand-off rule compares it
//! with the bound) stamps it with `block::now_ns`; a queue whose users
//! only need the order (the semaphore) makes its nodes with
//! [`Node::by_arrival`], and the queue stamps each fresh one with the next
//! **ticket** of its own counter as it links it, under its lock: the same
//! order, no clock read. A waiter that queues again passes the stamp it
//! first got ([`Node::since`]) either way. One queue holds one kind of
//! stamp (the passed-over clock is a time in both: it is read through a
//! [`LazyNow`] or the caller's `now_ns`, never from a stamp).

use std::cell::UnsafeCell;
use std::ptr;

use super::block::{self, Waiter};
use crate::loom::{Mutex, MutexGuard};

/// Result a waker leaves in a node it pops: nothing written yet.
pub(crate) const PENDING: u32 = 0;

/// One waiter, on its own stack for the duration of one wait.
pub(crate) struct Node {
    priority: u8,
    /// Owner id of the waiter (table index + 1): a mutex hands the lock to it.
    id: u32,
    /// Stamped by the queue as it links the node ([`Node::by_arrival`]):
    /// `links.since` is then a ticket, written under the queue lock.
    ticketed: bool,
    /// What the waiter asks for (a semaphore: permits), 0 if nothing.
    need: usize,
    /// The waiter queues again after a wake that did not get it what it
    /// waited for (a mutex waiter that lost the lock to a barger).
    retried: bool,
    links: UnsafeCell<Links>,
}

struct Links {
    /// When the waiter first queued (`block::now_ns`), for starvation, or
    /// its arrival ticket (module doc, "Arrival stamps").
    since: u64,
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
            ticketed: false,
            need: 0,
            retried: false,
            links: UnsafeCell::new(Links {
                since,
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

    /// A node ordered by arrival tickets (module doc, "Arrival stamps"):
    /// `first`, the stamp of the caller's earlier queueing in this same
    /// queue ([`Node::since`]), or `None` for a fresh waiter, which the
    /// queue stamps with its next ticket as it links it.
    pub(crate) fn by_arrival(priority: u8, id: u32, first: Option<u64>) -> Node {
        let mut n = Node::new(priority, id, first.unwrap_or(0));
        n.ticketed = first.is_none();
        n
    }

    /// The node's arrival stamp: the `since` it was made with, or the
    /// ticket the queue gave it. Read by its own waiter once the node is
    /// unlinked (after [`Locked::remove`], under the lock or after it).
    pub(crate) fn since(&self) -> u64 {
        // SAFETY: the caller's node is not linked, so no other thread
        // reaches it, and its last write (the stamp, under the queue lock)
        // happened before the waiter's own `remove` took that lock.
        let l = unsafe { &*self.links.get() };
        debug_assert!(!l.linked, "an arrival stamp read while linked");
        l.since
    }

    /// The same node, marked as queueing again after a wake-up that did not
    /// serve it (see [`Choice::retried`]).
    pub(crate) fn retried(mut self, retried: bool) -> Node {
        self.retried = retried;
        self
    }

    /// Sets the waiter's priority before the node is linked (a waiter
    /// that reads it from the TCB its wait holds).
    pub(crate) fn set_priority(&mut self, priority: u8) {
        self.priority = priority;
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
    /// The next arrival ticket (module doc, "Arrival stamps").
    tickets: u64,
    len: usize,
}

const EMPTY_LIST: List = List {
    head: ptr::null(),
    tail: ptr::null(),
    oldest: ptr::null(),
    newest: ptr::null(),
    passed_since: None,
    tickets: 0,
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

/// The time for the wake-up decisions of one hold of the queue lock,
/// read on the first [`get`](Self::get) and never if no decision asks
/// (module doc, "The time, read only when a decision needs it").
pub(crate) struct LazyNow {
    read: fn() -> u64,
    now: Option<u64>,
}

impl LazyNow {
    /// `block::now_ns`, when asked.
    #[inline]
    pub(crate) fn new() -> LazyNow {
        LazyNow::from_source(block::now_ns)
    }

    /// The time from `read`, when asked (a test's counting clock).
    #[inline]
    pub(crate) fn from_source(read: fn() -> u64) -> LazyNow {
        LazyNow { read, now: None }
    }

    /// The time, read now if nobody asked yet.
    #[inline]
    pub(crate) fn get(&mut self) -> u64 {
        let read = self.read;
        *self.now.get_or_insert_with(read)
    }
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
        self.choose_by(|| now_ns, bound_ns)
    }

    /// As [`choose`](Self::choose), reading the time from `now` only if
    /// the decision needs it: the oldest waiter is not the head and has
    /// been passed over (module doc).
    #[inline]
    pub(crate) fn choose_lazy(&self, now: &mut LazyNow, bound_ns: u64) -> Option<Choice> {
        self.choose_by(|| now.get(), bound_ns)
    }

    #[inline]
    fn choose_by(&self, now_ns: impl FnOnce() -> u64, bound_ns: u64) -> Option<Choice> {
        let overdue = self.list.oldest != self.list.head
            && self
                .list
                .passed_since
                .is_some_and(|t| now_ns().saturating_sub(t) >= bound_ns);
        let node = if overdue {
            self.list.oldest
        } else {
            self.list.head
        };
        // SAFETY: a linked node is alive (module doc) and we hold the lock.
        unsafe { node.as_ref() }.map(|n| Choice {
            node,
            // SAFETY: as above.
            since: unsafe { (*n.links.get()).since },
            need: n.need,
            overdue,
            retried: n.retried,
        })
    }

    /// Pops the waiter `choice` names (from [`choose`](Self::choose) under
    /// this same hold of the lock), leaving `result` in its node; `now_ns`
    /// starts the passed-over clock if it overtakes the oldest waiter.
    pub(crate) fn pop_choice(&mut self, choice: Choice, result: u32, now_ns: u64) -> Popped {
        self.pop_choice_by(choice, result, || now_ns)
    }

    /// As [`pop_choice`](Self::pop_choice), reading the time from `now`
    /// only if it starts the passed-over clock.
    #[inline]
    pub(crate) fn pop_choice_lazy(
        &mut self,
        choice: Choice,
        result: u32,
        now: &mut LazyNow,
    ) -> Popped {
        self.pop_choice_by(choice, result, || now.get())
    }

    #[inline]
    fn pop_choice_by(
        &mut self,
        choice: Choice,
        result: u32,
        now_ns: impl FnOnce() -> u64,
    ) -> Popped {
        if choice.node == self.list.oldest {
            // Unlinking it resets the clock for the next oldest.
        } else if self.list.passed_since.is_none() {
            self.list.passed_since = Some(now_ns());
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
        if node.ticketed {
            // A fresh waiter of a ticketed queue: its stamp is the next
            // ticket (module doc, "Arrival stamps").
            l.since = self.list.tickets;
            self.list.tickets += 1;
        }
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
            // SAFETY: we hold the lock; `node` is ours, being linked.
            let since = unsafe { (*node.links.get()).since };
            // SAFETY: linked nodes are alive and we hold the lock.
            while let Some(n) = unsafe { newer.as_ref() } {
                // SAFETY: as above.
                if unsafe { (*n.links.get()).since } > since {
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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::thread::state::WakeToken;

    std::thread_local! {
        /// The fake clock of these tests, and how often it was read.
        static NOW: Cell<u64> = const { Cell::new(0) };
        static READS: Cell<u32> = const { Cell::new(0) };
    }

    fn fake_now() -> u64 {
        READS.with(|r| r.set(r.get() + 1));
        NOW.with(Cell::get)
    }

    fn reads() -> u32 {
        READS.with(Cell::get)
    }

    fn waiter() -> Waiter {
        let tcb = crate::thread::current::current_tcb();
        Waiter::Os(std::thread::current(), tcb, WakeToken { epoch: 0 })
    }

    const BOUND: u64 = 1_000;

    #[test]
    fn a_single_waiter_is_served_without_reading_the_clock() {
        let wq = WaitQueue::new();
        let a = Node::new(16, 1, 0);
        let mut q = wq.lock();
        // SAFETY: `a` outlives its stay in the queue (popped below).
        unsafe { q.push(&a, waiter(), false) };
        let before = reads();
        let mut now = LazyNow::from_source(fake_now);
        let c = q.choose_lazy(&mut now, BOUND).expect("a waiter");
        assert!(!c.overdue);
        let p = q.pop_choice_lazy(c, 1, &mut now);
        assert_eq!(p.id, 1);
        assert!(q.choose_lazy(&mut now, BOUND).is_none());
        assert_eq!(reads(), before, "no decision needed the time");
    }

    #[test]
    fn a_passed_over_waiter_is_still_chosen_after_the_bound() {
        let wq = WaitQueue::new();
        // The oldest waiter ranks lowest: every pop in priority order
        // passes it over.
        let (low, high1, high2) = (
            Node::new(10, 1, 0),
            Node::new(20, 2, 0),
            Node::new(20, 3, 0),
        );
        let mut q = wq.lock();
        // SAFETY: the nodes outlive their stay in the queue (each is
        // popped or removed below).
        unsafe {
            q.push(&low, waiter(), false);
            q.push(&high1, waiter(), false);
        }
        NOW.with(|n| n.set(5_000));
        let r0 = reads();
        let mut now = LazyNow::from_source(fake_now);
        // Nobody passed over yet: the head, and no time needed to say so.
        let c = q.choose_lazy(&mut now, BOUND).expect("a waiter");
        assert!(!c.overdue);
        assert_eq!(reads(), r0);
        // Popping past the oldest starts its clock: that needs the time.
        assert_eq!(q.pop_choice_lazy(c, 1, &mut now).id, 2);
        assert_eq!(reads(), r0 + 1);
        // SAFETY: as above.
        unsafe { q.push(&high2, waiter(), false) };
        // Within the bound: priority still wins, and the time was read.
        NOW.with(|n| n.set(5_000 + BOUND - 1));
        let mut now = LazyNow::from_source(fake_now);
        let c = q.choose_lazy(&mut now, BOUND).expect("a waiter");
        assert!(!c.overdue);
        assert_eq!(reads(), r0 + 2);
        // At the bound: the passed-over waiter goes next.
        NOW.with(|n| n.set(5_000 + BOUND));
        let mut now = LazyNow::from_source(fake_now);
        let c = q.choose_lazy(&mut now, BOUND).expect("a waiter");
        assert!(c.overdue, "the passed-over waiter was not chosen");
        assert_eq!(q.pop_choice_lazy(c, 1, &mut now).id, 1);
        // One read for the whole decision, shared by choose and pop.
        assert_eq!(reads(), r0 + 3);
        q.remove(&high2);
    }

    #[test]
    fn a_ticketed_waiter_that_queues_again_keeps_its_place_by_arrival() {
        let wq = WaitQueue::new();
        let low = Node::by_arrival(10, 1, None);
        let high = Node::by_arrival(20, 2, None);
        let mut q = wq.lock();
        // SAFETY: the nodes outlive their stay in the queue.
        unsafe {
            q.push(&low, waiter(), false);
            q.push(&high, waiter(), false);
        }
        // The low one leaves (a timeout) and queues again with its ticket.
        assert!(q.remove(&low).0);
        assert_eq!(low.since(), 0, "the first arrival's ticket");
        let again = Node::by_arrival(10, 1, Some(low.since()));
        // SAFETY: as above.
        unsafe { q.push(&again, waiter(), true) };
        // It is the oldest again: popping the head passes it over, which
        // reads the clock to start its passed-over clock.
        let r0 = reads();
        let mut now = LazyNow::from_source(fake_now);
        let c = q.choose_lazy(&mut now, BOUND).expect("a waiter");
        assert_eq!(q.pop_choice_lazy(c, 1, &mut now).id, 2);
        assert_eq!(reads(), r0 + 1, "the requeued waiter is not the oldest");
        assert_eq!(high.since(), 1, "the second arrival's ticket");
        q.remove(&again);
    }
}

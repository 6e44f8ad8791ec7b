//! The inbox of one LWP: ULTs woken by other threads, to be run there.
//!
//! A started ULT stays on its LWP, but it may be woken from anywhere: an
//! unlock on another LWP, a plain OS thread, a timer. The waker cannot touch
//! the owner's ready queue, so it pushes the TCB here, a lock-free
//! multi-producer stack (one CAS), and the owner takes everything at once
//! with one swap at its next scheduling point, restoring arrival order.
//! There is no ABA problem: producers only push, and the single consumer
//! takes the whole stack, never one node.

use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use crate::loom::AtomicPtr;

/// A node that can sit in an inbox: it has a link field.
pub(crate) trait Linked: Sized {
    fn link(&self) -> &AtomicPtr<Self>;
}

pub(crate) struct Inbox<T: Linked + 'static> {
    head: AtomicPtr<T>,
}

impl<T: Linked + 'static> Inbox<T> {
    pub(crate) fn new() -> Self {
        Inbox {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes `node`. The caller gives up the node until the owner takes it.
    pub(crate) fn push(&self, node: &'static T) {
        let n = node as *const T as *mut T;
        let mut head = self.head.load(Relaxed);
        loop {
            node.link().store(head, Relaxed);
            // Release pairs with the Acquire swap in `take_all`: the owner
            // sees the link and whatever the waker wrote before pushing.
            match self.head.compare_exchange_weak(head, n, Release, Relaxed) {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    /// Cheap check, for the owner's fast path.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Relaxed).is_null()
    }

    /// Takes every node, oldest first, and calls `f` on each.
    pub(crate) fn take_all(&self, mut f: impl FnMut(&'static T)) {
        // AcqRel: Acquire pairs with the Release in `push`.
        let mut p = self.head.swap(ptr::null_mut(), AcqRel);
        // Reverse the LIFO chain so that wakes run in arrival order.
        let mut rev: *mut T = ptr::null_mut();
        while !p.is_null() {
            // SAFETY: nodes stay valid while in the inbox (the pusher gave
            // them up), and only this consumer walks the taken chain.
            let node = unsafe { &*p };
            let next = node.link().load(Acquire);
            node.link().store(rev, Relaxed);
            rev = p;
            p = next;
        }
        while !rev.is_null() {
            // SAFETY: as above; nodes are 'static (`push` takes only those).
            let node: &'static T = unsafe { &*rev };
            let next = node.link().load(Relaxed);
            rev = next;
            f(node);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Node(u32, AtomicPtr<Node>);
    impl Linked for Node {
        fn link(&self) -> &AtomicPtr<Self> {
            &self.1
        }
    }

    fn node(v: u32) -> Node {
        Node(v, AtomicPtr::new(ptr::null_mut()))
    }

    #[test]
    fn take_all_returns_arrival_order() {
        let inbox = Inbox::new();
        let nodes: &'static [Node] = Vec::leak((0..5).map(node).collect());
        assert!(inbox.is_empty());
        for n in nodes {
            inbox.push(n);
        }
        let mut seen = vec![];
        inbox.take_all(|n| seen.push(n.0));
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert!(inbox.is_empty());
    }

    #[test]
    fn pushes_from_many_threads_are_all_taken_once() {
        let nodes: &'static [Node] = Vec::leak((0..4000).map(node).collect());
        let inbox: &'static Inbox<Node> = Box::leak(Box::new(Inbox::new()));
        let producers: Vec<_> = (0..4)
            .map(|k| {
                std::thread::spawn(move || {
                    for n in &nodes[k * 1000..(k + 1) * 1000] {
                        inbox.push(n);
                    }
                })
            })
            .collect();
        let mut seen = vec![false; 4000];
        let mut count = 0;
        while count < 4000 {
            inbox.take_all(|n| {
                assert!(!seen[n.0 as usize], "node {} taken twice", n.0);
                seen[n.0 as usize] = true;
                count += 1;
            });
        }
        for p in producers {
            p.join().unwrap();
        }
    }
}

/// Model check: pushes from two threads racing the owner's takes.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    struct Node(usize, AtomicPtr<Node>);
    impl Linked for Node {
        fn link(&self) -> &AtomicPtr<Self> {
            &self.1
        }
    }

    #[test]
    fn every_push_is_taken_once_in_order_per_producer() {
        loom::model(|| {
            let nodes: &'static [Node] = Box::leak(
                (0..3)
                    .map(|i| Node(i, AtomicPtr::new(ptr::null_mut())))
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            );
            let inbox: &'static Inbox<Node> = Box::leak(Box::new(Inbox::new()));
            let p1 = loom::thread::spawn(move || {
                inbox.push(&nodes[0]);
                inbox.push(&nodes[1]);
            });
            let p2 = loom::thread::spawn(move || inbox.push(&nodes[2]));
            let mut seen = Vec::new();
            inbox.take_all(|n| seen.push(n.0));
            p1.join().unwrap();
            p2.join().unwrap();
            inbox.take_all(|n| seen.push(n.0));
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2], "taken: {seen:?}");
            let p0 = seen.iter().position(|&v| v == 0).unwrap();
            let p1 = seen.iter().position(|&v| v == 1).unwrap();
            assert!(p0 < p1, "one producer's pushes come out in order: {seen:?}");
        });
    }
}

//! The ready queue of one LWP: started ULTs placed there, by priority.
//!
//! 32 intrusive FIFO lists, one per priority level, and a bitmap of the
//! non-empty ones, so that picking the next thread is a `leading_zeros` and
//! a pointer chase: O(1) whatever the number of threads. Owned by its LWP
//! alone (wakes from elsewhere arrive through the inbox), so nothing here is
//! atomic but the link field, which is shared with the inbox and accessed
//! `Relaxed` while the TCB is in this queue.
//!
//! ## The lone slot
//!
//! A queue that holds one ULT only (a ping-pong's: the partner just woken,
//! taken back out by the waker's block at once) keeps it in `lone`, not in
//! its level's list: a push into an empty queue is a store of the pointer
//! and of the level's bit, and the pick that follows a load of `lone` and
//! two stores, with no list to link and unlink. It is Go's `runnext` cut
//! to what keeps the queue's order exactly: the slot is filled only when
//! the queue is empty, and the next push (back or front) first moves its
//! ULT to its level's list (`spill`), so that it stays ahead of whatever
//! comes after it. Hence the order of the queue is the lists' order as
//! before, and
//!
//! - priorities hold: the slot's level is its bit in `bits`, and a higher
//!   level pushed later is popped first, the slot's ULT having gone to its
//!   list;
//! - fairness holds: a woken ULT never jumps ULTs already queued (it finds
//!   the queue non-empty and goes to the back of its level), so two ULTs
//!   that wake each other do not starve a third (Go needs its time-slice
//!   inheritance for that, as its `runnext` does jump the queue);
//! - stealing and migration do not see it: this queue holds started ULTs
//!   placed on its LWP only, read and written by that LWP alone, which
//!   thieves never touch (they take from `fresh` and the injector);
//! - anyone that walks, counts or drains the queue (the pick, an LWP that
//!   parks or exits, trims) goes through `top`/`pop`/`is_empty`, which
//!   count the slot; a ULT's state word (RUNNABLE) is what the monitor and
//!   a thread dump read, and it does not depend on where it is queued.
//!
//! Invariant: `lone` non-null implies every list is empty and `bits` is
//! the one bit of the level it was pushed at (read back from `bits`, not
//! from its priority, which may change while it is queued).

use std::ptr;
use std::sync::atomic::Ordering::Relaxed;

use crate::thread::tcb::{Tcb, PRIORITY_LEVELS};

#[derive(Clone, Copy)]
struct List {
    head: *const Tcb,
    tail: *const Tcb,
}

pub(crate) struct ReadyQueue {
    lists: [List; PRIORITY_LEVELS as usize],
    /// Bit `p` set iff `lists[p]` is non-empty: the whole queue's state
    /// for the pick (empty, top level) in one word, with no count beside
    /// it to keep up at each push and pop.
    bits: u32,
    /// The queue's only ULT, when it came into an empty queue and nothing
    /// came after it (see "The lone slot"); else null.
    lone: *const Tcb,
}

impl Default for ReadyQueue {
    fn default() -> Self {
        ReadyQueue {
            lists: [List {
                head: ptr::null(),
                tail: ptr::null(),
            }; PRIORITY_LEVELS as usize],
            bits: 0,
            lone: ptr::null(),
        }
    }
}

impl ReadyQueue {
    /// Appends `t` at its priority level. Always inlined: it is half of
    /// every yield (the loop's requeue, the direct switch's).
    #[inline(always)]
    pub(crate) fn push(&mut self, t: &'static Tcb) {
        let p = t.priority().min(PRIORITY_LEVELS - 1) as usize;
        if self.bits == 0 {
            self.lone = t;
            self.bits = 1 << p;
            return;
        }
        self.spill();
        self.push_list(t, p);
    }

    /// Appends `t` to list `p`: the queue is not empty, or `t` is not to
    /// be alone in the slot.
    #[inline(always)]
    fn push_list(&mut self, t: &'static Tcb, p: usize) {
        t.next.store(ptr::null_mut(), Relaxed);
        let l = &mut self.lists[p];
        if l.tail.is_null() {
            l.head = t;
        } else {
            // SAFETY: `tail` is a TCB in this queue; TCBs are never freed.
            unsafe { (*l.tail).next.store(t as *const Tcb as *mut Tcb, Relaxed) };
        }
        l.tail = t;
        self.bits |= 1 << p;
    }

    /// Puts `t` first at its priority level: it runs next among its
    /// equals (a ULT handed a lock, which everyone else on this LWP would
    /// otherwise block on while it waits behind them).
    #[inline]
    pub(crate) fn push_front(&mut self, t: &'static Tcb) {
        let p = t.priority().min(PRIORITY_LEVELS - 1) as usize;
        if self.bits == 0 {
            self.lone = t;
            self.bits = 1 << p;
            return;
        }
        self.spill();
        let l = &mut self.lists[p];
        t.next.store(l.head as *mut Tcb, Relaxed);
        if l.head.is_null() {
            l.tail = t;
        }
        l.head = t;
        self.bits |= 1 << p;
    }

    /// Moves the slot's ULT, if any, to its level's list, where it is
    /// alone: before a second ULT is queued behind or ahead of it.
    #[inline(always)]
    fn spill(&mut self) {
        if !self.lone.is_null() {
            self.spill_lone();
        }
    }

    /// Inlined: a call here would cost a wake on the waker's LWP a frame
    /// (`sched::wake_ult_here` has its calls in tail position only).
    #[inline(always)]
    fn spill_lone(&mut self) {
        // SAFETY: a non-null `lone` is a TCB of the table, which lives as
        // long as the process.
        let t: &'static Tcb = unsafe { &*self.lone };
        self.lone = ptr::null();
        // The level it was queued at: `bits` has its bit alone.
        let p = self.bits.trailing_zeros() as usize;
        self.push_list(t, p);
    }

    /// Queues `t` as its waker asked: at the front if it was handed a lock
    /// (`Tcb::run_next`, cleared here), else at the back.
    #[inline]
    pub(crate) fn push_woken(&mut self, t: &'static Tcb) {
        if t.run_next.load(Relaxed) {
            t.run_next.store(false, Relaxed);
            self.push_front(t);
        } else {
            self.push(t);
        }
    }

    /// The highest non-empty level.
    #[inline]
    pub(crate) fn top(&self) -> Option<u8> {
        if self.bits == 0 {
            None
        } else {
            Some(31 - self.bits.leading_zeros() as u8)
        }
    }

    /// The highest non-empty level, if it is `floor` or above: the level
    /// `pop` would take from, for a pick that takes only from `floor` up.
    /// One shift tells "nothing at `floor` or above" (the level is needed
    /// only past it). The level alone, not its head with it: an
    /// `Option` of a pointer read from the queue is told apart by a test
    /// of that pointer, which the compiler cannot drop ([`head_of`]
    /// reads it once the level is known).
    ///
    /// [`head_of`]: Self::head_of
    #[inline(always)]
    pub(crate) fn top_from(&self, floor: u8) -> Option<u8> {
        let floor = floor.min(PRIORITY_LEVELS - 1);
        if self.bits >> floor == 0 {
            return None;
        }
        // SAFETY: some bit at `floor` or above is set, so `bits` is not 0
        // (told to the compiler, which otherwise tests it again for
        // `ilog2`'s panic: two instructions on every direct pick).
        Some(unsafe { std::num::NonZeroU32::new_unchecked(self.bits) }.ilog2() as u8)
    }

    /// The first ULT of level `top`, left queued: what `pop` would return.
    /// `top` is the highest non-empty level, as `top_from` gave it.
    #[inline(always)]
    pub(crate) fn head_of(&self, top: u8) -> &'static Tcb {
        debug_assert_eq!(Some(top), self.top());
        if !self.lone.is_null() {
            // SAFETY: a non-null `lone` is a TCB of the table.
            return unsafe { &*self.lone };
        }
        // SAFETY: level `top` is non-empty (the caller's `top_from`): it
        // has a head, a TCB in a table slot that lives as long as the
        // process.
        unsafe { &*self.lists[top as usize].head }
    }

    /// A yield's pop and push in one: removes the first ULT of the highest
    /// non-empty level and queues `t` behind its equals, as `pop` then
    /// `push(t)` would. When `t`'s level is that highest one (a yield to an
    /// equal, the common case) the level's list turns by one and `bits`
    /// stays as it is. The queue must not be empty; `prio` is
    /// `t`'s priority, as the caller read it, and `top` the highest
    /// non-empty level, as `top_from` gave it.
    #[inline(always)]
    pub(crate) fn rotate(&mut self, t: &'static Tcb, prio: u8, top: u8) -> &'static Tcb {
        debug_assert_eq!(prio, t.priority());
        debug_assert_eq!(Some(top), self.top());
        let p = prio.min(PRIORITY_LEVELS - 1) as usize;
        if top != p as u8 {
            let head = self.pop().expect("rotate on an empty ready queue");
            self.push(t);
            return head;
        }
        if !self.lone.is_null() {
            // A yield to the one other ULT, an equal: the two swap places
            // in the slot, `bits` as it is.
            // SAFETY: a non-null `lone` is a TCB of the table.
            let head: &'static Tcb = unsafe { &*self.lone };
            self.lone = t;
            return head;
        }
        let l = &mut self.lists[p];
        // SAFETY: level `p` is the top one: it has a head, a TCB in a table
        // slot that lives as long as the process.
        let head: &'static Tcb = unsafe { &*l.head };
        let next = head.next.load(Relaxed);
        t.next.store(ptr::null_mut(), Relaxed);
        if next.is_null() {
            // `head` was alone: `t` is now, and if it is alone in the
            // whole queue it goes back to the slot (a yield between two
            // ULTs, after the loop's requeue moved the slot to a list).
            if self.bits == 1 << p {
                l.head = ptr::null();
                l.tail = ptr::null();
                self.lone = t;
                return head;
            }
            l.head = t;
        } else {
            l.head = next;
            // SAFETY: the tail of a non-empty list is a queued TCB; only
            // the owner of the queue writes the `next` of a queued TCB.
            unsafe { (*l.tail).next.store(t as *const Tcb as *mut Tcb, Relaxed) };
        }
        l.tail = t;
        head
    }

    /// As `pop`, for a caller that knows the highest non-empty level
    /// (`top`, from `top_from`): the queue is not empty.
    #[inline(always)]
    pub(crate) fn pop_top(&mut self, top: u8) -> &'static Tcb {
        debug_assert_eq!(Some(top), self.top());
        if !self.lone.is_null() {
            return self.take_lone();
        }
        let p = top as usize;
        let l = &mut self.lists[p];
        // SAFETY: `top` is a non-empty level: its head is a TCB of the table.
        let t: &'static Tcb = unsafe { &*l.head };
        let next = t.next.load(Relaxed);
        l.head = next;
        if next.is_null() {
            l.tail = ptr::null();
            self.bits &= !(1 << p);
        }
        t
    }

    /// Removes the first ULT of the highest non-empty level.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<&'static Tcb> {
        let p = self.top()? as usize;
        if !self.lone.is_null() {
            return Some(self.take_lone());
        }
        let l = &mut self.lists[p];
        // SAFETY: a set bit means a non-null head, a TCB of the table.
        let t: &'static Tcb = unsafe { &*l.head };
        let next = t.next.load(Relaxed);
        l.head = next;
        if next.is_null() {
            l.tail = ptr::null();
            self.bits &= !(1 << p);
        }
        Some(t)
    }

    /// Empties the slot, and with it the queue (the invariant of "The lone
    /// slot"), returning its ULT. `lone` is not null.
    #[inline(always)]
    fn take_lone(&mut self) -> &'static Tcb {
        // SAFETY: the caller saw `lone` non-null: a TCB of the table.
        let t: &'static Tcb = unsafe { &*self.lone };
        self.lone = ptr::null();
        self.bits = 0;
        t
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.bits == 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::thread::table::{table, SlotCache};

    fn tcb(prio: u8) -> &'static Tcb {
        let t = table().alloc(&mut SlotCache::default()).unwrap();
        t.set_priority(prio);
        t
    }

    #[test]
    fn higher_priority_pops_first_and_levels_are_fifo() {
        let mut q = ReadyQueue::default();
        let (a, b, c, d) = (tcb(3), tcb(20), tcb(3), tcb(31));
        for t in [a, b, c, d] {
            q.push(t);
        }
        assert!(!q.is_empty());
        assert_eq!(q.top(), Some(31));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|t| t.index).collect();
        assert_eq!(order, vec![d.index, b.index, a.index, c.index]);
        assert!(q.is_empty() && q.top().is_none());
    }

    /// `rotate` must leave the queue as `pop` then `push` would, whether
    /// the yielding ULT's level is the top one (alone or not) or below it.
    #[test]
    fn rotate_is_a_pop_then_a_push() {
        for prios in [&[5u8][..], &[5, 5, 5], &[9, 5], &[9, 9, 5, 2]] {
            for yielder in [5u8, 2] {
                let ts: Vec<_> = prios.iter().map(|&p| tcb(p)).collect();
                let me = tcb(yielder);
                let (mut a, mut b) = (ReadyQueue::default(), ReadyQueue::default());
                for &t in &ts {
                    a.push(t);
                    b.push(t);
                }
                let head = a.pop().unwrap();
                a.push(me);
                let top = b.top().unwrap();
                assert_eq!(b.rotate(me, yielder, top).index, head.index);
                assert_eq!((a.bits, a.top()), (b.bits, b.top()));
                let order = |q: &mut ReadyQueue| -> Vec<u32> {
                    std::iter::from_fn(|| q.pop()).map(|t| t.index).collect()
                };
                assert_eq!(order(&mut a), order(&mut b), "{prios:?}, yielder {yielder}");
            }
        }
    }

    /// `top_from` answers for the top level only, and only from `floor`
    /// up: a yield of priority `floor` must not find a lower ULT to run;
    /// `head_of` that level is what `pop` takes.
    #[test]
    fn top_from_gives_the_top_level_at_or_above_the_floor() {
        let mut q = ReadyQueue::default();
        assert!(q.top_from(0).is_none());
        let (a, b, c) = (tcb(4), tcb(9), tcb(9));
        q.push(a);
        assert_eq!(q.top_from(4), Some(4));
        assert_eq!(q.head_of(4).index, a.index);
        assert!(q.top_from(5).is_none());
        q.push(b);
        q.push(c);
        for floor in [0, 4, 9] {
            assert_eq!(q.top_from(floor), Some(9));
        }
        assert_eq!(q.head_of(9).index, b.index);
        assert!(q.top_from(10).is_none() && q.top_from(31).is_none());
        assert!(
            q.top_from(200).is_none(),
            "a floor past the levels is the top one"
        );
    }

    #[test]
    fn pop_top_is_pop() {
        let (mut a, mut b) = (ReadyQueue::default(), ReadyQueue::default());
        for p in [3u8, 9, 9, 3] {
            let t = tcb(p);
            a.push(t);
            b.push(t);
        }
        while let Some(t) = a.pop() {
            let top = b.top().unwrap();
            assert_eq!(b.pop_top(top).index, t.index);
            assert_eq!(a.bits, b.bits);
        }
        assert!(b.is_empty());
    }

    #[test]
    fn a_ult_pushed_to_the_front_runs_before_its_equals_but_not_before_higher_levels() {
        let mut q = ReadyQueue::default();
        let (a, b, hi, first) = (tcb(5), tcb(5), tcb(9), tcb(5));
        for t in [a, b, hi] {
            q.push(t);
        }
        first.run_next.store(true, Relaxed);
        q.push_woken(first);
        assert!(!first.run_next.load(Relaxed), "the mark is used up");
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|t| t.index).collect();
        assert_eq!(order, vec![hi.index, first.index, a.index, b.index]);
        // Into an empty level, a front push is also its tail.
        q.push_front(a);
        q.push(b);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|t| t.index).collect();
        assert_eq!(order, vec![a.index, b.index]);
    }

    /// The slot is a representation only: any sequence of pushes (back
    /// and front), rotates and pops leaves the queue in the order a queue
    /// of lists alone would (a reference model of one FIFO per level, the
    /// highest first): the slot's ULT runs next when it is alone, a
    /// higher level pushed after it runs first, and a ULT pushed after it
    /// at its level runs after it (two ULTs that keep waking each other
    /// cannot jump a third).
    #[test]
    fn the_lone_slot_keeps_the_order_of_the_lists() {
        use std::collections::VecDeque;
        let ts: Vec<_> = (0..6).map(|i| tcb([4u8, 4, 4, 9, 9, 2][i])).collect();
        let mut model: Vec<VecDeque<u32>> = vec![VecDeque::new(); PRIORITY_LEVELS as usize];
        let model_pop = |m: &mut Vec<VecDeque<u32>>| m.iter_mut().rev().find_map(|l| l.pop_front());
        let mut q = ReadyQueue::default();
        let mut out: Vec<usize> = (0..ts.len()).collect();
        let mut x = 0x2545_f491_u32;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let op = x % 5;
            if op <= 2 && !out.is_empty() {
                let t = ts[out.swap_remove((x >> 8) as usize % out.len())];
                let p = t.priority() as usize;
                if op == 2 {
                    q.push_front(t);
                    model[p].push_front(t.index);
                } else {
                    q.push(t);
                    model[p].push_back(t.index);
                }
            } else if op == 3 && !out.is_empty() && q.top().is_some() {
                // A yield of an outside ULT: `rotate` is a pop then a push.
                let me = ts[out.swap_remove((x >> 8) as usize % out.len())];
                let top = q.top().unwrap();
                let head = q.rotate(me, me.priority(), top);
                assert_eq!(Some(head.index), model_pop(&mut model), "step {step}");
                model[me.priority() as usize].push_back(me.index);
                out.push(ts.iter().position(|t| t.index == head.index).unwrap());
            } else if let Some(top) = q.top() {
                let t = if op == 4 {
                    q.pop_top(top)
                } else {
                    q.pop().unwrap()
                };
                assert_eq!(Some(t.index), model_pop(&mut model), "step {step}");
                out.push(ts.iter().position(|u| u.index == t.index).unwrap());
            }
            let top = model.iter().rposition(|l| !l.is_empty());
            assert_eq!(q.top().map(usize::from), top, "step {step}");
            assert_eq!(q.is_empty(), top.is_none());
            if let Some(top) = top {
                assert_eq!(q.head_of(top as u8).index, model[top][0]);
            }
        }
    }

    /// A ping-pong's queue: the woken partner goes to the slot of the
    /// empty queue and comes straight back out of it, no list touched.
    #[test]
    fn a_ult_alone_in_the_queue_is_in_the_slot() {
        let mut q = ReadyQueue::default();
        let (a, b) = (tcb(7), tcb(7));
        q.push(a);
        assert!(std::ptr::eq(q.lone, a) && q.lists[7].head.is_null());
        assert_eq!(q.top_from(7), Some(7));
        assert_eq!(q.rotate(b, 7, 7).index, a.index, "a yield swaps the slot");
        assert!(std::ptr::eq(q.lone, b));
        q.push(a);
        assert!(q.lone.is_null(), "a second push moves the slot to its list");
        assert_eq!(q.pop().unwrap().index, b.index);
        assert_eq!(q.pop().unwrap().index, a.index);
        assert!(q.is_empty() && q.lone.is_null());
    }
}

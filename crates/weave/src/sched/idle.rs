//! The sleep/wake protocol of LWPs: who may sleep, who must be woken.
//!
//! A syscall costs ~270 ns and waking a sleeping LWP costs one, so new work
//! wakes an LWP only when no LWP is already looking for work. [`Idle`] owns
//! the protocol's counters (private: every step is a method below) and
//! each LWP owns one [`SleepFlag`].
//!
//! | counter        | counts                                                  | written by                 |
//! |----------------|---------------------------------------------------------|----------------------------|
//! | `searching`    | LWPs spin-searching for new work                        | the searchers              |
//! | `sleepers`     | LWPs whose `SleepFlag` is set (asleep or about to be)   | sleepers; a claiming waker |
//! | `members`      | the pool's LWPs that take new work (not retiring)       | under the pool lock        |
//! | `idle_members` | pool LWPs asleep or about to sleep ("could take work")  | the LWPs themselves        |
//!
//! The steps, numbered as in `docs/ARCHITECTURE.md`:
//!
//! 1. A pusher of stealable work pushes it, issues a SeqCst fence, then asks
//!    [`Idle::should_wake`]: only if nobody searches and someone sleeps does
//!    it [`claim`](Idle::claim) one sleeper's flag and unpark it.
//! 2. An LWP with nothing to run first searches ([`Idle::try_start_search`],
//!    at most half of the busy LWPs at once, Go's rule: on a 2-CPU machine
//!    spinners would take the CPU from the thread making the work). A
//!    pusher that saw a searcher woke nobody, so the search ends with a
//!    debt ([`Idle::end_search`], however the search ended): the last
//!    searcher that found work wakes another (step 1), so that a burst
//!    fans out one LWP at a time; the last searcher that found nothing and
//!    no longer takes new work (it began retiring) hands what is queued
//!    over to a pool LWP ([`SearchEnd::HandOver`]); any other searcher
//!    leaves the debt to the searchers still counted, or looks at new work
//!    itself next. (Without the hand-over, a retiring searcher that stopped
//!    because a ULT of its own woke left queued ULTs unseen while the
//!    pool's one remaining LWP slept.) The retirer's fence, after it marks
//!    the LWP retiring and before its own hand-over, pairs with the fence
//!    in `end_search` (Dekker again): either the retirer sees no searcher
//!    and wakes a sleeper itself, or the searcher sees that it retired.
//! 3. Before sleeping it sets its flag and counts itself
//!    ([`Idle::announce_sleep`], which ends with a SeqCst fence), then
//!    checks every source of work once more. After the sleep (or instead of
//!    it) [`Idle::end_sleep`] takes it off the count unless a waker did.
//!
//! The fences of 1 and 3 pair (Dekker): either the pusher sees the sleeper,
//! or the sleeper's last check sees the work. No wake-up is lost, and a
//! busy runtime makes no wake-up syscalls at all. `loom_tests` below checks
//! the pair, the claim (a sleeper is woken at most once per sleep) and the
//! retired searcher's hand-over.
//!
//! This file names no LWP, queue or runtime: the callers bring the work
//! checks and the unparking; it only counts.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use crate::loom::{fence, AtomicBool, AtomicUsize};

/// What an LWP that ends its search owes the pushers that saw it searching
/// and so woke nobody (step 2 of the module doc).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SearchEnd {
    /// Nothing: another searcher still counts, or the caller looks at new
    /// work itself next (its pick, or its last check before sleeping).
    Settled,
    /// It found work as the last searcher: wake another LWP for the rest of
    /// a burst.
    WakeAnother,
    /// It was the last searcher, found nothing, and no longer takes new
    /// work (it retires): it will not look at what the pushers queued, so
    /// it must wake a pool LWP if any new work is queued.
    HandOver,
}

/// The protocol's shared counters (see the module doc).
pub(crate) struct Idle {
    searching: AtomicUsize,
    sleepers: AtomicUsize,
    members: AtomicUsize,
    idle_members: AtomicUsize,
}

/// One LWP's "asleep, and nobody has claimed the wake-up yet" flag.
pub(crate) struct SleepFlag(AtomicBool);

impl SleepFlag {
    pub(crate) fn new() -> SleepFlag {
        SleepFlag(AtomicBool::new(false))
    }

    /// Whether the LWP sleeps (or is about to), unclaimed. SeqCst: the
    /// monitor's park pairs it with its own store (see
    /// `monitor::anything_to_watch`).
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(SeqCst)
    }

    /// For a snapshot of the LWP table: no ordering needed.
    pub(crate) fn peek(&self) -> bool {
        self.0.load(Relaxed)
    }

    /// Clears the flag of an LWP struct that is being reused. Only for a
    /// dead LWP: a live one is counted in `sleepers` while its flag is set.
    pub(crate) fn reset_dead(&self) {
        self.0.store(false, Relaxed);
    }
}

impl Idle {
    pub(crate) fn new() -> Idle {
        Idle {
            searching: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            members: AtomicUsize::new(0),
            idle_members: AtomicUsize::new(0),
        }
    }

    /// Step 1, after the pusher's SeqCst fence: whether it must wake a
    /// sleeper. SeqCst loads: they are the pusher's half of the Dekker pair
    /// with `announce_sleep`.
    pub(crate) fn should_wake(&self) -> bool {
        self.searching.load(SeqCst) == 0 && self.sleepers.load(SeqCst) > 0
    }

    /// Claims the sleep of the LWP owning `flag` for a waker: true if it
    /// was asleep (or about to be) and is now the caller's to unpark. At
    /// most one claimer wins per sleep.
    pub(crate) fn claim(&self, flag: &SleepFlag) -> bool {
        if flag.0.load(Relaxed)
            && flag
                .0
                .compare_exchange(true, false, SeqCst, Relaxed)
                .is_ok()
        {
            self.sleepers.fetch_sub(1, SeqCst);
            true
        } else {
            false
        }
    }

    /// Step 2: counts the caller as a searcher if fewer than half of the
    /// busy pool LWPs search already; false means "go to sleep instead".
    pub(crate) fn try_start_search(&self) -> bool {
        let busy = self
            .members
            .load(Relaxed)
            .saturating_sub(self.sleepers.load(Relaxed));
        if 2 * self.searching.load(Relaxed) < busy.max(1) {
            // SeqCst: a pusher's `should_wake` must see us searching, or
            // our search (after this) sees its push.
            self.searching.fetch_add(1, SeqCst);
            true
        } else {
            false
        }
    }

    /// Ends a search (step 2), however it ended: `found` if it found work
    /// to run. `takes_new_work` says whether the caller still takes new
    /// work; it is asked only of a last searcher that found nothing, after
    /// a SeqCst fence that pairs with the one a retirer issues between
    /// marking the LWP retiring and its hand-over's `should_wake`: either
    /// that hand-over sees no searcher and wakes a sleeper itself, or this
    /// reads the retirement and answers [`SearchEnd::HandOver`]. (One that
    /// found work wakes another anyway, which serves as the hand-over.)
    pub(crate) fn end_search(
        &self,
        found: bool,
        takes_new_work: impl FnOnce() -> bool,
    ) -> SearchEnd {
        // SeqCst: pairs with `should_wake`, as in `try_start_search`.
        if self.searching.fetch_sub(1, SeqCst) != 1 {
            // A searcher still counts: the debt passes to it.
            return SearchEnd::Settled;
        }
        if found {
            return SearchEnd::WakeAnother;
        }
        fence(SeqCst);
        if takes_new_work() {
            SearchEnd::Settled
        } else {
            SearchEnd::HandOver
        }
    }

    /// Step 3: the LWP owning `flag` is about to sleep; `member` if it is a
    /// pool LWP that takes new work. Ends with the SeqCst fence that pairs
    /// with the pusher's: after this, the caller checks every source of
    /// work once more before it sleeps.
    pub(crate) fn announce_sleep(&self, flag: &SleepFlag, member: bool) {
        if member {
            self.idle_members.fetch_add(1, Relaxed);
        }
        flag.0.store(true, SeqCst);
        self.sleepers.fetch_add(1, SeqCst);
        fence(SeqCst);
    }

    /// After the sleep (or its last check found work): takes the LWP off
    /// the sleepers unless a waker's claim already did.
    pub(crate) fn end_sleep(&self, flag: &SleepFlag) {
        if flag.0.swap(false, SeqCst) {
            self.sleepers.fetch_sub(1, SeqCst);
        }
    }

    /// A pool LWP that announced its sleep as a member stops counting as
    /// idle: call it only after it has had its chance at new work (a busy
    /// sibling defers new work to it while it counts as idle).
    pub(crate) fn leave_idle(&self) {
        self.idle_members.fetch_sub(1, Relaxed);
    }

    /// Whether every pool LWP is asleep or about to be (the deadlock
    /// detector's cue).
    pub(crate) fn all_members_idle(&self) -> bool {
        self.idle_members.load(Relaxed) >= self.members.load(Relaxed)
    }

    /// Sets the count of pool LWPs taking new work. `members` is the pool's
    /// list, borrowed from inside its lock: that borrow is the proof that
    /// the lock is held, so two writers never race.
    pub(crate) fn set_members(&self, members: &[usize]) {
        self.members.store(members.len(), Relaxed);
    }

    /// Pool LWPs taking new work (a heuristic read, without the lock).
    pub(crate) fn members(&self) -> usize {
        self.members.load(Relaxed)
    }

    /// Some LWP sleeps or is about to (a heuristic read).
    pub(crate) fn anyone_sleeps(&self) -> bool {
        self.sleepers.load(Relaxed) > 0
    }

    /// Some LWP is searching for work (a heuristic read).
    pub(crate) fn anyone_searches(&self) -> bool {
        self.searching.load(Relaxed) > 0
    }

    /// Some pool LWP could take new work now: idle or searching.
    pub(crate) fn someone_could_take_work(&self) -> bool {
        self.idle_members.load(Relaxed) > 0 || self.anyone_searches()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_last_searcher_that_retired_hands_over() {
        let idle = Idle::new();
        idle.set_members(&[0, 1]);
        assert!(idle.try_start_search());
        assert_eq!(idle.end_search(false, || false), SearchEnd::HandOver);
    }

    #[test]
    fn the_last_searcher_that_found_work_wakes_another_even_if_retired() {
        let idle = Idle::new();
        idle.set_members(&[0, 1]);
        assert!(idle.try_start_search());
        assert_eq!(idle.end_search(true, || false), SearchEnd::WakeAnother);
    }

    #[test]
    fn a_retired_searcher_leaves_the_hand_over_to_one_still_searching() {
        let idle = Idle::new();
        idle.set_members(&[0, 1, 2, 3]);
        assert!(idle.try_start_search());
        assert!(idle.try_start_search());
        assert_eq!(idle.end_search(false, || false), SearchEnd::Settled);
        assert_eq!(idle.end_search(false, || false), SearchEnd::HandOver);
    }

    #[test]
    fn the_last_searcher_of_the_pool_that_found_nothing_owes_nothing() {
        let idle = Idle::new();
        idle.set_members(&[0, 1]);
        assert!(idle.try_start_search());
        assert_eq!(idle.end_search(false, || true), SearchEnd::Settled);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Steps 1 and 3: a pusher and an LWP going to sleep. Either the
    /// sleeper's last check sees the work, or the pusher claims the sleeper
    /// (and would unpark it): never neither, which would be a lost wake-up.
    #[test]
    fn a_push_and_a_sleep_never_miss_each_other() {
        loom::model(|| {
            let idle = Arc::new(Idle::new());
            let flag = Arc::new(SleepFlag::new());
            let work = Arc::new(AtomicBool::new(false));
            let pusher = {
                let (idle, flag, work) = (idle.clone(), flag.clone(), work.clone());
                loom::thread::spawn(move || {
                    work.store(true, Relaxed);
                    fence(SeqCst);
                    idle.should_wake() && idle.claim(&flag)
                })
            };
            idle.announce_sleep(&flag, true);
            let saw_work = work.load(Relaxed);
            let claimed = pusher.join().unwrap();
            idle.end_sleep(&flag);
            idle.leave_idle();
            assert!(saw_work || claimed, "a wake-up was lost");
        });
    }

    /// A sleeper is claimed at most once per sleep, and the count of
    /// sleepers comes back to zero whoever takes it off.
    #[test]
    fn two_wakers_claim_one_sleep_once() {
        loom::model(|| {
            let idle = Arc::new(Idle::new());
            let flag = Arc::new(SleepFlag::new());
            idle.announce_sleep(&flag, false);
            let wakers: Vec<_> = (0..2)
                .map(|_| {
                    let (idle, flag) = (idle.clone(), flag.clone());
                    loom::thread::spawn(move || idle.claim(&flag))
                })
                .collect();
            idle.end_sleep(&flag);
            let wins = wakers
                .into_iter()
                .map(|w| w.join().unwrap())
                .filter(|&won| won)
                .count();
            assert!(wins <= 1, "one sleep woken twice");
            assert!(!idle.anyone_sleeps(), "the sleeper count leaked");
        });
    }

    /// Step 2 with a retirement: a pusher queues work while an LWP counts
    /// as a searcher, the LWP is retired and stops searching without taking
    /// the work (a ULT of its own woke), and the pool's remaining LWP goes
    /// to sleep. Either the sleeper's last check sees the work, or the
    /// pusher or the retired searcher's hand-over claims the sleeper.
    ///
    /// Bounded to 3 preemptions (~0.1 CPU s; unbounded it took ~45): it
    /// still fails at 1, 2 and 3 ("queued work left unseen") with
    /// `end_search`'s fence removed, and with its `HandOver` answered as
    /// `Settled`.
    #[test]
    fn a_retired_searcher_hands_the_work_over() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let idle = Arc::new(Idle::new());
            idle.set_members(&[0]);
            let member = Arc::new(SleepFlag::new());
            let work = Arc::new(AtomicBool::new(false));
            let retiring = Arc::new(AtomicBool::new(false));
            assert!(idle.try_start_search());
            let searcher = {
                let (idle, member, work, retiring) =
                    (idle.clone(), member.clone(), work.clone(), retiring.clone());
                loom::thread::spawn(move || {
                    match idle.end_search(false, || !retiring.load(Relaxed)) {
                        // `Lwp::hand_over_new_work`: fence, look, wake.
                        SearchEnd::HandOver => {
                            fence(SeqCst);
                            work.load(Relaxed) && idle.should_wake() && idle.claim(&member)
                        }
                        _ => false,
                    }
                })
            };
            let pusher = {
                let (idle, member, work, retiring) =
                    (idle.clone(), member.clone(), work.clone(), retiring.clone());
                loom::thread::spawn(move || {
                    // `set_concurrency` retires the searcher; work is queued
                    // (its own push-back, or the injector's), then notified.
                    retiring.store(true, Relaxed);
                    work.store(true, Relaxed);
                    fence(SeqCst);
                    idle.should_wake() && idle.claim(&member)
                })
            };
            idle.announce_sleep(&member, true);
            let saw_work = work.load(Relaxed);
            let handed_over = searcher.join().unwrap();
            let pushed = pusher.join().unwrap();
            idle.end_sleep(&member);
            idle.leave_idle();
            assert!(saw_work || handed_over || pushed, "queued work left unseen");
        });
    }

    /// A searcher that finds the work as the last searcher says so (and
    /// would wake another); a pusher that saw the search did not wake.
    #[test]
    fn the_last_searcher_knows_it() {
        loom::model(|| {
            let idle = Arc::new(Idle::new());
            idle.set_members(&[0, 1]);
            assert!(idle.try_start_search());
            let other = {
                let idle = idle.clone();
                loom::thread::spawn(move || {
                    let searched = idle.try_start_search();
                    searched && idle.end_search(true, || true) == SearchEnd::WakeAnother
                })
            };
            let mine_last = idle.end_search(true, || true) == SearchEnd::WakeAnother;
            let theirs_last = other.join().unwrap();
            // Exactly one of the searches that started ended last.
            assert!(mine_last || theirs_last);
            assert!(!idle.anyone_searches());
        });
    }
}

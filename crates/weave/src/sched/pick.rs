//! The pick rule: which source an LWP takes its next ULT from.
//!
//! Three sources hold runnable ULTs for an LWP (see the table in
//! `sched/mod.rs`): its `ready` queue of started ULTs, its `fresh` deque of
//! new ones, and the global injector. Each has a top priority level (O(1):
//! a bitmap and `leading_zeros`); the pick takes the highest. At equal
//! levels:
//!
//! - after a yield, new work goes first (the yielder asked to let others
//!   run, and is already at the back of `ready`);
//! - otherwise started ULTs go first, but every [`NEW_FIRST_EVERY`]th pick,
//!   so that a stream of spawns cannot starve started ULTs and vice versa;
//! - and an LWP with started ULTs to run may leave new work of the same
//!   level to a better-placed sibling for a while (`place::defer_new_work`).
//!
//! Between picks the LWP looks at its timers every [`TIMERS_EVERY`]th pick
//! (or when nothing is ready) and polls io every [`IO_EVERY`]th; both in
//! one branch, so that the common pick reads the ready queue's bitmap, the
//! inbox, the `fresh` deque and the injector's bitmap, and nothing else.
//!
//! This file is the rule alone, as functions of levels and counters; the
//! LWP's loop (`lwp/mod.rs`) does what it says. It names nothing of weave's.

/// A level no source has: the source is empty.
pub(crate) const NONE: i32 = -1;

/// Equal levels: new work goes first at every this-many-th pick.
pub(crate) const NEW_FIRST_EVERY: u32 = 16;

/// Due timers are looked for at every this-many-th pick (or when nothing
/// else is ready). A clock read costs ~20 ns in some VMs, over half of a
/// switch; and a fired ULT would queue behind those already ready anyway,
/// so looking less often delays it by little.
pub(crate) const TIMERS_EVERY: u32 = 8;

/// A busy LWP never sleeps in the reactor: it polls io now and then
/// (about tokio's interval, 61), so that readiness does not wait for an LWP
/// to idle or for the monitor's tick. A multiple of [`TIMERS_EVERY`], so
/// that the common pick tests one counter for both (`look_at_timers` is
/// true whenever `poll_io` is), and powers of two, so that the tests are
/// masks.
pub(crate) const IO_EVERY: u32 = 64;

const _: () = assert!(IO_EVERY % TIMERS_EVERY == 0 && IO_EVERY.is_power_of_two());
const _: () = assert!(TIMERS_EVERY.is_power_of_two() && NEW_FIRST_EVERY.is_power_of_two());

/// Whether to look for due timers before this pick.
#[inline]
pub(crate) fn look_at_timers(picks: u32, nothing_ready: bool) -> bool {
    picks % TIMERS_EVERY == 0 || nothing_ready
}

/// Whether to poll io before this pick.
#[inline]
pub(crate) fn poll_io(picks: u32) -> bool {
    picks % IO_EVERY == 0
}

/// Whether new work wins a tie with started work at this pick: after a
/// yield, and at every [`NEW_FIRST_EVERY`]th pick.
#[inline]
pub(crate) fn new_first(after_yield: bool, picks: u32) -> bool {
    after_yield || picks % NEW_FIRST_EVERY == 0
}

/// What to try, in order, for one pick. Whatever is tried and found empty
/// (another LWP raced for it) falls through to the next; `ready` is last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Take from the injector, but nothing below this level (its bits may
    /// be stale: take only work that still beats the other sources).
    pub(crate) global_floor: Option<i32>,
    /// Take from the `fresh` deque.
    pub(crate) fresh: bool,
}

/// The pick rule: given the top level of each source ([`NONE`] if empty)
/// and whether new work wins ties, what to try before `ready`.
#[inline]
pub(crate) fn plan(ready: i32, fresh: i32, global: i32, new_first: bool) -> Plan {
    let beats_ready = |level: i32| level > ready || (level == ready && new_first);
    let global_floor = (global > NONE && global >= fresh && beats_ready(global))
        .then(|| fresh.max(if new_first { ready } else { ready + 1 }));
    Plan {
        global_floor,
        fresh: fresh > NONE && beats_ready(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_level_wins_whatever_its_source() {
        assert_eq!(
            plan(20, NONE, 16, false),
            Plan {
                global_floor: None,
                fresh: false
            }
        );
        assert!(plan(10, 16, NONE, false).fresh);
        assert_eq!(plan(10, 16, 20, false).global_floor, Some(16));
    }

    #[test]
    fn started_work_wins_ties_unless_new_goes_first() {
        let p = plan(16, 16, 16, false);
        assert_eq!(p.global_floor, None);
        assert!(!p.fresh);
        let p = plan(16, 16, 16, true);
        assert_eq!(p.global_floor, Some(16));
        assert!(p.fresh);
    }

    #[test]
    fn new_work_goes_first_after_a_yield_and_every_sixteenth_pick() {
        assert!(new_first(true, 3));
        assert!(new_first(false, 32));
        assert!(!new_first(false, 33));
    }

    #[test]
    fn an_empty_lwp_takes_any_new_work() {
        let p = plan(NONE, NONE, 0, false);
        assert_eq!(p.global_floor, Some(0));
        assert!(plan(NONE, 16, NONE, false).fresh);
    }

    #[test]
    fn timers_and_io_are_looked_at_on_their_cadence() {
        assert!(look_at_timers(8, false));
        assert!(!look_at_timers(9, false));
        assert!(look_at_timers(9, true));
        assert!(poll_io(128));
        assert!(!poll_io(127));
        // An io poll always falls on a pick that looks at timers too.
        assert!((0..1024)
            .filter(|&p| poll_io(p))
            .all(|p| look_at_timers(p, false)));
    }
}

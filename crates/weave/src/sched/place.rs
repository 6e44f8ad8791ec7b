//! Placement: where a new ULT first runs, which is where it stays.
//!
//! A started ULT stays on the LWP that first ran it (DESIGN.md decision 3),
//! so new work is where a pool gets balanced. The rules:
//!
//! 1. **At spawn** ([`place_new`]): a pooled ULT of default priority spawned
//!    on an LWP goes to that LWP's stealable `fresh` deque; everything else
//!    (spawned from an OS thread, another priority, migratable) goes to the
//!    global injector. A spawn does not wake a sibling that would refuse
//!    the work (rule 3): that would be a futex call for nothing.
//! 2. **Deferral** ([`defer_new_work`]): an LWP with started ULTs to run
//!    leaves new work of the same level to a sibling that is idle,
//!    searching, or less loaded, for up to [`DEFER_NEW_WORK`]; then it
//!    takes the work itself, in case nobody comes.
//! 3. **Refusal** ([`heavier_than`]): an LWP with many more ULTs placed on
//!    it than an awake sibling (more than `max(16, theirs / 8)`) does not
//!    steal that sibling's new work ([`refuses_to_steal`]); it keeps
//!    searching meanwhile, at most until the sibling's ULT switches.
//! 4. **Sharing** ([`wake_lighter_sibling`]): an LWP that takes its own new
//!    work while more is queued wakes a much lighter sleeping sibling.
//!
//! 5. **Hand-off at first run** ([`lighter_home`]): an LWP about to start
//!    a new ULT of its own `fresh` deque while it is much heavier than a
//!    pool sibling (rule 3's measure) makes the lightest sibling the ULT's
//!    home instead, and queues it there (`Lwp::adopt_new`): the ULT has
//!    not run, so nothing of it is tied to a kernel thread yet.
//! 6. **An empty sibling at first run** ([`lighter_home`] too): an LWP
//!    about to start a new ULT of its own `fresh` deque while it has at
//!    least [`SPREAD_FROM`] ULTs placed hands it to an awake pool sibling
//!    that has none placed, at most once per [`SPREAD_EVERY`]. Two ULTs
//!    that first ran on one LWP stay there: when one of them runs without
//!    blocking, the other, woken, waits for it while the empty sibling
//!    idles (`wake_busy`: a ~200 µs median, the waker's spin plus its next
//!    send). Rule 5's margin does not see a difference of two. An asleep
//!    sibling is left alone, so the rule adds no kernel wake; one that a
//!    spawn woke (rule 1) is awake by then. The window keeps a spawn+join
//!    loop beside a parked ULT (two placed, one empty sibling at each
//!    start) from sending every short child across and waiting for it
//!    there: such a loop pays one cross-LWP round trip per window.
//!
//! Without rules 3 and 4 the LWP that is idle while another runs an accept
//! loop took nearly every connection (70% on one of two LWPs in
//! `tcp_echo_1k`); with them, 51%. But a sibling takes new work only by
//! stealing, when it is idle: one that is asleep when a burst comes wakes
//! too late (the accepting LWP has started the burst's ULTs by then), and
//! one that is busy never steals. `http_hello` had 66-81% of its
//! connections on one of two LWPs until rule 5. Migratable ULTs are not
//! counted as placed anywhere. Figures and the rules we tried:
//! `docs/PERFORMANCE.md`.

use std::time::{Duration, Instant};

use crate::lwp::Lwp;
use crate::runtime::rt;
use crate::thread::tcb::{Kind, Tcb, DEFAULT_PRIORITY};
use crate::time::clock;

/// How long an LWP with started ULTs to run leaves new work of the same
/// priority to a better-placed sibling before taking it itself. Waking a
/// sleeping LWP takes tens of µs, and on a loaded 2-CPU machine we measured
/// wake-ups past 2 ms (1 run in 12 then piled four busy ULTs on one LWP;
/// 0 in 20 at 5 ms). A new thread waiting this long is still well within
/// one time slice (10 ms).
pub(crate) const DEFER_NEW_WORK: Duration = Duration::from_millis(5);

/// Rule 1: queues the new, RUNNABLE ULT `tcb` where it will first run,
/// spawned on `here` (None: from an OS thread). Bound ULTs do not come
/// here: they get an LWP of their own.
pub(crate) fn place_new(here: Option<&Lwp>, tcb: &'static Tcb) {
    match here {
        Some(l)
            if l.takes_new_work()
                && tcb.priority() == DEFAULT_PRIORITY
                && tcb.kind() == Kind::Pooled =>
        {
            l.push_fresh(tcb);
            // Wake a sibling to steal it only if one sleeps and would take
            // it. The scan runs only when someone sleeps, so a busy pool's
            // spawn pays one load for it. Skipping the wake loses nothing:
            // `l` is awake and runs its own new work.
            if rt().idle.anyone_sleeps() && some_sibling_takes_from(l) {
                rt().notify_work(tcb.priority());
            }
        }
        _ => rt().push_global(tcb),
    }
}

/// Rule 3: whether `a` has so many more ULTs placed on it than `b` that new
/// work of `b`'s should stay with `b`.
pub(crate) fn heavier_than(a: &Lwp, b: &Lwp) -> bool {
    let (mine, theirs) = (a.placed(), b.placed());
    mine > theirs.saturating_add((theirs / 8).max(MIN_MARGIN))
}

/// The least difference in placed ULTs that rule 3 calls "much heavier":
/// a few ULTs more or less on an LWP is noise that moving work would not
/// repay.
const MIN_MARGIN: usize = 16;

/// Whether `thief` leaves `victim`'s new work alone: it is much heavier,
/// and the victim is awake to run that work itself once its current ULT
/// switches out. The work stays visible to the thief's last check before
/// sleeping, so the thief keeps searching meanwhile. A retiring victim is
/// never refused: it does not run its new work (it hands it to the
/// injector when it next goes idle, which a busy one may never do), and a
/// refusing thief would spin for that long. Sleeping instead of searching
/// measured worse: `tcp_echo_1k` 1.3-1.4x std with 64% of the ULTs on one
/// LWP, against 1.7-1.9x and 51% when the refuser keeps looking.
pub(crate) fn refuses_to_steal(thief: &Lwp, victim: &Lwp) -> bool {
    heavier_than(thief, victim) && !victim.is_sleeping() && victim.takes_new_work()
}

/// The least number of ULTs placed on an LWP for rule 6: with one (the
/// ULT that just blocked, say a joiner), the new ULT is all there is to
/// run here, and a spawn+join would cross to the sibling and back.
pub(crate) const SPREAD_FROM: usize = 2;

/// Rule 6's window, in `clock::ticks()`: an LWP hands at most one new ULT
/// per window to an empty sibling. 2^21 ticks are 0.5-2 ms at the 1-4 GHz
/// TSC rates of x86_64 parts (2.1 ms of the monotonic clock elsewhere):
/// one cross-LWP round trip (a few µs with the sibling awake) per window
/// costs a spawn+join loop under 1%, while a burst still gets its first
/// ULT to the empty sibling at once.
pub(crate) const SPREAD_EVERY: u64 = 1 << 21;

/// Rules 5 and 6: the pool sibling that should be the home of the new ULT
/// `me` is about to start: the lightest one, if `me` is much heavier than
/// it; else an awake one with none placed, if `me` has [`SPREAD_FROM`]
/// or more and its last such hand-off (`spread_at`, ticks, kept by the
/// LWP) is a window ago. An LWP with fewer placed reads only its own
/// count, inline (a spawn+join's every first run asks with one placed).
#[inline]
pub(crate) fn lighter_home(me: &Lwp, spread_at: &mut u64) -> Option<&'static Lwp> {
    if me.placed() < SPREAD_FROM {
        return None;
    }
    lighter_home_among_siblings(me, spread_at)
}

/// [`lighter_home`] past its look at `me`'s own count.
#[inline(never)]
fn lighter_home_among_siblings(me: &Lwp, spread_at: &mut u64) -> Option<&'static Lwp> {
    if me.placed() > MIN_MARGIN {
        let lightest = rt()
            .lwps()
            .filter(|l| !std::ptr::eq(*l, me) && l.is_pool_member())
            .min_by_key(|l| l.placed())
            .filter(|l| heavier_than(me, l));
        if lightest.is_some() {
            return lightest;
        }
    }
    let home = rt().lwps().find(|l| takes_spread(me, l))?;
    spread_due(clock::ticks(), spread_at).then_some(home)
}

/// Rule 6's sibling: a pool LWP other than `me`, awake, with no ULT placed.
pub(crate) fn takes_spread(me: &Lwp, sibling: &Lwp) -> bool {
    !std::ptr::eq(sibling, me)
        && sibling.is_pool_member()
        && sibling.placed() == 0
        && !sibling.is_sleeping()
}

/// Rule 6's window: whether a window has passed at `now` since
/// `spread_at`, which then restarts it.
fn spread_due(now: u64, spread_at: &mut u64) -> bool {
    if now.wrapping_sub(*spread_at) < SPREAD_EVERY {
        return false;
    }
    *spread_at = now;
    true
}

/// Whether some pool LWP other than `from` would take new work from it.
fn some_sibling_takes_from(from: &Lwp) -> bool {
    rt().lwps()
        .any(|l| !std::ptr::eq(l, from) && l.is_pool_member() && !heavier_than(l, from))
}

/// Whether another pool LWP is better placed than `me` to take new work:
/// one that is idle or searching, or one with fewer ULTs placed on it.
fn better_sibling(me: &Lwp) -> bool {
    let rt = rt();
    if rt.idle.members() <= 1 {
        return false;
    }
    if rt.idle.someone_could_take_work() {
        return true;
    }
    let mine = me.placed();
    rt.lwps()
        .any(|l| !std::ptr::eq(l, me) && l.is_pool_member() && l.placed() < mine)
}

/// Rule 2, asked by `me` at a pick where its started ULTs tie with new work
/// at `level`: whether to leave the new work to a sibling this time.
/// `since` is when `me` began deferring (kept by the LWP across picks).
pub(crate) fn defer_new_work(me: &Lwp, level: u8, since: &mut Option<Instant>) -> bool {
    if !better_sibling(me) {
        return false;
    }
    let now = Instant::now();
    let began = *since.get_or_insert(now);
    if now.duration_since(began) >= DEFER_NEW_WORK {
        return false;
    }
    if !rt().idle.anyone_searches() {
        rt().notify_work(level);
    }
    true
}

/// Rule 4: `me` took its own new work and more is queued: whether a
/// sleeping sibling much lighter than `me` should be woken to share it (it
/// may have refused our work while it was the heavier one).
pub(crate) fn wake_lighter_sibling(me: &Lwp) -> bool {
    rt().idle.anyone_sleeps()
        && rt()
            .lwps()
            .any(|l| !std::ptr::eq(l, me) && l.is_pool_member() && heavier_than(me, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_waits_a_window_after_the_last() {
        let mut at = 0;
        let t = 10 * SPREAD_EVERY;
        assert!(spread_due(t, &mut at), "the first spread waits for nothing");
        assert_eq!(at, t);
        assert!(!spread_due(t + 1, &mut at));
        assert!(!spread_due(t + SPREAD_EVERY - 1, &mut at));
        assert_eq!(at, t, "a refused spread does not restart the window");
        assert!(spread_due(t + SPREAD_EVERY, &mut at));
        // A counter that wrapped still measures the window.
        let mut at = u64::MAX - 1;
        assert!(!spread_due(SPREAD_EVERY - 3, &mut at));
        assert!(spread_due(SPREAD_EVERY - 2, &mut at));
    }
}

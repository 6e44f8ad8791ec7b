//! Finding parked stacks to trim (step 2 of `lwp/trim.rs`): once per trim
//! period (`WEAVE_TRIM`, 1 s by default) the monitor walks the thread
//! table and hands each ULT that has stayed parked in the same wait since
//! the previous pass to its home LWP, which gives back the pages below the
//! ULT's stack pointer. A ULT is so trimmed between one and two periods
//! after it parked, once per wait.
//!
//! With `WEAVE_COMPACT` on (`docs/design/compaction.md`), the same pass
//! counts how many passes each ULT has stayed in its wait, and hands one
//! parked past the compaction threshold in a wait of the list
//! (`lwp::trim::compactable`) over with its request marked `compact`. The
//! pass period is then the shorter of the two settings. It asks for no
//! compaction of a ULT that owns a live `thread::scope` (`Tcb::scopes`;
//! that wait is then done with), and none at all while threads weave did
//! not start are running (`os::threads::foreign`, read once a pass at the
//! first compaction due; those waits are asked for again next pass), nor
//! when the program keeps compaction off unless `WEAVE_COMPACT` is set
//! and it is not (the C library). The design note says why a look at
//! pass time is enough.
//!
//! Memory: two `u32`s per ULT parked at the last pass (its slot and its
//! wait's digest; and a `u16` more with compaction on), kept sorted by
//! slot, so that it follows the parked count rather than the slots ever
//! carved (a burst of a million threads that is gone leaves nothing
//! here). Cost: a pass reads three words per slot (~1 ms per 100,000
//! threads) and merges the previous pass's list as it goes; while nothing
//! is left to trim, and no LWP runs, the monitor sleeps as before.
//!
//! Above the engine, as the rest of the monitor: it reads TCB atomics only
//! (never a field the owning LWP writes without one) and asks the LWP.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::lwp::trim::{compactable, Request};
use crate::pagevec::PageVec;
use crate::runtime::Runtime;
use crate::stack::compact;
use crate::thread::state;
use crate::thread::table::table;
use crate::thread::tcb::NO_LWP;

/// Marks a slot's wait as already handed over.
const DONE: u32 = 1 << 31;
/// Marks a slot's wait as already handed over for compaction.
const COMPACT_ASKED: u32 = 1 << 30;
/// The flag bits of a `seen` entry; the rest is the wait's digest.
const FLAGS: u32 = DONE | COMPACT_ASKED;

/// What the monitor remembers between passes.
pub(super) struct Trimmer {
    /// The pass period: the trim period, the compaction threshold, or the
    /// shorter of the two.
    period: Option<Duration>,
    /// Passes a wait must last before its trim (0: trimming off).
    trim_passes: u32,
    /// Passes a wait must last before its compaction (`None`: off).
    compact_passes: Option<u32>,
    /// `WEAVE_COMPACT` is set in the environment: compaction stays on
    /// even if the program asked for it only then
    /// (`stack::keep_compaction_off_unless_set`, the C library).
    compact_set: bool,
    next: Instant,
    /// The ULTs the last pass saw parked.
    seen: Seen,
    /// The last pass saw a wait it has not handed over yet: the next pass
    /// may, so the monitor must not sleep through it.
    waiting: bool,
    /// LWPs ran since the last pass: ULTs may have parked that no pass
    /// has seen.
    active: bool,
}

/// The ULTs a pass saw parked, by slot, in increasing slot order.
///
/// Each list is a mapping of its own (`PageVec`), not a heap block: after
/// a burst it shrinks to the parked count and its pages go back to the
/// kernel (a heap block left the monitor's malloc arena resident).
#[derive(Default)]
struct Seen {
    slot: PageVec<u32>,
    /// The wait each was parked in (a digest of generation and block
    /// epoch, never 0), with `DONE` once handed over.
    wait: PageVec<u32>,
    /// With compaction on: passes that have seen each in its current wait
    /// (saturating). Empty otherwise.
    age: PageVec<u16>,
}

impl Seen {
    /// What the list says of `slot`, moving `at` (a cursor, only ever
    /// forward: slots are asked for in increasing order): `(wait, age)`,
    /// zeros if the slot was not parked.
    fn find(&self, slot: u32, at: &mut usize) -> (u32, u16) {
        while *at < self.slot.len() && self.slot[*at] < slot {
            *at += 1;
        }
        match self.slot.get(*at) {
            Some(&s) if s == slot => (self.wait[*at], self.age.get(*at).copied().unwrap_or(0)),
            _ => (0, 0),
        }
    }

    fn push(&mut self, slot: u32, wait: u32, age: Option<u16>) {
        self.slot.push(slot);
        self.wait.push(wait);
        if let Some(a) = age {
            self.age.push(a);
        }
    }
}

/// A wait's digest: its thread's generation and its block epoch, which
/// moves at every block. A collision only makes a trim come a period
/// early or be skipped, never unsafe (the LWP re-checks the thread).
fn digest(generation: u32, epoch: u64) -> u32 {
    let k = generation.wrapping_mul(0x9e37_79b9) ^ (epoch as u32);
    (k & !FLAGS).max(1)
}

/// Whole passes of `period` in `d`, at least 1.
fn passes(d: Duration, period: Duration) -> u32 {
    let n = d.as_nanos().div_ceil(period.as_nanos().max(1));
    n.clamp(1, u128::from(u16::MAX)) as u32
}

impl Trimmer {
    /// `trim`: the trim period, `None` turning trimming off; `compact`:
    /// the compaction threshold, `None` turning compaction off.
    pub(super) fn new(trim: Option<Duration>, compact: Option<Duration>, now: Instant) -> Trimmer {
        let period = match (trim, compact) {
            (Some(t), Some(c)) => Some(t.min(c)),
            (t, c) => t.or(c),
        };
        Trimmer {
            period,
            trim_passes: match (trim, period) {
                (Some(t), Some(p)) => passes(t, p),
                _ => 0,
            },
            compact_passes: compact.zip(period).map(|(c, p)| passes(c, p)),
            compact_set: crate::config::compact_set(),
            next: period.map_or(now, |p| now + p),
            seen: Seen::default(),
            waiting: false,
            active: false,
        }
    }

    /// When the monitor, with nothing else to watch, must wake for a pass
    /// (`None`: it may sleep until woken).
    pub(super) fn wake_at(&self) -> Option<Instant> {
        (self.period.is_some() && (self.waiting || self.active)).then_some(self.next)
    }

    /// LWPs ran, or may have, since the monitor last looked: once per tick
    /// while it watches running LWPs, after a deadlock check (asked for by
    /// the last LWP to go idle) and when it is woken from its park.
    pub(super) fn saw_activity(&mut self) {
        self.active = true;
    }

    /// Runs a pass if one is due at `now`. Returns the number of ULTs
    /// handed to their LWPs.
    pub(super) fn tick(&mut self, rt: &Runtime, now: Instant) -> usize {
        let Some(period) = self.period else {
            return 0;
        };
        if now < self.next {
            return 0;
        }
        self.next = now + period;
        self.pass(rt)
    }

    fn pass(&mut self, rt: &Runtime) -> usize {
        let t = table();
        let n = t.carved();
        let compacting = self.compact_passes.is_some();
        // The program's ask (the C library's) read once a pass: it may come
        // after the runtime started.
        let compact_allowed = compacting && (self.compact_set || !compact::only_if_set());
        // Whether threads weave did not start run now: read once a pass,
        // at the first compaction due (`None`: not read yet).
        let mut foreign_threads: Option<bool> = None;
        let (mut held_for_scopes, mut held_for_threads) = (0, 0);
        let last = std::mem::take(&mut self.seen);
        let mut now = Seen::default();
        let mut at = 0;
        self.waiting = false;
        self.active = false;
        let mut asks: HashMap<usize, PageVec<Request>> = HashMap::new();
        for i in 0..n as u32 {
            let tcb = t.slot(i);
            let w = tcb.state.load();
            let home = tcb.home.load(std::sync::atomic::Ordering::Relaxed);
            if w.run() != state::BLOCKED || home == NO_LWP {
                // Not parked: off the list.
                continue;
            }
            let (mut seen, mut age) = last.find(i, &mut at);
            let generation = tcb.generation.load(std::sync::atomic::Ordering::Relaxed);
            let k = digest(generation, w.epoch());
            if seen & !FLAGS != k {
                // Newly parked (or in a new wait): hand over next pass.
                now.push(i, k, compacting.then_some(0));
                self.waiting = true;
                continue;
            }
            // Seen in this wait by the previous pass too.
            let passes = if compacting {
                age = age.saturating_add(1);
                u32::from(age)
            } else {
                1
            };
            let trim = self.trim_passes != 0 && seen & DONE == 0;
            let compact = compact_allowed && seen & COMPACT_ASKED == 0 && compactable(w.reason());
            let trim_due = trim && passes >= self.trim_passes;
            let mut compact_due = compact && self.compact_passes.is_some_and(|c| passes >= c);
            if compact_due && tcb.scopes.load(std::sync::atomic::Ordering::Relaxed) != 0 {
                // It owns a live scope: its children may lend its stack to
                // the kernel. Not for this wait (the count changes only
                // while it runs, which ends the wait); its LWP re-checks.
                compact_due = false;
                seen |= COMPACT_ASKED;
                held_for_scopes += 1;
            } else if compact_due
                && *foreign_threads.get_or_insert_with(|| crate::os::threads::foreign() != Some(0))
            {
                // A thread weave did not start may hold a borrow of its
                // stack: ask again next pass.
                compact_due = false;
                held_for_threads += 1;
            }
            if trim_due || compact_due {
                // A compaction trims too.
                seen |= DONE | if compact_due { COMPACT_ASKED } else { 0 };
                asks.entry(home as usize).or_default().push(Request {
                    index: i,
                    generation,
                    epoch: w.epoch(),
                    compact: compact_due,
                });
            }
            if (trim && !trim_due) || (compact && !compact_due && seen & COMPACT_ASKED == 0) {
                self.waiting = true;
            }
            now.push(i, seen, compacting.then_some(age));
        }
        self.seen = now;
        if held_for_scopes != 0 {
            compact::note_held(held_for_scopes, true);
        }
        if held_for_threads != 0 {
            compact::note_held(held_for_threads, false);
        }
        let mut handed = 0;
        for l in rt.lwps() {
            if let Some(reqs) = asks.remove(&l.index) {
                if l.is_alive() {
                    handed += reqs.len();
                    l.request_trims(&reqs);
                }
            }
        }
        handed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_never_zero_nor_a_flag() {
        for g in [0, 1, 2, u32::MAX] {
            for e in [0, 1, 0x9e37_79b9, u64::MAX] {
                let d = digest(g, e);
                assert_ne!(d, 0);
                assert_eq!(d & FLAGS, 0);
            }
        }
    }

    #[test]
    fn the_pass_period_is_the_shorter_setting() {
        let now = Instant::now();
        let t = Trimmer::new(
            Some(Duration::from_secs(1)),
            Some(Duration::from_millis(2500)),
            now,
        );
        assert_eq!(t.period, Some(Duration::from_secs(1)));
        assert_eq!((t.trim_passes, t.compact_passes), (1, Some(3)));
        let c = Trimmer::new(None, Some(Duration::from_millis(300)), now);
        assert_eq!(c.period, Some(Duration::from_millis(300)));
        assert_eq!((c.trim_passes, c.compact_passes), (0, Some(1)));
    }

    #[test]
    fn the_list_answers_slots_asked_in_order_and_forgets_the_rest() {
        let mut seen = Seen::default();
        seen.push(3, 30, Some(1));
        seen.push(900_000, 9, Some(7));
        let mut at = 0;
        assert_eq!(seen.find(0, &mut at), (0, 0));
        assert_eq!(seen.find(3, &mut at), (30, 1));
        assert_eq!(seen.find(4, &mut at), (0, 0), "not parked last pass");
        assert_eq!(seen.find(900_000, &mut at), (9, 7));
        assert_eq!(seen.find(900_001, &mut at), (0, 0));
        // Two parked threads of a million slots: two entries, not a million.
        assert_eq!(seen.wait.len(), 2);
    }

    #[test]
    fn digest_moves_with_the_epoch() {
        assert_ne!(digest(7, 1), digest(7, 2));
    }

    #[test]
    fn off_never_asks_to_wake() {
        let now = Instant::now();
        let mut t = Trimmer::new(None, None, now);
        t.waiting = true;
        t.saw_activity();
        assert_eq!(t.wake_at(), None);
    }

    #[test]
    fn activity_asks_for_a_pass_at_the_period() {
        let now = Instant::now();
        let mut t = Trimmer::new(Some(Duration::from_secs(1)), None, now);
        assert_eq!(t.wake_at(), None, "nothing ran: nothing to trim");
        t.saw_activity();
        assert_eq!(t.wake_at(), Some(now + Duration::from_secs(1)));
    }
}

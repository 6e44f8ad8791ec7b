//! An LWP's timers: deadlines grouped into slots of 65.5 µs, each slot a
//! batch of (ULT, wake token) fired together. Part of the engine: the LWP
//! owns its `Timers` and fires them from its loop; this file names only the
//! TCB and its wake token, never the LWP or the scheduler.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::thread::state::WakeToken;
use crate::thread::tcb::Tcb;

/// Timer slack: deadlines are rounded up to a multiple of this many
/// nanoseconds (2^16 ns = 65.5 µs, about Linux's default slack of 50 µs),
/// so that timers due close together share one slot and fire as a batch.
/// A timer never fires early; it may fire up to one slot late.
const SLOT_NS_SHIFT: u32 = 16;

/// The instant slot numbers count from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn slot_of(at: Instant) -> u64 {
    let ns = at.saturating_duration_since(epoch()).as_nanos();
    let ns = u64::try_from(ns).unwrap_or(u64::MAX >> 1);
    // Round up: a slot fires at its end, never before a deadline in it.
    ns.div_ceil(1 << SLOT_NS_SHIFT)
}

/// The last slot that has started by `now` (its entries are due).
pub(crate) fn now_slot(now: Instant) -> u64 {
    let ns = now.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX >> 1) >> SLOT_NS_SHIFT
}

fn slot_start(slot: u64) -> Instant {
    epoch() + std::time::Duration::from_nanos(slot << SLOT_NS_SHIFT)
}

/// An LWP's timers: entries grouped by deadline slot, in deadline order.
/// Owned by the LWP.
///
/// We had a binary heap of (deadline, tcb, token). With 100,000 sleeping
/// ULTs its pops (17 levels of cache-missing sift-down each) took 11% of a
/// sleep-heavy run; a slot's entries sit together in one vector, pushed and
/// drained in order.
#[derive(Default)]
pub(crate) struct Timers {
    slots: BTreeMap<u64, Vec<(&'static Tcb, WakeToken)>>,
    /// Emptied vectors, kept for the next slots.
    spare: Vec<Vec<(&'static Tcb, WakeToken)>>,
    len: usize,
}

impl Timers {
    #[inline]
    pub(crate) fn insert(&mut self, at: Instant, tcb: &'static Tcb, token: WakeToken) {
        let slot = slot_of(at);
        self.len += 1;
        // A thread that sleeps the same time again and again (a period, a
        // poll interval) re-arms into the latest slot, which a sibling
        // that went to sleep just before it opened: push there, down the
        // map's right edge, without a search of the keys.
        if let Some(mut last) = self.slots.last_entry() {
            if *last.key() == slot {
                last.get_mut().push((tcb, token));
                return;
            }
        }
        self.insert_slow(slot, tcb, token);
    }

    #[cold]
    fn insert_slow(&mut self, slot: u64, tcb: &'static Tcb, token: WakeToken) {
        let spare = &mut self.spare;
        self.slots
            .entry(slot)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push((tcb, token));
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.slots.keys().next().map(|&s| slot_start(s))
    }

    /// Takes the entries of the earliest slot if it is due at `now`,
    /// appending them to `out`; returns whether it took any.
    #[cfg(test)]
    fn take_due(&mut self, now: Instant, out: &mut Vec<(&'static Tcb, WakeToken)>) -> bool {
        self.take_due_slot(now_slot(now), out)
    }

    /// As `take_due`, with `now` as from [`now_slot`] (one clock
    /// conversion for a whole batch).
    pub(crate) fn take_due_slot(
        &mut self,
        now: u64,
        out: &mut Vec<(&'static Tcb, WakeToken)>,
    ) -> bool {
        let Some(mut first) = self.slots.first_entry() else {
            return false;
        };
        if *first.key() > now {
            return false;
        }
        let mut v = std::mem::take(first.get_mut());
        first.remove();
        self.len -= v.len();
        out.append(&mut v);
        if self.spare.len() < 8 {
            self.spare.push(v);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_fire_in_deadline_order_and_never_early() {
        // Entries need TCBs only as identities here: leak a few.
        let tcbs: Vec<&'static Tcb> = (0..3)
            .map(|_| &*Box::leak(Box::new(Tcb::new(u32::MAX - 1))))
            .collect();
        let mut t = Timers::default();
        let t0 = Instant::now();
        let tok = WakeToken { epoch: 1 };
        t.insert(t0 + Duration::from_millis(5), tcbs[0], tok);
        t.insert(t0 + Duration::from_millis(1), tcbs[1], tok);
        t.insert(
            t0 + Duration::from_millis(1) + Duration::from_nanos(10),
            tcbs[2],
            tok,
        );
        let next = t.next_deadline().unwrap();
        assert!(
            next >= t0 + Duration::from_millis(1),
            "a slot would fire early"
        );
        assert!(next <= t0 + Duration::from_millis(1) + Duration::from_micros(70));
        let mut out = Vec::new();
        assert!(!t.take_due(t0, &mut out));
        assert!(t.take_due(next, &mut out));
        let fired: Vec<_> = out.iter().map(|e| e.0 as *const Tcb).collect();
        assert_eq!(fired, [tcbs[1] as *const Tcb, tcbs[2] as *const Tcb]);
        assert!(!t.is_empty());
        out.clear();
        assert!(t.take_due(t0 + Duration::from_millis(6), &mut out));
        assert_eq!(out.len(), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn a_rearm_joins_the_latest_slot_and_an_earlier_one_opens_its_own() {
        let tcbs: Vec<&'static Tcb> = (0..4)
            .map(|_| &*Box::leak(Box::new(Tcb::new(u32::MAX - 1))))
            .collect();
        let mut t = Timers::default();
        let t0 = Instant::now();
        let tok = WakeToken { epoch: 1 };
        let ms = Duration::from_millis(1);
        // Into the latest slot (the quick path), after it, then before it.
        t.insert(t0 + 2 * ms, tcbs[0], tok);
        t.insert(t0 + 2 * ms + Duration::from_nanos(10), tcbs[1], tok);
        t.insert(t0 + 4 * ms, tcbs[2], tok);
        t.insert(t0 + ms, tcbs[3], tok);
        let ids = |out: &Vec<(&'static Tcb, WakeToken)>| -> Vec<*const Tcb> {
            out.iter().map(|e| e.0 as *const Tcb).collect()
        };
        let mut out = Vec::new();
        assert!(!t.take_due(t0 + ms - Duration::from_nanos(1), &mut out));
        assert!(t.take_due(t0 + ms + Duration::from_micros(70), &mut out));
        assert_eq!(ids(&out), [tcbs[3] as *const Tcb]);
        out.clear();
        assert!(!t.take_due(t0 + 2 * ms - Duration::from_nanos(1), &mut out));
        assert!(t.take_due(t0 + 2 * ms + Duration::from_micros(70), &mut out));
        assert_eq!(ids(&out), [tcbs[0] as *const Tcb, tcbs[1] as *const Tcb]);
        out.clear();
        assert!(!t.take_due(t0 + 4 * ms - Duration::from_nanos(1), &mut out));
        assert!(t.take_due(t0 + 4 * ms + Duration::from_micros(70), &mut out));
        assert_eq!(ids(&out), [tcbs[2] as *const Tcb]);
        assert!(t.is_empty());
    }

    /// Not a test: `WEAVE_REARM=quick|searched valgrind --tool=callgrind
    /// .. --ignored rearm_cost`, for the instructions of an insert.
    #[test]
    #[ignore]
    fn rearm_cost() {
        let tcb: &'static Tcb = Box::leak(Box::new(Tcb::new(u32::MAX - 1)));
        let tok = WakeToken { epoch: 1 };
        let quick = std::env::var("WEAVE_REARM").as_deref() != Ok("searched");
        let n: u64 = std::env::var("WEAVE_REARM_N").map_or(0, |v| v.parse().unwrap());
        let mut t = Timers::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        // As in `sleepers`: 100 re-arms a slot, 16 slots ahead, the
        // earliest fired as the next opens.
        for k in 0..n {
            let at = t0 + Duration::from_nanos((k / 100) << SLOT_NS_SHIFT);
            if quick {
                t.insert(at, tcb, tok);
            } else {
                t.len += 1;
                t.insert_slow(slot_of(at), tcb, tok);
            }
            if k % 100 == 99 {
                t.take_due_slot(now_slot(at) - 16, &mut out);
                out.clear();
            }
        }
        std::hint::black_box(&t);
    }
}

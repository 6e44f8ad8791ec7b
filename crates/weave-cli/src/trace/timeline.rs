//! The timeline of a trace, which the HTML view (`html.rs`) and the Chrome
//! export (`chrome.rs`) both draw: which ULT ran on which LWP when, the
//! wake-ups as flows, idle spans, marks, each ULT's state history, and the
//! summaries. Built from a trace read by `weave::trace::format`; names
//! neither of its two readers.

use std::collections::HashMap;

use weave::thread::{BlockReason, ThreadId, DEFAULT_PRIORITY};
use weave::trace::format::Trace;
use weave::trace::Event;

/// A stretch of time on an LWP during which one ULT ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub lane: usize,
    pub start: u64,
    pub end: u64,
    /// Index into `Timeline::ults`.
    pub ult: usize,
}

/// A wake-up: from the waker's LWP at the wake to the woken ULT's next run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub from_lane: Option<usize>,
    pub at: u64,
    pub to_lane: usize,
    pub run_at: u64,
    pub ult: usize,
}

/// A point event on a lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    Steal {
        from: usize,
    },
    Preempt,
    KernelBlocked,
    LwpStart,
    LwpExit,
    Dropped {
        count: u64,
    },
    /// A signal routed (by the dispatcher: on LWP 0's lane).
    Signal {
        sig: u8,
    },
    /// A signal's handler started on a ULT of this lane.
    SignalHandler {
        sig: u8,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub lane: usize,
    pub at: u64,
    pub kind: MarkKind,
}

/// A step of a ULT's state history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Spawned on this LWP (or an OS thread).
    Spawned(Option<usize>),
    RunsOn(usize),
    Blocks(BlockReason),
    /// Woken, by this ULT (an index into `Timeline::ults`) if one did.
    WokenBy(Option<usize>),
    Exits,
    Stolen {
        to: usize,
        from: usize,
    },
    BlocksLwpInKernel(usize),
    FdReady,
    TimerFires,
    /// A signal was routed to it.
    Signalled(u8),
    /// It runs a signal's handler.
    RunsHandler(u8),
}

impl Step {
    /// The step as (code, argument) for the page's compact history; the
    /// codes are `view.js`'s `STEPS`.
    pub fn code(self) -> (u8, i64) {
        let opt = |o: Option<usize>| o.map_or(-1, |v| v as i64);
        match self {
            Step::Spawned(l) => (0, opt(l)),
            Step::RunsOn(l) => (1, l as i64),
            Step::Blocks(r) => (2, r as u8 as i64),
            Step::WokenBy(u) => (3, opt(u)),
            Step::Exits => (4, 0),
            Step::Stolen { to, from } => (5, (to as i64) << 16 | from as i64),
            Step::BlocksLwpInKernel(l) => (6, l as i64),
            Step::FdReady => (7, 0),
            Step::TimerFires => (8, 0),
            Step::Signalled(sig) => (9, i64::from(sig)),
            Step::RunsHandler(sig) => (10, i64::from(sig)),
        }
    }
}

/// One ULT (or OS thread) of the trace, with its summary.
#[derive(Clone, Debug, Default)]
pub struct Ult {
    pub id: Option<ThreadId>,
    pub name: Option<String>,
    pub priority: u8,
    /// (time, what happened), in order.
    pub history: Vec<(u64, Step)>,
    pub run_ns: u64,
    pub runs: u64,
    /// Time runnable but not running: from a spawn or wake to the run.
    pub ready_ns: u64,
    /// Time blocked, by reason.
    pub waits: HashMap<BlockReason, u64>,
    /// State while the timeline is built.
    blocked_at: Option<(u64, BlockReason)>,
    ready_since: Option<u64>,
}

impl Ult {
    pub fn label(&self) -> String {
        let id = self.id.map_or("?".to_string(), |i| i.index().to_string());
        match &self.name {
            Some(n) => format!("{n} (ULT {id})"),
            None => format!("ULT {id}"),
        }
    }
}

/// One LWP of the trace, with its summary.
#[derive(Clone, Debug, Default)]
pub struct Lane {
    pub lwp: usize,
    pub bound: bool,
    pub busy_ns: u64,
    pub idle_ns: u64,
    pub kernel_ns: u64,
    pub switches: u64,
}

/// What is open on a lane while the timeline is built: the run (ULT,
/// since), the idle span, and since when the monitor has seen the LWP
/// blocked in the kernel during that run.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    run: Option<(usize, u64)>,
    idle: Option<u64>,
    kernel: Option<u64>,
}

/// What the viewer and the exporter draw.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub lanes: Vec<Lane>,
    pub slices: Vec<Slice>,
    pub idle: Vec<Slice>,
    /// Per lane, the stretches during which some ULT was runnable but
    /// waiting for that LWP (from its spawn or wake to its run there),
    /// overlapping ones merged (`ult` unused): where the run queue was
    /// not empty.
    pub ready: Vec<Slice>,
    pub flows: Vec<Flow>,
    pub marks: Vec<Mark>,
    pub ults: Vec<Ult>,
    pub end_ns: u64,
    pub dropped: u64,
}

impl Timeline {
    pub fn build(t: &Trace) -> Timeline {
        let mut tl = Timeline {
            end_ns: t.entries.last().map_or(0, |e| e.ns),
            dropped: t.dropped_total(),
            ..Timeline::default()
        };
        let mut lane_of: HashMap<usize, usize> = HashMap::new();
        let mut ult_of: HashMap<ThreadId, usize> = HashMap::new();
        // Per lane: what is open on it.
        let mut open: Vec<Open> = Vec::new();
        // Wakes waiting for their run: ult -> (at, from lane).
        let mut pending_wake: HashMap<usize, (u64, Option<usize>)> = HashMap::new();

        fn lane(
            tl: &mut Timeline,
            lane_of: &mut HashMap<usize, usize>,
            open: &mut Vec<Open>,
            lwp: usize,
        ) -> usize {
            *lane_of.entry(lwp).or_insert_with(|| {
                tl.lanes.push(Lane {
                    lwp,
                    ..Lane::default()
                });
                open.push(Open::default());
                tl.lanes.len() - 1
            })
        }
        let mut ult = |tl: &mut Timeline, id: ThreadId| -> usize {
            *ult_of.entry(id).or_insert_with(|| {
                tl.ults.push(Ult {
                    id: Some(id),
                    name: t.names.get(&id).cloned(),
                    priority: t.priorities.get(&id).copied().unwrap_or(DEFAULT_PRIORITY),
                    ..Ult::default()
                });
                tl.ults.len() - 1
            })
        };
        // Ends the run open on lane `l` at `at`.
        fn end_run(tl: &mut Timeline, open: &mut [Open], l: usize, at: u64) {
            if let Some((u, since)) = open[l].run.take() {
                tl.slices.push(Slice {
                    lane: l,
                    start: since,
                    end: at,
                    ult: u,
                });
                tl.ults[u].run_ns += at - since;
                tl.lanes[l].busy_ns += at - since;
            }
            if let Some(k) = open[l].kernel.take() {
                tl.lanes[l].kernel_ns += at.saturating_sub(k);
            }
        }

        for e in &t.entries {
            let at = e.ns;
            match e.event {
                Event::Spawn { ult: id, lwp } => {
                    let u = ult(&mut tl, id);
                    tl.ults[u].history.push((at, Step::Spawned(lwp)));
                    tl.ults[u].ready_since = Some(at);
                }
                Event::Run { ult: id, lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    end_run(&mut tl, &mut open, l, at);
                    let u = ult(&mut tl, id);
                    open[l].run = Some((u, at));
                    tl.lanes[l].switches += 1;
                    let x = &mut tl.ults[u];
                    x.runs += 1;
                    if let Some(r) = x.ready_since.take() {
                        x.ready_ns += at.saturating_sub(r);
                        if at > r {
                            tl.ready.push(Slice {
                                lane: l,
                                start: r,
                                end: at,
                                ult: usize::MAX,
                            });
                        }
                    }
                    x.history.push((at, Step::RunsOn(lwp)));
                    if let Some((w, from)) = pending_wake.remove(&u) {
                        tl.flows.push(Flow {
                            from_lane: from,
                            at: w,
                            to_lane: l,
                            run_at: at,
                            ult: u,
                        });
                    }
                }
                Event::Block {
                    ult: id,
                    lwp,
                    reason,
                    ..
                } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    let u = ult(&mut tl, id);
                    if open[l].run.is_some_and(|(r, _)| r == u) {
                        end_run(&mut tl, &mut open, l, at);
                    }
                    let x = &mut tl.ults[u];
                    x.blocked_at = Some((at, reason));
                    x.history.push((at, Step::Blocks(reason)));
                }
                Event::Wake {
                    ult: id,
                    lwp,
                    waker,
                    ..
                } => {
                    let from = lwp.map(|l| lane(&mut tl, &mut lane_of, &mut open, l));
                    let u = ult(&mut tl, id);
                    let by = waker.map(|w| ult(&mut tl, w));
                    let x = &mut tl.ults[u];
                    if let Some((b, reason)) = x.blocked_at.take() {
                        *x.waits.entry(reason).or_default() += at.saturating_sub(b);
                    }
                    x.ready_since = Some(at);
                    x.history.push((at, Step::WokenBy(by)));
                    pending_wake.insert(u, (at, from));
                }
                Event::Exit { ult: id, lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    let u = ult(&mut tl, id);
                    if open[l].run.is_some_and(|(r, _)| r == u) {
                        end_run(&mut tl, &mut open, l, at);
                    }
                    tl.ults[u].history.push((at, Step::Exits));
                }
                Event::Steal { ult: id, from, to } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, to);
                    let u = ult(&mut tl, id);
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::Steal { from },
                    });
                    tl.ults[u].history.push((at, Step::Stolen { to, from }));
                }
                Event::Preempt { lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::Preempt,
                    });
                }
                Event::LwpStart { lwp, bound } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    tl.lanes[l].bound = bound;
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::LwpStart,
                    });
                }
                Event::LwpExit { lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    end_run(&mut tl, &mut open, l, at);
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::LwpExit,
                    });
                }
                Event::LwpIdle { lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    end_run(&mut tl, &mut open, l, at);
                    open[l].idle = Some(at);
                }
                Event::LwpBusy { lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    if let Some(s) = open[l].idle.take() {
                        tl.idle.push(Slice {
                            lane: l,
                            start: s,
                            end: at,
                            ult: usize::MAX,
                        });
                        tl.lanes[l].idle_ns += at - s;
                    }
                }
                Event::KernelBlocked { lwp, ult: id, .. } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp);
                    open[l].kernel.get_or_insert(at);
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::KernelBlocked,
                    });
                    if let Some(id) = id {
                        let u = ult(&mut tl, id);
                        tl.ults[u].history.push((at, Step::BlocksLwpInKernel(lwp)));
                    }
                }
                Event::IoReady { ult: id, .. } => {
                    let u = ult(&mut tl, id);
                    tl.ults[u].history.push((at, Step::FdReady));
                }
                Event::TimerFired { ult: id, .. } => {
                    let u = ult(&mut tl, id);
                    tl.ults[u].history.push((at, Step::TimerFires));
                }
                Event::Signal { sig, to, lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp.unwrap_or(0));
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::Signal { sig },
                    });
                    if let Some(id) = to {
                        let u = ult(&mut tl, id);
                        tl.ults[u].history.push((at, Step::Signalled(sig)));
                    }
                }
                Event::SignalHandler { sig, ult: id, lwp } => {
                    let l = lane(&mut tl, &mut lane_of, &mut open, lwp.unwrap_or(0));
                    tl.marks.push(Mark {
                        lane: l,
                        at,
                        kind: MarkKind::SignalHandler { sig },
                    });
                    let u = ult(&mut tl, id);
                    tl.ults[u].history.push((at, Step::RunsHandler(sig)));
                }
                _ => {}
            }
        }
        // Close what is still open at the end of the trace.
        let end = tl.end_ns;
        for l in 0..open.len() {
            end_run(&mut tl, &mut open, l, end);
            if let Some(s) = open[l].idle {
                tl.idle.push(Slice {
                    lane: l,
                    start: s,
                    end,
                    ult: usize::MAX,
                });
                tl.lanes[l].idle_ns += end - s;
            }
        }
        for d in &t.dropped {
            let l = d
                .lwp
                .map_or(0, |lwp| lane(&mut tl, &mut lane_of, &mut open, lwp));
            tl.marks.push(Mark {
                lane: l,
                at: d.ns,
                kind: MarkKind::Dropped { count: d.count },
            });
        }
        // Lanes in LWP order; slices by lane, then time (the viewer
        // searches them by start).
        let mut order: Vec<usize> = (0..tl.lanes.len()).collect();
        order.sort_by_key(|&i| tl.lanes[i].lwp);
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        tl.lanes = order.iter().map(|&i| tl.lanes[i].clone()).collect();
        for s in tl
            .slices
            .iter_mut()
            .chain(tl.idle.iter_mut())
            .chain(tl.ready.iter_mut())
        {
            s.lane = new_index[s.lane];
        }
        for f in &mut tl.flows {
            f.from_lane = f.from_lane.map(|l| new_index[l]);
            f.to_lane = new_index[f.to_lane];
        }
        for m in &mut tl.marks {
            m.lane = new_index[m.lane];
        }
        tl.slices.sort_by_key(|s| (s.lane, s.start));
        tl.idle.sort_by_key(|s| (s.lane, s.start));
        tl.marks.sort_by_key(|m| (m.lane, m.at));
        tl.ready = merged(std::mem::take(&mut tl.ready));
        tl
    }
}

/// `spans` sorted by lane and start, with the overlapping (or touching)
/// ones of a lane merged into one.
fn merged(mut spans: Vec<Slice>) -> Vec<Slice> {
    spans.sort_by_key(|s| (s.lane, s.start));
    let mut out: Vec<Slice> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(o) if o.lane == s.lane && s.start <= o.end => o.end = o.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// The id of ULT `i`, first generation, for the test trace.
#[cfg(test)]
fn test_id(i: u64) -> ThreadId {
    ThreadId::from_u64((1 << 32) | i).unwrap()
}

/// A test trace: a ULT spawned, run on LWP 0, parked, woken by another on
/// LWP 1, run again, exited (for the tests here, of `html.rs` and of
/// `chrome.rs`).
#[cfg(test)]
pub(super) fn small() -> Trace {
    use weave::trace::format::Entry;
    let (a, b) = (test_id(1), test_id(2));
    let ev = [
        (
            0,
            Event::LwpStart {
                lwp: 0,
                bound: false,
            },
        ),
        (
            0,
            Event::LwpStart {
                lwp: 1,
                bound: false,
            },
        ),
        (10, Event::Spawn { ult: a, lwp: None }),
        (20, Event::Run { ult: a, lwp: 0 }),
        (
            50,
            Event::Block {
                ult: a,
                lwp: 0,
                reason: BlockReason::Park,
                wait: 1,
            },
        ),
        (55, Event::LwpIdle { lwp: 0 }),
        (60, Event::Spawn { ult: b, lwp: None }),
        (70, Event::Run { ult: b, lwp: 1 }),
        (
            80,
            Event::Wake {
                ult: a,
                lwp: Some(1),
                waker: Some(b),
                wait: 1,
            },
        ),
        (85, Event::Exit { ult: b, lwp: 1 }),
        (90, Event::LwpBusy { lwp: 0 }),
        (100, Event::Run { ult: a, lwp: 0 }),
        (130, Event::Exit { ult: a, lwp: 0 }),
        (140, Event::Preempt { lwp: 1 }),
    ];
    let mut t = Trace {
        entries: ev.iter().map(|&(ns, event)| Entry { ns, event }).collect(),
        ..Trace::default()
    };
    t.names.insert(a, "sleeper".into());
    t
}

/// A test trace of a signal: routed by the dispatcher (no LWP) to ULT 1,
/// its handler run by ULT 2 on LWP 1.
#[cfg(test)]
pub(super) fn signalled() -> Trace {
    use weave::trace::format::Entry;
    let (a, b) = (test_id(1), test_id(2));
    let ev = [
        (10, Event::Run { ult: a, lwp: 0 }),
        (
            20,
            Event::Signal {
                sig: 10,
                to: Some(a),
                lwp: None,
            },
        ),
        (
            30,
            Event::SignalHandler {
                sig: 10,
                ult: b,
                lwp: Some(1),
            },
        ),
    ];
    Trace {
        entries: ev.iter().map(|&(ns, event)| Entry { ns, event }).collect(),
        ..Trace::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_become_slices_on_their_lwps_lane() {
        let tl = Timeline::build(&small());
        assert_eq!(tl.lanes.len(), 2);
        let got: Vec<(usize, u64, u64)> =
            tl.slices.iter().map(|s| (s.lane, s.start, s.end)).collect();
        assert_eq!(got, [(0, 20, 50), (0, 100, 130), (1, 70, 85)]);
    }

    #[test]
    fn a_wake_is_a_flow_from_the_wakers_lwp_to_the_next_run() {
        let tl = Timeline::build(&small());
        assert_eq!(
            tl.flows,
            [Flow {
                from_lane: Some(1),
                at: 80,
                to_lane: 0,
                run_at: 100,
                ult: 0
            }]
        );
    }

    #[test]
    fn summaries_add_run_wait_ready_and_idle_time() {
        let tl = Timeline::build(&small());
        let a = &tl.ults[0];
        assert_eq!(a.name.as_deref(), Some("sleeper"));
        assert_eq!((a.run_ns, a.runs), (60, 2));
        assert_eq!(a.waits[&BlockReason::Park], 30);
        // Spawn at 10 to run at 20, wake at 80 to run at 100.
        assert_eq!(a.ready_ns, 30);
        assert_eq!(tl.lanes[0].busy_ns, 60);
        assert_eq!(tl.lanes[0].idle_ns, 35);
        assert!(a.history.contains(&(80, Step::WokenBy(Some(1)))));
    }

    #[test]
    fn runnable_waits_are_spans_on_the_lane_that_then_ran_the_ult() {
        let tl = Timeline::build(&small());
        let got: Vec<(usize, u64, u64)> =
            tl.ready.iter().map(|s| (s.lane, s.start, s.end)).collect();
        // The sleeper: spawned at 10, run at 20 on LWP 0; woken at 80, run
        // at 100 there. The other: spawned at 60, run at 70 on LWP 1.
        assert_eq!(got, [(0, 10, 20), (0, 80, 100), (1, 60, 70)]);
    }

    #[test]
    fn overlapping_runnable_waits_of_a_lane_merge() {
        let span = |lane, start, end| Slice {
            lane,
            start,
            end,
            ult: usize::MAX,
        };
        let got: Vec<(usize, u64, u64)> = merged(vec![
            span(0, 30, 40),
            span(0, 10, 20),
            span(0, 15, 25),
            span(1, 12, 18),
            span(0, 25, 28),
        ])
        .iter()
        .map(|s| (s.lane, s.start, s.end))
        .collect();
        assert_eq!(got, [(0, 10, 28), (0, 30, 40), (1, 12, 18)]);
    }

    #[test]
    fn a_signal_and_its_handler_are_marks_and_steps_of_their_threads() {
        let tl = Timeline::build(&signalled());
        let lane_of = |lwp: usize| tl.lanes.iter().position(|l| l.lwp == lwp).unwrap();
        let marks: Vec<(usize, u64, MarkKind)> =
            tl.marks.iter().map(|m| (m.lane, m.at, m.kind)).collect();
        assert_eq!(
            marks,
            [
                (lane_of(0), 20, MarkKind::Signal { sig: 10 }),
                (lane_of(1), 30, MarkKind::SignalHandler { sig: 10 })
            ]
        );
        let hist = |id| {
            let u = tl.ults.iter().position(|u| u.id == Some(id)).unwrap();
            tl.ults[u].history.clone()
        };
        assert!(hist(test_id(1)).contains(&(20, Step::Signalled(10))));
        assert_eq!(hist(test_id(2)), [(30, Step::RunsHandler(10))]);
    }
}

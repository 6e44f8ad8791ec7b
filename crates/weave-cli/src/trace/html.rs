//! The HTML page of `weave trace view`: one file with everything inline
//! (the data as a JavaScript object, `view.js`, the styles), so that it
//! opens from a laptop's disk with no network.
//!
//! The page: the timeline (a lane per LWP: runs as coloured slices, idle
//! spans as grey lines, wake-ups as flows from the waker's LWP to the run
//! they led to, a band where some ULT waited runnable for the LWP, marks
//! for steals, preemption requests, LWPs blocked in the kernel, LWPs
//! started and retired, and lost events), a panel with the
//! clicked ULT's details and state history, and the summary tables per
//! LWP and per ULT. The drawing is `view.js`'s; this file writes the data
//! and the static parts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::ser::{SerializeTuple, Serializer};
use serde::Serialize;

use super::timeline::{MarkKind, Timeline, Ult};

/// History entries kept per ULT (the latest ones): a ULT that switched a
/// million times would otherwise make the page as large as the trace.
const HISTORY: usize = 100;

/// ULTs listed in the summary table (those that ran longest).
const ULT_ROWS: usize = 500;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn mark_code(k: MarkKind) -> (u8, u64) {
    match k {
        MarkKind::Steal { from } => (0, from as u64),
        MarkKind::Preempt => (1, 0),
        MarkKind::KernelBlocked => (2, 0),
        MarkKind::LwpStart => (3, 0),
        MarkKind::LwpExit => (4, 0),
        MarkKind::Dropped { count } => (5, count),
        MarkKind::Signal { sig } => (6, u64::from(sig)),
        MarkKind::SignalHandler { sig } => (7, u64::from(sig)),
    }
}

/// The data object `D` that `view.js` draws, compact because a trace may
/// hold a million runs and a million threads: per lane, flat arrays of
/// numbers (`slices`: start, end, ULT; `idle`: start, end; `ready`: start,
/// end of the stretches when some ULT waited runnable for it; `marks`: time,
/// kind as `mark_code`, argument); `flows` flat (from lane or -1, time,
/// to lane, run time, ULT); per ULT one array (see [`UltRow`]); names
/// only for the named ULTs, by index; the names of the block reasons that
/// occur, by code. Keys in this order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    end: u64,
    lanes: Vec<usize>,
    bound: Vec<u8>,
    slices: Vec<Vec<u64>>,
    idle: Vec<Vec<u64>>,
    ready: Vec<Vec<u64>>,
    marks: Vec<Vec<u64>>,
    /// The colours of the mark kinds, by code (the key in the page says
    /// which is which).
    mark_colors: [&'static str; 8],
    flows: Vec<i64>,
    ults: Ults<'a>,
    names: BTreeMap<usize, &'a str>,
    reasons: BTreeMap<u8, String>,
}

/// The ULTs, each serialised as its turn comes (a trace may hold a
/// million: building every row first would hold them all at once).
struct Ults<'a>(&'a [Ult]);

impl Serialize for Ults<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(UltRow))
    }
}

/// One ULT, as an array: index, generation, priority, run ns, runs, ready
/// ns, then its waits (`[reason code, ns, ...]`), its latest history
/// (`[time, step code, argument, ...]`, steps as `Step::code`), and how
/// many older steps were left out.
struct UltRow<'a>(&'a Ult);

impl Serialize for UltRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let (index, generation) = u.id.map_or((0, 0), |id| (id.index(), id.generation()));
        let mut waits: Vec<_> = u.waits.iter().collect();
        waits.sort_by_key(|(r, _)| **r as u8);
        let waits: Vec<u64> = waits
            .iter()
            .flat_map(|(r, ns)| [**r as u64, **ns])
            .collect();
        let skip = u.history.len().saturating_sub(HISTORY);
        let history: Vec<i64> = u
            .history
            .iter()
            .skip(skip)
            .flat_map(|(t, step)| {
                let (code, arg) = step.code();
                [*t as i64, i64::from(code), arg]
            })
            .collect();
        let mut row = s.serialize_tuple(9)?;
        row.serialize_element(&index)?;
        row.serialize_element(&generation)?;
        row.serialize_element(&u.priority)?;
        row.serialize_element(&u.run_ns)?;
        row.serialize_element(&u.runs)?;
        row.serialize_element(&u.ready_ns)?;
        row.serialize_element(&waits)?;
        row.serialize_element(&history)?;
        row.serialize_element(&skip)?;
        row.end()
    }
}

/// Rows of `(lane, numbers)` gathered into one flat array per lane; a
/// row of a lane the timeline does not have is dropped.
fn per_lane(
    lanes: usize,
    rows: impl Iterator<Item = (usize, [u64; 3])>,
    width: usize,
) -> Vec<Vec<u64>> {
    let mut out = vec![Vec::new(); lanes];
    for (l, row) in rows {
        if let Some(v) = out.get_mut(l) {
            v.extend_from_slice(&row[..width]);
        }
    }
    out
}

fn data(tl: &Timeline) -> String {
    let n = tl.lanes.len();
    // The names of the block reasons that occur, by code.
    let reasons = tl
        .ults
        .iter()
        .flat_map(|u| {
            u.waits
                .keys()
                .copied()
                .chain(u.history.iter().filter_map(|(_, s)| match s {
                    super::timeline::Step::Blocks(r) => Some(*r),
                    _ => None,
                }))
        })
        .map(|r| (r as u8, format!("{r:?}")))
        .collect();
    let d = Data {
        end: tl.end_ns,
        lanes: tl.lanes.iter().map(|l| l.lwp).collect(),
        bound: tl.lanes.iter().map(|l| u8::from(l.bound)).collect(),
        slices: per_lane(
            n,
            tl.slices
                .iter()
                .map(|s| (s.lane, [s.start, s.end, s.ult as u64])),
            3,
        ),
        idle: per_lane(n, tl.idle.iter().map(|s| (s.lane, [s.start, s.end, 0])), 2),
        ready: per_lane(n, tl.ready.iter().map(|s| (s.lane, [s.start, s.end, 0])), 2),
        marks: per_lane(
            n,
            tl.marks.iter().map(|m| {
                let (k, arg) = mark_code(m.kind);
                (m.lane, [m.at, u64::from(k), arg])
            }),
            3,
        ),
        mark_colors: [
            "#2a6fdb", "#e8890c", "#d0021b", "#2e9d3a", "#222", "#c0c", "#0aa", "#066",
        ],
        flows: tl
            .flows
            .iter()
            .flat_map(|f| {
                [
                    f.from_lane.map_or(-1, |l| l as i64),
                    f.at as i64,
                    f.to_lane as i64,
                    f.run_at as i64,
                    f.ult as i64,
                ]
            })
            .collect(),
        ults: Ults(&tl.ults),
        names: tl
            .ults
            .iter()
            .enumerate()
            .filter_map(|(i, u)| u.name.as_deref().map(|n| (i, n)))
            .collect(),
        reasons,
    };
    let json = serde_json::to_string(&d).expect("the page's data serialises: its keys are strings");
    // Inside <script>, "</script>" in a thread's name would end the
    // element. '<' only occurs inside strings in JSON, where \u003c is the
    // same character: escaping every one keeps the value and the page.
    if json.contains('<') {
        json.replace('<', "\\u003c")
    } else {
        json
    }
}

/// The summary tables, per LWP and per ULT.
fn summary(tl: &Timeline) -> String {
    let mut o = String::from(
        "<h2>LWPs</h2><table class=\"summary\" id=\"lwp-summary\"><tr><th>LWP</th><th>busy \
         (ms)</th><th>idle (ms)</th><th>in the kernel (ms)</th><th>switches</th></tr>",
    );
    for l in &tl.lanes {
        let _ = write!(
            o,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.lwp,
            if l.bound { " (bound)" } else { "" },
            ms(l.busy_ns),
            ms(l.idle_ns),
            ms(l.kernel_ns),
            l.switches
        );
    }
    o.push_str("</table>");
    let mut order: Vec<usize> = (0..tl.ults.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tl.ults[i].run_ns));
    let _ = write!(
        o,
        "<h2>Threads</h2><p>{} threads{}</p><table class=\"summary\" id=\"ult-summary\"><tr>\
         <th>thread</th><th>priority</th><th>run (ms)</th><th>switches</th><th>runnable, \
         waiting (ms)</th><th>blocked, by reason (ms)</th></tr>",
        tl.ults.len(),
        if tl.ults.len() > ULT_ROWS {
            format!("; the {ULT_ROWS} that ran longest are listed")
        } else {
            String::new()
        }
    );
    for &i in order.iter().take(ULT_ROWS) {
        let u = &tl.ults[i];
        let mut waits: Vec<String> = u
            .waits
            .iter()
            .map(|(r, ns)| format!("{r:?} {}", ms(*ns)))
            .collect();
        waits.sort();
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&u.label()),
            u.priority,
            ms(u.run_ns),
            u.runs,
            ms(u.ready_ns),
            html_escape(&waits.join(", "))
        );
    }
    o.push_str("</table>");
    o
}

const STYLE: &str = "body{font:13px sans-serif;margin:12px;color:#222}\
#wrap{position:relative;display:flex;border:1px solid #ccc}\
#labels{position:relative;width:110px;flex:none;border-right:1px solid #ccc}\
.lane{position:absolute;left:4px;line-height:26px;font-size:12px}\
#canvaswrap{flex:1;overflow:hidden}canvas{display:block;cursor:grab}\
#info{margin-top:8px;padding:6px;border:1px solid #ccc;min-height:40px;max-height:320px;overflow:auto}\
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}.key span.sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px}\
#script-error{background:#fdd;color:#900;padding:6px;font-weight:bold}";

/// The whole page for `tl`, read from the file `source`.
pub(super) fn page(tl: &Timeline, source: &str) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>weave trace: {src}</title>\
         <style>{STYLE}</style></head><body>\n<h1>weave trace</h1><p>{src}: {events} LWPs, \
         {threads} threads, {dur} ms{dropped}. Wheel to zoom, drag to pan, click a run for its \
         thread. <button id=\"reset\">whole trace</button> <span id=\"range\"></span></p>\
         <p class=\"key\"><span class=\"sw\" style=\"background:#2a6fdb\"></span>steal\
         <span class=\"sw\" style=\"background:#e8890c\"></span>preemption request\
         <span class=\"sw\" style=\"background:#d0021b\"></span>blocked in the kernel\
         <span class=\"sw\" style=\"background:#2e9d3a\"></span>LWP started\
         <span class=\"sw\" style=\"background:#222\"></span>LWP retired\
         <span class=\"sw\" style=\"background:#c0c\"></span>events lost\
         <span class=\"sw\" style=\"background:#0aa\"></span>signal routed\
         <span class=\"sw\" style=\"background:#066\"></span>signal handler runs\
         <span class=\"sw\" style=\"background:#ddd\"></span>idle\
         <span class=\"sw\" style=\"background:#e6b800\"></span>a thread runnable, waiting for \
         this LWP (a clicked thread's own waits framed)\
         <span class=\"sw\" style=\"background:rgba(40,40,160,.6)\"></span>wake-up (to the run it led to) \
         <span id=\"flownote\"></span></p>\
         <div id=\"wrap\"><div id=\"labels\"></div><div id=\"canvaswrap\"><canvas id=\"timeline\">\
         </canvas></div></div><div id=\"info\">Click a run to see its thread.</div>\n",
        src = html_escape(source),
        events = tl.lanes.len(),
        threads = tl.ults.len(),
        dur = ms(tl.end_ns),
        dropped = if tl.dropped > 0 {
            format!(", {} events lost (the rings were full)", tl.dropped)
        } else {
            String::new()
        },
    );
    o.push_str(&summary(tl));
    o.push_str("\n<script>\nvar D = ");
    o.push_str(&data(tl));
    o.push_str(";\n");
    o.push_str(include_str!("view.js"));
    o.push_str("</script>\n</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::timeline::small;
    use super::*;

    #[test]
    fn the_page_has_a_lane_per_lwp_and_the_runs_of_each() {
        let tl = Timeline::build(&small());
        let p = page(&tl, "small.trace");
        assert!(p.contains("\"lanes\":[0,1]"), "{p}");
        assert!(
            p.contains("\"slices\":[[20,50,0,100,130,0],[70,85,1]]"),
            "{p}"
        );
        assert!(p.contains("\"ready\":[[10,20,80,100],[60,70]]"), "{p}");
        assert!(p.contains("<canvas id=\"timeline\">"));
        assert!(p.contains("window.onerror"));
    }

    #[test]
    fn the_page_loads_nothing_from_the_network() {
        let p = page(&Timeline::build(&small()), "small.trace");
        for needle in ["http://", "https://", "src=", "<link"] {
            assert!(!p.contains(needle), "{needle} in the page");
        }
    }

    #[test]
    fn names_cannot_close_the_script_element() {
        let mut trace = small();
        for name in trace.names.values_mut() {
            *name = "</script><b>".into();
        }
        let d = data(&Timeline::build(&trace));
        assert!(!d.contains('<'), "{d}");
        let v: serde_json::Value = serde_json::from_str(&d).unwrap();
        assert!(
            v["names"]
                .as_object()
                .unwrap()
                .values()
                .all(|n| n == "</script><b>"),
            "{v}"
        );
    }

    #[test]
    fn the_summary_lists_each_lwp_and_thread() {
        let p = page(&Timeline::build(&small()), "small.trace");
        assert!(p.contains("id=\"lwp-summary\""));
        assert!(p.contains("<td>sleeper (ULT 1)</td>"), "{p}");
    }
}

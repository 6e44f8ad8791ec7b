//! The HTML page of `weave trace view`: one file with everything inline
//! (the data as a JavaScript object, `view.js`, the styles), so that it
//! opens from a laptop's disk with no network.
//!
//! The page: the timeline (a lane per LWP: runs as coloured slices, idle
//! spans as grey lines, wake-ups as flows from the waker's LWP to the run
//! they led to, marks for steals, preemption requests, LWPs blocked in the
//! kernel, LWPs started and retired, and lost events), a panel with the
//! clicked ULT's details and state history, and the summary tables per
//! LWP and per ULT. The drawing is `view.js`'s; this file writes the data
//! and the static parts.

use std::fmt::Write as _;

use super::timeline::{MarkKind, Timeline};

/// History entries kept per ULT (the latest ones): a ULT that switched a
/// million times would otherwise make the page as large as the trace.
const HISTORY: usize = 100;

/// ULTs listed in the summary table (those that ran longest).
const ULT_ROWS: usize = 500;

/// A string as a JavaScript (JSON) string literal, safe inside `<script>`.
pub(super) fn js_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '<' => o.push_str("\\u003c"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

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
    }
}

/// The data object `D` that `view.js` draws.
fn data(tl: &Timeline) -> String {
    let n = tl.lanes.len();
    let mut o = String::from("{");
    let _ = write!(o, "\"end\":{},\"lanes\":[", tl.end_ns);
    for (i, l) in tl.lanes.iter().enumerate() {
        let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, l.lwp);
    }
    o.push_str("],\"bound\":[");
    for (i, l) in tl.lanes.iter().enumerate() {
        let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, u8::from(l.bound));
    }
    o.push(']');
    let per_lane = |o: &mut String, key: &str, rows: &mut dyn Iterator<Item = (usize, String)>| {
        let mut lanes: Vec<String> = vec![String::new(); n];
        for (l, row) in rows {
            if let Some(s) = lanes.get_mut(l) {
                if !s.is_empty() {
                    s.push(',');
                }
                s.push_str(&row);
            }
        }
        let _ = write!(o, ",\"{key}\":[");
        for (i, s) in lanes.iter().enumerate() {
            let _ = write!(o, "{}[{s}]", if i > 0 { "," } else { "" });
        }
        o.push(']');
    };
    per_lane(
        &mut o,
        "slices",
        &mut tl
            .slices
            .iter()
            .map(|s| (s.lane, format!("{},{},{}", s.start, s.end, s.ult))),
    );
    per_lane(
        &mut o,
        "idle",
        &mut tl
            .idle
            .iter()
            .map(|s| (s.lane, format!("{},{}", s.start, s.end))),
    );
    per_lane(
        &mut o,
        "marks",
        &mut tl.marks.iter().map(|m| {
            let (k, arg) = mark_code(m.kind);
            (m.lane, format!("{},{k},{arg}", m.at))
        }),
    );
    o.push_str(
        ",\"markColors\":[\"#2a6fdb\",\"#e8890c\",\"#d0021b\",\"#2e9d3a\",\"#222\",\"#c0c\"]",
    );
    o.push_str(",\"flows\":[");
    for (i, f) in tl.flows.iter().enumerate() {
        let _ = write!(
            o,
            "{}{},{},{},{},{}",
            if i > 0 { "," } else { "" },
            f.from_lane.map_or(-1, |l| l as i64),
            f.at,
            f.to_lane,
            f.run_at,
            f.ult
        );
    }
    // Per ULT, compact (a trace may hold a million threads): index,
    // generation, priority, run ns, runs, ready ns, then the waits
    // ([reason, ns] pairs) and the history ([time, step, arg] triples,
    // steps as `Step::code`), and how many older steps were left out.
    // Names separately, only for the named.
    o.push_str("],\"ults\":[");
    for (i, u) in tl.ults.iter().enumerate() {
        let (index, generation) = u.id.map_or((0, 0), |id| (id.index(), id.generation()));
        let mut waits: Vec<_> = u.waits.iter().collect();
        waits.sort_by_key(|(r, _)| **r as u8);
        let _ = write!(
            o,
            "{}[{index},{generation},{},{},{},{},[",
            if i > 0 { "," } else { "" },
            u.priority,
            u.run_ns,
            u.runs,
            u.ready_ns,
        );
        for (k, (r, ns)) in waits.iter().enumerate() {
            let _ = write!(o, "{}{},{ns}", if k > 0 { "," } else { "" }, **r as u8);
        }
        o.push_str("],[");
        let skip = u.history.len().saturating_sub(HISTORY);
        for (k, (t, step)) in u.history.iter().skip(skip).enumerate() {
            let (code, arg) = step.code();
            let _ = write!(o, "{}{t},{code},{arg}", if k > 0 { "," } else { "" });
        }
        let _ = write!(o, "],{skip}]");
    }
    o.push_str("],\"names\":{");
    let mut first = true;
    for (i, u) in tl.ults.iter().enumerate() {
        if let Some(n) = &u.name {
            let _ = write!(o, "{}\"{i}\":{}", if first { "" } else { "," }, js_str(n));
            first = false;
        }
    }
    // The names of the block reasons that occur, by code.
    let mut reasons: Vec<weave::thread::BlockReason> = tl
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
        .collect();
    reasons.sort_by_key(|r| *r as u8);
    reasons.dedup();
    o.push_str("},\"reasons\":{");
    for (k, r) in reasons.iter().enumerate() {
        let _ = write!(
            o,
            "{}\"{}\":\"{r:?}\"",
            if k > 0 { "," } else { "" },
            *r as u8
        );
    }
    o.push_str("}}");
    o
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
         <span class=\"sw\" style=\"background:#ddd\"></span>idle\
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
        assert_eq!(js_str("</script>"), "\"\\u003c/script>\"");
    }

    #[test]
    fn the_summary_lists_each_lwp_and_thread() {
        let p = page(&Timeline::build(&small()), "small.trace");
        assert!(p.contains("id=\"lwp-summary\""));
        assert!(p.contains("<td>sleeper (ULT 1)</td>"), "{p}");
    }
}

//! `weave trace export`: the Chrome trace event format (the JSON object
//! form, `{"traceEvents": [...]}`), which Perfetto and `chrome://tracing`
//! open.
//!
//! One process ("weave"), one track per LWP (`tid` = LWP index + 1, named
//! by `thread_name` metadata): each run is a complete event (`ph: "X"`)
//! named after its ULT, each idle span an `idle` complete event, each
//! wake-up a flow (`ph: "s"` on the waker's LWP, `ph: "f"` bound to the
//! run it led to), each mark an instant event (`ph: "i"`). Times are in
//! microseconds, as the format wants, with ns precision kept in the
//! fraction.

use std::fmt::Write as _;

use super::html::js_str;
use super::timeline::{MarkKind, Timeline};

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

pub(super) fn json(tl: &Timeline) -> String {
    let mut ev: Vec<String> = Vec::new();
    ev.push(
        "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"weave\"}}"
            .into(),
    );
    for (i, l) in tl.lanes.iter().enumerate() {
        ev.push(format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":{}}}}}",
            i + 1,
            js_str(&format!(
                "LWP {}{}",
                l.lwp,
                if l.bound { " (bound)" } else { "" }
            ))
        ));
    }
    for s in &tl.slices {
        let u = &tl.ults[s.ult];
        ev.push(format!(
            "{{\"name\":{},\"cat\":\"run\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{},\
             \"args\":{{\"id\":{},\"priority\":{}}}}}",
            js_str(&u.label()),
            us(s.start),
            us(s.end - s.start),
            s.lane + 1,
            js_str(&u.id.map_or("?".into(), |id| format!("{id:?}"))),
            u.priority
        ));
    }
    for s in &tl.idle {
        ev.push(format!(
            "{{\"name\":\"idle\",\"cat\":\"idle\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{}}}",
            us(s.start),
            us(s.end - s.start),
            s.lane + 1
        ));
    }
    for (i, f) in tl.flows.iter().enumerate() {
        let from = f.from_lane.unwrap_or(f.to_lane);
        ev.push(format!(
            "{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":{i},\"ts\":{},\"pid\":1,\"tid\":{}}}",
            us(f.at),
            from + 1
        ));
        ev.push(format!(
            "{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\",\"bp\":\"e\",\"id\":{i},\"ts\":{},\"pid\":1,\"tid\":{}}}",
            us(f.run_at),
            f.to_lane + 1
        ));
    }
    for m in &tl.marks {
        let (name, args) = match m.kind {
            MarkKind::Steal { from } => ("steal", format!("{{\"from_lwp\":{from}}}")),
            MarkKind::Preempt => ("preempt", "{}".into()),
            MarkKind::KernelBlocked => ("blocked in the kernel", "{}".into()),
            MarkKind::LwpStart => ("LWP started", "{}".into()),
            MarkKind::LwpExit => ("LWP retired", "{}".into()),
            MarkKind::Dropped { count } => ("events lost", format!("{{\"count\":{count}}}")),
        };
        ev.push(format!(
            "{{\"name\":\"{name}\",\"cat\":\"mark\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},\"pid\":1,\"tid\":{},\"args\":{args}}}",
            us(m.at),
            m.lane + 1
        ));
    }
    let mut o = String::from("{\"traceEvents\":[\n");
    for (i, e) in ev.iter().enumerate() {
        let _ = writeln!(o, "{}{e}", if i > 0 { "," } else { "" });
    }
    o.push_str("],\"displayTimeUnit\":\"ns\"}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::timeline::small;
    use super::*;

    #[test]
    fn runs_are_complete_events_on_their_lwps_track() {
        let j = json(&Timeline::build(&small()));
        assert!(j.contains(
            "{\"name\":\"sleeper (ULT 1)\",\"cat\":\"run\",\"ph\":\"X\",\"ts\":0.020,\"dur\":0.030,\"pid\":1,\"tid\":1,"
        ), "{j}");
        assert!(
            j.contains("\"ph\":\"f\",\"bp\":\"e\",\"id\":0,\"ts\":0.100,\"pid\":1,\"tid\":1"),
            "{j}"
        );
    }
}

//! `weave trace export`: the Chrome trace event format (the JSON object
//! form, `{"traceEvents": [...]}`), which Perfetto and `chrome://tracing`
//! open, written through serde.
//!
//! One process ("weave"), one track per LWP (`tid` = LWP index + 1, named
//! by `thread_name` metadata): each run is a complete event (`ph: "X"`)
//! named after its ULT, each idle span an `idle` complete event, each
//! wake-up a flow (`ph: "s"` on the waker's LWP, `ph: "f"` bound to the
//! run it led to), each mark an instant event (`ph: "i"`), and the
//! stretches while some ULT waited runnable for an LWP a counter per LWP
//! (`ph: "C"`, `LWP n runnable waiting`, 1 from the band's start to its
//! end, as the viewer's band along the lane). Times are in
//! microseconds, as the format wants, with the nanoseconds in the
//! fraction. Each event is on a line of its own, so that a large export
//! can still be read with line tools.

use serde::Serialize;

use super::timeline::{MarkKind, Timeline};

/// The whole file.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChromeTrace {
    trace_events: Vec<Event>,
    display_time_unit: &'static str,
}

/// One trace event; a key that is `None` is left out. The field order is
/// the key order of the output.
#[derive(Serialize)]
struct Event {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    ph: &'static str,
    /// A flow end's binding point: "e", the enclosing slice.
    #[serde(skip_serializing_if = "Option::is_none")]
    bp: Option<&'static str>,
    /// An instant event's scope: "t", its thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    /// A flow's id, shared by its start and its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u32,
    tid: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Args>,
}

/// The `args` of an event, by the kind of event.
#[derive(Serialize)]
#[serde(untagged)]
enum Args {
    /// Metadata: the process's or the track's name.
    Name {
        name: String,
    },
    /// A run: the ULT's id and priority.
    Run {
        id: String,
        priority: u8,
    },
    Steal {
        from_lwp: usize,
    },
    Signal {
        signal: u8,
    },
    Lost {
        count: u64,
    },
    /// A counter's value: 1 while some ULT waits runnable, else 0.
    Waiting {
        waiting: u8,
    },
    Nothing {},
}

impl Event {
    /// An event of phase `ph` on track `tid`, with every optional key absent.
    fn new(name: impl Into<String>, ph: &'static str, tid: usize) -> Event {
        Event {
            name: name.into(),
            cat: None,
            ph,
            bp: None,
            s: None,
            id: None,
            ts: None,
            dur: None,
            pid: 1,
            tid,
            args: None,
        }
    }
}

/// Nanoseconds as the format's microseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// serde_json's compact output with a line break before each element of
/// an array: the export's only array is `traceEvents`, so each event gets
/// a line of its own.
struct EventPerLine;

impl serde_json::ser::Formatter for EventPerLine {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })
    }
}

pub(super) fn json(tl: &Timeline) -> String {
    let mut ev: Vec<Event> = Vec::new();
    ev.push(Event {
        args: Some(Args::Name {
            name: "weave".into(),
        }),
        ..Event::new("process_name", "M", 0)
    });
    for (i, l) in tl.lanes.iter().enumerate() {
        let name = format!("LWP {}{}", l.lwp, if l.bound { " (bound)" } else { "" });
        ev.push(Event {
            args: Some(Args::Name { name }),
            ..Event::new("thread_name", "M", i + 1)
        });
    }
    for s in &tl.slices {
        let u = &tl.ults[s.ult];
        ev.push(Event {
            cat: Some("run"),
            ts: Some(us(s.start)),
            dur: Some(us(s.end - s.start)),
            args: Some(Args::Run {
                id: u.id.map_or("?".into(), |id| format!("{id:?}")),
                priority: u.priority,
            }),
            ..Event::new(u.label(), "X", s.lane + 1)
        });
    }
    for s in &tl.idle {
        ev.push(Event {
            cat: Some("idle"),
            ts: Some(us(s.start)),
            dur: Some(us(s.end - s.start)),
            ..Event::new("idle", "X", s.lane + 1)
        });
    }
    for r in &tl.ready {
        let name = format!("LWP {} runnable waiting", tl.lanes[r.lane].lwp);
        for (at, waiting) in [(r.start, 1), (r.end, 0)] {
            ev.push(Event {
                cat: Some("ready"),
                ts: Some(us(at)),
                args: Some(Args::Waiting { waiting }),
                ..Event::new(name.clone(), "C", r.lane + 1)
            });
        }
    }
    for (i, f) in tl.flows.iter().enumerate() {
        let from = f.from_lane.unwrap_or(f.to_lane);
        ev.push(Event {
            cat: Some("wake"),
            id: Some(i),
            ts: Some(us(f.at)),
            ..Event::new("wake", "s", from + 1)
        });
        ev.push(Event {
            cat: Some("wake"),
            bp: Some("e"),
            id: Some(i),
            ts: Some(us(f.run_at)),
            ..Event::new("wake", "f", f.to_lane + 1)
        });
    }
    for m in &tl.marks {
        let (name, args) = match m.kind {
            MarkKind::Steal { from } => ("steal", Args::Steal { from_lwp: from }),
            MarkKind::Preempt => ("preempt", Args::Nothing {}),
            MarkKind::KernelBlocked => ("blocked in the kernel", Args::Nothing {}),
            MarkKind::LwpStart => ("LWP started", Args::Nothing {}),
            MarkKind::LwpExit => ("LWP retired", Args::Nothing {}),
            MarkKind::Dropped { count } => ("events lost", Args::Lost { count }),
            MarkKind::Signal { sig } => ("signal routed", Args::Signal { signal: sig }),
            MarkKind::SignalHandler { sig } => {
                ("signal handler runs", Args::Signal { signal: sig })
            }
        };
        ev.push(Event {
            cat: Some("mark"),
            s: Some("t"),
            ts: Some(us(m.at)),
            args: Some(args),
            ..Event::new(name, "i", m.lane + 1)
        });
    }
    let trace = ChromeTrace {
        trace_events: ev,
        display_time_unit: "ns",
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, EventPerLine);
    trace
        .serialize(&mut ser)
        .expect("a trace export serialises: its keys are strings");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::super::timeline::{signalled, small};
    use super::*;
    use serde_json::{json, Value};

    fn events() -> Vec<Value> {
        let v: Value = serde_json::from_str(&json(&Timeline::build(&small()))).unwrap();
        v["traceEvents"].as_array().unwrap().clone()
    }

    #[test]
    fn runs_are_complete_events_on_their_lwps_track() {
        let run = events()
            .into_iter()
            .find(|e| e["name"] == "sleeper (ULT 1)" && e["ph"] == "X")
            .expect("the sleeper's run");
        assert_eq!(
            run,
            json!({"name": "sleeper (ULT 1)", "cat": "run", "ph": "X", "ts": 0.02,
                   "dur": 0.03, "pid": 1, "tid": 1, "args": run["args"].clone()})
        );
        assert_eq!(run["args"]["priority"].as_u64(), Some(16), "{run}");
    }

    #[test]
    fn a_wake_ends_as_a_flow_bound_to_the_run_it_led_to() {
        let end = events()
            .into_iter()
            .find(|e| e["ph"] == "f")
            .expect("a flow end");
        assert_eq!(
            end,
            json!({"name": "wake", "cat": "wake", "ph": "f", "bp": "e", "id": 0,
                   "ts": 0.1, "pid": 1, "tid": 1})
        );
    }

    #[test]
    fn runnable_waits_are_a_counter_per_lwp_up_for_each_band() {
        let got: Vec<(String, f64, u64)> = events()
            .into_iter()
            .filter(|e| e["ph"] == "C")
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["ts"].as_f64().unwrap(),
                    e["args"]["waiting"].as_u64().unwrap(),
                )
            })
            .collect();
        let lwp = |n: u32| format!("LWP {n} runnable waiting");
        // The timeline's bands (its own test): LWP 0 10-20 and 80-100 ns,
        // LWP 1 60-70 ns.
        assert_eq!(
            got,
            [
                (lwp(0), 0.01, 1),
                (lwp(0), 0.02, 0),
                (lwp(0), 0.08, 1),
                (lwp(0), 0.1, 0),
                (lwp(1), 0.06, 1),
                (lwp(1), 0.07, 0),
            ]
        );
    }

    #[test]
    fn each_event_is_on_a_line_of_its_own() {
        let text = json(&Timeline::build(&small()));
        let lines = text.lines().filter(|l| l.contains("\"ph\":")).count();
        assert_eq!(lines, events().len(), "{text}");
    }

    #[test]
    fn a_signal_and_its_handler_are_instant_events_naming_the_signal() {
        let v: Value = serde_json::from_str(&json(&Timeline::build(&signalled()))).unwrap();
        let names: Vec<(String, u64)> = v["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "i")
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["args"]["signal"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("signal routed".to_string(), 10),
                ("signal handler runs".to_string(), 10)
            ]
        );
    }
}

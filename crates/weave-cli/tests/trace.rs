//! `weave trace view` and `weave trace export` on a trace recorded here:
//! the page has a lane per LWP and the runs of the program's threads; the
//! Chrome JSON parses and holds the expected events.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static ONE_RECORDING: Mutex<()> = Mutex::new(());

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("weave-cli-{}-{name}", std::process::id()))
}

/// Records a small program: named ULTs that block on a channel and wake
/// each other.
fn record(path: &PathBuf) {
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    weave::trace::record(path).unwrap();
    let (tx, rx) = weave::sync::mpsc::sync_channel::<u32>(0);
    let sender = weave::thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            for i in 0..10 {
                tx.send(i).unwrap();
            }
        })
        .unwrap();
    let receiver = weave::thread::Builder::new()
        .name("receiver".into())
        .spawn(move || rx.iter().sum::<u32>())
        .unwrap();
    sender.join().unwrap();
    assert_eq!(receiver.join().unwrap(), 45);
    weave::trace::stop().unwrap();
}

fn weave(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn view_writes_a_page_with_a_lane_per_lwp_and_the_threads_runs() {
    let (tr, html) = (temp("view.trace"), temp("view.html"));
    record(&tr);
    let said = weave(&[
        "trace",
        "view",
        tr.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    std::fs::remove_file(&tr).ok();
    std::fs::remove_file(&html).ok();
    assert!(said.contains("weave trace: "), "{said}");
    let lanes = page
        .split("\"lanes\":[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap();
    assert!(!lanes.is_empty(), "no lanes");
    assert!(page.contains("\"sender\""), "the names are in the page");
    assert!(page.contains("\"receiver\""));
    assert!(page.contains("<td>receiver (ULT "), "the summary lists it");
}

#[test]
fn export_writes_chrome_trace_json_with_runs_and_wake_flows() {
    let (tr, json) = (temp("export.trace"), temp("export.json"));
    record(&tr);
    weave(&[
        "trace",
        "export",
        tr.to_str().unwrap(),
        "-o",
        json.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&json).unwrap();
    std::fs::remove_file(&tr).ok();
    std::fs::remove_file(&json).ok();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let events = v["traceEvents"].as_array().expect("a traceEvents array");
    let runs_of = |name: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == "X" && e["cat"] == "run")
            .filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .count()
    };
    assert!(runs_of("sender (ULT") >= 1, "{text}");
    assert!(runs_of("receiver (ULT") >= 1, "{text}");
    // A rendezvous channel of 10 messages: the two block and wake each
    // other, so wake-ups show as flow starts and ends in pairs.
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    let ends = events.iter().filter(|e| e["ph"] == "f").count();
    assert!(starts >= 1, "{text}");
    assert_eq!(starts, ends);
    assert!(events.iter().any(|e| e["ph"] == "M"
        && e["name"] == "thread_name"
        && e["args"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("LWP "))));
    for e in events.iter().filter(|e| e["ph"] == "X") {
        assert!(e["ts"].as_f64().is_some() && e["dur"].as_f64().is_some_and(|d| d >= 0.0));
    }
}

#[test]
fn a_file_that_is_not_a_trace_is_refused_with_its_name() {
    let bad = temp("bad.trace");
    std::fs::write(&bad, b"not a trace").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(["trace", "view", bad.to_str().unwrap(), "-o", "/dev/null"])
        .output()
        .unwrap();
    std::fs::remove_file(&bad).ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a weave trace"), "{err}");
    assert!(err.contains("bad.trace"), "{err}");
}

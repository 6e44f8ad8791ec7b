//! `Dump::to_json` read back by a JSON parser (serde_json, as a tool
//! reading the dump would): the document parses, each key holds the type
//! the rustdoc promises, and a thread's name comes back exactly, whatever
//! characters it holds.

use std::time::{Duration, Instant};

use serde_json::Value;
use weave::thread;

/// The parsed JSON dump taken while a ULT named `name` is parked: dumps
/// are taken until one shows it blocked with its stack walked (a thread
/// that is still switching out shows blocked without a stack).
fn dump_with_parked(name: &str) -> Value {
    let h = thread::Builder::new()
        .name(name.into())
        .spawn(thread::park)
        .unwrap();
    // A watchdog turns a stack that never shows into a failure.
    let watchdog = Instant::now() + Duration::from_secs(60);
    let json = loop {
        let d = weave::dump();
        let parked = d.threads.iter().any(|t| {
            t.name.as_deref() == Some(name) && t.state == "blocked" && !t.stack.is_empty()
        });
        if parked {
            break d.to_json();
        }
        assert!(
            Instant::now() < watchdog,
            "{name} never showed parked:\n{d}"
        );
        thread::yield_now();
    };
    h.thread().unpark();
    h.join().unwrap();
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("not JSON ({e}):\n{json}"))
}

fn thread_named<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["threadDump"]["threads"]
        .as_array()
        .expect("a threads array")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {v}"))
}

#[test]
fn the_json_dump_parses_with_the_process_and_its_lwps() {
    let v = dump_with_parked("json-lwps");
    let d = &v["threadDump"];
    assert_eq!(d["processId"].as_u64(), Some(u64::from(std::process::id())));
    let lwps = d["lwps"].as_array().expect("an lwps array");
    assert!(!lwps.is_empty(), "{v}");
    for l in lwps {
        for k in ["index", "tid", "placed", "switches"] {
            assert!(l[k].is_u64(), "{k} in {l}");
        }
        for k in ["bound", "idle"] {
            assert!(l[k].is_boolean(), "{k} in {l}");
        }
    }
}

#[test]
fn a_parked_threads_json_row_has_every_key_with_its_type() {
    let v = dump_with_parked("json-row");
    let t = thread_named(&v, "json-row");
    assert!(t["tid"].is_u64() && t["index"].is_u64(), "{t}");
    assert_eq!(t["kind"], "ult");
    assert_eq!(t["state"], "blocked");
    assert_eq!(t["reason"], "Park");
    assert_eq!(t["timed"], false);
    assert!(t["waitsFor"].is_null(), "{t}");
    assert!(t["waitsOn"].is_null(), "{t}");
    assert!(t["priority"].is_u64(), "{t}");
    assert!(t["lwp"].is_u64(), "it has run, so it has an LWP: {t}");
    let frames = t["stack"].as_array().expect("a stack array");
    assert!(!frames.is_empty(), "a parked ULT's stack: {t}");
    assert!(t["note"].is_null(), "a stack, so no note: {t}");
    for f in frames {
        let ip = f["ip"].as_str().expect("ip is a string");
        assert!(
            ip.starts_with("0x") && u64::from_str_radix(&ip[2..], 16).is_ok(),
            "{f}"
        );
        assert!(f["function"].is_string() || f["function"].is_null(), "{f}");
        assert!(f["file"].is_string() || f["file"].is_null(), "{f}");
        assert!(f["line"].is_u64() || f["line"].is_null(), "{f}");
    }
}

#[test]
fn a_name_with_quotes_controls_and_non_ascii_comes_back_exactly() {
    let name = "q\"b\\s\nn\tt\r\u{1}\u{1f} é ✓ </script>";
    let v = dump_with_parked(name);
    assert_eq!(thread_named(&v, name)["name"], name);
}

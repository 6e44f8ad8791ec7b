//! `weave::dump()`: every thread with what it waits on and for whom, and
//! the stack of each parked ULT, as text and JSON.

use std::sync::Arc;

use weave::sync::{Barrier, Mutex};
use weave::thread::{self, ThreadId, ThreadState};

fn wait_until_blocked(id: ThreadId) {
    while !matches!(
        thread::threads()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.state),
        Some(ThreadState::Blocked(_))
    ) {
        thread::yield_now();
    }
}

/// The function whose frame the dump must show.
#[inline(never)]
fn parks_here_for_the_dump() {
    thread::park();
    std::hint::black_box(());
}

#[test]
fn a_parked_ults_stack_names_the_function_that_parked_it() {
    let h = thread::Builder::new()
        .name("parker".into())
        .spawn(parks_here_for_the_dump)
        .unwrap();
    wait_until_blocked(h.thread().id());
    let d = weave::dump();
    h.thread().unpark();
    h.join().unwrap();
    let t = d
        .threads
        .iter()
        .find(|t| t.name.as_deref() == Some("parker"))
        .expect("the parked thread is in the dump");
    let names: Vec<&str> = t
        .stack
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("dump_threads::parks_here_for_the_dump")),
        "{d}"
    );
    assert!(d.to_string().contains("parks_here_for_the_dump"));
}

#[test]
fn a_thread_blocked_on_a_mutex_is_listed_with_the_owner_named() {
    let m = Arc::new(Mutex::new(0));
    let holding = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let owner = {
        let (m, holding, release) = (m.clone(), holding.clone(), release.clone());
        thread::Builder::new()
            .name("owner".into())
            .spawn(move || {
                let _g = m.lock().unwrap();
                holding.wait();
                release.wait();
            })
            .unwrap()
    };
    holding.wait();
    let waiter = {
        let m = m.clone();
        thread::Builder::new()
            .name("waiter".into())
            .spawn(move || *m.lock().unwrap() += 1)
            .unwrap()
    };
    wait_until_blocked(waiter.thread().id());
    let owner_id = owner.thread().id();
    let d = weave::dump();
    release.wait();
    owner.join().unwrap();
    waiter.join().unwrap();
    let text = d.to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("thread 'waiter'"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("waiting for a Mutex"), "{line}");
    assert!(line.contains("held by 'owner'"), "{line}");
    let w = d
        .threads
        .iter()
        .find(|t| t.name.as_deref() == Some("waiter"))
        .unwrap();
    assert_eq!(w.waits_for.as_ref().map(|o| o.0), Some(owner_id));
}

#[test]
fn the_json_dump_names_each_thread_with_its_state_and_stack() {
    let h = thread::Builder::new()
        .name("json \"quoted\"".into())
        .spawn(parks_here_for_the_dump)
        .unwrap();
    wait_until_blocked(h.thread().id());
    let json = weave::dump().to_json();
    h.thread().unpark();
    h.join().unwrap();
    assert!(
        json.starts_with("{\"threadDump\":{\"processId\":"),
        "{json}"
    );
    assert!(json.contains("\"name\":\"json \\\"quoted\\\"\""), "{json}");
    assert!(
        json.contains("\"state\":\"blocked\",\"reason\":\"Park\""),
        "{json}"
    );
    assert!(json.contains("parks_here_for_the_dump"), "{json}");
    // Balanced brackets and braces outside strings: the shape is sound.
    let (mut depth, mut in_str, mut esc) = (0i32, false, false);
    for c in json.chars() {
        match (in_str, esc, c) {
            (true, true, _) => esc = false,
            (true, false, '\\') => esc = true,
            (true, false, '"') => in_str = false,
            (false, _, '"') => in_str = true,
            (false, _, '{' | '[') => depth += 1,
            (false, _, '}' | ']') => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0);
}

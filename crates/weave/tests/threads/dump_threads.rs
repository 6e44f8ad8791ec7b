//! `weave::dump()`: every thread with what it waits on and for whom, and
//! the stack of each parked ULT, as text and JSON.

use crate::wait_common::wait_blocked_any;

use std::sync::Arc;

use weave::sync::{Barrier, Mutex};
use weave::thread::{self};

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
    wait_blocked_any(h.thread().id());
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
    wait_blocked_any(waiter.thread().id());
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
    wait_blocked_any(h.thread().id());
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

/// The dump row of the thread named `name`.
fn row<'a>(d: &'a weave::Dump, name: &str) -> &'a weave::DumpedThread {
    d.threads
        .iter()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in\n{d}"))
}

fn line_of(text: &str, name: &str) -> String {
    let head = format!("thread '{name}'");
    text.lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("{head} not in\n{text}"))
        .to_string()
}

#[test]
fn threads_waiting_on_the_same_mutex_show_its_address_and_another_mutex_differs() {
    let (m1, m2) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (g1, g2) = (m1.lock().unwrap(), m2.lock().unwrap());
    let spawn = |name: &str, m: &Arc<Mutex<i32>>| {
        let m = m.clone();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || *m.lock().unwrap() += 1)
            .unwrap()
    };
    let hs = [spawn("m1-a", &m1), spawn("m1-b", &m1), spawn("m2-a", &m2)];
    for h in &hs {
        wait_blocked_any(h.thread().id());
    }
    let d = weave::dump();
    drop((g1, g2));
    for h in hs {
        h.join().unwrap();
    }
    let on = |name: &str| match row(&d, name).waits_on {
        Some(weave::thread::WaitOn::Object(a)) => a,
        other => panic!("{name} waits on {other:?}\n{d}"),
    };
    assert_eq!(on("m1-a"), on("m1-b"));
    assert_ne!(on("m1-a"), on("m2-a"));
    let text = d.to_string();
    assert!(
        line_of(&text, "m1-a").contains(&format!("waiting for a Mutex {:#x}", on("m1-a"))),
        "{text}"
    );
    let json = d.to_json();
    assert!(
        json.contains(&format!("\"waitsOn\":{{\"object\":\"{:#x}\"}}", on("m2-a"))),
        "{json}"
    );
}

#[test]
fn a_thread_blocked_on_a_channel_shows_which_channel() {
    let (_tx1, rx1) = weave::sync::mpmc::bounded::<u8>(1);
    let (_tx2, rx2) = weave::sync::mpmc::bounded::<u8>(1);
    let r1 = rx1.clone();
    let a = thread::Builder::new()
        .name("recv-1a".into())
        .spawn(move || r1.recv().ok())
        .unwrap();
    let b = thread::Builder::new()
        .name("recv-1b".into())
        .spawn(move || rx1.recv().ok())
        .unwrap();
    let c = thread::Builder::new()
        .name("recv-2".into())
        .spawn(move || rx2.recv().ok())
        .unwrap();
    for h in [&a, &b, &c] {
        wait_blocked_any(h.thread().id());
    }
    let d = weave::dump();
    drop((_tx1, _tx2));
    for h in [a, b, c] {
        assert_eq!(h.join().unwrap(), None);
    }
    let (x, y, z) = (
        row(&d, "recv-1a").waits_on,
        row(&d, "recv-1b").waits_on,
        row(&d, "recv-2").waits_on,
    );
    assert!(matches!(x, Some(weave::thread::WaitOn::Object(_))), "{x:?}");
    assert_eq!(x, y, "two receivers of one channel");
    assert_ne!(x, z, "another channel");
    assert!(
        line_of(&d.to_string(), "recv-2").contains("waiting on a channel (channel 0x"),
        "{d}"
    );
}

#[test]
fn a_thread_waiting_for_a_socket_shows_its_fd() {
    use std::os::fd::AsRawFd;
    let l = weave::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let client = weave::net::TcpStream::connect(addr).unwrap();
    let (server, _) = l.accept().unwrap();
    let fd = server.as_raw_fd();
    let h = thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            use std::io::Read;
            let mut server = server;
            let mut b = [0u8; 1];
            server.read(&mut b).unwrap()
        })
        .unwrap();
    wait_blocked_any(h.thread().id());
    let d = weave::dump();
    drop(client);
    assert_eq!(h.join().unwrap(), 0);
    assert_eq!(
        row(&d, "reader").waits_on,
        Some(weave::thread::WaitOn::Fd(fd))
    );
    assert!(
        line_of(&d.to_string(), "reader").contains(&format!("(fd {fd})")),
        "{d}"
    );
    assert!(d
        .to_json()
        .contains(&format!("\"waitsOn\":{{\"fd\":{fd}}}")));
}

#[test]
fn a_sleeping_thread_shows_its_deadline() {
    let h = thread::Builder::new()
        .name("sleeper".into())
        .spawn(|| thread::sleep(std::time::Duration::from_secs(3600)))
        .unwrap();
    wait_blocked_any(h.thread().id());
    let before = std::time::Instant::now();
    let d = weave::dump();
    let at = match row(&d, "sleeper").waits_on {
        Some(weave::thread::WaitOn::Deadline(at)) => at,
        other => panic!("{other:?}\n{d}"),
    };
    // The sleep began before `before`, and lasts an hour.
    let left = at - before;
    assert!(left <= std::time::Duration::from_secs(3600), "{left:?}");
    assert!(left > std::time::Duration::from_secs(3000), "{left:?}");
    assert!(
        line_of(&d.to_string(), "sleeper").contains("sleeping (until"),
        "{d}"
    );
    assert!(
        d.to_json().contains("\"waitsOn\":{\"deadlineInMs\":"),
        "{d}"
    );
    // Not joined: the sleeper stays asleep until the test process exits.
}

//! Recording a trace: the file holds the events of a known program, in
//! order per ULT, as many of each kind as were emitted; a full ring drops
//! and says so; `WEAVE_TRACE` records a whole run without changing what
//! the program prints.
//!
//! One recording runs at a time in a process, so the tests that record
//! in-process take a lock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use weave::thread::{self, BlockReason, ThreadId, ThreadState};
use weave::trace::{self, format, Event};

static ONE_RECORDING: Mutex<()> = Mutex::new(());

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("weave-{}-{name}.trace", std::process::id()))
}

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

/// ULTs whose Exit event the hook has seen (the hook runs after the
/// recorder has pushed the event into its ring).
static EXITED: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());

/// Waits until `id`'s Exit event is in its ring. `join` returns as soon as
/// the result is in, before the LWP emits the exit: a `stop` right after
/// it could miss the event.
fn wait_until_gone(id: ThreadId) {
    while !EXITED.lock().unwrap().contains(&id) {
        thread::yield_now();
    }
}

#[test]
fn a_parked_and_woken_ult_has_its_events_in_order_with_its_waker() {
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let path = temp("order");
    trace::record(&path).unwrap();
    trace::set_hook(Some(count_hook));
    let sleeper = thread::Builder::new()
        .name("sleeper".into())
        .spawn(thread::park)
        .unwrap();
    let a = sleeper.thread().id();
    wait_until_blocked(a);
    let t = sleeper.thread().clone();
    let waker = thread::Builder::new()
        .name("waker".into())
        .spawn(move || t.unpark())
        .unwrap();
    let b = waker.thread().id();
    waker.join().unwrap();
    sleeper.join().unwrap();
    wait_until_gone(a);
    wait_until_gone(b);
    trace::set_hook(None);
    let stats = trace::stop().unwrap().expect("a recording was running");
    assert_eq!(stats.dropped, 0);

    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(tr.names.get(&a).map(String::as_str), Some("sleeper"));
    assert_eq!(tr.names.get(&b).map(String::as_str), Some("waker"));
    let mine: Vec<Event> = tr
        .entries
        .iter()
        .map(|e| e.event)
        .filter(|e| match *e {
            Event::Spawn { ult, .. }
            | Event::Run { ult, .. }
            | Event::Block { ult, .. }
            | Event::Wake { ult, .. }
            | Event::Exit { ult, .. } => ult == a,
            _ => false,
        })
        .collect();
    let shape: Vec<&str> = mine
        .iter()
        .map(|e| match e {
            Event::Spawn { .. } => "spawn",
            Event::Run { .. } => "run",
            Event::Block {
                reason: BlockReason::Park,
                ..
            } => "block(park)",
            Event::Block { .. } => "block(other)",
            Event::Wake { .. } => "wake",
            Event::Exit { .. } => "exit",
            _ => "other",
        })
        .collect();
    assert_eq!(
        shape,
        ["spawn", "run", "block(park)", "wake", "run", "exit"],
        "{mine:?}"
    );
    let wake = mine
        .iter()
        .find_map(|e| match *e {
            Event::Wake { waker, .. } => Some(waker),
            _ => None,
        })
        .unwrap();
    assert_eq!(wake, Some(b), "the wake names the ULT that unparked");
}

/// Events by ULT and kind, as the hook saw them.
static SEEN: Mutex<Vec<(ThreadId, usize)>> = Mutex::new(Vec::new());

/// The ULT of an event and its kind, for the kinds that have a ULT.
fn kind(e: &Event) -> Option<(ThreadId, usize)> {
    Some(match *e {
        Event::Spawn { ult, .. } => (ult, 0),
        Event::Run { ult, .. } => (ult, 1),
        Event::Block { ult, .. } => (ult, 2),
        Event::Wake { ult, .. } => (ult, 3),
        Event::Exit { ult, .. } => (ult, 4),
        Event::Steal { ult, .. } => (ult, 5),
        Event::TimerFired { ult, .. } => (ult, 6),
        _ => return None,
    })
}

fn count_hook(e: &Event) {
    if let Some(k) = kind(e) {
        SEEN.lock().unwrap().push(k);
    }
    if let Event::Exit { ult, .. } = *e {
        EXITED.lock().unwrap().push(ult);
    }
}

#[test]
fn the_file_holds_as_many_events_of_each_kind_as_were_emitted() {
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let path = temp("counts");
    trace::record(&path).unwrap();
    trace::set_hook(Some(count_hook));
    // Spawns, runs, sleeps (timers), channel blocks and wakes, exits.
    let (tx, rx) = weave::sync::mpsc::channel::<u32>();
    let producers: Vec<_> = (0..8)
        .map(|i| {
            let tx = tx.clone();
            thread::spawn(move || {
                thread::sleep(std::time::Duration::from_millis(1));
                for k in 0..50 {
                    tx.send(i * 100 + k).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = thread::spawn(move || rx.iter().count());
    let ids: Vec<ThreadId> = producers
        .iter()
        .map(|h| h.thread().id())
        .chain([consumer.thread().id()])
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), 400);
    let tr = finish_hooked(&path, &ids);
    // The hook was installed after the recording began and removed after
    // the program's ULTs had all exited: for them, the file and the hook
    // must agree event for event.
    let count = |pairs: &mut dyn Iterator<Item = (ThreadId, usize)>| {
        let mut m: HashMap<usize, u64> = HashMap::new();
        for (u, k) in pairs {
            if ids.contains(&u) {
                *m.entry(k).or_default() += 1;
            }
        }
        m
    };
    let recorded = count(&mut tr.entries.iter().filter_map(|e| kind(&e.event)));
    let seen = count(&mut SEEN.lock().unwrap().iter().copied());
    assert_eq!(recorded, seen);
    assert_eq!(recorded[&0], 9, "spawns");
    assert_eq!(recorded[&4], 9, "exits");
    assert!(recorded[&6] >= 8, "each producer's sleep fired a timer");
    assert!(recorded[&2] >= 8, "blocks");
}

#[test]
fn a_run_that_shares_its_switchs_timestamp_never_comes_before_its_wake() {
    // The Run that completes a switch takes the timestamp of the Block
    // before it on the same LWP: a ping-pong switches that way every time.
    // In time order, each ULT that blocked must still be woken before it
    // runs again.
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let (ids, tr) = recorded_ping_pong("switch", 2000);
    for id in ids {
        let (mut blocked, mut woken, mut runs) = (false, false, 0);
        for e in &tr.entries {
            match e.event {
                Event::Block { ult, .. } if ult == id => blocked = true,
                Event::Wake { ult, .. } if ult == id => woken = true,
                Event::Run { ult, .. } if ult == id => {
                    assert!(
                        !blocked || woken,
                        "{id:?} ran at {} ns, after a block and before its wake",
                        e.ns
                    );
                    (blocked, woken) = (false, false);
                    runs += 1;
                }
                _ => {}
            }
        }
        // Not every round blocks: with the two ULTs on two LWPs at once, a
        // receive may find its reply already there. Most do (each run here
        // is one).
        assert!(runs > 200, "{id:?} ran {runs} times in 2,000 rounds");
    }
}

#[test]
fn a_hook_beside_a_recording_gets_every_run_the_file_holds() {
    // A switch's Run goes into its Block's open record without a look at
    // who listens; with a user's hook as well, the record is closed at the
    // Block so that the Run reaches the hook too.
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let (ids, tr) = recorded_ping_pong("hookruns", 500);
    for id in ids {
        let recorded = tr
            .entries
            .iter()
            .filter(|e| matches!(e.event, Event::Run { ult, .. } if ult == id))
            .count();
        let seen = SEEN
            .lock()
            .unwrap()
            .iter()
            .filter(|&&(u, k)| u == id && k == 1)
            .count();
        // Most rounds block and run again (not all: see above).
        assert!(recorded >= 50, "{id:?} ran {recorded} times in the file");
        assert_eq!(
            seen, recorded,
            "{id:?}: runs the hook saw, runs in the file"
        );
    }
}

/// `ping_pong(n)` recorded (to a file named after `name`, read back and
/// removed), with `count_hook` installed as well: the two ULTs' ids and
/// the trace, which dropped nothing. The caller holds `ONE_RECORDING`.
fn recorded_ping_pong(name: &str, n: u32) -> ([ThreadId; 2], format::Trace) {
    let path = temp(name);
    trace::record(&path).unwrap();
    trace::set_hook(Some(count_hook));
    let ids = ping_pong(n);
    let tr = finish_hooked(&path, &ids);
    (ids, tr)
}

/// Ends a recording to `path` made with `count_hook` installed, once the
/// ULTs `ids` are gone: the hook removed, the file read back (it dropped
/// nothing) and removed.
fn finish_hooked(path: &std::path::Path, ids: &[ThreadId]) -> format::Trace {
    for &id in ids {
        wait_until_gone(id);
    }
    trace::set_hook(None);
    trace::stop().unwrap().expect("a recording was running");
    let tr = format::read(path).unwrap();
    std::fs::remove_file(path).ok();
    assert_eq!(tr.dropped_total(), 0);
    tr
}

/// Two ULTs bouncing a value `n` times through two bounded channels;
/// returns their ids once both have returned.
fn ping_pong(n: u32) -> [ThreadId; 2] {
    let (to_b, from_a) = weave::sync::mpmc::bounded::<u32>(1);
    let (to_a, from_b) = weave::sync::mpmc::bounded::<u32>(1);
    let b = thread::spawn(move || {
        for v in from_a.iter() {
            to_a.send(v + 1).unwrap();
        }
    });
    let a = thread::spawn(move || {
        for i in 0..n {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i + 1);
        }
    });
    let ids = [a.thread().id(), b.thread().id()];
    a.join().unwrap();
    b.join().unwrap();
    ids
}

#[test]
fn a_full_ring_drops_events_and_the_file_says_how_many() {
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let path = temp("drops");
    // 16 slots, drained every 5 ms, against 2,000 spawns (a Spawn and a
    // NAME record each) from this thread in a burst.
    trace::record_with(&path, 16).unwrap();
    let hs: Vec<_> = (0..2000)
        .map(|i| {
            thread::Builder::new()
                .name(format!("t{i}"))
                .spawn(|| ())
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let stats = trace::stop().unwrap().unwrap();
    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(tr.dropped_total(), stats.dropped);
}

#[test]
fn a_second_recording_while_one_runs_is_refused_with_the_first_ones_path() {
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let first = temp("first");
    trace::record(&first).unwrap();
    let e = trace::record(temp("second")).unwrap_err();
    trace::stop().unwrap();
    std::fs::remove_file(&first).ok();
    assert!(e.to_string().contains(&first.display().to_string()), "{e}");
    assert!(e.to_string().contains("weave::trace::stop()"), "{e}");
}

const CHILD: &str = "WEAVE_TRACE_TEST_CHILD";

/// The program run by the child-process tests: prints what it computes.
#[test]
fn program_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (tx, rx) = weave::sync::mpsc::channel::<u64>();
    let hs: Vec<_> = (0..20u64)
        .map(|i| {
            let tx = tx.clone();
            thread::spawn(move || tx.send(i * i).unwrap())
        })
        .collect();
    drop(tx);
    for h in hs {
        h.join().unwrap();
    }
    let mut got: Vec<u64> = rx.iter().collect();
    got.sort();
    println!("squares {got:?}");
    // Two named ULTs bouncing a token through rendezvous channels, one
    // sleeping now and then: blocks, wakes across LWPs, timers.
    let (to_pong, from_ping) = weave::sync::mpsc::sync_channel::<u64>(0);
    let (to_ping, from_pong) = weave::sync::mpsc::sync_channel::<u64>(0);
    let ping = thread::Builder::new()
        .name("ping".into())
        .spawn(move || {
            let mut v = 0;
            for i in 0..30 {
                to_pong.send(v + i).unwrap();
                v = from_pong.recv().unwrap();
            }
            v
        })
        .unwrap();
    let pong = thread::Builder::new()
        .name("pong".into())
        .spawn(move || {
            for v in from_ping.iter() {
                if v % 10 == 0 {
                    thread::sleep(std::time::Duration::from_micros(200));
                }
                if to_ping.send(v * 2 % 1000).is_err() {
                    break;
                }
            }
        })
        .unwrap();
    println!("ping-pong {}", ping.join().unwrap());
    pong.join().unwrap();
}

fn run_child(trace_to: Option<&PathBuf>) -> std::process::Output {
    run_child_with(trace_to, &[])
}

/// [`run_child`] with more environment variables.
fn run_child_with(trace_to: Option<&PathBuf>, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "program_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "1")
    .env_remove("WEAVE_TRACE")
    .env_remove("WEAVE_TRACE_RING")
    .envs(env.iter().copied());
    if let Some(p) = trace_to {
        cmd.env("WEAVE_TRACE", p);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn weave_trace_records_a_whole_run_and_the_output_is_the_same() {
    let path = temp("env");
    let off = run_child(None);
    let on = run_child(Some(&path));
    let program = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                ["squares", "ping-pong"]
                    .iter()
                    .find_map(|w| l.find(w))
                    .map(|i| l[i..].to_string())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(program(&off), program(&on));
    assert_eq!(program(&on).len(), 2);
    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let spawns = tr
        .entries
        .iter()
        .filter(|e| matches!(e.event, Event::Spawn { .. }))
        .count();
    assert!(spawns >= 20, "{spawns} spawns recorded");
    assert!(tr
        .entries
        .iter()
        .any(|e| matches!(e.event, Event::LwpStart { .. })));
    let err = String::from_utf8_lossy(&on.stderr);
    assert!(err.contains("weave: trace written to"), "{err}");
}

#[test]
fn weave_trace_ring_sets_each_threads_ring_rounded_up() {
    let path = temp("ring");
    run_child_with(Some(&path), &[("WEAVE_TRACE_RING", "1000")]);
    let small = format::read(&path).unwrap();
    run_child(Some(&path));
    let default = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(small.ring, 1024);
    assert_eq!(default.ring, trace::DEFAULT_RING);
    // A value out of range is refused with the variable named, and the
    // default is used.
    let out = run_child_with(Some(&path), &[("WEAVE_TRACE_RING", "lots")]);
    let bad = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WEAVE_TRACE_RING=\"lots\" is not valid"),
        "{err}"
    );
    assert_eq!(bad.ring, trace::DEFAULT_RING);
}

#[test]
fn without_a_hook_each_wake_names_its_waker_and_falls_between_block_and_run() {
    // No hook: the recorder alone listens, takes the waker from its ring
    // (the ULT it saw run) and records most wakes without a clock read;
    // the reader places each one after the block it ends.
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let path = temp("nohook");
    trace::record(&path).unwrap();
    let [ia, ib] = ping_pong(2000);
    trace::stop().unwrap().expect("a recording was running");
    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(tr.dropped_total(), 0);
    for (id, other) in [(ia, ib), (ib, ia)] {
        let (mut blocked, mut woken, mut runs, mut wakes, mut late) = (None, false, 0, 0, 0);
        for e in &tr.entries {
            match e.event {
                Event::Block { ult, wait, lwp, .. } if ult == id => {
                    (blocked, woken) = (Some((wait, lwp)), false)
                }
                Event::Wake {
                    ult,
                    waker,
                    wait,
                    lwp,
                } if ult == id => {
                    if waker.is_none() {
                        // The one wake no ULT makes here: the ULT's own LWP,
                        // publishing the receive its ULT left to it as it
                        // blocked (`lwp/handoff.rs`, "A wait published
                        // late"), found the message already there and ended
                        // the wait. It comes after that block, on its LWP.
                        let Some((_, on)) = blocked else {
                            panic!("a wake at {} ns with no waker and no block", e.ns)
                        };
                        assert_eq!(lwp, Some(on), "a wake at {} ns with no waker", e.ns);
                        late += 1;
                    } else {
                        assert_eq!(waker, Some(other), "at {} ns", e.ns);
                    }
                    // (A wake may also end a wait that never blocked: the
                    // ULT saw its condition before it switched out.)
                    if let Some((b, _)) = blocked {
                        assert_eq!(b, wait, "the wake at {} ns ends its block", e.ns);
                    }
                    woken = true;
                    wakes += 1;
                }
                Event::Run { ult, .. } if ult == id => {
                    assert!(
                        blocked.is_none() || woken,
                        "{id:?} ran at {} ns, after a block and before its wake",
                        e.ns
                    );
                    (blocked, woken) = (None, false);
                    runs += 1;
                }
                _ => {}
            }
        }
        assert!(
            runs > 1000 && wakes > 1000,
            "{id:?}: {runs} runs, {wakes} wakes"
        );
        // On two LWPs a late publication often finds the message there
        // (up to about half the wakes), but the partner's own wakes stay
        // many: a recorder that lost the waker of every wake fails here.
        assert!(
            wakes - late >= 100,
            "{id:?}: {late} of {wakes} wakes name no waker"
        );
    }
}

//! `WEAVE_TOP=1`: the runtime's side of `weave top PID`. A thread of its
//! own (`weave-top`) listens on a Unix socket in Linux's abstract
//! namespace, `@weave-top-PID` (no file to clean up; only processes of the
//! same network namespace reach it), and answers each connection with one
//! frame: the LWP table, the busiest threads and the counters, as one JSON
//! object, then closes it. `weave top` connects once per refresh.
//!
//! ```text
//! {"weaveTop":1,"pid":4242,"uptimeMs":1830,
//!  "counters":{"spawns":12,"runs":4000,...},
//!  "lwps":[{"index":0,"tid":4243,"bound":false,"idle":false,"placed":3,"switches":2000}],
//!  "states":{"running":1,"runnable":2,"blocked":9},"threadsTotal":12,
//!  "threads":[{"tid":..,"index":0,"name":"main-loop","kind":"ult","state":"blocked",
//!              "reason":"Channel","lwp":0,"priority":16,"switches":900}]}
//! ```
//!
//! At most [`MAX_ROWS`] threads go in a frame, those with the most
//! switches first, so that a frame of a process with 100,000 threads stays
//! small; the state counts cover every thread.
//!
//! Reads the thread and LWP tables and the trace counters, as the dump
//! does; never a queue.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Instant;

use super::dump::{json_opt, json_str, lwp_json};
use crate::thread::snapshot::{threads, ThreadState};

/// Threads listed in one frame at most.
pub(crate) const MAX_ROWS: usize = 500;

/// The name, in Linux's abstract socket namespace, of the socket that
/// process `pid` opens for `weave top` when `WEAVE_TOP=1` (each connection
/// gets one JSON frame; see the `weave top` command).
pub fn socket_name(pid: u32) -> String {
    format!("weave-top-{pid}")
}

/// Opens the socket and starts the thread that answers on it.
pub(crate) fn start() -> io::Result<()> {
    let addr = SocketAddr::from_abstract_name(socket_name(std::process::id()).as_bytes())?;
    let listener = UnixListener::bind_addr(&addr)?;
    let born = Instant::now();
    crate::os::threads::spawn(
        std::thread::Builder::new()
            .name("weave-top".into())
            .stack_size(256 * 1024),
        move || {
            // A failed accept or a client that went away mid-frame is
            // that client's business: answer the next one.
            for mut c in listener.incoming().flatten() {
                let _ = c.write_all(frame(born).as_bytes());
            }
        },
    )?;
    Ok(())
}

/// One frame, as JSON.
pub(crate) fn frame(born: Instant) -> String {
    let c = crate::trace::counters();
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"weaveTop\":1,\"pid\":{},\"uptimeMs\":{},\"counters\":{{\"spawns\":{},\"runs\":{},\
         \"blocks\":{},\"wakes\":{},\"steals\":{},\"preempts\":{},\"exits\":{}}},\"lwps\":[",
        std::process::id(),
        born.elapsed().as_millis(),
        c.spawns,
        c.runs,
        c.blocks,
        c.wakes,
        c.steals,
        c.preempts,
        c.exits
    );
    let lwps = crate::lwps();
    for (i, l) in lwps.iter().filter(|l| l.alive).enumerate() {
        if i > 0 {
            o.push(',');
        }
        lwp_json(&mut o, l);
    }
    let mut rows = threads();
    let (mut running, mut runnable, mut blocked) = (0, 0, 0);
    for t in &rows {
        match t.state {
            ThreadState::Running => running += 1,
            ThreadState::Runnable => runnable += 1,
            ThreadState::Blocked(_) => blocked += 1,
        }
    }
    let _ = write!(
        o,
        "],\"states\":{{\"running\":{running},\"runnable\":{runnable},\"blocked\":{blocked}}},\
         \"threadsTotal\":{},\"threads\":[",
        rows.len()
    );
    rows.sort_by_key(|t| std::cmp::Reverse(t.switches));
    for (i, t) in rows.iter().take(MAX_ROWS).enumerate() {
        let (state, reason) = match t.state {
            ThreadState::Running => ("running", None),
            ThreadState::Runnable => ("runnable", None),
            ThreadState::Blocked(r) => ("blocked", Some(format!("{r:?}"))),
        };
        let kind = match (t.os_thread, t.bound) {
            (true, _) => "os thread",
            (false, true) => "bound ult",
            (false, false) => "ult",
        };
        let _ = write!(
            o,
            "{}{{\"tid\":{},\"index\":{},\"name\":{},\"kind\":{},\"state\":{},\"reason\":{},\
             \"lwp\":{},\"priority\":{},\"switches\":{}}}",
            if i > 0 { "," } else { "" },
            t.id.as_u64(),
            t.id.index(),
            json_opt(t.name.as_deref()),
            json_str(kind),
            json_str(state),
            json_opt(reason.as_deref()),
            t.lwp.map_or("null".into(), |l| l.to_string()),
            t.priority,
            t.switches
        );
    }
    o.push_str("]}");
    o
}

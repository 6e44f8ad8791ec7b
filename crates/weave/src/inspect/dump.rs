//! The thread dump: every thread, what it waits on and for whom, and its
//! stack (Go's SIGQUIT dump, Java's `jstack`), as text or JSON.
//!
//! Built from the thread table (one row per live thread, read without
//! stopping anyone), the LWP table, and for each parked ULT the stack
//! walked from its saved frame pointer (`inspect/stacks.rs`). Rows are
//! read one at a time: a thread that changes state during the dump shows
//! one state or the other, and a stack is kept only if the thread stayed
//! parked while it was walked.
//!
//! Reads only; names the thread table, the LWP table and the trace
//! counters, never a queue.

use std::fmt::{self, Write as _};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use super::stacks::{self, Frame};
use crate::lwp::LwpInfo;
use crate::thread::id::{BlockReason, ThreadId, WaitOn};
use crate::thread::state::{self, TIMED};
use crate::thread::table::table;
use crate::thread::tcb::{Kind, NO_LWP};

/// One thread of a dump.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DumpedThread {
    pub id: ThreadId,
    pub name: Option<String>,
    /// "ult", "bound ult", "migratable ult" or "os thread".
    pub kind: &'static str,
    /// "runnable", "running" or "blocked".
    pub state: &'static str,
    /// Why it waits, when blocked.
    pub reason: Option<BlockReason>,
    /// The wait has a deadline (a sleep, a timed wait): a timer will end it.
    pub timed: bool,
    /// Whom it waits for, when weave knows: a mutex's holder, or the thread
    /// it joins.
    pub waits_for: Option<(ThreadId, Option<String>)>,
    /// What it waits on, when blocked and weave knows: the address of the
    /// mutex, queue or channel, the fd, or the sleep's deadline.
    pub waits_on: Option<WaitOn>,
    pub priority: u8,
    /// The LWP it is placed on, once it has run.
    pub lwp: Option<usize>,
    /// Its stack, innermost frame first: for a parked ULT, and for the
    /// thread that took the dump. Empty otherwise (see `note`).
    pub stack: Vec<Frame>,
    /// Why there is no stack, when there is none.
    pub note: Option<&'static str>,
}

/// A thread dump: see [`dump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Dump {
    pub threads: Vec<DumpedThread>,
    pub lwps: Vec<LwpInfo>,
}

/// Takes a thread dump: every live thread (ULTs and registered OS
/// threads) with its id, name, kind, state, what it waits on and for
/// whom, priority, LWP, and the stack of each parked ULT, symbolised.
/// Print it (`{}`) for a person, or [`Dump::to_json`] for a tool.
/// `WEAVE_DUMP_SIGNAL=SIGQUIT` prints one to stderr when the process gets
/// that signal.
///
/// ```
/// let h = weave::thread::Builder::new()
///     .name("sleeper".into())
///     .spawn(|| weave::thread::park())
///     .unwrap();
/// while !matches!(
///     weave::thread::threads().iter().find(|t| t.id == h.thread().id()).map(|t| t.state),
///     Some(weave::thread::ThreadState::Blocked(_))
/// ) {
///     weave::thread::yield_now();
/// }
/// let dump = weave::dump();
/// assert!(dump.to_string().contains("'sleeper'"));
/// h.thread().unpark();
/// h.join().unwrap();
/// ```
pub fn dump() -> Dump {
    let me = crate::thread::current::running().map(|t| t.index);
    let t = table();
    let mut threads = Vec::new();
    for i in 0..t.carved() {
        let tcb = t.slot(i as u32);
        let g = tcb.generation.load(SeqCst);
        let w = tcb.state.load();
        let (state, reason) = match w.run() {
            state::RUNNABLE => ("runnable", None),
            state::RUNNING => ("running", None),
            state::BLOCKING | state::BLOCKED => (
                "blocked",
                Some(BlockReason::from_u8(w.reason() & !TIMED).unwrap_or(BlockReason::Sync)),
            ),
            _ => continue,
        };
        let kind = tcb.kind();
        let holder = tcb.waits_for.load(Relaxed);
        let waits_for = (reason.is_some() && holder != 0).then(|| {
            let h = t.slot(holder - 1);
            let hid = h.id();
            (hid, h.name_of(hid.generation()).map(|n| n.to_string()))
        });
        let waits_on = reason
            .filter(|&r| WaitOn::recorded_for(r))
            .and_then(|_| WaitOn::from_word(tcb.wait_on.load(Relaxed)));
        let home = tcb.home.load(Relaxed);
        let (stack, note) = if me == Some(i as u32) {
            (stacks::here(), None)
        } else if kind == Kind::External {
            (
                Vec::new(),
                Some("an OS thread: its stack is the kernel's to show"),
            )
        } else {
            match stacks::walk(tcb) {
                Some(ips) if !ips.is_empty() => (stacks::symbolise(&ips), None),
                Some(_) => (Vec::new(), Some("no frame pointers in its innermost frame")),
                None if w.run() == state::RUNNING => (Vec::new(), Some("running on its LWP")),
                None => (Vec::new(), Some("not parked (not started, or it moved on)")),
            }
        };
        let row = DumpedThread {
            id: ThreadId::new(i as u32, g),
            name: tcb.name_of(g).map(|n| n.to_string()),
            kind: match kind {
                Kind::Pooled => "ult",
                Kind::Bound => "bound ult",
                Kind::Migratable => "migratable ult",
                Kind::External => "os thread",
            },
            state,
            reason,
            timed: reason.is_some() && w.reason() & TIMED != 0,
            waits_for,
            waits_on,
            priority: tcb.priority(),
            lwp: (home != NO_LWP).then_some(home as usize),
            stack,
            note,
        };
        if tcb.generation.load(SeqCst) == g {
            threads.push(row);
        }
    }
    let lwps = crate::runtime::try_rt()
        .map(|rt| rt.lwps().map(|l| l.info()).filter(|l| l.alive).collect())
        .unwrap_or_default();
    Dump { threads, lwps }
}

/// What a wait is on, in words.
fn waits_on(r: BlockReason) -> &'static str {
    match r {
        BlockReason::Park => "parked",
        BlockReason::Sleep => "sleeping",
        BlockReason::Join => "joining a thread",
        BlockReason::Sync => "waiting",
        BlockReason::Io => "waiting for a blocking call (weave::blocking)",
        BlockReason::Channel => "waiting on a channel",
        BlockReason::Select => "waiting in select! on channels",
        BlockReason::Mutex => "waiting for a Mutex",
        BlockReason::Condvar => "waiting on a Condvar",
        BlockReason::Semaphore => "waiting for a Semaphore permit",
        BlockReason::WaitGroup => "waiting on a WaitGroup",
        BlockReason::Barrier => "waiting at a Barrier",
        BlockReason::Once => "waiting for a Once to finish",
        BlockReason::RwLock => "waiting for an RwLock",
        BlockReason::Net => "waiting for a socket or fd to be ready",
        BlockReason::Signal => "waiting for a signal handler to run on it (sigsuspend)",
    }
}

/// The object of a wait, in words: "0x7f..a0" for an object (after the
/// reason's words, e.g. "waiting for a Mutex 0x7f..a0"), "(fd 7)", or
/// "(until 1.250 s from now)".
fn wait_object_text(r: BlockReason, on: WaitOn) -> String {
    match on {
        WaitOn::Object(a) => match r {
            BlockReason::Channel | BlockReason::Select => format!("(channel {a:#x})"),
            _ => format!("{a:#x}"),
        },
        WaitOn::Fd(fd) => format!("(fd {fd})"),
        WaitOn::Deadline(at) => match at.checked_duration_since(std::time::Instant::now()) {
            Some(d) => format!("(until {:.3} s from now)", d.as_secs_f64()),
            None => "(deadline passed, waking)".into(),
        },
    }
}

/// What a wait is on, as a JSON value.
fn wait_object_json(on: Option<WaitOn>) -> String {
    match on {
        None => "null".into(),
        Some(WaitOn::Object(a)) => format!("{{\"object\":\"{a:#x}\"}}"),
        Some(WaitOn::Fd(fd)) => format!("{{\"fd\":{fd}}}"),
        Some(WaitOn::Deadline(at)) => {
            let ms = at
                .checked_duration_since(std::time::Instant::now())
                .map_or(0, |d| d.as_millis());
            format!("{{\"deadlineInMs\":{ms}}}")
        }
    }
}

fn who(id: ThreadId, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("'{n}' ({id})"),
        None => format!("{id}"),
    }
}

impl DumpedThread {
    /// The one-line summary: who, what, for whom.
    pub fn headline(&self) -> String {
        let mut s = format!(
            "thread {} [{}, priority {}",
            who(self.id, self.name.as_deref()),
            self.kind,
            self.priority
        );
        if let Some(l) = self.lwp {
            let _ = write!(s, ", LWP {l}");
        }
        s.push_str("]: ");
        match self.reason {
            Some(r) => {
                s.push_str(waits_on(r));
                if let Some(on) = self.waits_on {
                    let _ = write!(s, " {}", wait_object_text(r, on));
                }
                if let Some((h, n)) = &self.waits_for {
                    if r == BlockReason::Join {
                        let _ = write!(s, " {}", who(*h, n.as_deref()));
                    } else {
                        let _ = write!(s, ", held by {}", who(*h, n.as_deref()));
                    }
                }
                if self.timed {
                    s.push_str(", with a timer");
                }
            }
            None => s.push_str(self.state),
        }
        s
    }

    /// The stack, one frame a line, indented by `indent` spaces.
    pub fn stack_text(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let mut s = String::new();
        if let Some(note) = self.note {
            let _ = writeln!(s, "{pad}(no stack: {note})");
        }
        for (i, f) in self.stack.iter().enumerate() {
            let text = f.to_string().replace('\n', &format!("\n{pad}"));
            let _ = writeln!(s, "{pad}{i:>2}: {text}");
        }
        s
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "weave thread dump: {} threads on {} LWPs",
            self.threads.len(),
            self.lwps.len()
        )?;
        for l in &self.lwps {
            writeln!(
                f,
                "  LWP {} (tid {}){}: {}, {} ULTs placed, {} switches",
                l.index,
                l.tid,
                if l.bound { " bound" } else { "" },
                if l.sleeping { "idle" } else { "busy" },
                l.placed,
                l.runs
            )?;
        }
        for t in &self.threads {
            writeln!(f, "\n{}", t.headline())?;
            f.write_str(&t.stack_text(4))?;
        }
        Ok(())
    }
}

/// `s` as a JSON string literal.
pub(super) fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// One row of the LWP table as a JSON object, appended to `o` (the dump's
/// and `weave top`'s frames share it).
pub(super) fn lwp_json(o: &mut String, l: &LwpInfo) {
    let _ = write!(
        o,
        "{{\"index\":{},\"tid\":{},\"bound\":{},\"idle\":{},\"placed\":{},\"switches\":{}}}",
        l.index, l.tid, l.bound, l.sleeping, l.placed, l.runs
    );
}

pub(super) fn json_opt(s: Option<&str>) -> String {
    s.map_or("null".into(), json_str)
}

impl Dump {
    /// The dump as JSON, in the shape of the JVM's
    /// `jcmd Thread.dump_to_file -format=json`: an object with the
    /// process id, the LWPs, and the threads with their stacks.
    ///
    /// ```text
    /// {"threadDump": {
    ///   "processId": 4242,
    ///   "lwps": [{"index", "tid", "placed", "switches": numbers,
    ///             "bound", "idle": booleans}, ...],
    ///   "threads": [{
    ///     "tid": ThreadId::as_u64, "index": table slot,
    ///     "name": string or null, "kind": "ult" | "bound ult" |
    ///     "migratable ult" | "os thread",
    ///     "state": "runnable" | "running" | "blocked",
    ///     "reason": the BlockReason's name ("Park", "Mutex", ...) or null,
    ///     "timed": boolean,
    ///     "waitsFor": {"tid", "name"} or null,
    ///     "waitsOn": {"object": "0x..."} | {"fd": n} |
    ///                {"deadlineInMs": n} | null,
    ///     "priority": number, "lwp": number or null,
    ///     "note": why there is no stack, or null,
    ///     "stack": [{"ip": "0x...", "function", "file": string or null,
    ///                "line": number or null}, ...]   (innermost first)
    ///   }, ...]}}
    /// ```
    ///
    /// Written without a serialisation crate (weave depends on none; see
    /// `docs/DEPENDENCIES.md`); `tests/threads/dump_json.rs` reads it back with a
    /// JSON parser.
    pub fn to_json(&self) -> String {
        let mut o = String::new();
        let _ = write!(
            o,
            "{{\"threadDump\":{{\"processId\":{},\"lwps\":[",
            std::process::id()
        );
        for (i, l) in self.lwps.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            lwp_json(&mut o, l);
        }
        o.push_str("],\"threads\":[");
        for (i, t) in self.threads.iter().enumerate() {
            let waits_for = match &t.waits_for {
                Some((h, n)) => format!(
                    "{{\"tid\":{},\"name\":{}}}",
                    h.as_u64(),
                    json_opt(n.as_deref())
                ),
                None => "null".into(),
            };
            let _ = write!(
                o,
                "{}{{\"tid\":{},\"index\":{},\"name\":{},\"kind\":{},\"state\":{},\"reason\":{},\
                 \"timed\":{},\"waitsFor\":{},\"waitsOn\":{},\"priority\":{},\"lwp\":{},\"note\":{},\
                 \"stack\":[",
                if i > 0 { "," } else { "" },
                t.id.as_u64(),
                t.id.index(),
                json_opt(t.name.as_deref()),
                json_str(t.kind),
                json_str(t.state),
                json_opt(t.reason.map(|r| format!("{r:?}")).as_deref()),
                t.timed,
                waits_for,
                wait_object_json(t.waits_on),
                t.priority,
                t.lwp.map_or("null".into(), |l| l.to_string()),
                json_opt(t.note),
            );
            for (k, f) in t.stack.iter().enumerate() {
                let _ = write!(
                    o,
                    "{}{{\"ip\":\"{:#x}\",\"function\":{},\"file\":{},\"line\":{}}}",
                    if k > 0 { "," } else { "" },
                    f.ip,
                    json_opt(f.function.as_deref()),
                    json_opt(f.file.as_deref()),
                    f.line.map_or("null".into(), |l| l.to_string())
                );
            }
            o.push_str("]}");
        }
        o.push_str("]}}");
        o
    }
}

/// What the blocked thread at table index `index` waits on, as the dump
/// words it after the reason (" 0x7f..a0", " (fd 7)"), for the deadlock
/// report; empty if weave does not know. `reason` is the state word's.
pub(crate) fn wait_object_of(index: u32, reason: u8) -> String {
    let Some(r) = BlockReason::from_u8(reason & !TIMED) else {
        return String::new();
    };
    if !WaitOn::recorded_for(r) {
        return String::new();
    }
    WaitOn::from_word(table().slot(index).wait_on.load(Relaxed))
        .map_or(String::new(), |on| format!(" {}", wait_object_text(r, on)))
}

/// The stack of the thread at table index `index`, as text indented by
/// `indent` (for the deadlock report); empty if it has none.
pub(crate) fn stack_of(index: u32, indent: usize) -> String {
    let tcb = table().slot(index);
    match stacks::walk(tcb) {
        Some(ips) if !ips.is_empty() => {
            let pad = " ".repeat(indent);
            let mut s = String::new();
            for (i, f) in stacks::symbolise(&ips).iter().enumerate() {
                let text = f.to_string().replace('\n', &format!("\n{pad}"));
                let _ = writeln!(s, "{pad}{i:>2}: {text}");
            }
            s
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_str("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}

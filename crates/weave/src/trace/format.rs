//! The trace file format: what `record.rs` writes and [`read`] reads back.
//!
//! A file is a 64-byte header followed by 32-byte slots, little-endian:
//!
//! ```text
//! header  0: magic "WEAVETRC"        8: version (u32)   12: slot size (u32, 32)
//!        16: ns per 2^20 ticks (u64) 24: ticks at start (u64)
//!        32: process id (u32)        36: ring slots per thread (u32)
//!        40: wall clock at start, ns since the Unix epoch (u64)   48: zero
//!
//! slot    0: timestamp, ticks (u64)
//!         8: kind (u8) | aux (u8) | lwp (u16, 0xffff: none) | aux32 (u32)
//!        16: ULT id (u64, 0: none)
//!        24: arg (u64)
//! ```
//!
//! Timestamps are TSC ticks on x86_64 (`time::clock::ticks`, a few ns and
//! no system call, which matters at one read per event), the monotonic
//! clock in ns elsewhere; the header's scale turns them into ns. A NAME
//! record of a name longer than 8 bytes takes one more slot for the rest
//! (up to [`MAX_NAME`] bytes). The slots of one thread's ring are in time
//! order; the writer appends the rings' batches one after the other, so
//! [`read`] sorts by time (stably).
//!
//! Names nothing of weave's but the events and the ids.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::Event;
use crate::thread::id::{BlockReason, ThreadId};

pub(crate) const MAGIC: &[u8; 8] = b"WEAVETRC";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER: usize = 64;
pub(crate) const SLOT: usize = 32;

/// The longest thread name a trace keeps (longer ones are cut).
pub const MAX_NAME: usize = 40;

pub(crate) use super::ring::Slot;

const NO_LWP: u64 = 0xffff;

// Record kinds. Stable: they are the file format.
const SPAWN: u8 = 1;
const RUN: u8 = 2;
const BLOCK: u8 = 3;
const WAKE: u8 = 4;
const STEAL: u8 = 5;
const PREEMPT: u8 = 6;
const EXIT: u8 = 7;
const LWP_START: u8 = 8;
const LWP_EXIT: u8 = 9;
const LWP_IDLE: u8 = 10;
const LWP_BUSY: u8 = 11;
const KERNEL_BLOCKED: u8 = 12;
const IO_READY: u8 = 13;
const TIMER_FIRED: u8 = 14;
const NAME: u8 = 15;
const DROPPED: u8 = 16;

#[inline(always)]
fn word1(kind: u8, aux: u8, lwp: Option<usize>, aux32: u32) -> u64 {
    let lwp = lwp.map_or(NO_LWP, |l| (l as u64).min(NO_LWP - 1));
    u64::from(kind) | u64::from(aux) << 8 | lwp << 16 | u64::from(aux32) << 32
}

fn id(t: Option<ThreadId>) -> u64 {
    t.map_or(0, |t| t.as_u64().get())
}

/// The slot of an event at `ts` ticks. Inlined into the recorder's hook,
/// where the event's kind is a jump away.
#[inline(always)]
pub(crate) fn encode(ts: u64, e: &Event) -> Slot {
    let (w1, ult, arg) = match *e {
        Event::Spawn { ult, lwp } => (word1(SPAWN, 0, lwp, 0), Some(ult), 0),
        Event::Run { ult, lwp } => (word1(RUN, 0, Some(lwp), 0), Some(ult), 0),
        Event::Block { ult, lwp, reason } => {
            (word1(BLOCK, reason as u8, Some(lwp), 0), Some(ult), 0)
        }
        Event::Wake { ult, lwp, waker } => (word1(WAKE, 0, lwp, 0), Some(ult), id(waker)),
        Event::Steal { ult, from, to } => (word1(STEAL, 0, Some(to), from as u32), Some(ult), 0),
        Event::Preempt { lwp } => (word1(PREEMPT, 0, Some(lwp), 0), None, 0),
        Event::Exit { ult, lwp } => (word1(EXIT, 0, Some(lwp), 0), Some(ult), 0),
        Event::LwpStart { lwp, bound } => (word1(LWP_START, bound as u8, Some(lwp), 0), None, 0),
        Event::LwpExit { lwp } => (word1(LWP_EXIT, 0, Some(lwp), 0), None, 0),
        Event::LwpIdle { lwp } => (word1(LWP_IDLE, 0, Some(lwp), 0), None, 0),
        Event::LwpBusy { lwp } => (word1(LWP_BUSY, 0, Some(lwp), 0), None, 0),
        Event::KernelBlocked { lwp, ult } => (word1(KERNEL_BLOCKED, 0, Some(lwp), 0), ult, 0),
        Event::IoReady { ult, lwp } => (word1(IO_READY, 0, lwp, 0), Some(ult), 0),
        Event::TimerFired { ult, lwp } => (word1(TIMER_FIRED, 0, Some(lwp), 0), Some(ult), 0),
    };
    [ts, w1, id(ult), arg]
}

/// The LWP a slot names, if any.
#[inline]
pub(crate) fn slot_lwp(s: &Slot) -> Option<usize> {
    let l = (s[1] >> 16) & 0xffff;
    (l != NO_LWP).then_some(l as usize)
}

/// The slots of a NAME record: the thread's name (cut to `MAX_NAME`
/// bytes at a character boundary) and priority. One or two slots.
pub(crate) fn encode_name(ts: u64, ult: ThreadId, name: &str, priority: u8) -> ([Slot; 2], usize) {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut bytes = [0u8; MAX_NAME];
    bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
    let first = [
        ts,
        word1(NAME, priority, None, end as u32),
        id(Some(ult)),
        word(0),
    ];
    let rest = [word(1), word(2), word(3), word(4)];
    ([first, rest], if end > 8 { 2 } else { 1 })
}

/// The slot saying that `count` events of this thread's ring were dropped
/// (the ring was full) before `ts`.
pub(crate) fn encode_dropped(ts: u64, lwp: Option<usize>, count: u64) -> Slot {
    [ts, word1(DROPPED, 0, lwp, 0), 0, count]
}

/// The header of a new file.
pub(crate) fn header(ns_per_mega_tick: u64, start_ticks: u64, ring: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(SLOT as u32).to_le_bytes());
    h[16..24].copy_from_slice(&ns_per_mega_tick.to_le_bytes());
    h[24..32].copy_from_slice(&start_ticks.to_le_bytes());
    h[32..36].copy_from_slice(&std::process::id().to_le_bytes());
    h[36..40].copy_from_slice(&(ring as u32).to_le_bytes());
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    h[40..48].copy_from_slice(&wall.to_le_bytes());
    h
}

/// A slot as the bytes of the file.
pub(crate) fn slot_bytes(s: &Slot) -> [u8; SLOT] {
    let mut b = [0u8; SLOT];
    for (i, w) in s.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// Writes slots as the bytes of the file: on a little-endian machine
/// their memory is the file's bytes, written in one call.
pub(crate) fn write_slots(out: &mut impl std::io::Write, slots: &[Slot]) -> std::io::Result<()> {
    if cfg!(target_endian = "little") {
        // SAFETY: a slice of `[u64; 4]` is `size_of_val` initialised bytes
        // with no padding; `u8` has alignment 1 and no invalid values.
        let bytes = unsafe {
            std::slice::from_raw_parts(slots.as_ptr().cast::<u8>(), std::mem::size_of_val(slots))
        };
        out.write_all(bytes)
    } else {
        slots.iter().try_for_each(|s| out.write_all(&slot_bytes(s)))
    }
}

/// One event of a trace and when it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Nanoseconds since the recording started.
    pub ns: u64,
    pub event: Event,
}

/// Events a thread's ring could not hold (it was full when they came).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// When the loss was noticed (ns since the start): the drops happened
    /// before this.
    pub ns: u64,
    /// The LWP of the ring, if the thread was one.
    pub lwp: Option<usize>,
    pub count: u64,
}

/// A trace file, read back.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Every event, in time order.
    pub entries: Vec<Entry>,
    /// Thread names, as recorded at spawn.
    pub names: HashMap<ThreadId, String>,
    /// Thread priorities at spawn (threads that are not listed had
    /// [`crate::thread::DEFAULT_PRIORITY`]).
    pub priorities: HashMap<ThreadId, u8>,
    /// Where events were lost.
    pub dropped: Vec<Dropped>,
    /// The recording process.
    pub pid: u32,
    /// Ring size per thread, in events.
    pub ring: usize,
    /// Wall clock at the start, ns since the Unix epoch.
    pub wall_start_ns: u64,
}

impl Trace {
    /// Events lost in all.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|d| d.count).sum()
    }
}

/// What is wrong with a file that is not a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a weave trace: {}", self.0)
    }
}

impl std::error::Error for FormatError {}

/// Reads a trace file written by [`record`](super::record).
pub fn read(path: impl AsRef<Path>) -> std::io::Result<Trace> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)?;
    parse(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// Parses the bytes of a trace file. A file cut short at the end (the
/// process died while writing) keeps its whole slots.
pub fn parse(b: &[u8]) -> Result<Trace, FormatError> {
    if b.len() < HEADER || &b[0..8] != MAGIC {
        return Err(FormatError("it does not start with \"WEAVETRC\"".into()));
    }
    let version = u32_at(b, 8);
    if version != VERSION || u32_at(b, 12) as usize != SLOT {
        return Err(FormatError(format!(
            "version {version}; this weave reads version {VERSION}"
        )));
    }
    let scale = u64_at(b, 16);
    let start = u64_at(b, 24);
    let mut t = Trace {
        pid: u32_at(b, 32),
        ring: u32_at(b, 36) as usize,
        wall_start_ns: u64_at(b, 40),
        ..Trace::default()
    };
    let ns =
        |ticks: u64| ((u128::from(ticks.saturating_sub(start)) * u128::from(scale)) >> 20) as u64;
    let body = &b[HEADER..];
    let n = body.len() / SLOT;
    let slot = |i: usize| -> Slot {
        let o = i * SLOT;
        [
            u64_at(body, o),
            u64_at(body, o + 8),
            u64_at(body, o + 16),
            u64_at(body, o + 24),
        ]
    };
    let mut i = 0;
    while i < n {
        let [ts, w1, ult, arg] = slot(i);
        i += 1;
        let kind = w1 as u8;
        let aux = (w1 >> 8) as u8;
        let lwp_raw = (w1 >> 16) & 0xffff;
        let lwp = (lwp_raw != NO_LWP).then_some(lwp_raw as usize);
        let aux32 = (w1 >> 32) as u32;
        let ult = ThreadId::from_u64(ult);
        let at = i - 1;
        let bad = |what: &str| FormatError(format!("slot {at}: {what}"));
        let need_ult = || ult.ok_or_else(|| bad("an event without its thread"));
        let need_lwp = || lwp.ok_or_else(|| bad("an event without its LWP"));
        let event = match kind {
            SPAWN => Event::Spawn {
                ult: need_ult()?,
                lwp,
            },
            RUN => Event::Run {
                ult: need_ult()?,
                lwp: need_lwp()?,
            },
            BLOCK => Event::Block {
                ult: need_ult()?,
                lwp: need_lwp()?,
                reason: BlockReason::from_u8(aux).unwrap_or(BlockReason::Sync),
            },
            WAKE => Event::Wake {
                ult: need_ult()?,
                lwp,
                waker: ThreadId::from_u64(arg),
            },
            STEAL => Event::Steal {
                ult: need_ult()?,
                from: aux32 as usize,
                to: need_lwp()?,
            },
            PREEMPT => Event::Preempt { lwp: need_lwp()? },
            EXIT => Event::Exit {
                ult: need_ult()?,
                lwp: need_lwp()?,
            },
            LWP_START => Event::LwpStart {
                lwp: need_lwp()?,
                bound: aux != 0,
            },
            LWP_EXIT => Event::LwpExit { lwp: need_lwp()? },
            LWP_IDLE => Event::LwpIdle { lwp: need_lwp()? },
            LWP_BUSY => Event::LwpBusy { lwp: need_lwp()? },
            KERNEL_BLOCKED => Event::KernelBlocked {
                lwp: need_lwp()?,
                ult,
            },
            IO_READY => Event::IoReady {
                ult: need_ult()?,
                lwp,
            },
            TIMER_FIRED => Event::TimerFired {
                ult: need_ult()?,
                lwp: need_lwp()?,
            },
            NAME => {
                let len = (aux32 as usize).min(MAX_NAME);
                let mut bytes = [0u8; MAX_NAME];
                bytes[..8].copy_from_slice(&arg.to_le_bytes());
                if len > 8 {
                    if i >= n {
                        break; // cut short
                    }
                    for (k, w) in slot(i).iter().enumerate() {
                        bytes[8 + k * 8..16 + k * 8].copy_from_slice(&w.to_le_bytes());
                    }
                    i += 1;
                }
                let ult = need_ult()?;
                let name = String::from_utf8_lossy(&bytes[..len]).into_owned();
                if !name.is_empty() {
                    t.names.insert(ult, name);
                }
                t.priorities.insert(ult, aux);
                continue;
            }
            DROPPED => {
                t.dropped.push(Dropped {
                    ns: ns(ts),
                    lwp,
                    count: arg,
                });
                continue;
            }
            k => return Err(bad(&format!("unknown record kind {k}"))),
        };
        t.entries.push(Entry { ns: ns(ts), event });
    }
    t.entries.sort_by_key(|e| e.ns);
    t.dropped.sort_by_key(|d| d.ns);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(slots: &[Slot]) -> Vec<u8> {
        let mut b = header(1 << 20, 100, 8).to_vec();
        for s in slots {
            b.extend_from_slice(&slot_bytes(s));
        }
        b
    }

    #[test]
    fn every_event_kind_round_trips() {
        let a = ThreadId::new(3, 1);
        let b = ThreadId::new(4, 2);
        let events = [
            Event::Spawn { ult: a, lwp: None },
            Event::Run { ult: a, lwp: 1 },
            Event::Block {
                ult: a,
                lwp: 1,
                reason: BlockReason::Mutex,
            },
            Event::Wake {
                ult: a,
                lwp: Some(0),
                waker: Some(b),
            },
            Event::Steal {
                ult: b,
                from: 0,
                to: 1,
            },
            Event::Preempt { lwp: 1 },
            Event::Exit { ult: a, lwp: 1 },
            Event::LwpStart {
                lwp: 2,
                bound: true,
            },
            Event::LwpExit { lwp: 2 },
            Event::LwpIdle { lwp: 0 },
            Event::LwpBusy { lwp: 0 },
            Event::KernelBlocked {
                lwp: 0,
                ult: Some(b),
            },
            Event::IoReady { ult: b, lwp: None },
            Event::TimerFired { ult: b, lwp: 0 },
        ];
        let slots: Vec<Slot> = events
            .iter()
            .enumerate()
            .map(|(i, e)| encode(100 + i as u64, e))
            .collect();
        let t = parse(&file(&slots)).unwrap();
        let got: Vec<Event> = t.entries.iter().map(|e| e.event).collect();
        assert_eq!(got, events);
        assert_eq!(t.entries[3].ns, 3);
    }

    #[test]
    fn a_long_name_takes_two_slots_and_is_cut_at_max_name() {
        let a = ThreadId::new(1, 1);
        let long = "x".repeat(MAX_NAME + 10);
        let (s, n) = encode_name(5, a, &long, 7);
        assert_eq!(n, 2);
        let t = parse(&file(&s[..n])).unwrap();
        assert_eq!(t.names[&a], "x".repeat(MAX_NAME));
        assert_eq!(t.priorities[&a], 7);
        let (s, n) = encode_name(5, a, "short", 16);
        assert_eq!(n, 1);
        assert_eq!(parse(&file(&s[..n])).unwrap().names[&a], "short");
    }

    #[test]
    fn dropped_records_are_listed_not_taken_for_events() {
        let t = parse(&file(&[encode_dropped(200, Some(1), 42)])).unwrap();
        assert!(t.entries.is_empty());
        assert_eq!(t.dropped_total(), 42);
        assert_eq!(t.dropped[0].lwp, Some(1));
    }

    #[test]
    fn a_file_that_is_not_a_trace_is_refused() {
        let e =
            parse(b"hello world, this is not a trace file at all, not even close....").unwrap_err();
        assert!(e.to_string().contains("WEAVETRC"), "{e}");
    }
}

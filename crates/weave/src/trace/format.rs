//! The trace file format: what `record.rs` writes and [`read`] reads back.
//!
//! A file is a 64-byte header followed by chunks of 8-byte words,
//! little-endian:
//!
//! ```text
//! header  0: magic "WEAVETRC"        8: version (u32, 3) 12: word size (u32, 8)
//!        16: ns per 2^20 ticks (u64) 24: ticks at start (u64)
//!        32: process id (u32)        36: ring per thread, in 16-byte events (u32)
//!        40: wall clock at start, ns since the Unix epoch (u64)   48: zero
//!
//! chunk   0: ring (u32) | words that follow (u32)
//!         8: the ring's records, whole, oldest first
//!
//! record  0: kind (u8) | aux (u8) | lwp (u16, 0xffff: none) | ticks since
//!            the ring's previous record (u32)
//!         8: ULT id (u64, 0: none)
//!        16: arg (u64): only WAKE_BY (the waker's id), STEAL (the LWP it
//!            was taken from) and DROPPED (how many)
//! ```
//!
//! A ring is one thread's (each LWP has one); its chunks come in order, so
//! a reader keeps one clock per ring: it starts at the header's ticks and
//! each record adds its delta. A gap of 2^32 ticks or more (a second or
//! two) is written as a TIME record first (word 1: the absolute ticks).
//! A NAME record (lwp field: the name's length) is followed by the name's
//! bytes, in words. Most events take 16 bytes, half of version 1's 32:
//! the writer's copy, the file and the rings' cache footprint all halve.
//!
//! A BLOCK_RUN or EXIT_RUN record (version 3) is a Block or Exit and the
//! Run that completed the switch on the same LWP at the same time (the
//! Run shares the Block's clock read), in 3 words: word 2 is the ULT
//! that runs.
//!
//! A WAKE_RUN record (version 3) is a wake made by the ULT the ring ran
//! last, recorded without a clock read: its waker is that ULT (the reader
//! keeps the ring's running ULT as the recorder does: a Run sets it;
//! a Block, Exit, TimerFired, IoReady, an LWP's own events and a DROPPED
//! mark clear it; see [`sets_running`]), and its time lies between the
//! ring's previous record and its next stamped one. The reader places it
//! at the earliest moment in that window that comes after the block of
//! the woken ULT it ends (see `place_wakes_by_running`).
//!
//! Timestamps are TSC ticks on x86_64 (`time::clock::ticks`, no system
//! call, which matters at one read per event), the monotonic clock in ns
//! elsewhere; the header's scale turns them into ns. The writer appends
//! the rings' chunks one after the other, so [`read`] sorts by time
//! (stably). A reader refuses any other version with a message naming
//! both.
//!
//! Names nothing of weave's but the events and the ids.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::Event;
use crate::thread::id::{BlockReason, ThreadId};

pub(crate) const MAGIC: &[u8; 8] = b"WEAVETRC";
pub(crate) const VERSION: u32 = 3;
/// The oldest version [`read`] still reads: version 3 only added a kind.
const OLDEST: u32 = 2;
pub(crate) const HEADER: usize = 64;
/// The unit of rings and records: one 8-byte word.
pub(crate) const WORD: usize = 8;

/// The longest thread name a trace keeps (longer ones are cut).
pub const MAX_NAME: usize = 40;

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
/// A Wake with its waker (3 words).
const WAKE_BY: u8 = 17;
/// The ring's clock set to word 1 (a gap of 2^32 ticks or more).
const TIME: u8 = 18;
/// A Wake made by the ring's running ULT, not stamped (module doc).
const WAKE_RUN: u8 = 19;
/// Added to BLOCK or EXIT: the record is that event and the Run that
/// completes its switch, at the same time on the same LWP (3 words; word
/// 2: the ULT that runs).
const SWITCHED: u8 = 0x40;
const BLOCK_RUN: u8 = BLOCK | SWITCHED;
const EXIT_RUN: u8 = EXIT | SWITCHED;

/// Word 0 of a record, delta 0 (the recorder adds it). An LWP's index
/// fits the 16 bits: the runtime has at most 16,384 LWPs.
#[inline(always)]
fn word0(kind: u8, aux: u8, lwp: Option<usize>) -> u64 {
    debug_assert!(!matches!(lwp, Some(l) if l as u64 >= NO_LWP));
    let lwp = lwp.map_or(NO_LWP, |l| l as u64 & NO_LWP);
    u64::from(kind) | u64::from(aux) << 8 | lwp << 16
}

/// Sets the delta of a word 0.
#[inline(always)]
pub(crate) fn with_delta(w0: u64, delta: u32) -> u64 {
    w0 | u64::from(delta) << 32
}

fn id(t: Option<ThreadId>) -> u64 {
    t.map_or(0, |t| t.as_u64().get())
}

/// A record, delta 0: two words, or three for the events with an arg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rec {
    Two([u64; 2]),
    Three([u64; 3]),
}

/// The record of an event. Inlined into the recorder, where the event's
/// kind is known at each `emit` and the match folds away.
#[inline(always)]
pub(crate) fn encode(e: &Event) -> Rec {
    let two = |w0, ult| Rec::Two([w0, id(ult)]);
    match *e {
        Event::Spawn { ult, lwp } => two(word0(SPAWN, 0, lwp), Some(ult)),
        Event::Run { ult, lwp } => two(word0(RUN, 0, Some(lwp)), Some(ult)),
        Event::Block { ult, lwp, reason } => two(word0(BLOCK, reason as u8, Some(lwp)), Some(ult)),
        Event::Wake {
            ult,
            lwp,
            waker: None,
        } => two(word0(WAKE, 0, lwp), Some(ult)),
        Event::Wake {
            ult,
            lwp,
            waker: Some(w),
        } => Rec::Three([word0(WAKE_BY, 0, lwp), id(Some(ult)), id(Some(w))]),
        Event::Steal { ult, from, to } => {
            Rec::Three([word0(STEAL, 0, Some(to)), id(Some(ult)), from as u64])
        }
        Event::Preempt { lwp } => two(word0(PREEMPT, 0, Some(lwp)), None),
        Event::Exit { ult, lwp } => two(word0(EXIT, 0, Some(lwp)), Some(ult)),
        Event::LwpStart { lwp, bound } => two(word0(LWP_START, bound as u8, Some(lwp)), None),
        Event::LwpExit { lwp } => two(word0(LWP_EXIT, 0, Some(lwp)), None),
        Event::LwpIdle { lwp } => two(word0(LWP_IDLE, 0, Some(lwp)), None),
        Event::LwpBusy { lwp } => two(word0(LWP_BUSY, 0, Some(lwp)), None),
        Event::KernelBlocked { lwp, ult } => two(word0(KERNEL_BLOCKED, 0, Some(lwp)), ult),
        Event::IoReady { ult, lwp } => two(word0(IO_READY, 0, lwp), Some(ult)),
        Event::TimerFired { ult, lwp } => two(word0(TIMER_FIRED, 0, Some(lwp)), Some(ult)),
    }
}

/// The record of a wake of `ult` made by the ULT the ring ran last, with
/// no clock read of its own (module doc), delta 0.
#[inline(always)]
pub(crate) fn encode_wake_by_running(ult: ThreadId, lwp: Option<usize>) -> Rec {
    Rec::Two([word0(WAKE_RUN, 0, lwp), id(Some(ult))])
}

/// Word 0 of a BLOCK_RUN or EXIT_RUN record, from that of the Block or
/// Exit (word 1: the same; word 2: the ULT of the Run, 0 if none came).
#[inline(always)]
pub(crate) fn switch_of(w0: u64) -> u64 {
    w0 | u64::from(SWITCHED)
}

/// What an event does to a ring's running ULT (the waker of a WAKE_RUN
/// record): `Some(id)` sets it (0: clears it), `None` leaves it. The
/// recorder and the reader apply the same rule. The LWP loop's own events
/// clear it: a wake made there (a timer, the reactor) is not the last
/// ULT's, and each such wake follows a TimerFired or IoReady.
#[inline(always)]
pub(crate) fn sets_running(e: &Event) -> Option<u64> {
    match *e {
        Event::Run { ult, .. } => Some(ult.as_u64().get()),
        Event::Block { .. }
        | Event::Exit { .. }
        | Event::TimerFired { .. }
        | Event::IoReady { .. }
        | Event::LwpStart { .. }
        | Event::LwpExit { .. }
        | Event::LwpIdle { .. }
        | Event::LwpBusy { .. } => Some(0),
        Event::Spawn { .. }
        | Event::Wake { .. }
        | Event::Steal { .. }
        | Event::Preempt { .. }
        | Event::KernelBlocked { .. } => None,
    }
}

/// The LWP a record's word 0 names (the one it happened on), if any.
pub(crate) fn record_lwp(w0: u64) -> Option<usize> {
    let l = (w0 >> 16) & 0xffff;
    (l != NO_LWP).then_some(l as usize)
}

/// The TIME record that sets a ring's clock to `ticks`.
pub(crate) fn encode_time(ticks: u64) -> [u64; 2] {
    [word0(TIME, 0, None), ticks]
}

/// The words of a NAME record, delta 0: the thread's name (cut to
/// `MAX_NAME` bytes at a character boundary) and priority. Returns the
/// words and how many of them are used (2 to 7).
pub(crate) fn encode_name(ult: ThreadId, name: &str, priority: u8) -> ([u64; 7], usize) {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut bytes = [0u8; MAX_NAME];
    bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
    let mut w = [0u64; 7];
    w[0] = u64::from(NAME) | u64::from(priority) << 8 | (end as u64) << 16;
    w[1] = id(Some(ult));
    for (k, chunk) in bytes.chunks(8).enumerate() {
        w[2 + k] = u64::from_le_bytes(chunk.try_into().unwrap());
    }
    (w, 2 + end.div_ceil(8))
}

/// The record saying that `count` events of this thread's ring were
/// dropped (the ring was full) before it, delta 0.
pub(crate) fn encode_dropped(lwp: Option<usize>, count: u64) -> [u64; 3] {
    [word0(DROPPED, 0, lwp), 0, count]
}

/// The header of a new file.
pub(crate) fn header(ns_per_mega_tick: u64, start_ticks: u64, ring: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(WORD as u32).to_le_bytes());
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

/// Writes one chunk of ring `ring`: its header word, then the words of
/// `runs` (a ring's contents before and after the wrap). On a
/// little-endian machine the words' memory is the file's bytes, written
/// as it is.
pub(crate) fn write_chunk(
    out: &mut impl std::io::Write,
    ring: u32,
    runs: [&[u64]; 2],
) -> std::io::Result<()> {
    let n = runs[0].len() + runs[1].len();
    let head = u64::from(ring) | (n as u64) << 32;
    out.write_all(&head.to_le_bytes())?;
    for run in runs {
        if cfg!(target_endian = "little") {
            // SAFETY: a slice of `u64` is `size_of_val` initialised bytes;
            // `u8` has alignment 1 and no invalid values.
            let bytes = unsafe {
                std::slice::from_raw_parts(run.as_ptr().cast::<u8>(), std::mem::size_of_val(run))
            };
            out.write_all(bytes)?;
        } else {
            for w in run {
                out.write_all(&w.to_le_bytes())?;
            }
        }
    }
    Ok(())
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
/// process died while writing) keeps its whole records.
pub fn parse(b: &[u8]) -> Result<Trace, FormatError> {
    if b.len() < HEADER || &b[0..8] != MAGIC {
        return Err(FormatError("it does not start with \"WEAVETRC\"".into()));
    }
    let version = u32_at(b, 8);
    if !(OLDEST..=VERSION).contains(&version) || u32_at(b, 12) as usize != WORD {
        return Err(FormatError(format!(
            "it is a trace of format version {version}, and this weave reads format \
             version {OLDEST} to version {VERSION} only: read it with the weave that recorded \
             it, or record it again"
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
    let words = body.len() / WORD;
    let word = |i: usize| u64_at(body, i * WORD);
    // Each ring's clock (the ticks of its last record), running ULT and
    // WAKE_RUN records waiting for the ring's next stamp.
    let mut rings: HashMap<u32, RingState> = HashMap::new();
    // The WAKE_RUN entries: index, and the window of ns they lie in.
    let mut windows: Vec<(usize, u64, u64)> = Vec::new();
    let mut i = 0;
    while i < words {
        let head = word(i);
        let (ring, n) = (head as u32, (head >> 32) as usize);
        let end = (i + 1 + n).min(words);
        let st = rings.entry(ring).or_insert(RingState {
            clock: start,
            running: 0,
            waiting: Vec::new(),
        });
        let mut j = i + 1;
        while j < end {
            let w0 = word(j);
            let kind = w0 as u8;
            let aux = (w0 >> 8) as u8;
            let lwp_raw = (w0 >> 16) & 0xffff;
            let len = match kind {
                WAKE_BY | STEAL | DROPPED | BLOCK_RUN | EXIT_RUN => 3,
                NAME => 2 + (lwp_raw as usize).min(MAX_NAME).div_ceil(WORD),
                _ => 2,
            };
            if j + len > end {
                break; // cut short
            }
            st.clock += w0 >> 32;
            let ts = st.clock;
            let w1 = word(j + 1);
            let arg = if len == 3 { word(j + 2) } else { 0 };
            let at = j;
            j += len;
            let lwp = (lwp_raw != NO_LWP).then_some(lwp_raw as usize);
            let ult = ThreadId::from_u64(w1);
            let bad = |what: &str| FormatError(format!("word {at}: {what}"));
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
                WAKE | WAKE_BY => Event::Wake {
                    ult: need_ult()?,
                    lwp,
                    waker: ThreadId::from_u64(arg),
                },
                BLOCK_RUN | EXIT_RUN => {
                    let stopped = need_ult()?;
                    let lwp = need_lwp()?;
                    let first = if kind == BLOCK_RUN {
                        Event::Block {
                            ult: stopped,
                            lwp,
                            reason: BlockReason::from_u8(aux).unwrap_or(BlockReason::Sync),
                        }
                    } else {
                        Event::Exit { ult: stopped, lwp }
                    };
                    // Word 2 is 0 when the switch ended without a Run.
                    let run = ThreadId::from_u64(arg).map(|ult| Event::Run { ult, lwp });
                    for event in std::iter::once(first).chain(run) {
                        for (k, lo) in st.waiting.drain(..) {
                            windows.push((k, lo, ns(ts)));
                        }
                        if let Some(r) = sets_running(&event) {
                            st.running = r;
                        }
                        t.entries.push(Entry { ns: ns(ts), event });
                    }
                    continue;
                }
                WAKE_RUN => {
                    let event = Event::Wake {
                        ult: need_ult()?,
                        lwp,
                        waker: ThreadId::from_u64(st.running),
                    };
                    st.waiting.push((t.entries.len(), ns(ts)));
                    t.entries.push(Entry { ns: ns(ts), event });
                    continue;
                }
                STEAL => Event::Steal {
                    ult: need_ult()?,
                    from: arg as usize,
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
                    let len = (lwp_raw as usize).min(MAX_NAME);
                    let mut bytes = Vec::with_capacity(len.div_ceil(WORD) * WORD);
                    for k in at + 2..at + 2 + len.div_ceil(WORD) {
                        bytes.extend_from_slice(&word(k).to_le_bytes());
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
                    st.running = 0;
                    t.dropped.push(Dropped {
                        ns: ns(ts),
                        lwp,
                        count: arg,
                    });
                    continue;
                }
                TIME => {
                    st.clock = w1;
                    continue;
                }
                k => return Err(bad(&format!("unknown record kind {k}"))),
            };
            for (k, lo) in st.waiting.drain(..) {
                windows.push((k, lo, ns(ts)));
            }
            if let Some(r) = sets_running(&event) {
                st.running = r;
            }
            t.entries.push(Entry { ns: ns(ts), event });
        }
        i += 1 + n;
    }
    // Wakes the ring's last stamp came before: their window ends there.
    for st in rings.values_mut() {
        let end = ns(st.clock);
        windows.extend(st.waiting.drain(..).map(|(k, lo)| (k, lo, end)));
    }
    place_wakes_by_running(&mut t.entries, &windows);
    put_in_time_order(&mut t.entries);
    t.dropped.sort_by_key(|d| d.ns);
    Ok(t)
}

/// A ring's state while it is read.
struct RingState {
    clock: u64,
    /// The id of the ULT the ring ran last (0: none), as the recorder kept
    /// it ([`sets_running`]).
    running: u64,
    /// WAKE_RUN entries not yet followed by a stamped record: index, and
    /// the ns they follow.
    waiting: Vec<(usize, u64)>,
}

/// Gives each WAKE_RUN entry (`windows`: index, earliest and latest ns)
/// a time: the earliest in its window that comes after the block of the
/// woken ULT it ends (1 ns after it). Per ULT, its wakes in the order of their latest
/// times are matched with its blocks in time order: a wake ends the
/// first block not yet matched that came before the wake's latest time
/// (a wake always follows its block's record). A wake that ends no block
/// (its Block was dropped, or recorded before the recording started)
/// takes the start of its window. Stamped wakes keep their stamps; they
/// take part in the matching with a window of one point.
fn place_wakes_by_running(entries: &mut [Entry], windows: &[(usize, u64, u64)]) {
    if windows.is_empty() {
        return;
    }
    let window: HashMap<usize, (u64, u64)> =
        windows.iter().map(|&(k, lo, hi)| (k, (lo, hi))).collect();
    // Per ULT: its blocks' times, and its wakes (latest, index, earliest,
    // whether the time is to be placed).
    type Wakes = Vec<(u64, usize, u64, bool)>;
    let mut per: HashMap<ThreadId, (Vec<u64>, Wakes)> = HashMap::new();
    for (k, e) in entries.iter().enumerate() {
        match e.event {
            Event::Block { ult, .. } => per.entry(ult).or_default().0.push(e.ns),
            Event::Wake { ult, .. } => {
                let (lo, hi, placed) = window
                    .get(&k)
                    .map_or((e.ns, e.ns, false), |&(lo, hi)| (lo, hi, true));
                per.entry(ult).or_default().1.push((hi, k, lo, placed));
            }
            _ => {}
        }
    }
    for (mut blocks, mut wakes) in per.into_values() {
        if !wakes.iter().any(|w| w.3) {
            continue;
        }
        blocks.sort_unstable();
        wakes.sort_unstable();
        let mut next = 0;
        for (hi, k, lo, placed) in wakes {
            // A block followed by another before this wake's earliest time
            // was ended by a wake not recorded: the ULT ran in between.
            while next + 1 < blocks.len() && blocks[next + 1] <= lo {
                next += 1;
            }
            // Blocks after this wake's latest time are not its.
            let block = match blocks.get(next) {
                Some(&at) if at <= hi => {
                    next += 1;
                    Some(at)
                }
                _ => None,
            };
            if placed {
                // Just after the block (1 ns: in time order, after it).
                entries[k].ns = block.map_or(lo, |at| lo.max(at + 1));
            }
        }
    }
}

/// Sorts `entries` by time (stably), then moves each Run that a shared
/// switch stamp put before its own Wake to the Wake's time, just after it.
///
/// A Run that completes a switch carries the timestamp of the Block just
/// before it on the same LWP (see `record.rs`): one clock read for the
/// pair. When the ULT it runs was woken by another LWP after that Block
/// was stamped (and before the pick), the stamp is older than the Wake,
/// though the run came after it: a waker emits the Wake before it queues
/// the thread. The Run really happened between the Wake and the LWP's next
/// event, so the reader places it at the Wake: every blocked ULT is woken
/// before it runs again, in the file's order too.
fn put_in_time_order(entries: &mut [Entry]) {
    entries.sort_by_key(|e| e.ns);
    // Per ULT: blocked and not yet woken, and then the index of a Run seen
    // in that state, waiting for its Wake.
    let mut blocked: HashMap<ThreadId, Option<usize>> = HashMap::new();
    let mut lifted = false;
    let mut lift = vec![false; entries.len()];
    for i in 0..entries.len() {
        match entries[i].event {
            Event::Block { ult, .. } => {
                blocked.insert(ult, None);
            }
            Event::Run { ult, .. } => {
                if let Some(early @ None) = blocked.get_mut(&ult) {
                    *early = Some(i);
                }
            }
            Event::Wake { ult, .. } => {
                if let Some(Some(run)) = blocked.remove(&ult) {
                    entries[run].ns = entries[i].ns;
                    lift[run] = true;
                    lifted = true;
                }
            }
            // The thread ran again on its own without a Wake being
            // recorded (the reason needs none, or the Wake was dropped
            // with a full ring): its Run stays where it was stamped.
            Event::Exit { ult, .. } => {
                blocked.remove(&ult);
            }
            _ => {}
        }
    }
    if lifted {
        let mut order: Vec<(u64, bool, usize)> = (0..entries.len())
            .map(|i| (entries[i].ns, lift[i], i))
            .collect();
        order.sort_unstable();
        let old = entries.to_vec();
        for (slot, (_, _, i)) in entries.iter_mut().zip(order) {
            *slot = old[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ns: u64, event: Event) -> Entry {
        Entry { ns, event }
    }

    #[test]
    fn a_run_stamped_before_its_wake_moves_just_after_the_wake() {
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let block = |ult, lwp| Event::Block {
            ult,
            lwp,
            reason: BlockReason::Park,
        };
        // LWP 0: `a` blocks at 10 and `b` runs with the same stamp; LWP 1
        // woke `b` at 12, after the stamp and before the pick.
        let mut es = vec![
            at(5, block(b, 0)),
            at(10, block(a, 0)),
            at(10, Event::Run { ult: b, lwp: 0 }),
            at(
                12,
                Event::Wake {
                    ult: b,
                    lwp: Some(1),
                    waker: None,
                },
            ),
            at(20, block(b, 0)),
        ];
        put_in_time_order(&mut es);
        assert!(matches!(es[2].event, Event::Wake { ult, .. } if ult == b));
        assert_eq!((es[3].ns, es[3].event), (12, Event::Run { ult: b, lwp: 0 }));
        assert!(matches!(es[4].event, Event::Block { ult, .. } if ult == b));
    }

    #[test]
    fn a_run_after_a_block_with_no_wake_recorded_keeps_its_stamp() {
        let a = ThreadId::new(1, 1);
        let mut es = vec![
            at(
                5,
                Event::Block {
                    ult: a,
                    lwp: 0,
                    reason: BlockReason::Park,
                },
            ),
            at(9, Event::Run { ult: a, lwp: 0 }),
            at(
                30,
                Event::Wake {
                    ult: ThreadId::new(2, 1),
                    lwp: None,
                    waker: None,
                },
            ),
        ];
        let before = es.clone();
        put_in_time_order(&mut es);
        assert_eq!(es, before);
    }

    /// A file of one chunk of ring 0 holding `recs`, each given its delta.
    fn file(recs: &[(u32, Vec<u64>)]) -> Vec<u8> {
        let mut words = Vec::new();
        for (delta, r) in recs {
            let mut r = r.clone();
            r[0] = with_delta(r[0], *delta);
            words.extend(r);
        }
        let mut b = header(1 << 20, 100, 8).to_vec();
        write_chunk(&mut b, 0, [&words, &[]]).unwrap();
        b
    }

    fn words(r: Rec) -> Vec<u64> {
        match r {
            Rec::Two(w) => w.to_vec(),
            Rec::Three(w) => w.to_vec(),
        }
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
            Event::Wake {
                ult: b,
                lwp: None,
                waker: None,
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
        let recs: Vec<_> = events.iter().map(|e| (1, words(encode(e)))).collect();
        let t = parse(&file(&recs)).unwrap();
        let got: Vec<Event> = t.entries.iter().map(|e| e.event).collect();
        assert_eq!(got, events);
        assert_eq!(t.entries[3].ns, 4, "each record adds its delta");
    }

    #[test]
    fn a_switch_record_is_read_as_its_block_and_its_run_at_one_time() {
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let block = Event::Block {
            ult: a,
            lwp: 3,
            reason: BlockReason::Channel,
        };
        let Rec::Two([w0, _]) = encode(&block) else {
            unreachable!()
        };
        let rec = |run: Option<ThreadId>| (7, vec![switch_of(w0), id(Some(a)), id(run)]);
        let t = parse(&file(&[rec(Some(b))])).unwrap();
        let got: Vec<(u64, Event)> = t.entries.iter().map(|e| (e.ns, e.event)).collect();
        assert_eq!(got, [(7, block), (7, Event::Run { ult: b, lwp: 3 })]);
        let t = parse(&file(&[rec(None)])).unwrap();
        let got: Vec<Event> = t.entries.iter().map(|e| e.event).collect();
        assert_eq!(got, [block], "word 2 zero: the switch had no Run");
    }

    #[test]
    fn a_wake_by_the_running_ult_names_it_and_follows_the_block_it_ends() {
        let (a, c) = (ThreadId::new(1, 1), ThreadId::new(3, 1));
        let on = |e: &Event| words(encode(e));
        // Ring 0: `a` runs at 10 and wakes `c` (no clock read), then
        // blocks at 50. Ring 1: `c` blocked at 30, inside `a`'s window.
        let mut f = header(1 << 20, 100, 8).to_vec();
        let mut r0 = on(&Event::Run { ult: a, lwp: 0 });
        r0[0] = with_delta(r0[0], 10);
        r0.extend(words(encode_wake_by_running(c, Some(0))));
        let mut blk = on(&Event::Block {
            ult: a,
            lwp: 0,
            reason: BlockReason::Park,
        });
        blk[0] = with_delta(blk[0], 40);
        r0.extend(blk);
        let mut r1 = on(&Event::Block {
            ult: c,
            lwp: 1,
            reason: BlockReason::Park,
        });
        r1[0] = with_delta(r1[0], 30);
        write_chunk(&mut f, 0, [&r0, &[]]).unwrap();
        write_chunk(&mut f, 1, [&r1, &[]]).unwrap();
        let t = parse(&f).unwrap();
        let wake = t
            .entries
            .iter()
            .find(|e| matches!(e.event, Event::Wake { .. }))
            .unwrap();
        assert_eq!(
            (wake.ns, wake.event),
            (
                31,
                Event::Wake {
                    ult: c,
                    lwp: Some(0),
                    waker: Some(a)
                }
            )
        );
    }

    #[test]
    fn a_time_record_sets_the_rings_clock() {
        let a = ThreadId::new(1, 1);
        let run = words(encode(&Event::Run { ult: a, lwp: 0 }));
        let t = parse(&file(&[
            (5, run.clone()),
            (0, encode_time(100 + (1 << 40)).to_vec()),
            (3, run),
        ]))
        .unwrap();
        assert_eq!(t.entries[0].ns, 5);
        assert_eq!(t.entries[1].ns, (1 << 40) + 3);
    }

    #[test]
    fn a_long_name_takes_more_words_and_is_cut_at_max_name() {
        let a = ThreadId::new(1, 1);
        let long = "x".repeat(MAX_NAME + 10);
        let (w, n) = encode_name(a, &long, 7);
        assert_eq!(n, 2 + MAX_NAME / 8);
        let t = parse(&file(&[(0, w[..n].to_vec())])).unwrap();
        assert_eq!(t.names[&a], "x".repeat(MAX_NAME));
        assert_eq!(t.priorities[&a], 7);
        let (w, n) = encode_name(a, "short", 16);
        assert_eq!(n, 3);
        assert_eq!(
            parse(&file(&[(0, w[..n].to_vec())])).unwrap().names[&a],
            "short"
        );
    }

    #[test]
    fn dropped_records_are_listed_not_taken_for_events() {
        let t = parse(&file(&[(200, encode_dropped(Some(1), 42).to_vec())])).unwrap();
        assert!(t.entries.is_empty());
        assert_eq!(t.dropped_total(), 42);
        assert_eq!(t.dropped[0].lwp, Some(1));
    }

    #[test]
    fn rings_keep_clocks_of_their_own() {
        let a = ThreadId::new(1, 1);
        let run = |d| with_delta(words(encode(&Event::Run { ult: a, lwp: 0 }))[0], d);
        let mut b = header(1 << 20, 100, 8).to_vec();
        write_chunk(&mut b, 0, [&[run(10), a.as_u64().get()], &[]]).unwrap();
        write_chunk(&mut b, 1, [&[run(4), a.as_u64().get()], &[]]).unwrap();
        write_chunk(&mut b, 0, [&[run(1), a.as_u64().get()], &[]]).unwrap();
        let ns: Vec<u64> = parse(&b).unwrap().entries.iter().map(|e| e.ns).collect();
        assert_eq!(ns, [4, 10, 11]);
    }

    #[test]
    fn a_file_cut_short_keeps_its_whole_records() {
        let a = ThreadId::new(1, 1);
        let run = words(encode(&Event::Run { ult: a, lwp: 0 }));
        let mut b = file(&[(1, run.clone()), (1, run)]);
        b.truncate(b.len() - 3);
        assert_eq!(parse(&b).unwrap().entries.len(), 1);
    }

    #[test]
    fn a_file_of_another_version_is_refused_naming_both_versions() {
        let mut b = file(&[]);
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        let e = parse(&b).unwrap_err().to_string();
        assert!(
            e.contains("version 1") && e.contains("version 2 to version 3"),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_trace_is_refused() {
        let e =
            parse(b"hello world, this is not a trace file at all, not even close....").unwrap_err();
        assert!(e.to_string().contains("WEAVETRC"), "{e}");
    }
}

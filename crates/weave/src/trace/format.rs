//! The trace file format: what `record.rs` writes and [`read`] reads back.
//!
//! A file is a 64-byte header followed by chunks of 8-byte words,
//! little-endian:
//!
//! ```text
//! header  0: magic "WEAVETRC"        8: version (u32, 7) 12: word size (u32, 8)
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
//! A Block's kind byte is 0x80 and its reason (below 0x20); its aux, as a
//! Wake's, is the low byte of the wait's number (`Event::Block::wait`):
//! a Wake names the block it ends whatever its time says (version 4).
//! A Signal or SignalHandler record's aux is the signal's number.
//!
//! A ring is one thread's (each LWP has one); its chunks come in order, so
//! a reader keeps one clock per ring: it starts at the header's ticks and
//! each record adds its delta. A gap of 2^32 ticks or more (a second or
//! two) is written as a TIME record first (word 1: the absolute ticks).
//! A NAME record (lwp field: the name's length) is followed by the name's
//! bytes, in words. Most events take 16 bytes, half of version 1's 32:
//! the writer's copy, the file and the rings' cache footprint all halve.
//!
//! A BLOCK_RUN or EXIT_RUN record (kind | 0x40) is a Block or Exit and the
//! Run that completed the switch on the same LWP at the same time (the
//! Run shares the Block's clock read), in 3 words: word 2 is the ULT
//! that runs.
//!
//! A WAKE_RUN record is a wake made by the ULT the ring ran
//! last, recorded without a clock read: its waker is that ULT (the reader
//! keeps the ring's running ULT as the recorder does: a Run sets it;
//! a Block, Exit, TimerFired, IoReady, an LWP's own events and a DROPPED
//! mark clear it; see `sets_running`), and its time lies between the
//! ring's previous record and its next stamped one.
//!
//! A BLOCK_RUN or EXIT_RUN record with the WITH_WAKE bit (0x20; version
//! 5) carries the last wake its ULT made before it stopped, a WAKE_RUN
//! record, in words 2 and 3, and the Run in word 4: 5 words for a switch
//! and a wake, one push and one clock read for the three events (a
//! ping-pong's every switch). The wake came after the ring's previous
//! record and before this one's stamp. A Block's reason takes the low 5
//! bits of its kind.
//!
//! The reader puts every Wake between the Block it ends (named by `wait`)
//! and the woken ULT's next Run, whatever the clocks say (see
//! `put_in_order`): a clock-less wake's window, another CPU's clock, a
//! wake that came while its ULT was still switching out (before its
//! Block was recorded) and a Run that shares an older Block's stamp all
//! stay in that order.
//!
//! A switch record (BLOCK_RUN or EXIT_RUN, with or without a wake) whose
//! delta is UNSTAMPED (0xffff_ffff; version 6) was written without a clock
//! read: while switches come fast the recorder reads the clock for one
//! switch in 32 (`record.rs`, `unstamped_budget`). Such a record keeps the
//! ring's clock; the reader gives each run of them times spread evenly
//! between the ring's stamped records before and after the run (in the
//! order written), and a wake it carries the window up to that later
//! stamp. A gap of 0xffff_ffff ticks or more is a TIME record.
//!
//! A LEAN switch record (kinds 0x30 to 0x37; version 7) is a switch of
//! the ring's running ULT in 2 words, 16 bytes where BLOCK_RUN takes 24
//! and a BLOCK_RUN with a wake 40 (a ping-pong's every switch):
//!
//! ```text
//! word 0: kind (u8) | the Block's wait (u8) | the wake's wait (u8) |
//!         the Block's reason (u8) | ticks since the previous record (u32)
//! word 1: the ULT that runs next (0: none), which is also the one woken
//!         if the kind has LEAN_WOKE
//! kind:   0x30 | LEAN_EXIT (1: an Exit, not a Block)
//!              | LEAN_WOKE (2: the ULT woke word 1's ULT on this LWP
//!                just before it stopped, as a WAKE_RUN record would say)
//!              | LEAN_NORUN (4: with LEAN_WOKE, no Run followed: word 1
//!                is only the woken ULT)
//! ```
//!
//! The ULT that stops is the ring's running ULT and the LWP the ring's
//! (the LWP of the last Run the ring recorded): the recorder writes a
//! LEAN record only then, else the BLOCK_RUN or EXIT_RUN above. An
//! UNSTAMPED delta is read as for the other switch records.
//!
//! A SPAWN record may be UNSTAMPED too (version 7): spawns in a row
//! share the switches' budget of clock reads (`record.rs`), and the
//! reader spreads them as it spreads unstamped switches.
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
pub(crate) const VERSION: u32 = 7;
/// The oldest version [`read`] still reads (version 4 moved the Block's
/// reason into its kind, to name the wait in its aux; version 5 only adds
/// the records with a wake, whose bit no version 4 record has).
const OLDEST: u32 = 4;
pub(crate) const HEADER: usize = 64;
/// The delta of a record written without a clock read (version 6; a
/// switch record only): the ring's clock stays, and the reader spreads
/// the record between the ring's stamps around it (module doc). A gap of
/// this many ticks or more is written as a TIME record.
pub(crate) const UNSTAMPED: u32 = u32::MAX;
/// The first version with UNSTAMPED records (before it, that delta was a
/// delta).
const UNSTAMPED_SINCE: u32 = 6;
/// The first version with UNSTAMPED SPAWN records.
const UNSTAMPED_SPAWN_SINCE: u32 = 7;
/// The unit of rings and records: one 8-byte word.
pub(crate) const WORD: usize = 8;

/// The longest thread name a trace keeps (longer ones are cut).
pub const MAX_NAME: usize = 40;

const NO_LWP: u64 = 0xffff;

// Record kinds. Stable: they are the file format.
const SPAWN: u8 = 1;
const RUN: u8 = 2;
/// A Block: this bit, and the reason in the low 5 bits.
const BLOCK: u8 = 0x80;
const REASON: u8 = 0x1f;
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
/// A signal routed (aux: the signal; word 1: the thread it is directed
/// to, 0: the process).
const SIGNAL: u8 = 20;
/// A signal's handler run (aux: the signal; word 1: the ULT).
const SIGNAL_HANDLER: u8 = 21;
/// Added to BLOCK or EXIT: the record is that event and the Run that
/// completes its switch, at the same time on the same LWP (3 words; word
/// 2: the ULT that runs).
const SWITCHED: u8 = 0x40;
const EXIT_RUN: u8 = EXIT | SWITCHED;
/// Added to a BLOCK_RUN or EXIT_RUN: the record carries, before the Run's
/// word, a WAKE_RUN record made by the stopping ULT just before its Block
/// or Exit (5 words: the Block or Exit, the wake's two, the Run).
const WITH_WAKE: u8 = 0x20;
const EXIT_WAKE_RUN: u8 = EXIT_RUN | WITH_WAKE;
/// A LEAN switch record (module doc): the running ULT's Block, with
/// these bits added.
const LEAN: u8 = 0x30;
/// A LEAN record of an Exit.
const LEAN_EXIT: u8 = 1;
/// A LEAN record whose ULT woke word 1's just before it stopped.
pub(crate) const LEAN_WOKE: u8 = 2;
/// A LEAN_WOKE record with no Run after it.
pub(crate) const LEAN_NORUN: u8 = 4;

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

// Inlined: a call per record (the Spawn's, a stamped wake's) showed in
// `spawn_join`'s profile.
#[inline(always)]
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
        Event::Block {
            ult,
            lwp,
            reason,
            wait,
        } => two(
            word0(BLOCK | (reason as u8 & REASON), wait, Some(lwp)),
            Some(ult),
        ),
        Event::Wake {
            ult,
            lwp,
            waker: None,
            wait,
        } => two(word0(WAKE, wait, lwp), Some(ult)),
        Event::Wake {
            ult,
            lwp,
            waker: Some(w),
            wait,
        } => Rec::Three([word0(WAKE_BY, wait, lwp), id(Some(ult)), id(Some(w))]),
        Event::Steal { ult, from, to } => {
            Rec::Three([word0(STEAL, 0, Some(to)), id(Some(ult)), from as u64])
        }
        Event::Preempt { lwp } => two(word0(PREEMPT, 0, Some(lwp)), None),
        Event::Exit { ult, lwp } => two(word0(EXIT, 0, Some(lwp)), Some(ult)),
        Event::LwpStart { lwp, bound } => two(word0(LWP_START, bound as u8, Some(lwp)), None),
        Event::LwpExit { lwp } => two(word0(LWP_EXIT, 0, Some(lwp)), None),
        Event::LwpIdle { lwp } => two(word0(LWP_IDLE, 0, Some(lwp)), None),
        Event::LwpBusy { lwp } => two(word0(LWP_BUSY, 0, Some(lwp)), None),
        Event::KernelBlocked { lwp, ult, fault } => {
            two(word0(KERNEL_BLOCKED, fault as u8, Some(lwp)), ult)
        }
        Event::IoReady { ult, lwp } => two(word0(IO_READY, 0, lwp), Some(ult)),
        Event::TimerFired { ult, lwp } => two(word0(TIMER_FIRED, 0, Some(lwp)), Some(ult)),
        Event::Signal { sig, to, lwp } => two(word0(SIGNAL, sig, lwp), to),
        Event::SignalHandler { sig, ult, lwp } => two(word0(SIGNAL_HANDLER, sig, lwp), Some(ult)),
    }
}

/// Word 0 of a BLOCK_RUN or EXIT_RUN record, from that of the Block or
/// Exit (word 1: the same; word 2: the ULT of the Run, 0 if none came).
#[inline(always)]
pub(crate) fn switch_of(w0: u64) -> u64 {
    w0 | u64::from(SWITCHED)
}

/// Word 0 of a BLOCK_RUN or EXIT_RUN record that carries a wake, from that
/// of the Block or Exit (words 2 and 3: the WAKE_RUN record; word 4: the
/// ULT of the Run, 0 if none came).
#[inline(always)]
pub(crate) fn with_wake(w0: u64) -> u64 {
    w0 | u64::from(SWITCHED | WITH_WAKE)
}

/// Word 0 of a LEAN record of a Block, delta 0 (word 1: the ULT that
/// runs next, 0 if none came).
#[inline(always)]
pub(crate) fn lean_block(reason: BlockReason, wait: u8) -> u64 {
    u64::from(LEAN) | lean_block_bits(reason, wait)
}

/// [`lean_block`] without the kind: the reason and the wait, which a
/// direct switch ORs into [`LEAN_UNSTAMPED`].
#[inline(always)]
pub(crate) fn lean_block_bits(reason: BlockReason, wait: u8) -> u64 {
    u64::from(wait) << 8 | u64::from(reason as u8 & REASON) << 24
}

/// Word 0 of a LEAN record of an Exit, delta 0.
pub(crate) const LEAN_EXIT_WORD: u64 = (LEAN | LEAN_EXIT) as u64;

/// The bits every UNSTAMPED LEAN record's word 0 has (the kind and the
/// delta): [`lean_block`]'s word and a held wake's bits ORed into it make
/// the whole word.
pub(crate) const LEAN_UNSTAMPED: u64 = LEAN as u64 | (UNSTAMPED as u64) << 32;

/// Word 0 of a LEAN record, from that of a Block or Exit.
#[cfg(test)]
fn lean_of(w0: u64) -> u64 {
    let k = w0 as u8;
    if k == EXIT {
        LEAN_EXIT_WORD | (w0 & 0xff00)
    } else {
        u64::from(LEAN) | (w0 & 0xff00) | u64::from(k & REASON) << 24
    }
}

/// The record of a wake of `ult` made by the ULT the ring ran last, with
/// no clock read of its own (module doc), delta 0. (The recorder builds
/// it from the wake it held, [`wake_run_of_held`].)
#[cfg(test)]
fn encode_wake_by_running(ult: ThreadId, lwp: Option<usize>, wait: u8) -> [u64; 2] {
    [word0(WAKE_RUN, wait, lwp), id(Some(ult))]
}

/// Word 0 of a LEAN_WOKE record: the LEAN word `lean` and the wake whose
/// WAKE_RUN word 0 is `wake`. (The recorder ORs in a held wake's low half,
/// [`held_wake`].)
#[cfg(test)]
fn lean_woke(lean: u64, wake: u64) -> u64 {
    lean | u64::from(LEAN_WOKE) | (wake & 0xff00) << 8
}

/// Word 0 of the Block or Exit on LWP `lwp` whose LEAN word 0 is `lean`
/// (for the BLOCK_RUN or EXIT_RUN record written instead).
pub(crate) fn full_of_lean(lean: u64, lwp: usize) -> u64 {
    let k = lean as u8;
    let aux = (lean >> 8) as u8;
    if k & LEAN_EXIT != 0 {
        word0(EXIT, aux, Some(lwp))
    } else {
        word0(BLOCK | ((lean >> 24) as u8 & REASON), aux, Some(lwp))
    }
}

/// A wake made by the ring's running ULT as the recorder holds it until
/// that ULT's Block or Exit (`record.rs`, `Fast::wake`): the bits it adds
/// to the LEAN word 0 of that switch (LEAN_WOKE, the wake's wait). The
/// recorder keeps the wake's LWP beside it and compares it with the
/// switch's before it writes a LEAN_WOKE record (which implies the LWP
/// of the ring's last Run); one OR where building the LEAN_WOKE bits
/// from a WAKE_RUN word took four instructions.
#[inline(always)]
pub(crate) fn held_wake(wait: u8) -> u64 {
    u64::from(LEAN_WOKE) | u64::from(wait) << 16
}

/// The wait of a wake held as `held` ([`held_wake`]).
#[inline(always)]
pub(crate) fn wait_of_held(held: u64) -> u8 {
    (held >> 16) as u8
}

/// The LWP field of a word 0 (0xffff: none), as the recorder keeps its
/// thread's LWP, a held wake's.
#[inline(always)]
pub(crate) fn lwp_field(lwp: Option<usize>) -> u32 {
    lwp.map_or(NO_LWP, |l| l as u64 & NO_LWP) as u32
}

/// [`lwp_field`] of no LWP.
pub(crate) const NO_LWP_FIELD: u32 = NO_LWP as u32;

/// The LWP whose field ([`lwp_field`]) is `f`.
pub(crate) fn lwp_of_field(f: u32) -> Option<usize> {
    (u64::from(f) != NO_LWP).then_some(f as usize)
}

/// The WAKE_RUN word 0 (delta 0) of a wake held as `held` ([`held_wake`])
/// that was made on the LWP whose field is `lwp` ([`lwp_field`]), for the
/// records that carry it whole: a WAKE_RUN record of its own, or words 2
/// and 3 of a BLOCK_RUN or EXIT_RUN record with WITH_WAKE.
#[inline]
pub(crate) fn wake_run_of_held(held: u64, lwp: u32) -> u64 {
    u64::from(WAKE_RUN) | (held >> 8 & 0xff00) | u64::from(lwp) << 16
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
        | Event::KernelBlocked { .. }
        | Event::Signal { .. }
        | Event::SignalHandler { .. } => None,
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
/// little-endian machine the words' memory is the file's bytes, handed to
/// `out` as it is, in one vectored write (one `writev` on a file, usually:
/// the recorder writes to the file unbuffered, so a ring's words are
/// copied once, by the kernel).
pub(crate) fn write_chunk(
    out: &mut impl std::io::Write,
    ring: u32,
    runs: [&[u64]; 2],
) -> std::io::Result<()> {
    let n = runs[0].len() + runs[1].len();
    let head = (u64::from(ring) | (n as u64) << 32).to_le_bytes();
    if cfg!(target_endian = "little") {
        // SAFETY: a slice of `u64` is `size_of_val` initialised bytes;
        // `u8` has alignment 1 and no invalid values.
        let bytes = |run: &[u64]| unsafe {
            std::slice::from_raw_parts(run.as_ptr().cast::<u8>(), std::mem::size_of_val(run))
        };
        write_parts(out, [&head, bytes(runs[0]), bytes(runs[1])])
    } else {
        out.write_all(&head)?;
        for w in runs.iter().flat_map(|r| r.iter()) {
            out.write_all(&w.to_le_bytes())?;
        }
        Ok(())
    }
}

/// Writes `parts` whole, in order: one vectored write, then what it left
/// (a short write, an interruption) part by part.
fn write_parts(out: &mut impl std::io::Write, parts: [&[u8]; 3]) -> std::io::Result<()> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut done = match out.write_vectored(&parts.map(std::io::IoSlice::new)) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
        Err(e) => return Err(e),
    };
    if done == total {
        return Ok(());
    }
    for p in parts {
        if done >= p.len() {
            done -= p.len();
            continue;
        }
        out.write_all(&p[done..])?;
        done = 0;
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
        let reads = if OLDEST == VERSION {
            format!("version {VERSION}")
        } else {
            format!("version {OLDEST} to version {VERSION}")
        };
        return Err(FormatError(format!(
            "it is a trace of format version {version}, and this weave reads format \
             {reads} only: read it with the weave that recorded it, or record it again"
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
            unstamped: Vec::new(),
            lwp: None,
        });
        let mut j = i + 1;
        while j < end {
            let w0 = word(j);
            let kind = w0 as u8;
            let aux = (w0 >> 8) as u8;
            let lwp_raw = (w0 >> 16) & 0xffff;
            let len = match kind {
                k if is_switch(k) && k & WITH_WAKE != 0 => 5,
                k if is_switch(k) => 3,
                k if is_lean(k) => 2,
                WAKE_BY | STEAL | DROPPED => 3,
                NAME => 2 + (lwp_raw as usize).min(MAX_NAME).div_ceil(WORD),
                _ => 2,
            };
            if j + len > end {
                break; // cut short
            }
            let before = st.clock;
            let unstamped = (w0 >> 32) as u32 == UNSTAMPED
                && ((version >= UNSTAMPED_SINCE && (is_switch(kind) || is_lean(kind)))
                    || (version >= UNSTAMPED_SPAWN_SINCE && kind == SPAWN));
            if !unstamped {
                st.clock += w0 >> 32;
                if kind != WAKE_RUN {
                    // A stamp: the unstamped run before it lies between
                    // the ring's previous stamp and this one.
                    spread(
                        &mut t.entries,
                        &mut st.waiting,
                        &mut st.unstamped,
                        ns(before),
                        ns(st.clock),
                    );
                }
            }
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
            let reason = || BlockReason::from_u8(kind & REASON).unwrap_or(BlockReason::Sync);
            let event = match kind {
                SPAWN => Event::Spawn {
                    ult: need_ult()?,
                    lwp,
                },
                RUN => Event::Run {
                    ult: need_ult()?,
                    lwp: need_lwp()?,
                },
                k if k & BLOCK != 0 && !is_switch(k) => Event::Block {
                    ult: need_ult()?,
                    lwp: need_lwp()?,
                    reason: reason(),
                    wait: aux,
                },
                WAKE | WAKE_BY => Event::Wake {
                    ult: need_ult()?,
                    lwp,
                    waker: ThreadId::from_u64(arg),
                    wait: aux,
                },
                k if is_switch(k) || is_lean(k) => {
                    let lean = is_lean(k);
                    let (stopped, lwp) = if lean {
                        // The ring's running ULT, on the ring's LWP.
                        (
                            ThreadId::from_u64(st.running)
                                .ok_or_else(|| bad("a lean switch with no running ULT"))?,
                            st.lwp
                                .ok_or_else(|| bad("a lean switch on a ring with no LWP"))?,
                        )
                    } else {
                        (need_ult()?, need_lwp()?)
                    };
                    if lean && k & LEAN_WOKE != 0 {
                        let woken = ult.ok_or_else(|| bad("a wake without its thread"))?;
                        let event = Event::Wake {
                            ult: woken,
                            lwp: Some(lwp),
                            waker: Some(stopped),
                            wait: (w0 >> 16) as u8,
                        };
                        st.waiting.push((t.entries.len(), ns(before)));
                        t.entries.push(Entry {
                            ns: ns(before),
                            event,
                        });
                    } else if !lean && k & WITH_WAKE != 0 {
                        // The stopping ULT's last wake, a WAKE_RUN record
                        // in words 2 and 3, made since the ring's previous
                        // record: its window ends at this record's stamp.
                        let ww0 = word(at + 2);
                        let woken = ThreadId::from_u64(word(at + 3))
                            .ok_or_else(|| bad("a wake without its thread"))?;
                        let event = Event::Wake {
                            ult: woken,
                            lwp: record_lwp(ww0),
                            waker: ThreadId::from_u64(st.running),
                            wait: (ww0 >> 8) as u8,
                        };
                        st.waiting.push((t.entries.len(), ns(before)));
                        t.entries.push(Entry {
                            ns: ns(before),
                            event,
                        });
                    }
                    let arg = word(at + len - 1);
                    let first = if lean && k & LEAN_EXIT == 0 {
                        Event::Block {
                            ult: stopped,
                            lwp,
                            reason: BlockReason::from_u8((w0 >> 24) as u8)
                                .unwrap_or(BlockReason::Sync),
                            wait: aux,
                        }
                    } else if !lean && k & BLOCK != 0 {
                        Event::Block {
                            ult: stopped,
                            lwp,
                            reason: reason(),
                            wait: aux,
                        }
                    } else {
                        Event::Exit { ult: stopped, lwp }
                    };
                    // The last word is 0 when the switch ended without a
                    // Run (or LEAN_NORUN says so).
                    let run = ThreadId::from_u64(arg)
                        .filter(|_| !lean || k & LEAN_NORUN == 0)
                        .map(|ult| Event::Run { ult, lwp });
                    let woke = if lean {
                        k & LEAN_WOKE != 0
                    } else {
                        k & WITH_WAKE != 0
                    };
                    if unstamped {
                        // Its entries, from the wake's if it carries one.
                        let from = t.entries.len() - usize::from(woke);
                        st.unstamped.push(from);
                    }
                    if run.is_some() {
                        st.lwp = Some(lwp);
                    }
                    for event in std::iter::once(first).chain(run) {
                        if !unstamped {
                            for (k, lo) in st.waiting.drain(..) {
                                windows.push((k, lo, ns(ts)));
                            }
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
                        wait: aux,
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
                    fault: aux != 0,
                },
                IO_READY => Event::IoReady {
                    ult: need_ult()?,
                    lwp,
                },
                TIMER_FIRED => Event::TimerFired {
                    ult: need_ult()?,
                    lwp: need_lwp()?,
                },
                SIGNAL => Event::Signal {
                    sig: aux,
                    to: ult,
                    lwp,
                },
                SIGNAL_HANDLER => Event::SignalHandler {
                    sig: aux,
                    ult: need_ult()?,
                    lwp,
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
            if unstamped {
                // A spawn without a clock read: spread as the switches are.
                st.unstamped.push(t.entries.len());
            } else {
                for (k, lo) in st.waiting.drain(..) {
                    windows.push((k, lo, ns(ts)));
                }
            }
            if let Event::Run { lwp, .. } = event {
                st.lwp = Some(lwp);
            }
            if let Some(r) = sets_running(&event) {
                st.running = r;
            }
            t.entries.push(Entry { ns: ns(ts), event });
        }
        i += 1 + n;
    }
    // Wakes the ring's last stamp came before: their window ends there,
    // and an unstamped run after it is put at it.
    for st in rings.values_mut() {
        let end = ns(st.clock);
        spread(&mut t.entries, &mut st.waiting, &mut st.unstamped, end, end);
        windows.extend(st.waiting.drain(..).map(|(k, lo)| (k, lo, end)));
    }
    put_in_order(&mut t.entries, &windows);
    t.dropped.sort_by_key(|d| d.ns);
    Ok(t)
}

/// Whether a record of kind `k` is a BLOCK_RUN or EXIT_RUN (with or
/// without a wake): a Block or Exit and the Run of its switch.
fn is_switch(k: u8) -> bool {
    k == EXIT_RUN || k == EXIT_WAKE_RUN || (k & BLOCK != 0 && k & SWITCHED != 0)
}

/// Whether a record of kind `k` is a LEAN switch record (version 7).
fn is_lean(k: u8) -> bool {
    k & !(LEAN_EXIT | LEAN_WOKE | LEAN_NORUN) == LEAN
}

/// Gives the unstamped switch records of a ring (`run`: the index of each
/// one's first entry; a record's entries run to the next one's, the last
/// one's to the end of `entries`) times spread evenly between `lo` and
/// `hi`, the ns of the ring's stamps before and after them, in order; and
/// empties `run`.
/// A wake those records carry (in `waiting`, not yet given its window)
/// is known to come after the record before its own: its window starts
/// there.
fn spread(
    entries: &mut [Entry],
    waiting: &mut [(usize, u64)],
    run: &mut Vec<usize>,
    lo: u64,
    hi: u64,
) {
    let m = run.len() as u64;
    let mut before = lo;
    for (k, &from) in run.iter().enumerate() {
        let to = run.get(k + 1).copied().unwrap_or(entries.len());
        let at =
            lo + ((u128::from(hi.saturating_sub(lo)) * (k as u128 + 1)) / u128::from(m + 1)) as u64;
        for e in &mut entries[from..to] {
            e.ns = at;
        }
        for w in waiting.iter_mut().filter(|w| (from..to).contains(&w.0)) {
            w.1 = before;
        }
        before = at;
    }
    run.clear();
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
    /// The UNSTAMPED switch records since the ring's last stamp: the index
    /// of each one's first entry (see [`spread`]).
    unstamped: Vec<usize>,
    /// The LWP of the ring's last Run: a LEAN record's.
    lwp: Option<usize>,
}

/// Puts `entries` in time order (stably), each Wake between the Block it
/// ends and the woken ULT's next Run. `windows` gives each WAKE_RUN entry
/// (no clock read of its own) its index and the earliest and latest ns it
/// may have happened at; a stamped Wake's window is its stamp.
///
/// Which block a Wake ends is not read from the clocks: both name the
/// wait (`wait`, the low byte of the wait's number, which only grows), so
/// a Wake ends the Block of its ULT with the same `wait`; among several
/// (256 waits apart) the one whose time from the Block to the ULT's next
/// Run is nearest the Wake's window. The Wake is then given the earliest
/// time in its window that is not before that Block; if that is after
/// the ULT's next Run, the Run moves to the Wake (a Run shares the stamp
/// of an older Block of its LWP, `record.rs`), unless that would carry it
/// past the ULT's next event, and then the Wake goes just before the Run
/// instead (two CPUs' clocks that disagree by more than a whole run).
/// Ties in time keep Block, Wake, Run in that order. A Wake that ends no
/// recorded Block (it came before the recording, its Block was dropped, or
/// its ULT found it need not block after all) keeps its time.
fn put_in_order(entries: &mut Vec<Entry>, windows: &[(usize, u64, u64)]) {
    let n = entries.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| entries[i].ns);
    let mut pos = vec![0usize; n];
    for (p, &i) in order.iter().enumerate() {
        pos[i] = p;
    }
    let window: HashMap<usize, (u64, u64)> =
        windows.iter().map(|&(k, lo, hi)| (k, (lo, hi))).collect();
    // Each ULT's Blocks by wait, in time order: the Block's entry and the
    // ULT's next Run's (if any), and the event of the ULT after that Run.
    #[derive(Clone, Copy)]
    struct Span {
        /// The ULT's event before the Block (its Run, mostly).
        before: Option<usize>,
        block: usize,
        run: Option<usize>,
        after_run: Option<usize>,
    }
    let mut spans: HashMap<(ThreadId, u8), Vec<Span>> = HashMap::new();
    // Per ULT: the span waiting for its Run (its wait and index), and the
    // one whose Run waits for the ULT's next event.
    let mut open: HashMap<ThreadId, (u8, usize)> = HashMap::new();
    let mut last_run: HashMap<ThreadId, (u8, usize)> = HashMap::new();
    let mut last: HashMap<ThreadId, usize> = HashMap::new();
    for &i in &order {
        let (ult, block) = match entries[i].event {
            Event::Block { ult, wait, .. } => (ult, Some(wait)),
            Event::Run { ult, .. } | Event::Exit { ult, .. } => (ult, None),
            _ => continue,
        };
        // The event after a Run closes the span that Run ended.
        if let Some((wait, k)) = last_run.remove(&ult) {
            if let Some(s) = spans.get_mut(&(ult, wait)).and_then(|v| v.get_mut(k)) {
                s.after_run = Some(i);
            }
        }
        let before = last.insert(ult, i);
        match (entries[i].event, block) {
            (Event::Block { .. }, Some(wait)) => {
                let v = spans.entry((ult, wait)).or_default();
                v.push(Span {
                    before,
                    block: i,
                    run: None,
                    after_run: None,
                });
                open.insert(ult, (wait, v.len() - 1));
            }
            (Event::Run { .. }, _) => {
                if let Some((wait, k)) = open.remove(&ult) {
                    spans.get_mut(&(ult, wait)).unwrap()[k].run = Some(i);
                    last_run.insert(ult, (wait, k));
                }
            }
            _ => {
                open.remove(&ult);
            }
        }
    }
    // The sort key of each entry: its time, then the position of the
    // entry it is placed after (its own, if none) and how far after.
    let mut key: Vec<(u64, usize, u32)> = (0..n).map(|i| (entries[i].ns, pos[i], 1)).collect();
    let mut moved = false;
    for k in 0..n {
        let Event::Wake { ult, wait, .. } = entries[k].event else {
            continue;
        };
        let (lo, hi) = window
            .get(&k)
            .copied()
            .unwrap_or((entries[k].ns, entries[k].ns));
        let Some(cands) = spans.get(&(ult, wait)) else {
            continue;
        };
        let run_ns = |s: &Span| s.run.map_or(u64::MAX, |r| entries[r].ns);
        let distance = |s: &Span| {
            let b = entries[s.block].ns;
            b.saturating_sub(hi).max(lo.saturating_sub(run_ns(s)))
        };
        // Spans are disjoint and in time order: the nearest is the first
        // whose Run is not before `lo`, or the one before it.
        let q = cands.partition_point(|s| run_ns(s) < lo);
        let best = [q.checked_sub(1), Some(q)]
            .into_iter()
            .flatten()
            .filter_map(|j| cands.get(j))
            .min_by_key(|s| (distance(s), std::cmp::Reverse(s.block)));
        let Some(span) = best.copied() else { continue };
        // A wake of a wait that never blocked (the ULT saw its condition
        // before it switched out) has no Block: a Block of the same `wait`
        // byte 256 waits away is not its, and lies outside the ULT's
        // events around it.
        let from = span.before.map_or(0, |x| entries[x].ns);
        let to = span.after_run.map_or(u64::MAX, |x| entries[x].ns);
        if hi < from || lo > to {
            continue;
        }
        let b = entries[span.block].ns;
        let mut at = lo.max(b);
        let mut wkey = if at == b && b >= lo {
            (b, pos[span.block], 2)
        } else {
            (at, pos[k], 1)
        };
        if let Some(r) = span.run {
            let r_ns = entries[r].ns;
            if at > r_ns || (at == r_ns && wkey > key[r]) {
                let limit = span.after_run.map_or(u64::MAX, |x| entries[x].ns);
                if at < limit {
                    entries[r].ns = at;
                    key[r] = (wkey.0, wkey.1, wkey.2 + 1);
                } else {
                    at = r_ns;
                    wkey = (key[r].0, key[r].1, key[r].2 - 1);
                }
            }
        }
        entries[k].ns = at;
        key[k] = wkey;
        moved = true;
    }
    if moved {
        order.sort_by_key(|&i| key[i]);
    }
    let old = std::mem::take(entries);
    *entries = order.into_iter().map(|i| old[i]).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ns: u64, event: Event) -> Entry {
        Entry { ns, event }
    }

    fn block(ult: ThreadId, lwp: usize, wait: u8) -> Event {
        Event::Block {
            ult,
            lwp,
            reason: BlockReason::Park,
            wait,
        }
    }

    fn wake(ult: ThreadId, lwp: usize, waker: Option<ThreadId>, wait: u8) -> Event {
        Event::Wake {
            ult,
            lwp: Some(lwp),
            waker,
            wait,
        }
    }

    /// The ns and event of each entry, in order.
    fn timeline(es: &[Entry]) -> Vec<(u64, Event)> {
        es.iter().map(|e| (e.ns, e.event)).collect()
    }

    #[test]
    fn a_run_stamped_before_its_wake_moves_just_after_the_wake() {
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        // LWP 0: `a` blocks at 10 and `b` runs with the same stamp; LWP 1
        // woke `b` at 12, after the stamp and before the pick.
        let mut es = vec![
            at(5, block(b, 0, 1)),
            at(10, block(a, 0, 1)),
            at(10, Event::Run { ult: b, lwp: 0 }),
            at(12, wake(b, 1, None, 1)),
            at(20, block(b, 0, 2)),
        ];
        put_in_order(&mut es, &[]);
        assert!(matches!(es[2].event, Event::Wake { ult, .. } if ult == b));
        assert_eq!((es[3].ns, es[3].event), (12, Event::Run { ult: b, lwp: 0 }));
        assert!(matches!(es[4].event, Event::Block { ult, .. } if ult == b));
    }

    #[test]
    fn a_run_after_a_block_with_no_wake_recorded_keeps_its_stamp() {
        let a = ThreadId::new(1, 1);
        let mut es = vec![
            at(5, block(a, 0, 3)),
            at(9, Event::Run { ult: a, lwp: 0 }),
            at(30, wake(ThreadId::new(2, 1), 1, None, 3)),
        ];
        let before = es.clone();
        put_in_order(&mut es, &[]);
        assert_eq!(es, before);
    }

    /// The order seen under load (`trace_record`'s ping-pong): `b` decided
    /// to block, `a` woke it before `b`'s LWP recorded the Block (so the
    /// LWP requeued `b` and ran it at once, in one record with the
    /// Block's stamp), and `a`'s wake took no clock read: its window
    /// (from `a`'s Run at 40 to its Block at 60) ends before the Block's
    /// stamp at 90. By the clocks, the Wake comes first; by the wait it
    /// names, it ends the Block at 90, and goes between it and the Run.
    #[test]
    fn a_wake_before_the_block_it_ends_is_put_after_it_and_before_the_run() {
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let mut es = vec![
            at(10, Event::Run { ult: b, lwp: 1 }),
            at(40, Event::Run { ult: a, lwp: 0 }),
            at(40, wake(b, 0, Some(a), 9)),
            at(60, block(a, 0, 4)),
            at(90, block(b, 1, 9)),
            at(90, Event::Run { ult: b, lwp: 1 }),
            at(95, wake(a, 1, Some(b), 4)),
            at(120, Event::Run { ult: a, lwp: 0 }),
        ];
        put_in_order(&mut es, &[(2, 40, 60)]);
        let got = timeline(&es);
        assert_eq!(
            got[3..6],
            [
                (90, block(b, 1, 9)),
                (90, wake(b, 0, Some(a), 9)),
                (90, Event::Run { ult: b, lwp: 1 })
            ]
        );
        assert_eq!(got[6], (95, wake(a, 1, Some(b), 4)));
    }

    #[test]
    fn a_stamped_wake_behind_its_blocks_clock_goes_between_block_and_run() {
        // LWP 1's clock runs 30 ns behind LWP 0's: its stamped wake of `b`
        // reads 70, before the Block (LWP 0) it ends at 80.
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let mut es = vec![
            at(70, wake(b, 1, Some(a), 200)),
            at(80, block(b, 0, 200)),
            at(85, Event::Run { ult: b, lwp: 0 }),
        ];
        put_in_order(&mut es, &[]);
        let kinds: Vec<&str> = es
            .iter()
            .map(|e| match e.event {
                Event::Block { .. } => "block",
                Event::Wake { .. } => "wake",
                _ => "run",
            })
            .collect();
        assert_eq!(kinds, ["block", "wake", "run"]);
        assert_eq!(es[1].ns, 80);
    }

    #[test]
    fn a_wake_late_by_a_whole_run_goes_before_the_run_not_past_the_next_block() {
        // The Wake's window starts at 40, when `b`, which ran at 20,
        // blocked again: moving the Run to 40 would put it at (or past)
        // the next Block; the Wake goes just before the Run instead.
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let mut es = vec![
            at(10, block(b, 0, 5)),
            at(20, Event::Run { ult: b, lwp: 0 }),
            at(40, block(b, 0, 6)),
            at(40, wake(b, 1, Some(a), 5)),
        ];
        put_in_order(&mut es, &[(3, 40, 60)]);
        assert_eq!(
            timeline(&es),
            [
                (10, block(b, 0, 5)),
                (20, wake(b, 1, Some(a), 5)),
                (20, Event::Run { ult: b, lwp: 0 }),
                (40, block(b, 0, 6)),
            ]
        );
    }

    #[test]
    fn a_wake_of_a_wait_that_never_blocked_is_not_taken_for_an_older_block() {
        // `b`'s wait 7 blocked at 10; 256 waits later, wait 7 (again the
        // same byte) ended before it blocked: its wake at 5,000 ends no
        // recorded Block, and stays where it is.
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let mut es = vec![
            at(10, block(b, 0, 7)),
            at(12, wake(b, 1, Some(a), 7)),
            at(20, Event::Run { ult: b, lwp: 0 }),
            at(4_000, block(b, 0, 6)),
            at(4_100, Event::Run { ult: b, lwp: 0 }),
            at(5_000, wake(b, 1, Some(a), 7)),
        ];
        let before = es.clone();
        put_in_order(&mut es, &[]);
        assert_eq!(es, before);
    }

    #[test]
    fn every_block_reason_fits_the_five_bits_of_its_kind() {
        for v in 0..=u8::MAX {
            if BlockReason::from_u8(v).is_some() {
                assert!(v & !REASON == 0, "reason {v} does not fit a Block's kind");
            }
        }
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

    /// A writer that takes at most `max` bytes a call, and fails the
    /// first call with `Interrupted`.
    struct Short {
        out: Vec<u8>,
        max: usize,
        interrupted: bool,
    }

    impl std::io::Write for Short {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = b.len().min(self.max);
            self.out.extend_from_slice(&b[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_chunk_written_through_short_writes_arrives_whole() {
        let (a, b) = ([1u64, 2, 3], [4u64, 5]);
        let mut whole = Vec::new();
        write_chunk(&mut whole, 7, [&a, &b]).unwrap();
        for max in [1, 5, 8, 13, 64] {
            let mut short = Short {
                out: Vec::new(),
                max,
                interrupted: false,
            };
            write_chunk(&mut short, 7, [&a, &b]).unwrap();
            assert_eq!(short.out, whole, "{max} bytes a write");
        }
        assert_eq!(whole.len(), 8 * 6);
        assert_eq!(whole[..8], (7u64 | 5 << 32).to_le_bytes());
        assert_eq!(whole[40..], 5u64.to_le_bytes());
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
                wait: 200,
            },
            Event::Wake {
                ult: a,
                lwp: Some(0),
                waker: Some(b),
                wait: 200,
            },
            Event::Wake {
                ult: b,
                lwp: None,
                waker: None,
                wait: 9,
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
                fault: false,
            },
            Event::KernelBlocked {
                lwp: 1,
                ult: Some(b),
                fault: true,
            },
            Event::IoReady { ult: b, lwp: None },
            Event::TimerFired { ult: b, lwp: 0 },
            Event::Signal {
                sig: 10,
                to: None,
                lwp: None,
            },
            Event::Signal {
                sig: 34,
                to: Some(a),
                lwp: Some(1),
            },
            Event::SignalHandler {
                sig: 10,
                ult: b,
                lwp: Some(0),
            },
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
            wait: 1,
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

    fn two_words(r: Rec) -> [u64; 2] {
        match r {
            Rec::Two(w) => w,
            Rec::Three(w) => panic!("a record of three words: {w:?}"),
        }
    }

    #[test]
    fn unstamped_switches_are_spread_evenly_between_the_stamps_around_them() {
        let ids: Vec<ThreadId> = (1..=4).map(|i| ThreadId::new(i, 1)).collect();
        let run = |u: ThreadId| words(encode(&Event::Run { ult: u, lwp: 0 }));
        let switch = |from: ThreadId, to: ThreadId| {
            let [w0, w1] = two_words(encode(&block(from, 0, 1)));
            vec![switch_of(w0), w1, id(Some(to))]
        };
        // Stamped Run at 10; three unstamped switches; a stamped switch
        // 40 ticks later: the three go at 20, 30 and 40, in their order.
        let t = parse(&file(&[
            (10, run(ids[0])),
            (UNSTAMPED, switch(ids[0], ids[1])),
            (UNSTAMPED, switch(ids[1], ids[2])),
            (UNSTAMPED, switch(ids[2], ids[3])),
            (40, switch(ids[3], ids[0])),
        ]))
        .unwrap();
        let at: Vec<(u64, ThreadId)> = t
            .entries
            .iter()
            .filter_map(|e| match e.event {
                Event::Run { ult, .. } => Some((e.ns, ult)),
                _ => None,
            })
            .collect();
        assert_eq!(
            at,
            [
                (10, ids[0]),
                (20, ids[1]),
                (30, ids[2]),
                (40, ids[3]),
                (50, ids[0])
            ]
        );
    }

    #[test]
    fn a_held_wake_gives_its_lean_bits_and_its_wake_run_word() {
        let b = ThreadId::new(2, 1);
        for (lwp, wait) in [(Some(5), 4), (Some(0), 255), (None, 0), (Some(16_383), 7)] {
            let held = held_wake(wait);
            assert_eq!(
                [wake_run_of_held(held, lwp_field(lwp)), id(Some(b))],
                encode_wake_by_running(b, lwp, wait),
                "{lwp:?} {wait}"
            );
            let lean = lean_of(two_words(encode(&Event::Exit { ult: b, lwp: 3 }))[0]);
            assert_eq!(
                lean | held,
                lean_woke(lean, encode_wake_by_running(b, lwp, wait)[0])
            );
        }
    }

    #[test]
    fn lean_switch_records_name_the_rings_running_ult_and_lwp() {
        let (a, b, c) = (
            ThreadId::new(1, 1),
            ThreadId::new(2, 1),
            ThreadId::new(3, 1),
        );
        let [blk, _] = two_words(encode(&Event::Block {
            ult: a,
            lwp: 5,
            reason: BlockReason::Channel,
            wait: 9,
        }));
        let [wake_b, _] = encode_wake_by_running(b, Some(5), 4);
        let [exit, _] = two_words(encode(&Event::Exit { ult: b, lwp: 5 }));
        let lean = lean_of(blk);
        // `a` runs on LWP 5; wakes `b` (wait 4), blocks (wait 9) and `b`
        // runs; `b` exits and `a` runs; `a` wakes `c` and blocks, with no
        // Run after; then `a` blocks again (after a Run of `a` stamped
        // apart, with nothing woken) and `c` runs.
        let t = parse(&file(&[
            (10, words(encode(&Event::Run { ult: a, lwp: 5 }))),
            (5, vec![lean_woke(lean, wake_b), id(Some(b))]),
            (5, vec![lean_of(exit), id(Some(a))]),
            (
                5,
                vec![
                    lean_woke(lean, encode_wake_by_running(c, Some(5), 1)[0])
                        | u64::from(LEAN_NORUN),
                    id(Some(c)),
                ],
            ),
            (5, words(encode(&Event::Run { ult: a, lwp: 5 }))),
            (5, vec![lean, id(Some(c))]),
        ]))
        .unwrap();
        let block_a = Event::Block {
            ult: a,
            lwp: 5,
            reason: BlockReason::Channel,
            wait: 9,
        };
        assert_eq!(
            timeline(&t.entries),
            [
                (10, Event::Run { ult: a, lwp: 5 }),
                (10, wake(b, 5, Some(a), 4)),
                (15, block_a),
                (15, Event::Run { ult: b, lwp: 5 }),
                (20, Event::Exit { ult: b, lwp: 5 }),
                (20, Event::Run { ult: a, lwp: 5 }),
                (20, wake(c, 5, Some(a), 1)),
                (25, block_a),
                (30, Event::Run { ult: a, lwp: 5 }),
                (35, block_a),
                (35, Event::Run { ult: c, lwp: 5 }),
            ]
        );
    }

    #[test]
    fn a_lean_record_with_no_running_ult_is_refused() {
        let [blk, _] = two_words(encode(&block(ThreadId::new(1, 1), 0, 1)));
        let e = parse(&file(&[(5, vec![lean_of(blk), 0])])).unwrap_err();
        assert!(e.to_string().contains("no running ULT"), "{e}");
    }

    #[test]
    fn unstamped_spawns_are_spread_between_the_stamps_around_them() {
        let ids: Vec<ThreadId> = (1..=4).map(|i| ThreadId::new(i, 1)).collect();
        let spawn = |u: ThreadId| words(encode(&Event::Spawn { ult: u, lwp: None }));
        let t = parse(&file(&[
            (10, spawn(ids[0])),
            (UNSTAMPED, spawn(ids[1])),
            (UNSTAMPED, spawn(ids[2])),
            (30, spawn(ids[3])),
        ]))
        .unwrap();
        let ns: Vec<u64> = t.entries.iter().map(|e| e.ns).collect();
        assert_eq!(ns, [10, 20, 30, 40]);
    }

    #[test]
    fn an_unstamped_run_at_the_end_of_a_ring_keeps_its_last_stamp() {
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let [w0, w1] = two_words(encode(&block(a, 0, 1)));
        let t = parse(&file(&[
            (10, words(encode(&Event::Run { ult: a, lwp: 0 }))),
            (UNSTAMPED, vec![switch_of(w0), w1, id(Some(b))]),
        ]))
        .unwrap();
        assert_eq!(
            timeline(&t.entries),
            [
                (10, Event::Run { ult: a, lwp: 0 }),
                (10, block(a, 0, 1)),
                (10, Event::Run { ult: b, lwp: 0 })
            ]
        );
    }

    #[test]
    fn the_largest_delta_of_a_version_5_file_is_a_delta() {
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let [w0, w1] = two_words(encode(&block(a, 0, 1)));
        let mut f = file(&[
            (UNSTAMPED, vec![switch_of(w0), w1, id(Some(b))]),
            (1, words(encode(&Event::Spawn { ult: a, lwp: None }))),
        ]);
        f[8..12].copy_from_slice(&5u32.to_le_bytes());
        let t = parse(&f).unwrap();
        let ns: Vec<u64> = t.entries.iter().map(|e| e.ns).collect();
        let max = u64::from(UNSTAMPED);
        assert_eq!(ns, [max, max, max + 1]);
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
        r0.extend(encode_wake_by_running(c, Some(0), 3));
        let mut blk = on(&block(a, 0, 1));
        blk[0] = with_delta(blk[0], 40);
        r0.extend(blk);
        let mut r1 = on(&block(c, 1, 3));
        r1[0] = with_delta(r1[0], 30);
        write_chunk(&mut f, 0, [&r0, &[]]).unwrap();
        write_chunk(&mut f, 1, [&r1, &[]]).unwrap();
        let t = parse(&f).unwrap();
        // Just after the Block, at its time.
        assert_eq!(
            timeline(&t.entries)[1..3],
            [(30, block(c, 1, 3)), (30, wake(c, 0, Some(a), 3))]
        );
    }

    #[test]
    fn a_switch_record_with_a_wake_is_read_as_wake_block_and_run_in_that_order() {
        let (a, b, c) = (
            ThreadId::new(1, 1),
            ThreadId::new(2, 1),
            ThreadId::new(3, 1),
        );
        // Ring 0: `a` runs at 10, wakes `c` (wait 4), blocks at 50 (wait
        // 9) and `b` runs: the wake travels in the Block's record.
        let mut r0 = words(encode(&Event::Run { ult: a, lwp: 0 }));
        r0[0] = with_delta(r0[0], 10);
        let Rec::Two([w0, w1]) = encode(&block(a, 0, 9)) else {
            unreachable!()
        };
        r0.extend([with_delta(with_wake(w0), 40), w1]);
        r0.extend(encode_wake_by_running(c, Some(0), 4));
        r0.push(id(Some(b)));
        // Ring 1: `c` blocked at 30, inside the wake's window (10 to 50).
        let mut r1 = words(encode(&block(c, 1, 4)));
        r1[0] = with_delta(r1[0], 30);
        let mut f = header(1 << 20, 100, 8).to_vec();
        write_chunk(&mut f, 0, [&r0, &[]]).unwrap();
        write_chunk(&mut f, 1, [&r1, &[]]).unwrap();
        let t = parse(&f).unwrap();
        assert_eq!(
            timeline(&t.entries),
            [
                (10, Event::Run { ult: a, lwp: 0 }),
                (30, block(c, 1, 4)),
                (30, wake(c, 0, Some(a), 4)),
                (50, block(a, 0, 9)),
                (50, Event::Run { ult: b, lwp: 0 }),
            ]
        );
    }

    #[test]
    fn an_exit_record_with_a_wake_and_no_run_is_read_as_wake_and_exit() {
        let (a, c) = (ThreadId::new(1, 1), ThreadId::new(3, 1));
        let mut r0 = words(encode(&Event::Run { ult: a, lwp: 2 }));
        r0[0] = with_delta(r0[0], 10);
        let Rec::Two([w0, w1]) = encode(&Event::Exit { ult: a, lwp: 2 }) else {
            unreachable!()
        };
        r0.extend([with_delta(with_wake(w0), 5), w1]);
        r0.extend(encode_wake_by_running(c, Some(2), 0));
        r0.push(0);
        let mut f = header(1 << 20, 100, 8).to_vec();
        write_chunk(&mut f, 0, [&r0, &[]]).unwrap();
        let t = parse(&f).unwrap();
        assert_eq!(
            timeline(&t.entries),
            [
                (10, Event::Run { ult: a, lwp: 2 }),
                (10, wake(c, 2, Some(a), 0)),
                (15, Event::Exit { ult: a, lwp: 2 }),
            ]
        );
    }

    #[test]
    fn a_version_4_file_is_still_read() {
        let a = ThreadId::new(1, 1);
        let mut b = file(&[(3, words(encode(&block(a, 0, 2))))]);
        b[8..12].copy_from_slice(&4u32.to_le_bytes());
        let t = parse(&b).unwrap();
        assert_eq!(timeline(&t.entries), [(3, block(a, 0, 2))]);
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
        b[8..12].copy_from_slice(&3u32.to_le_bytes());
        let e = parse(&b).unwrap_err().to_string();
        assert!(
            e.contains("format version 3,") && e.contains("format version 4 to version 7 only"),
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

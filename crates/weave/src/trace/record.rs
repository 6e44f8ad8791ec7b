//! Recording a trace: every event into a per-thread ring, and one
//! background thread that empties the rings into a file.
//!
//! `record(path)` (or `WEAVE_TRACE=path`) starts a recording: `emit`
//! hands each event to [`on_event`], inlined at every `emit`, which stamps
//! it (`time::clock::ticks`: the TSC on x86_64, no system call) and pushes
//! its record (16 bytes for most events, see `format.rs`) into the calling
//! thread's ring. Each OS thread (so each LWP) has its own ring: a
//! single-producer, single-consumer queue, so that pushing is one
//! comparison, two or three plain stores and one Release store (a plain
//! store on x86_64), with no lock, no read-modify-write and no cache line
//! shared with another LWP. Everything else (the file's framing, the
//! system calls, the drop report) is the writer's: a background thread
//! (named `weave-trace`) that wakes every `DRAIN_EVERY`, or sooner when a
//! producer finds its ring half full (it looks once a quarter lap), and writes what
//! each ring holds into the file, one chunk per ring, straight from the
//! ring's memory (one vectored write each, no buffer). [`stop`] drains the
//! rings one last time and closes it.
//!
//! What an event costs, measured (`weave bench --trace-cost`, and
//! callgrind on the same workloads): see docs/PERFORMANCE.md. Much of it
//! is the clock read on a VM, so a switch reads the clock once: the Run
//! that completes a switch takes the timestamp of the Block, Exit or
//! LwpBusy just before it on the same LWP (after a Block or Exit, in the
//! same record: it is written open and the Run fills in its last word).
//! That stamp can be older than the Wake of the ULT it runs (woken by
//! another LWP after the Block was stamped); the reader (`format::read`)
//! then places the Run at its Wake. A wake made by the ULT the ring ran
//! last reads no clock (`on_wake`); the reader places it. It is not even
//! pushed: it waits for that ULT's next Block or Exit and goes into the
//! same record (a ping-pong's wake, block and run: one push, one clock
//! read; and when the ULT that stops is the one the ring ran last, a
//! LEAN record of 16 bytes for the three events, which names neither
//! that ULT nor the LWP, see `format.rs`). A direct switch, whose LWP
//! knows the ULT it runs next before the Block is recorded
//! (`Lwp::block_to`), writes that Run into the Block's record at once
//! and publishes it whole (`switch_to_in`): the Run itself then records
//! nothing. Only a wake made on the ring's own LWP waits so
//! (`on_wake_here`); one made elsewhere is written at once. So a held
//! wake's LWP is the thread's, which the recorder keeps once
//! (`Fast::lwp`, from `Tracer::this_thread`), and a wake stores two
//! words: the woken ULT's id (taken as a number, `Tcb::id_bits`, no
//! `ThreadId` built) and its wait. A wake and a direct switch test
//! "this recording's ring, a ULT running" with one comparison
//! (`Fast::live`). The price
//! of holding wakes: a ULT still running when the recording stops, on
//! another thread than [`stop`]'s, has its last wake left out of the
//! file (`stop`'s own thread writes its own; a ULT writes its own as its
//! closure returns, `flush_wake`, before its joiner can return: only
//! the wake of the joiner itself then rides in the Exit).
//!
//! While switches (and spawns) come faster than one a microsecond, only
//! one in 32 reads the clock at all: the others are written UNSTAMPED and the
//! reader spreads them evenly between the stamps around them
//! (`switch_out`, `unstamped_budget`). On a VM, where `rdtsc` is emulated,
//! one read costs as much as a whole ping-pong round trip. The price: a
//! ULT that computes for long inside such a run of 32 switches is drawn
//! shorter than it ran, and the ones after it longer; the stamp that ends
//! the run sees the slow pace and stamps every switch until the pace is
//! fast again.
//!
//! A ring is bounded (`DEFAULT_RING` events unless [`record_with`] says
//! otherwise): when the writer falls behind and a ring is full, new events
//! of that thread are dropped and counted, never waited for. The next event
//! that fits is preceded by a DROPPED record with the count (the viewer
//! shows where), and [`stop`] prints one line saying how many were lost and
//! where (and returns the figures).
//!
//! Part of `trace`: names nothing above `thread/id.rs` and `time/clock.rs`.
//! Thread names come from the spawn ([`name_thread`]), so this file does
//! not name the thread table.

use std::cell::{RefCell, UnsafeCell};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format::{self, Rec};
use super::ring::{self, Cursor, Ring};
use super::{key, set_recording, Event};
use crate::thread::id::ThreadId;
use crate::time::clock;

/// Events per thread's ring by default: 256 Ki events of 16 bytes (a
/// switch of the running ULT with its wake and Run takes 16 for three
/// events, a LEAN record, `format.rs`), 4 MiB of
/// address space a thread that records, its pages touched as events fill
/// them (a thread that never fills its ring never touches all of it). The
/// writer drains when a ring is half full (`wake_writer`) and every
/// `DRAIN_EVERY` (5 ms) in any case; an LWP in a ping-pong writes ~700 MB/s
/// of records, so a ring of this size gives the writer ~3 ms to come
/// (1 ms at the 64 Ki of format version 5, which dropped events whenever
/// the machine was loaded). Ordinary programs never fill it.
pub const DEFAULT_RING: usize = 1 << 18;

/// How often the writer thread empties the rings at least: a producer
/// whose ring is half full wakes it sooner (`wake_writer`).
const DRAIN_EVERY: Duration = Duration::from_millis(5);

/// The writer thread of the recording in progress, for `wake_writer`.
static WRITER: Mutex<Option<std::thread::Thread>> = Mutex::new(None);

/// Wakes the writer thread early: a ring is half full (seen once a
/// quarter lap, `Ring::used`) or dropping. Never waits: if the lock is
/// held (a recording starting or stopping) the writer's own timer serves.
/// An unpark costs a system call only when the writer sleeps.
#[cold]
#[inline(never)]
fn wake_writer() {
    if let Ok(w) = WRITER.try_lock() {
        if let Some(t) = w.as_ref() {
            t.unpark();
        }
    }
}

/// The LWP of a ring's thread's last event, for the drop report.
fn lwp_of_ring(r: &Ring) -> Option<usize> {
    let l = r.lwp.load(Relaxed);
    (l != ring::NO_LWP).then_some(l as usize)
}

fn drain_into(index: u32, r: &Ring, out: &mut impl Write) -> io::Result<usize> {
    r.drain_runs(|_, a, b| format::write_chunk(out, index, [a, b]))
}

/// A recording in progress.
struct Recorder {
    /// Distinguishes this recording's rings from an earlier one's.
    epoch: u64,
    ring: usize,
    rings: Mutex<Vec<Arc<Ring>>>,
    stopping: AtomicBool,
    writer: Mutex<Option<JoinHandle<io::Result<u64>>>>,
    path: String,
    /// The ticks in the file's header: every ring's clock starts there.
    start: u64,
    /// `FAST_SWITCH_NS` in ticks (`Fast::fast`).
    fast: u64,
}

/// The recording, if one runs.
static RECORDER: Mutex<Option<Arc<Recorder>>> = Mutex::new(None);

/// The epoch of the recording in progress; 0 when none.
static EPOCH: AtomicU64 = AtomicU64::new(0);
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// What a recording wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of records written to the file (events, names, drop
    /// marks; 16 bytes for most events).
    pub bytes: u64,
    /// Events lost because a ring was full.
    pub dropped: u64,
    /// Rings (threads that emitted events).
    pub rings: usize,
}

/// Starts recording every event into the file at `path` (created or
/// truncated), with rings of [`DEFAULT_RING`] events per thread. Read it
/// with `weave trace view` or [`format::read`]; end it with [`stop`].
/// `WEAVE_TRACE=path` does the same for a whole run.
///
/// Fails if a recording is already in progress or the file cannot be
/// created.
pub fn record(path: impl AsRef<Path>) -> io::Result<()> {
    record_with(path, DEFAULT_RING)
}

/// [`record`] with rings of `ring` events per thread (rounded up to a
/// power of two).
pub fn record_with(path: impl AsRef<Path>, ring: usize) -> io::Result<()> {
    let path = path.as_ref();
    let mut cur = RECORDER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = cur.as_ref() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "cannot record a trace to {}: a recording to {} is in progress; \
                 call weave::trace::stop() first",
                path.display(),
                r.path
            ),
        ));
    }
    let file = File::create(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot record a trace to {}: {e}", path.display()),
        )
    })?;
    // Unbuffered: each chunk is one vectored write of the ring's own
    // memory (`format::write_chunk`), with no copy into a buffer first.
    let mut out = file;
    // Calibrating the scale takes ~10 ms once: before the first event.
    let scale = clock::ticks_to_ns(1 << 20);
    let ring = ring.next_power_of_two().max(4);
    let start = clock::ticks();
    out.write_all(&format::header(scale, start, ring))?;
    let rec = Arc::new(Recorder {
        epoch: NEXT_EPOCH.fetch_add(1, Relaxed),
        ring,
        rings: Mutex::new(Vec::new()),
        stopping: AtomicBool::new(false),
        writer: Mutex::new(None),
        path: path.display().to_string(),
        start,
        fast: FAST_SWITCH_NS * (1 << 20) / scale.max(1),
    });
    let r2 = rec.clone();
    let writer = crate::os::threads::spawn(
        std::thread::Builder::new().name("weave-trace".into()),
        move || write_loop(&r2, out),
    )?;
    *WRITER.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer.thread().clone());
    *rec.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
    // Release pairs with the Acquire load in `name_thread`: a thread that
    // sees the epoch finds the recorder in `RECORDER`.
    EPOCH.store(rec.epoch, Release);
    let epoch = rec.epoch;
    *cur = Some(rec);
    drop(cur);
    set_recording(epoch);
    Ok(())
}

/// Ends the recording: the last events are written and the file closed.
/// Prints one line to stderr if events were dropped. Returns what was
/// written, or `None` if no recording was in progress.
pub fn stop() -> io::Result<Option<Stats>> {
    let Some(rec) = RECORDER.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Ok(None);
    };
    // This thread's wake not yet written (`Fast::wake`) goes in now: the
    // caller's own events are all in the file.
    end_switch();
    set_recording(0);
    EPOCH.store(0, Relaxed);
    rec.stopping.store(true, Relaxed);
    let writer = rec.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    *WRITER.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let words = match writer.map(|w| w.join()) {
        Some(Ok(r)) => r?,
        Some(Err(_)) => return Err(io::Error::other("the trace writer thread panicked")),
        None => 0,
    };
    let rings = rec.rings.lock().unwrap_or_else(|e| e.into_inner());
    let dropped: u64 = rings.iter().map(|r| r.dropped.load(Relaxed)).sum();
    if dropped > 0 {
        let worst = rings
            .iter()
            .max_by_key(|r| r.dropped.load(Relaxed))
            .expect("some ring dropped");
        let on = lwp_of_ring(worst).map_or("an OS thread".to_string(), |l| format!("LWP {l}"));
        eprintln!(
            "weave: trace {}: dropped {dropped} events (most on {on}, {}): a ring of {} events \
             filled faster than the writer emptied it; record with a larger ring \
             (WEAVE_TRACE_RING, or weave::trace::record_with)",
            rec.path,
            worst.dropped.load(Relaxed),
            rec.ring
        );
    }
    Ok(Some(Stats {
        bytes: words * format::WORD as u64,
        dropped,
        rings: rings.len(),
    }))
}

/// The writer thread: drains every ring every `DRAIN_EVERY` until told to
/// stop, then once more, then adds a DROPPED record for the losses that
/// no later event announced. Returns the words of records written.
fn write_loop(rec: &Recorder, mut out: File) -> io::Result<u64> {
    let mut written = 0u64;
    loop {
        let last = rec.stopping.load(Relaxed);
        if last {
            // Threads that loaded the epoch just before `stop` cleared it
            // may still be pushing: give them a moment.
            std::thread::sleep(Duration::from_millis(1));
        }
        let rings: Vec<Arc<Ring>> = rec.rings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (i, r) in rings.iter().enumerate() {
            written += drain_into(i as u32, r, &mut out)? as u64;
        }
        if last {
            for (i, r) in rings.iter().enumerate() {
                let n = r.unmarked.swap(0, Relaxed);
                if n != 0 {
                    let mark = format::encode_dropped(lwp_of_ring(r), n);
                    format::write_chunk(&mut out, i as u32, [&mark, &[]])?;
                    written += mark.len() as u64;
                }
            }
            out.flush()?;
            return Ok(written);
        }
        std::thread::park_timeout(DRAIN_EVERY);
    }
}

/// A thread's view of the recording, read on every event: the recording
/// its ring belongs to, the ring and the producer's cursor in it, the
/// ring's clock, the switch in progress, the ULT running and a wake not
/// yet written. Without `Drop`, in a `const` thread-local: reaching it is
/// one TLS address, with no lazy registration and no borrow flag.
#[derive(Clone, Copy)]
pub(super) struct Fast {
    /// The recording's key as `trace::STATE` holds it (`key(epoch)`): an
    /// event compares the two in one instruction. 0: no ring yet (or
    /// `MINE` was destroyed with the thread).
    key: u64,
    /// Kept alive by the `Arc` in `MINE` while `epoch` is non-zero.
    ring: *const Ring,
    cur: Cursor,
    /// The ticks of the ring's last record: each record holds the ticks
    /// since (see `format.rs`).
    last: u64,
    /// The switch in progress on this thread, for its Run:
    ///
    /// | value     | meaning                                            |
    /// |-----------|----------------------------------------------------|
    /// | 0         | none: a Run reads the clock                        |
    /// | `STAMPED` | the ring's last record (a Block, Exit or LwpBusy) was stamped `last` and its switch's Run has not come: the Run takes `last` |
    /// | `RAN`     | a direct switch wrote its Block and its Run in one record, published (`switch_to_in`): the Run, which comes next, only clears this |
    /// | `OPEN`    | a Block or Exit written open (BLOCK_RUN/EXIT_RUN, or LEAN, its last word unwritten, not published; a LEAN_WOKE record's written, see `expect`) just before the cursor: the Run writes its ULT there and publishes the record (`Ring::patch_last`), one push for both events |
    ///
    /// Set by a Block, Exit or LwpBusy, cleared by the Run, by
    /// `end_switch` and by any other push (an open record is then
    /// published with no Run: word 2 zero). One field for both, so that a
    /// Block and a Run each store it once.
    switch: usize,
    /// The id of the ULT this ring last recorded a Run of, until its
    /// Block or Exit (or an event of the LWP itself, see
    /// `format::sets_running`);
    /// 0: none. A wake made while it is set was made by that ULT: the
    /// record says so in its kind (a WAKE_RUN or LEAN_WOKE record), and
    /// the reader keeps the same state per ring. Cleared when an event is
    /// dropped (the reader clears it at the DROPPED mark).
    running: u64,
    /// `key` while `running` is not 0, else 0 (`set_running`): a wake and
    /// a switch check "this recording's ring, a ULT running" in one
    /// comparison with `trace::STATE`.
    live: u64,
    /// Wakes written as WAKE_RUN records of their own (a second wake of
    /// the running ULT's before its next record, `wake_after_wake`), for
    /// ever: every `UNSTAMPED`th of them reads the clock instead, so that
    /// a burst of wakes (a `notify_all`) is placed within tens of events.
    /// Only that cold path touches it.
    unstamped: u32,
    /// The last wake made by the running ULT, not written yet: word 0 as
    /// `format::held_wake` holds it (the LEAN_WOKE bits), word 1 the
    /// woken ULT (0: none). The running ULT's Block or
    /// Exit carries it in its own record (a LEAN_WOKE record if the wake
    /// was made on the LWP of the switch, else `format::with_wake`, from
    /// `format::wake_run_of_held`: one push, one clock read for both, and the
    /// reader's window for the wake ends at that Block's stamp as it would
    /// for a WAKE_RUN record); any other push writes it first as a WAKE_RUN
    /// record of its own (`close`), so the ring's order is kept.
    wake: [u64; 2],
    /// The LWP whose thread this is (`format::lwp_field`; `NO_LWP`'s
    /// field on any other thread), set once as the LWP starts
    /// (`Tracer::this_thread`) and kept across recordings (`attach`):
    /// the LWP of every wake held in `wake` (only an LWP's own wakes are
    /// held, `on_wake_here`), so that a wake stores none.
    lwp: u32,
    /// Word 0 of an UNSTAMPED LEAN record with neither reason nor waits
    /// (`format::LEAN_UNSTAMPED`), kept here so that a direct switch ORs
    /// it in from memory: as a constant it took a 64-bit immediate load
    /// and two ORs a switch.
    lean_unstamped: u64,
    /// The ULT the record left open (`switch`) names in its last word
    /// already, if it is a LEAN_WOKE record (`format.rs`: the woken ULT,
    /// expected to run next); 0 for any other open record. A Run of
    /// another ULT closes it with LEAN_NORUN and goes as a record of its
    /// own.
    expect: u64,
    /// Switches that may still go without a clock read (`switch_out`):
    /// set to `granted` at a stamped switch, counted down by each switch
    /// written UNSTAMPED. Equal to `granted` right after a stamped switch
    /// only (`switch_stamp` serves only then).
    skip: u32,
    /// What the last stamped switch granted (`unstamped_budget`: all of
    /// `UNSTAMPED_RUN` if the switches since the ring's stamp before it
    /// came fast, else 0): the next stamped switch comes `granted + 1`
    /// switches after it.
    granted: u32,
    /// The stamp of the last stamped switch: the pace is measured from
    /// there (not from `last`, which any stamped event moves).
    switch_at: u64,
    /// Ticks a switch may take on average for the switches after it to go
    /// unstamped (the recording's `Recorder::fast`, ~1 us).
    fast: u64,
}

/// `Fast::switch`: the ring's last stamp is the switch's (see there).
const STAMPED: usize = 1;
/// `Fast::switch`: the switch's Run is in the ring already.
const RAN: usize = 2;
/// `Fast::switch`: the switch's record is open, waiting for its Run.
const OPEN: usize = 3;

/// The most switches in a row written without a clock read after a
/// stamped one (`unstamped_budget`): one clock read per 32 switches while
/// switches come faster than one a microsecond (a ping-pong's, ~50 ns).
/// A clock read on a VM costs as much as a whole switch (`rdtsc` is
/// emulated: 30 to 100 ns measured).
const UNSTAMPED_RUN: u32 = 31;

/// How fast switches must come for the next ones to go unstamped: at
/// most this many ns each, on average, since the last stamped switch. It
/// bounds the window the reader spreads an unstamped run over while the
/// pace holds (32 switches: 32 us at most).
const FAST_SWITCH_NS: u64 = 1_000;

/// How many switches may go unstamped after a stamped switch that came
/// `elapsed` ticks after the stamped switch before it, with `switches`
/// switches (itself and the unstamped ones between) in that time: all of
/// `UNSTAMPED_RUN` if they averaged under `fast` ticks each, none
/// otherwise (a slow switch: stamp every one until the pace is fast
/// again). A ULT that computes for long inside an unstamped run is
/// placed wrongly by the reader, within that run only: the stamp that
/// ends it sees the slow average and stops the next one.
#[inline(always)]
fn unstamped_budget(elapsed: u64, switches: u32, fast: u64) -> u32 {
    if elapsed < u64::from(switches) * fast {
        UNSTAMPED_RUN
    } else {
        0
    }
}

/// Wakes in a row that may go without a clock read (`wake_after_wake`).
const UNSTAMPED: u32 = 16;

const NO_FAST: Fast = Fast {
    key: 0,
    ring: std::ptr::null(),
    cur: Cursor::NEW,
    last: 0,
    switch: 0,
    running: 0,
    live: 0,
    unstamped: 0,
    wake: [0; 2],
    lwp: format::NO_LWP_FIELD,
    lean_unstamped: format::LEAN_UNSTAMPED,
    expect: 0,
    skip: 0,
    granted: 0,
    switch_at: 0,
    fast: 0,
};

std::thread_local! {
    static FAST: UnsafeCell<Fast> = const { UnsafeCell::new(NO_FAST) };
}

/// This thread's `Fast`, if the thread's locals still exist. The
/// caller must not call `fast` again while it holds the reference (nothing
/// the recorder calls emits an event: `attach` allocates and locks,
/// neither emits).
///
/// The closure given to `try_with` only takes the address: a closure that
/// did the work inside `try_with` (or inside any closure) was compiled
/// once for every kind of event, out of line, matching the kind at run
/// time (~40 instructions an event); this way the work is inlined where
/// the kind is known.
#[inline(always)]
fn fast<'a>() -> Option<&'a mut Fast> {
    let p = FAST.try_with(UnsafeCell::get).ok()?;
    // SAFETY: `FAST` is this thread's, `const`-initialised and without
    // `Drop`: its storage lives as long as the thread. The only `&mut` to
    // it is this one (the caller's promise, above; a signal handler does
    // not emit trace events).
    Some(unsafe { &mut *p })
}

/// A thread's `Fast` as its LWP holds it (`Lwp::tracer`), so that the
/// events of a switch reach the ring without the thread-local: `FAST` is
/// compiled as a general-dynamic TLS access (the crate cannot know it ends
/// up in an executable), a call as far as the register allocator knows,
/// so every register live across it was spilled and reloaded around each
/// event of `block_current`, `switch_in` and a wake. A field of the LWP
/// is one load from a register the caller holds already.
///
/// Made by [`Tracer::this_thread`] on the LWP's thread when it starts, and
/// used only on that thread (a raw pointer: neither `Send` nor `Sync`; the
/// LWP keeps it in its owner-only state) while the thread lives (`FAST` is
/// `const`, without `Drop`: its storage lasts as long as the thread).
#[derive(Clone, Copy)]
pub(crate) struct Tracer(*mut Fast);

impl Tracer {
    /// None yet: an LWP's until its thread starts.
    pub(crate) const NONE: Tracer = Tracer(std::ptr::null_mut());

    /// The calling thread's, which is LWP `lwp`'s (`NONE` if its locals
    /// are gone): the recorder keeps `lwp` for the wakes it holds
    /// (`Fast::lwp`).
    pub(crate) fn this_thread(lwp: usize) -> Tracer {
        let p = FAST
            .try_with(UnsafeCell::get)
            .unwrap_or(std::ptr::null_mut());
        if !p.is_null() {
            // SAFETY: this thread's `FAST` (see `fast`); no other
            // reference to it is held here.
            unsafe { (*p).lwp = format::lwp_field(Some(lwp)) };
        }
        Tracer(p)
    }

    /// Whether this thread's ring holds a record open for the next Run
    /// (`Fast::switch` past `STAMPED`: what [`run_in`] completes), which
    /// keeps the LWP's `trace::Gate` open whatever `trace::STATE` says.
    #[inline]
    pub(super) fn holds_open(self) -> bool {
        self.fast().switch > STAMPED
    }

    /// The `Fast` it points at. The caller must not hold another reference
    /// to it (as for [`fast`]).
    #[inline(always)]
    pub(super) fn fast<'a>(self) -> &'a mut Fast {
        debug_assert!(!self.0.is_null(), "a Tracer used before its thread set it");
        // SAFETY: made by `this_thread` on the calling thread (the LWP
        // sets it first thing on its thread and uses it only there, see
        // the type's doc), so it points at this thread's live `FAST`; the
        // only `&mut` to it is this one (the caller's promise).
        unsafe { &mut *self.0 }
    }
}

/// The Run of the ULT `ult()` that completes the switch whose Block or Exit
/// the ring of `s` holds open (`Fast::switch`): its id goes into that
/// record, which is published; or that a direct switch wrote with its
/// Block already (`RAN`, `switch_to_in`): nothing more. Returns false, having done nothing, if no
/// record is open (the caller goes the ordinary way, `trace::listen`).
///
/// Needs no look at `trace::STATE`: a record is open only while a
/// recording alone listened when it was written (`seal` closes one
/// written while a user hook listens, so that the hook gets the Run), and
/// the ring it lies in is this thread's until the thread attaches to
/// another recording, which closes it first. A Run whose recording
/// stopped between the Block and the Run still goes into its record,
/// which the writer never reads (stopped), and a hook installed in that
/// moment misses that one Run.
#[inline(always)]
pub(super) fn run_in(s: &mut Fast, ult: impl FnOnce() -> ThreadId) -> bool {
    if s.switch <= STAMPED {
        return false;
    }
    if s.switch == RAN {
        // Written with its Block (`switch_to_in`).
        s.switch = 0;
        return true;
    }
    let id = ult().as_u64().get();
    // SAFETY: as in `push`.
    let ring = unsafe { &*s.ring };
    if id == s.expect {
        // A LEAN_WOKE record that names this ULT already.
        ring.publish(&s.cur);
    } else if s.expect == 0 {
        ring.patch_last(&s.cur, id);
    } else {
        // A LEAN_WOKE record that names another ULT: it goes without its
        // Run, and this Run as a record of its own.
        close(s);
        return false;
    }
    s.switch = 0;
    set_running(s, id);
    true
}

/// Publishes the record this thread's ring holds open, if any, with no Run
/// in it (its Run then comes as a record of its own, at the same stamp):
/// after an event written while a user hook listens as well, so that the
/// Run goes the way that calls the hook (see [`run_in`]).
pub(super) fn seal() {
    if let Some(s) = fast() {
        if s.switch == OPEN {
            publish_open(s);
            s.switch = STAMPED;
        }
    }
}

/// Owns this thread's ring; clears `FAST` when the thread's locals are
/// destroyed, so that `FAST` never points at a freed ring.
struct Mine(Option<(u64, Arc<Ring>)>);

impl Drop for Mine {
    fn drop(&mut self) {
        if let Some(f) = fast() {
            if f.key != 0 {
                // The ring is still ours (`self` holds it): what waits to
                // be written goes in first.
                close(f);
            }
            *f = NO_FAST;
        }
    }
}

std::thread_local! {
    /// This thread's ring and the epoch it belongs to.
    static MINE: RefCell<Mine> = const { RefCell::new(Mine(None)) };
}

/// Ends the switch in progress on this thread without a Run: the LWP went
/// looking for work (polling, trimming, searching, sleeping), so the next
/// Run takes a timestamp of its own instead of the Block's.
#[inline]
pub(crate) fn end_switch() {
    if let Some(f) = fast() {
        if f.key != 0 {
            close(f);
        }
    }
}

/// Writes this thread's wake not yet written (`Fast::wake`), if a trace is
/// recorded: called by a ULT as its closure returns, before its joiner can
/// return (and stop the recording) ahead of the LWP's Exit record, which
/// would otherwise carry it. One load and branch while nothing is
/// recorded.
#[inline]
pub(crate) fn flush_wake() {
    if super::hooked() {
        end_switch();
    }
}

/// Writes what waits in `s` before another record goes in: publishes the
/// open Block or Exit with no Run (word 2 zero), ends the switch, and
/// writes the wake not yet written as a WAKE_RUN record.
#[inline(always)]
fn close(s: &mut Fast) {
    if s.switch != 0 {
        if s.switch == OPEN {
            publish_open(s);
        }
        s.switch = 0;
    }
    if s.wake[1] != 0 {
        write_wake(s, s.lwp);
    }
}

/// Publishes the record left open by a Block or Exit with no Run in it:
/// its last word zero, or, in a LEAN_WOKE record (whose last word names
/// the woken ULT), the LEAN_NORUN bit.
#[inline(always)]
fn publish_open(s: &mut Fast) {
    // SAFETY: as in `push`.
    let ring = unsafe { &*s.ring };
    if s.expect != 0 {
        s.expect = 0;
        ring.or_back(&s.cur, 2, u64::from(format::LEAN_NORUN));
    } else {
        ring.patch_last(&s.cur, 0);
    }
}

/// Writes the wake waiting in `s.wake` as a WAKE_RUN record of its own, at
/// the ring's last stamp (delta 0), made on the LWP whose field `lwp` is
/// (`format::lwp_field`; a held wake's is the thread's, `Fast::lwp`).
#[cold]
#[inline(never)]
fn write_wake(s: &mut Fast, lwp: u32) {
    let [held, w1] = std::mem::take(&mut s.wake);
    let w0 = format::wake_run_of_held(held, lwp);
    // SAFETY: as in `push`.
    if !unsafe { &*s.ring }.try_push(&mut s.cur, [w0, w1]) {
        push_slow(s, s.last, w0, w1, 0, 2);
    }
}

/// The timestamp of the switch in progress on this thread, if a recording
/// runs and the event just before it (a Block) read the clock: the LWP's
/// run-time accounting takes it instead of a clock read of its own, so
/// that the Block, the accounting and the Run of one switch share one
/// read. `None` (read the clock) while nothing is recorded: then it costs
/// one load and branch.
#[inline]
pub(crate) fn switch_stamp() -> Option<u64> {
    if !super::hooked() {
        return None;
    }
    let s = fast()?;
    // A stamp of an earlier recording is stale: only this one's counts.
    // An unstamped switch (`skip` below `granted`) has no stamp of its own.
    (s.switch != 0 && s.skip == s.granted && s.key == key(EPOCH.load(Relaxed))).then_some(s.last)
}

/// The event into this thread's ring of the recording `key` (the value of
/// `trace::STATE` while only a recording listens). Inlined at every
/// `emit` (the event's kind is known there, so the encoding is a few
/// constant words); runs in the middle of switches: no lock and no
/// allocation except the first event of a thread (which creates its
/// ring).
///
/// One clock read per event, except for a Run that completes a switch: it
/// takes the timestamp of the Block or Exit just before it on the same
/// LWP (or of the LwpBusy that ended an idle sleep), because the switch
/// between them is one moment of the timeline (tens of ns). The clock read
/// is most of an event's cost on a VM (10 to 35 ns for `rdtsc`), and a
/// ping-pong switches after every Block. `end_switch` breaks the pair when
/// the LWP does anything slow in between. A wake made by a running ULT
/// does not read the clock either, and waits for the running ULT's Block
/// or Exit to be written with it ([`on_wake`]).
///
/// Returns false, having done nothing, if this thread's ring is not the
/// recording `key`'s (none yet, an older recording's, or `key` is odd: a
/// user hook listens as well): the caller goes the cold way
/// (`trace::listen_slow`, then [`on_event_attaching`]).
#[inline(always)]
pub(super) fn on_event(key: u64, e: &Event) -> bool {
    match fast() {
        Some(s) => on_event_in(s, key, e),
        None => true,
    }
}

/// [`on_event`] into `s`, this thread's `Fast` (from the thread-local, or
/// from the LWP that holds it: [`Tracer`]).
#[inline(always)]
pub(super) fn on_event_in(s: &mut Fast, key: u64, e: &Event) -> bool {
    if s.key != key {
        return false;
    }
    if let Event::Wake {
        ult,
        lwp,
        waker: Some(w),
        wait,
    } = *e
    {
        if w.as_u64().get() == s.running {
            wake_by_running_written(s, ult, lwp, wait);
            return true;
        }
    }
    match *e {
        Event::Block {
            ult,
            reason,
            wait,
            lwp,
        } => {
            switch_out_of(s, ult, format::lean_block(reason, wait), lwp);
            return true;
        }
        Event::Exit { ult, lwp } => {
            switch_out_of(s, ult, format::LEAN_EXIT_WORD, lwp);
            return true;
        }
        // The switch's second half, into the open record (unless that
        // expects another ULT: `run_in` closes it, and this Run goes
        // below).
        Event::Run { ult, .. } if s.switch > STAMPED && run_in(s, || ult) => {
            return true;
        }
        Event::Spawn { .. } if s.skip != 0 => {
            // Spawns in a row share the switches' budget of clock reads.
            let Rec::Two([w0, w1]) = format::encode(e) else {
                unreachable!("a Spawn is two words")
            };
            close(s);
            // SAFETY: as in `push`.
            let ring = unsafe { &*s.ring };
            if ring.try_push(&mut s.cur, [format::with_delta(w0, format::UNSTAMPED), w1]) {
                s.skip -= 1;
                return true;
            }
        }
        _ => {}
    }
    // Read by `push`, once it knows the record fits (`None`).
    let ts = match e {
        Event::Run { .. } if s.switch == STAMPED => Some(s.last),
        // A stamped spawn grants the next ones their budget, as a stamped
        // switch does.
        Event::Spawn { .. } if s.skip == 0 => Some(stamp(s)),
        _ => None,
    };
    if let Some(r) = format::sets_running(e) {
        set_running(s, r);
    }
    if push(s, ts, format::encode(e)) && matches!(e, Event::LwpBusy { .. }) {
        s.switch = STAMPED;
    }
    true
}

/// A Block or Exit of `ult` (LEAN word 0 `lean`) that came as an event:
/// [`switch_out`] if `ult` is the ring's running ULT, else the cold way.
#[inline(always)]
fn switch_out_of(s: &mut Fast, ult: ThreadId, lean: u64, lwp: usize) {
    let id = ult.as_u64().get();
    if s.running == id {
        switch_out(s, || id, lean, lwp);
    } else {
        switch_out_full(s, id, lean, lwp, 0, CHOOSE);
    }
}

/// [`on_event`] for the recording `key` (even), giving the calling thread
/// a ring in it first if it has none.
pub(super) fn on_event_attaching(key: u64, e: &Event) {
    if let Some(s) = fast() {
        if s.key == key || attach(s, key) {
            on_event(key, e);
        }
    }
}

/// A Block or Exit of the ring's running ULT on LWP `lwp`, whose LEAN
/// record's word 0 is `lean` (delta 0), into `s`, this thread's ring of
/// the recording `key` (`trace::listen_switch_out_in`): the fast path of
/// every switch. Returns false, having done nothing, if the ring is not
/// `key`'s or has no running ULT (the caller builds the event and goes
/// the ordinary way, [`on_event_in`]). `id` (the stopping ULT's) is
/// called only on the cold way: while the ring has a running ULT, that is
/// the one that stops (a ULT blocks or exits only on the LWP that runs
/// it, after the Run this ring recorded; every event that ends its run
/// here, a dropped event too, clears `running`), so the hot path need not
/// build the id to compare it.
#[inline(always)]
pub(super) fn switch_out_in(
    s: &mut Fast,
    key: u64,
    id: impl Fn() -> u64,
    lean: u64,
    lwp: usize,
) -> bool {
    debug_assert_eq!(s.live, if s.running != 0 { s.key } else { 0 });
    if s.live != key {
        return false;
    }
    debug_assert_eq!(s.running, id(), "a switch of a ULT the ring did not run");
    switch_out(s, id, lean, lwp);
    true
}

/// A direct switch (`Lwp::block_to`) on this thread's LWP `lwp`: the
/// Block of the ring's running ULT, whose LEAN record's reason and wait
/// are `lean()` (`format::lean_block_bits`), and the Run of the ULT
/// whose id is `next()` (as a number) straight after
/// it, into `s`, this thread's ring of the recording `key`, as one LEAN
/// record written whole and published at once (`RAN`: the Run that
/// follows, [`run_in`], only clears it). Returns false, having done
/// nothing, unless the switch is an unstamped one of the running ULT
/// (31 in 32 while switches come fast, `switch_out`) whose held wake, if
/// any, woke `next` on this LWP (a ping-pong's, a join's); the caller
/// then records the Block the ordinary way ([`switch_out_in`], which
/// leaves the record open for the Run).
///
/// Straight-line on purpose, with no clock, no budget to grant and no
/// open record: the Block and the Run of a ping-pong's switch cost one
/// record, one publishing store and no look at the Run's id.
#[inline(always)]
pub(super) fn switch_to_in(
    s: &mut Fast,
    key: u64,
    lean: impl FnOnce() -> u64,
    lwp: usize,
    next: impl FnOnce() -> u64,
) -> bool {
    debug_assert_eq!(s.live, if s.running != 0 { s.key } else { 0 });
    if s.live != key || s.skip == 0 {
        return false;
    }
    debug_assert!(s.switch == 0, "a record open while a ULT runs");
    let next = next();
    let [held, woken] = s.wake;
    // The held bits only with a held wake (word 0 is not cleared). The
    // ping-pong's case (the held wake woke `next`) tested first: one
    // comparison.
    let held = if woken == next {
        // Made on this LWP, as every held wake (`on_wake_here`).
        debug_assert_eq!(s.lwp, lwp as u32, "a wake held for another LWP");
        held
    } else if woken == 0 {
        0
    } else {
        return false;
    };
    let w0 = s.lean_unstamped | lean() | held;
    // SAFETY: as in `push`.
    let ring = unsafe { &*s.ring };
    if !ring.try_push(&mut s.cur, [w0, next]) {
        return false;
    }
    s.skip -= 1;
    s.wake[1] = 0;
    // Not 0: `live` stays.
    s.running = next;
    s.switch = RAN;
    true
}

/// A Block or Exit of the ring's running ULT (`s.running`, whose id
/// `id()` is), whose LEAN record's word 0 is `lean` (delta 0;
/// `format::lean_of`). Its LEAN record names neither it nor the LWP, and
/// carries the wake that waits in `s.wake` (then its last word, the woken
/// ULT, is written now and the Run that names it only publishes it;
/// `Fast::expect`), or leaves its last word for the Run. Anything else (a
/// wake made on another LWP, no room, a clock that jumped) goes the cold
/// way, [`switch_out_full`].
#[inline(always)]
fn switch_out(s: &mut Fast, id: impl Fn() -> u64, lean: u64, lwp: usize) {
    // No record is open while a ULT runs (`s.switch` is 0): every write of
    // `switch` other than 0 comes with `running` 0 (a Block, an Exit, an
    // LwpBusy; `seal` only lowers it), and a Run clears `switch` before it
    // sets `running`.
    debug_assert!(s.switch == 0, "a record open while a ULT runs");
    // One switch in `UNSTAMPED_RUN + 1` reads the clock while switches
    // come fast; the others are written UNSTAMPED (the reader spreads
    // them between the stamps around them) and keep the ring's clock
    // (`stamped` None: `last` is neither read nor written).
    let (stamped, lean) = if s.skip != 0 {
        s.skip -= 1;
        (None, format::with_delta(lean, format::UNSTAMPED))
    } else {
        let ts = stamp(s);
        let d = ts.wrapping_sub(s.last);
        if d >= u64::from(format::UNSTAMPED) {
            // The slow way (a TIME record).
            return switch_out_full(s, id(), lean, lwp, ts, u64::MAX);
        }
        (Some(ts), format::with_delta(lean, d as u32))
    };
    // SAFETY: as in `push`.
    let ring = unsafe { &*s.ring };
    let [held, woken] = s.wake;
    let written = if woken == 0 {
        s.expect = 0;
        ring.try_write(&mut s.cur, [lean], 1)
    } else {
        // The LEAN record implies the LWP of the ring's last Run, this
        // switch's: a held wake was made there (`on_wake_here`; a wake
        // made anywhere else is written at once, `on_wake_in`).
        debug_assert_eq!(s.lwp, lwp as u32, "a wake held for another LWP");
        ring.try_write(&mut s.cur, [lean | held, woken], 0)
    };
    if !written {
        return switch_out_full_at(s, id(), lean, lwp, stamped);
    }
    if woken != 0 {
        s.expect = woken;
        s.wake[1] = 0;
    }
    set_running(s, 0);
    if let Some(ts) = stamped {
        s.last = ts;
    }
    s.switch = OPEN;
}

/// [`switch_out_full`] from [`switch_out`] once it chose the stamp:
/// `lean` carries the delta it chose, and `stamped` the clock it read
/// (`None`: UNSTAMPED, the ring's clock stays).
#[cold]
#[inline(never)]
fn switch_out_full_at(s: &mut Fast, id: u64, lean: u64, lwp: usize, stamped: Option<u64>) {
    let delta = lean >> 32;
    switch_out_full(
        s,
        id,
        lean & u64::from(u32::MAX),
        lwp,
        stamped.unwrap_or(s.last),
        delta,
    );
}

/// `switch_out_full`'s `delta` when the fast path chose no stamp.
const CHOOSE: u64 = u64::MAX - 1;

/// [`switch_out`]'s cold way: the Block or Exit of `id` on LWP `lwp`
/// (its LEAN word `lean`) as a BLOCK_RUN or EXIT_RUN record (with the
/// wake that waits in `s.wake`, if any), written open with room for the
/// Run that completes its switch; with the stamp `ts` and `delta` the
/// fast path chose already (and counted in the budget), unless `delta`
/// is `CHOOSE` (a delta of 2^32 or more: a TIME record first). Takes the
/// event's fields, not the event: a reference to it would have every
/// block build it in memory for this cold call.
#[cold]
#[inline(never)]
fn switch_out_full(s: &mut Fast, id: u64, lean: u64, lwp: usize, ts: u64, delta: u64) {
    let (w0, w1) = (format::full_of_lean(lean, lwp), id);
    if s.switch != 0 {
        close(s);
    }
    set_running(s, 0);
    s.expect = 0;
    let (ts, delta) = match (ts, delta) {
        (ts, delta) if delta != CHOOSE => (ts, delta),
        _ if s.skip != 0 => {
            s.skip -= 1;
            (s.last, u64::from(format::UNSTAMPED))
        }
        _ => {
            let ts = stamp(s);
            let d = ts.wrapping_sub(s.last);
            // A delta that would read as UNSTAMPED goes the slow way
            // (TIME).
            (
                ts,
                if d < u64::from(format::UNSTAMPED) {
                    d
                } else {
                    u64::MAX
                },
            )
        }
    };
    // SAFETY: as in `push`.
    let ring = unsafe { &*s.ring };
    // Word 2 (or 4, after the wake) is left unwritten: the Run writes it,
    // or `close` zeroes it (no Run).
    let written = delta >> 32 == 0
        && if s.wake[1] == 0 {
            ring.try_write(
                &mut s.cur,
                [format::with_delta(format::switch_of(w0), delta as u32), w1],
                1,
            )
        } else if ring.try_write(
            &mut s.cur,
            [
                format::with_delta(format::with_wake(w0), delta as u32),
                w1,
                format::wake_run_of_held(s.wake[0], s.lwp),
                s.wake[1],
            ],
            1,
        ) {
            s.wake[1] = 0;
            true
        } else {
            false
        };
    if written {
        s.last = ts;
        s.switch = OPEN;
    } else if push(s, Some(ts), Rec::Two([w0, w1])) {
        // The slow way (a TIME record, a full ring): a record of its own,
        // after the wake's; the Run still takes its stamp.
        s.switch = STAMPED;
    }
}

/// Reads the clock for a stamped switch or spawn, and grants the ones
/// after it their budget of unstamped ones (`unstamped_budget`, from the
/// pace since the stamped one before).
#[inline(always)]
fn stamp(s: &mut Fast) -> u64 {
    let ts = clock::ticks();
    s.granted = unstamped_budget(ts.wrapping_sub(s.switch_at), s.granted + 1, s.fast);
    s.skip = s.granted;
    s.switch_at = ts;
    ts
}

/// A wake of `ult` into this thread's ring of the recording `key`, while
/// only the recording listens (`trace::listen_wake`). Made by the ULT the
/// ring saw run last (`Fast::running`), it takes no clock read and is not
/// written yet: it waits in `Fast::wake` for that ULT's Block or Exit,
/// which carries it (one record for both), or for any other push, which
/// writes it first. The reader places it at the earliest moment that
/// agrees with the woken ULT's own events (after the block it ends), in
/// the window between the ring's stamps around it. A wake made with no
/// ULT running (the LWP's timers, an OS thread) is stamped and names no
/// waker.
/// Returns false, as [`on_event`] does, if this thread's ring is not the
/// recording `key`'s.
#[inline(always)]
pub(super) fn on_wake(key: u64, ult: ThreadId, lwp: Option<usize>, wait: u8) -> bool {
    match fast() {
        Some(s) => on_wake_in(s, key, ult, lwp, wait),
        None => true,
    }
}

/// [`on_wake`] into `s`, this thread's `Fast` (see [`on_event_in`]), for
/// a wake made on any LWP or none: one made by the running ULT is written
/// at once (`wake_by_running_written`), not held, since the LEAN record
/// that would carry it implies the ring's LWP. An LWP's own wakes go
/// through [`on_wake_here`].
#[inline(always)]
pub(super) fn on_wake_in(
    s: &mut Fast,
    key: u64,
    ult: ThreadId,
    lwp: Option<usize>,
    wait: u8,
) -> bool {
    if s.key != key {
        return false;
    }
    if s.running != 0 {
        wake_by_running_written(s, ult, lwp, wait);
    } else {
        on_wake_unstarted(s, ult, lwp, wait);
    }
    true
}

/// [`on_wake_in`] for a wake made on LWP `lwp`, the LWP whose thread this
/// is (`trace::listen_wake_in`): a wake made by the running ULT waits in
/// `s.wake` for that ULT's switch, which is on the same LWP, and goes
/// into its LEAN record (the switch need not compare the LWPs, nor the
/// wake store its LWP: the thread's is `Fast::lwp`).
///
/// `ult`: the woken ULT's id as a number (`ThreadId::as_u64`; the
/// caller's `Tcb::id_bits`, which skips building a `ThreadId` and its
/// non-zero check). The hot path (the ring is `key`'s, a ULT runs, no
/// wake is held yet) is one comparison for the first two (`Fast::live`),
/// one for the third and two stores; the rest is out of line
/// (`on_wake_here_cold`), which takes the wake as the held word, so
/// that nothing else is computed here for it.
#[inline(always)]
pub(super) fn on_wake_here(s: &mut Fast, key: u64, ult: u64, lwp: usize, wait: u8) -> bool {
    debug_assert_eq!(s.live, if s.running != 0 { s.key } else { 0 });
    let held = format::held_wake(wait);
    if s.live == key && s.wake[1] == 0 {
        debug_assert_eq!(s.lwp, lwp as u32, "a wake held for another LWP");
        s.wake = [held, ult];
        return true;
    }
    on_wake_here_cold(s, key, ult, lwp, held)
}

/// [`on_wake_here`]'s other cases: a second wake held (`wake_after_wake`),
/// no ULT running (`on_wake_unstarted`), or another recording's ring
/// (false).
#[cold]
#[inline(never)]
fn on_wake_here_cold(s: &mut Fast, key: u64, ult: u64, lwp: usize, held: u64) -> bool {
    if s.key != key {
        return false;
    }
    let wait = format::wait_of_held(held);
    if s.running != 0 {
        wake_after_wake(s, ult, wait);
    } else {
        on_wake_unstarted(s, id_of(ult), Some(lwp), wait);
    }
    true
}

/// The `ThreadId` of an id given as a number (`on_wake_here`): a live
/// thread's, so never 0.
#[inline]
pub(super) fn id_of(ult: u64) -> ThreadId {
    ThreadId::from_u64(ult).expect("a live thread's id")
}

/// A wake made with no ULT running on this thread (the LWP's timers, an
/// OS thread): stamped, and naming no waker.
#[inline(always)]
fn on_wake_unstarted(s: &mut Fast, ult: ThreadId, lwp: Option<usize>, wait: u8) {
    let e = Event::Wake {
        ult,
        lwp,
        waker: None,
        wait,
    };
    push(s, None, format::encode(&e));
}

/// A wake made by the running ULT on another LWP than this thread's, or
/// on none: written at once as a WAKE_RUN record (after the one held, if
/// any), at the ring's last stamp.
#[cold]
#[inline(never)]
fn wake_by_running_written(s: &mut Fast, ult: ThreadId, lwp: Option<usize>, wait: u8) {
    if s.wake[1] != 0 {
        write_wake(s, s.lwp);
    }
    s.wake = [format::held_wake(wait), ult.as_u64().get()];
    write_wake(s, format::lwp_field(lwp));
}

/// [`on_wake`] for the recording `key` (even), giving the calling thread a
/// ring in it first if it has none.
pub(super) fn on_wake_attaching(key: u64, ult: ThreadId, lwp: Option<usize>, wait: u8) {
    if let Some(s) = fast() {
        if s.key == key || attach(s, key) {
            on_wake(key, ult, lwp, wait);
        }
    }
}

/// A second wake of the running ULT's before its next record (a
/// `notify_all`, a ULT waking several): the one waiting in `s.wake` is
/// written as a record of its own, and this one takes its place; every
/// `UNSTAMPED`th such wake reads the clock instead, so that a burst of
/// wakes is placed within tens of records.
#[cold]
#[inline(never)]
fn wake_after_wake(s: &mut Fast, ult: u64, wait: u8) {
    debug_assert!(s.wake[1] != 0);
    write_wake(s, s.lwp);
    s.unstamped += 1;
    if s.unstamped % UNSTAMPED != 0 {
        s.wake = [format::held_wake(wait), ult];
    } else {
        let e = Event::Wake {
            ult: id_of(ult),
            lwp: format::lwp_of_field(s.lwp),
            waker: ThreadId::from_u64(s.running),
            wait,
        };
        push(s, None, format::encode(&e));
    }
}

/// Pushes `rec` stamped `ts` into the ring of `s` (what waits there goes
/// first, `close`): the fast path is a subtraction, two comparisons, the
/// record's stores and the ring's Release store. `ts` `None`: the clock,
/// read only once the record is known to fit, so that a full ring's
/// dropped events (a writer that falls behind) read no clock. Returns
/// whether it was pushed (false: dropped, counted).
#[inline(always)]
fn push(s: &mut Fast, ts: Option<u64>, rec: Rec) -> bool {
    // An open record goes first, with no Run.
    close(s);
    // SAFETY: `s.ring` was set with `s.key` by `attach`, from the
    // `Arc` that `MINE` holds until this thread attaches to another
    // recording (which rewrites `FAST` first) or its locals are
    // destroyed (`Mine::drop` clears `FAST`).
    let ring = unsafe { &*s.ring };
    // The record's words as scalars: the slow path takes them in
    // registers, so the fast path stores nothing for it.
    let (w0, w1, w2, n) = match rec {
        Rec::Two([w0, w1]) => (w0, w1, 0, 2),
        Rec::Three([w0, w1, w2]) => (w0, w1, w2, 3),
    };
    // The fast path's own check (`try_push`), first: a record that does
    // not fit below the limit asks the ring (cold), and is dropped there
    // before its clock read if there is no room.
    if s.cur.tail + n > s.cur.limit && ring.reserve(&mut s.cur, n).is_none() {
        forget_running(s, w0);
        return false;
    }
    let ts = ts.unwrap_or_else(clock::ticks);
    // A clock that went back (another CPU's TSC) makes a huge delta: the
    // slow path writes a TIME record.
    let delta = ts.wrapping_sub(s.last);
    let pushed = delta < u64::from(format::UNSTAMPED)
        && if n == 2 {
            ring.try_push(&mut s.cur, [format::with_delta(w0, delta as u32), w1])
        } else {
            ring.try_push(&mut s.cur, [format::with_delta(w0, delta as u32), w1, w2])
        };
    if pushed {
        s.last = ts;
        true
    } else {
        push_slow(s, ts, w0, w1, w2, n)
    }
}

/// The push of an event that the fast path refused: the ring's clock
/// jumped 2^32 ticks or more (a TIME record goes first), the ring looked
/// full, or earlier drops wait to be announced.
#[cold]
#[inline(never)]
fn push_slow(s: &mut Fast, ts: u64, w0: u64, w1: u64, w2: u64, len: usize) -> bool {
    // SAFETY: as in `push`.
    let ring = unsafe { &*s.ring };
    let rec = [w0, w1, w2];
    let lwp = format::record_lwp(w0);
    let mut words = [0u64; 5];
    let mut n = 0;
    let mut delta = ts.wrapping_sub(s.last);
    let mut last = ts;
    if delta >= u64::from(format::UNSTAMPED) {
        words[..2].copy_from_slice(&format::encode_time(ts));
        (n, delta, last) = (2, 0, ts);
    }
    let r = &rec[..len];
    words[n..n + r.len()].copy_from_slice(r);
    words[n] = format::with_delta(words[n], delta as u32);
    n += r.len();
    // A mark has delta 0: the drops came after the ring's last record.
    if ring.push_slow(&mut s.cur, &words[..n], |c| format::encode_dropped(lwp, c)) {
        s.last = last;
        if ring.used(&s.cur) >= ring.capacity() / 2 {
            wake_writer();
        }
        true
    } else {
        forget_running(s, w0);
        false
    }
}

/// Sets the ring's running ULT (`Fast::running`; 0: none) and `live`
/// with it.
#[inline(always)]
fn set_running(s: &mut Fast, id: u64) {
    s.running = id;
    s.live = if id != 0 { s.key } else { 0 };
}

/// After a dropped record whose first word is `w0`: the reader forgets the
/// running ULT at the DROPPED mark that announces the loss, so does the
/// ring; and the drop report (`stop`) learns which LWP lost events.
#[cold]
fn forget_running(s: &mut Fast, w0: u64) {
    set_running(s, 0);
    wake_writer();
    if let Some(l) = format::record_lwp(w0) {
        // SAFETY: as in `push`.
        unsafe { &*s.ring }.lwp.store(l as u32, Relaxed);
    }
}

/// Records the name and priority of the thread `ult` just spawned, if a
/// recording runs (the spawn calls it, after its Spawn event, for a thread
/// with a name or a priority other than the default: the reader assumes
/// the default for the others).
pub(crate) fn name_thread(ult: ThreadId, name: Option<&str>, priority: u8) {
    if EPOCH.load(Relaxed) == 0 {
        return;
    }
    if let Some(s) = fast() {
        // Only into a ring this thread already has: its Spawn event, just
        // before, attached it.
        if s.key == 0 || s.key != key(EPOCH.load(Acquire)) {
            return;
        }
        close(s);
        let (words, n) = format::encode_name(ult, name.unwrap_or(""), priority);
        // SAFETY: as in `on_event`: `MINE` holds the ring of `s.epoch`.
        let ring = unsafe { &*s.ring };
        // Delta 0: named at its Spawn's time.
        if !ring.push_slow(&mut s.cur, &words[..n], |c| format::encode_dropped(None, c)) {
            set_running(s, 0);
        }
    }
}

/// Gives the calling thread a ring in the recording of `key` and points
/// `s` at it; returns false if that recording ended or the thread's
/// locals are gone.
#[cold]
#[inline(never)]
fn attach(s: &mut Fast, key: u64) -> bool {
    if s.key != 0 {
        // Into the ring of the recording it belongs to, still held by
        // `MINE`.
        close(s);
    }
    let epoch = key >> 1;
    let Some((ring, start, fast)) = new_ring(epoch) else {
        return false;
    };
    let p = Arc::as_ptr(&ring);
    if MINE
        .try_with(|m| m.borrow_mut().0 = Some((epoch, ring)))
        .is_err()
    {
        return false;
    }
    *s = Fast {
        key,
        ring: p,
        // Limit 0: the first push loads `head` (the slow path).
        cur: Cursor::default(),
        last: start,
        switch: 0,
        running: 0,
        live: 0,
        unstamped: 0,
        wake: [0; 2],
        lwp: s.lwp,
        lean_unstamped: format::LEAN_UNSTAMPED,
        expect: 0,
        skip: 0,
        granted: 0,
        switch_at: start,
        fast,
    };
    true
}

/// A ring for the calling thread in the recording of `epoch`, the
/// recording's start (the ring's clock before its first record) and its
/// `Recorder::fast`.
#[cold]
fn new_ring(epoch: u64) -> Option<(Arc<Ring>, u64, u64)> {
    let cur = RECORDER.lock().unwrap_or_else(|e| e.into_inner());
    let rec = cur.as_ref().filter(|r| r.epoch == epoch)?;
    let ring = Arc::new(Ring::new(rec.ring * 2));
    rec.rings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ring.clone());
    Some((ring, rec.start, rec.fast))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn switches_faster_than_the_pace_let_the_next_run_go_unstamped() {
        assert_eq!(unstamped_budget(31, 1, 32), UNSTAMPED_RUN);
        assert_eq!(unstamped_budget(32 * 32 - 1, 32, 32), UNSTAMPED_RUN);
    }

    /// A thread's state recording into `ring` under key `k`, its clock
    /// read now; `fast`: the pace under which a switch counts as fast
    /// (`u64::MAX / 64`: any).
    fn recording_into(ring: &Ring, k: u64, fast: u64) -> Fast {
        let now = clock::ticks();
        Fast {
            key: k,
            ring,
            last: now,
            switch_at: now,
            fast,
            // The LWP of the tests' wakes held (`on_wake_here`).
            lwp: 0,
            ..NO_FAST
        }
    }

    /// A ring's records as a trace file, read back.
    fn read_back(ring: &Ring) -> format::Trace {
        let mut b = format::header(1 << 20, 0, ring.capacity()).to_vec();
        ring.drain_runs(|_, x, y| format::write_chunk(&mut b, 0, [x, y]))
            .unwrap();
        format::parse(&b).unwrap()
    }

    #[test]
    fn a_fast_ping_pong_recorded_mostly_unstamped_reads_back_event_for_event() {
        use crate::thread::id::BlockReason;
        let ring = Ring::new(1 << 14);
        let k = key(1);
        // Any pace counts as fast.
        let mut s = recording_into(&ring, k, u64::MAX / 64);
        let now = s.last;
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let block = |ult, wait| Event::Block {
            ult,
            lwp: 0,
            reason: BlockReason::Park,
            wait,
        };
        let run = |ult| Event::Run { ult, lwp: 0 };
        let mut emitted = Vec::new();
        let mut event = |s: &mut Fast, e: Event| {
            emitted.push(e);
            match e {
                Event::Wake {
                    ult,
                    lwp: Some(l),
                    wait,
                    ..
                } => assert!(on_wake_here(s, k, ult.as_u64().get(), l, wait)),
                e => assert!(on_event_in(s, k, &e)),
            }
        };
        event(&mut s, run(b));
        event(&mut s, block(b, 0));
        event(&mut s, run(a));
        for w in 0..100u8 {
            for (me, other, next) in [(a, b, w), (b, a, w.wrapping_add(1))] {
                let wake = Event::Wake {
                    ult: other,
                    lwp: Some(0),
                    waker: Some(me),
                    wait: w,
                };
                event(&mut s, wake);
                event(&mut s, block(me, if me == a { w } else { next }));
                event(&mut s, run(other));
            }
        }
        assert_eq!(s.granted, UNSTAMPED_RUN, "the switches went unstamped");
        close(&mut s);
        assert_eq!(ring.dropped.load(Relaxed), 0);
        let t = read_back(&ring);
        let elapsed = clock::ticks() - now;
        assert_eq!(t.entries.len(), emitted.len());
        // The header's scale is 1: ns are the ticks since `now`. An
        // unstamped switch adds nothing to the ring's clock.
        assert!(t.entries.iter().all(|e| e.ns <= elapsed), "past the end");
        // Each ULT's own events (its Runs, Blocks and the Wakes of it) in
        // the order they were emitted; a wake's place among the other
        // ULT's events is the reader's (just after the Block it ends).
        for u in [a, b] {
            let of = |es: &mut dyn Iterator<Item = Event>| -> Vec<Event> {
                es.filter(|e| match *e {
                    Event::Run { ult, .. } | Event::Block { ult, .. } | Event::Wake { ult, .. } => {
                        ult == u
                    }
                    _ => false,
                })
                .collect()
            };
            let got = of(&mut t.entries.iter().map(|e| e.event));
            assert!(
                got == of(&mut emitted.iter().copied()),
                "ULT {u:?}: {got:?}"
            );
        }
        assert!(
            t.entries.windows(2).all(|p| p[0].ns <= p[1].ns),
            "times out of order"
        );
    }

    #[test]
    fn a_run_of_another_ult_than_the_woken_one_is_recorded_on_its_own() {
        use crate::thread::id::BlockReason;
        let ring = Ring::new(1 << 10);
        let k = key(1);
        let mut s = recording_into(&ring, k, NO_FAST.fast);
        let (a, b, c) = (
            ThreadId::new(1, 1),
            ThreadId::new(2, 1),
            ThreadId::new(3, 1),
        );
        let emitted = [
            Event::Run { ult: a, lwp: 0 },
            Event::Wake {
                ult: b,
                lwp: Some(0),
                waker: Some(a),
                wait: 2,
            },
            Event::Block {
                ult: a,
                lwp: 0,
                reason: BlockReason::Park,
                wait: 1,
            },
            // Not `b`, which `a` woke: the LEAN_WOKE record goes without
            // its Run.
            Event::Run { ult: c, lwp: 0 },
        ];
        for e in emitted {
            match e {
                Event::Wake { ult, lwp, wait, .. } => {
                    assert!(on_wake_here(
                        &mut s,
                        k,
                        ult.as_u64().get(),
                        lwp.unwrap(),
                        wait
                    ))
                }
                e => assert!(on_event_in(&mut s, k, &e)),
            }
        }
        close(&mut s);
        let got: Vec<Event> = read_back(&ring).entries.iter().map(|e| e.event).collect();
        assert_eq!(got, emitted);
    }

    #[test]
    fn a_wake_made_on_another_lwp_than_the_switch_is_recorded_with_its_own() {
        use crate::thread::id::BlockReason;
        let ring = Ring::new(1 << 10);
        let k = key(1);
        let mut s = recording_into(&ring, k, NO_FAST.fast);
        let (a, b) = (ThreadId::new(1, 1), ThreadId::new(2, 1));
        let emitted = [
            Event::Run { ult: a, lwp: 0 },
            // Held for `a`'s Block, which a LEAN record would place on
            // LWP 0, the ring's: it goes whole instead.
            Event::Wake {
                ult: b,
                lwp: Some(1),
                waker: Some(a),
                wait: 2,
            },
            Event::Block {
                ult: a,
                lwp: 0,
                reason: BlockReason::Park,
                wait: 1,
            },
            Event::Run { ult: b, lwp: 0 },
        ];
        for e in emitted {
            match e {
                Event::Wake { ult, lwp, wait, .. } => {
                    assert!(on_wake_in(&mut s, k, ult, lwp, wait))
                }
                Event::Run { ult, .. } => {
                    if !run_in(&mut s, || ult) {
                        assert!(on_event_in(&mut s, k, &e));
                    }
                }
                Event::Block {
                    ult,
                    reason,
                    wait,
                    lwp,
                } => assert!(switch_out_in(
                    &mut s,
                    k,
                    || ult.as_u64().get(),
                    format::lean_block(reason, wait),
                    lwp
                )),
                e => assert!(on_event_in(&mut s, k, &e)),
            }
        }
        close(&mut s);
        let got: Vec<Event> = read_back(&ring).entries.iter().map(|e| e.event).collect();
        assert_eq!(got, emitted);
    }

    #[test]
    fn a_direct_switch_writes_its_run_with_its_block() {
        use crate::thread::id::BlockReason;
        let ring = Ring::new(1 << 10);
        let k = key(1);
        // Any pace counts as fast: the switches after the first go
        // unstamped.
        let mut s = recording_into(&ring, k, u64::MAX / 64);
        let (a, b, c) = (
            ThreadId::new(1, 1),
            ThreadId::new(2, 1),
            ThreadId::new(3, 1),
        );
        let block = |ult, wait| Event::Block {
            ult,
            lwp: 0,
            reason: BlockReason::Park,
            wait,
        };
        let wake = |ult, waker, wait| Event::Wake {
            ult,
            lwp: Some(0),
            waker: Some(waker),
            wait,
        };
        let run = |ult| Event::Run { ult, lwp: 0 };
        // (the event, the ULT a direct switch runs next)
        let script = [
            (run(a), None),
            // Stamped (the first): the ordinary way, its record open.
            (block(a, 1), Some(b)),
            (run(b), None),
            // A ping-pong's switch: the ULT it woke runs next.
            (wake(a, b, 1), None),
            (block(b, 1), Some(a)),
            (run(a), None),
            // No wake: the record's last word is the Run's.
            (block(a, 2), Some(b)),
            (run(b), None),
            // A wake of another ULT than the next: the ordinary way (a
            // LEAN_WOKE record without its Run, then the Run).
            (wake(c, b, 7), None),
            (block(b, 2), Some(a)),
            (run(a), None),
        ];
        let mut emitted = Vec::new();
        let mut switches = Vec::new();
        for (e, next) in script {
            emitted.push(e);
            match e {
                Event::Wake {
                    ult,
                    lwp: Some(l),
                    wait,
                    ..
                } => assert!(on_wake_here(&mut s, k, ult.as_u64().get(), l, wait)),
                Event::Block {
                    ult,
                    reason,
                    wait,
                    lwp,
                } => {
                    let lean = format::lean_block(reason, wait);
                    let next = next.map_or(0, |t: ThreadId| t.as_u64().get());
                    let tail = s.cur.tail;
                    let bits = || format::lean_block_bits(reason, wait);
                    if !switch_to_in(&mut s, k, bits, lwp, || next) {
                        assert!(switch_out_in(&mut s, k, || ult.as_u64().get(), lean, lwp));
                    }
                    switches.push((s.switch, s.cur.tail - tail));
                }
                Event::Run { ult, .. } => {
                    if !run_in(&mut s, || ult) {
                        assert!(on_event_in(&mut s, k, &e));
                    }
                    assert_eq!(s.switch, 0);
                }
                e => unreachable!("{e:?}"),
            }
        }
        assert_eq!(
            switches,
            [(OPEN, 2), (RAN, 2), (RAN, 2), (OPEN, 2)],
            "direct switches in one published 2-word record"
        );
        close(&mut s);
        assert_eq!(ring.dropped.load(Relaxed), 0);
        let t = read_back(&ring);
        assert_eq!(t.entries.len(), emitted.len());
        // Each ULT's own events in the order they were emitted (a wake's
        // place among the other ULT's events is the reader's).
        for u in [a, b, c] {
            let of = |es: &mut dyn Iterator<Item = Event>| -> Vec<Event> {
                es.filter(|e| match *e {
                    Event::Run { ult, .. } | Event::Block { ult, .. } | Event::Wake { ult, .. } => {
                        ult == u
                    }
                    _ => false,
                })
                .collect()
            };
            let got = of(&mut t.entries.iter().map(|e| e.event));
            assert!(
                got == of(&mut emitted.iter().copied()),
                "ULT {u:?}: {got:?}"
            );
        }
    }

    #[test]
    fn a_held_wake_is_read_back_on_the_lwp_of_its_thread() {
        use crate::thread::id::BlockReason;
        let ring = Ring::new(1 << 10);
        let k = key(1);
        // The thread of LWP 3: its held wakes store no LWP of their own.
        let mut s = Fast {
            lwp: format::lwp_field(Some(3)),
            ..recording_into(&ring, k, NO_FAST.fast)
        };
        let (a, b, c) = (
            ThreadId::new(1, 1),
            ThreadId::new(2, 1),
            ThreadId::new(3, 1),
        );
        let wake = |ult, wait| Event::Wake {
            ult,
            lwp: Some(3),
            waker: Some(a),
            wait,
        };
        let emitted = [
            Event::Run { ult: a, lwp: 3 },
            // Held, then written on its own before the Spawn.
            wake(b, 5),
            Event::Spawn {
                ult: c,
                lwp: Some(3),
            },
            // Held, then written on its own by a second wake, which the
            // Block carries.
            wake(b, 6),
            wake(c, 1),
            Event::Block {
                ult: a,
                lwp: 3,
                reason: BlockReason::Park,
                wait: 2,
            },
            Event::Run { ult: c, lwp: 3 },
        ];
        for e in emitted {
            match e {
                Event::Wake {
                    ult,
                    lwp: Some(l),
                    wait,
                    ..
                } => assert!(on_wake_here(&mut s, k, ult.as_u64().get(), l, wait)),
                Event::Block {
                    ult,
                    reason,
                    wait,
                    lwp,
                } => assert!(switch_out_in(
                    &mut s,
                    k,
                    || ult.as_u64().get(),
                    format::lean_block(reason, wait),
                    lwp
                )),
                Event::Run { ult, .. } if run_in(&mut s, || ult) => {}
                e => assert!(on_event_in(&mut s, k, &e)),
            }
        }
        close(&mut s);
        let t = read_back(&ring);
        assert_eq!(t.entries.len(), emitted.len());
        let wakes: Vec<Event> = t
            .entries
            .iter()
            .map(|e| e.event)
            .filter(|e| matches!(e, Event::Wake { .. }))
            .collect();
        assert_eq!(wakes, [wake(b, 5), wake(b, 6), wake(c, 1)]);
    }

    #[test]
    fn spawns_in_a_row_take_the_budget_of_clock_reads() {
        let ring = Ring::new(1 << 10);
        let k = key(1);
        let mut s = recording_into(&ring, k, u64::MAX / 64);
        let spawns: Vec<Event> = (1..=40)
            .map(|i| Event::Spawn {
                ult: ThreadId::new(i, 1),
                lwp: None,
            })
            .collect();
        for e in &spawns {
            assert!(on_event_in(&mut s, k, e));
        }
        assert_eq!(s.granted, UNSTAMPED_RUN, "the spawns went unstamped");
        let t = read_back(&ring);
        let got: Vec<Event> = t.entries.iter().map(|e| e.event).collect();
        assert_eq!(got, spawns);
        assert!(t.entries.windows(2).all(|p| p[0].ns <= p[1].ns));
    }

    #[test]
    fn a_slow_switch_stamps_every_switch_after_it() {
        assert_eq!(unstamped_budget(32, 1, 32), 0);
        assert_eq!(unstamped_budget(u64::MAX, 32, 32), 0);
        assert_eq!(unstamped_budget(0, 1, 0), 0, "no pace: always stamp");
    }
}

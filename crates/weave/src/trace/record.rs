//! Recording a trace: every event into a per-thread ring, and one
//! background thread that empties the rings into a file.
//!
//! `record(path)` (or `WEAVE_TRACE=path`) starts a recording: `emit`'s hook
//! becomes [`on_event`], which stamps the event (`time::clock::ticks`: the
//! TSC on x86_64, a few ns without a system call) and pushes its 32-byte
//! slot (see `format.rs`) into the calling thread's ring. Each OS thread
//! (so each LWP) has its own ring: a single-producer, single-consumer
//! queue, so that pushing is a few stores and one Release, with no lock
//! and no cache line shared with another LWP. The writer thread (named
//! `weave-trace`) wakes every `DRAIN_EVERY` and copies what each ring holds
//! into the file. [`stop`] drains the rings one last time and closes it.
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

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format;
use super::ring::{self, Ring};
use super::{call_user, set_recording, Event};
use crate::thread::id::ThreadId;
use crate::time::clock;

/// Events per thread's ring by default: 64 Ki slots of 32 bytes, 2 MiB a
/// thread. The writer drains every `DRAIN_EVERY` (5 ms); an LWP switching
/// every 100 ns makes ~4 events per switch at most, 200,000 in 5 ms at
/// worst: rings this size hold a quarter of that burst, and ordinary
/// programs never fill them. Bigger rings cost memory per LWP.
pub const DEFAULT_RING: usize = 1 << 16;

/// How often the writer thread empties the rings.
const DRAIN_EVERY: Duration = Duration::from_millis(5);

/// The LWP of a ring's thread's last event, for the drop report.
fn lwp_of_ring(r: &Ring) -> Option<usize> {
    let l = r.lwp.load(Relaxed);
    (l != ring::NO_LWP).then_some(l as usize)
}

fn drain_into(r: &Ring, out: &mut impl Write) -> io::Result<usize> {
    r.drain_runs(|run| format::write_slots(out, run))
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
}

/// The recording, if one runs.
static RECORDER: Mutex<Option<Arc<Recorder>>> = Mutex::new(None);

/// The epoch of the recording in progress; 0 when none.
static EPOCH: AtomicU64 = AtomicU64::new(0);
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// What a recording wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Slots written to the file (events, names, drop marks).
    pub slots: u64,
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
    let mut out = BufWriter::with_capacity(1 << 20, file);
    // Calibrating the scale takes ~10 ms once: before the first event.
    let scale = clock::ticks_to_ns(1 << 20);
    let ring = ring.next_power_of_two().max(4);
    out.write_all(&format::header(scale, clock::ticks(), ring))?;
    let rec = Arc::new(Recorder {
        epoch: NEXT_EPOCH.fetch_add(1, Relaxed),
        ring,
        rings: Mutex::new(Vec::new()),
        stopping: AtomicBool::new(false),
        writer: Mutex::new(None),
        path: path.display().to_string(),
    });
    let r2 = rec.clone();
    let writer = std::thread::Builder::new()
        .name("weave-trace".into())
        .spawn(move || write_loop(&r2, out))?;
    *rec.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
    // Release pairs with the Acquire load in `on_event`: a thread that
    // sees the epoch finds the recorder in `RECORDER`.
    EPOCH.store(rec.epoch, Release);
    *cur = Some(rec);
    drop(cur);
    set_recording(true);
    Ok(())
}

/// Ends the recording: the last events are written and the file closed.
/// Prints one line to stderr if events were dropped. Returns what was
/// written, or `None` if no recording was in progress.
pub fn stop() -> io::Result<Option<Stats>> {
    let Some(rec) = RECORDER.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Ok(None);
    };
    set_recording(false);
    EPOCH.store(0, Relaxed);
    rec.stopping.store(true, Relaxed);
    let writer = rec.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    let slots = match writer.map(|w| w.join()) {
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
             (weave::trace::record_with)",
            rec.path,
            worst.dropped.load(Relaxed),
            rec.ring
        );
    }
    Ok(Some(Stats {
        slots,
        dropped,
        rings: rings.len(),
    }))
}

/// The writer thread: drains every ring every `DRAIN_EVERY` until told to
/// stop, then once more, then adds a DROPPED record for the losses that
/// no later event announced.
fn write_loop(rec: &Recorder, mut out: BufWriter<File>) -> io::Result<u64> {
    let mut written = 0u64;
    loop {
        let last = rec.stopping.load(Relaxed);
        if last {
            // Threads that loaded the epoch just before `stop` cleared it
            // may still be pushing: give them a moment.
            std::thread::sleep(Duration::from_millis(1));
        }
        let rings: Vec<Arc<Ring>> = rec.rings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for r in &rings {
            written += drain_into(r, &mut out)? as u64;
        }
        if last {
            let now = clock::ticks();
            for r in &rings {
                let n = r.unmarked.swap(0, Relaxed);
                if n != 0 {
                    out.write_all(&format::slot_bytes(&format::encode_dropped(
                        now,
                        lwp_of_ring(r),
                        n,
                    )))?;
                    written += 1;
                }
            }
            out.flush()?;
            return Ok(written);
        }
        std::thread::sleep(DRAIN_EVERY);
    }
}

/// A thread's view of the recording, read on every event: the epoch its
/// ring belongs to, the ring, and the timestamp of the switch in progress.
/// `Copy` and without `Drop`, in a `const` thread-local: reading it is one
/// TLS access, with no lazy registration and no borrow flag (the `RefCell`
/// of `MINE` cost ~40 instructions an event).
#[derive(Clone, Copy)]
struct Fast {
    /// 0: no ring yet (or `MINE` was destroyed with the thread).
    epoch: u64,
    /// Kept alive by the `Arc` in `MINE` while `epoch` is non-zero.
    ring: *const Ring,
    /// The timestamp of this thread's last Block, Exit or LwpBusy, for
    /// the Run that completes the switch; 0 when none is pending.
    stamp: u64,
}

const NO_FAST: Fast = Fast {
    epoch: 0,
    ring: std::ptr::null(),
    stamp: 0,
};

std::thread_local! {
    static FAST: Cell<Fast> = const { Cell::new(NO_FAST) };
}

/// Owns this thread's ring; clears `FAST` when the thread's locals are
/// destroyed, so that `FAST` never points at a freed ring.
struct Mine(Option<(u64, Arc<Ring>)>);

impl Drop for Mine {
    fn drop(&mut self) {
        let _ = FAST.try_with(|f| f.set(NO_FAST));
    }
}

std::thread_local! {
    /// This thread's ring and the epoch it belongs to.
    static MINE: RefCell<Mine> = const { RefCell::new(Mine(None)) };
}

/// Ends the switch in progress on this thread without a Run: the LWP went
/// looking for work (polling, trimming, searching, sleeping), so the next
/// Run takes a timestamp of its own instead of the Block's. One TLS write.
#[inline]
pub(crate) fn end_switch() {
    let _ = FAST.try_with(|f| {
        let mut s = f.get();
        s.stamp = 0;
        f.set(s);
    });
}

/// The hook `emit` calls while a recording runs: the event into this
/// thread's ring, then the user's hook. Runs in the middle of switches:
/// no lock and no allocation except the first event of a thread (which
/// creates its ring).
///
/// One clock read per event, except for a Run that completes a switch: it
/// takes the timestamp of the Block or Exit just before it on the same
/// LWP (or of the LwpBusy that ended an idle sleep), because the switch
/// between them is one moment of the timeline (tens of ns). The clock read
/// is most of an event's cost on a VM (~20 ns for `rdtsc`), and a ping-pong
/// switches after every Block. `end_switch` breaks the pair when the LWP
/// does anything slow in between.
pub(super) fn on_event(e: &Event) {
    let epoch = EPOCH.load(Acquire);
    if epoch != 0 {
        let _ = FAST.try_with(|f| {
            let mut s = f.get();
            if s.epoch != epoch {
                match attach(epoch) {
                    Some(ring) => {
                        s = Fast {
                            epoch,
                            ring,
                            stamp: 0,
                        }
                    }
                    None => return,
                }
            }
            let ts = match (e, s.stamp) {
                (Event::Run { .. }, stamp) if stamp != 0 => stamp,
                _ => clock::ticks(),
            };
            s.stamp = match e {
                Event::Block { .. } | Event::Exit { .. } | Event::LwpBusy { .. } => ts,
                _ => 0,
            };
            f.set(s);
            // SAFETY: `s.ring` was set with `s.epoch` by `attach`, from the
            // `Arc` that `MINE` holds until this thread attaches to another
            // recording (which rewrites `FAST` first) or its locals are
            // destroyed (`Mine::drop` clears `FAST`).
            let ring = unsafe { &*s.ring };
            let slot = format::encode(ts, e);
            let lwp = format::slot_lwp(&slot);
            if !ring.push(&[slot], |n| format::encode_dropped(ts, lwp, n)) {
                if let Some(l) = lwp {
                    // For the drop report (`stop`): which LWP lost events.
                    ring.lwp.store(l as u32, Relaxed);
                }
            }
        });
    }
    call_user(e);
}

/// Records the name and priority of the thread `ult` just spawned, if a
/// recording runs (the spawn calls it, after its Spawn event, for a thread
/// with a name or a priority other than the default: the reader assumes
/// the default for the others).
pub(crate) fn name_thread(ult: ThreadId, name: Option<&str>, priority: u8) {
    if EPOCH.load(Relaxed) == 0 {
        return;
    }
    let _ = FAST.try_with(|f| {
        let s = f.get();
        // Only into a ring this thread already has: its Spawn event, just
        // before, attached it.
        if s.epoch == 0 || s.epoch != EPOCH.load(Acquire) {
            return;
        }
        let ts = clock::ticks();
        let (slots, n) = format::encode_name(ts, ult, name.unwrap_or(""), priority);
        // SAFETY: as in `on_event`: `MINE` holds the ring of `s.epoch`.
        let ring = unsafe { &*s.ring };
        ring.push(&slots[..n], |c| format::encode_dropped(ts, None, c));
    });
}

/// Gives the calling thread a ring in the recording of `epoch`; returns
/// it, or `None` if that recording ended or the thread's locals are gone.
#[cold]
fn attach(epoch: u64) -> Option<*const Ring> {
    let ring = new_ring(epoch)?;
    let p = Arc::as_ptr(&ring);
    MINE.try_with(|m| m.borrow_mut().0 = Some((epoch, ring)))
        .ok()?;
    Some(p)
}

/// A ring for the calling thread in the recording of `epoch`.
#[cold]
fn new_ring(epoch: u64) -> Option<Arc<Ring>> {
    let cur = RECORDER.lock().unwrap_or_else(|e| e.into_inner());
    let rec = cur.as_ref().filter(|r| r.epoch == epoch)?;
    let ring = Arc::new(Ring::new(rec.ring));
    rec.rings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ring.clone());
    Some(ring)
}

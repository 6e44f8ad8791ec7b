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
//! Thread names come through a function the start-up installs
//! ([`set_namer`]), so this file does not name the thread table.

use std::cell::{RefCell, UnsafeCell};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format::{self, Slot};
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

/// A function that gives a thread's name and priority at spawn: installed
/// by the runtime's start-up (the thread table is above this layer).
pub(crate) type Namer = fn(ThreadId) -> Option<(Option<Arc<str>>, u8)>;

static NAMER: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Installs the function that names threads in a trace.
pub(crate) fn set_namer(f: Namer) {
    // Release pairs with the Acquire load in `name_of`.
    NAMER.store(f as *mut (), Release);
}

fn name_of(id: ThreadId) -> Option<(Option<Arc<str>>, u8)> {
    let p = NAMER.load(Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: `NAMER` only holds null (checked) or a `Namer` stored by
    // `set_namer`.
    let f: Namer = unsafe { std::mem::transmute::<*mut (), Namer>(p) };
    f(id)
}

/// One thread's ring: single producer (the thread), single consumer (the
/// writer thread).
struct Ring {
    slots: Box<[UnsafeCell<Slot>]>,
    mask: usize,
    /// Next slot the writer reads. Written by the writer only.
    head: AtomicUsize,
    /// Next slot the thread writes. Written by the thread only.
    tail: AtomicUsize,
    /// Events dropped in all (the thread adds, anyone reads).
    dropped: AtomicU64,
    /// Dropped events not yet announced by a DROPPED record.
    unmarked: AtomicU64,
    /// The LWP of the thread's last event, for the drop report.
    lwp: AtomicU32,
}

// SAFETY: a slot is written only by the producer between `head` and
// `tail + capacity` (it owns them), and read only by the consumer between
// `head` and `tail` after the Acquire load of `tail`; the Release/Acquire
// pairs on `tail` and `head` hand each slot over.
unsafe impl Sync for Ring {}
// SAFETY: as above.
unsafe impl Send for Ring {}

const NO_LWP: u32 = u32::MAX;

impl Ring {
    fn new(capacity: usize) -> Ring {
        let capacity = capacity.next_power_of_two().max(4);
        // Zeroed memory straight from the allocator (`vec!` of zeros asks
        // for it): the pages are touched only as events fill them, so the
        // first event of a thread does not pay for writing 2 MiB.
        let zeros: Box<[Slot]> = vec![[0u64; 4]; capacity].into_boxed_slice();
        // SAFETY: `UnsafeCell<T>` has the same layout as `T`
        // (`repr(transparent)`), so the slice's pointer and length describe
        // the same allocation as a slice of cells.
        let slots = unsafe { Box::from_raw(Box::into_raw(zeros) as *mut [UnsafeCell<Slot>]) };
        Ring {
            slots,
            mask: capacity - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            unmarked: AtomicU64::new(0),
            lwp: AtomicU32::new(NO_LWP),
        }
    }

    fn lwp(&self) -> Option<usize> {
        let l = self.lwp.load(Relaxed);
        (l != NO_LWP).then_some(l as usize)
    }

    /// Pushes `slots` whole, or drops them (counted). Producer only.
    #[inline]
    fn push(&self, slots: &[Slot]) {
        let tail = self.tail.load(Relaxed);
        // Acquire pairs with the writer's Release store of `head`: the
        // slots it has read are free to overwrite.
        let head = self.head.load(Acquire);
        let unmarked = self.unmarked.load(Relaxed);
        let extra = usize::from(unmarked != 0);
        if tail - head + slots.len() + extra > self.mask + 1 {
            self.dropped.fetch_add(1, Relaxed);
            self.unmarked.fetch_add(1, Relaxed);
            return;
        }
        let mut t = tail;
        if unmarked != 0 {
            self.unmarked.fetch_sub(unmarked, Relaxed);
            let mark = format::encode_dropped(slots[0][0], self.lwp(), unmarked);
            // SAFETY: slot `t` lies between `head` and `head + capacity`:
            // the writer does not read it until `tail` passes it.
            unsafe { *self.slots[t & self.mask].get() = mark };
            t += 1;
        }
        for s in slots {
            // SAFETY: as above.
            unsafe { *self.slots[t & self.mask].get() = *s };
            t += 1;
        }
        // Release pairs with the writer's Acquire load of `tail`.
        self.tail.store(t, Release);
    }

    /// Appends what the ring holds to `out`. Consumer only.
    fn drain(&self, out: &mut impl Write) -> io::Result<usize> {
        let head = self.head.load(Relaxed);
        // Acquire pairs with the Release store in `push`.
        let tail = self.tail.load(Acquire);
        for i in head..tail {
            // SAFETY: between `head` and `tail`: written and published by
            // the producer, not overwritten until `head` moves past it.
            let s = unsafe { *self.slots[i & self.mask].get() };
            out.write_all(&format::slot_bytes(&s))?;
        }
        // Release pairs with the Acquire load of `head` in `push`.
        self.head.store(tail, Release);
        Ok(tail - head)
    }
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

std::thread_local! {
    /// This thread's ring and the epoch it belongs to.
    static MINE: RefCell<Option<(u64, Arc<Ring>)>> = const { RefCell::new(None) };
}

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
        let on = worst
            .lwp()
            .map_or("an OS thread".to_string(), |l| format!("LWP {l}"));
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
            written += r.drain(&mut out)? as u64;
        }
        if last {
            let now = clock::ticks();
            for r in &rings {
                let n = r.unmarked.swap(0, Relaxed);
                if n != 0 {
                    out.write_all(&format::slot_bytes(&format::encode_dropped(
                        now,
                        r.lwp(),
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

/// The hook `emit` calls while a recording runs: the event into this
/// thread's ring, then the user's hook. Runs in the middle of switches:
/// no lock and no allocation except the first event of a thread (which
/// creates its ring).
pub(super) fn on_event(e: &Event) {
    let ts = clock::ticks();
    let epoch = EPOCH.load(Acquire);
    if epoch != 0 {
        let _ = MINE.try_with(|m| {
            let mut m = m.borrow_mut();
            let ring = match &*m {
                Some((ep, r)) if *ep == epoch => r,
                _ => match new_ring(epoch) {
                    Some(r) => &m.insert((epoch, r)).1,
                    None => return,
                },
            };
            if let Some(l) = lwp_of(e) {
                ring.lwp.store(l as u32, Relaxed);
            }
            ring.push(&[format::encode(ts, e)]);
            if let Event::Spawn { ult, .. } = *e {
                if let Some((name, prio)) = name_of(ult) {
                    let (slots, n) =
                        format::encode_name(ts, ult, name.as_deref().unwrap_or(""), prio);
                    ring.push(&slots[..n]);
                }
            }
        });
    }
    call_user(e);
}

/// The LWP an event happened on, if it says.
fn lwp_of(e: &Event) -> Option<usize> {
    match *e {
        Event::Run { lwp, .. }
        | Event::Block { lwp, .. }
        | Event::Exit { lwp, .. }
        | Event::Preempt { lwp }
        | Event::LwpStart { lwp, .. }
        | Event::LwpExit { lwp }
        | Event::LwpIdle { lwp }
        | Event::LwpBusy { lwp }
        | Event::TimerFired { lwp, .. } => Some(lwp),
        Event::Steal { to, .. } => Some(to),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(i: u64) -> Slot {
        [i, 2, 0, 0]
    }

    #[test]
    fn a_full_ring_drops_and_announces_the_count_with_the_next_event() {
        let r = Ring::new(4);
        for i in 0..6 {
            r.push(&[slot(i)]);
        }
        assert_eq!(r.dropped.load(Relaxed), 2);
        let mut out = Vec::new();
        assert_eq!(r.drain(&mut out).unwrap(), 4);
        r.push(&[slot(9)]);
        out.clear();
        assert_eq!(r.drain(&mut out).unwrap(), 2);
        // The DROPPED mark (kind 16) with its count, then the event.
        assert_eq!(out[8], 16);
        assert_eq!(u64::from_le_bytes(out[24..32].try_into().unwrap()), 2);
        assert_eq!(u64::from_le_bytes(out[32..40].try_into().unwrap()), 9);
    }

    #[test]
    fn a_drained_ring_takes_events_again_across_the_wrap() {
        let r = Ring::new(4);
        let mut out = Vec::new();
        for round in 0..5u64 {
            for i in 0..3 {
                r.push(&[slot(round * 10 + i)]);
            }
            out.clear();
            assert_eq!(r.drain(&mut out).unwrap(), 3);
            assert_eq!(
                u64::from_le_bytes(out[64..72].try_into().unwrap()),
                round * 10 + 2
            );
        }
        assert_eq!(r.dropped.load(Relaxed), 0);
    }
}

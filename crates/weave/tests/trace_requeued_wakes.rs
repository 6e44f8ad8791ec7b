//! Wakes that find their ULT still switching out are in a recorded trace,
//! between the Block they end and the Run after it. A ULT that blocks is
//! BLOCKING until its LWP, off the ULT's stack, commits the block; a
//! waker that comes in between ends the wait without queueing the ULT
//! (its LWP requeues it). `unpark` and a cancellation request hold no wake
//! token and take that path through their own code.
//!
//! To put the wake in that window every time, a hook installed beside the
//! recording makes it from inside the ULT's own Block event: the hook runs
//! on the blocking ULT after the recorder has the Block and before the ULT
//! switches out. (Hooks are told not to call back into weave: `unpark`
//! and `request_cancel` neither block nor switch, which is what that rule
//! protects; the test accepts the hook seeing its own Wake re-entrantly.)
//!
//! One recording and one hook run at a time in a process: the tests take
//! a lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

use weave::thread::{self, BlockReason, Thread, ThreadId};
use weave::trace::{self, format, Event};

static ONE_RECORDING: Mutex<()> = Mutex::new(());

/// How the hook ends the target's wait.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Unpark,
    Cancel,
}

/// The ULT whose first park the hook ends, and how.
static TARGET: Mutex<Option<(Thread, By)>> = Mutex::new(None);
static FIRED: AtomicBool = AtomicBool::new(false);
/// The target's id, once its Exit event is recorded (0 until then).
static EXITED: AtomicU64 = AtomicU64::new(0);

fn hook(e: &Event) {
    match *e {
        Event::Block {
            ult,
            reason: BlockReason::Park,
            ..
        } => {
            let target = TARGET.lock().unwrap().clone();
            if let Some((t, by)) = target {
                if t.id() == ult && !FIRED.swap(true, SeqCst) {
                    match by {
                        By::Unpark => t.unpark(),
                        By::Cancel => {
                            t.request_cancel();
                        }
                    }
                }
            }
        }
        Event::Exit { ult, .. } => {
            let target = TARGET.lock().unwrap().clone();
            if target.is_some_and(|(t, _)| t.id() == ult) {
                EXITED.store(ult.as_u64().get(), SeqCst);
            }
        }
        _ => {}
    }
}

/// Records a ULT that parks once (inside a cancellation point for
/// `By::Cancel`) while the hook ends that park `by` from inside its Block
/// event; returns the trace and the ULT's id.
fn trace_a_park_ended_during_its_switch_out(by: By, name: &str) -> (format::Trace, ThreadId) {
    let path = std::env::temp_dir().join(format!(
        "weave-{}-requeued-{name}.trace",
        std::process::id()
    ));
    FIRED.store(false, SeqCst);
    EXITED.store(0, SeqCst);
    trace::record(&path).unwrap();
    trace::set_hook(Some(hook));
    let h = thread::spawn(move || {
        // The hook's target is this ULT, from before its park.
        *TARGET.lock().unwrap() = Some((thread::current(), by));
        match by {
            By::Unpark => thread::park(),
            By::Cancel => {
                thread::cancellation_point(thread::park);
            }
        }
    });
    let t = h.thread().id();
    h.join().unwrap();
    // `join` returns before the LWP records the exit: the Run after the
    // wake comes before that Exit in the ring.
    while EXITED.load(SeqCst) != t.as_u64().get() {
        thread::yield_now();
    }
    trace::set_hook(None);
    *TARGET.lock().unwrap() = None;
    trace::stop().unwrap().expect("a recording was running");
    assert!(FIRED.load(SeqCst), "the hook saw the park's Block");
    let tr = format::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(tr.dropped_total(), 0);
    (tr, t)
}

/// The target's Block (a park), the Wake that names its wait and the Run
/// after it, by their places in the trace.
fn block_wake_run(tr: &format::Trace, t: ThreadId) -> (usize, usize, usize) {
    let block = tr
        .entries
        .iter()
        .position(
            |e| matches!(e.event, Event::Block { ult, reason: BlockReason::Park, .. } if ult == t),
        )
        .expect("the park's Block is recorded");
    let Event::Block { wait, .. } = tr.entries[block].event else {
        unreachable!()
    };
    let wake = tr
        .entries
        .iter()
        .position(|e| matches!(e.event, Event::Wake { ult, wait: w, .. } if ult == t && w == wait))
        .expect("the wake that found the ULT switching out is recorded");
    let run = tr.entries[block..]
        .iter()
        .position(|e| matches!(e.event, Event::Run { ult, .. } if ult == t))
        .map(|i| block + i)
        .expect("the ULT ran again");
    (block, wake, run)
}

/// Records a park ended `by` during its switch-out and checks where its
/// wake landed.
fn check_the_wake_is_between_the_block_and_the_run(by: By, name: &str) {
    let _one = ONE_RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let (tr, t) = trace_a_park_ended_during_its_switch_out(by, name);
    let (block, wake, run) = block_wake_run(&tr, t);
    assert!(
        block < wake && wake < run,
        "Block at {block}, Wake at {wake}, Run at {run}"
    );
}

#[test]
fn an_unpark_during_switch_out_is_recorded_between_the_block_and_the_run() {
    check_the_wake_is_between_the_block_and_the_run(By::Unpark, "unpark");
}

#[test]
fn a_cancellation_during_switch_out_is_recorded_between_the_block_and_the_run() {
    check_the_wake_is_between_the_block_and_the_run(By::Cancel, "cancel");
}

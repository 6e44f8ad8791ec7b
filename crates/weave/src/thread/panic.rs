//! Panics on ULTs, made to look and count as std's: the report a panic
//! prints, and `std::thread::panicking()` per ULT. Owns weave's panic hook,
//! the marker frame that ends a ULT's short backtrace, and the moving of
//! std's panic count at each switch. Must not touch queues or states: the
//! LWP calls [`switch_in`] and [`switch_out`] around each resume, and that
//! is all the engine knows of it.
//!
//! ## The report
//!
//! std's default hook names the OS thread, which on weave is the LWP. If the
//! hook in force when the runtime starts is std's default, weave puts its
//! own in its place: for a panic on a ULT it prints std's report with the
//! ULT's name (or `<unnamed>`) and id,
//!
//! ```text
//! thread 'worker' (ULT 12) panicked at src/main.rs:7:14:
//! boom
//! note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
//! ```
//!
//! and honours `RUST_BACKTRACE` as std does (read once): unset or `0`, the
//! note on the first panic; `full`, every frame; anything else, the frames
//! between the panic machinery and the ULT's entry (which is a
//! `__rust_begin_short_backtrace` frame, as std's thread start is, so std's
//! own printer stops there too). Panics on OS threads go to std's default
//! hook. A hook the program had set before is left alone, and one it sets
//! later replaces weave's (as std's does): either way that hook runs for
//! ULT panics. weave needs nothing else from a hook.
//!
//! ## `panicking()` per ULT
//!
//! std counts the panics in flight per OS thread, in a private thread-local
//! (`panic_count` in std's `panicking.rs`): `panic!` and `resume_unwind`
//! add one on the thread that raises, `catch_unwind` takes one off on the
//! thread that catches. A ULT that blocks in a destructor while it unwinds
//! would leave its count on the LWP, and every ULT run there next would see
//! `std::thread::panicking() == true` and poison the weave (or std) locks
//! it drops. So the count moves with the ULT, through public calls only:
//!
//! 1. A *lender* is a small coroutine that called `resume_unwind` inside a
//!    `catch_unwind` and is parked in a destructor during that unwinding (a
//!    ULT blocked while unwinding is in the same state). Raising it added
//!    one to the count of the thread that ran it.
//! 2. [`switch_out`]: when a ULT switches out while its LWP's count is not
//!    zero, the LWP resumes spare lenders until `panicking()` is false: each
//!    finishes its unwind into its `catch_unwind`, which takes one off this
//!    LWP's count. The number taken is the ULT's share, kept in its TCB.
//! 3. [`switch_in`]: before a ULT with a share `n` runs again (on this LWP
//!    or, migratable, another), the LWP raises `n` new lenders there and
//!    keeps them as spares. The ULT's own `catch_unwind`s later take those
//!    `n` off, wherever it then runs.
//!
//! Counts balance: every lender adds one where it is raised and takes one
//! off where it is resumed, and each move pairs a take-off on the old LWP
//! with a raise on the new. The first spares are raised on a short-lived
//! helper OS thread, whose count nobody reads (a thread's count dies with
//! it); afterwards step 3 refills the spares. A lender holds no thread-local
//! borrow (std reads its count afresh at each raise and catch), which is
//! what makes resuming it on another OS thread sound. While lenders are
//! parked, std's global panic count is non-zero, so `panicking()` reads its
//! thread-local instead of one global load: a few ns, at switches where a
//! ULT was unwinding and in code that asks.
//!
//! A ULT that asks `panicking()` while it runs, and weave's locks when they
//! decide to poison, get the ULT's own answer. If no lender can be made (no
//! memory for its stack, no helper thread), the count stays where it is, as
//! before this mechanism; restoring one is fatal (the ULT's later catch would
//! wrap its LWP's count below zero).

use std::any::Any;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::tcb::Tcb;

/// Whether the calling thread is unwinding because of a panic, as
/// `std::thread::panicking`. On a ULT both answer for that ULT alone: weave
/// moves std's count with each ULT at every switch, so a ULT that blocks while unwinding does not make the
/// others on its LWP look panicking.
pub fn panicking() -> bool {
    std::thread::panicking()
}

/// Runs `f`. Its frame ends the short backtrace of a panic on a ULT: std's
/// printer, and weave's hook, stop at a frame whose name contains
/// `__rust_begin_short_backtrace`, as they do at std's own thread start.
#[inline(never)]
pub(crate) fn __rust_begin_short_backtrace<R>(f: impl FnOnce() -> R) -> R {
    let r = f();
    // Keeps this frame from becoming a tail call, so it is on the stack.
    std::hint::black_box(());
    r
}

// ---- the report ----------------------------------------------------------

/// Puts weave's hook in place of std's default one, if the default one is in
/// force. Called once, when the runtime starts.
pub(crate) fn install_hook() {
    // `take_hook` and `set_hook` panic on a thread that is panicking (the
    // runtime may start from a destructor): keep std's hook then.
    if std::thread::panicking() {
        return;
    }
    let current = std::panic::take_hook();
    // The first take reset the hook to std's default: take that one too.
    let default = std::panic::take_hook();
    // std hands out its default hook as a box of the same zero-sized fn
    // item each time, so the two boxes share address and vtable exactly
    // when `current` was the default. A program's own hook is another type.
    let is_default = std::ptr::eq(&*current as *const _, &*default as *const _);
    if !is_default {
        std::panic::set_hook(current);
        return;
    }
    drop(current);
    std::panic::set_hook(Box::new(move |info| match super::current::running() {
        Some(tcb) => report(tcb, info.location(), info.payload()),
        None => default(info),
    }));
}

/// Prints std's report of a panic on the ULT `tcb`.
fn report(tcb: &Tcb, location: Option<&Location<'_>>, payload: &(dyn Any + Send)) {
    let name = tcb.name();
    let mut out = String::new();
    let _ = write!(
        out,
        "\nthread '{}' ({}) panicked",
        name.as_deref().unwrap_or("<unnamed>"),
        tcb.id()
    );
    if let Some(l) = location {
        let _ = write!(out, " at {l}");
    }
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    };
    let _ = writeln!(out, ":\n{msg}");
    static FIRST_PANIC: AtomicBool = AtomicBool::new(true);
    match backtrace_style() {
        Style::Off => {
            if FIRST_PANIC.swap(false, Relaxed) {
                out.push_str(
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a \
                     backtrace\n",
                );
            }
        }
        Style::Short => {
            let bt = std::backtrace::Backtrace::force_capture();
            out.push_str("stack backtrace:\n");
            out.push_str(&short_backtrace(&bt.to_string()));
            out.push_str(
                "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose \
                 backtrace.\n",
            );
        }
        Style::Full => {
            let bt = std::backtrace::Backtrace::force_capture();
            let _ = writeln!(out, "stack backtrace:\n{bt:#}");
        }
    }
    // One write, so that reports of panics on two LWPs do not interleave.
    eprint!("{out}");
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Off,
    Short,
    Full,
}

/// `RUST_BACKTRACE`, read once as std does: unset or `0` off, `full` full,
/// anything else short.
fn backtrace_style() -> Style {
    static STYLE: AtomicU8 = AtomicU8::new(0);
    let s = match STYLE.load(Relaxed) {
        1 => Style::Off,
        2 => Style::Short,
        3 => Style::Full,
        _ => {
            let s = style_of(std::env::var_os("RUST_BACKTRACE").as_deref());
            STYLE.store(s as u8 + 1, Relaxed);
            s
        }
    };
    s
}

fn style_of(v: Option<&std::ffi::OsStr>) -> Style {
    match v {
        None => Style::Off,
        Some(v) if v == "0" => Style::Off,
        Some(v) if v == "full" => Style::Full,
        Some(_) => Style::Short,
    }
}

/// The frames of a printed `Backtrace` (`   N: symbol` lines, each followed
/// by its `at file:line` lines) between the panic machinery's
/// `__rust_end_short_backtrace` frame and the first
/// `__rust_begin_short_backtrace` frame, numbered from 0 as std prints them.
fn short_backtrace(text: &str) -> String {
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let head = line.trim_start();
        let is_frame = head
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(f) if !is_frame => f.push(line),
            _ => frames.push(vec![line]),
        }
    }
    let start = frames
        .iter()
        .position(|f| f[0].contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let mut out = String::new();
    let kept = frames[start.min(frames.len())..]
        .iter()
        .take_while(|f| !f[0].contains("__rust_begin_short_backtrace"));
    for (i, f) in kept.enumerate() {
        let symbol = f[0].trim_start().split_once(": ").map_or("", |(_, s)| s);
        let _ = writeln!(out, "{i:4}: {symbol}");
        for at in &f[1..] {
            let _ = writeln!(out, "{at}");
        }
    }
    out
}

// ---- moving std's panic count with the ULT --------------------------------

/// A lender's stack: unwinding a few frames needs a few KiB; the rest is
/// untouched address space.
const LENDER_STACK: usize = 64 * 1024;

/// Lenders made at once on the helper thread when no spare is left.
const LENDER_BATCH: usize = 4;

/// At most this many panics in flight on one ULT are moved (std aborts a
/// panic in a destructor during unwinding, so real counts are 1 or 2).
const MAX_MOVED: u16 = 16;

/// A coroutine parked in the middle of unwinding a panic it raised (step 1
/// of the module doc).
struct Lender(Coroutine<(), (), (), DefaultStack>);

/// The payload of a lender's panic; never seen outside this module.
struct Lent;

/// Parks the lender while it unwinds: dropped only by that unwinding.
struct ParkWhileUnwinding<'a>(&'a Yielder<(), ()>);

impl Drop for ParkWhileUnwinding<'_> {
    fn drop(&mut self) {
        self.0.suspend(());
    }
}

// SAFETY: a parked lender's stack holds its own frames, its yielder and the
// in-flight exception (on the heap); no reference to any thread's
// thread-local storage and no `!Send` value, so it may be resumed on another
// OS thread. std reads the panic count from the resuming thread's storage
// when the catch runs, which is the point.
unsafe impl Send for Lender {}

/// Spare lenders, each parked and counted on the thread that raised it.
/// Never dropped (a static): dropping a parked coroutine would unwind it.
static SPARE: Mutex<Vec<Lender>> = Mutex::new(Vec::new());

/// Stacks of finished lenders, for the next raise.
static STACKS: Mutex<Vec<DefaultStack>> = Mutex::new(Vec::new());

impl Lender {
    /// Raises a lender on the calling thread: one more panic in its count.
    fn raise() -> std::io::Result<Lender> {
        let stack = match lock(&STACKS).pop() {
            Some(s) => s,
            None => DefaultStack::new(LENDER_STACK)?,
        };
        let mut co = Coroutine::with_stack(stack, |y: &Yielder<(), ()>, ()| {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let _park = ParkWhileUnwinding(y);
                std::panic::resume_unwind(Box::new(Lent))
            }));
        });
        match co.resume(()) {
            CoroutineResult::Yield(()) => Ok(Lender(co)),
            CoroutineResult::Return(()) => crate::fatal("a panic-count lender did not unwind"),
        }
    }

    /// Finishes the lender's unwind on the calling thread: one panic less
    /// in its count.
    fn settle(mut self) {
        match self.0.resume(()) {
            CoroutineResult::Return(()) => lock(&STACKS).push(self.0.into_stack()),
            CoroutineResult::Yield(()) => crate::fatal("a panic-count lender parked twice"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A spare lender, raising a batch on a helper OS thread if none is left.
fn spare() -> Option<Lender> {
    if let Some(l) = lock(&SPARE).pop() {
        return Some(l);
    }
    let helper = crate::os::threads::spawn(
        std::thread::Builder::new().name("weave-panic-count".into()),
        || {
            (0..LENDER_BATCH)
                .map_while(|_| Lender::raise().ok())
                .collect::<Vec<_>>()
        },
    )
    .ok()?;
    let mut made = helper.join().ok()?;
    let l = made.pop();
    lock(&SPARE).append(&mut made);
    l
}

/// Step 2 of the module doc: called by the LWP, on its own stack, right
/// after the ULT `tcb` suspended (blocked or yielded), before anything else
/// runs there.
#[inline]
pub(crate) fn switch_out(tcb: &Tcb) {
    if std::thread::panicking() {
        lend_out(tcb);
    }
}

#[cold]
fn lend_out(tcb: &Tcb) {
    let mut n = 0;
    while n < MAX_MOVED && std::thread::panicking() {
        let Some(l) = spare() else { break };
        l.settle();
        n += 1;
    }
    // SAFETY: the LWP calling this holds the switched-out ULT, so it owns
    // the TCB's per-ULT storage (module doc of `tcb`).
    unsafe { (*tcb.locals.get()).panics = n };
}

/// Step 3 of the module doc: called by the LWP right before it resumes the
/// ULT `tcb`.
#[inline]
pub(crate) fn switch_in(tcb: &Tcb) {
    // SAFETY: as in `lend_out`: the LWP about to resume the ULT owns it.
    // Read first, written only when set: a switch in costs one load.
    let n = unsafe { (*tcb.locals.get()).panics };
    if n != 0 {
        // SAFETY: as above.
        unsafe { (*tcb.locals.get()).panics = 0 };
        give_back(n);
    }
}

/// Whether `tcb` has a share of the panic count to get back as it
/// switches in (the symmetric switch leaves such a switch to the loop).
#[inline]
pub(crate) fn has_share(tcb: &Tcb) -> bool {
    // SAFETY: as in `switch_in`: the LWP about to resume the ULT owns it.
    unsafe { (*tcb.locals.get()).panics != 0 }
}

#[cold]
fn give_back(n: u16) {
    for _ in 0..n {
        match Lender::raise() {
            Ok(l) => lock(&SPARE).push(l),
            Err(_) => crate::fatal(
                "out of memory for a 64 KiB stack while restoring the panic count of a ULT that \
                 blocked while unwinding",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtrace_style_follows_std_spellings() {
        assert_eq!(style_of(None), Style::Off);
        assert_eq!(style_of(Some("0".as_ref())), Style::Off);
        assert_eq!(style_of(Some("1".as_ref())), Style::Short);
        assert_eq!(style_of(Some("yes".as_ref())), Style::Short);
        assert_eq!(style_of(Some("full".as_ref())), Style::Full);
    }

    #[test]
    fn short_backtrace_keeps_the_frames_between_the_markers_renumbered() {
        let text = "   0: weave::hook\n             at ./src/a.rs:1:1\n\
                    \x20  1: std::sys::backtrace::__rust_end_short_backtrace\n\
                    \x20  2: core::panicking::panic_fmt\n             at ./core.rs:2:2\n\
                    \x20  3: app::work\n             at ./src/main.rs:7:14\n\
                    \x20  4: weave::thread::panic::__rust_begin_short_backtrace\n\
                    \x20  5: weave::lwp::Lwp::run\n";
        assert_eq!(
            short_backtrace(text),
            "   0: core::panicking::panic_fmt\n             at ./core.rs:2:2\n\
             \x20  1: app::work\n             at ./src/main.rs:7:14\n"
        );
    }

    #[test]
    fn a_lender_moves_one_panic_between_os_threads() {
        let l = std::thread::spawn(|| {
            let l = Lender::raise().unwrap();
            assert!(std::thread::panicking());
            l
        })
        .join()
        .unwrap();
        // A panic counted on this thread, as a ULT blocked while unwinding
        // leaves on its LWP: settling the lender takes it off.
        let r = std::panic::catch_unwind(|| {
            struct Check(Option<Lender>);
            impl Drop for Check {
                fn drop(&mut self) {
                    assert!(std::thread::panicking());
                    self.0.take().unwrap().settle();
                    assert!(!std::thread::panicking());
                    give_back(1);
                    assert!(std::thread::panicking());
                }
            }
            let _c = Check(Some(l));
            std::panic::resume_unwind(Box::new(()));
        });
        assert!(r.is_err());
        assert!(!std::thread::panicking());
    }
}

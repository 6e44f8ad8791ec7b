//! Starting the runtime: on first use from any thread (DESIGN.md decision
//! 6), as rayon's global pool does, the pool's LWPs and the monitor thread
//! come up, with the settings of the environment; the runtime then lives
//! until the process exits.
//!
//! This sits above the pool (`runtime`, `lwp`) and the monitor: the public
//! calls that need running LWPs (spawn, `set_concurrency`, an OS thread
//! about to wait inside weave, whose deadlock the monitor must be able to
//! see) go through [`rt`]; the engine itself uses `runtime::rt`, which
//! never starts anything, since it only runs once this has.

use crate::runtime::Runtime;

/// The runtime, started on first use.
#[inline]
pub(crate) fn rt() -> &'static Runtime {
    let r = crate::runtime::rt();
    if !r.started.is_completed() {
        start_once(r);
    }
    r
}

#[cold]
fn start_once(r: &'static Runtime) {
    r.started.call_once(|| start(r));
}

fn start(rt: &'static Runtime) {
    crate::thread::fork::install();
    install_panic_hook();
    if crate::config::accounting() {
        crate::time::clock::set_accounting(true);
    }
    let n = crate::config::lwps();
    if let Err(e) = crate::lwp::pool::set_concurrency_in(rt, n) {
        // Not even one LWP: nothing can run. Say why and stop.
        crate::fatal(&format!("cannot start the LWP pool: {e}"));
    }
    std::thread::Builder::new()
        .name("weave-monitor".into())
        .stack_size(256 * 1024)
        .spawn(move || crate::monitor::run(rt))
        .map(drop)
        .unwrap_or_else(|e| {
            eprintln!(
                "weave: no monitor thread ({e}): no time slices, no help for blocked \
                 LWPs, and stacks of exited threads stay cached"
            )
        });
}

/// Wraps the panic hook once, so that a panic in a ULT is reported with the
/// ULT's name and id (`thread 'worker' (ULT 12) panicked at ...`) instead of
/// the name of the LWP it happened to run on. Panics on OS threads, and the
/// message format, stay those of the hook installed before; a hook the
/// program installs later replaces this one, as with std.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let Some(tcb) = crate::thread::current::running() else {
            return previous(info);
        };
        let name = tcb.name();
        let name = name.as_deref().unwrap_or("<unnamed>");
        let location = info.location().map_or_else(String::new, |l| {
            format!(" at {}:{}:{}", l.file(), l.line(), l.column())
        });
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.as_str()
        } else {
            "Box<dyn Any>"
        };
        eprintln!(
            "\nthread '{name}' ({}) panicked{location}:\n{msg}",
            tcb.id()
        );
    }));
}

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
    crate::fork::install();
    // Faults that are not stack overflows go to the faulting ULT's
    // immediate handler (the signal layer's top half).
    crate::signal::fault::install();
    crate::thread::panic::install_hook();
    if crate::config::accounting() {
        crate::time::clock::set_accounting(true);
    }
    crate::inspect::start_from_env();
    // crossbeam-epoch makes its global collector under a `Once` on the
    // first steal of any thread. Made here, before any LWP exists, it is
    // never half-made when a ULT forks: a child would inherit that `Once`
    // running, with nobody to finish it, and its first steal would wait
    // for ever.
    crossbeam_epoch::default_collector();
    let n = crate::config::lwps();
    if let Err(e) = crate::lwp::pool::set_concurrency_in(rt, n) {
        // Not even one LWP: nothing can run. Say why and stop.
        crate::fatal(&format!("cannot start the LWP pool: {e}"));
    }
    crate::monitor::prepare();
    crate::os::threads::spawn(
        std::thread::Builder::new()
            .name("weave-monitor".into())
            .stack_size(256 * 1024),
        move || crate::monitor::run(rt),
    )
    .map(drop)
    .unwrap_or_else(|e| {
        eprintln!(
            "weave: no monitor thread ({e}): no time slices, no help for blocked \
                 LWPs, and stacks of exited threads stay cached"
        )
    });
}

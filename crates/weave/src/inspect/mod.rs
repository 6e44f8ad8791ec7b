//! inspect: seeing inside a running program. The thread dump
//! ([`dump`](crate::dump()), with each parked ULT's stack), the dump on a
//! signal (`WEAVE_DUMP_SIGNAL`), the live one-line-per-interval view
//! (`WEAVE_SCHEDTRACE`), the socket `weave top` reads (`WEAVE_TOP`), and
//! the start of a trace recording for a whole run (`WEAVE_TRACE`).
//!
//! Above the engine, beside the monitor: it reads the thread and LWP
//! tables and the trace counters; it never changes a queue or a TCB.

pub(crate) mod dump;
pub(crate) mod schedtrace;
mod signal;
pub(crate) mod stacks;
pub(crate) mod top;

/// Starts what the environment asks for, once, as the runtime starts.
pub(crate) fn start_from_env() {
    let given = |name: &str| {
        std::env::var_os(name)
            .filter(|p| !p.is_empty() && p.to_str().map(str::trim) != Some("none"))
    };
    if let Some(path) = given("WEAVE_TRACE") {
        match crate::trace::record_with(&path, crate::config::trace_ring()) {
            Ok(()) => {
                // SAFETY: `stop_trace_at_exit` is a plain extern "C" fn
                // with no arguments, as atexit requires.
                unsafe { libc::atexit(stop_trace_at_exit) };
            }
            Err(e) => eprintln!("weave: WEAVE_TRACE: {e}"),
        }
    }
    if let Some(raw) = given("WEAVE_DUMP_SIGNAL") {
        if let Err(e) = signal::install(&raw.to_string_lossy()) {
            eprintln!("weave: WEAVE_DUMP_SIGNAL: {e}");
        }
    }
    if let Some(raw) = given("WEAVE_TOP") {
        match crate::config::parse_switch(&raw.to_string_lossy()) {
            Some(true) => {
                if let Err(e) = top::start() {
                    eprintln!("weave: WEAVE_TOP: cannot open the socket for weave top: {e}");
                }
            }
            Some(false) => {}
            None => eprintln!(
                "weave: WEAVE_TOP={:?} is not a switch: expected 1 or 0",
                raw.to_string_lossy()
            ),
        }
    }
    if let Some(raw) = given("WEAVE_SCHEDTRACE") {
        match schedtrace::parse_interval(&raw.to_string_lossy()) {
            Ok(Some(every)) => schedtrace::start(every),
            Ok(None) => {}
            // `e` names the variable.
            Err(e) => eprintln!("weave: {e}"),
        }
    }
}

/// Ends a `WEAVE_TRACE` recording as the process exits, so the file is
/// complete.
extern "C" fn stop_trace_at_exit() {
    match crate::trace::stop() {
        Ok(Some(s)) => {
            if let Some(path) = std::env::var_os("WEAVE_TRACE") {
                eprintln!(
                    "weave: trace written to {} ({} KiB of events); see it with: weave trace view {} -o trace.html",
                    path.to_string_lossy(),
                    s.bytes / 1024,
                    path.to_string_lossy()
                );
            }
        }
        Ok(None) => {}
        Err(e) => eprintln!("weave: WEAVE_TRACE: the trace could not be finished: {e}"),
    }
}

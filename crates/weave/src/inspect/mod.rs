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
    if let Some(path) = std::env::var_os("WEAVE_TRACE").filter(|p| !p.is_empty()) {
        match crate::trace::record(&path) {
            Ok(()) => {
                // SAFETY: `stop_trace_at_exit` is a plain extern "C" fn
                // with no arguments, as atexit requires.
                unsafe { libc::atexit(stop_trace_at_exit) };
            }
            Err(e) => eprintln!("weave: WEAVE_TRACE: {e}"),
        }
    }
    if let Some(raw) = std::env::var_os("WEAVE_DUMP_SIGNAL").filter(|p| !p.is_empty()) {
        if let Err(e) = signal::install(&raw.to_string_lossy()) {
            eprintln!("weave: WEAVE_DUMP_SIGNAL: {e}");
        }
    }
    if let Some(raw) = std::env::var_os("WEAVE_TOP").filter(|p| !p.is_empty()) {
        match top::wanted(&raw.to_string_lossy()) {
            Ok(true) => {
                if let Err(e) = top::start() {
                    eprintln!("weave: WEAVE_TOP: cannot open the socket for weave top: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => eprintln!("weave: WEAVE_TOP: {e}"),
        }
    }
    if let Some(raw) = std::env::var_os("WEAVE_SCHEDTRACE").filter(|p| !p.is_empty()) {
        match schedtrace::parse_interval(&raw.to_string_lossy()) {
            Ok(every) => schedtrace::start(every),
            Err(e) => eprintln!("weave: WEAVE_SCHEDTRACE: {e}"),
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
                    "weave: trace written to {} ({} records); see it with: weave trace view {} -o trace.html",
                    path.to_string_lossy(),
                    s.slots,
                    path.to_string_lossy()
                );
            }
        }
        Ok(None) => {}
        Err(e) => eprintln!("weave: WEAVE_TRACE: the trace could not be finished: {e}"),
    }
}

//! The kernel threads of the process: how many weave made itself, and how
//! many there are in all.
//!
//! Every OS thread weave starts (the LWPs, the monitor, the blocking
//! pool, the signal dispatcher, the trace writer, the dump, top and
//! schedtrace threads, the panic counter's helper) is started through
//! [`spawn`], which counts it while its closure runs. [`foreign`] compares
//! that count with the kernel's count of the process's threads: what is
//! left, less the main thread, are threads weave did not make. The
//! compaction of idle stacks asks for none while there are any
//! (`docs/design/compaction.md`: such a thread may be a scoped child
//! holding a borrow of a ULT's stack, which it could hand to a system
//! call).
//!
//! **The count errs on the safe side.** A thread is counted from the first
//! instruction of its closure to the last, so it is counted for less time
//! than it exists: while it is not counted it looks foreign, which only
//! holds compactions back. Never the reverse: a thread of weave's counted
//! while it does not exist would hide a foreign one. In the child of a
//! fork only the forking thread survives: [`forget_after_fork`] sets the
//! count to 0 (a counted thread that forked and then returns from its
//! closure in the child takes it below 0, which counts as 0: safe again).
//!
//! Owns the counter and the reading of `/proc/self/stat`; it names no
//! other part of weave.

use std::io::Read;
use std::sync::atomic::AtomicIsize;
use std::sync::atomic::Ordering::Relaxed;

/// The threads weave started that are inside their closures now.
static OWN: AtomicIsize = AtomicIsize::new(0);

/// Ends the count of one thread when its closure returns or unwinds.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        OWN.fetch_sub(1, Relaxed);
    }
}

/// Starts an OS thread of weave's own with `b`, counted while `f` runs.
pub(crate) fn spawn<F, T>(
    b: std::thread::Builder,
    f: F,
) -> std::io::Result<std::thread::JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    b.spawn(move || {
        // Relaxed: the count is a hint compared with the kernel's at a
        // later pass; no data is published through it.
        OWN.fetch_add(1, Relaxed);
        let _counted = Counted;
        f()
    })
}

/// The threads of weave's own counted now (never below 0).
pub(crate) fn own() -> usize {
    OWN.load(Relaxed).max(0) as usize
}

/// In the child of a fork: the only thread is the one that forked, which
/// is weave's no more (an LWP that forked becomes a plain OS thread).
pub(crate) fn forget_after_fork() {
    OWN.store(0, Relaxed);
}

/// The process's threads, as the kernel counts them (`num_threads`, field
/// 20 of `/proc/self/stat`), or `None` if it cannot be read.
pub(crate) fn in_process() -> Option<usize> {
    let mut buf = [0u8; 1024];
    let mut f = std::fs::File::open("/proc/self/stat").ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    num_threads(&buf[..n])
}

/// Field 20 of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself, so the fields
/// are counted from the last `)`: field 3 is the first after it.
fn num_threads(stat: &[u8]) -> Option<usize> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_ascii_whitespace().nth(20 - 3)?.parse().ok()
}

/// Threads of the process that weave did not start, less the main thread:
/// 0 when the process is the main thread and weave's own. `None` (as if
/// there were some) when the kernel's count cannot be read.
pub(crate) fn foreign() -> Option<usize> {
    Some(in_process()?.saturating_sub(own() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_count_is_read_past_a_command_name_with_parentheses() {
        let line = b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 \
                     12345 1000 200 18446744073709551615";
        assert_eq!(num_threads(line), Some(7));
        assert_eq!(num_threads(b"4242 (x) S 1"), None);
    }

    #[test]
    fn a_thread_of_weaves_is_counted_while_it_runs() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let h = spawn(std::thread::Builder::new(), move || {
            tx.send(()).unwrap();
            stop_rx.recv().ok();
        })
        .unwrap();
        rx.recv().unwrap();
        assert!(own() >= 1);
        // The kernel sees at least this one and the caller.
        assert!(in_process().unwrap() >= 2);
        drop(stop_tx);
        h.join().unwrap();
    }
}

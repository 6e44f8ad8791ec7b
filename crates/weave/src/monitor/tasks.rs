//! The OS threads of the process as the kernel lists them
//! (`/proc/self/task`), read through one directory stream that stays open.
//!
//! The deadlock check lists them whenever every LWP is idle while an OS
//! thread waits inside weave, which a program whose main thread joins its
//! threads makes happen often. Opening the directory for each look cost
//! two system calls more and took the lowest free fd number for a moment:
//! a program that closes an fd and counts on its next `socket` or `open`
//! getting that number back (POSIX: "the lowest numbered file descriptor
//! not currently open") could get another one. The stream is opened when
//! the runtime starts, on the thread that starts it (inside the program's
//! first call into weave, where the LWPs are made too, not at a moment of
//! the monitor's choosing), keeps its one number from then on, and is
//! rewound for every look, which lists the threads afresh. The child of a
//! `fork` closes its copy (it lists the parent's threads: `/proc/self` was
//! resolved when it was opened) and opens its own when its runtime starts.
//!
//! Only the monitor thread looks, after the thread that started the
//! runtime opened the stream and spawned it (the fork hook runs where no
//! other thread is left), so the stream needs no lock.

use std::ffi::CStr;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};

/// The open stream, or null before the first look.
static STREAM: AtomicPtr<libc::DIR> = AtomicPtr::new(std::ptr::null_mut());

/// Calls `f` with the id of each thread the kernel lists for the process
/// now, until `f` returns false (then `Some(false)`); `Some(true)` when
/// every thread was seen, `None` when the list could not be read or named
/// something that is not a thread id.
pub(super) fn every(f: impl FnMut(i32) -> bool) -> Option<bool> {
    every_in(stream()?, f)
}

/// [`every`] through the stream `dir`, which the caller alone uses.
fn every_in(dir: *mut libc::DIR, mut f: impl FnMut(i32) -> bool) -> Option<bool> {
    // SAFETY: `dir` is an open stream, used by this thread only (module
    // doc).
    unsafe { libc::rewinddir(dir) };
    loop {
        // SAFETY: as above; the entry is read before the next `readdir`.
        let entry = unsafe { libc::readdir(dir) };
        if entry.is_null() {
            return Some(true);
        }
        // SAFETY: `d_name` is a NUL-terminated name inside the entry.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        let name = name.to_str().ok()?;
        if name.starts_with('.') {
            continue;
        }
        if !f(name.parse().ok()?) {
            return Some(false);
        }
    }
}

/// Opens the stream, if it is not open: called as the runtime starts,
/// before the monitor thread exists (module doc).
pub(super) fn open() {
    let _ = stream();
}

fn stream() -> Option<*mut libc::DIR> {
    // Acquire: pairs with the Release below (the same thread, but the
    // fork hook may have cleared it).
    let dir = STREAM.load(Acquire);
    if !dir.is_null() {
        return Some(dir);
    }
    // SAFETY: a NUL-terminated path; `opendir` opens with `O_CLOEXEC`.
    let dir = unsafe { libc::opendir(c"/proc/self/task".as_ptr()) };
    if dir.is_null() {
        return None;
    }
    STREAM.store(dir, Release);
    crate::fork::at_child(after_fork);
    Some(dir)
}

/// In the child of a `fork`: the inherited stream lists the parent's
/// threads; close it, and the first look opens the child's own.
fn after_fork() {
    let dir = STREAM.swap(std::ptr::null_mut(), AcqRel);
    if !dir.is_null() {
        // SAFETY: the stream is ours and nothing else uses it now (the
        // forking thread is the child's only thread).
        unsafe { libc::closedir(dir) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of the test's own: the shared one is the monitor's, which
    /// other tests' runtimes run meanwhile.
    struct Own(*mut libc::DIR);

    impl Own {
        fn open() -> Own {
            // SAFETY: a NUL-terminated path.
            let dir = unsafe { libc::opendir(c"/proc/self/task".as_ptr()) };
            assert!(!dir.is_null());
            Own(dir)
        }

        fn listed(&self) -> Vec<i32> {
            let mut tids = Vec::new();
            assert_eq!(
                every_in(self.0, |t| {
                    tids.push(t);
                    true
                }),
                Some(true)
            );
            tids
        }
    }

    impl Drop for Own {
        fn drop(&mut self) {
            // SAFETY: our own open stream.
            unsafe { libc::closedir(self.0) };
        }
    }

    fn gettid() -> i32 {
        // SAFETY: no preconditions.
        unsafe { libc::gettid() }
    }

    #[test]
    fn each_look_through_one_stream_lists_the_threads_of_that_moment() {
        let own = Own::open();
        let me = gettid();
        assert!(own.listed().contains(&me));
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            stop_rx.recv().ok();
        });
        let other = rx.recv().unwrap();
        // A thread started after the first look is in the next one.
        assert!(own.listed().contains(&other));
        drop(stop_tx);
        t.join().unwrap();
        // Gone once joined (the kernel may list it for a moment after).
        let mut tries = 0;
        while own.listed().contains(&other) {
            tries += 1;
            assert!(tries < 1000, "thread {other} still listed after it ended");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn a_look_stops_when_asked() {
        let own = Own::open();
        let mut seen = 0;
        assert_eq!(
            every_in(own.0, |_| {
                seen += 1;
                false
            }),
            Some(false)
        );
        assert_eq!(seen, 1);
    }
}

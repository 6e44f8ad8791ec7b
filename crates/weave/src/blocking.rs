//! blocking: calls that must block a kernel thread, run on threads set
//! aside for them, so that only the calling ULT waits.
//!
//! A ULT that makes a blocking system call blocks its LWP and every ULT
//! placed there. `weave::blocking(f)` hands `f` to a pool of kernel threads
//! kept for that, blocks the calling ULT (its LWP runs others meanwhile),
//! and returns `f`'s value, or resumes its panic, when `f` is done. The
//! pool grows on demand (up to `MAX_THREADS`) and a thread idle for
//! `IDLE_EXIT` leaves. On a plain OS thread `blocking(f)` simply calls `f`.
//!
//! ```
//! let len = weave::thread::spawn(|| {
//!     weave::blocking(|| std::fs::read_to_string("Cargo.toml").map(|s| s.len()))
//! })
//! .join()
//! .unwrap();
//! assert!(len.unwrap() > 0);
//! ```

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use crate::sched::{self, Waiter};
use crate::thread::id::BlockReason;

/// Most threads the blocking pool runs at once: far above the number of
/// blocking calls a program makes at a time, low enough to stop a runaway
/// before the kernel's thread limit does.
const MAX_THREADS: usize = 512;

/// A pool thread idle this long leaves.
const IDLE_EXIT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Jobs submitted and not finished (queued or running).
    in_flight: usize,
    /// Kernel thread ids of the pool's threads (for the deadlock detector,
    /// which must tell them from the program's own threads).
    tids: Vec<i32>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
            in_flight: 0,
            tids: Vec::new(),
        }),
        cv: Condvar::new(),
    })
}

/// Holds the pool's lock across a `fork` (see `thread/fork.rs`); in the
/// child, `in_child` empties the pool while it is held.
pub(crate) fn lock_for_fork() -> impl FnOnce(bool) {
    let mut st = pool().state.lock().unwrap_or_else(|e| e.into_inner());
    move |in_child| {
        if in_child {
            // The pool's threads did not survive the fork; the jobs queued
            // belong to ULTs that did not either (forgotten, not dropped:
            // their destructors would wake threads of the parent).
            std::mem::forget(std::mem::take(&mut st.queue));
            st.threads = 0;
            st.idle = 0;
            st.in_flight = 0;
            st.tids.clear();
        }
        drop(st);
    }
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.queue.push_back(job);
        st.in_flight += 1;
        if st.idle > 0 {
            self.cv.notify_one();
            return;
        }
        if st.threads >= MAX_THREADS {
            return; // queued: the next thread to finish takes it
        }
        st.threads += 1;
        let n = st.threads;
        drop(st);
        let spawned = crate::os::threads::spawn(
            std::thread::Builder::new().name(format!("weave-blocking-{n}")),
            move || self.work(),
        );
        if spawned.is_err() {
            // No new thread: the job waits for a running one. With none
            // running it would wait forever, so run it here instead.
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.threads -= 1;
            if st.threads == 0 {
                if let Some(job) = st.queue.pop_front() {
                    drop(st);
                    job();
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.in_flight -= 1;
                }
            }
        }
    }

    fn work(&self) {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.tids.push(tid);
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                job();
                st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                st.in_flight -= 1;
                continue;
            }
            st.idle += 1;
            let (guard, timeout) = self
                .cv
                .wait_timeout(st, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if timeout.timed_out() && st.queue.is_empty() {
                st.threads -= 1;
                st.tids.retain(|&t| t != tid);
                return;
            }
        }
    }
}

/// Where the pool thread leaves the result and finds the ULT to wake.
/// Lives on the calling ULT's stack; see `blocking` for why that is sound.
struct Slot<T> {
    state: Mutex<(Option<std::thread::Result<T>>, Option<Waiter>)>,
}

/// Runs `f`, which may block its kernel thread, without blocking the
/// calling ULT's LWP: `f` runs on a thread of the blocking pool while the
/// ULT waits. Returns `f`'s value; if `f` panics, the panic resumes in the
/// caller. On a plain OS thread, calls `f` directly.
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if crate::lwp::current_ult().is_none() {
        return f();
    }
    let slot = Slot::<T> {
        state: Mutex::new((None, None)),
    };
    let job = {
        let slot = &slot;
        move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            // Store and take the waiter under the lock, and touch the slot
            // no more after unlocking: the caller returns (and its stack
            // frame, the slot with it, goes) only after it has seen the
            // result under the same lock.
            let waiter = {
                let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                st.0 = Some(r);
                st.1.take()
            };
            if let Some(w) = waiter {
                w.wake();
            }
        }
    };
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
    // SAFETY: the job borrows `slot` and whatever `f` borrows. This function
    // does not return before the job has stored its result (the loop below
    // waits for it, and a ULT cannot be cancelled), and the job touches
    // nothing borrowed after that; so the borrows outlive every use, though
    // the type system cannot see it (as with scoped threads).
    let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
    pool().submit(job);
    loop {
        let mut done = None;
        sched::block_on(BlockReason::Io, None, |w| {
            let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            match st.0.take() {
                Some(r) => {
                    done = Some(r);
                    false
                }
                None => {
                    st.1 = Some(w);
                    true
                }
            }
        });
        if done.is_none() {
            done = slot
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .0
                .take();
        }
        match done {
            Some(Ok(v)) => return v,
            Some(Err(p)) => resume_unwind(p),
            None => continue, // woken before the result: wait again
        }
    }
}

/// Whether a blocking call is queued or running, and the pool's thread ids
/// (for the deadlock detector).
pub(crate) fn activity() -> (bool, Vec<i32>) {
    let st = pool().state.lock().unwrap_or_else(|e| e.into_inner());
    (st.in_flight > 0, st.tids.clone())
}

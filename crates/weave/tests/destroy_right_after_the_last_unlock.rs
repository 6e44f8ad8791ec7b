//! A lock may be destroyed, and its memory unmapped, as soon as it is
//! unlocked, even while the thread whose unlock freed it is still on its
//! way out of that unlock (POSIX, `pthread_mutex_destroy`: "It shall be
//! safe to destroy an initialized mutex that is unlocked", with the
//! example of a reference count dropped under the lock by the last
//! user). So an unlock must not touch the lock once the lock word shows
//! it free or handed on.
//!
//! Each round puts a lock alone in a fresh mmap'd page; thread A holds it,
//! thread B waits for it (blocking, or retrying a try-lock), A unlocks, and
//! B takes the lock, releases it, drops it and unmaps the page at once: a
//! late access by A's unlock faults instead of passing unseen. Only unsafe
//! code can free a lock another thread still borrows, as C does; these are
//! the shapes the C API must survive.

use std::ptr;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::Arc;

use weave::sync::{RawLock, RwLock};

const PAGE: usize = 4096;
const ROUNDS: u32 = 10_000;

/// A page of its own, read-write.
fn map_page() -> *mut u8 {
    // SAFETY: an anonymous private mapping; no memory of ours is touched.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap");
    p.cast()
}

/// The round's steps, in `Shared::step`.
const READY: u32 = 1; // A holds the lock in the page
const TRYING: u32 = 2; // B is about to wait for it
const DONE: u32 = 3; // B has unmapped the page

struct Shared {
    step: AtomicU32,
    page: std::sync::atomic::AtomicPtr<u8>,
}

/// One retry of a try-lock loop: a short spin (so that B takes the lock
/// the moment A's unlock frees it, when they run on two LWPs), then a yield
/// at each try (A may be on B's LWP: a ULT is never preempted mid-loop).
fn spin_or_yield(tries: &mut u32) {
    if *tries < 1000 {
        *tries += 1;
        std::hint::spin_loop();
    } else {
        weave::thread::yield_now();
    }
}

fn wait_for(s: &Shared, step: u32) {
    // Acquire pairs with the Release store of `step`.
    while s.step.load(Acquire) != step {
        weave::thread::yield_now();
    }
}

/// Runs `rounds` rounds of: A makes and holds a lock in a fresh page
/// (`hold`), B waits for it and then takes, frees, destroys and unmaps it
/// (`take_and_destroy`), A's unlock (`release`) racing all that.
fn race<L: 'static>(
    rounds: u32,
    make: fn() -> L,
    hold: fn(&'static L, u32) -> Box<dyn FnOnce()>,
    take_and_destroy: fn(&'static L, u32),
) {
    weave::set_concurrency(2).unwrap();
    assert!(std::mem::size_of::<L>() <= PAGE);
    let s = Arc::new(Shared {
        step: AtomicU32::new(DONE),
        page: std::sync::atomic::AtomicPtr::new(ptr::null_mut()),
    });
    let a = {
        let s = s.clone();
        weave::thread::spawn(move || {
            for round in 0..rounds {
                wait_for(&s, DONE);
                let p = map_page().cast::<L>();
                // SAFETY: a fresh page, large and aligned enough for `L`.
                unsafe { p.write(make()) };
                // SAFETY: it lives until B drops it, after A's unlock is
                // over as far as POSIX is concerned (the point of the test).
                let l: &'static L = unsafe { &*p };
                let release = hold(l, round);
                s.page.store(p.cast(), Release);
                // Release: publishes the page and the hold to B.
                s.step.store(READY, Release);
                wait_for(&s, TRYING);
                // Let B reach its wait (and block, if it blocks) before
                // the unlock, whose slow path is what is tested.
                for _ in 0..round % 4 {
                    weave::thread::yield_now();
                }
                release();
            }
        })
    };
    let b = {
        let s = s.clone();
        weave::thread::spawn(move || {
            for round in 0..rounds {
                wait_for(&s, READY);
                let p = s.page.load(Acquire);
                // SAFETY: A made it and keeps it alive until this thread
                // unmaps it below.
                let l: &'static L = unsafe { &*p.cast::<L>() };
                s.step.store(TRYING, Release);
                take_and_destroy(l, round);
                // SAFETY: dropped in `take_and_destroy`; nothing else
                // lives in the page.
                unsafe { libc::munmap(p.cast(), PAGE) };
                // Release: the next round starts after this one ended.
                s.step.store(DONE, Release);
            }
        })
    };
    a.join().unwrap();
    b.join().unwrap();
}

#[test]
fn a_mutex_is_unmapped_right_after_the_unlock_that_woke_its_last_user() {
    race(
        ROUNDS,
        RawLock::new,
        |l, _| {
            l.lock();
            Box::new(move || assert!(l.unlock()))
        },
        |l, round| {
            // Odd rounds block; even ones retry a try-lock, so the unlock
            // that frees the word may be a fast or a slow one.
            if round % 2 == 1 {
                l.lock();
            } else {
                let mut tries = 0u32;
                while !l.try_lock() {
                    spin_or_yield(&mut tries);
                }
            }
            assert!(l.unlock());
            // SAFETY: unlocked, and nobody else uses it (A's unlock is
            // over as far as the caller can tell).
            unsafe { ptr::drop_in_place(ptr::from_ref(l).cast_mut()) };
        },
    );
}

#[test]
fn a_rwlock_is_unmapped_right_after_the_unlock_that_freed_it() {
    race(
        ROUNDS,
        || RwLock::new(()),
        |l, round| {
            // A holds it for writing or for reading, by turns.
            if round % 4 < 2 {
                let g = l.write().unwrap();
                Box::new(move || drop(g))
            } else {
                let g = l.read().unwrap();
                Box::new(move || drop(g))
            }
        },
        |l, round| {
            // B blocks in `write`, or retries `try_write`, by turns.
            if round % 2 == 1 {
                drop(l.write().unwrap());
            } else {
                let mut tries = 0u32;
                loop {
                    if let Ok(g) = l.try_write() {
                        drop(g);
                        break;
                    }
                    spin_or_yield(&mut tries);
                }
            }
            // SAFETY: as for the mutex.
            unsafe { ptr::drop_in_place(ptr::from_ref(l).cast_mut()) };
        },
    );
}

//! errno is per thread (POSIX, XSH 2.3): a value a ULT leaves in errno is
//! the one it reads back after any switch, whatever the ULTs that ran on
//! its LWP meanwhile left there; a new ULT starts with 0; an OS thread's
//! errno survives weave's waits (whose kernel parks may fail with `EAGAIN`
//! or `ETIMEDOUT` inside). Read and written as a C program would, through
//! `__errno_location` (`std::io::Error::last_os_error` reads the same).
//!
//! The pool has one LWP, so that the ULTs of each test share it; a bound
//! ULT has an LWP of its own, whose loop parks in the kernel while it
//! sleeps.

mod wait_common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wait_common::join_or_fail;
use weave::sync::{mpmc, Condvar, Mutex, Semaphore};
use weave::thread;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .expect("last_os_error is an OS error")
}

fn set_errno(v: i32) {
    // SAFETY: the calling kernel thread's errno.
    unsafe { *libc::__errno_location() = v };
}

/// Runs `a` and `b` as two ULTs of the one-LWP pool, spawned by a ULT, and
/// checks they shared an LWP.
fn pair(a: impl FnOnce() + Send + 'static, b: impl FnOnce() + Send + 'static) {
    weave::set_concurrency(1).unwrap();
    let outer = thread::spawn(move || {
        let here = thread::current_lwp();
        let a = thread::spawn(move || {
            a();
            thread::current_lwp()
        });
        let b = thread::spawn(move || {
            b();
            thread::current_lwp()
        });
        assert_eq!(a.join().unwrap(), here, "A left the pool's LWP");
        assert_eq!(b.join().unwrap(), here, "B left the pool's LWP");
    });
    join_or_fail(outer, "the ULTs of the test");
}

#[test]
fn each_ult_keeps_its_errno_across_yields_on_one_lwp() {
    let turns = Arc::new(AtomicU32::new(0));
    let (ta, tb) = (turns.clone(), turns.clone());
    pair(
        move || {
            for i in 0..2_000 {
                set_errno(1_000 + i);
                ta.fetch_add(1, SeqCst);
                thread::yield_now();
                assert_eq!(errno(), 1_000 + i, "A's errno after a yield");
            }
        },
        move || {
            for i in 0..2_000 {
                set_errno(50_000 + i);
                tb.fetch_add(1, SeqCst);
                thread::yield_now();
                assert_eq!(errno(), 50_000 + i, "B's errno after a yield");
            }
        },
    );
    assert_eq!(turns.load(SeqCst), 4_000);
}

#[test]
fn errno_survives_a_condvar_wait_a_semaphore_a_channel_and_a_sleep() {
    struct Shared {
        m: Mutex<bool>,
        cv: Condvar,
        sem: Semaphore,
    }
    let s = Arc::new(Shared {
        m: Mutex::new(false),
        cv: Condvar::new(),
        sem: Semaphore::new(0),
    });
    let (to_b, from_a) = mpmc::bounded::<i32>(1);
    let (to_a, from_b) = mpmc::bounded::<i32>(1);
    let (sa, sb) = (s.clone(), s.clone());
    pair(
        move || {
            // The condvar: B sets its errno, then the flag.
            set_errno(libc::EINVAL);
            let mut g = sa.m.lock().unwrap();
            while !*g {
                g = sa.cv.wait(g).unwrap();
            }
            drop(g);
            assert_eq!(errno(), libc::EINVAL, "after a condvar wait");
            // The semaphore.
            set_errno(libc::EACCES);
            drop(sa.sem.acquire());
            assert_eq!(errno(), libc::EACCES, "after a semaphore acquire");
            // A ping-pong: each block switches straight to the other.
            for i in 0..1_000 {
                set_errno(2_000 + i);
                to_b.send(i).unwrap();
                assert_eq!(from_b.recv().unwrap(), i);
                assert_eq!(errno(), 2_000 + i, "after a round trip");
            }
            drop(to_b);
            // A sleep that succeeds, while B yields.
            set_errno(libc::ENOENT);
            thread::sleep(Duration::from_millis(20));
            assert_eq!(errno(), libc::ENOENT, "after a sleep");
        },
        move || {
            set_errno(libc::ENOMEM);
            *sb.m.lock().unwrap() = true;
            sb.cv.notify_all();
            thread::yield_now();
            assert_eq!(errno(), libc::ENOMEM);
            set_errno(libc::EBUSY);
            sb.sem.release(1);
            thread::yield_now();
            assert_eq!(errno(), libc::EBUSY);
            for v in from_a.iter() {
                set_errno(90_000 + v);
                to_a.send(v).unwrap();
                assert_eq!(errno(), 90_000 + v);
            }
            let until = Instant::now() + Duration::from_millis(40);
            while Instant::now() < until {
                set_errno(libc::EEXIST);
                thread::yield_now();
                assert_eq!(errno(), libc::EEXIST);
            }
        },
    );
}

/// Preemption at safe points: with a short time slice, two ULTs that
/// compute and pass safe points are switched by the monitor's request.
#[test]
fn errno_survives_preemption_at_safe_points() {
    let a_ran = Arc::new(AtomicBool::new(false));
    let b_ran = Arc::new(AtomicBool::new(false));
    let (a1, b1, a2, b2) = (a_ran.clone(), b_ran.clone(), a_ran, b_ran);
    pair(
        move || {
            set_errno(libc::EDOM);
            // Until B has run while A was in the middle of its loop.
            a1.store(true, SeqCst);
            while !b1.load(SeqCst) {
                std::hint::black_box(0u64);
                thread::preempt_point();
                assert_eq!(errno(), libc::EDOM, "A after a safe point");
            }
        },
        move || {
            set_errno(libc::ERANGE);
            b2.store(true, SeqCst);
            while !a2.load(SeqCst) {
                thread::preempt_point();
                assert_eq!(errno(), libc::ERANGE, "B after a safe point");
            }
            // Let A see B once more after its last switch.
            for _ in 0..3 {
                thread::yield_now();
                assert_eq!(errno(), libc::ERANGE);
            }
        },
    );
}

#[test]
fn a_new_ult_starts_with_errno_zero() {
    weave::set_concurrency(1).unwrap();
    let outer = thread::spawn(|| {
        for i in 0..200 {
            // Left by the spawner, which then waits for the child on the
            // same LWP: the child must not start with it.
            set_errno(7_000 + i);
            let child = thread::spawn(errno);
            assert_eq!(child.join().unwrap(), 0, "a new ULT's errno");
            assert_eq!(errno(), 7_000 + i, "the spawner's after the join");
        }
    });
    join_or_fail(outer, "the spawner");
}

#[test]
fn a_bound_ult_keeps_its_errno_across_its_loops_kernel_waits() {
    let t = thread::Builder::new()
        .bound()
        .spawn(|| {
            for i in 0..20 {
                set_errno(3_000 + i);
                thread::sleep(Duration::from_millis(2));
                assert_eq!(errno(), 3_000 + i, "after a sleep");
                thread::park_timeout(Duration::from_millis(1));
                assert_eq!(errno(), 3_000 + i, "after a park");
            }
        })
        .unwrap();
    join_or_fail(t, "the bound ULT");
}

#[test]
fn a_migratable_ult_keeps_its_errno_through_the_loop() {
    weave::set_concurrency(1).unwrap();
    // SAFETY: the closure holds no thread-local borrow and nothing !Send
    // across its switches.
    let m = unsafe { thread::Builder::new().migratable() }
        .spawn(|| {
            for i in 0..500 {
                set_errno(4_000 + i);
                thread::yield_now();
                assert_eq!(errno(), 4_000 + i, "after a yield");
            }
        })
        .unwrap();
    let other = thread::spawn(|| {
        for i in 0..500 {
            set_errno(6_000 + i);
            thread::yield_now();
            assert_eq!(errno(), 6_000 + i);
        }
    });
    join_or_fail(m, "the migratable ULT");
    join_or_fail(other, "the pooled ULT");
}

/// An OS thread is not switched, but it parks in the kernel in weave's
/// waits: what it had in errno is there after them.
#[test]
fn an_os_threads_errno_survives_weaves_waits() {
    set_errno(libc::EINVAL);
    thread::sleep(Duration::from_millis(5));
    assert_eq!(errno(), libc::EINVAL, "after a sleep");
    set_errno(libc::ENOMEM);
    let t = thread::spawn(|| thread::sleep(Duration::from_millis(5)));
    t.join().unwrap();
    assert_eq!(errno(), libc::ENOMEM, "after a join");
    set_errno(libc::EPERM);
    let sem = Semaphore::new(0);
    assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none());
    assert_eq!(errno(), libc::EPERM, "after a timed-out acquire");
}

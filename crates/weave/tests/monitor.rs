//! The monitor: time slices, LWPs blocked in the kernel, the reaper, and
//! weave::blocking.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weave::thread;

mod stack_common;
use stack_common::vm_rss;

static ONE_LWP: Mutex<()> = Mutex::new(());

#[test]
fn a_hog_with_preempt_points_does_not_starve_a_neighbour() {
    let _g = ONE_LWP.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    let neighbour_ran = Arc::new(AtomicBool::new(false));
    let n = neighbour_ran.clone();
    thread::spawn(move || {
        let n2 = n.clone();
        let hog = thread::spawn(move || {
            let mut spins = 0u64;
            // Without time slices this loop never gives the LWP away: the
            // neighbour could never run and set the flag.
            while !n2.load(Ordering::SeqCst) {
                spins += 1;
                thread::preempt_point();
            }
            spins
        });
        let neighbour = thread::spawn(move || n.store(true, Ordering::SeqCst));
        neighbour.join().unwrap();
        hog.join().unwrap()
    })
    .join()
    .unwrap();
    assert!(neighbour_ran.load(Ordering::SeqCst));
    weave::set_concurrency(0).unwrap();
}

#[test]
fn blocking_returns_values_and_propagates_panics() {
    let v = thread::spawn(|| weave::blocking(|| 6 * 7)).join().unwrap();
    assert_eq!(v, 42);
    // Borrowing is fine: the caller waits for the closure.
    let data = [1, 2, 3];
    let sum = weave::blocking(|| data.iter().sum::<i32>());
    assert_eq!(sum, 6);
    let r = thread::spawn(|| weave::blocking(|| -> u8 { panic!("inside blocking") })).join();
    let payload = r.unwrap_err();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    assert_eq!(msg, Some("inside blocking"));
}

#[test]
fn blocking_calls_leave_the_lwp_to_other_ults() {
    let _g = ONE_LWP.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let other_ran_first = thread::spawn(move || {
        let d2 = d.clone();
        let sleeper = thread::spawn(move || {
            weave::blocking(|| std::thread::sleep(Duration::from_millis(200)));
            d2.store(true, Ordering::SeqCst);
        });
        // Runs on the same (only) LWP while the sleeper's call blocks a
        // pool thread, not the LWP.
        let other = thread::spawn(move || !d.load(Ordering::SeqCst));
        let r = other.join().unwrap();
        sleeper.join().unwrap();
        r
    })
    .join()
    .unwrap();
    assert!(other_ran_first);
    assert!(done.load(Ordering::SeqCst));
    weave::set_concurrency(0).unwrap();
}

#[test]
fn many_blocking_calls_at_once_all_complete() {
    let hs: Vec<_> = (0..64)
        .map(|i| {
            thread::spawn(move || {
                weave::blocking(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    i
                })
            })
        })
        .collect();
    let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 63 * 64 / 2);
}

const CHILD: &str = "WEAVE_TEST_MONITOR_CHILD";

/// Child: every LWP of an automatic pool gets stuck in std::thread::sleep;
/// a ULT spawned after must still run, before the sleeps end.
#[test]
fn blocked_lwp_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let lwps = weave::concurrency();
    let slept = Arc::new(AtomicUsize::new(0));
    let sleepers: Vec<_> = (0..lwps)
        .map(|i| {
            let slept = slept.clone();
            thread::Builder::new()
                .name(format!("stuck-in-kernel-{i}"))
                .spawn(move || {
                    // Blocks the LWP, not just the ULT: what the monitor
                    // must notice.
                    std::thread::sleep(Duration::from_millis(1500));
                    slept.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let s = slept.clone();
    let late = thread::spawn(move || s.load(Ordering::SeqCst))
        .join()
        .unwrap();
    println!(
        "late ULT saw {late} finished sleepers; pool grew to {}",
        weave::concurrency()
    );
    for h in sleepers {
        h.join().unwrap();
    }
    assert_eq!(late, 0, "the late ULT had to wait for a blocked LWP");
}

#[test]
fn a_ult_in_std_sleep_does_not_stop_others_and_is_named() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "blocked_lwp_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("WEAVE_LWPS")
        .env_remove("WEAVE_WARN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("thread 'stuck-in-kernel-") && stderr.contains("in the kernel"),
        "the warning names the thread:\n{stderr}"
    );
    let warnings = stderr.matches("has blocked LWP").count();
    let lwps = std::thread::available_parallelism().unwrap().get();
    assert!(
        warnings <= lwps,
        "one warning per blocked thread:\n{stderr}"
    );
}

#[test]
fn warnings_can_be_silenced() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "blocked_lwp_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("WEAVE_WARN", "0")
        .env_remove("WEAVE_LWPS")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("has blocked LWP"));
}

#[test]
fn the_reaper_lowers_rss_after_a_burst_exits() {
    let _g = ONE_LWP.lock().unwrap_or_else(|e| e.into_inner());
    // A burst of 100,000 threads alive at once, each touching its stack.
    let release = Arc::new(AtomicBool::new(false));
    let base = vm_rss();
    let hs: Vec<_> = (0..100_000)
        .map(|_| {
            let r = release.clone();
            thread::spawn(move || {
                let buf = std::hint::black_box([7u8; 2048]);
                while !r.load(Ordering::Acquire) {
                    thread::park();
                }
                buf[5]
            })
        })
        .collect();
    while thread::threads().iter().filter(|t| !t.os_thread).count() < 90_000 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let peak = vm_rss();
    release.store(true, Ordering::Release);
    for h in &hs {
        h.thread().unpark();
    }
    for h in hs {
        assert_eq!(h.join().unwrap(), 7);
    }
    let grown = peak.saturating_sub(base);
    assert!(
        grown > 100 << 20,
        "the burst should have grown RSS: {grown} bytes"
    );
    // The reaper releases idle stacks within a couple of periods.
    let t = Instant::now();
    let mut now = vm_rss();
    while now > base + grown / 4 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        now = vm_rss();
    }
    assert!(
        now <= base + grown / 4,
        "RSS stayed at {} MiB after the burst (peak {} MiB, base {} MiB)",
        now >> 20,
        peak >> 20,
        base >> 20
    );
}

const FUTEX_CHILD: &str = "WEAVE_TEST_MONITOR_FUTEX_CHILD";

/// Waits until the thread named `name` is in `state` per the table.
fn wait_for_state(name: &str, state: thread::ThreadState) {
    let start = Instant::now();
    while !thread::threads()
        .iter()
        .any(|t| t.name.as_deref() == Some(name) && t.state == state)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "thread '{name}' never reached {state:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Child, on one LWP: three ULTs wait on weave channels; a fourth blocks
/// the LWP in a `std::sync::Mutex` that a plain OS thread holds; then the
/// three are woken, and stay stuck behind it until the OS thread lets go.
#[test]
fn futex_blocked_lwp_child() {
    if std::env::var(FUTEX_CHILD).is_err() {
        return;
    }
    let lock: &'static std::sync::Mutex<()> = Box::leak(Box::new(std::sync::Mutex::new(())));
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _g = lock.lock().unwrap();
        held_tx.send(()).unwrap();
        // Until main has seen the three stuck, and a while longer for the
        // monitor (it looks every ms, and warns after 5 ms).
        release_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
    });
    held_rx.recv().unwrap();
    let mut wakers = Vec::new();
    let mut behind = Vec::new();
    for i in 0..3 {
        let (tx, rx) = weave::sync::mpsc::channel::<()>();
        wakers.push(tx);
        behind.push(
            thread::Builder::new()
                .name(format!("behind-{i}"))
                .spawn(move || rx.recv().unwrap())
                .unwrap(),
        );
        wait_for_state(
            &format!("behind-{i}"),
            thread::ThreadState::Blocked(thread::BlockReason::Channel),
        );
    }
    let blocker = thread::Builder::new()
        .name("blocker".into())
        .spawn(move || drop(lock.lock().unwrap()))
        .unwrap();
    wait_for_state("blocker", thread::ThreadState::Running);
    for tx in &wakers {
        tx.send(()).unwrap();
    }
    for i in 0..3 {
        wait_for_state(&format!("behind-{i}"), thread::ThreadState::Runnable);
    }
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    blocker.join().unwrap();
    for h in behind {
        h.join().unwrap();
    }
    println!("all done");
}

#[test]
fn an_lwp_in_a_futex_wait_is_named_with_the_ults_stuck_behind_it() {
    if std::env::var(FUTEX_CHILD).is_ok() || std::env::var(CHILD).is_ok() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "futex_blocked_lwp_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FUTEX_CHILD, "1")
        .env("WEAVE_LWPS", "1")
        .env_remove("WEAVE_WARN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all done"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("thread 'blocker' (ULT ")
            && stderr.contains("in a futex wait")
            && stderr.contains("3 runnable thread(s) placed on that LWP are stuck behind it"),
        "the warning names the thread and counts the stuck ones:\n{stderr}"
    );
}

//! A ULT gets its stack when it first runs, not at spawn: until then it
//! holds only the promise of one (`stack_stats().promised`), threads that
//! run and end one after another share the few stacks of death row, the
//! stack size asked for is the one given at the first run, and a spawn
//! whose stack could never be had still fails at the spawn, with an error
//! naming the thread and the limit.
//!
//! The pool is set to one LWP, and the tests of this file run one at a
//! time: a spawner of the highest priority spawns children of the lowest,
//! which cannot run on that LWP before the spawner blocks.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use weave::thread::{self, Builder};

static SERIAL: Mutex<()> = Mutex::new(());

fn one_lwp() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(1).unwrap();
    g
}

/// Runs `f` on a ULT of the highest priority and returns its result.
fn as_top_spawner<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    Builder::new()
        .priority(31)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn low() -> Builder {
    Builder::new().priority(0)
}

#[test]
fn a_ult_that_has_not_run_holds_no_stack() {
    let _g = one_lwp();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let (before, during, ran_then, after) = as_top_spawner(move || {
        let before = weave::stack_stats().promised;
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let r = r.clone();
                low()
                    .spawn(move || {
                        r.fetch_add(1, SeqCst);
                    })
                    .unwrap()
            })
            .collect();
        let during = weave::stack_stats().promised;
        let ran_then = r.load(SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        (before, during, ran_then, weave::stack_stats().promised)
    });
    assert_eq!(ran_then, 0, "a child ran before the spawner blocked");
    assert!(
        during >= before + 1000,
        "1,000 spawned threads that have not run hold promises, not stacks: \
         {before} promised before, {during} after the spawns"
    );
    assert!(
        after + 1000 <= during,
        "each thread's promise was kept as it ran: {during} promised, {after} after the joins"
    );
    assert_eq!(ran.load(SeqCst), 1000);
}

#[test]
fn threads_that_run_and_end_in_turn_share_a_few_stacks() {
    let _g = one_lwp();
    let (carved, n) = as_top_spawner(|| {
        let n = 10_000;
        let carved0 = weave::stack_stats().carved;
        let hs: Vec<_> = (0..n).map(|i| low().spawn(move || i).unwrap()).collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i);
        }
        (weave::stack_stats().carved - carved0, n)
    });
    // Taken at spawn, the 10,000 live threads' stacks were carved (but for
    // the few the pool held already); taken at the first run, each child
    // reuses the stack of the one that ended before it.
    assert!(
        carved < n / 10,
        "{carved} stacks carved for {n} threads that ran one after another"
    );
}

/// Recursion with `depth` frames of 4 KiB each; returns something that
/// depends on every frame.
#[inline(never)]
fn deep(depth: u32) -> u64 {
    let buf = std::hint::black_box([depth as u8; 4096]);
    if depth == 0 {
        return u64::from(buf[7]);
    }
    deep(depth - 1) + u64::from(buf[4095])
}

#[test]
fn the_stack_size_asked_for_is_the_one_given_at_the_first_run() {
    let _g = one_lwp();
    let (promised, sum) = as_top_spawner(|| {
        let before = weave::stack_stats().promised;
        // 600 KiB of frames at least (more in a debug build): more than the
        // default 256 KiB, within 4 MiB.
        let h = low().stack_size(4 << 20).spawn(|| deep(150)).unwrap();
        let promised = weave::stack_stats().promised > before;
        (promised, h.join().unwrap())
    });
    assert!(promised, "the thread had its stack before it ran");
    assert_eq!(sum, (1..=150).sum::<u64>());
}

const CHILD: &str = "WEAVE_TEST_FIRST_RUN_CHILD";

/// The process's virtual size in bytes (`VmSize`).
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Child: with the address space capped a little above what the process
/// maps now, spawns threads that cannot run yet until a spawn fails, then
/// joins the ones spawned (their promises hold: each runs).
#[test]
fn address_space_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    thread::spawn(|| ()).join().unwrap();
    weave::set_concurrency(1).unwrap();
    let (spawned, err) = as_top_spawner(|| {
        let cap = vm_size() + (256 << 20);
        let lim = libc::rlimit {
            rlim_cur: cap,
            rlim_max: cap,
        };
        // SAFETY: sets a limit of this process from a valid struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
        let mut hs = Vec::new();
        let mut err = None;
        for i in 0..100_000 {
            match low().name(format!("filler-{i}")).spawn(|| 7u8) {
                Ok(h) => hs.push(h),
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        let spawned = hs.len();
        for h in hs {
            assert_eq!(h.join().unwrap(), 7);
        }
        (spawned, err)
    });
    println!("SPAWNED {spawned}");
    println!("ERROR {}", err.unwrap_or_default());
}

#[test]
fn a_spawn_whose_stack_cannot_be_had_fails_naming_the_thread_and_the_limit() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "address_space_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The test harness's own output may share a line with ours.
    let after = |tag: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(tag).map(|(_, rest)| rest.to_owned()))
            .unwrap_or_else(|| panic!("no {tag:?} in:\n{stdout}\n{stderr}"))
    };
    let spawned: usize = after("SPAWNED ").trim().parse().unwrap();
    let err = after("ERROR ");
    assert!(
        err.contains(&format!("cannot spawn thread 'filler-{spawned}'"))
            && err.contains("address space for thread stacks")
            && err.contains("ulimit -v"),
        "after {spawned} spawns: {err}"
    );
}

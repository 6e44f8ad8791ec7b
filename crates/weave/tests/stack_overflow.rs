//! A ULT that overflows its stack is reported like std reports it, with
//! the thread's name, id and stack size, and the process aborts. Runs in a
//! child process, since the abort must happen.

use std::process::Command;

const CHILD: &str = "WEAVE_TEST_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + buf[3]
}

#[test]
fn overflow_child() {
    let Ok(mode) = std::env::var(CHILD) else {
        return; // Only meaningful in the child process.
    };
    let mut b = weave::thread::Builder::new().name("deep-recursion".into());
    if mode == "big" {
        b = b.stack_size(1 << 20);
    }
    if mode == "batch" {
        // Enough live threads that fresh stacks are carved in batches,
        // their guards installed together: the next is one of a batch.
        // They get their stacks as they first run: wait for that.
        let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let live: Vec<_> = (0..3000)
            .map(|_| {
                let s = started.clone();
                weave::thread::spawn(move || {
                    s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    weave::thread::park();
                })
            })
            .collect();
        std::mem::forget(live);
        while started.load(std::sync::atomic::Ordering::SeqCst) < 3000 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let stats = weave::stack_stats();
        assert!(stats.carved >= 3000, "{stats:?}");
    }
    if mode == "first_run" {
        // On one LWP, from a ULT of the highest priority, the recursing
        // thread (the lowest) cannot run before the spawner blocks in the
        // join: it is spawned holding a promise, and its stack (and guard)
        // is taken when it first runs.
        weave::set_concurrency(1).unwrap();
        let promised = weave::thread::Builder::new()
            .priority(31)
            .spawn(|| {
                let h = weave::thread::Builder::new()
                    .name("deep-recursion".into())
                    .priority(0)
                    .spawn(|| recurse(0))
                    .unwrap();
                let promised = weave::stack_stats().promised;
                eprintln!("promised at spawn: {promised}");
                let _ = h.join();
                promised
            })
            .unwrap()
            .join()
            .unwrap();
        unreachable!("the overflow must abort the process ({promised} promised)");
    }
    let h = b.spawn(|| recurse(0)).unwrap();
    let _ = h.join();
    unreachable!("the overflow must abort the process");
}

fn run_child(mode: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "overflow_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the child in `mode` and checks that it aborted with the
/// overflow report of a 256 KiB stack; returns its stderr.
fn assert_overflow_reported(mode: &str) -> String {
    let (status, stderr) = run_child(mode);
    assert!(!status.success());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc_sigabrt()),
        "aborted: {status:?}\n{stderr}"
    );
    assert!(
        stderr.contains("thread 'deep-recursion' (ULT ")
            && stderr.contains("has overflowed its stack of 256 KiB"),
        "stderr was:\n{stderr}"
    );
    stderr
}

#[test]
fn stack_overflow_prints_the_thread_name_and_aborts() {
    assert_overflow_reported("default");
}

#[test]
fn the_report_gives_the_thread_s_own_stack_size() {
    let (status, stderr) = run_child("big");
    assert!(!status.success());
    assert!(
        stderr.contains("has overflowed its stack of 1 MiB"),
        "stderr was:\n{stderr}"
    );
}

#[test]
fn a_stack_carved_in_a_batch_is_guarded_too() {
    assert_overflow_reported("batch");
}

#[test]
fn a_stack_taken_at_the_first_run_is_guarded_too() {
    let stderr = assert_overflow_reported("first_run");
    assert!(
        !stderr.contains("promised at spawn: 0"),
        "the thread had its stack before it ran:\n{stderr}"
    );
    assert!(stderr.contains("promised at spawn: "), "{stderr}");
}

#[test]
fn other_segfaults_keep_their_normal_behaviour() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "null_deref_child", "--nocapture"])
        .env("WEAVE_TEST_NULL_CHILD", "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(11),
        "died by SIGSEGV: {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

#[test]
fn null_deref_child() {
    if std::env::var("WEAVE_TEST_NULL_CHILD").is_err() {
        return;
    }
    weave::thread::spawn(|| {
        let p = std::hint::black_box(std::ptr::null::<u64>());
        // SAFETY: not safe at all: this child exists to die of SIGSEGV.
        unsafe { std::ptr::read_volatile(p) }
    })
    .join()
    .unwrap();
}

fn libc_sigabrt() -> i32 {
    6
}

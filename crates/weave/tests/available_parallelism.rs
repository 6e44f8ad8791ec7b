//! `weave::thread::available_parallelism` is the number of pool LWPs the
//! runtime uses, or would use.

use std::process::Command;

use weave::thread;

const CHILD: &str = "WEAVE_TEST_PARALLELISM_CHILD";

/// Child: reports the figure before the runtime starts, then after.
#[test]
fn parallelism_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let before = thread::available_parallelism().unwrap().get();
    thread::spawn(|| ()).join().unwrap();
    println!(
        "before={before} after={}",
        thread::available_parallelism().unwrap().get()
    );
}

#[test]
fn weave_lwps_sets_the_figure_before_and_after_the_runtime_starts() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "parallelism_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("WEAVE_LWPS", "3")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("before=3 after=3"), "{stdout}");
}

#[test]
fn the_figure_follows_set_concurrency() {
    weave::set_concurrency(5).unwrap();
    assert_eq!(thread::available_parallelism().unwrap().get(), 5);
    weave::set_concurrency(0).unwrap();
    assert_eq!(
        thread::available_parallelism().unwrap(),
        std::thread::available_parallelism().unwrap()
    );
}

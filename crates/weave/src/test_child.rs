//! Unit tests that need a process of their own (a fault that must kill
//! it, process-wide signals, figures of the whole process): the test runs
//! itself again in a child, alone, and passes when the child does.

use std::time::Duration;

/// The variable that tells the child which test it is to run.
const CHILD: &str = "WEAVE_UNIT_TEST_CHILD";

/// How long the child may run before its watchdog calls it hung.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs the unit test `name` of the module `module` (its `module_path!()`)
/// again in a child process, alone: true in that child, which then runs
/// the scenario (a watchdog there turns a hang into a failure); false in
/// the parent, after asserting that the child passed.
pub(crate) fn in_child(module: &str, name: &str) -> bool {
    // `module_path!()` starts with the crate's name; the test harness
    // names tests without it.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let path = format!("{module}::{name}");
    if std::env::var(CHILD).is_ok_and(|n| n == path) {
        std::thread::spawn(|| {
            std::thread::sleep(WATCHDOG);
            eprintln!("watchdog: the scenario hung for {WATCHDOG:?}");
            std::process::exit(3);
        });
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &path, "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {path}: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

//! `weave port` on a small std program (`tests/fixtures/port`, a crate
//! directory): what it lists, what `--fix` makes of the program, and that
//! a second `--fix` changes nothing. Each test works on its own copy.

use std::path::{Path, PathBuf};
use std::process::Output;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fresh copy of the fixture crate, named for the test.
fn copy_of_fixture(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("port-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::copy(fixtures().join("port/src/main.rs"), dir.join("src/main.rs")).unwrap();
    dir
}

/// Runs `weave port ARGS .` in `dir`.
fn port(dir: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weave"))
        .arg("port")
        .args(args)
        .arg(".")
        .current_dir(dir)
        .output()
        .expect("the weave binary runs");
    assert!(
        out.status.success(),
        "weave port {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

#[test]
fn listing_names_each_line_its_replacement_and_who_fixes_it() {
    let dir = copy_of_fixture("listing");
    let out = port(&dir, &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected("port.list"));
}

#[test]
fn listing_leaves_the_sources_alone() {
    let dir = copy_of_fixture("untouched");
    port(&dir, &[]);
    assert_eq!(
        std::fs::read_to_string(dir.join("src/main.rs")).unwrap(),
        expected("port/src/main.rs")
    );
}

#[test]
fn fix_rewrites_the_use_lines_and_thread_local() {
    let dir = copy_of_fixture("fix");
    let out = port(&dir, &["--fix"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("src/main.rs")).unwrap(),
        expected("port.fixed.rs")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("./src/main.rs: rewrote 3 place(s)\n"),
        "{stdout}"
    );
    // What --fix cannot do stays listed.
    assert!(
        stdout.contains(":21: std::thread::sleep -> weave::thread::sleep"),
        "{stdout}"
    );
    assert!(stdout.contains("0 for --fix, 2 by hand"), "{stdout}");
}

#[test]
fn a_second_fix_changes_nothing() {
    let dir = copy_of_fixture("twice");
    port(&dir, &["--fix"]);
    let once = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    let out = port(&dir, &["--fix"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("src/main.rs")).unwrap(),
        once
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("rewrote"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_path_that_is_not_a_crate_is_refused() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("port-not-a-crate");
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weave"))
        .args(["port", "."])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no src/, tests/, examples/ or benches/"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Thread names: refused as std refuses them, and kept whole in weave's own
//! tables and messages even where the kernel keeps only 15 bytes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;

use weave::thread;

/// 53 bytes, three of them in a two-byte character that straddles the
/// kernel's 15-byte cut.
const LONG: &str = "a-rather-long-é-thread-name-that-the-kernel-truncates";

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_name_with_an_interior_nul_panics_as_std() {
    let std_msg = catch_unwind(|| {
        std::thread::Builder::new()
            .name("bad\0name".into())
            .spawn(|| ())
    })
    .map(drop)
    .map_err(message);
    let weave_msg = catch_unwind(|| thread::Builder::new().name("bad\0name".into()).spawn(|| ()))
        .map(drop)
        .map_err(message);
    assert!(std_msg.is_err(), "std accepted the name");
    assert_eq!(weave_msg, std_msg);
}

#[test]
fn a_name_with_an_interior_nul_panics_in_a_scope_as_std() {
    let weave_msg = catch_unwind(AssertUnwindSafe(|| {
        thread::scope(|s| {
            thread::Builder::new()
                .name("x\0".into())
                .spawn_scoped(s, || ())
                .map(drop)
        })
    }))
    .map_err(message);
    let err = weave_msg.expect_err("the name was accepted");
    assert!(
        err.starts_with("thread name may not contain interior null bytes"),
        "{err}"
    );
}

#[test]
fn a_long_name_is_whole_in_the_thread_table() {
    let h = thread::Builder::new()
        .name(LONG.into())
        .spawn(|| {
            let me = thread::current();
            let row = thread::threads()
                .into_iter()
                .find(|t| t.id == me.id())
                .expect("a running thread is in the table");
            (
                me.name().map(str::to_owned),
                row.name.map(|n| n.to_string()),
            )
        })
        .unwrap();
    let (current, row) = h.join().unwrap();
    assert_eq!(current.as_deref(), Some(LONG));
    assert_eq!(row.as_deref(), Some(LONG));
}

#[test]
fn a_bound_thread_shows_the_first_15_bytes_to_the_kernel_and_keeps_the_rest() {
    let (comm, name) = thread::Builder::new()
        .name(LONG.into())
        .bound()
        .spawn(|| {
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap();
            (
                comm.trim_end_matches('\n').to_owned(),
                thread::current().name().map(str::to_owned),
            )
        })
        .unwrap()
        .join()
        .unwrap();
    // 15 bytes would cut the 'é' in two: the kernel gets the 14 before it.
    assert_eq!(comm, "a-rather-long-");
    assert_eq!(name.as_deref(), Some(LONG));
}

const CHILD: &str = "WEAVE_TEST_NAMES_CHILD";

#[test]
fn long_name_child() {
    let Ok(mode) = std::env::var(CHILD) else {
        return; // Only meaningful in the child process.
    };
    let h = thread::Builder::new()
        .name(LONG.into())
        .stack_size(64 * 1024)
        .spawn(move || {
            if mode == "panic" {
                panic!("on purpose");
            }
            recurse(0)
        })
        .unwrap();
    let _ = h.join();
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + buf[3]
}

fn child_stderr(mode: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "long_name_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_long_name_is_whole_in_a_panic_message() {
    let err = child_stderr("panic");
    assert!(
        err.contains(&format!("thread '{LONG}' (ULT ")) && err.contains("on purpose"),
        "{err}"
    );
}

#[test]
fn a_long_name_is_whole_in_a_stack_overflow_report() {
    let err = child_stderr("overflow");
    assert!(
        err.contains(&format!("thread '{LONG}' (ULT ")) && err.contains("overflowed its stack"),
        "{err}"
    );
}

#[test]
fn set_name_renames_a_running_thread_in_the_table() {
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let h = thread::spawn(move || rx.recv().unwrap());
    h.thread().set_name(LONG).unwrap();
    assert_eq!(thread::find(h.thread().id()).unwrap().name(), Some(LONG));
    let row = thread::threads()
        .into_iter()
        .find(|t| t.id == h.thread().id())
        .expect("the thread is in the table");
    assert_eq!(row.name.as_deref(), Some(LONG));
    tx.send(()).unwrap();
    h.join().unwrap();
}

#[test]
fn set_name_of_an_exited_thread_is_an_error() {
    let h = thread::spawn(|| ());
    let t = h.thread().clone();
    h.join().unwrap();
    assert!(matches!(
        t.set_name("late"),
        Err(thread::ThreadError::Exited { .. })
    ));
}

#[test]
fn current_id_is_the_id_of_current() {
    assert_eq!(thread::current_id(), thread::current().id());
    let (a, b) = thread::spawn(|| (thread::current_id(), thread::current().id()))
        .join()
        .unwrap();
    assert_eq!(a, b);
}

//! `weave::io::stdout` and `stderr`: their output and `println!`'s /
//! `eprintln!`'s keep their order (one buffer: std's); a `StdoutLock`
//! holder may write through another handle; a ULT writing to a full stdout
//! pipe leaves its LWP free (one LWP, a child process whose stdout the test
//! reads only later), in small writes (waited for in the reactor) and in
//! one large write (on the blocking pool), and every byte arrives in order.

mod io_common;

use std::fmt::Write as _;

use io_common::{another_ult_runs_then_ready, between_marks, run, SCENARIO};
use weave::io::{stderr, stdout, Write};
use weave::thread::{self, BlockReason};

/// Lines written to a stdout pipe nobody reads yet: 400 KB, far more than
/// a pipe holds (64 KiB by default).
const LINES: usize = 4000;

fn numbered_line(i: usize) -> String {
    format!("{i:0>99}\n")
}

fn all_lines() -> String {
    (0..LINES).fold(String::new(), |mut s, i| {
        let _ = write!(s, "{}", numbered_line(i));
        s
    })
}

/// The child's side of every test here.
#[test]
fn child() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return; // Only meaningful in the child process.
    };
    match scenario.as_str() {
        "stdout_order" => thread::spawn(|| {
            print!("<<");
            stdout().write_all(b"a").unwrap();
            println!("b");
            write!(stdout(), "c\nd").unwrap();
            print!("e");
            stdout().lock().write_all(b"f\n").unwrap();
            println!(">>");
        })
        .join()
        .unwrap(),
        "stderr_order" => thread::spawn(|| {
            eprint!("<<");
            stderr().write_all(b"x").unwrap();
            eprintln!("y");
            write!(stderr(), "z").unwrap();
            eprintln!(">>");
        })
        .join()
        .unwrap(),
        "reentrant" => thread::spawn(|| {
            let mut held = stdout().lock();
            held.write_all(b"<<held,").unwrap();
            stdout().write_all(b"again,").unwrap();
            writeln!(held, "held>>").unwrap();
        })
        .join()
        .unwrap(),
        "full_pipe_small" | "full_pipe_large" => {
            weave::set_concurrency(1).unwrap();
            let large = scenario == "full_pipe_large";
            let writer = thread::spawn(move || {
                let mut out = stdout();
                out.write_all(b"<<").unwrap();
                if large {
                    out.write_all(all_lines().as_bytes()).unwrap();
                } else {
                    for i in 0..LINES {
                        out.write_all(numbered_line(i).as_bytes()).unwrap();
                    }
                }
                out.write_all(b">>\n").unwrap();
                out.flush().unwrap();
                thread::current_lwp()
            });
            // Small writes wait for writability in the reactor; a large
            // one runs on the blocking pool.
            let reason = if large {
                BlockReason::Io
            } else {
                BlockReason::Net
            };
            let other = another_ult_runs_then_ready(writer.thread().id(), reason);
            assert_eq!(
                writer.join().unwrap(),
                other,
                "the writer and the other ULT share one LWP"
            );
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn println_and_weave_stdout_keep_their_order() {
    let out = run("stdout_order", false, b"", None);
    assert_eq!(between_marks(&out.stdout), "ab\nc\ndef\n");
}

#[test]
fn eprintln_and_weave_stderr_keep_their_order() {
    let out = run("stderr_order", false, b"", None);
    assert_eq!(between_marks(&out.stderr), "xy\nz");
}

#[test]
fn a_stdout_lock_holder_may_write_through_another_handle() {
    let out = run("reentrant", false, b"", None);
    assert_eq!(between_marks(&out.stdout), "held,again,held");
}

#[test]
fn small_writes_to_a_full_stdout_pipe_leave_the_one_lwp_free() {
    let out = run("full_pipe_small", true, b"", None);
    assert!(
        between_marks(&out.stdout) == all_lines(),
        "the lines arrived changed: {} bytes",
        out.stdout.len()
    );
}

#[test]
fn a_large_write_to_a_full_stdout_pipe_leaves_the_one_lwp_free() {
    let out = run("full_pipe_large", true, b"", None);
    assert!(
        between_marks(&out.stdout) == all_lines(),
        "the lines arrived changed: {} bytes",
        out.stdout.len()
    );
}

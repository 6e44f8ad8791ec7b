//! `weave::io::stdin`: a ULT waiting for input on a pipe leaves its LWP
//! free (one LWP, a child process whose stdin the test writes later);
//! lines, `read_line` and `read_to_end` give the bytes exactly, from a pipe
//! and from a regular file.

mod io_common;

use std::io::Write;
use std::process::Stdio;

use io_common::{another_ult_runs_then_ready, run, SCENARIO};
use weave::io::{stdin, BufRead, Read};
use weave::thread::{self, BlockReason};

/// The child's side of every test here.
#[test]
fn child() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return; // Only meaningful in the child process.
    };
    match scenario.as_str() {
        "one_lwp" => {
            weave::set_concurrency(1).unwrap();
            let reader = thread::spawn(|| {
                let lines: Vec<String> = stdin().lines().map(Result::unwrap).collect();
                (thread::current_lwp(), lines)
            });
            let other = another_ult_runs_then_ready(reader.thread().id(), BlockReason::Net);
            let (lwp, lines) = reader.join().unwrap();
            assert_eq!(lwp, other, "the reader and the other ULT share one LWP");
            print_lines(lines);
        }
        "lines" => {
            let lines = thread::spawn(|| stdin().lock().lines().map(Result::unwrap).collect())
                .join()
                .unwrap();
            print_lines(lines);
        }
        "read_line_then_rest" => {
            let (first, rest) = thread::spawn(|| {
                let mut first = String::new();
                stdin().read_line(&mut first).unwrap();
                let mut rest = Vec::new();
                (&stdin()).read_to_end(&mut rest).unwrap();
                (first, rest)
            })
            .join()
            .unwrap();
            println!("first:{first:?}");
            println!("rest:{:?}", String::from_utf8(rest).unwrap());
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn print_lines(lines: Vec<String>) {
    for l in lines {
        println!("line:{l:?}");
    }
}

/// The lines the child printed with `print_lines` (the first may follow
/// libtest's "test child ... " on the same line).
fn lines_of(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.find("line:").map(|i| l[i + 5..].to_owned()))
        .collect()
}

fn quoted(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| format!("{l:?}")).collect()
}

#[test]
fn a_ult_waiting_for_stdin_leaves_its_one_lwp_free() {
    let out = run("one_lwp", true, b"late\ninput\n", None);
    assert_eq!(lines_of(&out.stdout), quoted(&["late", "input"]));
}

/// Longer than stdin's 8 KiB buffer, so a line spans two reads.
fn long_line() -> String {
    "0123456789".repeat(1000)
}

#[test]
fn lines_read_from_a_pipe_are_exact() {
    let long = long_line();
    let input = format!("alpha\nbeta\r\n\n  spaced  \n{long}\nünïcode\nlast without newline");
    let out = run("lines", false, input.as_bytes(), None);
    assert_eq!(
        lines_of(&out.stdout),
        quoted(&[
            "alpha",
            "beta",
            "",
            "  spaced  ",
            &long,
            "ünïcode",
            "last without newline"
        ])
    );
}

#[test]
fn lines_read_from_a_regular_file_are_exact() {
    let path = std::env::temp_dir().join(format!("weave-io-stdin-{}", std::process::id()));
    let long = long_line();
    std::fs::File::create(&path)
        .unwrap()
        .write_all(format!("one\n{long}\nthree\n").as_bytes())
        .unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let out = run("lines", false, b"", Some(Stdio::from(file)));
    assert_eq!(lines_of(&out.stdout), quoted(&["one", &long, "three"]));
}

#[test]
fn read_line_and_read_to_end_share_one_buffer() {
    let out = run(
        "read_line_then_rest",
        false,
        b"first line\nsecond\nthird",
        None,
    );
    assert_eq!(
        out.stdout
            .lines()
            .filter_map(|l| ["first:", "rest:"]
                .iter()
                .find_map(|m| l.find(m).map(|i| &l[i..])))
            .collect::<Vec<_>>(),
        ["first:\"first line\\n\"", "rest:\"second\\nthird\""]
    );
}

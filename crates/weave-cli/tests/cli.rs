//! The command line as a whole: the help lists every subcommand and each
//! has its own, `lab --json` is JSON, a bad option is refused with status
//! 2, and `weave env` reports the variables of the library's table with
//! their state here.

use std::process::{Command, Output};

/// Runs `weave ARGS` with every `WEAVE_*` variable of the table unset,
/// then `set` applied.
fn weave(args: &[&str], set: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weave"));
    cmd.args(args);
    for v in weave::config::variables() {
        cmd.env_remove(v.name);
    }
    cmd.envs(set.iter().copied());
    cmd.output().expect("the weave binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_subcommand() {
    let out = weave(&["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["demo", "bench", "lab", "env", "port"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing:\n{help}"
        );
    }
}

#[test]
fn every_subcommand_answers_help_with_its_own_usage() {
    for cmd in [
        "demo",
        "bench",
        "lab",
        "env",
        "port",
        "trace",
        "trace view",
        "trace export",
        "top",
    ] {
        let mut args: Vec<&str> = cmd.split(' ').collect();
        args.push("--help");
        let out = weave(&args, &[]);
        assert!(out.status.success(), "{cmd} --help: {:?}", out.status);
        let help = text(&out.stdout);
        assert!(
            help.contains(&format!("Usage: weave {cmd}")),
            "{cmd}:\n{help}"
        );
    }
}

#[test]
fn lab_json_parses_with_a_row_per_algorithm() {
    let out = weave(&["lab", "--quick", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("one JSON object");
    let rows = v["algorithms"].as_array().expect("an algorithms array");
    assert!(rows.iter().any(|r| r["name"] == "Peterson"), "{v}");
    for r in rows {
        assert!(r["progress"] == "ok" || r["progress"] == "stalled", "{r}");
        assert!(r["entries"].is_u64(), "{r}");
    }
    assert!(v["options"]["duration_ns"].is_u64(), "{v}");
}

#[test]
fn no_subcommand_prints_the_help_and_fails() {
    let out = weave(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Commands:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_option_of_lab_is_refused() {
    let out = weave(&["lab", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unexpected argument '--bogus'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn env_lists_every_variable_with_its_default() {
    let out = weave(&["env"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    for v in weave::config::variables() {
        let default = format!("  default {}", v.default);
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(v.name) && l.ends_with(&default)),
            "{} and its default missing:\n{listing}",
            v.name
        );
        assert!(
            listing.contains(v.meaning),
            "{} meaning:\n{listing}",
            v.name
        );
    }
    assert_eq!(
        listing.matches("unset here").count(),
        weave::config::variables().len(),
        "{listing}"
    );
}

#[test]
fn env_shows_a_valid_value_as_parsed() {
    let out = weave(&["env"], &[("WEAVE_STACK_SIZE", "1m")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing.contains("set here to \"1m\": valid, 1 MiB"),
        "{listing}"
    );
}

#[test]
fn env_flags_an_invalid_value_and_fails() {
    let out = weave(&["env"], &[("WEAVE_WARN", "maybe")]);
    assert_eq!(out.status.code(), Some(2));
    let listing = text(&out.stdout);
    assert!(
        listing.contains("set here to \"maybe\": NOT VALID"),
        "{listing}"
    );
    assert!(
        text(&out.stderr).contains("1 variable has a value the runtime refuses"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn env_says_whether_this_kernel_can_compact_idle_stacks() {
    let out = weave(&["env"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("WEAVE_COMPACT") && l.ends_with("default 10s")),
        "compaction is not on by default in:\n{listing}"
    );
    let line = listing
        .lines()
        .find(|l| l.starts_with("Compaction of idle stacks (WEAVE_COMPACT)"))
        .unwrap_or_else(|| panic!("no compaction line in:\n{listing}"));
    match weave::stack::compaction_support() {
        Ok(()) => assert!(
            line.contains("this kernel supports it; on after 10s unless set"),
            "{line}"
        ),
        Err(why) => assert!(line.contains("off here") && line.contains(&why), "{line}"),
    }
}

#[test]
fn env_lists_the_inspection_variables_and_checks_their_values() {
    let out = weave(
        &["env"],
        &[
            ("WEAVE_SCHEDTRACE", "250ms"),
            ("WEAVE_TOP", "1"),
            ("WEAVE_TRACE", "run.trace"),
            ("WEAVE_TRACE_RING", "99999999999"),
            ("WEAVE_DUMP_SIGNAL", "SIGKILL"),
        ],
    );
    let listing = text(&out.stdout);
    assert!(
        listing.contains("set here to \"99999999999\": NOT VALID"),
        "{listing}"
    );
    for name in [
        "WEAVE_TRACE_RING",
        "WEAVE_TRACE",
        "WEAVE_DUMP_SIGNAL",
        "WEAVE_SCHEDTRACE",
        "WEAVE_TOP",
    ] {
        assert!(
            listing.lines().any(|l| l.starts_with(name)),
            "{name}:\n{listing}"
        );
    }
    assert!(
        listing.contains("set here to \"250ms\": valid, 250ms"),
        "{listing}"
    );
    assert!(
        listing.contains("set here to \"1\": valid, on"),
        "{listing}"
    );
    assert!(
        listing.contains("set here to \"run.trace\": valid, written to that file"),
        "{listing}"
    );
    // SIGKILL cannot be caught: the runtime refuses it, and so does env.
    assert!(
        listing.contains("set here to \"SIGKILL\": NOT VALID"),
        "{listing}"
    );
    assert_eq!(out.status.code(), Some(2));
}

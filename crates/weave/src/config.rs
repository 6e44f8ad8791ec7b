//! config: the `WEAVE_*` environment variables, in one table, and the
//! parsers of the spellings users type for them.
//!
//! Every variable the runtime reads is a row of [`variables`]: its name,
//! its [`Kind`], its default and a line saying what it does. `weave env`
//! prints that table with the values in force. The runtime reads a
//! variable through one of the crate-private accessors below, once, when
//! it starts.
//!
//! What is accepted, whatever the variable:
//!
//! | kind | spellings (case does not matter) |
//! |---|---|
//! | switch | `1`, `on`, `true`, `yes`; `0`, `off`, `false`, `no` |
//! | count | a whole number: `4` |
//! | size | bytes, or a whole number with a unit: `k`, `KiB`, `KB` (all 1024), `m`, `MiB`, `MB`, `g`, `GiB`, `GB`: `512k`, `8 MiB` |
//! | duration | a number with a unit: `ns`, `us` (or `µs`), `ms`, `s`: `500us`, `2.5ms`; a bare number is in the variable's own unit |
//! | path | any text: a file to write; `none` for none |
//! | signal | `SIGQUIT`, `SIGUSR1`, `SIGUSR2` (the `SIG` may be left out); `off` |
//!
//! An empty value counts as unset. A value that does not parse, or lies
//! outside the variable's range, is not fatal (a typo must not take a
//! program down) and not silent either: it costs one line on stderr
//! naming the variable, the value and what is accepted, and the default
//! is used.
//!
//! This module owns the table and the parsing only. It must not import
//! the engine (`runtime`, `lwp`, `monitor`, `sched`): the engine calls in
//! here, and the table repeats the engine's few limits as literals, each
//! pinned to the engine's constant by a unit test.

use std::ffi::OsStr;
use std::fmt;
use std::time::Duration;

use crate::stack::{MAX_STACK_SIZE, MIN_STACK_SIZE};

/// What kind of value a variable takes, and its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// On or off.
    Switch,
    /// A whole number from 0 to `max`.
    Count {
        /// The largest value accepted.
        max: usize,
    },
    /// A number of bytes from 0 to `max`, with an optional unit.
    Size {
        /// The largest value accepted.
        max: usize,
    },
    /// A duration from `min` on; a bare number is in `bare`.
    Duration {
        /// The unit of a number written without one.
        bare: TimeUnit,
        /// The shortest value accepted.
        min: Duration,
    },
    /// A file to write (`none`: none).
    Path,
    /// A signal the runtime takes over (`off`: none).
    Signal,
}

/// The unit of a bare number given to a [`Kind::Duration`] variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeUnit {
    /// Nanoseconds, `ns`.
    Nanos,
    /// Microseconds, `us` or `µs`.
    Micros,
    /// Milliseconds, `ms`.
    Millis,
    /// Seconds, `s`.
    Secs,
}

impl TimeUnit {
    fn nanos(self) -> u128 {
        match self {
            TimeUnit::Nanos => 1,
            TimeUnit::Micros => 1_000,
            TimeUnit::Millis => 1_000_000,
            TimeUnit::Secs => 1_000_000_000,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Nanos => "ns",
            TimeUnit::Micros => "us",
            TimeUnit::Millis => "ms",
            TimeUnit::Secs => "s",
        }
    }
}

/// One `WEAVE_*` variable: a row of [`variables`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Variable {
    /// The environment variable, e.g. `WEAVE_LWPS`.
    pub name: &'static str,
    /// What it takes.
    pub kind: Kind,
    /// Its value when unset, as a user would write it (it parses).
    pub default: &'static str,
    /// What it does, in one line.
    pub meaning: &'static str,
}

/// A parsed value of a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// Of a [`Kind::Switch`].
    Switch(bool),
    /// Of a [`Kind::Count`].
    Count(usize),
    /// Of a [`Kind::Size`], in bytes.
    Size(usize),
    /// Of a [`Kind::Duration`].
    Duration(Duration),
    /// Of a [`Kind::Path`]: whether a path is given (`none` is not).
    Path(bool),
    /// Of a [`Kind::Signal`]: the signal's number, 0 for `off`.
    Signal(i32),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Switch(on) => f.write_str(if on { "on" } else { "off" }),
            Value::Count(n) => write!(f, "{n}"),
            Value::Size(n) => {
                for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
                    if n != 0 && n % (1 << shift) == 0 {
                        return write!(f, "{} {unit}", n >> shift);
                    }
                }
                write!(f, "{n} bytes")
            }
            Value::Duration(d) => write!(f, "{d:?}"),
            Value::Path(given) => f.write_str(if given {
                "written to that file"
            } else {
                "none"
            }),
            Value::Signal(0) => f.write_str("off"),
            Value::Signal(n) => write!(f, "signal {n}"),
        }
    }
}

/// A value a variable does not accept: what was given and what would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The variable.
    pub name: &'static str,
    /// The value given (lossily decoded if it was not UTF-8).
    pub value: String,
    /// What the variable accepts, for a person to read.
    pub accepted: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} is not valid: expected {}",
            self.name, self.value, self.accepted
        )
    }
}

impl std::error::Error for Invalid {}

/// Most LWPs of the pool; `runtime::MAX_CONCURRENCY` (a test pins them).
const MAX_LWPS: usize = 256;
/// The largest trace ring: 16 Mi events, 256 MiB a thread.
const MAX_TRACE_RING: usize = 1 << 24;

/// The shortest time slice; `Monitor::set_slice` raises shorter ones to it.
const MIN_SLICE: Duration = Duration::from_micros(100);

const VARIABLES: &[Variable] = &[
    Variable {
        name: "WEAVE_LWPS",
        kind: Kind::Count { max: MAX_LWPS },
        default: "0",
        meaning: "LWPs in the pool (set_concurrency); 0: one per CPU the process may use",
    },
    Variable {
        name: "WEAVE_STACK_SIZE",
        kind: Kind::Size {
            max: MAX_STACK_SIZE,
        },
        default: "256KiB",
        meaning: "stack of a ULT that does not ask for a size; less than 16 KiB is rounded up",
    },
    Variable {
        name: "WEAVE_PREEMPT",
        kind: Kind::Switch,
        default: "on",
        meaning: "time slices: off lets a ULT run until it blocks or yields",
    },
    Variable {
        name: "WEAVE_TIME_SLICE",
        kind: Kind::Duration {
            bare: TimeUnit::Millis,
            min: MIN_SLICE,
        },
        default: "10ms",
        meaning: "how long a ULT may run while others wait on its LWP (set_time_slice)",
    },
    Variable {
        name: "WEAVE_WARN",
        kind: Kind::Switch,
        default: "on",
        meaning: "warn, naming the thread, when a ULT blocks its LWP in the kernel",
    },
    Variable {
        name: "WEAVE_ACCOUNTING",
        kind: Kind::Switch,
        default: "off",
        meaning: "measure each ULT's run time (set_accounting): one clock read per switch",
    },
    Variable {
        name: "WEAVE_TRIM",
        kind: Kind::Duration {
            bare: TimeUnit::Millis,
            min: Duration::ZERO,
        },
        default: "1s",
        meaning: "give back the stack pages below a ULT parked this long (1 to 2 periods); 0 turns it off",
    },
    Variable {
        name: "WEAVE_COMPACT",
        kind: Kind::Duration {
            bare: TimeUnit::Millis,
            min: Duration::ZERO,
        },
        default: "10s",
        meaning: "copy out and release the whole stack of a ULT parked this long in a socket wait, \
                  sleep, channel send/recv or select!, unless it owns a live thread::scope or threads \
                  weave did not start are running (docs/design/compaction.md); 0 turns it off (for \
                  programs that hand pointers into a ULT's stack to other threads' system calls by \
                  unsafe code); the C library leaves it off unless this is set; \
                  off on kernels without MADV_GUARD_INSTALL (Linux 6.13+)",
    },
    Variable {
        name: "WEAVE_TRACE",
        kind: Kind::Path,
        default: "none",
        meaning: "record a trace of the whole run to this file (see it with weave trace view)",
    },
    Variable {
        name: "WEAVE_TRACE_RING",
        kind: Kind::Count {
            max: MAX_TRACE_RING,
        },
        default: "262144",
        meaning: "events each thread's trace ring holds, 16 bytes each, rounded up to a power of two; \
                  raise it when a trace says it dropped events",
    },
    Variable {
        name: "WEAVE_DUMP_SIGNAL",
        kind: Kind::Signal,
        default: "off",
        meaning: "print a thread dump, stacks included, to stderr on this signal",
    },
    Variable {
        name: "WEAVE_SCHEDTRACE",
        kind: Kind::Duration {
            bare: TimeUnit::Millis,
            min: Duration::ZERO,
        },
        default: "0",
        meaning: "print a line per interval on stderr: LWPs, run queues, threads, rates; 0 turns it off, at least 1ms",
    },
    Variable {
        name: "WEAVE_TOP",
        kind: Kind::Switch,
        default: "off",
        meaning: "open the socket weave top PID reads (Linux abstract namespace, @weave-top-PID)",
    },
];

/// Every `WEAVE_*` variable the runtime reads, in a stable order.
pub fn variables() -> &'static [Variable] {
    VARIABLES
}

/// The variable called `name`, if weave reads one by that name.
pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
}

impl Variable {
    /// Parses `raw` as this variable's value, range included.
    pub fn parse(&self, raw: &str) -> Result<Value, Invalid> {
        let value = match self.kind {
            Kind::Switch => parse_switch(raw).map(Value::Switch),
            Kind::Count { max } => parse_count(raw).filter(|&n| n <= max).map(Value::Count),
            Kind::Size { max } => parse_size(raw).filter(|&n| n <= max).map(Value::Size),
            Kind::Duration { bare, min } => parse_duration(raw, bare)
                .filter(|&d| d >= min)
                .map(Value::Duration),
            Kind::Path => Some(Value::Path(!raw.trim().eq_ignore_ascii_case("none"))),
            Kind::Signal => parse_signal(raw).map(Value::Signal),
        };
        value.ok_or_else(|| self.invalid(raw))
    }

    /// The value in force when the variable is unset.
    pub fn default_value(&self) -> Value {
        match self.parse(self.default) {
            Ok(v) => v,
            Err(e) => crate::fatal(&format!("the default of {e}")),
        }
    }

    /// The variable's value in this process's environment: `None` when it
    /// is unset or empty.
    pub fn current(&self) -> Option<Result<Value, Invalid>> {
        self.check(std::env::var_os(self.name).as_deref())
    }

    /// Checks a raw environment value (`None`: unset).
    pub fn check(&self, raw: Option<&OsStr>) -> Option<Result<Value, Invalid>> {
        let raw = raw?;
        match raw.to_str() {
            Some(s) if s.trim().is_empty() => None,
            Some(s) => Some(self.parse(s)),
            None => Some(Err(self.invalid(&raw.to_string_lossy()))),
        }
    }

    /// The value to use: the environment's if valid, else the default,
    /// after one line on stderr saying why.
    pub fn get(&self) -> Value {
        match self.current() {
            None => self.default_value(),
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                eprintln!("weave: {e}; using the default, {}", self.default);
                self.default_value()
            }
        }
    }

    /// What the variable accepts, for a person to read.
    pub fn accepted(&self) -> String {
        match self.kind {
            Kind::Switch => "on/off: 1, on, true, yes or 0, off, false, no".to_owned(),
            Kind::Count { max } => format!("a whole number from 0 to {max}"),
            Kind::Size { max } => format!(
                "a size up to {}: bytes, or a number with k/KiB/KB, m/MiB/MB, g/GiB/GB (1024-based)",
                Value::Size(max)
            ),
            Kind::Duration { bare, min } => format!(
                "a duration{}: a number with ns, us, ms or s ({} if bare)",
                if min.is_zero() {
                    String::new()
                } else {
                    format!(" of at least {min:?}")
                },
                bare.symbol()
            ),
            Kind::Path => "a file path, or none".to_owned(),
            Kind::Signal => "SIGQUIT, SIGUSR1, SIGUSR2 (SIG may be left out), or off".to_owned(),
        }
    }

    fn invalid(&self, raw: &str) -> Invalid {
        Invalid {
            name: self.name,
            value: raw.to_owned(),
            accepted: self.accepted(),
        }
    }
}

/// The value of the variable `name` in force (see [`Variable::get`]).
fn get(name: &str) -> Value {
    match variable(name) {
        Some(v) => v.get(),
        None => crate::fatal(&format!("{name} is not in the table of variables")),
    }
}

fn get_switch(name: &str) -> bool {
    match get(name) {
        Value::Switch(on) => on,
        other => crate::fatal(&format!("{name} is a switch, not {other}")),
    }
}

fn get_usize(name: &str) -> usize {
    match get(name) {
        Value::Count(n) | Value::Size(n) => n,
        other => crate::fatal(&format!("{name} is a number, not {other}")),
    }
}

/// `WEAVE_LWPS`: the pool size to start with, 0 for automatic.
pub(crate) fn lwps() -> usize {
    get_usize("WEAVE_LWPS")
}

/// `WEAVE_STACK_SIZE`, rounded up to the smallest stack.
pub(crate) fn stack_size() -> usize {
    get_usize("WEAVE_STACK_SIZE").max(MIN_STACK_SIZE)
}

/// `WEAVE_TIME_SLICE`, or `None` when `WEAVE_PREEMPT` turns slices off.
pub(crate) fn time_slice() -> Option<Duration> {
    if !get_switch("WEAVE_PREEMPT") {
        return None;
    }
    match get("WEAVE_TIME_SLICE") {
        Value::Duration(d) => Some(d),
        other => crate::fatal(&format!("WEAVE_TIME_SLICE is a duration, not {other}")),
    }
}

/// `WEAVE_TRACE_RING`: events per thread in a `WEAVE_TRACE` recording.
pub(crate) fn trace_ring() -> usize {
    get_usize("WEAVE_TRACE_RING")
}

/// `WEAVE_WARN`.
pub(crate) fn warn() -> bool {
    get_switch("WEAVE_WARN")
}

/// `WEAVE_ACCOUNTING`.
pub(crate) fn accounting() -> bool {
    get_switch("WEAVE_ACCOUNTING")
}

/// `WEAVE_TRIM`, or `None` when it is 0 (trimming off).
pub(crate) fn trim_after() -> Option<Duration> {
    match get("WEAVE_TRIM") {
        Value::Duration(d) if d.is_zero() => None,
        Value::Duration(d) => Some(d),
        other => crate::fatal(&format!("WEAVE_TRIM is a duration, not {other}")),
    }
}

/// `WEAVE_COMPACT`, or `None` when it is 0 (compaction off). Whether
/// this kernel can compact is the caller's to check
/// (`stack::compaction_support`).
pub(crate) fn compact_after() -> Option<Duration> {
    duration_or_off("WEAVE_COMPACT", get("WEAVE_COMPACT"))
}

/// Whether this environment sets `WEAVE_COMPACT` to a value the runtime
/// accepts (the C library compacts only then:
/// `stack::keep_compaction_off_unless_set`).
pub(crate) fn compact_set() -> bool {
    variable("WEAVE_COMPACT").is_some_and(|v| matches!(v.current(), Some(Ok(_))))
}

/// A duration variable's value, `None` for 0 (off).
fn duration_or_off(name: &str, v: Value) -> Option<Duration> {
    match v {
        Value::Duration(d) if d.is_zero() => None,
        Value::Duration(d) => Some(d),
        other => crate::fatal(&format!("{name} is a duration, not {other}")),
    }
}

/// The signal `WEAVE_DUMP_SIGNAL` asks thread dumps on (0: none, or a value
/// weave does not read as a signal). Read from the environment each time:
/// only signal installs ask, to refuse the signal the dump owns.
pub(crate) fn dump_signal() -> i32 {
    std::env::var("WEAVE_DUMP_SIGNAL")
        .ok()
        .and_then(|v| parse_signal(&v))
        .unwrap_or(0)
}

/// The number of a signal as `WEAVE_DUMP_SIGNAL` names it; 0 for `off`.
pub(crate) fn parse_signal(raw: &str) -> Option<i32> {
    let n = raw.trim().to_ascii_uppercase();
    match n.strip_prefix("SIG").unwrap_or(&n) {
        "OFF" | "NONE" => Some(0),
        "QUIT" => Some(libc::SIGQUIT),
        "USR1" => Some(libc::SIGUSR1),
        "USR2" => Some(libc::SIGUSR2),
        _ => None,
    }
}

/// `1`, `on`, `true`, `yes` / `0`, `off`, `false`, `no`, any case.
pub(crate) fn parse_switch(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// A whole number of ASCII digits (no sign, no unit).
fn parse_count(raw: &str) -> Option<usize> {
    let s = raw.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits `12.5 ms` into `("12.5", "ms")`: the number, then the unit with
/// the blanks between them dropped.
fn split_unit(raw: &str) -> (&str, &str) {
    let s = raw.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim_start())
}

/// Bytes, or a whole number with a 1024-based unit: `k`, `KiB`, `KB`,
/// `m`, ..., any case; an optional `b`/`B` alone means bytes.
fn parse_size(raw: &str) -> Option<usize> {
    let (digits, unit) = split_unit(raw);
    let n = parse_count(digits)?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// A number (decimals allowed) with `ns`, `us`/`µs`, `ms` or `s`, or bare
/// in `bare`. Exact to the nanosecond: `2.5ms` is 2,500,000 ns.
fn parse_duration(raw: &str, bare: TimeUnit) -> Option<Duration> {
    let (number, unit) = split_unit(raw);
    let unit = match unit.to_lowercase().as_str() {
        "" => bare,
        "ns" => TimeUnit::Nanos,
        // U+00B5 (micro sign) and U+03BC (Greek mu): keyboards give both.
        "us" | "\u{b5}s" | "\u{3bc}s" => TimeUnit::Micros,
        "ms" => TimeUnit::Millis,
        "s" => TimeUnit::Secs,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    let per = unit.nanos();
    let mut nanos = if whole.is_empty() {
        0
    } else {
        whole.parse::<u128>().ok()?.checked_mul(per)?
    };
    // Each fractional digit is worth a tenth of the one before; digits
    // past the nanosecond add nothing.
    let mut place = per;
    for d in frac.bytes() {
        place /= 10;
        nanos += u128::from(d - b'0') * place;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_is_on_by_default_after_ten_seconds() {
        let v = variable("WEAVE_COMPACT").unwrap();
        let d = duration_or_off(v.name, v.default_value());
        assert_eq!(d, Some(Duration::from_secs(10)));
        assert_eq!(v.check(None), None, "unset is the default, not set");
        assert_eq!(
            v.check(Some(OsStr::new(" "))),
            None,
            "empty counts as unset"
        );
        assert_eq!(
            duration_or_off(v.name, v.check(Some(OsStr::new("0"))).unwrap().unwrap()),
            None,
            "0 turns it off"
        );
    }

    #[test]
    fn switch_accepts_the_usual_spellings_in_any_case() {
        for on in ["1", "on", "ON", "true", "True", "yes", " YES "] {
            assert_eq!(parse_switch(on), Some(true), "{on}");
        }
        for off in ["0", "off", "Off", "false", "FALSE", "no", "No"] {
            assert_eq!(parse_switch(off), Some(false), "{off}");
        }
    }

    #[test]
    fn switch_refuses_anything_else() {
        for bad in ["2", "enable", "y", "", "-1", "o n"] {
            assert_eq!(parse_switch(bad), None, "{bad}");
        }
    }

    #[test]
    fn count_is_plain_digits() {
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count(" 12 "), Some(12));
        for bad in ["", "-1", "+3", "4k", "1.5", "1_000"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
    }

    #[test]
    fn size_units_are_1024_based_in_every_spelling() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("4096b"), Some(4096));
        for k in ["64k", "64K", "64KiB", "64kib", "64KB", "64kB", "64 KiB"] {
            assert_eq!(parse_size(k), Some(64 << 10), "{k}");
        }
        for m in ["8m", "8M", "8MiB", "8MB", "8 mb"] {
            assert_eq!(parse_size(m), Some(8 << 20), "{m}");
        }
        for g in ["1g", "1G", "1GiB", "1GB"] {
            assert_eq!(parse_size(g), Some(1 << 30), "{g}");
        }
    }

    #[test]
    fn size_refuses_fractions_signs_unknown_units_and_overflow() {
        for bad in [
            "",
            "k",
            "1.5M",
            "-4k",
            "4 kilobytes",
            "4T",
            "4KK",
            "99999999999999999999",
            "17179869184g",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn duration_units_and_the_bare_unit() {
        let ms = TimeUnit::Millis;
        assert_eq!(parse_duration("7", ms), Some(Duration::from_millis(7)));
        assert_eq!(
            parse_duration("7", TimeUnit::Micros),
            Some(Duration::from_micros(7))
        );
        assert_eq!(parse_duration("250ns", ms), Some(Duration::from_nanos(250)));
        for us in ["500us", "500µs", "500\u{3bc}s", "500 US"] {
            assert_eq!(
                parse_duration(us, ms),
                Some(Duration::from_micros(500)),
                "{us}"
            );
        }
        assert_eq!(parse_duration("10ms", ms), Some(Duration::from_millis(10)));
        assert_eq!(parse_duration("2s", ms), Some(Duration::from_secs(2)));
    }

    #[test]
    fn duration_decimals_are_exact() {
        let ms = TimeUnit::Millis;
        assert_eq!(
            parse_duration("2.5ms", ms),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(parse_duration(".5s", ms), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.", ms), Some(Duration::from_millis(1)));
        assert_eq!(
            parse_duration("0.0000000019s", ms),
            Some(Duration::from_nanos(1))
        );
    }

    #[test]
    fn duration_refuses_unknown_units_signs_and_overflow() {
        let ms = TimeUnit::Millis;
        for bad in [
            "", ".", "ms", "-1ms", "1m", "1h", "1.2.3s", "1 ms s", "1e3ns",
        ] {
            assert_eq!(parse_duration(bad, ms), None, "{bad}");
        }
        assert_eq!(parse_duration("99999999999999999999999s", ms), None);
    }

    #[test]
    fn signal_names_take_the_sig_prefix_or_not_in_any_case() {
        let parse = parse_signal;
        assert_eq!(parse("SIGQUIT"), Some(libc::SIGQUIT));
        assert_eq!(parse("quit"), Some(libc::SIGQUIT));
        assert_eq!(parse("SigUsr1"), Some(libc::SIGUSR1));
        assert_eq!(parse("off"), Some(0));
        assert_eq!(parse("SIGKILL"), None);
    }

    #[test]
    fn every_default_parses() {
        for v in variables() {
            assert!(v.parse(v.default).is_ok(), "{}", v.name);
        }
    }

    #[test]
    fn defaults_and_limits_match_the_engine() {
        let get = |name| variable(name).unwrap();
        assert_eq!(
            get("WEAVE_STACK_SIZE").default_value(),
            Value::Size(crate::stack::DEFAULT_STACK_SIZE)
        );
        assert_eq!(
            get("WEAVE_LWPS").kind,
            Kind::Count {
                max: crate::runtime::MAX_CONCURRENCY
            }
        );
        assert_eq!(
            get("WEAVE_TIME_SLICE").default_value(),
            Value::Duration(crate::monitor::DEFAULT_TIME_SLICE)
        );
    }

    #[test]
    fn names_are_unique_and_prefixed() {
        for (i, v) in variables().iter().enumerate() {
            assert!(v.name.starts_with("WEAVE_"), "{}", v.name);
            assert!(
                variables()[..i].iter().all(|w| w.name != v.name),
                "{} twice",
                v.name
            );
        }
    }

    #[test]
    fn out_of_range_is_invalid() {
        let lwps = variable("WEAVE_LWPS").unwrap();
        assert_eq!(lwps.parse("256"), Ok(Value::Count(256)));
        assert!(lwps.parse("257").is_err());
        let stack = variable("WEAVE_STACK_SIZE").unwrap();
        assert_eq!(stack.parse("1GiB"), Ok(Value::Size(1 << 30)));
        assert!(stack.parse("2g").is_err());
        let slice = variable("WEAVE_TIME_SLICE").unwrap();
        assert!(slice.parse("99us").is_err());
        assert_eq!(
            slice.parse("100us"),
            Ok(Value::Duration(Duration::from_micros(100)))
        );
    }

    #[test]
    fn invalid_names_the_variable_the_value_and_what_is_accepted() {
        let e = variable("WEAVE_WARN").unwrap().parse("maybe").unwrap_err();
        let line = e.to_string();
        assert!(
            line.starts_with("WEAVE_WARN=\"maybe\" is not valid: expected "),
            "{line}"
        );
        assert!(
            line.contains("on, true, yes") && line.contains("off, false, no"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn a_duration_says_its_minimum_only_when_it_has_one() {
        let slice = variable("WEAVE_TIME_SLICE").unwrap().accepted();
        assert!(
            slice.starts_with("a duration of at least 100µs: "),
            "{slice}"
        );
        let trim = variable("WEAVE_TRIM").unwrap().accepted();
        assert!(trim.starts_with("a duration: "), "{trim}");
    }

    #[test]
    fn empty_counts_as_unset_and_non_utf8_is_invalid() {
        use std::os::unix::ffi::OsStrExt;
        let warn = variable("WEAVE_WARN").unwrap();
        assert_eq!(warn.check(None), None);
        assert_eq!(warn.check(Some(OsStr::new("  "))), None);
        let bad = warn.check(Some(OsStr::from_bytes(b"o\xffn")));
        assert!(matches!(bad, Some(Err(_))), "{bad:?}");
    }

    #[test]
    fn values_print_as_a_user_would_write_them() {
        assert_eq!(Value::Size(256 << 10).to_string(), "256 KiB");
        assert_eq!(Value::Size(1 << 30).to_string(), "1 GiB");
        assert_eq!(Value::Size(1000).to_string(), "1000 bytes");
        assert_eq!(Value::Switch(false).to_string(), "off");
        assert_eq!(
            Value::Duration(Duration::from_millis(10)).to_string(),
            "10ms"
        );
    }
}

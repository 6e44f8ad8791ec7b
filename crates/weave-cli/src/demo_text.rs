//! The text helpers of `weave demo`'s steps (`demo.rs`, `demo_steps.rs`):
//! headings, wrapped paragraphs, and figures written for a person
//! (`12,345`, `6.6 µs`). Names nothing of weave's.

use std::time::Duration;

/// Width the explanations are wrapped to: fits an 80-column terminal with
/// the two-space indent.
const TEXT_WIDTH: usize = 76;

/// Prints the heading of step `step`, after a blank line.
pub(crate) fn heading(step: u32, title: &str) {
    println!();
    println!("{step}. {title}");
}

/// Prints `text` wrapped to [`TEXT_WIDTH`], indented by two spaces.
pub(crate) fn para(text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > TEXT_WIDTH {
            println!("  {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        println!("  {line}");
    }
}

/// `12345678` as `12,345,678`.
pub(crate) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration with three significant figures or so: `850 ns`, `6.6 µs`,
/// `150 ms`, `1.16 s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        return format!("{ns} ns");
    }
    let (value, unit) = if ns < 1_000_000 {
        (format!("{:.1}", ns as f64 / 1e3), "µs")
    } else if ns < 1_000_000_000 {
        (format!("{:.1}", ns as f64 / 1e6), "ms")
    } else {
        (format!("{:.2}", d.as_secs_f64()), "s")
    };
    let value = value.strip_suffix(".0").unwrap_or(&value);
    format!("{value} {unit}")
}

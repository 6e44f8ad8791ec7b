//! The progress line of `weave bench`: on a terminal, one line on stderr
//! says which workload runs, which of the selected it is, which round of
//! it, and for how long, redrawn in place with a carriage return.
//!
//! It is on only when stderr is a terminal and the output is the table:
//! with `--json`, or with stderr sent to a file or a pipe, nothing is
//! written, so scripts and logs see no control characters. The results
//! stay on stdout; the line is wiped before each row is printed, so the
//! table reads as if the line had never been there.
//!
//! The state is one global, because rounds are counted in
//! `common::rounds`, deep inside each workload, which holds no handle. A
//! plain OS thread (not a ULT: it must not take a place on an LWP being
//! measured) redraws the line twice a second so that the elapsed time
//! moves during a long round; it sleeps the rest of the time.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the line shows.
struct Line {
    workload: &'static str,
    /// 1-based position of the workload among those selected, and their
    /// count; `at` is 0 between workloads, when nothing is drawn.
    at: usize,
    of: usize,
    /// The round running, 1-based, and the rounds of this pass.
    round: Option<(usize, usize)>,
    /// Passes of rounds started in this workload: most measure weave in
    /// one pass and the baseline in the next.
    passes: usize,
    started: Instant,
    /// The line is drawn (something to wipe before a row is printed).
    shown: bool,
    /// Where the control sequences and words go: stderr, but for tests.
    out: fn(&str),
}

/// `None` while progress is off.
static LINE: Mutex<Option<Line>> = Mutex::new(None);

/// How often the ticker redraws the line.
const TICK: Duration = Duration::from_millis(500);

/// Whether a run shows progress: only the table on a terminal does.
pub(super) fn wanted(json: bool, stderr_is_terminal: bool) -> bool {
    !json && stderr_is_terminal
}

/// Turns the line on, on stderr, for `of` workloads, and starts its
/// ticker.
pub(super) fn start(of: usize) {
    start_on(of, |s| {
        let _ = std::io::stderr().write_all(s.as_bytes());
    });
}

fn start_on(of: usize, out: fn(&str)) {
    *lock() = Some(Line {
        workload: "",
        at: 0,
        of,
        round: None,
        passes: 0,
        started: Instant::now(),
        shown: false,
        out,
    });
    // The ticker ends on its own once `finish` has turned the line off.
    // Without a ticker (no thread to be had) the line still moves at each
    // workload and round.
    let _ = std::thread::Builder::new()
        .name("weave bench progress".into())
        .spawn(|| loop {
            std::thread::sleep(TICK);
            let mut line = lock();
            match line.as_mut() {
                Some(l) if l.at > 0 => draw(l),
                Some(_) => {}
                None => return,
            }
        });
}

/// The workload `name`, the `at`-th of those selected, starts.
pub(super) fn workload(name: &'static str, at: usize) {
    if let Some(l) = lock().as_mut() {
        l.workload = name;
        l.at = at;
        l.round = None;
        l.passes = 0;
        l.started = Instant::now();
        draw(l);
    }
}

/// Round `k` (1-based) of `n` of the running workload starts.
pub(super) fn round(k: usize, n: usize) {
    if let Some(l) = lock().as_mut() {
        if l.at > 0 {
            if k == 1 {
                l.passes += 1;
            }
            l.round = Some((k, n));
            draw(l);
        }
    }
}

/// Wipes the line, so that stdout can print a row where it was, and
/// keeps it wiped (the ticker too) until the next `workload` draws it:
/// a redraw between the wipe and the row would put the row after it.
pub(super) fn clear() {
    if let Some(l) = lock().as_mut() {
        wipe(l);
        l.at = 0;
    }
}

/// Wipes the line and turns progress off (the ticker ends).
pub(super) fn finish() {
    let mut line = lock();
    if let Some(l) = line.as_mut() {
        wipe(l);
    }
    *line = None;
}

fn lock() -> std::sync::MutexGuard<'static, Option<Line>> {
    // A panic while drawing leaves nothing half-updated that matters.
    LINE.lock().unwrap_or_else(|e| e.into_inner())
}

fn wipe(l: &mut Line) {
    if l.shown {
        (l.out)("\r\x1b[K");
        l.shown = false;
    }
}

fn draw(l: &mut Line) {
    (l.out)(&format!("\r\x1b[K{}", text(l, l.started.elapsed())));
    l.shown = true;
}

/// The words of the line: "bench 3/20 channel_pingpong: round 2/7, 4 s",
/// with ", pass 2" after the name from a workload's second pass of rounds.
fn text(l: &Line, elapsed: Duration) -> String {
    let mut s = format!("bench {}/{} {}", l.at, l.of, l.workload);
    if l.passes > 1 {
        s.push_str(&format!(", pass {}", l.passes));
    }
    if let Some((k, n)) = l.round {
        s.push_str(&format!(": round {k}/{n}"));
    }
    s.push_str(&format!(", {} s", elapsed.as_secs()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_table_on_a_terminal_shows_progress() {
        assert!(wanted(false, true));
        assert!(!wanted(true, true), "--json on a terminal");
        assert!(!wanted(false, false), "stderr not a terminal");
    }

    /// The line of the `at`-th of `of` workloads, in round `round` of
    /// its `passes`-th pass.
    fn line(
        workload: &'static str,
        at: usize,
        of: usize,
        round: (usize, usize),
        passes: usize,
    ) -> Line {
        Line {
            workload,
            at,
            of,
            round: Some(round),
            passes,
            started: Instant::now(),
            shown: false,
            out: |_| {},
        }
    }

    #[test]
    fn after_a_clear_nothing_is_drawn_until_the_next_workload() {
        // The one test in this binary that turns the global line on.
        static WRITTEN: Mutex<String> = Mutex::new(String::new());
        start_on(2, |s| WRITTEN.lock().unwrap().push_str(s));
        workload("yield", 1);
        clear();
        round(1, 3);
        // Longer than a tick: the ticker must not draw either.
        std::thread::sleep(TICK * 3);
        let written = WRITTEN.lock().unwrap().clone();
        finish();
        assert!(
            written.starts_with("\r\x1b[Kbench 1/2 yield"),
            "{written:?}"
        );
        assert!(written.ends_with("\r\x1b[K"), "{written:?}");
        assert_eq!(written.matches("bench 1/2").count(), 1, "{written:?}");
    }

    #[test]
    fn the_line_names_the_workload_its_place_and_the_round() {
        let l = line("channel_pingpong", 3, 20, (2, 7), 1);
        assert_eq!(
            text(&l, Duration::from_millis(4_200)),
            "bench 3/20 channel_pingpong: round 2/7, 4 s"
        );
    }

    #[test]
    fn a_second_pass_of_rounds_is_numbered() {
        let l = line("yield", 1, 1, (1, 3), 2);
        assert_eq!(
            text(&l, Duration::ZERO),
            "bench 1/1 yield, pass 2: round 1/3, 0 s"
        );
    }
}

//! The floor of `weave bench`: what a bare switch and a cycle of this core
//! cost, measured in the same process as the rows read against them.
//!
//! Absolute nanoseconds move with the host (the same binary has measured
//! `yield` at 10.8 ns one day and 30 ns another); a row's multiple of a
//! floor measured in the same run moves much less. Two calibrations:
//!
//! - **The switch floor** (`switch_floor` row): two bare contexts switching
//!   to each other with weave's own context switch (`weave::__switch_floor`,
//!   `context/floor.rs` of the weave crate), nothing else: no scheduler,
//!   TCB, state word or queue. ns per switch.
//! - **The cycle**: ns per dependent integer add over a long chain, the
//!   core's cycle time as the program sees it, needing no weave code. It
//!   turns a row into cycles, as perf counters would if this host had them.
//!
//! The rows of [`RELATIVE`] carry their multiple of the floor (`floor_x`)
//! and their cost in cycles (`cycles`), in the note and in `--json`; the
//! two rows with a target of issue 14 carry that target restated as a
//! multiple of the floor it quoted (`target_floor_x`). Both calibrations
//! are measured once per process, at the `switch_floor` row or at the
//! first row that needs them.

use std::sync::OnceLock;
use std::time::Instant;

use super::common::{median, rounds, Measurement, Opts};

/// The two calibrations of one process.
#[derive(Debug, Clone, Copy)]
pub(super) struct Floor {
    /// ns per bare switch (median of the rounds).
    pub(super) switch_ns: f64,
    /// Switches per round.
    pub(super) switches: usize,
    /// Whose switch it is: `"weave"` (its own, x86_64 Linux) or
    /// `"corosensei"` (the portable backend: each switch is two
    /// coroutine switches through the caller's side).
    pub(super) backend: &'static str,
    /// ns per dependent add: one cycle of the core.
    pub(super) cycle_ns: f64,
    /// Adds per round.
    pub(super) adds: usize,
}

/// The rows read against the floor, and issue 14's target for a row as a
/// multiple of the floor it quoted (bare switch 3.4 ns): `yield` 15 ns is
/// 15 / 3.4 = 4.4x, `channel_pingpong` 80 ns a round trip is 23.5x.
pub(super) const RELATIVE: &[(&str, Option<f64>)] = &[
    ("yield", Some(15.0 / ISSUE_FLOOR_NS)),
    ("channel_pingpong", Some(80.0 / ISSUE_FLOOR_NS)),
    ("channel_rendezvous", None),
    ("mutex_one_lwp", None),
    ("park_pingpong", None),
];

/// The bare switch issue 14 quoted beside its targets, on the host of the
/// day it was filed.
const ISSUE_FLOOR_NS: f64 = 3.4;

static FLOOR: OnceLock<Floor> = OnceLock::new();

/// This process's floor, measured on first use.
pub(super) fn floor(o: &Opts) -> Floor {
    *FLOOR.get_or_init(|| measure(o))
}

fn measure(o: &Opts) -> Floor {
    let switches = if o.quick { 2_000_000 } else { 10_000_000 };
    let mut backend = "";
    let switch_ns = rounds(o.rounds(), || {
        let r = weave::__switch_floor(switches as u64);
        backend = r.backend;
        r.elapsed.as_nanos() as f64 / r.switches as f64
    });
    let adds = if o.quick { 20_000_000 } else { 100_000_000 };
    // Not through `rounds`: a round of adds is a few ms, and the median of
    // more of them costs nothing.
    let cycle_ns = median(
        (0..o.rounds() * 3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(add_chain(adds / ADDS_PER_STEP));
                t.elapsed().as_nanos() as f64 / adds as f64
            })
            .collect(),
    );
    Floor {
        switch_ns,
        switches,
        backend,
        cycle_ns,
        adds,
    }
}

/// Adds in one step of [`add_chain`]: enough that the loop's own counter
/// and branch, which run beside the chain, never sit on its path.
const ADDS_PER_STEP: usize = 100;

/// `steps` x [`ADDS_PER_STEP`] adds, each needing the one before: one
/// cycle each on any core that issues a dependent add per cycle (every
/// x86_64 and aarch64 core). Written in assembly so that the compiler can
/// neither fold the chain into one multiply nor route it through memory
/// (`black_box` on each add would time a store and a load).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(super) fn add_chain(steps: usize) -> u64 {
    let mut x = std::hint::black_box(0u64);
    let k = std::hint::black_box(1u64);
    for _ in 0..steps {
        // SAFETY: register arithmetic only; no memory, no stack.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::asm!(
                ".rept 100",
                "add {x}, {k}",
                ".endr",
                x = inout(reg) x,
                k = in(reg) k,
                options(nomem, nostack),
            );
        }
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            std::arch::asm!(
                ".rept 100",
                "add {x}, {x}, {k}",
                ".endr",
                x = inout(reg) x,
                k = in(reg) k,
                options(nomem, nostack),
            );
        }
    }
    x
}

/// Elsewhere: the chain through `black_box`, which adds a store and a load
/// to each add, so the "cycle" is an upper bound (the row's note says so).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn add_chain(steps: usize) -> u64 {
    let mut x = 0u64;
    for _ in 0..steps * ADDS_PER_STEP {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    x
}

/// The `switch_floor` row: ns per bare switch, the cycle in its note.
pub(super) fn switch_floor(o: &Opts) -> Result<Measurement, String> {
    let f = floor(o);
    let how = match f.backend {
        "weave" => "weave's own switch".to_owned(),
        other => format!(
            "weave does not use its own switch on this target: {other}'s, two coroutine \
             switches per switch"
        ),
    };
    let chain = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        "dependent add"
    } else {
        "dependent add through memory (an upper bound of the cycle)"
    };
    Ok(Measurement {
        name: "switch_floor",
        unit: "ns",
        weave: f.switch_ns,
        baseline: None,
        n: f.switches,
        note: Some(format!(
            "2 bare contexts, {how}, no scheduler; a {chain} {:.3} ns ({:.2} GHz, n={}): {:.1} \
             cycles a switch",
            f.cycle_ns,
            1.0 / f.cycle_ns,
            f.adds,
            f.switch_ns / f.cycle_ns
        )),
        extra: vec![
            ("cycle_ns", f.cycle_ns),
            ("cycles", f.switch_ns / f.cycle_ns),
        ],
    })
}

/// Adds the floor's figures to a row of [`RELATIVE`]; other rows are left
/// as they are.
pub(super) fn relate(m: &mut Measurement, f: &Floor) {
    let Some(&(_, target)) = RELATIVE.iter().find(|(name, _)| *name == m.name) else {
        return;
    };
    m.extra.push(("floor_x", m.weave / f.switch_ns));
    m.extra.push(("cycles", m.weave / f.cycle_ns));
    if let Some(t) = target {
        m.extra.push(("target_floor_x", t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &'static str, weave: f64) -> Measurement {
        Measurement {
            name,
            unit: "ns",
            weave,
            baseline: Some(100.0),
            n: 10,
            note: None,
            extra: vec![],
        }
    }

    const FLOOR: Floor = Floor {
        switch_ns: 4.0,
        switches: 2,
        backend: "weave",
        cycle_ns: 0.25,
        adds: 100,
    };

    #[test]
    fn the_json_of_a_target_row_carries_its_multiple_cycles_and_target() {
        let mut m = row("yield", 20.0);
        relate(&mut m, &FLOOR);
        let v: serde_json::Value =
            serde_json::from_str(&super::super::json::to_json(&[m])).unwrap();
        let r = &v["workloads"][0];
        assert_eq!(r["floor_x"], 5.0, "{r}");
        assert_eq!(r["cycles"], 80.0, "{r}");
        assert_eq!(r["target_floor_x"], 4.412, "{r}");
    }

    #[test]
    fn pingpong_target_is_80_ns_over_the_issues_floor() {
        let mut m = row("channel_pingpong", 100.0);
        relate(&mut m, &FLOOR);
        assert_eq!(
            m.extra,
            [
                ("floor_x", 25.0),
                ("cycles", 400.0),
                ("target_floor_x", 80.0 / 3.4)
            ]
        );
    }

    #[test]
    fn rows_without_a_target_get_the_multiple_only_and_others_nothing() {
        let mut m = row("mutex_one_lwp", 8.0);
        relate(&mut m, &FLOOR);
        assert_eq!(m.extra, [("floor_x", 2.0), ("cycles", 32.0)]);
        let mut other = row("spawn_join", 8.0);
        relate(&mut other, &FLOOR);
        assert!(other.extra.is_empty());
    }

    #[test]
    fn every_relative_row_is_a_workload() {
        for (name, _) in RELATIVE {
            assert!(
                super::super::WORKLOADS.iter().any(|w| w.name == *name),
                "{name}"
            );
        }
    }

    #[test]
    fn the_floor_row_reports_the_switch_and_the_cycle() {
        let m = switch_floor(&Opts { quick: true }).unwrap();
        assert_eq!(m.name, "switch_floor");
        assert!(m.weave > 0.0 && m.weave.is_finite(), "{}", m.weave);
        let v: serde_json::Value =
            serde_json::from_str(&super::super::json::to_json(&[m])).unwrap();
        let r = &v["workloads"][0];
        assert!(r["cycle_ns"].as_f64().is_some(), "{r}");
        assert!(r["cycles"].as_f64().is_some(), "{r}");
    }

    #[test]
    fn the_add_chain_adds() {
        assert_eq!(add_chain(3), 3 * ADDS_PER_STEP as u64);
    }

    #[test]
    fn the_floor_switches_on_a_ult_too() {
        let r = weave::thread::spawn(|| weave::__switch_floor(1000))
            .join()
            .unwrap();
        assert_eq!((r.switches, r.other_side_ran), (1000, 500));
        // And the ULT's own switches still work after it.
        let h = weave::thread::spawn(|| {
            let r = weave::__switch_floor(10);
            weave::thread::yield_now();
            r.other_side_ran
        });
        assert_eq!(h.join().unwrap(), 5);
    }
}

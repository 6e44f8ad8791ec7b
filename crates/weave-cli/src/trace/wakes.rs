//! `weave trace wakes`: how long woken ULTs waited for their run, split by
//! the path the wake took. A ULT stays on the LWP where it first ran
//! (DESIGN.md decision 3), so a wake made on another LWP (the reactor's
//! poller, a sibling's unlock) must wait for that LWP: asleep, it has to be
//! woken and scheduled by the kernel; busy, it finishes what it runs first.
//! A server's tail latency is where these paths differ.
//!
//! Built on the [`Timeline`]'s flows (a wake and the run it led to) and
//! idle spans; names neither reader of the timeline.

use super::timeline::{Flow, Slice, Timeline};

/// The path a wake took to its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Woken by a ULT or the poller on the LWP that then ran it.
    SameLwp,
    /// Woken from another LWP while the ULT's LWP slept in the kernel.
    OtherLwpAsleep,
    /// Woken from another LWP while the ULT's LWP was awake.
    OtherLwpAwake,
    /// Woken off the pool: the monitor's poll, an OS thread, a timer of an
    /// LWP not seen.
    OffPool,
}

impl Path {
    pub const ALL: [Path; 4] = [
        Path::SameLwp,
        Path::OtherLwpAsleep,
        Path::OtherLwpAwake,
        Path::OffPool,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Path::SameLwp => "on the LWP that runs it",
            Path::OtherLwpAsleep => "from another LWP, its LWP asleep",
            Path::OtherLwpAwake => "from another LWP, its LWP awake",
            Path::OffPool => "off the LWPs (monitor, OS thread)",
        }
    }
}

/// The wake-to-run delays of one path, in ns, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delays(pub Vec<u64>);

impl Delays {
    /// The `p` quantile (0..=1), nearest rank; 0 when empty.
    pub fn quantile(&self, p: f64) -> u64 {
        let n = self.0.len();
        if n == 0 {
            return 0;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.0[rank - 1]
    }

    /// How many waited longer than `ns`.
    pub fn over(&self, ns: u64) -> usize {
        self.0.len() - self.0.partition_point(|&d| d <= ns)
    }
}

/// Whether lane `lane` was inside one of its idle spans at `at` (`idle`
/// sorted by lane, then start, as the timeline leaves it).
fn asleep(idle: &[Slice], lane: usize, at: u64) -> bool {
    let i = idle.partition_point(|s| (s.lane, s.start) <= (lane, at));
    i > 0 && idle[i - 1].lane == lane && idle[i - 1].end > at
}

fn path(tl: &Timeline, f: &Flow) -> Path {
    match f.from_lane {
        None => Path::OffPool,
        Some(l) if l == f.to_lane => Path::SameLwp,
        Some(_) if asleep(&tl.idle, f.to_lane, f.at) => Path::OtherLwpAsleep,
        Some(_) => Path::OtherLwpAwake,
    }
}

/// The delays of every path, in [`Path::ALL`]'s order.
pub fn by_path(tl: &Timeline) -> Vec<(Path, Delays)> {
    let mut out: Vec<(Path, Delays)> = Path::ALL.iter().map(|&p| (p, Delays::default())).collect();
    for f in &tl.flows {
        let p = path(tl, f);
        let i = Path::ALL.iter().position(|&q| q == p).expect("in ALL");
        out[i].1 .0.push(f.run_at.saturating_sub(f.at));
    }
    for (_, d) in &mut out {
        d.0.sort_unstable();
    }
    out
}

/// How long lane `lane` slept in the kernel within `[from, to)` (`idle`
/// sorted as [`asleep`] needs).
fn idle_within(idle: &[Slice], lane: usize, from: u64, to: u64) -> u64 {
    let mut i = idle.partition_point(|s| (s.lane, s.start) < (lane, from));
    // The span that began before `from` may still be open at `from`.
    if i > 0 && idle[i - 1].lane == lane {
        i -= 1;
    }
    let mut sum = 0;
    while i < idle.len() && idle[i].lane == lane && idle[i].start < to {
        let (a, b) = (idle[i].start.max(from), idle[i].end.min(to));
        sum += b.saturating_sub(a);
        i += 1;
    }
    sum
}

/// What a woken ULT's wait could have been spared by another LWP: of
/// every wake's wait for its run, the part during which a sibling LWP
/// slept in the kernel (the longest such part over the siblings, which is
/// the whole overlap with two LWPs). A started ULT runs only on its own
/// LWP (DESIGN.md decision 3), so that is time in which an idle LWP could
/// not take it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spare {
    /// Wakes whose wait overlapped a sleeping sibling at all.
    pub wakes: usize,
    /// Wakes that waited over 1 ms, and of those, how many had a sibling
    /// asleep for over half of the wait.
    pub slow: usize,
    pub slow_sibling_asleep: usize,
    /// The waits' total, and the part of it with a sibling asleep, in ns.
    pub wait_ns: u64,
    pub sibling_asleep_ns: u64,
}

/// [`Spare`] over the trace's wakes.
pub fn spare(tl: &Timeline) -> Spare {
    let mut s = Spare::default();
    for f in &tl.flows {
        let wait = f.run_at.saturating_sub(f.at);
        let over = tl
            .lanes
            .iter()
            .enumerate()
            .filter(|(i, l)| *i != f.to_lane && !l.bound)
            .map(|(i, _)| idle_within(&tl.idle, i, f.at, f.run_at))
            .max()
            .unwrap_or(0);
        s.wait_ns += wait;
        s.sibling_asleep_ns += over;
        s.wakes += usize::from(over > 0);
        if wait > 1_000_000 {
            s.slow += 1;
            s.slow_sibling_asleep += usize::from(over * 2 > wait);
        }
    }
    s
}

/// The table `weave trace wakes` prints, and below it the LWPs' time and
/// what a sleeping sibling could have taken ([`spare`]).
pub fn table(tl: &Timeline) -> String {
    let mut s = by_path_table(tl);
    let sp = spare(tl);
    let pct = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
    s += &format!(
        "\nwaits with a sibling LWP asleep: {} of {} wakes; {:.1}% of all wait time; \
         {} of the {} waits over 1 ms had a sibling asleep for over half of it\n",
        sp.wakes,
        tl.flows.len(),
        pct(sp.sibling_asleep_ns, sp.wait_ns),
        sp.slow_sibling_asleep,
        sp.slow,
    );
    s += "\n| LWP | busy ms | asleep ms | blocked in kernel ms | switches |\n|---:|---:|---:|---:|---:|\n";
    let ms = |ns: u64| format!("{:.1}", ns as f64 / 1e6);
    for l in &tl.lanes {
        s += &format!(
            "| {}{} | {} | {} | {} | {} |\n",
            l.lwp,
            if l.bound { " (bound)" } else { "" },
            ms(l.busy_ns),
            ms(l.idle_ns),
            ms(l.kernel_ns),
            l.switches
        );
    }
    s
}

/// The per-path table.
fn by_path_table(tl: &Timeline) -> String {
    let rows = by_path(tl);
    let total: usize = rows.iter().map(|(_, d)| d.0.len()).sum();
    let us = |ns: u64| format!("{:.1}", ns as f64 / 1000.0);
    let mut s = String::from(
        "| wake | wakes | share | p50 µs | p90 µs | p99 µs | max µs | over 1 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut all = Delays::default();
    for (p, d) in &rows {
        all.0.extend_from_slice(&d.0);
        if d.0.is_empty() {
            continue;
        }
        s += &format!(
            "| {} | {} | {:.1}% | {} | {} | {} | {} | {} |\n",
            p.label(),
            d.0.len(),
            100.0 * d.0.len() as f64 / total.max(1) as f64,
            us(d.quantile(0.5)),
            us(d.quantile(0.9)),
            us(d.quantile(0.99)),
            us(d.quantile(1.0)),
            d.over(1_000_000)
        );
    }
    all.0.sort_unstable();
    s += &format!(
        "| all | {} | 100% | {} | {} | {} | {} | {} |\n",
        total,
        us(all.quantile(0.5)),
        us(all.quantile(0.9)),
        us(all.quantile(0.99)),
        us(all.quantile(1.0)),
        all.over(1_000_000)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::timeline::small;

    #[test]
    fn a_wake_from_another_lwp_while_the_ults_lwp_sleeps_is_told_apart() {
        // In the small trace, LWP 1 wakes the sleeper at 80 while LWP 0
        // idles (55 to 90); it runs at 100.
        let tl = Timeline::build(&small());
        let rows = by_path(&tl);
        let get = |p: Path| rows.iter().find(|(q, _)| *q == p).unwrap().1.clone();
        assert_eq!(get(Path::OtherLwpAsleep), Delays(vec![20]));
        assert!(get(Path::SameLwp).0.is_empty());
        assert!(get(Path::OtherLwpAwake).0.is_empty());
    }

    #[test]
    fn a_wake_on_the_running_lwp_and_one_from_an_awake_sibling() {
        let mut tl = Timeline::build(&small());
        tl.flows = vec![
            Flow {
                from_lane: Some(0),
                at: 10,
                to_lane: 0,
                run_at: 15,
                ult: 0,
            },
            Flow {
                from_lane: Some(1),
                at: 95,
                to_lane: 0,
                run_at: 125,
                ult: 0,
            },
            Flow {
                from_lane: None,
                at: 95,
                to_lane: 0,
                run_at: 97,
                ult: 0,
            },
        ];
        let rows = by_path(&tl);
        assert_eq!(rows[0], (Path::SameLwp, Delays(vec![5])));
        assert_eq!(rows[2], (Path::OtherLwpAwake, Delays(vec![30])));
        assert_eq!(rows[3], (Path::OffPool, Delays(vec![2])));
    }

    #[test]
    fn a_wait_while_a_sibling_sleeps_counts_as_spare() {
        // A flow of our own over the small trace's idle span (LWP 0
        // sleeps from 55 to 90): a ULT of LWP 1 waits from 50 to 70.
        let mut tl = Timeline::build(&small());
        tl.flows = vec![Flow {
            from_lane: Some(0),
            at: 50,
            to_lane: 1,
            run_at: 70,
            ult: 0,
        }];
        let sp = spare(&tl);
        assert_eq!((sp.wakes, sp.wait_ns, sp.sibling_asleep_ns), (1, 20, 15));
        tl.flows[0].to_lane = 0;
        let sp = spare(&tl);
        assert_eq!((sp.wakes, sp.sibling_asleep_ns), (0, 0));
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let d = Delays((1..=100).collect());
        assert_eq!(d.quantile(0.5), 50);
        assert_eq!(d.quantile(0.99), 99);
        assert_eq!(d.quantile(1.0), 100);
        assert_eq!(d.over(90), 10);
        assert_eq!(Delays::default().quantile(0.5), 0);
    }
}

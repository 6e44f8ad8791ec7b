//! `weave bench`: each workload measured on weave and on the 1:1 baseline
//! (`std::thread`) in the same run, so every figure comes with a ratio.
//!
//! Speed workloads run a few rounds and report the median; set-up (pool
//! size, thread creation for the switch benchmarks) stays outside the
//! timed loop. Memory workloads run in a fresh child process each (this
//! executable, re-run with `bench --child`), so that stacks warmed by an
//! earlier workload cannot hide what a thread really costs, and the resident
//! set is read from `/proc/self/status`.
//!
//! Most figures are costs (ns, bytes: lower is better) and the ratio is
//! std/weave; a figure whose unit ends in `/s` is a rate (higher is better)
//! and its ratio is weave/std. Either way a ratio above 1 means weave is
//! ahead. The io workloads (sockets, sleeps) live in `bench/io.rs`, the
//! trim of parked stacks in `bench/trim.rs`, and what they all share in
//! `bench/common.rs`. `--json` is written in `bench/json.rs`; the
//! progress line a terminal shows during a run in `bench/progress.rs`.
//! `--trace-cost` (what recording a trace costs) is in
//! `bench/trace_cost.rs`. The floor that the switch rows are also read
//! against (a bare switch and a cycle, measured in the same process) is
//! in `bench/floor.rs`.

mod c;
mod common;
mod compact;
mod floor;
mod io;
mod json;
mod layout;
mod progress;
mod signal;
mod spawn;
mod trace_cost;
mod trim;

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use weave::thread as wt;

use common::{in_child, median_p99, on_one_lwp, rounds, rss, Measurement, Opts};

struct Workload {
    name: &'static str,
    about: &'static str,
    run: fn(&Opts) -> Result<Measurement, String>,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "switch_floor",
        about: "two bare contexts switching to each other with weave's own switch, nothing else (ns per switch); the core's cycle (ns per dependent add) in the note",
        run: floor::switch_floor,
    },
    Workload {
        name: "spawn_join",
        about: "spawn 100,000 threads that return at once, then join them (ns per thread)",
        run: spawn_join,
    },
    Workload {
        name: "yield",
        about: "two threads yielding to each other on one LWP / one CPU (ns per switch)",
        run: yield_switch,
    },
    Workload {
        name: "park_pingpong",
        about: "two threads waking each other with park/unpark (ns per round trip)",
        run: park_pingpong,
    },
    Workload {
        name: "channel_pingpong",
        about: "two threads bounce a token through two bounded(1) channels on one LWP (ns per round trip)",
        run: channel_pingpong,
    },
    Workload {
        name: "channel_pingpong_2lwp",
        about: "the same ping-pong between two ULTs placed on different LWPs (ns per round trip)",
        run: channel_pingpong_2lwp,
    },
    Workload {
        name: "channel_rendezvous",
        about: "the same ping-pong through two rendezvous (bounded(0)) channels on one LWP (ns per round trip)",
        run: channel_rendezvous,
    },
    Workload {
        name: "channel_rendezvous_sender_first",
        about: "the rendezvous ping-pong with the first send made before the echo thread runs, so a sender waits first (ns per round trip)",
        run: channel_rendezvous_sender_first,
    },
    Workload {
        name: "channel_throughput",
        about: "4 producers, 4 consumers, 1,000,000 messages through one bounded(128) channel (ns per message)",
        run: channel_throughput,
    },
    Workload {
        name: "idle_memory",
        about: "100,000 parked threads (std: 10,000 at 16 KiB stacks): RSS growth per thread",
        run: idle_memory,
    },
    Workload {
        name: "mutex_contended",
        about: "1,000 threads x 1,000 lock/increment/unlock of one Mutex, 2 LWPs (ns per lock)",
        run: mutex_contended,
    },
    Workload {
        name: "mutex_one_lwp",
        about: "1,000 threads x 1,000 lock/increment/unlock of one Mutex, all on one LWP (ns per lock)",
        run: mutex_one_lwp,
    },
    Workload {
        name: "preempt_latency",
        about: "a high-priority thread woken while every LWP / CPU runs low-priority hogs: wake to run (ns, median; p99 in the note)",
        run: preempt_latency,
    },
    Workload {
        name: "condvar_pingpong",
        about: "two threads alternate through one Mutex + Condvar on one LWP (ns per round trip)",
        run: condvar_pingpong,
    },
    Workload {
        name: "million",
        about: "1,000,000 parked ULTs alive at once: bytes per thread, seconds to spawn",
        run: million,
    },
    Workload {
        name: "tcp_pingpong",
        about: "a 64-byte message back and forth between two threads over loopback TCP (ns per round trip; one LWP in the note)",
        run: io::tcp_pingpong,
    },
    Workload {
        name: "tcp_echo_1k",
        about: "1,000 connections x 100 echoes of 64 bytes through one server, a thread per connection on each side (msg/s)",
        run: io::tcp_echo_1k,
    },
    Workload {
        name: "idle_trim",
        about: "10,000 threads that ran 200 KiB deep once, then parked: RSS per thread once weave has trimmed them",
        run: trim::idle_trim,
    },
    Workload {
        name: "idle_compact",
        about: "100,000 threads parked on socket reads, compacted (WEAVE_COMPACT): RSS per thread, and the first resume's cost",
        run: compact::idle_compact,
    },
    Workload {
        name: "c_create_join",
        about: "C: pthread_create 20,000 threads that return at once, then pthread_join them, through weave/pthread.h against glibc's (ns per thread)",
        run: c::c_create_join,
    },
    Workload {
        name: "c_mutex",
        about: "C: 4 threads x 200,000 pthread_mutex_lock/increment/unlock of one mutex, through weave/pthread.h against glibc's (CPU ns per lock; wall ns beside it)",
        run: c::c_mutex,
    },
    Workload {
        name: "c_sem_pingpong",
        about: "C: two threads alternate through two sem_t (post/wait against wait/post), through weave/pthread.h on one LWP against glibc's (CPU ns per round trip; wall ns beside it)",
        run: c::c_sem_pingpong,
    },
    Workload {
        name: "c_cond_pingpong",
        about: "C: two threads take turns through one pthread_mutex_t + pthread_cond_t, through weave/pthread.h on one LWP against glibc's (CPU ns per round trip; wall ns beside it)",
        run: c::c_cond_pingpong,
    },
    Workload {
        name: "sleepers",
        about: "100,000 threads each sleeping 1 ms 10 times (std: 10,000): CPU ns per sleep; wall time against the ideal 10 ms",
        run: io::sleepers,
    },
    Workload {
        name: "sigmask",
        about: "a ULT blocking and unblocking one signal, against pthread_sigmask on an OS thread (ns per change)",
        run: signal::sigmask,
    },
    Workload {
        name: "signal_latency",
        about: "sigqueue from another process to the handler: each of weave's handler modes (as a thread, on target, immediate) vs a plain sigaction handler (ns, median; p99 in the note)",
        run: signal::signal_latency,
    },
    Workload {
        name: "spawn_cold",
        about: "100,000 threads spawned then joined on one LWP, twice in a fresh process: the first (cold) round, and its ratio to the second (warm) one",
        run: spawn::spawn_cold,
    },
    Workload {
        name: "spawn_live",
        about: "300,000 threads that park, spawned from one ULT: ns per spawn with 300,000 live, against 10,000 live in the note",
        run: spawn::spawn_live,
    },
    Workload {
        name: "burst_rss",
        about: "1,000,000 parked threads of which 1,000 stay: RSS once the rest exited, against a process that only had the 1,000",
        run: spawn::burst_rss,
    },
];

/// The options of `weave bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Fewer rounds: a rough figure sooner
    #[arg(long)]
    quick: bool,
    /// Print the results as JSON
    #[arg(long)]
    json: bool,
    /// List the workloads and exit
    #[arg(long)]
    list: bool,
    /// Measure what recording a trace costs: each workload (default
    /// spawn_join and channel_pingpong) with tracing off and on
    #[arg(long)]
    trace_cost: bool,
    /// Child process of a memory workload: park N threads of LIB
    /// (`weave` or `std`) and print a RESULT line.
    #[arg(long, hide = true, num_args = 2, value_names = ["LIB", "N"])]
    child: Option<Vec<String>>,
    /// Workloads to run (all when none is named; see --list)
    #[arg(value_name = "WORKLOAD")]
    workloads: Vec<String>,
}

pub fn run(args: &Args) -> Result<(), String> {
    if let Some(child_args) = &args.child {
        return child(child_args);
    }
    if args.list {
        for w in WORKLOADS {
            println!("{:<16} {}", w.name, w.about);
        }
        return Ok(());
    }
    for s in &args.workloads {
        if !WORKLOADS.iter().any(|w| w.name == s) {
            let known: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
            return Err(format!(
                "bench: no workload '{s}'; the workloads are: {}",
                known.join(", ")
            ));
        }
    }
    let (quick, json, names) = (args.quick, args.json, &args.workloads);
    let opts = Opts { quick };
    if args.trace_cost {
        return trace_cost::run(&opts, names, |name| {
            WORKLOADS.iter().find(|w| w.name == name).map(|w| w.run)
        });
    }
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| names.is_empty() || names.iter().any(|n| n == w.name))
        .collect();
    if !json {
        println!(
            "weave bench: {} LWPs, {} CPUs, median of {} rounds (memory workloads: one fresh process each)",
            weave::concurrency(),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            opts.rounds()
        );
        println!("ratio: how many times better weave did (std/weave for costs, weave/std for rates in /s)");
        println!(
            "{:<16} {:>6} {:>14} {:>14} {:>9}   note",
            "workload", "unit", "weave", "std::thread", "ratio"
        );
    }
    let show_progress = progress::wanted(json, std::io::stderr().is_terminal());
    if show_progress {
        progress::start(selected.len());
    }
    let mut results = Vec::new();
    for (i, w) in selected.iter().enumerate() {
        progress::workload(w.name, i + 1);
        let mut m = (w.run)(&opts).map_err(|e| {
            progress::finish();
            format!("bench {}: {e}", w.name)
        })?;
        if floor::RELATIVE.iter().any(|(name, _)| *name == m.name) {
            floor::relate(&mut m, &floor::floor(&opts));
        }
        progress::clear();
        if !json {
            print_row(&m);
        }
        results.push(m);
    }
    progress::finish();
    layout::flush();
    if json {
        println!("{}", json::to_json(&results));
    }
    Ok(())
}

fn print_row(m: &Measurement) {
    let base = m.baseline.map_or("-".to_owned(), |b| format!("{b:.1}"));
    let ratio = m.ratio().map_or("-".to_owned(), |r| format!("{r:.1}x"));
    let mut note = m.note.clone().unwrap_or_default();
    for (k, v) in &m.extra {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!("{k} {v:.3}"));
    }
    println!(
        "{:<16} {:>6} {:>14.1} {:>14} {:>9}   n={} {}",
        m.name, m.unit, m.weave, base, ratio, m.n, note
    );
}

fn spawn_join(o: &Opts) -> Result<Measurement, String> {
    const N: usize = 100_000;
    // Spawn and join inside a ULT, as code running on weave does.
    let weave = rounds(o.rounds(), || {
        wt::spawn(|| {
            let t = Instant::now();
            let hs: Vec<_> = (0..N).map(|i| wt::spawn(move || i)).collect();
            for h in hs {
                h.join().unwrap();
            }
            t.elapsed().as_nanos() as f64 / N as f64
        })
        .join()
        .unwrap()
    });
    // The same from the main OS thread (DESIGN decision 6).
    let from_os = rounds(o.rounds(), || {
        let t = Instant::now();
        let hs: Vec<_> = (0..N).map(|i| wt::spawn(move || i)).collect();
        for h in hs {
            h.join().unwrap();
        }
        t.elapsed().as_nanos() as f64 / N as f64
    });
    // std::thread: fewer threads per round (each costs ~10 µs), same shape.
    let sn = if o.quick { 5_000 } else { 20_000 };
    let baseline = rounds(o.rounds().min(3), || {
        let t = Instant::now();
        let hs: Vec<_> = (0..sn).map(|i| std::thread::spawn(move || i)).collect();
        for h in hs {
            h.join().unwrap();
        }
        t.elapsed().as_nanos() as f64 / sn as f64
    });
    Ok(Measurement {
        name: "spawn_join",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n: N,
        note: Some(format!("from main OS thread {from_os:.1} ns; std n={sn}")),
        extra: vec![],
    })
}

fn yield_switch(o: &Opts) -> Result<Measurement, String> {
    let per = if o.quick { 200_000 } else { 1_000_000 };
    let weave = on_one_lwp(|| {
        rounds(o.rounds(), || {
            wt::spawn(move || {
                let go = Arc::new(AtomicUsize::new(0));
                let mk = |go: Arc<AtomicUsize>| {
                    wt::spawn(move || {
                        go.fetch_add(1, Ordering::SeqCst);
                        while go.load(Ordering::SeqCst) < 2 {
                            wt::yield_now();
                        }
                        if layout::on() {
                            return layout::yield_probe(&go, per);
                        }
                        let t = Instant::now();
                        for _ in 0..per {
                            wt::yield_now();
                        }
                        t.elapsed()
                    })
                };
                let (a, b) = (mk(go.clone()), mk(go));
                let (ta, tb) = (a.join().unwrap(), b.join().unwrap());
                // Both loops overlap; the switches are 2 × per.
                ta.max(tb).as_nanos() as f64 / (2 * per) as f64
            })
            .join()
            .unwrap()
        })
    })?;
    // std: two OS threads pinned to one CPU, each calling sched_yield.
    let baseline = rounds(o.rounds().min(3), || {
        let per = per / 4;
        let start = Arc::new(Barrier::new(2));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let start = start.clone();
                std::thread::spawn(move || {
                    pin_to_cpu0();
                    start.wait();
                    let t = Instant::now();
                    for _ in 0..per {
                        std::thread::yield_now();
                    }
                    t.elapsed()
                })
            })
            .collect();
        let d = hs.into_iter().map(|h| h.join().unwrap()).max().unwrap();
        d.as_nanos() as f64 / (2 * per) as f64
    });
    Ok(Measurement {
        name: "yield",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n: 2 * per,
        note: Some("std: 2 threads pinned to CPU 0, sched_yield".into()),
        extra: vec![],
    })
}

fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is the empty set; pid 0 is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
    }
}

/// A ping-pong of `n` round trips between two threads that wake each other
/// with park/unpark. Generic over the thread library.
fn pingpong<P: Fn(), U: Fn(&T) + Sync, T: Send + Sync>(
    turn: &AtomicUsize,
    n: usize,
    me: usize,
    other: &T,
    park: &P,
    unpark: &U,
) {
    for i in 0..n {
        if me == 0 {
            turn.store(2 * i + 1, Ordering::Release);
            unpark(other);
            while turn.load(Ordering::Acquire) != 2 * i + 2 {
                park();
            }
        } else {
            while turn.load(Ordering::Acquire) != 2 * i + 1 {
                park();
            }
            turn.store(2 * i + 2, Ordering::Release);
            unpark(other);
        }
    }
}

fn park_pingpong(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 50_000 } else { 200_000 };
    let weave_round = |n: usize| {
        wt::spawn(move || {
            // The two handles meet through OnceLocks, waited on with
            // yield_now: a std channel here would block the LWP itself.
            let turn = Arc::new(AtomicUsize::new(0));
            let a_handle = Arc::new(std::sync::OnceLock::<wt::Thread>::new());
            let b_handle = Arc::new(std::sync::OnceLock::<wt::Thread>::new());
            let wait = |cell: &std::sync::OnceLock<wt::Thread>| loop {
                if let Some(t) = cell.get() {
                    break t.clone();
                }
                wt::yield_now();
            };
            let (t2, ah) = (turn.clone(), a_handle.clone());
            let b = wt::spawn(move || {
                let a = wait(&ah);
                pingpong(&t2, n, 1, &a, &wt::park, &|t: &wt::Thread| t.unpark());
            });
            let bh = b_handle.clone();
            let a = wt::spawn(move || {
                let b = wait(&bh);
                let t = Instant::now();
                pingpong(&turn, n, 0, &b, &wt::park, &|t: &wt::Thread| t.unpark());
                t.elapsed()
            });
            let _ = a_handle.set(a.thread().clone());
            let _ = b_handle.set(b.thread().clone());
            let d = a.join().unwrap();
            b.join().unwrap();
            d.as_nanos() as f64 / n as f64
        })
        .join()
        .unwrap()
    };
    let weave = on_one_lwp(|| rounds(o.rounds(), || weave_round(n)))?;
    let two_lwps = rounds(o.rounds(), || weave_round(n / 4));
    let baseline = rounds(o.rounds().min(3), || {
        let n = n / 4;
        let turn = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel::<std::thread::Thread>();
        let t2 = turn.clone();
        let b = std::thread::spawn(move || {
            let a = rx.recv().unwrap();
            pingpong(
                &t2,
                n,
                1,
                &a,
                &std::thread::park,
                &|t: &std::thread::Thread| t.unpark(),
            );
        });
        let bt = b.thread().clone();
        let t = Instant::now();
        tx.send(std::thread::current()).unwrap();
        pingpong(
            &turn,
            n,
            0,
            &bt,
            &std::thread::park,
            &|t: &std::thread::Thread| t.unpark(),
        );
        let d = t.elapsed();
        b.join().unwrap();
        d.as_nanos() as f64 / n as f64
    });
    Ok(Measurement {
        name: "park_pingpong",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(format!(
            "weave on one LWP; on the pool of LWPs {two_lwps:.1} ns"
        )),
        extra: vec![],
    })
}

/// `n` round trips of a token between two ULTs through two bounded(1)
/// channels; returns ns per round trip, timed on the first side. With
/// `apart`, the two are placed on different LWPs of the pool: the second
/// is re-spawned until it first runs on another LWP than the first (a ULT
/// stays where it first ran).
fn channel_rounds_weave(n: usize, apart: bool) -> f64 {
    channel_rounds_weave_cap(n, apart, 1)
}

/// As [`channel_rounds_weave`], through two channels of capacity `cap`.
fn channel_rounds_weave_cap(n: usize, apart: bool, cap: usize) -> f64 {
    use weave::sync::mpmc;
    let (to_b, from_a) = mpmc::bounded::<usize>(cap);
    let (to_a, from_b) = mpmc::bounded::<usize>(cap);
    let (placed_tx, placed_rx) = mpmc::bounded::<Option<usize>>(1);
    let b = wt::spawn(move || {
        placed_tx.send(wt::current_lwp()).unwrap();
        echo(&from_a, &to_a);
    });
    let b_lwp = placed_rx.recv().unwrap();
    let ping = move || timed_trips(&to_b, &from_b, n);
    let d = if apart {
        let ping = Arc::new(std::sync::Mutex::new(Some(ping)));
        loop {
            let ping = ping.clone();
            let a = wt::spawn(move || {
                if wt::current_lwp() == b_lwp {
                    return None;
                }
                let f = ping.lock().unwrap().take().expect("ping runs once");
                Some(f())
            });
            if let Some(d) = a.join().unwrap() {
                break d;
            }
        }
    } else {
        wt::spawn(ping).join().unwrap()
    };
    b.join().unwrap();
    d.as_nanos() as f64 / n as f64
}

/// The echo side of a ping-pong: sends back each value plus one, until
/// either channel disconnects.
fn echo(from_a: &weave::sync::mpmc::Receiver<usize>, to_a: &weave::sync::mpmc::Sender<usize>) {
    if layout::on() {
        layout::record("echo");
    }
    for v in from_a.iter() {
        if to_a.send(v + 1).is_err() {
            break;
        }
    }
}

/// The pinging side: one warm-up trip, then `n` timed round trips.
fn timed_trips(
    to_b: &weave::sync::mpmc::Sender<usize>,
    from_b: &weave::sync::mpmc::Receiver<usize>,
    n: usize,
) -> std::time::Duration {
    to_b.send(0).unwrap();
    from_b.recv().unwrap();
    if layout::on() {
        return layout::pingpong_probe(
            |i| {
                to_b.send(i).unwrap();
                assert_eq!(from_b.recv().unwrap(), i + 1);
            },
            n,
        );
    }
    let t = Instant::now();
    for i in 0..n {
        to_b.send(i).unwrap();
        assert_eq!(from_b.recv().unwrap(), i + 1);
    }
    t.elapsed()
}

/// The std baseline: two OS threads and two `sync_channel(1)`s.
fn channel_rounds_std(n: usize) -> f64 {
    channel_rounds_std_cap(n, 1)
}

/// As [`channel_rounds_std`], through two `sync_channel(cap)`s.
fn channel_rounds_std_cap(n: usize, cap: usize) -> f64 {
    use std::sync::mpsc;
    let (to_b, from_a) = mpsc::sync_channel::<usize>(cap);
    let (to_a, from_b) = mpsc::sync_channel::<usize>(cap);
    let b = std::thread::spawn(move || {
        for v in from_a.iter() {
            if to_a.send(v + 1).is_err() {
                break;
            }
        }
    });
    to_b.send(0).unwrap();
    from_b.recv().unwrap();
    let t = Instant::now();
    for i in 0..n {
        to_b.send(i).unwrap();
        assert_eq!(from_b.recv().unwrap(), i + 1);
    }
    let d = t.elapsed();
    drop(to_b);
    b.join().unwrap();
    d.as_nanos() as f64 / n as f64
}

fn channel_pingpong(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 100_000 } else { 500_000 };
    let weave = on_one_lwp(|| rounds(o.rounds(), || channel_rounds_weave(n, false)))?;
    let sn = n / 10;
    let baseline = rounds(o.rounds().min(3), || channel_rounds_std(sn));
    Ok(Measurement {
        name: "channel_pingpong",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(format!(
            "weave: 2 ULTs on one LWP; std: 2 OS threads, sync_channel(1), n={sn}"
        )),
        extra: vec![],
    })
}

fn channel_rendezvous(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 100_000 } else { 500_000 };
    let weave = on_one_lwp(|| rounds(o.rounds(), || channel_rounds_weave_cap(n, false, 0)))?;
    let sn = n / 10;
    let baseline = rounds(o.rounds().min(3), || channel_rounds_std_cap(sn, 0));
    Ok(Measurement {
        name: "channel_rendezvous",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(format!(
            "weave: 2 ULTs on one LWP; std: 2 OS threads, sync_channel(0), n={sn}"
        )),
        extra: vec![],
    })
}

/// `n` round trips through two rendezvous channels, the echo thread
/// spawned by the pinging one, which sends at once: the first send waits
/// for a receiver (the echo has not run), as in the peers' workload, and
/// each later hand-off starts from whichever side waited first.
fn channel_rounds_weave_sender_first(n: usize) -> f64 {
    use weave::sync::mpmc;
    wt::spawn(move || {
        let (to_b, from_a) = mpmc::bounded::<usize>(0);
        let (to_a, from_b) = mpmc::bounded::<usize>(0);
        let b = wt::spawn(move || echo(&from_a, &to_a));
        let d = timed_trips(&to_b, &from_b, n);
        drop(to_b);
        b.join().unwrap();
        d.as_nanos() as f64 / n as f64
    })
    .join()
    .unwrap()
}

fn channel_rendezvous_sender_first(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 100_000 } else { 500_000 };
    let weave = on_one_lwp(|| rounds(o.rounds(), || channel_rounds_weave_sender_first(n)))?;
    let sn = n / 10;
    let baseline = rounds(o.rounds().min(3), || channel_rounds_std_cap(sn, 0));
    Ok(Measurement {
        name: "channel_rendezvous_sender_first",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(format!(
            "weave: 2 ULTs on one LWP, the first send before the echo runs; std: 2 OS threads, sync_channel(0), n={sn}"
        )),
        extra: vec![],
    })
}

fn channel_pingpong_2lwp(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 20_000 } else { 100_000 };
    if weave::concurrency() < 2 {
        return Err("needs a pool of at least 2 LWPs".into());
    }
    let weave = rounds(o.rounds(), || channel_rounds_weave(n, true));
    let baseline = rounds(o.rounds().min(3), || channel_rounds_std(n / 2));
    Ok(Measurement {
        name: "channel_pingpong_2lwp",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(format!(
            "weave: 2 ULTs placed on different pool LWPs; std: 2 OS threads, sync_channel(1), n={}",
            n / 2
        )),
        extra: vec![],
    })
}

fn channel_throughput(o: &Opts) -> Result<Measurement, String> {
    const SIDES: usize = 4;
    const CAP: usize = 128;
    let n = if o.quick { 200_000 } else { 1_000_000 };
    let per = n / SIDES;
    let weave = rounds(o.rounds(), || {
        use weave::sync::mpmc;
        wt::spawn(move || {
            let (tx, rx) = mpmc::bounded::<usize>(CAP);
            let t = Instant::now();
            let producers: Vec<_> = (0..SIDES)
                .map(|_| {
                    let tx = tx.clone();
                    wt::spawn(move || (0..per).for_each(|i| tx.send(i).unwrap()))
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..SIDES)
                .map(|_| {
                    let rx = rx.clone();
                    wt::spawn(move || rx.iter().count())
                })
                .collect();
            producers.into_iter().for_each(|h| h.join().unwrap());
            let got: usize = consumers.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(got, per * SIDES);
            t.elapsed().as_nanos() as f64 / (per * SIDES) as f64
        })
        .join()
        .unwrap()
    });
    // std has no multi-consumer channel before `std::sync::mpmc` is
    // stable: the consumers share the one receiver behind a mutex.
    let baseline = rounds(o.rounds().min(3), || {
        let (tx, rx) = std::sync::mpsc::sync_channel::<usize>(CAP);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        os_throughput(
            SIDES,
            per,
            move |i| tx.send(i).unwrap(),
            move || {
                let mut k = 0;
                while rx.lock().unwrap().recv().is_ok() {
                    k += 1;
                }
                k
            },
        )
    });
    // The lock-free channel people pick on OS threads: the bar weave's
    // channel is held to (issue 14), measured in the same run.
    let crossbeam = rounds(o.rounds().min(3), || {
        let (tx, rx) = crossbeam_channel::bounded::<usize>(CAP);
        os_throughput(
            SIDES,
            per,
            move |i| tx.send(i).unwrap(),
            move || rx.iter().count(),
        )
    });
    Ok(Measurement {
        name: "channel_throughput",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n: per * SIDES,
        note: Some(format!(
            "8 ULTs on the pool; std: 8 OS threads, sync_channel({CAP}), receiver shared behind a Mutex; \
             crossbeam-channel bounded({CAP}) on 8 OS threads {crossbeam:.1} ns (weave {:.2}x)",
            crossbeam / weave
        )),
        extra: vec![("crossbeam_os_ns", crossbeam)],
    })
}

/// `sides` OS-thread producers sending `per` messages each with `send`,
/// and `sides` consumers each receiving with `recv` until disconnection
/// (it returns its count); ns per message, from the first spawn to the
/// last join. The channel disconnects when the last clone of `send` (which
/// owns the sender) is dropped.
fn os_throughput(
    sides: usize,
    per: usize,
    send: impl Fn(usize) + Clone + Send + 'static,
    recv: impl Fn() -> usize + Clone + Send + 'static,
) -> f64 {
    let t = Instant::now();
    let producers: Vec<_> = (0..sides)
        .map(|_| {
            let send = send.clone();
            std::thread::spawn(move || (0..per).for_each(&send))
        })
        .collect();
    drop(send);
    let consumers: Vec<_> = (0..sides)
        .map(|_| std::thread::spawn(recv.clone()))
        .collect();
    drop(recv);
    producers.into_iter().for_each(|h| h.join().unwrap());
    let got: usize = consumers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(got, per * sides);
    t.elapsed().as_nanos() as f64 / (per * sides) as f64
}

/// Child side: parks `n` threads of `lib`, prints
/// `RESULT <bytes per thread> <seconds to spawn>`.
fn child(args: &[String]) -> Result<(), String> {
    let [lib, n] = args else {
        return Err("bench --child takes LIB N".into());
    };
    if lib == "burst" {
        return spawn::burst_child(n);
    }
    let n: usize = n.parse().map_err(|_| "bad N")?;
    if lib.starts_with("trim-") {
        return trim::child(lib, n);
    }
    if lib.starts_with("compact-") {
        return compact::child(lib, n);
    }
    if lib == "spawn-live" || lib == "spawn-cold" {
        return spawn::child(lib, n);
    }
    if lib.starts_with("signal-sender:") {
        return signal::sender(lib, n);
    }
    let (per, secs) = match lib.as_str() {
        "weave" => {
            // Start the runtime before the baseline is read.
            wt::spawn(|| ()).join().unwrap();
            park_many::<wt::JoinHandle<()>>(n)?
        }
        "std" => park_many::<std::thread::JoinHandle<()>>(n)?,
        other => return Err(format!("bench --child: no library '{other}'")),
    };
    println!("RESULT {per} {secs}");
    Ok(())
}

/// A parked thread of either library: how to spawn one that parks until
/// `release`, and how to wake and join it.
trait Parkable: Sized {
    fn spawn_parked(started: Arc<AtomicUsize>, release: Arc<AtomicBool>) -> Result<Self, String>;
    fn unpark(&self);
    fn join(self);
}

impl Parkable for wt::JoinHandle<()> {
    fn spawn_parked(s: Arc<AtomicUsize>, r: Arc<AtomicBool>) -> Result<Self, String> {
        wt::Builder::new()
            .spawn(move || {
                s.fetch_add(1, Ordering::Release);
                while !r.load(Ordering::Acquire) {
                    wt::park();
                }
            })
            .map_err(|e| e.to_string())
    }
    fn unpark(&self) {
        self.thread().unpark();
    }
    fn join(self) {
        wt::JoinHandle::join(self).unwrap();
    }
}

impl Parkable for std::thread::JoinHandle<()> {
    fn spawn_parked(s: Arc<AtomicUsize>, r: Arc<AtomicBool>) -> Result<Self, String> {
        std::thread::Builder::new()
            .stack_size(16 * 1024)
            .spawn(move || {
                s.fetch_add(1, Ordering::Release);
                while !r.load(Ordering::Acquire) {
                    std::thread::park();
                }
            })
            .map_err(|e| format!("std::thread spawn failed: {e}"))
    }
    fn unpark(&self) {
        self.thread().unpark();
    }
    fn join(self) {
        std::thread::JoinHandle::join(self).unwrap();
    }
}

/// Parks `n` threads of library `H`: returns RSS growth per thread and the
/// seconds it took until all were parked.
fn park_many<H: Parkable>(n: usize) -> Result<(f64, f64), String> {
    std::thread::sleep(Duration::from_millis(50));
    let before = rss()?;
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let t = Instant::now();
    let mut hs = Vec::with_capacity(n);
    for i in 0..n {
        let h = H::spawn_parked(started.clone(), release.clone())
            .map_err(|e| format!("after {i} threads: {e}"))?;
        hs.push(h);
    }
    while started.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(100));
    let after = rss()?;
    release.store(true, Ordering::Release);
    for h in &hs {
        h.unpark();
    }
    for h in hs {
        h.join();
    }
    Ok(((after.saturating_sub(before)) as f64 / n as f64, secs))
}

fn idle_memory(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 20_000 } else { 100_000 };
    let sn = if o.quick { 2_000 } else { 10_000 };
    let w = in_child(&["weave", &n.to_string()])?;
    let s = in_child(&["std", &sn.to_string()])?;
    Ok(Measurement {
        name: "idle_memory",
        unit: "bytes",
        weave: w[0],
        baseline: Some(s[0]),
        n,
        note: Some(format!("std n={sn} at 16 KiB stacks")),
        extra: vec![],
    })
}

fn million(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 200_000 } else { 1_000_000 };
    let w = in_child(&["weave", &n.to_string()])?;
    let max_map = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    let threads_max = std::fs::read_to_string("/proc/sys/kernel/threads-max")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    Ok(Measurement {
        name: "million",
        unit: "bytes",
        weave: w[0],
        baseline: None,
        n,
        note: Some(format!(
            "std cannot: {n} OS threads exceed kernel.threads-max ({threads_max}) and need 2 \
             mappings each (vm.max_map_count {max_map}); total {:.2} GiB",
            w[0] * n as f64 / (1u64 << 30) as f64
        )),
        extra: vec![("spawn_seconds", w[1])],
    })
}

/// Whether a std baseline of `threads` OS threads alive at once can run.
/// Under valgrind it cannot past `--max-threads` (500 by default; weave's
/// own LWPs and the main thread count too): valgrind stops the whole
/// process there, before the weave column it ran first is printed. So
/// under valgrind such a baseline is left out, and the weave column (what
/// an instruction count on the LWP's thread measures) runs as it does
/// everywhere else.
fn std_threads_fit(threads: usize) -> bool {
    threads < 400 || !weave::stack::on_valgrind()
}

/// `note`, or if the baseline was left out (`std_threads_fit`), a note
/// that says so.
fn baseline_note(baseline: Option<f64>, note: &str) -> String {
    match baseline {
        Some(_) => note.to_owned(),
        None => format!("{note} (std not run under valgrind: too many OS threads)"),
    }
}

/// The 1-worker shape of `benches/peers`' mutex row: many ULTs on one LWP
/// take one lock around a tiny critical section. On one LWP a holder never
/// switches inside it, so this is the uncontended lock and unlock, plus each
/// thread's start, exit and join spread over its locks.
fn mutex_one_lwp(o: &Opts) -> Result<Measurement, String> {
    let threads = 1000;
    let per = if o.quick { 200 } else { 1000 };
    let n = threads * per;
    let weave = on_one_lwp(|| {
        rounds(o.rounds(), || {
            wt::spawn(move || {
                let m = Arc::new(weave::sync::Mutex::new(0u64));
                let go = Arc::new(AtomicBool::new(false));
                let hs: Vec<_> = (0..threads)
                    .map(|_| {
                        let (m, go) = (m.clone(), go.clone());
                        wt::spawn(move || {
                            while !go.load(Ordering::Acquire) {
                                wt::yield_now();
                            }
                            for _ in 0..per {
                                *m.lock().unwrap() += 1;
                            }
                        })
                    })
                    .collect();
                let t = Instant::now();
                go.store(true, Ordering::Release);
                for h in hs {
                    h.join().unwrap();
                }
                let d = t.elapsed();
                assert_eq!(*m.lock().unwrap(), n as u64);
                d.as_nanos() as f64 / n as f64
            })
            .join()
            .unwrap()
        })
    })?;
    // std: the same threads and locks, on one CPU.
    let baseline = std_threads_fit(threads).then(|| {
        rounds(o.rounds().min(3), || {
            let m = Arc::new(std::sync::Mutex::new(0u64));
            let start = Arc::new(Barrier::new(threads + 1));
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    let (m, start) = (m.clone(), start.clone());
                    std::thread::spawn(move || {
                        pin_to_cpu0();
                        start.wait();
                        for _ in 0..per {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            start.wait();
            let t = Instant::now();
            for h in hs {
                h.join().unwrap();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
    });
    Ok(Measurement {
        name: "mutex_one_lwp",
        unit: "ns",
        weave,
        baseline,
        n,
        note: Some(baseline_note(
            baseline,
            "weave: 1 LWP; std: 1,000 OS threads pinned to CPU 0",
        )),
        extra: vec![],
    })
}

fn mutex_contended(o: &Opts) -> Result<Measurement, String> {
    let threads = 1000;
    let per = if o.quick { 200 } else { 1000 };
    let n = threads * per;
    weave::set_concurrency(2).map_err(|e| e.to_string())?;
    // What the contended locks did (spin or block), per 1,000 locks over
    // every round: the figures that tell a slow process from a fast one.
    let (c0, locks) = (weave::trace::counters(), (o.rounds() * n) as f64);
    let weave = rounds(o.rounds(), || {
        let m = Arc::new(weave::sync::Mutex::new(0u64));
        // Spawned from a ULT so that the start barrier is a weave one: all
        // threads exist before the clock starts.
        let go = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let (m, go) = (m.clone(), go.clone());
                wt::spawn(move || {
                    while !go.load(Ordering::Acquire) {
                        wt::yield_now();
                    }
                    for _ in 0..per {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        let t = Instant::now();
        go.store(true, Ordering::Release);
        for h in hs {
            h.join().unwrap();
        }
        let d = t.elapsed();
        assert_eq!(*m.lock().unwrap(), n as u64);
        d.as_nanos() as f64 / n as f64
    });
    let c1 = weave::trace::counters();
    let per_1k = |a: u64, b: u64| (b - a) as f64 * 1000.0 / locks;
    let contention = vec![
        (
            "slow_path_per_1k",
            per_1k(c0.lock_contended, c1.lock_contended),
        ),
        ("spin_wins_per_1k", per_1k(c0.lock_spins, c1.lock_spins)),
        ("blocks_per_1k", per_1k(c0.lock_blocks, c1.lock_blocks)),
        (
            "handoffs_per_1k",
            per_1k(c0.lock_handoffs, c1.lock_handoffs),
        ),
    ];
    weave::set_concurrency(0).map_err(|e| e.to_string())?;
    let baseline = std_threads_fit(threads).then(|| {
        rounds(o.rounds().min(3), || {
            let m = Arc::new(std::sync::Mutex::new(0u64));
            let start = Arc::new(Barrier::new(threads + 1));
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    let (m, start) = (m.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        for _ in 0..per {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            start.wait();
            let t = Instant::now();
            for h in hs {
                h.join().unwrap();
            }
            let d = t.elapsed();
            d.as_nanos() as f64 / n as f64
        })
    });
    Ok(Measurement {
        name: "mutex_contended",
        unit: "ns",
        weave,
        baseline,
        n,
        note: Some(baseline_note(
            baseline,
            "weave: 2 LWPs; std: 1,000 OS threads with std::sync::Mutex",
        )),
        extra: contention,
    })
}

/// Priorities of `preempt_latency`: the hogs at the bottom, the woken
/// thread near the top, so that every wake must preempt a hog.
const HOG_PRIORITY: u8 = 2;
const URGENT_PRIORITY: u8 = 28;

/// The `nice` level of the std baseline's hogs: the weakest claim on a CPU
/// that `SCHED_OTHER` offers, against the waiter's default 0.
const HOG_NICE: libc::c_int = 19;

/// Pause between two wakes of `preempt_latency`: long enough for the hog
/// to get its CPU back after the woken thread parks again, so that each
/// wake finds a hog running rather than an idle CPU.
const WAKE_GAP: Duration = Duration::from_micros(200);

/// What the waker and the woken thread of `preempt_latency` share: when
/// the last wake was issued (ns since `base`), and how many samples the
/// woken thread has taken, so the waker waits for each before the next.
struct WakeClock {
    base: Instant,
    woke_at: AtomicU64,
    taken: AtomicUsize,
    stop: AtomicBool,
    /// The waker, parked while the woken thread takes its sample: a waker
    /// that spun would take a CPU from the LWPs (or threads) measured.
    driver: std::thread::Thread,
}

impl WakeClock {
    fn new() -> WakeClock {
        WakeClock {
            base: Instant::now(),
            woke_at: AtomicU64::new(0),
            taken: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            driver: std::thread::current(),
        }
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Issues `n` wakes through `unpark`, one at a time, each after the
    /// previous one was taken and a pause; then stops the woken thread.
    /// Must run on the thread that made the clock.
    fn drive(&self, n: usize, unpark: impl Fn()) {
        for i in 0..n {
            std::thread::sleep(WAKE_GAP);
            // Release pairs with the woken thread's Acquire load: it reads
            // the stamp of this wake, not an older one.
            self.woke_at.store(self.now(), Ordering::Release);
            unpark();
            while self.taken.load(Ordering::Acquire) <= i {
                std::thread::park();
            }
        }
        self.stop.store(true, Ordering::Release);
        unpark();
    }

    /// The woken thread's loop: park, and on each wake record how long ago
    /// it was issued. `park` may return spuriously; a sample is taken only
    /// for a wake not yet taken (`woke_at` moved on).
    fn wait_loop(&self, park: impl Fn()) -> Vec<u64> {
        let mut samples = Vec::new();
        let mut last = 0;
        loop {
            park();
            let ran = self.now();
            if self.stop.load(Ordering::Acquire) {
                return samples;
            }
            let at = self.woke_at.load(Ordering::Acquire);
            if at != last {
                last = at;
                samples.push(ran.saturating_sub(at));
                self.taken.fetch_add(1, Ordering::Release);
                self.driver.unpark();
            }
        }
    }
}

fn preempt_latency(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 500 } else { 2_000 };
    let lwps = weave::concurrency();
    let (weave, weave_p99) = median_p99(preempt_latency_weave(n, lwps)?);
    let (std_median, std_p99) = median_p99(preempt_latency_std(n, lwps));
    Ok(Measurement {
        name: "preempt_latency",
        unit: "ns",
        weave,
        baseline: Some(std_median),
        n,
        note: Some(format!(
            "weave: a priority-{URGENT_PRIORITY} ULT unparked while {lwps} LWPs run priority-{HOG_PRIORITY} \
             hogs calling preempt_point(); std: a nice-0 thread unparked while {lwps} nice-{HOG_NICE} \
             threads spin"
        )),
        extra: vec![("p99_ns", weave_p99), ("std_p99_ns", std_p99)],
    })
}

/// `n` wakes of a high-priority ULT while a low-priority hog runs on every
/// pool LWP; returns each wake-to-run time in ns.
fn preempt_latency_weave(n: usize, lwps: usize) -> Result<Vec<u64>, String> {
    let clock = Arc::new(WakeClock::new());
    let urgent = {
        let clock = clock.clone();
        wt::Builder::new()
            .name("urgent".into())
            .priority(URGENT_PRIORITY)
            .spawn(move || clock.wait_loop(wt::park))
            .map_err(|e| e.to_string())?
    };
    // The hogs, until each pool LWP runs one. A busy LWP does not take new
    // work, so each new hog goes to an LWP that has none yet.
    let stop_hogs = Arc::new(AtomicBool::new(false));
    let hogging = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let started = Arc::new(AtomicUsize::new(0));
    let mut hogs = Vec::new();
    while hogging.lock().unwrap().len() < lwps && hogs.len() < 4 * lwps {
        let (stop, on, up) = (stop_hogs.clone(), hogging.clone(), started.clone());
        hogs.push(
            wt::Builder::new()
                .priority(HOG_PRIORITY)
                .spawn(move || {
                    on.lock().unwrap().insert(wt::current_lwp());
                    up.fetch_add(1, Ordering::Release);
                    while !stop.load(Ordering::Relaxed) {
                        wt::preempt_point();
                    }
                })
                .map_err(|e| e.to_string())?,
        );
        // Acquire pairs with the hog's Release: its LWP is in the set.
        while started.load(Ordering::Acquire) < hogs.len() {
            std::thread::yield_now();
        }
    }
    let covered = hogging.lock().unwrap().len();
    let urgent_thread = urgent.thread().clone();
    clock.drive(n, || urgent_thread.unpark());
    let samples = urgent.join().map_err(|_| "the woken ULT panicked")?;
    stop_hogs.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().map_err(|_| "a hog panicked")?;
    }
    if covered < lwps {
        return Err(format!("hogs reached only {covered} of {lwps} LWPs"));
    }
    Ok(samples)
}

/// The std baseline: `n` wakes of a nice-0 thread while `hogs` nice-19
/// threads spin; returns each wake-to-run time in ns.
fn preempt_latency_std(n: usize, hogs: usize) -> Vec<u64> {
    let clock = Arc::new(WakeClock::new());
    let stop_hogs = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(hogs + 1));
    let hog_threads: Vec<_> = (0..hogs)
        .map(|_| {
            let (stop, started) = (stop_hogs.clone(), started.clone());
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                // SAFETY: setpriority only reads its arguments; `tid` names
                // this thread, whose nice value alone changes (Linux keeps
                // nice per thread).
                let r =
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, HOG_NICE) };
                debug_assert_eq!(r, 0, "raising a thread's own nice level cannot fail");
                started.wait();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let waiter = {
        let clock = clock.clone();
        std::thread::spawn(move || clock.wait_loop(std::thread::park))
    };
    started.wait();
    clock.drive(n, || waiter.thread().unpark());
    let samples = waiter.join().expect("the woken thread panicked");
    stop_hogs.store(true, Ordering::Relaxed);
    for h in hog_threads {
        h.join().expect("a hog panicked");
    }
    samples
}

/// `n` round trips of a turn between two threads that wait on one condvar
/// for the shared counter to reach their parity; returns ns per round trip
/// (two hand-overs), timed on the first side. `take_turn(pair, t)` waits
/// for the counter to be `t`, bumps it and notifies; `spawn` starts the
/// second side and returns its joiner, so the same code measures ULTs and
/// OS threads.
fn condvar_rounds<P: Send + Sync + 'static>(
    n: usize,
    pair: Arc<P>,
    take_turn: fn(&P, usize),
    spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()>,
) -> f64 {
    let other = pair.clone();
    let join = spawn(Box::new(move || {
        for i in 0..=n {
            take_turn(&other, 2 * i + 1);
        }
    }));
    // One warm-up trip, outside the timed loop.
    take_turn(&pair, 0);
    let t = Instant::now();
    for i in 1..=n {
        take_turn(&pair, 2 * i);
    }
    let d = t.elapsed();
    join();
    d.as_nanos() as f64 / n as f64
}

fn condvar_pingpong(o: &Opts) -> Result<Measurement, String> {
    use weave::sync::{Condvar, Mutex};
    type W = (Mutex<usize>, Condvar);
    type S = (std::sync::Mutex<usize>, std::sync::Condvar);
    let n = if o.quick { 100_000 } else { 500_000 };
    let weave = on_one_lwp(|| {
        rounds(o.rounds(), || {
            wt::spawn(move || {
                condvar_rounds(
                    n,
                    Arc::new(W::default()),
                    |(m, cv): &W, turn| {
                        let mut g = cv.wait_while(m.lock().unwrap(), |c| *c != turn).unwrap();
                        *g += 1;
                        drop(g);
                        cv.notify_one();
                    },
                    |f| {
                        let h = wt::spawn(f);
                        Box::new(move || h.join().unwrap())
                    },
                )
            })
            .join()
            .unwrap()
        })
    })?;
    let sn = n / 10;
    let baseline = rounds(o.rounds().min(3), || {
        condvar_rounds(
            sn,
            Arc::new(S::default()),
            |(m, cv): &S, turn| {
                let mut g = cv.wait_while(m.lock().unwrap(), |c| *c != turn).unwrap();
                *g += 1;
                drop(g);
                cv.notify_one();
            },
            |f| {
                let h = std::thread::spawn(f);
                Box::new(move || h.join().unwrap())
            },
        )
    });
    Ok(Measurement {
        name: "condvar_pingpong",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(format!(
            "weave: 2 ULTs on one LWP, weave Mutex + Condvar; std: 2 OS threads, std Mutex + Condvar, n={sn}"
        )),
        extra: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::Measurement;

    fn measured(unit: &'static str, weave: f64, baseline: f64) -> Measurement {
        Measurement {
            name: "m",
            unit,
            weave,
            baseline: Some(baseline),
            n: 1,
            note: None,
            extra: vec![],
        }
    }

    #[test]
    fn ratio_above_one_means_weave_ahead_for_costs_and_rates() {
        // A cost: weave took half the time.
        assert_eq!(measured("ns", 50.0, 100.0).ratio(), Some(2.0));
        // A rate: weave moved twice the messages.
        assert_eq!(measured("msg/s", 200.0, 100.0).ratio(), Some(2.0));
        assert_eq!(measured("msg/s", 50.0, 100.0).ratio(), Some(0.5));
    }
}

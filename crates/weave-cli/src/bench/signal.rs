//! The signal workloads: what a ULT's mask change costs (`sigmask`), and
//! how long a signal from another process takes to reach its handler
//! (`signal_latency`), each against the 1:1 baseline in the same run
//! (`pthread_sigmask` on an OS thread; a plain `sigaction` handler).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weave::signal::{self, How, SigSet};
use weave::thread as wt;

use super::common::{in_child, median, median_p99, Measurement, Opts};

/// Pause between two signals of `signal_latency`: long enough that each
/// finds the previous one handled, so that the figure is a latency and not
/// a queue.
const GAP: Duration = Duration::from_micros(300);

/// `sigmask`: a ULT blocking and unblocking one signal, against
/// `pthread_sigmask` on an OS thread (ns per change).
pub(super) fn sigmask(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 200_000 } else { 2_000_000 };
    let set = SigSet::of(&[libc::SIGUSR1]);
    let weave = median(
        (0..o.rounds())
            .map(|_| {
                wt::spawn(move || {
                    let t = Instant::now();
                    for _ in 0..n {
                        // black_box: each change must happen, as in a
                        // program that masks around a critical section.
                        std::hint::black_box(signal::mask(How::Block, std::hint::black_box(&set)));
                        std::hint::black_box(signal::mask(
                            How::Unblock,
                            std::hint::black_box(&set),
                        ));
                    }
                    t.elapsed().as_nanos() as f64 / (2 * n) as f64
                })
                .join()
                .unwrap()
            })
            .collect(),
    );
    let ks = set.to_sigset_t();
    let std = median(
        (0..o.rounds())
            .map(|_| {
                std::thread::spawn(move || {
                    let t = Instant::now();
                    for _ in 0..n {
                        // SAFETY: valid sets on the calling thread.
                        unsafe {
                            libc::pthread_sigmask(libc::SIG_BLOCK, &ks, std::ptr::null_mut());
                            libc::pthread_sigmask(libc::SIG_UNBLOCK, &ks, std::ptr::null_mut());
                        }
                    }
                    t.elapsed().as_nanos() as f64 / (2 * n) as f64
                })
                .join()
                .unwrap()
            })
            .collect(),
    );
    Ok(Measurement {
        name: "sigmask",
        unit: "ns",
        weave,
        baseline: Some(std),
        n,
        note: Some(format!(
            "{} kernel mask changes made for ULTs",
            signal::kernel_mask_changes()
        )),
        extra: Vec::new(),
    })
}

fn now_ns() -> u64 {
    // SAFETY: a zeroed timespec is a valid out-value; CLOCK_MONOTONIC is
    // the same clock in every process of the machine.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Latencies written by a handler that runs in signal context (the plain
/// `sigaction` baseline, weave's immediate handler): one run at a time.
static CTX_SAMPLES: [std::sync::atomic::AtomicU64; 4096] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 4096];
static CTX_TAKEN: AtomicUsize = AtomicUsize::new(0);

// ASYNC-SIGNAL-SAFE: a clock read and two atomic stores.
fn ctx_sample(sent: u64) {
    let i = CTX_TAKEN.fetch_add(1, Ordering::SeqCst);
    if i < CTX_SAMPLES.len() {
        CTX_SAMPLES[i].store(now_ns().saturating_sub(sent), Ordering::SeqCst);
    }
}

// ASYNC-SIGNAL-SAFE
extern "C" fn base_handler(_sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: a SI_QUEUE siginfo from our sender carries its send time.
    ctx_sample(unsafe { (*info).si_value().sival_ptr } as u64);
}

// ASYNC-SIGNAL-SAFE
fn immediate_handler(info: &signal::SigInfo) {
    ctx_sample(info.value as u64);
}

/// Waits (up to 10 s) for `m` in-context samples; returns them.
fn ctx_samples(m: usize) -> Vec<u64> {
    let done = Instant::now();
    while CTX_TAKEN.load(Ordering::SeqCst) < m && done.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    CTX_SAMPLES[..CTX_TAKEN.load(Ordering::SeqCst).min(m)]
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .collect()
}

/// Child side of `signal_latency`: sends `n` signals `sig` to `pid`, each
/// carrying its send time, one every [`GAP`].
pub(super) fn sender(spec: &str, n: usize) -> Result<(), String> {
    let mut it = spec.split(':').skip(1).map(|x| x.parse::<i32>());
    let (Some(Ok(pid)), Some(Ok(sig))) = (it.next(), it.next()) else {
        return Err("bench --child signal-sender:PID:SIG N".into());
    };
    for _ in 0..n {
        std::thread::sleep(GAP);
        let v = libc::sigval {
            sival_ptr: now_ns() as usize as *mut libc::c_void,
        };
        // SAFETY: sigqueue with a valid sigval.
        if unsafe { libc::sigqueue(pid, sig, v) } != 0 {
            return Err(format!("sigqueue: {}", std::io::Error::last_os_error()));
        }
    }
    println!("RESULT 0");
    Ok(())
}

fn send_from_child(sig: i32, n: usize) -> Result<(), String> {
    // SAFETY: getpid has no preconditions.
    let spec = format!("signal-sender:{}:{sig}", unsafe { libc::getpid() });
    in_child(&[&spec, &n.to_string()]).map(|_| ())
}

/// Which ULT is there to take the signal in a `signal_latency` run.
#[derive(Clone, Copy, PartialEq)]
enum Taker {
    /// A ULT waiting on a channel (case 2 or 3: not running).
    Waiting,
    /// A bound ULT spinning on its LWP (case 1 or 3: running; the signal
    /// usually lands on an idle LWP and is sent on, case 3).
    Running,
}

/// One weave mode of `signal_latency`: `install` puts the handler in place
/// (it records its samples itself), the OS threads block `sig`, one ULT
/// (`taker`) does not; `n` signals come from a child process. Returns the
/// samples `collect` gathers.
fn weave_run(
    sig: i32,
    n: usize,
    taker: Taker,
    install: impl FnOnce() -> Result<(), String>,
    collect: impl FnOnce() -> Vec<u64>,
) -> Result<Vec<u64>, String> {
    install()?;
    let old = signal::mask(How::Block, &SigSet::of(&[sig]));
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let t = match taker {
        Taker::Waiting => wt::spawn(move || {
            signal::mask(How::SetMask, &SigSet::empty());
            let _ = rx.recv();
        }),
        Taker::Running => wt::Builder::new()
            .bound()
            .spawn(move || {
                signal::mask(How::SetMask, &SigSet::empty());
                while !st.load(Ordering::Relaxed) {
                    // The kernel's yield, not weave's: the ULT stays the
                    // one its LWP runs, and on a busy machine the other
                    // threads (the sender's) get the CPU.
                    std::thread::yield_now();
                }
            })
            .map_err(|e| e.to_string())?,
    };
    let sent = send_from_child(sig, n);
    let got = collect();
    stop.store(true, Ordering::Relaxed);
    drop(tx);
    t.join().map_err(|_| "the taker ULT panicked".to_owned())?;
    signal::reset(sig).map_err(|e| e.to_string())?;
    signal::mask(How::SetMask, &old);
    sent?;
    if got.len() < n {
        return Err(format!("weave: {} of {n} signals handled", got.len()));
    }
    Ok(got)
}

/// Samples of a handler that runs as a thread or on its target.
fn lane_samples() -> (
    Arc<Mutex<Vec<u64>>>,
    impl Fn(&signal::SigInfo) + Send + Sync,
) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let s = samples.clone();
    (samples, move |info: &signal::SigInfo| {
        let lat = now_ns().saturating_sub(info.value as u64);
        s.lock().unwrap().push(lat);
    })
}

fn wait_samples(samples: &Mutex<Vec<u64>>, n: usize) -> Vec<u64> {
    let done = Instant::now();
    while samples.lock().unwrap().len() < n && done.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::mem::take(&mut *samples.lock().unwrap())
}

/// `signal_latency`: from `sigqueue` in another process to the handler
/// running, for each of weave's handler modes, against a plain `sigaction`
/// handler on an OS thread (median ns; p99 in the note). The main figure
/// is the handler run as a thread (the default); the others are extra
/// columns: on its target ULT, and immediate (in signal context) with the
/// taking ULT waiting (run as it is switched in) or running (run right
/// there, on its stack).
pub(super) fn signal_latency(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 300 } else { 2_000 };
    let rt = signal::sigrtmin();

    let (samples, f) = lane_samples();
    let thread = weave_run(
        rt + 6,
        n,
        Taker::Waiting,
        || signal::handle(rt + 6, f).map_err(|e| e.to_string()),
        || wait_samples(&samples, n),
    )?;
    let (samples, f) = lane_samples();
    let on_target = weave_run(
        rt + 8,
        n,
        Taker::Waiting,
        || signal::handle_on_target(rt + 8, f).map_err(|e| e.to_string()),
        || wait_samples(&samples, n),
    )?;
    let m = n.min(CTX_SAMPLES.len());
    let mut immediate = Vec::new();
    for (sig, taker) in [(rt + 9, Taker::Waiting), (rt + 10, Taker::Running)] {
        CTX_TAKEN.store(0, Ordering::SeqCst);
        immediate.push(weave_run(
            sig,
            m,
            taker,
            || {
                let h = signal::Immediate::new(signal::ImmediateFn::Rust(immediate_handler));
                // SAFETY: the handler reads a clock and stores to atomics.
                unsafe { signal::handle_immediate(sig, h) }.map_err(|e| e.to_string())
            },
            || ctx_samples(m),
        )?);
    }

    // Baseline: a plain sigaction handler, run in signal context on
    // whichever thread the kernel picks.
    let base_sig = rt + 7;
    // SAFETY: a zeroed sigaction is valid to fill in; the handler is
    // async-signal-safe.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = base_handler as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(base_sig, &act, std::ptr::null_mut());
    }
    CTX_TAKEN.store(0, Ordering::SeqCst);
    send_from_child(base_sig, m)?;
    let b = ctx_samples(m);
    if b.len() < m {
        return Err(format!("baseline: {} of {m} signals handled", b.len()));
    }
    let (wm, wp) = median_p99(thread);
    let (tm, tp) = median_p99(on_target);
    let [iw, ir]: [Vec<u64>; 2] = immediate.try_into().expect("two immediate runs");
    let (iwm, iwp) = median_p99(iw);
    let (irm, irp) = median_p99(ir);
    let (bm, bp) = median_p99(b);
    Ok(Measurement {
        name: "signal_latency",
        unit: "ns",
        weave: wm,
        baseline: Some(bm),
        n,
        note: Some(format!(
            "handler as a thread; p99 us: thread {:.1}, on_target {:.1}, immediate \
             (waiting ULT) {:.1}, immediate (running ULT) {:.1}, sigaction {:.1}",
            wp / 1e3,
            tp / 1e3,
            iwp / 1e3,
            irp / 1e3,
            bp / 1e3
        )),
        extra: vec![
            ("on_target_ns", tm),
            ("immediate_waiting_ns", iwm),
            ("immediate_running_ns", irm),
        ],
    })
}

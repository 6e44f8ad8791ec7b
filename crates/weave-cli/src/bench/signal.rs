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

/// Latencies of the plain `sigaction` baseline, written by its handler.
static BASE_SAMPLES: [std::sync::atomic::AtomicU64; 4096] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 4096];
static BASE_TAKEN: AtomicUsize = AtomicUsize::new(0);

// ASYNC-SIGNAL-SAFE: a clock read and two atomic stores.
extern "C" fn base_handler(_sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: a SI_QUEUE siginfo from our sender carries its send time.
    let sent = unsafe { (*info).si_value().sival_ptr } as u64;
    let i = BASE_TAKEN.fetch_add(1, Ordering::SeqCst);
    if i < BASE_SAMPLES.len() {
        BASE_SAMPLES[i].store(now_ns().saturating_sub(sent), Ordering::SeqCst);
    }
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

/// `signal_latency`: from `sigqueue` in another process to the handler
/// running, for weave's handler-as-a-thread against a plain `sigaction`
/// handler (median ns; p99 in the note).
pub(super) fn signal_latency(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 300 } else { 2_000 };
    // weave: a handler run by a ULT of the pool; a ULT waiting on a
    // channel takes the signal (case 2 or 3), the OS threads block it.
    let sig = signal::sigrtmin() + 6;
    let samples = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let s = samples.clone();
    signal::handle(sig, move |info| {
        let lat = now_ns().saturating_sub(info.value as u64);
        s.lock().unwrap().push(lat);
    })
    .map_err(|e| e.to_string())?;
    let old = signal::mask(How::Block, &SigSet::of(&[sig]));
    let (tx, rx) = weave::sync::mpsc::channel::<()>();
    let taker = wt::spawn(move || {
        signal::mask(How::SetMask, &SigSet::empty());
        let _ = rx.recv();
    });
    send_from_child(sig, n)?;
    let done = Instant::now();
    while samples.lock().unwrap().len() < n && done.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(tx);
    taker.join().unwrap();
    signal::reset(sig).map_err(|e| e.to_string())?;
    let w: Vec<u64> = std::mem::take(&mut *samples.lock().unwrap());
    if w.len() < n {
        return Err(format!("weave: {} of {n} signals handled", w.len()));
    }

    // Baseline: a plain sigaction handler, run in signal context on
    // whichever thread the kernel picks.
    let base_sig = signal::sigrtmin() + 7;
    // SAFETY: a zeroed sigaction is valid to fill in; the handler is
    // async-signal-safe.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = base_handler as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(base_sig, &act, std::ptr::null_mut());
    }
    BASE_TAKEN.store(0, Ordering::SeqCst);
    let m = n.min(BASE_SAMPLES.len());
    send_from_child(base_sig, m)?;
    let done = Instant::now();
    while BASE_TAKEN.load(Ordering::SeqCst) < m && done.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    signal::mask(How::SetMask, &old);
    let b: Vec<u64> = BASE_SAMPLES[..BASE_TAKEN.load(Ordering::SeqCst).min(m)]
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .collect();
    if b.len() < m {
        return Err(format!("baseline: {} of {m} signals handled", b.len()));
    }
    let (wm, wp) = median_p99(w);
    let (bm, bp) = median_p99(b);
    Ok(Measurement {
        name: "signal_latency",
        unit: "ns",
        weave: wm,
        baseline: Some(bm),
        n,
        note: Some(format!(
            "p99: weave {:.1} us, sigaction {:.1} us (handler as a thread vs in signal context)",
            wp / 1e3,
            bp / 1e3
        )),
        extra: Vec::new(),
    })
}

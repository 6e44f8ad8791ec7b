//! The C side of `weave bench`: `c_create_join`, `c_mutex`,
//! `c_sem_pingpong` and `c_cond_pingpong` run the same
//! pthreads code (`src/cbench.c`, compiled by build.rs once for glibc and
//! once through `weave/pthread.h`) in one run, interleaved. Owns only the
//! calls into that C code; linking weave-capi provides weave's symbols.

use weave_capi as _;

use super::common::{median, Measurement, Opts};

extern "C" {
    fn cbench_weave_create_join(n: std::ffi::c_int) -> f64;
    fn cbench_glibc_create_join(n: std::ffi::c_int) -> f64;
    fn cbench_weave_mutex(threads: std::ffi::c_int, per: std::ffi::c_long) -> f64;
    fn cbench_glibc_mutex(threads: std::ffi::c_int, per: std::ffi::c_long) -> f64;
    fn cbench_weave_mutex_cpu() -> f64;
    fn cbench_glibc_mutex_cpu() -> f64;
    fn cbench_weave_sem_pingpong(n: std::ffi::c_long) -> f64;
    fn cbench_glibc_sem_pingpong(n: std::ffi::c_long) -> f64;
    fn cbench_weave_cond_pingpong(n: std::ffi::c_long) -> f64;
    fn cbench_glibc_cond_pingpong(n: std::ffi::c_long) -> f64;
    fn cbench_weave_pingpong_cpu() -> f64;
    fn cbench_glibc_pingpong_cpu() -> f64;
}

/// A C figure, or the error it reported (-1).
fn c_figure(what: &str, ns: f64) -> Result<f64, String> {
    if ns < 0.0 {
        Err(format!("the C benchmark {what} failed"))
    } else {
        Ok(ns)
    }
}

pub(super) fn c_create_join(o: &Opts) -> Result<Measurement, String> {
    let n = 20_000;
    let gn = if o.quick { 2_000 } else { 5_000 };
    let mut weave = Vec::new();
    let mut glibc = Vec::new();
    // Interleaved, so that both see the same machine.
    for _ in 0..o.rounds() {
        // SAFETY: plain C functions with no preconditions.
        weave.push(c_figure("create_join (weave)", unsafe {
            cbench_weave_create_join(n)
        })?);
        // SAFETY: as above.
        glibc.push(c_figure("create_join (glibc)", unsafe {
            cbench_glibc_create_join(gn)
        })?);
    }
    Ok(Measurement {
        name: "c_create_join",
        unit: "ns",
        weave: median(weave),
        baseline: Some(median(glibc)),
        n: n as usize,
        note: Some(format!("C through weave/pthread.h; glibc n={gn}")),
        extra: vec![],
    })
}

/// `c_mutex`: the figure is the process's CPU time per lock, increment
/// and unlock, not the wall time. On a shared machine the wall time of a
/// run of a few ms is that CPU time divided by the share of a CPU the
/// kernel gave the process in that window, which other processes decide
/// (0.2-1.0 at a load of 16 on 2 CPUs), and the two libraries' windows get
/// different shares: the wall ratio measured the kernel, not the locks
/// (docs/PERFORMANCE.md, "c_mutex: a clean lock word ..."). The wall
/// figures and the shares are printed beside it, with what weave's
/// contended locks did.
pub(super) fn c_mutex(o: &Opts) -> Result<Measurement, String> {
    let (threads, per) = (4, if o.quick { 50_000 } else { 200_000 });
    let mut cpu = (Vec::new(), Vec::new());
    let mut wall = (Vec::new(), Vec::new());
    let mut share = (Vec::new(), Vec::new());
    let c0 = weave::trace::counters();
    for _ in 0..o.rounds() {
        // Interleaved, so that both see the same machine.
        // SAFETY: plain C functions with no preconditions.
        let (w, wc) = unsafe { (cbench_weave_mutex(threads, per), cbench_weave_mutex_cpu()) };
        wall.0.push(c_figure("mutex (weave)", w)?);
        // SAFETY: as above.
        let (g, gc) = unsafe { (cbench_glibc_mutex(threads, per), cbench_glibc_mutex_cpu()) };
        wall.1.push(c_figure("mutex (glibc)", g)?);
        cpu.0.push(wc);
        cpu.1.push(gc);
        share.0.push(if w > 0.0 { wc / w } else { 0.0 });
        share.1.push(if g > 0.0 { gc / g } else { 0.0 });
    }
    let c1 = weave::trace::counters();
    let locks = (o.rounds() * threads as usize * per as usize) as f64;
    let per_1k = |a: u64, b: u64| (b - a) as f64 * 1000.0 / locks;
    Ok(Measurement {
        name: "c_mutex",
        unit: "ns",
        weave: median(cpu.0),
        baseline: Some(median(cpu.1)),
        n: threads as usize * per as usize,
        note: Some(
            "C pthread_mutex_t, 4 threads: weave's on the pool against glibc's on OS threads; \
             CPU time per lock+unlock (wall time and CPU shares in the extras)"
                .to_owned(),
        ),
        extra: vec![
            ("weave_wall_ns", median(wall.0)),
            ("glibc_wall_ns", median(wall.1)),
            ("weave_cpu_share", median(share.0)),
            ("glibc_cpu_share", median(share.1)),
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
        ],
    })
}

/// `c_sem_pingpong`: two C threads alternate through two `sem_t`s.
pub(super) fn c_sem_pingpong(o: &Opts) -> Result<Measurement, String> {
    c_pingpong(
        o,
        "c_sem_pingpong",
        "sem_t: sem_post(s1)/sem_wait(s2) against sem_wait(s1)/sem_post(s2)",
        (cbench_weave_sem_pingpong, cbench_glibc_sem_pingpong),
    )
}

/// `c_cond_pingpong`: two C threads take turns through one mutex and one
/// condition variable.
pub(super) fn c_cond_pingpong(o: &Opts) -> Result<Measurement, String> {
    c_pingpong(
        o,
        "c_cond_pingpong",
        "pthread_mutex_t + pthread_cond_t: lock, wait for one's turn, take it, signal, unlock",
        (cbench_weave_cond_pingpong, cbench_glibc_cond_pingpong),
    )
}

/// A C ping-pong (`src/cbench.c`), weave's two threads on one LWP
/// (`pthread_setconcurrency(1)`) against glibc's two OS threads,
/// interleaved. The figure is CPU ns per round trip, as `c_mutex`'s: on a
/// shared machine a run's wall time is its CPU time divided by the share
/// of a CPU the kernel gave it, which other processes decide; glibc's
/// round trip also waits for the kernel to run the woken thread, which
/// only the wall time shows. Both wall figures and shares are extras.
fn c_pingpong(
    o: &Opts,
    name: &'static str,
    what: &str,
    (weave_fn, glibc_fn): (
        unsafe extern "C" fn(std::ffi::c_long) -> f64,
        unsafe extern "C" fn(std::ffi::c_long) -> f64,
    ),
) -> Result<Measurement, String> {
    let n = if o.quick { 100_000 } else { 500_000 };
    let gn = if o.quick { 10_000 } else { 50_000 };
    let mut cpu = (Vec::new(), Vec::new());
    let mut wall = (Vec::new(), Vec::new());
    let mut share = (Vec::new(), Vec::new());
    for _ in 0..o.rounds() {
        // Interleaved, so that both see the same machine.
        // SAFETY: plain C functions with no preconditions.
        let (w, wc) = unsafe { (weave_fn(n), cbench_weave_pingpong_cpu()) };
        wall.0.push(c_figure(name, w)?);
        // SAFETY: as above.
        let (g, gc) = unsafe { (glibc_fn(gn), cbench_glibc_pingpong_cpu()) };
        wall.1.push(c_figure(name, g)?);
        cpu.0.push(wc);
        cpu.1.push(gc);
        share.0.push(if w > 0.0 { wc / w } else { 0.0 });
        share.1.push(if g > 0.0 { gc / g } else { 0.0 });
    }
    Ok(Measurement {
        name,
        unit: "ns",
        weave: median(cpu.0),
        baseline: Some(median(cpu.1)),
        n: n as usize,
        note: Some(format!(
            "C {what}: weave's 2 threads on one LWP against glibc's 2 OS threads (n={gn}); \
             CPU time per round trip (wall time and CPU shares in the extras)"
        )),
        extra: vec![
            ("weave_wall_ns", median(wall.0)),
            ("glibc_wall_ns", median(wall.1)),
            ("weave_cpu_share", median(share.0)),
            ("glibc_cpu_share", median(share.1)),
        ],
    })
}

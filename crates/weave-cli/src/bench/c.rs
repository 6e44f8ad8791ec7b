//! The C side of `weave bench`: `c_create_join` and `c_mutex` run the same
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

pub(super) fn c_mutex(o: &Opts) -> Result<Measurement, String> {
    let (threads, per) = (4, if o.quick { 50_000 } else { 200_000 });
    let mut weave = Vec::new();
    let mut glibc = Vec::new();
    for _ in 0..o.rounds() {
        // SAFETY: plain C functions with no preconditions.
        weave.push(c_figure("mutex (weave)", unsafe {
            cbench_weave_mutex(threads, per)
        })?);
        // SAFETY: as above.
        glibc.push(c_figure("mutex (glibc)", unsafe {
            cbench_glibc_mutex(threads, per)
        })?);
    }
    Ok(Measurement {
        name: "c_mutex",
        unit: "ns",
        weave: median(weave),
        baseline: Some(median(glibc)),
        n: threads as usize * per as usize,
        note: Some(
            "C pthread_mutex_t: weave's on the pool against glibc's on 4 OS threads".to_owned(),
        ),
        extra: vec![],
    })
}

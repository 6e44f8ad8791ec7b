//! What a TLS block per ULT (the `tls-per-ult` feature) costs in memory,
//! with glibc's malloc: run it built with and without the feature.
//!
//! `tls_memory parked N`: resident memory per parked ULT that never
//! allocates; `tls_memory parked-alloc N`: per parked ULT that allocated
//! (and freed) a few blocks before it parked. With the feature, that first
//! allocation gives each ULT a malloc cache of its own.
//!
//! `tls_memory churn N`: N ULTs, 100 at a time, each allocating and freeing
//! a few sizes, then exiting; prints malloc's in-use bytes and the resident
//! memory before and after, per exited ULT: what ULT exit leaves behind.
//!
//! `tls_memory layout`: the size of a thread's static TLS block.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weave::thread;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn in_use() -> usize {
    // SAFETY: mallinfo2 has no preconditions.
    unsafe { libc::mallinfo2() }.uordblks
}

/// Allocates and frees a few sizes through glibc's malloc.
#[inline(never)]
fn touch_malloc() {
    for size in [24usize, 100, 400, 1000] {
        let v = std::hint::black_box(vec![1u8; size]);
        drop(v);
    }
}

fn parked(n: usize, allocate: bool) -> f64 {
    thread::spawn(|| ()).join().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let before = rss();
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (s, r) = (started.clone(), release.clone());
            thread::spawn(move || {
                if allocate {
                    touch_malloc();
                }
                s.fetch_add(1, Ordering::Release);
                while !r.load(Ordering::Acquire) {
                    thread::park();
                }
            })
        })
        .collect();
    while started.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    let per = rss().saturating_sub(before) as f64 / n as f64;
    release.store(true, Ordering::Release);
    for h in &hs {
        h.thread().unpark();
    }
    for h in hs {
        h.join().unwrap();
    }
    per
}

fn churn(n: usize) {
    // Warm up: the runtime, the LWPs' own caches and malloc arenas.
    for _ in 0..10 {
        thread::spawn(touch_malloc).join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    let (u0, r0) = (in_use(), rss());
    let mut done = 0;
    while done < n {
        let batch = 100.min(n - done);
        let hs: Vec<_> = (0..batch).map(|_| thread::spawn(touch_malloc)).collect();
        for h in hs {
            h.join().unwrap();
        }
        done += batch;
    }
    std::thread::sleep(Duration::from_millis(600));
    let (u1, r1) = (in_use(), rss());
    println!(
        "churn n={n}: malloc in use {:+.1} bytes per exited ULT, resident {:+.1} bytes per exited ULT",
        (u1 as f64 - u0 as f64) / n as f64,
        (r1 as f64 - r0 as f64) / n as f64
    );
}

/// glibc's size and alignment of a thread's static TLS block (the
/// descriptor included), as `pthread_create` allocates it.
fn static_tls() -> Option<(usize, usize)> {
    // SAFETY: dlsym with a NUL-terminated name; the symbol, where present,
    // is `void _dl_get_tls_static_info (size_t *size, size_t *align)`.
    unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"_dl_get_tls_static_info".as_ptr());
        if f.is_null() {
            return None;
        }
        let f: unsafe extern "C" fn(*mut usize, *mut usize) = std::mem::transmute(f);
        let (mut size, mut align) = (0, 0);
        f(&mut size, &mut align);
        Some((size, align))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let feature = if cfg!(feature = "tls-per-ult") {
        "tls-per-ult"
    } else {
        "default"
    };
    match args.get(1).map(String::as_str) {
        Some(m @ ("parked" | "parked-alloc")) => {
            let per = parked(n, m == "parked-alloc");
            println!("{m} n={n} ({feature}): {per:.0} bytes per parked ULT");
        }
        Some("churn") => churn(n),
        Some("layout") => match static_tls() {
            Some((size, align)) => println!("static TLS block: {size} bytes, aligned to {align}"),
            None => println!("this C library does not say"),
        },
        _ => eprintln!("usage: tls_memory parked|parked-alloc|churn|layout [N]"),
    }
}

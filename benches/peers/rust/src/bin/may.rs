//! The peers workloads on may: coroutines (`go!`), `may::sync`, `may::net`.
//! "workers" is `may::config().set_workers`. may has only unbounded
//! channels, so the bounded(1) ping-pong and the OS-thread ping-pong use
//! `may::sync::mpsc::channel` (the note of the JSON line says so), and the
//! rendezvous row is skipped.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::coroutine;
use may::go;
use may::sync::mpsc;
use weave_peers::{emit, per, quantile, rss, size, skip, Args, Hello};

const RUNTIME: &str = "may";

fn main() {
    let a = Args::parse(RUNTIME);
    // A panic on one of may's worker threads (e.g. "failed to alloc sys
    // stack" once its stacks' guard pages use up `vm.max_map_count`) leaves
    // the process waiting forever: end it, so the runner reports why.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::exit(101);
    }));
    may::config().set_workers(a.workers);
    match a.workload.as_str() {
        "spawn_join" => spawn_join(&a),
        "spawn_batch" => spawn_batch(&a),
        "yield" => yield_switch(&a),
        "pingpong_rendezvous" => skip(RUNTIME, &a, "may has no rendezvous channel"),
        "pingpong_bounded1" => pingpong(&a),
        "os_pingpong" => os_pingpong(&a),
        "mutex" => mutex(&a),
        "idle_memory" => idle_memory(&a),
        "wake_busy" => wake_busy(&a),
        "http" => http(&a),
        _ => unreachable!("Args::parse checks the workload"),
    }
}

/// Runs `f` in a coroutine and returns what it returns.
fn on_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    go!(f).join().unwrap()
}

fn spawn_round(n: usize) -> Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| go!(move || i)).collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed()
}

fn spawn_join(a: &Args) {
    let n = a.size(size::SPAWN.0, size::SPAWN.1);
    let (cold, warm) = on_runtime(move || (spawn_round(n), spawn_round(n)));
    let m = [("cold", per(cold, n)), ("warm", per(warm, n))];
    emit(
        RUNTIME,
        a,
        n,
        &m,
        "ns per coroutine; all n live, then joined",
    );
}

fn spawn_batch(a: &Args) {
    let batches = a.size(size::BATCHES.0, size::BATCHES.1);
    let d = on_runtime(move || {
        (0..batches)
            .map(|_| spawn_round(size::BATCH))
            .sum::<Duration>()
    });
    let n = batches * size::BATCH;
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per coroutine, batches of 1,000",
    );
}

fn yield_switch(a: &Args) {
    let per_co = a.size(size::YIELDS.0, size::YIELDS.1);
    let d = on_runtime(move || {
        let ready = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let ready = ready.clone();
                go!(move || {
                    ready.fetch_add(1, Ordering::SeqCst);
                    while ready.load(Ordering::SeqCst) < 2 {
                        coroutine::yield_now();
                    }
                    let t = Instant::now();
                    for _ in 0..per_co {
                        coroutine::yield_now();
                    }
                    t.elapsed()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).max().unwrap()
    });
    emit(
        RUNTIME,
        a,
        2 * per_co,
        &[("ns", per(d, 2 * per_co))],
        "ns per yield_now",
    );
}

/// `n` round trips through two of may's (unbounded) channels, the echo
/// side a coroutine; timed on the calling side.
fn trips(n: usize) -> Duration {
    let (to_b, from_a) = mpsc::channel::<usize>();
    let (to_a, from_b) = mpsc::channel::<usize>();
    let b = go!(move || {
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
    d
}

fn pingpong(a: &Args) {
    let n = a.size(size::TRIPS.0, size::TRIPS.1);
    let d = on_runtime(move || trips(n));
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per round trip, mpsc::channel (unbounded: may has no bounded channel)",
    );
}

fn os_pingpong(a: &Args) {
    let n = a.size(size::OS_TRIPS.0, size::OS_TRIPS.1);
    let d = trips(n);
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per round trip, mpsc::channel (unbounded)",
    );
}

fn mutex(a: &Args) {
    let per_co = a.size(size::MUTEX_PER.0, size::MUTEX_PER.1);
    let n = size::MUTEX_THREADS * per_co;
    let d = on_runtime(move || {
        let m = Arc::new(may::sync::Mutex::new(0u64));
        let go = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..size::MUTEX_THREADS)
            .map(|_| {
                let (m, go) = (m.clone(), go.clone());
                go!(move || {
                    while !go.load(Ordering::Acquire) {
                        coroutine::yield_now();
                    }
                    for _ in 0..per_co {
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
        d
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per lock, 1,000 coroutines, may::sync::Mutex",
    );
}

fn idle_memory(a: &Args) {
    let n = a.size(size::PARKED.0, size::PARKED.1);
    let bytes = on_runtime(move || {
        let before = rss();
        let gate = Arc::new(may::sync::Barrier::new(n + 1));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let gate = gate.clone();
                go!(move || {
                    gate.wait();
                })
            })
            .collect();
        coroutine::sleep(Duration::from_millis(200));
        let after = rss();
        gate.wait();
        for h in hs {
            h.join().unwrap();
        }
        after.saturating_sub(before) as f64 / n as f64
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("bytes", bytes)],
        "RSS growth per coroutine parked in Barrier::wait",
    );
}

fn wake_busy(a: &Args) {
    let wakes = a.size(size::WAKES.0, size::WAKES.1);
    let mut lat = on_runtime(move || {
        let (tx, rx) = mpsc::channel::<Instant>();
        let waiter = go!(move || {
            rx.iter()
                .map(|t0| t0.elapsed().as_nanos() as f64)
                .collect::<Vec<_>>()
        });
        let waker = go!(move || {
            for _ in 0..wakes {
                let t0 = Instant::now();
                tx.send(t0).unwrap();
                while t0.elapsed() < size::WAKER_BUSY {
                    std::hint::spin_loop();
                }
            }
        });
        waker.join().unwrap();
        waiter.join().unwrap()
    });
    let (p50, p90) = (quantile(&mut lat, 0.5), quantile(&mut lat, 0.9));
    emit(
        RUNTIME,
        a,
        wakes,
        &[("p50", p50), ("p90", p90)],
        "ns from send to the parked receiver running; the sender spins 100 us after each send",
    );
}

fn serve(mut s: may::net::TcpStream) {
    let _ = s.set_nodelay(true);
    let mut h = Hello::default();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                h.received(&buf[..n]);
                if !h.out.is_empty() && s.write_all(&h.out).is_err() {
                    return;
                }
            }
        }
    }
}

fn http(a: &Args) {
    weave_peers::raise_nofile();
    let port = a.port;
    on_runtime(move || {
        let l = may::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        weave_peers::listening(port);
        for s in l.incoming().flatten() {
            go!(move || serve(s));
        }
    })
}

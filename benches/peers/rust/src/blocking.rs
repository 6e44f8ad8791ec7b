// The workloads written against the `std::thread`/`std::sync`/`std::net`
// API, shared by the weave, std and may harnesses: weave mirrors that API,
// so weave's and std's differ only in their `use` lines (which is weave's
// promise to a porting user); may's maps its own names onto it in a few
// lines. Included by `src/bin/{weave,std,may}.rs`, each of which first
// defines `RUNTIME`, `IS_STD`, `CHANNEL` (what `sync_channel` is, for the
// notes), `HAS_RENDEZVOUS`, `fn setup(workers)`, `SHARED_CHANNEL`, `fn
// shared_channel()` (a channel whose receiving end many threads share:
// its sender, and a clonable call that receives until it is closed) and
// `fn idle_note()` (what the runtime says of its parked threads when
// `idle_long` reads the resident set, for the note), and brings `thread`, `sync` and `net` into scope.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave_peers::{emit, per, quantile, rss, size, Args, Hello};

fn main() {
    let a = Args::parse(RUNTIME);
    setup(a.workers);
    match a.workload.as_str() {
        "spawn_join" => spawn_join(&a),
        "spawn_batch" => spawn_batch(&a),
        "yield" => yield_switch(&a),
        "pingpong_rendezvous" if !HAS_RENDEZVOUS => {
            weave_peers::skip(RUNTIME, &a, "no rendezvous channel")
        }
        "pingpong_rendezvous" => pingpong(&a, 0),
        "pingpong_bounded1" => pingpong(&a, 1),
        "os_pingpong" => os_pingpong(&a),
        "mutex" => mutex(&a),
        "idle_memory" => idle_memory(&a),
        "idle_long" => idle_long(&a),
        "wake_busy" => wake_busy(&a),
        "sleepers" => sleepers(&a),
        "http" => http(&a),
        _ => unreachable!("Args::parse checks the workload"),
    }
}

/// Picks the size: the std harness's own where OS threads need one.
fn pick(a: &Args, all: (usize, usize), std_own: (usize, usize)) -> usize {
    let (full, quick) = if IS_STD { std_own } else { all };
    a.size(full, quick)
}

/// Runs `f` on a thread of the runtime (a ULT for weave, as Go's main is a
/// goroutine) and returns what it returns.
fn on_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::spawn(f).join().unwrap()
}

fn spawn_round(n: usize) -> Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed()
}

fn spawn_join(a: &Args) {
    let n = pick(a, size::SPAWN, size::SPAWN_STD);
    let (cold, warm) = on_runtime(move || (spawn_round(n), spawn_round(n)));
    let m = [("cold", per(cold, n)), ("warm", per(warm, n))];
    emit(RUNTIME, a, n, &m, "ns per thread; all n live, then joined");
}

fn spawn_batch(a: &Args) {
    let batches = pick(a, size::BATCHES, size::BATCHES_STD);
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
        "ns per thread, batches of 1,000",
    );
}

fn yield_switch(a: &Args) {
    let per_thread = pick(a, size::YIELDS, size::YIELDS_STD);
    let ready = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let ready = ready.clone();
            thread::spawn(move || {
                ready.fetch_add(1, Ordering::SeqCst);
                while ready.load(Ordering::SeqCst) < 2 {
                    thread::yield_now();
                }
                let t = Instant::now();
                for _ in 0..per_thread {
                    thread::yield_now();
                }
                t.elapsed()
            })
        })
        .collect();
    let d = hs.into_iter().map(|h| h.join().unwrap()).max().unwrap();
    // Both loops overlap: 2 × per_thread switches.
    emit(
        RUNTIME,
        a,
        2 * per_thread,
        &[("ns", per(d, 2 * per_thread))],
        "ns per yield",
    );
}

/// `n` round trips through two channels of `bound` (0: rendezvous), the
/// echo side spawned first; timed on the pinging side.
fn trips(n: usize, bound: usize) -> Duration {
    let (to_b, from_a) = sync::mpsc::sync_channel::<usize>(bound);
    let (to_a, from_b) = sync::mpsc::sync_channel::<usize>(bound);
    let b = thread::spawn(move || {
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

fn pingpong(a: &Args, bound: usize) {
    let n = pick(a, size::TRIPS, size::TRIPS_STD);
    let d = on_runtime(move || trips(n, bound));
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        &format!("ns per round trip, {CHANNEL}"),
    );
}

fn os_pingpong(a: &Args) {
    let n = pick(a, size::OS_TRIPS, size::OS_TRIPS);
    // The pinging side is this process's main OS thread.
    let d = trips(n, 0);
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        &format!("ns per round trip, {CHANNEL}"),
    );
}

fn mutex(a: &Args) {
    let per_thread = a.size(size::MUTEX_PER.0, size::MUTEX_PER.1);
    let n = size::MUTEX_THREADS * per_thread;
    let d = on_runtime(move || {
        let m = Arc::new(sync::Mutex::new(0u64));
        let go = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..size::MUTEX_THREADS)
            .map(|_| {
                let (m, go) = (m.clone(), go.clone());
                thread::spawn(move || {
                    while !go.load(Ordering::Acquire) {
                        thread::yield_now();
                    }
                    for _ in 0..per_thread {
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
        "ns per lock, 1,000 threads",
    );
}

/// Waits until `arrived` reaches `n`, then `settle` more: a thread counts
/// itself just before its wait, so this leaves none runnable on its way to
/// it. Without the count, the rows measured threads that had not run yet
/// (a weave ULT gets its stack at its first run): on a loaded machine only
/// a third to a half of them had reached the barrier after 200 ms.
fn all_parked(arrived: &AtomicUsize, n: usize, settle: Duration) {
    while arrived.load(Ordering::Acquire) < n {
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(settle);
}

fn idle_memory(a: &Args) {
    let n = pick(a, size::PARKED, size::PARKED_STD);
    let bytes = on_runtime(move || {
        let before = rss();
        let gate = Arc::new(sync::Barrier::new(n + 1));
        let arrived = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (gate, arrived) = (gate.clone(), arrived.clone());
                thread::spawn(move || {
                    arrived.fetch_add(1, Ordering::Release);
                    gate.wait();
                })
            })
            .collect();
        all_parked(&arrived, n, size::SETTLE);
        let after = rss();
        gate.wait();
        for h in hs {
            h.join().unwrap();
        }
        (after.saturating_sub(before)) as f64 / n as f64
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("bytes", bytes)],
        "RSS growth per thread parked in Barrier::wait",
    );
}

/// `idle_memory` for a long wait: every thread parks on a receive from
/// one channel (`shared_channel`, each binary's), and the resident set is
/// read `size::LONG_IDLE` after the last one got there (past weave's
/// default compaction threshold, 10 s; nothing is set in the environment:
/// the row shows each runtime's defaults). Dropping the sender then ends
/// every receive.
fn idle_long(a: &Args) {
    let n = pick(a, size::PARKED, size::PARKED_STD);
    let bytes = on_runtime(move || {
        let before = rss();
        let arrived = Arc::new(AtomicUsize::new(0));
        let (tx, wait_closed) = shared_channel();
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (wait_closed, arrived) = (wait_closed.clone(), arrived.clone());
                thread::spawn(move || {
                    arrived.fetch_add(1, Ordering::Release);
                    wait_closed();
                })
            })
            .collect();
        all_parked(&arrived, n, size::LONG_IDLE);
        let after = rss();
        let at_read = idle_note();
        drop(tx);
        for h in hs {
            h.join().unwrap();
        }
        ((after.saturating_sub(before)) as f64 / n as f64, at_read)
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("bytes", bytes.0)],
        &format!(
            "RSS growth per thread parked 12 s in a receive on one {SHARED_CHANNEL}{}",
            bytes.1
        ),
    );
}

fn sleepers(a: &Args) {
    let n = pick(a, size::SLEEPERS, size::SLEEPERS_STD);
    let wall = on_runtime(move || {
        let gate = Arc::new(sync::Barrier::new(n + 1));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let gate = gate.clone();
                thread::spawn(move || {
                    gate.wait();
                    for _ in 0..size::SLEEPS {
                        thread::sleep(size::NAP);
                    }
                })
            })
            .collect();
        gate.wait();
        let t = Instant::now();
        for h in hs {
            h.join().unwrap();
        }
        t.elapsed()
    });
    let ideal = size::NAP * size::SLEEPS;
    emit(
        RUNTIME,
        a,
        n,
        &[("x_ideal", wall.as_secs_f64() / ideal.as_secs_f64())],
        "wall time from the common start to the last of n threads done, each sleeping 10 x 1 ms, \
         over the ideal 10 ms",
    );
}

fn wake_busy(a: &Args) {
    let wakes = a.size(size::WAKES.0, size::WAKES.1);
    let mut lat = on_runtime(move || {
        let (tx, rx) = sync::mpsc::sync_channel::<Instant>(1);
        let waiter = thread::spawn(move || {
            rx.iter()
                .map(|t0| t0.elapsed().as_nanos() as f64)
                .collect::<Vec<_>>()
        });
        let waker = thread::spawn(move || {
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

fn serve(mut s: net::TcpStream) {
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
    let l = net::TcpListener::bind(("127.0.0.1", a.port)).expect("bind");
    weave_peers::listening(a.port);
    let accept = thread::spawn(move || {
        for s in l.incoming().flatten() {
            spawn_connection(move || serve(s));
        }
    });
    accept.join().unwrap();
}

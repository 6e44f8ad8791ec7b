// The peers workloads on tokio: tasks, `tokio::sync`, `tokio::net`.
// Included by `src/bin/tokio-ct.rs` (the current-thread runtime: one
// worker, the thread that calls `block_on`) and `src/bin/tokio-mt.rs`
// (the multi-thread runtime, "workers" worker threads), each of which
// first defines `RUNTIME` and `CURRENT_THREAD`. Every workload body runs
// in a spawned task, so that on the multi-thread runtime it runs on a
// worker, as weave's runs on a ULT.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use weave_peers::{emit, per, quantile, rss, size, skip, Args, Hello};

fn main() {
    let a = Args::parse(RUNTIME);
    if CURRENT_THREAD && a.workers != 1 {
        return skip(RUNTIME, &a, "the current-thread runtime has one worker");
    }
    let rt = if CURRENT_THREAD {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(a.workers);
        b
    }
    .enable_all()
    .build()
    .expect("tokio runtime");
    match a.workload.as_str() {
        "spawn_join" => spawn_join(&rt, &a),
        "spawn_batch" => spawn_batch(&rt, &a),
        "yield" => yield_switch(&rt, &a),
        "pingpong_rendezvous" => skip(
            RUNTIME,
            &a,
            "tokio::sync::mpsc has no rendezvous channel (capacity >= 1)",
        ),
        "pingpong_bounded1" => pingpong(&rt, &a),
        "os_pingpong" => os_pingpong(&rt, &a),
        "mutex" => mutex(&rt, &a),
        "idle_memory" => idle_memory(&rt, &a),
        "idle_long" => idle_long(&rt, &a),
        "wake_busy" => wake_busy(&rt, &a),
        "sleepers" => sleepers(&rt, &a),
        "http" => http(&rt, &a),
        _ => unreachable!("Args::parse checks the workload"),
    }
}

fn on_runtime<T: Send + 'static>(rt: &Runtime, f: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(async { tokio::spawn(f).await.unwrap() })
}

async fn spawn_round(n: usize) -> Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
    for h in hs {
        h.await.unwrap();
    }
    t.elapsed()
}

fn spawn_join(rt: &Runtime, a: &Args) {
    let n = a.size(size::SPAWN.0, size::SPAWN.1);
    let (cold, warm) = on_runtime(
        rt,
        async move { (spawn_round(n).await, spawn_round(n).await) },
    );
    let m = [("cold", per(cold, n)), ("warm", per(warm, n))];
    emit(RUNTIME, a, n, &m, "ns per task; all n live, then joined");
}

fn spawn_batch(rt: &Runtime, a: &Args) {
    let batches = a.size(size::BATCHES.0, size::BATCHES.1);
    let d = on_runtime(rt, async move {
        let mut d = Duration::ZERO;
        for _ in 0..batches {
            d += spawn_round(size::BATCH).await;
        }
        d
    });
    let n = batches * size::BATCH;
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per task, batches of 1,000",
    );
}

fn yield_switch(rt: &Runtime, a: &Args) {
    let per_task = a.size(size::YIELDS.0, size::YIELDS.1);
    let d = on_runtime(rt, async move {
        let ready = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let ready = ready.clone();
                tokio::spawn(async move {
                    ready.fetch_add(1, Ordering::SeqCst);
                    while ready.load(Ordering::SeqCst) < 2 {
                        tokio::task::yield_now().await;
                    }
                    let t = Instant::now();
                    for _ in 0..per_task {
                        tokio::task::yield_now().await;
                    }
                    t.elapsed()
                })
            })
            .collect();
        let mut d = Duration::ZERO;
        for h in hs {
            d = d.max(h.await.unwrap());
        }
        d
    });
    emit(
        RUNTIME,
        a,
        2 * per_task,
        &[("ns", per(d, 2 * per_task))],
        "ns per yield_now",
    );
}

/// The echo side of a ping-pong, spawned as a task.
fn echo(
    mut from_a: mpsc::Receiver<usize>,
    to_a: mpsc::Sender<usize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(v) = from_a.recv().await {
            if to_a.send(v + 1).await.is_err() {
                break;
            }
        }
    })
}

fn pingpong(rt: &Runtime, a: &Args) {
    let n = a.size(size::TRIPS.0, size::TRIPS.1);
    let d = on_runtime(rt, async move {
        let (to_b, from_a) = mpsc::channel::<usize>(1);
        let (to_a, mut from_b) = mpsc::channel::<usize>(1);
        let b = echo(from_a, to_a);
        to_b.send(0).await.unwrap();
        from_b.recv().await.unwrap();
        let t = Instant::now();
        for i in 0..n {
            to_b.send(i).await.unwrap();
            assert_eq!(from_b.recv().await.unwrap(), i + 1);
        }
        let d = t.elapsed();
        drop(to_b);
        b.await.unwrap();
        d
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per round trip, mpsc::channel(1)",
    );
}

fn os_pingpong(rt: &Runtime, a: &Args) {
    if CURRENT_THREAD {
        // Its only worker is the thread that would ping.
        return skip(
            RUNTIME,
            a,
            "the current-thread runtime runs only inside block_on",
        );
    }
    let n = a.size(size::OS_TRIPS.0, size::OS_TRIPS.1);
    let (to_b, from_a) = mpsc::channel::<usize>(1);
    let (to_a, mut from_b) = mpsc::channel::<usize>(1);
    let b = {
        let _in = rt.enter();
        echo(from_a, to_a)
    };
    to_b.blocking_send(0).unwrap();
    from_b.blocking_recv().unwrap();
    let t = Instant::now();
    for i in 0..n {
        to_b.blocking_send(i).unwrap();
        assert_eq!(from_b.blocking_recv().unwrap(), i + 1);
    }
    let d = t.elapsed();
    drop(to_b);
    rt.block_on(b).unwrap();
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per round trip, mpsc::channel(1), blocking_send/blocking_recv on the OS thread",
    );
}

fn mutex(rt: &Runtime, a: &Args) {
    let per_task = a.size(size::MUTEX_PER.0, size::MUTEX_PER.1);
    let n = size::MUTEX_THREADS * per_task;
    let d = on_runtime(rt, async move {
        let m = Arc::new(tokio::sync::Mutex::new(0u64));
        let go = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..size::MUTEX_THREADS)
            .map(|_| {
                let (m, go) = (m.clone(), go.clone());
                tokio::spawn(async move {
                    while !go.load(Ordering::Acquire) {
                        tokio::task::yield_now().await;
                    }
                    for _ in 0..per_task {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        let t = Instant::now();
        go.store(true, Ordering::Release);
        for h in hs {
            h.await.unwrap();
        }
        let d = t.elapsed();
        assert_eq!(*m.lock().await, n as u64);
        d
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("ns", per(d, n))],
        "ns per lock, 1,000 tasks, tokio::sync::Mutex",
    );
}

/// Waits until `arrived` reaches `n`, then `settle` more (as in
/// `blocking.rs`: a task counts itself just before its wait).
async fn all_parked(arrived: &AtomicUsize, n: usize, settle: Duration) {
    while arrived.load(Ordering::Acquire) < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(settle).await;
}

fn idle_memory(rt: &Runtime, a: &Args) {
    let n = a.size(size::PARKED.0, size::PARKED.1);
    let bytes = on_runtime(rt, async move {
        let before = rss();
        let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
        let arrived = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (gate, arrived) = (gate.clone(), arrived.clone());
                tokio::spawn(async move {
                    arrived.fetch_add(1, Ordering::Release);
                    gate.wait().await;
                })
            })
            .collect();
        all_parked(&arrived, n, size::SETTLE).await;
        let after = rss();
        gate.wait().await;
        for h in hs {
            h.await.unwrap();
        }
        after.saturating_sub(before) as f64 / n as f64
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("bytes", bytes)],
        "RSS growth per task parked in Barrier::wait",
    );
}

/// `idle_memory` for a long wait (`blocking.rs`'s `idle_long`): tokio's
/// mpsc receiver is not clonable, so one `watch` channel, a receiver
/// each, waiting for a change that comes only as the sender is dropped.
fn idle_long(rt: &Runtime, a: &Args) {
    let n = a.size(size::PARKED.0, size::PARKED.1);
    let bytes = on_runtime(rt, async move {
        let before = rss();
        let arrived = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::watch::channel(());
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (mut rx, arrived) = (rx.clone(), arrived.clone());
                tokio::spawn(async move {
                    arrived.fetch_add(1, Ordering::Release);
                    assert!(rx.changed().await.is_err(), "nothing is sent");
                })
            })
            .collect();
        all_parked(&arrived, n, size::LONG_IDLE).await;
        let after = rss();
        drop(tx);
        for h in hs {
            h.await.unwrap();
        }
        after.saturating_sub(before) as f64 / n as f64
    });
    emit(
        RUNTIME,
        a,
        n,
        &[("bytes", bytes)],
        "RSS growth per task parked 12 s in a receive on one watch channel",
    );
}

fn sleepers(rt: &Runtime, a: &Args) {
    let n = a.size(size::SLEEPERS.0, size::SLEEPERS.1);
    let wall = on_runtime(rt, async move {
        let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move {
                    gate.wait().await;
                    for _ in 0..size::SLEEPS {
                        tokio::time::sleep(size::NAP).await;
                    }
                })
            })
            .collect();
        gate.wait().await;
        let t = Instant::now();
        for h in hs {
            h.await.unwrap();
        }
        t.elapsed()
    });
    let ideal = size::NAP * size::SLEEPS;
    emit(
        RUNTIME,
        a,
        n,
        &[("x_ideal", wall.as_secs_f64() / ideal.as_secs_f64())],
        "wall time from the common start to the last of n tasks done, each sleeping 10 x 1 ms \
         (tokio::time::sleep), over the ideal 10 ms",
    );
}

fn wake_busy(rt: &Runtime, a: &Args) {
    let wakes = a.size(size::WAKES.0, size::WAKES.1);
    let mut lat = on_runtime(rt, async move {
        let (tx, mut rx) = mpsc::channel::<Instant>(1);
        let waiter = tokio::spawn(async move {
            let mut v = Vec::new();
            while let Some(t0) = rx.recv().await {
                v.push(t0.elapsed().as_nanos() as f64);
            }
            v
        });
        let waker = tokio::spawn(async move {
            for _ in 0..wakes {
                let t0 = Instant::now();
                tx.send(t0).await.unwrap();
                while t0.elapsed() < size::WAKER_BUSY {
                    std::hint::spin_loop();
                }
            }
        });
        waker.await.unwrap();
        waiter.await.unwrap()
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

async fn serve(mut s: tokio::net::TcpStream) {
    let _ = s.set_nodelay(true);
    let mut h = Hello::default();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                h.received(&buf[..n]);
                if !h.out.is_empty() && s.write_all(&h.out).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn http(rt: &Runtime, a: &Args) {
    weave_peers::raise_nofile();
    let port = a.port;
    on_runtime(rt, async move {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        weave_peers::listening(port);
        loop {
            if let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve(s));
            }
        }
    })
}

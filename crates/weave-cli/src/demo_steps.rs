//! The steps of `weave demo` that answer the seed notes' own questions,
//! and the trace the tour records of itself:
//!
//! - step 9, "how does aiohttp work with await?": 1,000 connections served
//!   by plain blocking code on 2 LWPs, with the reactor's wake-ups, the
//!   read and write system calls, and the LWPs' sleeps in the kernel
//!   counted (none blocked in a socket call);
//! - step 10, "pop-up threads versus a pre-created pool": the same
//!   requests served by a thread spawned per request and by a fixed pool,
//!   on weave and on std, with the time per request;
//! - [`SelfTrace`]: the whole tour recorded (`weave::trace::record`), then
//!   written as the HTML timeline of `weave trace view`.
//!
//! Beside `demo.rs` (whose helpers for headings and figures it uses), with
//! the same rules: only figures measured in this run, the runtime left as
//! it was found (hook removed, concurrency back to automatic) on every
//! path, a few seconds at most.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use weave::net::{TcpListener, TcpStream};
use weave::sync::mpmc;
use weave::thread;
use weave::trace::{self, Event};

use crate::demo_text::{fmt_duration, group, heading, para};

// ---------------------------------------------------------------------------
// Step 9: how does aiohttp work with await?

/// Connections open at once in step 9.
const CONNECTIONS: usize = 1_000;

/// Requests each connection makes, one after the other.
const REQUESTS: usize = 3;

static IO_READY: AtomicU64 = AtomicU64::new(0);
/// LWPs the monitor found asleep in a system call while work waited.
static KERNEL_BLOCKED: AtomicU64 = AtomicU64::new(0);
/// LWPs it found asleep in a page fault instead (first touches of fresh
/// stacks while another thread maps memory: on a loaded machine the holder
/// of the address space's lock can be descheduled for milliseconds), which
/// is no call the step's code made.
static FAULT_BLOCKED: AtomicU64 = AtomicU64::new(0);
/// `read` and `write` calls the step's code made on its sockets: each is
/// one `recv` or `send` system call when the socket is ready; one that
/// finds it not ready parks the ULT and makes one more after the wake-up.
static READS: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);

fn count_io(e: &Event) {
    match e {
        Event::IoReady { .. } => {
            IO_READY.fetch_add(1, Relaxed);
        }
        Event::KernelBlocked { fault: false, .. } => {
            KERNEL_BLOCKED.fetch_add(1, Relaxed);
        }
        Event::KernelBlocked { fault: true, .. } => {
            FAULT_BLOCKED.fetch_add(1, Relaxed);
        }
        _ => {}
    }
}

/// Times the kernel put LWP thread `tid` to sleep so far (its voluntary
/// context switches).
fn sleeps_of(tid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Reads one `\n`-ended line from `s` into `buf` (cleared first); false
/// at end of stream.
fn read_line(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut b = [0u8; 64];
    loop {
        READS.fetch_add(1, Relaxed);
        let n = s.read(&mut b)?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&b[..n]);
        if buf.ends_with(b"\n") {
            return Ok(true);
        }
    }
}

/// One connection's handler: plain blocking reads and writes, as a
/// thread-per-connection server is written.
fn serve(mut s: TcpStream) -> std::io::Result<()> {
    let mut line = Vec::new();
    while read_line(&mut s, &mut line)? {
        let mut reply = b"200 ".to_vec();
        reply.extend_from_slice(&line);
        write_all(&mut s, &reply)?;
    }
    Ok(())
}

/// `write_all`, counting each `write` call.
fn write_all(s: &mut TcpStream, mut b: &[u8]) -> std::io::Result<()> {
    while !b.is_empty() {
        WRITES.fetch_add(1, Relaxed);
        let n = s.write(b)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        b = &b[n..];
    }
    Ok(())
}

/// One client: connects, waits until every client is connected, then
/// makes its requests one after the other.
fn client(
    addr: std::net::SocketAddr,
    all_in: Arc<weave::sync::Barrier>,
    k: usize,
) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    all_in.wait();
    let mut line = Vec::new();
    for r in 0..REQUESTS {
        write_all(&mut s, format!("GET /{k}/{r}\n").as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        if !read_line(&mut s, &mut line).map_err(|e| format!("read: {e}"))? {
            return Err("the server closed the connection".into());
        }
        if !line.starts_with(b"200 GET") {
            return Err(format!("bad reply {:?}", String::from_utf8_lossy(&line)));
        }
    }
    Ok(())
}

pub(crate) fn aiohttp() -> Result<(), String> {
    heading(
        9,
        "How does aiohttp work with await? Blocking code on 2 LWPs",
    );
    para(
        "aiohttp writes `await reader.read()` so that one kernel thread can serve many \
         connections: the event loop parks the coroutine and runs another until the \
         socket is ready. weave does the same under code written the plain blocking \
         way: `stream.read(&mut buf)` on a ULT tries the socket, and if nothing is \
         there, blocks only the ULT; the LWP runs others, and the reactor (epoll) \
         wakes the ULT when the socket is ready. Here 1,000 connections, each served \
         by a ULT running a loop of `read` and `write_all`, and 1,000 clients making \
         3 requests each, all on a pool of 2 LWPs:",
    );
    weave::set_concurrency(2).map_err(|e| e.to_string())?;
    let r = serve_many();
    trace::set_hook(None);
    weave::set_concurrency(0).map_err(|e| e.to_string())?;
    let f = r?;
    println!(
        "  {} connections, {} requests served in {} on {} LWPs",
        group(CONNECTIONS as u64),
        group((CONNECTIONS * REQUESTS) as u64),
        fmt_duration(f.took),
        f.lwps
    );
    println!(
        "  the reactor woke a waiting ULT {} times ({:.1} per request)",
        group(f.wakeups),
        f.wakeups as f64 / (CONNECTIONS * REQUESTS) as f64
    );
    println!(
        "  socket calls the code made: {} reads, {} writes; each one system call,",
        group(f.reads),
        group(f.writes)
    );
    println!(
        "    plus one retry after each wake-up: about {} for {} requests",
        group(f.reads + f.writes + f.wakeups),
        group((CONNECTIONS * REQUESTS) as u64)
    );
    println!(
        "  LWPs the monitor saw blocked in a system call: {}; pool size throughout: {}",
        f.kernel_blocked, f.lwps
    );
    if f.fault_blocked > 0 {
        println!(
            "  (and {} asleep in a page fault, a fresh stack page, which no code here asked for)",
            f.fault_blocked
        );
    }
    println!(
        "  the LWPs' sleeps in the kernel: {} (idle, in epoll, with nothing to run)",
        group(f.lwp_sleeps)
    );
    para(
        "No LWP ever blocked in a socket call: every socket is non-blocking underneath, \
         a read that would block parks the ULT instead, and an LWP sleeps in the \
         kernel only when it has nothing at all to run. That is what await does in \
         aiohttp, without the await.",
    );
    Ok(())
}

struct Served {
    took: Duration,
    lwps: usize,
    wakeups: u64,
    reads: u64,
    writes: u64,
    kernel_blocked: u64,
    fault_blocked: u64,
    lwp_sleeps: u64,
}

fn serve_many() -> Result<Served, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let tids: Vec<i32> = weave::lwps()
        .iter()
        .filter(|l| l.alive)
        .map(|l| l.tid)
        .collect();
    let sleeps0: u64 = tids.iter().map(|&t| sleeps_of(t)).sum();
    for c in [&IO_READY, &KERNEL_BLOCKED, &FAULT_BLOCKED, &READS, &WRITES] {
        c.store(0, Relaxed);
    }
    trace::set_hook(Some(count_io));
    let t0 = Instant::now();
    let acceptor = thread::spawn(move || -> Result<(), String> {
        let mut handlers = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (s, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            handlers.push(thread::spawn(move || serve(s)));
        }
        for h in handlers {
            h.join()
                .map_err(|_| "a handler panicked".to_string())?
                .map_err(|e| format!("a handler failed: {e}"))?;
        }
        Ok(())
    });
    let all_in = Arc::new(weave::sync::Barrier::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|k| {
            let all_in = all_in.clone();
            thread::spawn(move || client(addr, all_in, k))
        })
        .collect();
    for c in clients {
        c.join().map_err(|_| "a client panicked".to_string())??;
    }
    acceptor
        .join()
        .map_err(|_| "the acceptor panicked".to_string())??;
    let took = t0.elapsed();
    trace::set_hook(None);
    let lwps = weave::lwps().iter().filter(|l| l.alive).count();
    let sleeps1: u64 = tids.iter().map(|&t| sleeps_of(t)).sum();
    Ok(Served {
        took,
        lwps,
        wakeups: IO_READY.load(Relaxed),
        reads: READS.load(Relaxed),
        writes: WRITES.load(Relaxed),
        kernel_blocked: KERNEL_BLOCKED.load(Relaxed),
        fault_blocked: FAULT_BLOCKED.load(Relaxed),
        lwp_sleeps: sleeps1.saturating_sub(sleeps0),
    })
}

// ---------------------------------------------------------------------------
// Step 10: pop-up threads versus a pre-created pool

/// Requests of each weave run and of std's pool; std's pop-up run makes
/// fewer (each costs a kernel thread's creation).
const POPUP_REQUESTS: usize = 20_000;
const STD_POPUP_REQUESTS: usize = 2_000;

/// Workers of each pool.
const POOL: usize = 4;

/// A request's work: about a microsecond of arithmetic.
fn handle(req: u64) -> u64 {
    let mut x = req | 1;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

pub(crate) fn popup_vs_pool() -> Result<(), String> {
    heading(10, "Pop-up threads versus a pre-created pool");
    para(
        "A server can start a thread per request (a pop-up thread, which lives as \
         long as its request) or hand requests to a pool of threads created in \
         advance. With kernel threads the pool wins, because creating one costs \
         tens of microseconds; with ULTs a spawn costs a few hundred nanoseconds, \
         near a hand-off through a queue, so the simpler model costs about what the \
         pool costs (within a small factor, where kernel threads pay tens of times \
         more). The same requests, each about a microsecond of work, served both ways:",
    );
    let weave_popup = weave_popup(POPUP_REQUESTS)?;
    let weave_pool = weave_pool(POPUP_REQUESTS)?;
    let std_popup = std_popup(STD_POPUP_REQUESTS)?;
    let std_pool = std_pool(POPUP_REQUESTS)?;
    println!(
        "  {:<8} {:>22} {:>22}",
        "", "pop-up (spawn each)", "pool of 4 (channel)"
    );
    println!(
        "  {:<8} {:>22} {:>22}",
        "weave",
        format!("{}/request", fmt_duration(weave_popup)),
        format!("{}/request", fmt_duration(weave_pool))
    );
    println!(
        "  {:<8} {:>22} {:>22}",
        "std",
        format!("{}/request", fmt_duration(std_popup)),
        format!("{}/request", fmt_duration(std_pool))
    );
    println!(
        "  pop-up / pool: weave {:.1}x, std {:.1}x ({} requests each; std pop-up {})",
        weave_popup.as_secs_f64() / weave_pool.as_secs_f64(),
        std_popup.as_secs_f64() / std_pool.as_secs_f64(),
        group(POPUP_REQUESTS as u64),
        group(STD_POPUP_REQUESTS as u64)
    );
    Ok(())
}

fn per(d: Duration, n: usize) -> Duration {
    d / n as u32
}

/// weave: the dispatcher (a ULT) spawns a ULT per request, which replies
/// on a channel.
fn weave_popup(n: usize) -> Result<Duration, String> {
    thread::spawn(move || {
        let (tx, rx) = mpmc::unbounded::<u64>();
        let t = Instant::now();
        for r in 0..n as u64 {
            let tx = tx.clone();
            thread::spawn(move || tx.send(handle(r)));
        }
        drop(tx);
        let got = rx.iter().count();
        (got == n)
            .then(|| per(t.elapsed(), n))
            .ok_or_else(|| format!("weave pop-up: {got} replies of {n}"))
    })
    .join()
    .map_err(|_| "the weave pop-up run panicked".to_string())?
}

/// weave: the dispatcher hands requests to 4 worker ULTs through a
/// channel; they reply on another.
fn weave_pool(n: usize) -> Result<Duration, String> {
    thread::spawn(move || {
        let (req_tx, req_rx) = mpmc::bounded::<u64>(256);
        let (rep_tx, rep_rx) = mpmc::unbounded::<u64>();
        let workers: Vec<_> = (0..POOL)
            .map(|_| {
                let (rx, tx) = (req_rx.clone(), rep_tx.clone());
                thread::spawn(move || {
                    for r in rx.iter() {
                        let _ = tx.send(handle(r));
                    }
                })
            })
            .collect();
        drop((req_rx, rep_tx));
        let t = Instant::now();
        let feeder = thread::spawn(move || {
            for r in 0..n as u64 {
                let _ = req_tx.send(r);
            }
        });
        let got = rep_rx.iter().take(n).count();
        let d = per(t.elapsed(), n);
        let _ = feeder.join();
        for w in workers {
            let _ = w.join();
        }
        (got == n)
            .then_some(d)
            .ok_or_else(|| format!("weave pool: {got} replies of {n}"))
    })
    .join()
    .map_err(|_| "the weave pool run panicked".to_string())?
}

/// std: a kernel thread per request.
fn std_popup(n: usize) -> Result<Duration, String> {
    let (tx, rx) = mpsc::channel::<u64>();
    let t = Instant::now();
    for r in 0..n as u64 {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send(handle(r)));
    }
    drop(tx);
    let got = rx.iter().count();
    (got == n)
        .then(|| per(t.elapsed(), n))
        .ok_or_else(|| format!("std pop-up: {got} replies of {n}"))
}

/// std: 4 kernel threads take requests from a shared receiver.
fn std_pool(n: usize) -> Result<Duration, String> {
    let (req_tx, req_rx) = mpsc::sync_channel::<u64>(256);
    let req_rx = Arc::new(Mutex::new(req_rx));
    let (rep_tx, rep_rx) = mpsc::channel::<u64>();
    let workers: Vec<_> = (0..POOL)
        .map(|_| {
            let (rx, tx) = (req_rx.clone(), rep_tx.clone());
            std::thread::spawn(move || loop {
                let r = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                match r {
                    Ok(r) => {
                        let _ = tx.send(handle(r));
                    }
                    Err(_) => break,
                }
            })
        })
        .collect();
    drop(rep_tx);
    let t = Instant::now();
    let feeder = std::thread::spawn(move || {
        for r in 0..n as u64 {
            let _ = req_tx.send(r);
        }
    });
    let got = rep_rx.iter().take(n).count();
    let d = per(t.elapsed(), n);
    let _ = feeder.join();
    for w in workers {
        let _ = w.join();
    }
    (got == n)
        .then_some(d)
        .ok_or_else(|| format!("std pool: {got} replies of {n}"))
}

// ---------------------------------------------------------------------------
// The trace of the tour

/// Removes the trace and timeline files (`weave-demo-PID.trace`, `.html`,
/// ~20 MB a tour) that earlier tours left in `dir`, once the process that
/// wrote them has ended: each run leaves only its own, and a tour running
/// at the same time keeps its files.
fn remove_finished_tours(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("weave-demo-"))
            .and_then(|n| n.strip_suffix(".trace").or_else(|| n.strip_suffix(".html")))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Events each thread's ring holds: the tour's bursts (10,000 spawns in
/// step 1, 1,000 connections in step 9) fit in the default 256 Ki (4 MiB of
/// addresses a thread) between two drains.
const RING: usize = weave::trace::DEFAULT_RING;

/// The recording of the tour, from its first step to its last.
pub(crate) struct SelfTrace {
    path: PathBuf,
}

impl SelfTrace {
    /// Starts recording the tour into the temporary directory. `None` (and
    /// a line saying why) if it cannot: the tour goes on without.
    pub(crate) fn start() -> Option<SelfTrace> {
        remove_finished_tours(&std::env::temp_dir());
        let path = std::env::temp_dir().join(format!("weave-demo-{}.trace", std::process::id()));
        match trace::record_with(&path, RING) {
            Ok(()) => Some(SelfTrace { path }),
            Err(e) => {
                println!("(not recording a trace of this tour: {e})");
                None
            }
        }
    }

    /// Ends the recording and writes its HTML timeline beside it.
    pub(crate) fn finish(self) -> Result<(), String> {
        trace::stop()
            .map_err(|e| format!("the tour's trace could not be finished: {e}"))?
            .ok_or("the tour's trace was stopped by someone else")?;
        let html = self.path.with_extension("html");
        let summary = crate::trace::write(&self.path, &html, true)?;
        println!();
        println!(
            "This tour recorded a trace of itself: {}",
            self.path.display()
        );
        println!("  its timeline ({summary}):");
        println!("  {}", html.display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::remove_finished_tours;

    #[test]
    fn an_ended_tours_files_are_removed_and_a_running_ones_kept() {
        let dir = std::env::temp_dir().join(format!("weave-demo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // No process has pid 0x7fff_fff0 (above the kernel's pid_max).
        let ended = ["weave-demo-2147483632.trace", "weave-demo-2147483632.html"];
        let running = format!("weave-demo-{}.trace", std::process::id());
        let other = "weave-demo-notes.txt";
        for f in ended.iter().copied().chain([running.as_str(), other]) {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        remove_finished_tours(&dir);
        for f in ended {
            assert!(!dir.join(f).exists(), "{f} should be gone");
        }
        assert!(dir.join(&running).exists());
        assert!(dir.join(other).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

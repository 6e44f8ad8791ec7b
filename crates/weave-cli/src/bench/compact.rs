//! `idle_compact`: what a thread parked on a socket read keeps once weave
//! has compacted its stack (`WEAVE_COMPACT`, docs/design/compaction.md),
//! and what its first resume then costs.
//!
//! N ULTs each wait in `UdpSocket::recv`. The process may hold 20,000 fds
//! at most here, so they share sockets: `PROBES` of them own one each (for
//! the resume figures), the rest share `SHARED` sockets. The child runs
//! with `WEAVE_COMPACT` and `WEAVE_TRIM` at 300 ms, waits until every ULT
//! is compacted, and reads the resident set. Then it wakes the probes one
//! by one with a datagram each (the median time from the send to the
//! reader running), twice: the first round restores their stacks (first
//! resume after compaction), the second finds them as they are (a resume
//! like any other). The std child parks OS threads (16 KiB stacks) in
//! `recv` on sockets of their own and wakes some the same way.
//!
//! The sockets are made before the baseline resident set is read: the
//! figures are per thread, not per socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::thread as wt;

use super::common::{in_child, rss, Measurement, Opts};

/// Threads that own a socket each, woken to time a resume.
const PROBES: usize = 1_000;

/// Sockets the other threads share.
const SHARED: usize = 6_000;

/// The compaction threshold and trim period the weave child runs with.
const AFTER: &str = "300ms";

/// Stack of the std threads (as `idle_memory`).
const STD_STACK: usize = 16 * 1024;

pub(super) fn idle_compact(o: &Opts) -> Result<Measurement, String> {
    if let Err(why) = weave::stack::compaction_support() {
        return Err(format!("idle_compact: compaction is off here: {why}"));
    }
    let n = if o.quick { 20_000 } else { 100_000 };
    let sn = if o.quick { 2_000 } else { 5_000 };
    let w = in_child(&["compact-weave", &n.to_string()])?;
    let s = in_child(&["compact-std", &sn.to_string()])?;
    Ok(Measurement {
        name: "idle_compact",
        unit: "bytes",
        weave: w[0],
        baseline: Some(s[0]),
        n,
        note: Some(format!(
            "{n} ULTs parked in UdpSocket::recv, all compacted after {:.2} s \
             (WEAVE_COMPACT={AFTER}); {:.0} B/thread before; live stack kept {:.0} B/thread; \
             first resume after compaction {:.0} ns, the next {:.0} ns (median from a datagram's \
             send to its reader running, {PROBES} readers woken one by one), of which the \
             restore {:.0} ns; std: {sn} OS threads at 16 KiB stacks, resume {:.0} ns",
            w[5], w[1], w[4], w[2], w[3], w[6], s[1]
        )),
        extra: vec![
            ("before_compact_bytes", w[1]),
            ("first_resume_ns", w[2]),
            ("next_resume_ns", w[3]),
            ("restore_ns", w[6]),
            ("kept_stack_bytes", w[4]),
            ("seconds_to_compact", w[5]),
            ("std_resume_ns", s[1]),
        ],
    })
}

/// Child side: prints `RESULT <after> <before> <first resume ns> <next
/// resume ns> <kept bytes> <seconds> <restore ns>` (weave) or `RESULT <bytes> <resume
/// ns>` (std).
pub(super) fn child(lib: &str, n: usize) -> Result<(), String> {
    match lib {
        "compact-weave" => weave_child(n),
        "compact-std" => std_child(n),
        other => Err(format!("bench --child: no library '{other}'")),
    }
}

fn weave_child(n: usize) -> Result<(), String> {
    // Read once, when the runtime starts: set before it does.
    std::env::set_var("WEAVE_COMPACT", AFTER);
    std::env::set_var("WEAVE_TRIM", AFTER);
    wt::spawn(|| ())
        .join()
        .map_err(|_| "the first ULT panicked")?;
    let probes = PROBES.min(n);
    let shared = SHARED.min(n - probes).max(1);
    let (socks, addrs, client) = sockets(probes + shared, |a| {
        weave::net::UdpSocket::bind(a).map(Arc::new)
    })?;
    let base = rss()?;
    let compactions0 = weave::stack_stats().compactions;
    let got = Arc::new(AtomicUsize::new(0));
    // ULT i < probes reads socket i; the others share the rest.
    let sock_of = |i: usize| {
        if i < probes {
            i
        } else {
            probes + (i - probes) % shared
        }
    };
    let hs: Vec<_> = (0..n)
        .map(|i| {
            let (s, g) = (socks[sock_of(i)].clone(), got.clone());
            wt::spawn(move || read_until_quit(|b| s.recv(b), &g))
        })
        .collect();
    drop(socks);
    wait(|| parked_in_net() >= n)?;
    let parked = Instant::now();
    let before = rss()?.saturating_sub(base) as f64 / n as f64;
    wait(|| weave::stack_stats().compacted >= n)?;
    let secs = parked.elapsed().as_secs_f64();
    let after = rss()?.saturating_sub(base) as f64 / n as f64;
    let st = weave::stack_stats();
    let kept = st.compacted_bytes as f64 / st.compacted.max(1) as f64;
    debug_assert!(st.compactions - compactions0 >= n);
    // Two rounds of one datagram per probe: the first restores.
    let mut per = [0.0; 2];
    let r0 = weave::stack_stats();
    for p in per.iter_mut() {
        *p = wake_one_by_one(&client, &addrs[..probes], &got)?;
        wait(|| parked_in_net() >= n)?;
    }
    let r1 = weave::stack_stats();
    let restore =
        (r1.restore_ns - r0.restore_ns) as f64 / (r1.restores - r0.restores).max(1) as f64;
    // Everyone out: one `q` per reader of each socket.
    for i in 0..n {
        client
            .send_to(b"q", addrs[sock_of(i)])
            .map_err(|e| e.to_string())?;
    }
    for h in hs {
        h.join().map_err(|_| "a ULT panicked")?;
    }
    println!(
        "RESULT {after} {before} {} {} {kept} {secs} {restore}",
        per[0], per[1]
    );
    Ok(())
}

fn std_child(n: usize) -> Result<(), String> {
    let (socks, addrs, client) = sockets(n, |a| std::net::UdpSocket::bind(a))?;
    let base = rss()?;
    let (started, got) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hs: Vec<_> = socks
        .into_iter()
        .map(|s| {
            let (st, g) = (started.clone(), got.clone());
            std::thread::Builder::new()
                .stack_size(STD_STACK)
                .spawn(move || {
                    st.fetch_add(1, Ordering::Release);
                    read_until_quit(|b| s.recv(b), &g);
                })
        })
        .collect::<Result<_, _>>()
        .map_err(|e| format!("std::thread spawn failed: {e}"))?;
    wait(|| started.load(Ordering::Acquire) >= n)?;
    // Give the last threads time to reach `recv` (nothing to poll for an
    // OS thread's state): a settle, not a measurement.
    std::thread::sleep(Duration::from_millis(200));
    let per = rss()?.saturating_sub(base) as f64 / n as f64;
    let probes = PROBES.min(n);
    let resume = wake_one_by_one(&client, &addrs[..probes], &got)?;
    for a in &addrs {
        client.send_to(b"q", a).map_err(|e| e.to_string())?;
    }
    for h in hs {
        h.join().map_err(|_| "a thread panicked")?;
    }
    println!("RESULT {per} {resume}");
    Ok(())
}

/// A reader's life: receives datagrams, counting each in `got`, until one
/// says `q`.
fn read_until_quit(mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize>, got: &AtomicUsize) {
    let mut buf = [0u8; 16];
    loop {
        let k = recv(&mut buf).expect("recv on a bound UDP socket");
        got.fetch_add(1, Ordering::Release);
        if k > 0 && buf[0] == b'q' {
            break;
        }
    }
}

/// `n` UDP sockets made by `bind` on loopback, their addresses, and a
/// std socket to send to them from.
fn sockets<S>(
    n: usize,
    bind: impl Fn(&str) -> std::io::Result<S>,
) -> Result<(Vec<S>, Vec<SocketAddr>, std::net::UdpSocket), String>
where
    S: LocalAddr,
{
    let socks: Vec<S> = (0..n)
        .map(|_| bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("idle_compact: cannot bind a UDP socket: {e}"))?;
    let addrs = socks
        .iter()
        .map(LocalAddr::addr)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let client = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok((socks, addrs, client))
}

/// A socket's own address, for weave's sockets and std's alike.
trait LocalAddr {
    fn addr(&self) -> std::io::Result<SocketAddr>;
}

impl LocalAddr for Arc<weave::net::UdpSocket> {
    fn addr(&self) -> std::io::Result<SocketAddr> {
        self.local_addr()
    }
}

impl LocalAddr for std::net::UdpSocket {
    fn addr(&self) -> std::io::Result<SocketAddr> {
        self.local_addr()
    }
}

/// Sends a datagram to each of `addrs` in turn, each once the reader of
/// the one before has counted itself in `got`: returns the median time
/// from a send to its reader's count, in ns.
fn wake_one_by_one(
    client: &std::net::UdpSocket,
    addrs: &[SocketAddr],
    got: &AtomicUsize,
) -> Result<f64, String> {
    let mut times = Vec::with_capacity(addrs.len());
    for a in addrs {
        let before = got.load(Ordering::Acquire);
        let t = Instant::now();
        client.send_to(b"w", a).map_err(|e| e.to_string())?;
        while got.load(Ordering::Acquire) == before {
            if t.elapsed() > Duration::from_secs(120) {
                return Err("idle_compact: a reader did not wake within 120 s".into());
            }
            std::hint::spin_loop();
        }
        times.push(t.elapsed().as_nanos() as f64);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// ULTs parked in a socket wait now (a scan of the thread table).
fn parked_in_net() -> usize {
    wt::threads()
        .iter()
        .filter(|t| t.state == wt::ThreadState::Blocked(wt::BlockReason::Net))
        .count()
}

/// Waits for `done`, up to a generous bound (a hang becomes an error).
fn wait(mut done: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(120) {
            return Err("idle_compact: the threads did not get there within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

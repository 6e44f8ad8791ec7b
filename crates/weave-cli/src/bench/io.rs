//! The workloads of weave's blocking side: TCP over loopback through the
//! reactor (`tcp_pingpong`, `tcp_echo_1k`) and many sleeping threads
//! through the timers (`sleepers`). A ULT waiting for a socket and one
//! waiting for a deadline leave the same way: blocked, while its LWP runs
//! other ULTs or sleeps in the reactor until an event or a deadline.
//!
//! Each workload is written once, generic over [`Lib`] (weave's threads,
//! sockets and locks, or std's), so that the baseline runs the very same
//! code on OS threads.
//!
//! Runs with many threads share a start line (see [`Tally`] and
//! [`Lib::hold`]): every thread is spawned and has checked in before the
//! clock starts, so spawning is timed apart from the work, and a failed
//! spawn calls the run off instead of leaving the others waiting forever.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use weave::thread as wt;

use super::common::{median, on_one_lwp, Measurement, Opts};

/// Bytes of one message of the TCP workloads.
const MSG: usize = 64;

/// Stack of each std thread here: 2,000 (echo) or 10,000 (sleepers) OS
/// threads must fit beside each other, and what they run (socket calls, a
/// sleep, an error message) needs a few KiB. Only touched pages cost memory.
const STD_STACK: usize = 64 * 1024;

/// How long a connect or accept of the set-up may take. On loopback both
/// finish at once; this bound turns a stuck one into an error instead of a
/// hang (weave's `accept` waits and retries when the process is out of fds,
/// where std's fails).
const SETUP_WAIT: Duration = Duration::from_secs(10);

/// `sleepers`: each thread sleeps `SLEEPS` times `NAP`, so a run can take
/// no less than `SLEEPS * NAP`: the ideal its wall time is compared with.
const SLEEPS: u32 = 10;
const NAP: Duration = Duration::from_millis(1);

/// The targets: `tcp_echo_1k` at least this many times std's
/// throughput; `sleepers` within this many times the ideal.
const ECHO_TARGET: f64 = 2.0;
const SLEEP_TARGET: f64 = 2.0;

/// What the workloads need from a thread library: threads, park/unpark,
/// a sleep, a lock to hold threads at the start line, and TCP.
trait Lib: 'static {
    /// Names the library in error messages.
    const NAME: &'static str;
    type Thread: Clone + Send + Sync + 'static;
    type Handle<R>;
    type Gate: Default + Send + Sync + 'static;
    type Stream: Read + Write + Send + 'static;
    type Listener: Send + 'static;

    /// Runs `f` where this library's code runs: weave's in a ULT (so that
    /// its blocking calls block a ULT), std's on the calling thread.
    fn host<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, String>;
    /// Spawns a thread (std's with a [`STD_STACK`] stack), or says why not.
    fn spawn<R: Send + 'static>(
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<Self::Handle<R>, String>;
    /// Joins; a panic in the thread is an error.
    fn join<R>(h: Self::Handle<R>) -> Result<R, String>;
    fn current() -> Self::Thread;
    fn park();
    fn unpark(t: &Self::Thread);
    fn sleep(d: Duration);

    /// Runs `f` holding the gate shut: threads calling [`Lib::pass`]
    /// wait until `f` has returned.
    fn hold<R>(gate: &Self::Gate, f: impl FnOnce() -> R) -> R;
    fn pass(gate: &Self::Gate);

    /// A listener on an ephemeral loopback port, and its address.
    fn listen() -> io::Result<(Self::Listener, SocketAddr)>;
    /// Connects to `addr`, with `TCP_NODELAY` (a 64-byte message must not
    /// wait for Nagle).
    fn connect(addr: SocketAddr) -> io::Result<Self::Stream>;
    /// Takes a connection already queued, with `TCP_NODELAY`.
    fn accept(l: &Self::Listener) -> io::Result<Self::Stream>;

    /// The share of this library's started threads that the busiest
    /// kernel thread holds, where threads stay on one (weave's ULTs stay on
    /// the LWP where they first ran): 1.0 means one CPU does all the work.
    fn busiest_share() -> Option<f64> {
        None
    }
}

struct Weave;

impl Lib for Weave {
    const NAME: &'static str = "weave";
    type Thread = wt::Thread;
    type Handle<R> = wt::JoinHandle<R>;
    type Gate = weave::sync::RwLock<()>;
    type Stream = weave::net::TcpStream;
    type Listener = weave::net::TcpListener;

    fn host<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, String> {
        Weave::join(Weave::spawn(f)?)
    }
    fn spawn<R: Send + 'static>(
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<wt::JoinHandle<R>, String> {
        wt::Builder::new()
            .spawn(f)
            .map_err(|e| format!("weave spawn failed: {e}"))
    }
    fn join<R>(h: wt::JoinHandle<R>) -> Result<R, String> {
        h.join().map_err(|_| "a weave thread panicked".to_owned())
    }
    fn current() -> wt::Thread {
        wt::current()
    }
    fn park() {
        wt::park();
    }
    fn unpark(t: &wt::Thread) {
        t.unpark();
    }
    fn sleep(d: Duration) {
        wt::sleep(d);
    }
    fn hold<R>(gate: &Self::Gate, f: impl FnOnce() -> R) -> R {
        let _shut = gate.write().unwrap_or_else(PoisonError::into_inner);
        f()
    }
    fn pass(gate: &Self::Gate) {
        drop(gate.read().unwrap_or_else(PoisonError::into_inner));
    }
    fn listen() -> io::Result<(Self::Listener, SocketAddr)> {
        let l = weave::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let a = l.local_addr()?;
        Ok((l, a))
    }
    fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        // connect_timeout also skips name resolution, which `connect`
        // sends to the blocking pool even for an address.
        let s = weave::net::TcpStream::connect_timeout(&addr, SETUP_WAIT)?;
        s.set_nodelay(true)?;
        Ok(s)
    }
    fn accept(l: &Self::Listener) -> io::Result<Self::Stream> {
        let (s, _) = l.accept_timeout(SETUP_WAIT)?;
        s.set_nodelay(true)?;
        Ok(s)
    }
    fn busiest_share() -> Option<f64> {
        let placed: Vec<usize> = weave::lwps()
            .iter()
            .filter(|l| l.alive && !l.bound)
            .map(|l| l.placed)
            .collect();
        let all: usize = placed.iter().sum();
        let most = placed.iter().copied().max()?;
        (all > 0).then(|| most as f64 / all as f64)
    }
}

struct Std;

impl Lib for Std {
    const NAME: &'static str = "std";
    type Thread = std::thread::Thread;
    type Handle<R> = std::thread::JoinHandle<R>;
    type Gate = std::sync::RwLock<()>;
    type Stream = std::net::TcpStream;
    type Listener = std::net::TcpListener;

    fn host<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, String> {
        Ok(f())
    }
    fn spawn<R: Send + 'static>(
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<std::thread::JoinHandle<R>, String> {
        std::thread::Builder::new()
            .stack_size(STD_STACK)
            .spawn(f)
            .map_err(|e| format!("std::thread spawn failed: {e}"))
    }
    fn join<R>(h: std::thread::JoinHandle<R>) -> Result<R, String> {
        h.join().map_err(|_| "a std thread panicked".to_owned())
    }
    fn current() -> std::thread::Thread {
        std::thread::current()
    }
    fn park() {
        std::thread::park();
    }
    fn unpark(t: &std::thread::Thread) {
        t.unpark();
    }
    fn sleep(d: Duration) {
        std::thread::sleep(d);
    }
    fn hold<R>(gate: &Self::Gate, f: impl FnOnce() -> R) -> R {
        let _shut = gate.write().unwrap_or_else(PoisonError::into_inner);
        f()
    }
    fn pass(gate: &Self::Gate) {
        drop(gate.read().unwrap_or_else(PoisonError::into_inner));
    }
    fn listen() -> io::Result<(Self::Listener, SocketAddr)> {
        let l = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let a = l.local_addr()?;
        Ok((l, a))
    }
    fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        let s = std::net::TcpStream::connect_timeout(&addr, SETUP_WAIT)?;
        s.set_nodelay(true)?;
        Ok(s)
    }
    fn accept(l: &Self::Listener) -> io::Result<Self::Stream> {
        let (s, _) = l.accept()?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// Counts threads past a point and unparks the one thread waiting for all
/// of them when the last passes: how a coordinator learns that every thread
/// is at the start line, or done, without a lock they would all queue on.
struct Tally<L: Lib> {
    expected: usize,
    passed: AtomicUsize,
    waiter: L::Thread,
}

impl<L: Lib> Tally<L> {
    /// A tally of `expected` threads, waited for by the calling thread.
    fn new(expected: usize) -> Tally<L> {
        Tally {
            expected,
            passed: AtomicUsize::new(0),
            waiter: L::current(),
        }
    }

    fn pass(&self) {
        // Release pairs with the Acquire load in `wait`: what the thread
        // did before passing is visible to the waiter.
        if self.passed.fetch_add(1, Ordering::Release) + 1 == self.expected {
            L::unpark(&self.waiter);
        }
    }

    /// A guard that passes when dropped, so that a thread is counted done
    /// however it ends.
    fn pass_on_drop(&self) -> PassOnDrop<'_, L> {
        PassOnDrop(self)
    }

    /// Parks until all have passed (park may return early: re-check).
    fn wait(&self) {
        while self.passed.load(Ordering::Acquire) < self.expected {
            L::park();
        }
    }
}

struct PassOnDrop<'a, L: Lib>(&'a Tally<L>);

impl<L: Lib> Drop for PassOnDrop<'_, L> {
    fn drop(&mut self) {
        self.0.pass();
    }
}

/// What every thread of a many-thread run shares with its coordinator.
struct Line<L: Lib> {
    /// Threads at the start line.
    arrived: Tally<L>,
    /// Threads done (however they ended).
    finished: Tally<L>,
    /// Shut while the coordinator sets the run up; opening it is the start.
    gate: L::Gate,
    /// Set before the gate opens if the set-up failed: threads then leave.
    off: AtomicBool,
}

impl<L: Lib> Line<L> {
    fn new(n: usize) -> Arc<Line<L>> {
        Arc::new(Line {
            arrived: Tally::new(n),
            finished: Tally::new(n),
            gate: L::Gate::default(),
            off: AtomicBool::new(false),
        })
    }

    /// A thread's way through the start line: true to run, false if the
    /// run was called off.
    fn start(&self) -> bool {
        self.arrived.pass();
        L::pass(&self.gate);
        // Relaxed: the gate's lock orders this load after the store made
        // before it opened.
        !self.off.load(Ordering::Relaxed)
    }
}

/// Runs `n` threads made by `make(i)` from a start line, and returns how
/// long from the start until the last was done, with the CPU time the
/// process used meanwhile, and how long the spawning took. A thread's
/// error, or a failed spawn, is the run's error.
fn race<L: Lib, T: Send + 'static>(
    n: usize,
    mut make: impl FnMut(usize) -> T,
    run: impl Fn(T) -> Result<(), String> + Send + Sync + 'static,
) -> Result<Race, String> {
    let line = Line::<L>::new(n);
    let run = Arc::new(run);
    let mut hs = Vec::with_capacity(n);
    let t_spawn = Instant::now();
    let set_up = L::hold(&line.gate, || {
        for i in 0..n {
            let (mine, run, arg) = (line.clone(), run.clone(), make(i));
            let h = L::spawn(move || {
                let _done = mine.finished.pass_on_drop();
                if mine.start() {
                    run(arg)
                } else {
                    Ok(())
                }
            });
            match h {
                Ok(h) => hs.push(h),
                Err(e) => {
                    line.off.store(true, Ordering::Relaxed);
                    return Err(format!("after {i} of {n} threads: {e}"));
                }
            }
        }
        line.arrived.wait();
        let busiest = L::busiest_share();
        Ok((t_spawn.elapsed(), busiest, cpu_time(), Instant::now()))
    });
    let timed = set_up.map(|(spawn, busiest, cpu0, t0)| {
        line.finished.wait();
        Race {
            spawn,
            wall: t0.elapsed(),
            total: t_spawn.elapsed(),
            cpu: cpu_time().saturating_sub(cpu0),
            busiest,
        }
    });
    let mut first_err = None;
    for h in hs {
        if let Err(e) = L::join(h).and_then(|r| r) {
            first_err.get_or_insert(e);
        }
    }
    let race = timed?;
    match first_err {
        Some(e) => Err(e),
        None => Ok(race),
    }
}

/// What [`race`] measured.
#[derive(Clone, Copy)]
struct Race {
    /// From the first spawn until every thread was at the start line.
    spawn: Duration,
    /// From the start until the last thread was done.
    wall: Duration,
    /// From the first spawn until the last thread was done.
    total: Duration,
    /// CPU time the process used during `wall`.
    cpu: Duration,
    /// [`Lib::busiest_share`] at the start.
    busiest: Option<f64>,
}

/// Runs `round` `n` times and takes the median of each figure apart.
fn race_rounds(n: usize, mut round: impl FnMut() -> Result<Race, String>) -> Result<Race, String> {
    let races = (0..n).map(|_| round()).collect::<Result<Vec<_>, _>>()?;
    let m = |f: &dyn Fn(&Race) -> f64| median(races.iter().map(f).collect());
    let d = |f: fn(&Race) -> Duration| Duration::from_secs_f64(m(&|r| f(r).as_secs_f64()));
    Ok(Race {
        spawn: d(|r| r.spawn),
        wall: d(|r| r.wall),
        total: d(|r| r.total),
        cpu: d(|r| r.cpu),
        busiest: races
            .iter()
            .all(|r| r.busiest.is_some())
            .then(|| m(&|r| r.busiest.unwrap_or_default())),
    })
}

/// User + system CPU time of the whole process so far.
fn cpu_time() -> Duration {
    // SAFETY: a zeroed rusage is a valid value for getrusage to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid rusage; RUSAGE_SELF cannot fail.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    debug_assert_eq!(r, 0, "getrusage(RUSAGE_SELF) cannot fail");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs `f` `n` times; the median of what it returns, or its first error.
fn try_rounds(n: usize, mut f: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
    Ok(median((0..n).map(|_| f()).collect::<Result<_, _>>()?))
}

/// The file-descriptor limit, as (soft, hard).
fn nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    debug_assert_eq!(r, 0, "getrlimit(RLIMIT_NOFILE) cannot fail");
    (lim.rlim_cur, lim.rlim_max)
}

/// Makes room for `need` open fds: raises the soft `RLIMIT_NOFILE` to the
/// hard limit if it is lower than `need`. Returns what it did, for the
/// note, or an error saying which limit is too low.
fn ensure_fds(need: u64) -> Result<Option<String>, String> {
    let (soft, hard) = nofile();
    if soft >= need {
        return Ok(None);
    }
    // The kernel refuses more than fs.nr_open, whatever the hard limit.
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    let to = hard.min(nr_open);
    let lim = libc::rlimit {
        rlim_cur: to,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one rlimit.
    if to > soft && unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        let e = io::Error::last_os_error();
        return Err(format!(
            "needs about {need} open files, RLIMIT_NOFILE allows {soft} and raising it to {to} \
             failed: {e}; raise it with `ulimit -n {need}` before running"
        ));
    }
    if to < need {
        return Err(format!(
            "needs about {need} open files, RLIMIT_NOFILE allows {to} (the hard limit); \
             raise the hard limit (`ulimit -Hn {need}` as root, or limits.conf) or run with --quick"
        ));
    }
    Ok(Some(format!(
        "RLIMIT_NOFILE soft limit raised {soft} -> {to}"
    )))
}

/// A socket call's error with what was being done, and the fd limit when
/// the process ran out of fds.
fn net_error(what: impl fmt::Display, e: io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => {
            let (soft, hard) = nofile();
            format!(
                "{what}: {e} (RLIMIT_NOFILE soft {soft}, hard {hard}; raise it with `ulimit -n`)"
            )
        }
        _ => format!("{what}: {e}"),
    }
}

/// Both ends of one loopback connection.
struct Pair<S> {
    client: S,
    server: S,
}

/// `n` connected pairs on a fresh listener. Connect and accept alternate:
/// the connection is queued by the time `accept` runs, so no acceptor
/// thread is needed and the backlog never overflows.
fn connect_pairs<L: Lib>(n: usize) -> Result<Vec<Pair<L::Stream>>, String> {
    let (listener, addr) =
        L::listen().map_err(|e| net_error(format_args!("{}: listen on loopback", L::NAME), e))?;
    (0..n)
        .map(|i| {
            let what = || format!("{}: connection {} of {n} to {addr}", L::NAME, i + 1);
            let client =
                L::connect(addr).map_err(|e| net_error(format_args!("{}: connect", what()), e))?;
            let server = L::accept(&listener)
                .map_err(|e| net_error(format_args!("{}: accept", what()), e))?;
            Ok(Pair { client, server })
        })
        .collect()
}

/// The server side: echoes each message until the client closes.
fn echo_serve(mut s: impl Read + Write) -> io::Result<()> {
    let mut buf = [0u8; MSG];
    loop {
        match s.read_exact(&mut buf) {
            Ok(()) => s.write_all(&buf)?,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// The client side: sends message `i` of connection `id` and checks that
/// it comes back unchanged.
fn echo_trip(s: &mut (impl Read + Write), id: usize, i: usize) -> io::Result<()> {
    let mut msg = [i as u8; MSG];
    msg[..8].copy_from_slice(&(id as u64).to_le_bytes());
    s.write_all(&msg)?;
    let mut back = [0u8; MSG];
    s.read_exact(&mut back)?;
    if back != msg {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message {i} came back changed"),
        ));
    }
    Ok(())
}

/// `n` round trips of one 64-byte message between a client thread and a
/// server thread; ns per round trip, timed on the client after one
/// warm-up trip.
fn pingpong_round<L: Lib>(n: usize) -> Result<f64, String> {
    let Pair {
        client: c,
        server: s,
    } = connect_pairs::<L>(1)?.pop().ok_or("no connection")?;
    let server = L::spawn(move || echo_serve(s))?;
    let client = L::spawn(move || -> io::Result<Duration> {
        let mut c = c;
        echo_trip(&mut c, 0, 0)?;
        let t = Instant::now();
        for i in 1..=n {
            echo_trip(&mut c, 0, i)?;
        }
        Ok(t.elapsed())
    });
    // A failed client spawn drops its stream: the server sees EOF and ends.
    let d = client.and_then(|h| L::join(h)?.map_err(|e| net_error("client", e)));
    let served = L::join(server)?.map_err(|e| net_error("server", e));
    let d = d?;
    served?;
    Ok(d.as_nanos() as f64 / n as f64)
}

pub(super) fn tcp_pingpong(o: &Opts) -> Result<Measurement, String> {
    let n = if o.quick { 5_000 } else { 20_000 };
    let raised = ensure_fds(64)?;
    let round = |n| Weave::host(move || pingpong_round::<Weave>(n)).and_then(|r| r);
    let weave = try_rounds(o.rounds(), || round(n))?;
    let one_lwp = on_one_lwp(|| try_rounds(o.rounds(), || round(n)))??;
    let baseline = try_rounds(o.rounds(), || pingpong_round::<Std>(n))?;
    let mut note = format!(
        "{MSG}-byte messages over loopback, TCP_NODELAY; weave: 2 ULTs on the pool, one_lwp: \
         on a pool of one LWP; std: 2 OS threads"
    );
    if let Some(r) = raised {
        note.push_str(&format!("; {r}"));
    }
    Ok(Measurement {
        name: "tcp_pingpong",
        unit: "ns",
        weave,
        baseline: Some(baseline),
        n,
        note: Some(note),
        extra: vec![("one_lwp_ns", one_lwp)],
    })
}

/// `conns` connections through one server, a thread per connection on
/// each side; every client sends `msgs` messages one at a time, each
/// waiting for its echo. Timed from the start to the last client done;
/// set-up (connections, threads) is not timed.
fn echo_round<L: Lib>(conns: usize, msgs: usize) -> Result<Race, String> {
    let (clients, servers): (Vec<_>, Vec<_>) = connect_pairs::<L>(conns)?
        .into_iter()
        .map(|p| (p.client, p.server))
        .unzip();
    let mut servers = servers.into_iter();
    let mut server_hs = Vec::with_capacity(conns);
    let mut clients = clients.into_iter();
    let raced = race::<L, _>(
        conns,
        |i| {
            // Each client's server starts first, so it is reading when the
            // first message comes; a server that cannot be spawned leaves
            // its stream to be dropped, and its client's read fails.
            if let Some(s) = servers.next() {
                if let Ok(h) = L::spawn(move || echo_serve(s)) {
                    server_hs.push(h);
                }
            }
            (i, clients.next())
        },
        move |(id, c)| {
            let mut c = c.ok_or("no client stream")?;
            (0..msgs)
                .try_for_each(|i| echo_trip(&mut c, id, i))
                .map_err(|e| net_error(format_args!("{} client", L::NAME), e))
        },
    );
    // The clients are gone (their streams closed), so every server has
    // seen EOF or an error.
    let mut server_err = None;
    let spawned = server_hs.len();
    for h in server_hs {
        if let Err(e) = L::join(h).and_then(|r| r.map_err(|e| net_error("server", e))) {
            server_err.get_or_insert(e);
        }
    }
    // A missing server is the cause of its client's error: say so first.
    if spawned < conns {
        return Err(format!(
            "{}: only {spawned} of {conns} server threads could be spawned",
            L::NAME
        ));
    }
    let race = raced?;
    if let Some(e) = server_err {
        return Err(format!("{}: {e}", L::NAME));
    }
    Ok(race)
}

pub(super) fn tcp_echo_1k(o: &Opts) -> Result<Measurement, String> {
    let (conns, msgs) = if o.quick { (200, 50) } else { (1_000, 100) };
    // Two fds per connection, both ends in this process; some slack for
    // the listener, the reactor, stdio.
    let raised = ensure_fds(2 * conns as u64 + 64)?;
    let w = race_rounds(o.rounds(), || {
        Weave::host(move || echo_round::<Weave>(conns, msgs)).and_then(|r| r)
    })?;
    // As many rounds as weave: the baseline moves as much, and the target
    // is a ratio.
    let s = race_rounds(o.rounds(), || echo_round::<Std>(conns, msgs))?;
    let rate = |r: &Race| (conns * msgs) as f64 / r.wall.as_secs_f64();
    // What a message cost the whole process, both sides and the kernel:
    // on a shared machine, steadier than the wall clock.
    let cpu_per_msg = |r: &Race| r.cpu.as_secs_f64() * 1e6 / (conns * msgs) as f64;
    let (weave, baseline) = (rate(&w), rate(&s));
    let met = if weave / baseline >= ECHO_TARGET {
        "met"
    } else {
        "NOT met"
    };
    let mut note = format!(
        "{conns} connections x {msgs} echoes of {MSG} bytes; ratio weave/std (a rate: higher \
         is better); target >= {ECHO_TARGET}x std: {met}; std: {} OS threads at {} KiB stacks",
        2 * conns,
        STD_STACK / 1024
    );
    if let Some(r) = raised {
        note.push_str(&format!("; {r}"));
    }
    Ok(Measurement {
        name: "tcp_echo_1k",
        unit: "msg/s",
        weave,
        baseline: Some(baseline),
        n: conns * msgs,
        note: Some(note),
        extra: [
            ("cpu_us_per_msg", cpu_per_msg(&w)),
            ("std_cpu_us_per_msg", cpu_per_msg(&s)),
        ]
        .into_iter()
        .chain(w.busiest.map(|b| ("busiest_lwp_share", b)))
        .collect(),
    })
}

/// `n` threads each sleeping `SLEEPS` times `NAP`, from a start line.
fn sleepers_round<L: Lib>(n: usize) -> Result<Race, String> {
    race::<L, _>(
        n,
        |_| (),
        |()| {
            for _ in 0..SLEEPS {
                L::sleep(NAP);
            }
            Ok(())
        },
    )
}

/// `rounds` runs of [`sleepers_round`], each hosted where `L` runs code.
fn sleep_rounds<L: Lib>(rounds: usize, n: usize) -> Result<Race, String> {
    race_rounds(rounds, || {
        L::host(move || sleepers_round::<L>(n)).and_then(|r| r)
    })
}

/// `sleepers`' threads: the 100,000, and std's tenth of that. A
/// std thread's stack and its guard page are 2 mappings: 100,000 threads
/// would pass the default vm.max_map_count (65,530).
const SLEEPERS: usize = 100_000;
const STD_SLEEPERS: usize = SLEEPERS / 10;

pub(super) fn sleepers(o: &Opts) -> Result<Measurement, String> {
    let (n, sn) = if o.quick {
        (SLEEPERS / 5, STD_SLEEPERS / 5)
    } else {
        (SLEEPERS, STD_SLEEPERS)
    };
    let max_map = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    let ideal = NAP * SLEEPS;
    let w = sleep_rounds::<Weave>(o.rounds(), n)?;
    let w_small = sleep_rounds::<Weave>(o.rounds(), sn)?;
    let s = sleep_rounds::<Std>(o.rounds().min(3), sn)?;
    let per_sleep = |r: &Race, n: usize| r.cpu.as_nanos() as f64 / (n as f64 * SLEEPS as f64);
    let x_ideal = |r: &Race| r.wall.as_secs_f64() / ideal.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let met = if x_ideal(&w) <= SLEEP_TARGET {
        "met"
    } else {
        "NOT met"
    };
    Ok(Measurement {
        name: "sleepers",
        unit: "ns",
        weave: per_sleep(&w, n),
        baseline: Some(per_sleep(&s, sn)),
        n,
        note: Some(format!(
            "CPU time per {NAP:?} sleep (user+sys); each thread sleeps {SLEEPS} times, ideal wall \
             {ideal:?}; target wall <= {SLEEP_TARGET}x ideal: {met}; std: {sn} OS threads at {} \
             KiB stacks, a tenth of weave's ({SLEEPERS} would need {} mappings, vm.max_map_count \
             is {max_map}); small_n: weave at {sn}",
            STD_STACK / 1024,
            2 * SLEEPERS
        )),
        extra: [
            ("wall_ms", ms(w.wall)),
            ("x_ideal", x_ideal(&w)),
            ("spawn_ms", ms(w.spawn)),
            ("total_ms", ms(w.total)),
            ("cpu_s", w.cpu.as_secs_f64()),
            ("small_n_wall_ms", ms(w_small.wall)),
            ("small_n_x_ideal", x_ideal(&w_small)),
            ("std_wall_ms", ms(s.wall)),
            ("std_x_ideal", x_ideal(&s)),
            ("std_spawn_ms", ms(s.spawn)),
            ("std_cpu_s", s.cpu.as_secs_f64()),
        ]
        .into_iter()
        .chain(w.busiest.map(|b| ("busiest_lwp_share", b)))
        .collect(),
    })
}

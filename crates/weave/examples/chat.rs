//! A line-based chat server: every line a client sends reaches every other
//! client, as `clientN: text`.
//!
//! ```text
//! cargo run --release -p weave --example chat [ADDR]   # default 127.0.0.1:7008
//! ```
//! Then `nc 127.0.0.1 7008` in a few terminals. With `--self-test N`
//! (default 8), the example listens on a free port, starts N client ULTs
//! that each send a few lines and check that they receive every line of
//! every other client, once and in order; it exits 0, or names each client
//! that failed and exits 1.
//!
//! One ULT per client reads its lines; one broadcaster ULT owns the list of
//! clients and writes each line to all of them. The readers tell the
//! broadcaster everything (a client joined, sent a line, left) over one
//! `weave::sync::mpsc` channel, so there is no lock around the list and
//! every client sees the conversation in the same order. The broadcaster
//! writes with plain blocking `write_all`, which blocks only its ULT; a
//! client that fails to take a line (its connection broke, or it stopped
//! reading and did not make room within [`WRITE_TIMEOUT`]) is dropped, so
//! it holds the others up for at most that long.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use weave::net::{TcpListener, TcpStream};
use weave::sync::mpsc::{sync_channel, Receiver, SyncSender};
use weave::sync::{Barrier, Semaphore};

/// How long the broadcaster waits for a client's socket to take a line.
/// A client that reads at all drains its buffer far sooner; one that does
/// not would otherwise stop the conversation for everyone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest line a client may send (without its newline); a longer one
/// ends the client's session, so a client cannot grow the server's memory.
const MAX_LINE: usize = 4096;

/// Events not yet handled by the broadcaster: a reader that gets this far
/// ahead waits, which slows a flooding client down instead of queueing its
/// lines without limit.
const BACKLOG: usize = 1024;

/// What the readers tell the broadcaster.
enum Event {
    /// A client connected; `stream` is a handle for writing to it.
    Join { id: u64, stream: TcpStream },
    /// A line from a client, without its line ending.
    Line { id: u64, text: Vec<u8> },
    /// A client's connection ended (or the broadcaster dropped it first).
    Leave { id: u64 },
}

struct Client {
    id: u64,
    stream: TcpStream,
}

/// Owns the list of clients; ends when every reader and the accept loop
/// are gone.
fn broadcaster(events: Receiver<Event>) {
    let mut clients: Vec<Client> = Vec::new();
    for event in events {
        match event {
            Event::Join { id, stream } => {
                if let Err(e) = stream.set_write_timeout(Some(WRITE_TIMEOUT)) {
                    eprintln!("chat: client{id}: {e}");
                    continue;
                }
                let mut c = Client { id, stream };
                // The welcome says the client is on the list: from now on it
                // gets every line.
                if let Err(e) = (&c.stream).write_all(format!("* you are client{id}\n").as_bytes())
                {
                    drop_client(&mut c, &e);
                    continue;
                }
                clients.push(c);
                broadcast(
                    &mut clients,
                    Some(id),
                    format!("* client{id} joined\n").into_bytes(),
                );
            }
            Event::Line { id, text } => {
                let mut line = format!("client{id}: ").into_bytes();
                line.extend_from_slice(&text);
                line.push(b'\n');
                broadcast(&mut clients, Some(id), line);
            }
            Event::Leave { id } => {
                // Not on the list if the broadcaster dropped it already
                // (and announced it then).
                if let Some(i) = clients.iter().position(|c| c.id == id) {
                    clients.swap_remove(i);
                    broadcast(
                        &mut clients,
                        None,
                        format!("* client{id} left\n").into_bytes(),
                    );
                }
            }
        }
    }
}

/// Writes `line` to every client but `except`, dropping those that fail
/// and announcing that they left.
fn broadcast(clients: &mut Vec<Client>, except: Option<u64>, line: Vec<u8>) {
    let mut pending = VecDeque::from([(except, line)]);
    while let Some((except, line)) = pending.pop_front() {
        clients.retain_mut(|c| {
            if Some(c.id) == except {
                return true;
            }
            match (&c.stream).write_all(&line) {
                Ok(()) => true,
                Err(e) => {
                    drop_client(c, &e);
                    pending.push_back((None, format!("* client{} left\n", c.id).into_bytes()));
                    false
                }
            }
        });
    }
}

/// Ends a client's connection after a failed write. Shutting down both
/// halves also ends its reader's `read`, which then sends a `Leave` that
/// finds the client gone.
fn drop_client(c: &mut Client, e: &io::Error) {
    eprintln!("chat: client{}: write: {e}; dropping it", c.id);
    let _ = c.stream.shutdown(Shutdown::Both);
}

/// One client's reader: registers the client, then turns its lines into
/// events until its connection ends.
fn reader(id: u64, stream: TcpStream, events: SyncSender<Event>) {
    let writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("chat: client{id}: cannot clone the socket: {e}");
            return;
        }
    };
    if events.send(Event::Join { id, stream: writer }).is_err() {
        return;
    }
    let mut lines = BufReader::new(&stream);
    loop {
        let mut line = Vec::new();
        match (&mut lines)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break,
            Ok(_) if line.len() > MAX_LINE && line.last() != Some(&b'\n') => {
                eprintln!("chat: client{id}: line longer than {MAX_LINE} bytes; closing");
                let _ = stream.shutdown(Shutdown::Both);
                break;
            }
            Ok(_) => {
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                if !line.is_empty() && events.send(Event::Line { id, text: line }).is_err() {
                    break;
                }
            }
            Err(e) => {
                eprintln!("chat: client{id}: read: {e}");
                break;
            }
        }
    }
    let _ = events.send(Event::Leave { id });
}

fn accept_loop(listener: TcpListener, events: SyncSender<Event>) {
    let mut next_id = 1;
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                // Lines are small and interactive: send each at once rather
                // than let Nagle wait for the previous one's ACK.
                if let Err(e) = s.set_nodelay(true) {
                    eprintln!("chat: set_nodelay: {e}");
                }
                let (id, events) = (next_id, events.clone());
                next_id += 1;
                weave::thread::spawn(move || reader(id, s, events));
            }
            Err(e) => eprintln!("chat: accept: {e}"),
        }
    }
}

/// Lines each self-test client sends.
const LINES: usize = 10;

/// Self-test clients connecting at once. The listener's backlog is std's,
/// 128: a burst of connects beyond it overflows the accept queue, and with
/// SYN cookies the kernel then drops such a connection on the server's side
/// while the client's side stays open. Here the server speaks first, so that
/// client would wait for a welcome that never comes.
const JOINING: usize = 32;

/// How long a self-test client waits for its welcome, and then for all its
/// lines. Far more than a run takes on 2 CPUs (8 clients: milliseconds;
/// 500: ~15 s; 1000: ~70 s), so that only a lost line ends it.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);

fn wrong(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Connects a self-test client and reads its welcome: from then on the
/// broadcaster sends it every line.
fn join(addr: SocketAddr) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    // A lost welcome fails the test instead of hanging it.
    stream.set_read_timeout(Some(TEST_TIMEOUT))?;
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    lines.read_line(&mut line)?;
    if !line.starts_with("* you are client") {
        return Err(wrong(format!("expected a welcome, got {line:?}")));
    }
    Ok(lines)
}

/// Self-test client `me` of `n`: joins, waits for all to have joined, sends
/// its lines, then reads until it has every other client's, checking that
/// each comes once and in the order it was sent. Returns the connection
/// still open: the self-test ends with all of them open, so the server does
/// not see clients leave (and write to those gone already) as it ends.
fn client(addr: SocketAddr, me: usize, n: usize, gates: &Gates) -> io::Result<TcpStream> {
    let joined = {
        let _turn = gates.joining.acquire();
        join(addr)
    };
    // Wait even after a failure, or the others would wait here forever;
    // they then miss this client's lines, and the test fails.
    gates.all_joined.wait();
    // One deadline for all the lines, not one per read: after a failure,
    // every leave the server announces would restart a per-read timeout.
    let deadline = Instant::now() + TEST_TIMEOUT;
    let mut lines = joined.map_err(|e| io::Error::new(e.kind(), format!("client {me}: {e}")))?;
    for k in 0..LINES {
        lines
            .get_ref()
            .write_all(format!("msg {me} {k}\n").as_bytes())?;
    }
    // next[j]: the line expected next from client j.
    let mut next = vec![0; n];
    let mut missing = (n - 1) * LINES;
    let mut line = String::new();
    while missing > 0 {
        line.clear();
        let left = deadline.saturating_duration_since(Instant::now());
        lines
            .get_ref()
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        let got = lines.read_line(&mut line).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("client {me}: {e}, {missing} lines missing"),
            )
        })?;
        if got == 0 {
            return Err(wrong(format!(
                "client {me}: EOF with {missing} lines missing"
            )));
        }
        if line.starts_with("* ") {
            continue; // someone joined or left
        }
        let text = line.trim_end().split_once(": ").map(|(_, t)| t);
        let parsed = text.and_then(|t| {
            let mut f = t
                .strip_prefix("msg ")?
                .split(' ')
                .map(|x| x.parse::<usize>().ok());
            Some((f.next()??, f.next()??))
        });
        match parsed {
            Some((from, k)) if from < n && from != me && next[from] == k => {
                next[from] += 1;
                missing -= 1;
            }
            _ => return Err(wrong(format!("client {me}: unexpected line {line:?}"))),
        }
    }
    Ok(lines.into_inner())
}

/// What the self-test clients wait on together.
struct Gates {
    joining: Semaphore,
    all_joined: Barrier,
}

/// Runs the self-test; returns the clients' connections, still open.
fn self_test(addr: SocketAddr, n: usize) -> io::Result<Vec<TcpStream>> {
    let t = Instant::now();
    let gates = std::sync::Arc::new(Gates {
        joining: Semaphore::new(JOINING),
        all_joined: Barrier::new(n),
    });
    let clients: Vec<_> = (0..n)
        .map(|me| {
            let g = gates.clone();
            weave::thread::spawn(move || client(addr, me, n, &g))
        })
        .collect();
    // Every client's outcome: one that could not join makes the others
    // miss its lines, so the cause is among the failures, not always the
    // first one joined.
    let mut open = Vec::new();
    let mut failed = 0;
    for c in clients {
        let e = match c.join() {
            Ok(Ok(s)) => {
                open.push(s);
                continue;
            }
            Ok(Err(e)) => e,
            Err(_) => wrong("a client panicked".to_string()),
        };
        failed += 1;
        eprintln!("chat: self-test: {e}");
    }
    if failed > 0 {
        return Err(wrong(format!("{failed} of {n} clients failed")));
    }
    eprintln!(
        "chat: {n} clients each got the {} lines of the others in {:?}",
        (n - 1) * LINES,
        t.elapsed()
    );
    Ok(open)
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test_n = args
        .iter()
        .position(|a| a == "--self-test")
        .map(|i| args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(8));
    let addr = match self_test_n {
        Some(_) => "127.0.0.1:0",
        None => args
            .iter()
            .find(|a| a.contains(':'))
            .map_or("127.0.0.1:7008", String::as_str),
    };
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    eprintln!("chat: listening on {local}");
    let (events, inbox) = sync_channel(BACKLOG);
    weave::thread::spawn(move || broadcaster(inbox));
    weave::thread::spawn(move || accept_loop(listener, events));
    match self_test_n {
        Some(n) if n >= 2 => {
            let _open = self_test(local, n)?;
            // Exit with the connections open: closing them first would have
            // the broadcaster announce each leave to clients gone already.
            std::process::exit(0)
        }
        Some(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--self-test needs at least 2 clients",
        )),
        None => loop {
            weave::thread::park();
        },
    }
}

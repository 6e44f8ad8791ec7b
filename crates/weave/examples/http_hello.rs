//! An HTTP/1.1 "Hello, world!" server with keep-alive and pipelining: one
//! ULT per connection, plain blocking `read` and `write_all`.
//!
//! ```text
//! cargo run --release -p weave --example http_hello [ADDR]   # default 127.0.0.1:8080
//! ```
//! Then `curl http://127.0.0.1:8080/`, or load it with
//! `wrk -t2 -c100 -d10s http://127.0.0.1:8080/`. The request handling is the
//! `weave-httpbench` crate's, shared with `http_hello_tokio`, the same
//! server on tokio; `docs/PERFORMANCE.md` compares the two.
//!
//! With `--lwp-stats`, it prints the ULTs placed on each LWP once a second.
//!
//! With `--self-test N`, the example listens on a free port, starts N
//! client ULTs that each make a few keep-alive requests (some pipelined),
//! end with `Connection: close` and check every answer, plus one client
//! that sends garbage and expects a 400; it prints the time taken and exits
//! 0, or 1 on the first wrong answer.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use weave::net::{TcpListener, TcpStream};
use weave_httpbench::{read_response, Connection, Response, BODY};

/// One connection: read, answer what is complete, write, until the client
/// closes or a request asks to (or cannot be answered).
fn serve(stream: TcpStream) {
    let mut conn = Connection::new();
    let mut s = &stream;
    loop {
        let n = match s.read(conn.read_buf()) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) => {
                eprintln!("http_hello: read: {e}");
                return;
            }
        };
        let (out, close) = conn.received(n);
        if !out.is_empty() {
            if let Err(e) = s.write_all(out) {
                eprintln!("http_hello: write: {e}");
                return;
            }
        }
        if close {
            // FIN after the last response; the socket closes on drop.
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
    }
}

fn accept_loop(listener: TcpListener) {
    // `accept` itself backs off when the process is out of fds, so an
    // error here is about one connection: log it and go on.
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                // Each response goes out in one write; don't let Nagle hold
                // it back (the tokio twin does the same).
                if let Err(e) = s.set_nodelay(true) {
                    eprintln!("http_hello: set_nodelay: {e}");
                }
                weave::thread::spawn(move || serve(s));
            }
            Err(e) => eprintln!("http_hello: accept: {e}"),
        }
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// Keep-alive rounds per client; odd rounds pipeline two requests.
const ROUNDS: usize = 4;

fn wrong(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn expect(r: &Response, status: u16, close: bool) -> io::Result<()> {
    let body_ok = status != 200 || r.body == BODY;
    if r.status != status || r.close != close || !body_ok {
        return Err(wrong(format!(
            "expected {status} (close: {close}), got {} (close: {}) {:?}",
            r.status,
            r.close,
            String::from_utf8_lossy(&r.body)
        )));
    }
    Ok(())
}

/// After the last answer, the server must close: the next read sees EOF.
fn expect_eof(s: &mut TcpStream, buf: &[u8]) -> io::Result<()> {
    let mut more = [0u8; 64];
    match s.read(&mut more)? {
        0 if buf.is_empty() => Ok(()),
        n => Err(wrong(format!(
            "{} bytes after the last answer",
            n + buf.len()
        ))),
    }
}

fn client(addr: SocketAddr) -> io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut buf = Vec::new();
    for round in 0..ROUNDS {
        let pipelined = round % 2 == 1;
        if pipelined {
            s.write_all(&[GET, GET].concat())?;
        } else {
            s.write_all(GET)?;
        }
        for _ in 0..1 + usize::from(pipelined) {
            expect(&read_response(&mut s, &mut buf)?, 200, false)?;
        }
    }
    s.write_all(GET_CLOSE)?;
    expect(&read_response(&mut s, &mut buf)?, 200, true)?;
    expect_eof(&mut s, &buf)
}

fn bad_client(addr: SocketAddr) -> io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    s.write_all(b"HELLO?\r\n\r\n")?;
    let mut buf = Vec::new();
    expect(&read_response(&mut s, &mut buf)?, 400, true)?;
    expect_eof(&mut s, &buf)
}

fn self_test(addr: SocketAddr, n: usize) -> io::Result<()> {
    let t = std::time::Instant::now();
    let mut clients: Vec<_> = (0..n)
        .map(|_| weave::thread::spawn(move || client(addr)))
        .collect();
    clients.push(weave::thread::spawn(move || bad_client(addr)));
    for c in clients {
        c.join()
            .map_err(|_| wrong("a client panicked".to_string()))??;
    }
    eprintln!(
        "http_hello: {n} clients x {} requests, and one bad request, in {:?}",
        ROUNDS + ROUNDS / 2 + 1,
        t.elapsed()
    );
    Ok(())
}

/// `--lwp-stats`: once a second, how many ULTs are placed on each LWP
/// (the connections' ULTs stay on the LWP they first ran on).
fn lwp_stats() {
    loop {
        weave::thread::sleep(std::time::Duration::from_secs(1));
        let placed: Vec<String> = weave::lwps()
            .iter()
            .filter(|l| l.alive)
            .map(|l| format!("{}:{}", l.index, l.placed))
            .collect();
        eprintln!("http_hello: ULTs placed per LWP {}", placed.join(" "));
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test_n = args
        .iter()
        .position(|a| a == "--self-test")
        .map(|i| args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(100));
    let addr = match self_test_n {
        Some(_) => "127.0.0.1:0",
        None => args
            .iter()
            .find(|a| a.contains(':'))
            .map_or("127.0.0.1:8080", String::as_str),
    };
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    eprintln!(
        "http_hello: listening on {local}, {} LWPs",
        weave::concurrency()
    );
    weave::thread::spawn(move || accept_loop(listener));
    if args.iter().any(|a| a == "--lwp-stats") {
        weave::thread::spawn(lwp_stats);
    }
    match self_test_n {
        Some(n) => self_test(local, n),
        None => loop {
            weave::thread::park();
        },
    }
}

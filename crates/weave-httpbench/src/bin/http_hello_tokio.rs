//! weave's `http_hello` example on tokio: the same HTTP/1.1 keep-alive
//! "Hello, world!" server, with the same request handling
//! ([`weave_httpbench::Connection`]), written the way a tokio user would
//! write it: a multi-thread runtime, a task per connection, `read` into the
//! connection's buffer, `write_all` of the responses.
//!
//! It exists only to be measured against weave's example (see the section
//! "http_hello vs tokio (wrk)" of `docs/PERFORMANCE.md`); it is not part of
//! weave.
//!
//! ```text
//! cargo run --release -p weave-httpbench --bin http_hello_tokio -- [ADDR] [--workers N]
//! ```
//! `ADDR` defaults to 127.0.0.1:8081 (weave's example takes 8080), `N` to
//! the number of CPUs (tokio's default). The accept loop is a task on the
//! workers, as weave's is a ULT on its LWPs, so that both servers run on
//! exactly N threads.

use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weave_httpbench::Connection;

async fn serve(mut stream: TcpStream) {
    let mut conn = Connection::new();
    loop {
        let n = match stream.read(conn.read_buf()).await {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) => {
                eprintln!("http_hello_tokio: read: {e}");
                return;
            }
        };
        let (out, close) = conn.received(n);
        if !out.is_empty() {
            if let Err(e) = stream.write_all(out).await {
                eprintln!("http_hello_tokio: write: {e}");
                return;
            }
        }
        if close {
            // FIN after the last response; the socket closes on drop.
            let _ = stream.shutdown().await;
            return;
        }
    }
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Each response goes out in one write; don't let Nagle hold
                // it back (weave's example does the same).
                if let Err(e) = stream.set_nodelay(true) {
                    eprintln!("http_hello_tokio: set_nodelay: {e}");
                }
                tokio::spawn(serve(stream));
            }
            Err(e) => {
                // Out of fds, most likely: the connection stays queued and
                // accept would fail again at once. Pause this worker briefly
                // rather than spin (weave's listener backs off the same way).
                eprintln!("http_hello_tokio: accept: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: http_hello_tokio [ADDR] [--workers N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8081".to_string();
    let mut workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workers" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => workers = n,
                _ => return usage(),
            },
            "-h" | "--help" => return usage(),
            _ if a.contains(':') => addr = a,
            _ => return usage(),
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http_hello_tokio: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let listener = match TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("http_hello_tokio: bind {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(a) => eprintln!("http_hello_tokio: listening on {a}, {workers} workers"),
            Err(e) => eprintln!("http_hello_tokio: listening ({e})"),
        }
        // The accept loop never ends; if its task does (a panic), so do we.
        let _ = tokio::spawn(accept_loop(listener)).await;
        ExitCode::FAILURE
    })
}

//! A TCP echo server: one ULT per connection, plain blocking code.
//!
//! ```text
//! cargo run --release -p weave --example echo_server [ADDR]   # default 127.0.0.1:7007
//! ```
//! Then `nc 127.0.0.1 7007`. With `--self-test N`, the example also starts
//! N client ULTs that each send and check 100 messages, prints the time
//! taken, and exits.

use std::io::{Read, Write};

use weave::net::{TcpListener, TcpStream};

fn serve(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) => {
                eprintln!("echo_server: read: {e}");
                return;
            }
        }
    }
}

fn client(addr: std::net::SocketAddr, rounds: usize) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut back = [0u8; 64];
    for i in 0..rounds {
        let msg = [i as u8; 64];
        s.write_all(&msg)?;
        s.read_exact(&mut back)?;
        assert_eq!(back, msg, "echo mismatch");
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args
        .iter()
        .position(|a| a == "--self-test")
        .map(|i| args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(100));
    let addr = args
        .iter()
        .find(|a| a.contains(':'))
        .map_or("127.0.0.1:7007", String::as_str);
    let addr = if self_test.is_some() {
        "127.0.0.1:0"
    } else {
        addr
    };
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    eprintln!("echo_server: listening on {local}");
    weave::thread::spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    weave::thread::spawn(move || serve(s));
                }
                Err(e) => eprintln!("echo_server: accept: {e}"),
            }
        }
    });
    let Some(n) = self_test else {
        loop {
            weave::thread::park();
        }
    };
    let t = std::time::Instant::now();
    let clients: Vec<_> = (0..n)
        .map(|_| weave::thread::spawn(move || client(local, 100)))
        .collect();
    for c in clients {
        c.join().expect("client panicked")?;
    }
    eprintln!("echo_server: {n} clients x 100 echoes in {:?}", t.elapsed());
    Ok(())
}

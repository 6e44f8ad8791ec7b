//! The HTTP/1.1 handling that weave's `http_hello` example and its tokio
//! twin (`http_hello_tokio`, in this crate) share, so that a benchmark of
//! the two servers compares their runtimes and nothing else.
//!
//! [`handle`] takes the bytes a connection has received and not consumed
//! yet, answers every complete request in them with "Hello, world!"
//! (pipelining: a client may send requests before the answers to earlier
//! ones), and says how many bytes it consumed and whether the connection
//! should close. [`Connection`] adds the buffers a server keeps per
//! connection, so that a server's loop is: read into
//! [`read_buf`](Connection::read_buf), write what
//! [`received`](Connection::received) returns, close when it says so.
//!
//! ```
//! let mut conn = weave_httpbench::Connection::new();
//! let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
//! conn.read_buf()[..req.len()].copy_from_slice(req);
//! let (out, close) = conn.received(req.len());
//! assert_eq!(out.windows(13).filter(|w| w == b"Hello, world!").count(), 2);
//! assert!(!close);
//! ```
//!
//! What the server answers:
//!
//! | request | answer | then |
//! |---|---|---|
//! | complete, HTTP/1.1 | `200 OK`, the body | keep the connection |
//! | HTTP/1.1 with `Connection: close` | `200 OK` with `Connection: close` | close |
//! | HTTP/1.0 | `200 OK` with `Connection: close` | close |
//! | HTTP/1.0 with `Connection: keep-alive` | `200 OK` with `Connection: keep-alive` | keep |
//! | `HEAD` | as `GET`, without the body | as `GET` |
//! | with a `Content-Length` body (at most [`MAX_BODY`]) | as `GET`; the body is skipped | as `GET` |
//! | malformed, or a bad `Content-Length` | `400 Bad Request` | close |
//! | head longer than [`MAX_HEAD`] | `431 Request Header Fields Too Large` | close |
//! | body longer than [`MAX_BODY`] | `413 Content Too Large` | close |
//! | with `Transfer-Encoding` (chunked bodies) | `501 Not Implemented` | close |
//!
//! No `Date` header: neither server sends one, and formatting a date per
//! response would only add the same cost to both sides.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use std::io::{self, Read};

/// The body of every `200 OK`.
pub const BODY: &[u8] = b"Hello, world!";

/// The longest request head (request line and headers) a connection may
/// buffer: 8 KiB, the default limit of nginx's large header buffers and of
/// Apache's request line. A client that sends more without finishing its
/// head gets a 431 instead of growing the server's buffer.
pub const MAX_HEAD: usize = 8 * 1024;

/// The longest request body the server will skip. A body is buffered whole
/// before the request is answered, so this bounds a connection's buffer
/// too; nothing this server answers needs a body at all.
pub const MAX_BODY: usize = 64 * 1024;

/// Headers one request may have: httparse parses into a fixed array, and
/// wrk, curl and browsers send well under 32.
const MAX_HEADERS: usize = 32;

/// The size a connection's input buffer starts with: one read of a typical
/// pipelined batch from wrk fits.
const INITIAL_BUF: usize = 4096;

/// What [`handle`] did with its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled {
    /// Bytes of the input taken (complete requests); the rest is the start
    /// of a request that has not fully arrived. After an error response
    /// (`close` with a 4xx/5xx), all of the input.
    pub consumed: usize,
    /// Responses appended to the output.
    pub responses: usize,
    /// Close the connection once the output is written: the last request
    /// asked for it, or could not be answered. Requests after it in the
    /// input are not answered.
    pub close: bool,
}

/// Answers every complete request at the start of `input`, appending the
/// responses to `out`. See the crate doc for what is answered how.
pub fn handle(input: &[u8], out: &mut Vec<u8>) -> Handled {
    let mut done = Handled {
        consumed: 0,
        responses: 0,
        close: false,
    };
    while done.consumed < input.len() {
        let rest = &input[done.consumed..];
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let step = match req.parse(rest) {
            Ok(httparse::Status::Complete(head)) if head > MAX_HEAD => Err(Status::HeadTooLarge),
            Ok(httparse::Status::Complete(head)) => inspect(&req).map(|r| (head, r)),
            Ok(httparse::Status::Partial) if rest.len() > MAX_HEAD => Err(Status::HeadTooLarge),
            Ok(httparse::Status::Partial) => break,
            Err(_) => Err(Status::BadRequest),
        };
        match step {
            Ok((head, r)) => {
                let len = head + r.body;
                if rest.len() < len {
                    break; // the body has not all arrived
                }
                respond(out, &r);
                done.consumed += len;
                done.responses += 1;
                if r.persist == Persist::Close {
                    done.close = true;
                    break;
                }
            }
            Err(status) => {
                refuse(out, status);
                done.consumed = input.len();
                done.responses += 1;
                done.close = true;
                break;
            }
        }
    }
    done
}

/// Whether the connection stays open after a response, and what the
/// response says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Persist {
    /// HTTP/1.1's default: nothing to say.
    KeepAlive,
    /// HTTP/1.0 that asked for keep-alive: say `Connection: keep-alive`.
    KeepAlive10,
    /// Say `Connection: close`, then close.
    Close,
}

/// What a complete request head asks for.
struct Request {
    head_only: bool,
    persist: Persist,
    /// Body bytes after the head, to skip.
    body: usize,
}

/// The error responses; each closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    BadRequest,
    ContentTooLarge,
    HeadTooLarge,
    NotImplemented,
}

fn inspect(req: &httparse::Request<'_, '_>) -> Result<Request, Status> {
    let mut close = false;
    let mut keep_alive = false;
    let mut body: Option<usize> = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = content_length(h.value).ok_or(Status::BadRequest)?;
            // Two different lengths: which one ends the body is ambiguous
            // (RFC 9112 §6.3); refuse rather than guess.
            if body.is_some_and(|b| b != n) {
                return Err(Status::BadRequest);
            }
            body = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Status::NotImplemented);
        }
    }
    let body = body.unwrap_or(0);
    if body > MAX_BODY {
        return Err(Status::ContentTooLarge);
    }
    let persist = match req.version {
        Some(1) if !close => Persist::KeepAlive,
        Some(0) if keep_alive && !close => Persist::KeepAlive10,
        _ => Persist::Close,
    };
    Ok(Request {
        head_only: req.method == Some("HEAD"),
        persist,
        body,
    })
}

/// A `Content-Length` value: digits only, as RFC 9110 §8.6 has it.
fn content_length(v: &[u8]) -> Option<usize> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn respond(out: &mut Vec<u8>, r: &Request) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n");
    match r.persist {
        Persist::KeepAlive => {}
        Persist::KeepAlive10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persist::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
    if !r.head_only {
        out.extend_from_slice(BODY);
    }
}

fn refuse(out: &mut Vec<u8>, status: Status) {
    let line: &[u8] = match status {
        Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
        Status::ContentTooLarge => b"HTTP/1.1 413 Content Too Large\r\n",
        Status::HeadTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        Status::NotImplemented => b"HTTP/1.1 501 Not Implemented\r\n",
    };
    out.extend_from_slice(line);
    out.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
}

/// A connection's buffers: the bytes received and not yet answered, and
/// the responses to write.
///
/// The input buffer grows only while a request is incomplete and is bounded
/// by [`MAX_HEAD`] and [`MAX_BODY`] (beyond them [`handle`] refuses the
/// request and closes).
#[derive(Debug)]
pub struct Connection {
    buf: Vec<u8>,
    /// Bytes of `buf` received and not yet consumed, at its start.
    filled: usize,
    out: Vec<u8>,
}

impl Default for Connection {
    fn default() -> Connection {
        Connection::new()
    }
}

impl Connection {
    /// Empty buffers.
    pub fn new() -> Connection {
        Connection {
            buf: vec![0; INITIAL_BUF],
            filled: 0,
            out: Vec::with_capacity(INITIAL_BUF),
        }
    }

    /// Where the next read should put its bytes; never empty.
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// `n` bytes were read into [`read_buf`](Self::read_buf): answers the
    /// requests now complete. Returns the bytes to write (empty while a
    /// request is incomplete) and whether to close once they are written.
    pub fn received(&mut self, n: usize) -> (&[u8], bool) {
        debug_assert!(self.filled + n <= self.buf.len(), "read past read_buf");
        self.filled += n;
        self.out.clear();
        let done = handle(&self.buf[..self.filled], &mut self.out);
        // Keep the incomplete rest at the start of the buffer.
        self.buf.copy_within(done.consumed..self.filled, 0);
        self.filled -= done.consumed;
        (&self.out, done.close)
    }
}

/// One response, as the self-tests of the servers check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (`Content-Length` bytes; none if the header is missing).
    pub body: Vec<u8>,
    /// Whether the response says `Connection: close`.
    pub close: bool,
}

/// Reads one response to a `GET` from `r`: the client side, for
/// self-tests. (The answer to a `HEAD` says a `Content-Length` but has no
/// body; this reader would wait for one.) `buf`
/// holds bytes read earlier and not yet parsed (responses to pipelined
/// requests arrive together); the response is taken from its start, and
/// what follows it stays there for the next call.
pub fn read_response<R: Read>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<Response> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let parsed = resp
            .parse(buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("response: {e}")))?;
        if let httparse::Status::Complete(head) = parsed {
            let mut len = 0;
            let mut close = false;
            for h in resp.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    len = content_length(h.value).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length")
                    })?;
                } else if h.name.eq_ignore_ascii_case("connection") {
                    close = h.value.trim_ascii().eq_ignore_ascii_case(b"close");
                }
            }
            let status = resp.code.unwrap_or(0);
            if buf.len() >= head + len {
                let body = buf[head..head + len].to_vec();
                buf.drain(..head + len);
                return Ok(Response {
                    status,
                    body,
                    close,
                });
            }
        }
        let mut chunk = [0u8; 4096];
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a response",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

    fn run(input: &[u8]) -> (Handled, Vec<u8>) {
        let mut out = Vec::new();
        let h = handle(input, &mut out);
        (h, out)
    }

    /// All responses in `out`, parsed.
    fn responses(out: &[u8]) -> Vec<Response> {
        let mut buf = out.to_vec();
        let mut rs = Vec::new();
        while !buf.is_empty() {
            rs.push(read_response(&mut io::empty(), &mut buf).unwrap());
        }
        rs
    }

    #[test]
    fn one_request_keeps_the_connection() {
        let (h, out) = run(GET);
        assert_eq!(
            h,
            Handled {
                consumed: GET.len(),
                responses: 1,
                close: false
            }
        );
        assert_eq!(out, OK);
    }

    #[test]
    fn pipelined_requests_are_all_answered_in_order() {
        let head = b"HEAD / HTTP/1.1\r\n\r\n";
        let input = [GET, GET, head, GET].concat();
        let (h, out) = run(&input);
        assert_eq!(h.consumed, input.len());
        assert_eq!(h.responses, 4);
        assert!(!h.close);
        let head_ok = &OK[..OK.len() - BODY.len()];
        assert_eq!(out, [OK, OK, head_ok, OK].concat());
    }

    #[test]
    fn head_has_no_body() {
        let (_, out) = run(b"HEAD / HTTP/1.1\r\n\r\n");
        assert!(out.ends_with(b"Content-Length: 13\r\n\r\n"));
    }

    #[test]
    fn partial_request_waits_for_the_rest() {
        for cut in 1..GET.len() {
            let (h, out) = run(&GET[..cut]);
            assert_eq!(
                (h.consumed, h.responses, h.close),
                (0, 0, false),
                "cut {cut}"
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn partial_request_after_a_complete_one_is_left() {
        let input = [GET, &GET[..10]].concat();
        let (h, out) = run(&input);
        assert_eq!(h.consumed, GET.len());
        assert_eq!(h.responses, 1);
        assert_eq!(out, OK);
    }

    #[test]
    fn connection_close_is_answered_then_closes() {
        let input = [GET, GET_CLOSE, GET].concat();
        let (h, out) = run(&input);
        assert_eq!(h.responses, 2, "nothing after the close is answered");
        assert_eq!(h.consumed, GET.len() + GET_CLOSE.len());
        assert!(h.close);
        let rs = responses(&out);
        assert!(!rs[0].close && rs[1].close);
    }

    #[test]
    fn connection_header_tokens_are_case_insensitive_lists() {
        let (h, _) = run(b"GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n");
        assert!(h.close);
        let (h, _) = run(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n");
        assert!(!h.close);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let (h, out) = run(b"GET / HTTP/1.0\r\n\r\n");
        assert!(h.close);
        assert!(responses(&out)[0].close);

        let (h, out) = run(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(!h.close);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nConnection: keep-alive\r\n"), "{text}");
    }

    #[test]
    fn bad_request_gets_400_and_closes() {
        let input = [GET, b"NOT HTTP AT ALL\r\n\r\n", GET].concat();
        let (h, out) = run(&input);
        assert_eq!(h.responses, 2);
        assert!(h.close);
        assert_eq!(h.consumed, input.len());
        let rs = responses(&out);
        assert_eq!(rs[0].status, 200);
        assert_eq!(rs[1].status, 400);
        assert!(rs[1].close);
    }

    #[test]
    fn bad_content_length_gets_400() {
        for cl in ["abc", "-1", "1, 2", ""] {
            let req = format!("POST / HTTP/1.1\r\nContent-Length: {cl}\r\n\r\n");
            let (h, out) = run(req.as_bytes());
            assert!(h.close, "{cl}");
            assert_eq!(responses(&out)[0].status, 400, "{cl}");
        }
        let (_, out) = run(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(responses(&out)[0].status, 400);
    }

    #[test]
    fn body_is_skipped_once_it_has_arrived() {
        let post = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let input = [&post[..], GET].concat();
        let (h, _) = run(&input[..post.len() - 1]);
        assert_eq!((h.consumed, h.responses), (0, 0), "waits for the body");
        let (h, out) = run(&input);
        assert_eq!((h.consumed, h.responses), (input.len(), 2));
        assert_eq!(out, [OK, OK].concat(), "the body was not read as a request");
    }

    #[test]
    fn oversized_requests_are_refused() {
        let big = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        let (h, out) = run(big.as_bytes());
        assert!(h.close);
        assert_eq!(responses(&out)[0].status, 431, "even before the head ends");

        let req = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let (_, out) = run(req.as_bytes());
        assert_eq!(responses(&out)[0].status, 413);

        let (_, out) = run(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(responses(&out)[0].status, 501);
    }

    /// Feeds `input` to a `Connection` in reads of `step` bytes; returns
    /// everything it wrote and whether it closed.
    fn feed(input: &[u8], step: usize) -> (Vec<u8>, bool) {
        let mut conn = Connection::new();
        let mut written = Vec::new();
        for chunk in input.chunks(step) {
            let mut left = chunk;
            while !left.is_empty() {
                let dst = conn.read_buf();
                let n = dst.len().min(left.len());
                dst[..n].copy_from_slice(&left[..n]);
                left = &left[n..];
                let (out, close) = conn.received(n);
                written.extend_from_slice(out);
                if close {
                    return (written, true);
                }
            }
        }
        (written, false)
    }

    #[test]
    fn connection_answers_the_same_whatever_the_reads() {
        let input = [GET, GET, GET_CLOSE, GET].concat();
        let (whole, closed) = feed(&input, input.len());
        assert!(closed);
        assert_eq!(responses(&whole).len(), 3);
        for step in [1, 2, 7, 64] {
            assert_eq!(feed(&input, step), (whole.clone(), true), "reads of {step}");
        }
    }

    #[test]
    fn connection_buffer_grows_for_a_long_head_then_refuses() {
        let long = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "p".repeat(6000));
        let (out, closed) = feed(long.as_bytes(), 1000);
        assert!(!closed);
        assert_eq!(responses(&out)[0].status, 200);

        let endless = format!("GET / HTTP/1.1\r\nX-Pad: {}", "p".repeat(4 * MAX_HEAD));
        let (out, closed) = feed(endless.as_bytes(), 1000);
        assert!(closed);
        assert_eq!(responses(&out)[0].status, 431);
    }

    #[test]
    fn read_response_reads_until_complete() {
        let mut src: &[u8] = &[OK, OK].concat();
        let mut buf = Vec::new();
        let r = read_response(&mut src, &mut buf).unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.close), (200, BODY, false));
        let r = read_response(&mut src, &mut buf).unwrap();
        assert_eq!(r.status, 200);
        let e = read_response(&mut src, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}

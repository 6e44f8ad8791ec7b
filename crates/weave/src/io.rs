//! The standard streams with the shape of `std::io`: [`stdin`], [`stdout`]
//! and [`stderr`], whose reads and writes block only the calling thread.
//!
//! ```no_run
//! use weave::io::{self, BufRead, Write};
//!
//! weave::thread::spawn(|| -> io::Result<()> {
//!     for line in io::stdin().lines() {
//!         writeln!(io::stdout(), "{}", line?.to_uppercase())?;
//!     }
//!     Ok(())
//! })
//! .join()
//! .unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! | std                                   | weave                                 |
//! |---------------------------------------|---------------------------------------|
//! | `std::io::stdin()`, `Stdin`, `StdinLock` | [`stdin()`], [`Stdin`], [`StdinLock`] |
//! | `std::io::stdout()`, `Stdout`, `StdoutLock` | [`stdout()`], [`Stdout`], [`StdoutLock`] |
//! | `std::io::stderr()`, `Stderr`, `StderrLock` | [`stderr()`], [`Stderr`], [`StderrLock`] |
//! | `Read`, `Write`, `BufRead`, `Error`, `Result`, ... | the same items, re-exported |
//!
//! ## Why not `O_NONBLOCK`
//!
//! weave's sockets are non-blocking underneath and wait in the reactor. The
//! standard streams cannot be: fds 0, 1 and 2 are usually open file
//! descriptions shared with the shell, the terminal and the other programs
//! of a pipeline, and `O_NONBLOCK` belongs to the description, so setting
//! it would make *their* reads and writes fail with `EAGAIN` (a classic way
//! to break a terminal or a `make` job). So the flags stay as they are, and
//! weave asks before each call whether it would wait:
//!
//! - **A pipe, terminal or socket** has readiness. A read first asks
//!   `poll(2)` with no timeout; if the fd is not readable, the ULT waits
//!   for it in the runtime's reactor (the same wait as a socket read, with
//!   the fd registered once) and its LWP runs other threads. Once the fd is
//!   readable, the read (a blocking one) returns at once. A write likewise
//!   waits until the fd is writable, then writes at most `IN_PLACE_MAX`
//!   bytes more than std's buffer holds, which a pipe or terminal that
//!   polls writable takes without waiting (a pipe polls writable with a
//!   whole 4 KiB page free).
//! - **A regular file or a block device** has no readiness: it always
//!   polls ready, and a read waits for the disk. Reads of such a stdin run
//!   on the blocking pool ([`crate::blocking`]), as `weave::fs` does;
//!   writes of up to `IN_PLACE_MAX` bytes are made in place (a write to a
//!   file lands in the page cache).
//! - **A large write** (more than `IN_PLACE_MAX` bytes) runs on the blocking
//!   pool whatever the fd, since the kernel may take it in pieces.
//!
//! One race remains, inherent to a shared fd: another process (or a thread
//! reading through `std::io::stdin()`) may take the data between the poll
//! and the read, and then the read waits in the kernel, holding the LWP
//! until more data or the end comes. The monitor reports an LWP held that
//! way, as for any blocking call.
//!
//! ## Order and buffering, as in std
//!
//! [`Stdout`] and [`Stderr`] write through std's own handles: output goes
//! into std's line buffer for stdout (std's stderr has none), so `print!`,
//! `println!` and weave's stdout share one buffer and can never reorder,
//! and std's exit-time flush covers both. Only the system call that empties
//! the buffer is what weave makes wait (for writability, or on the pool).
//!
//! weave serialises its own writers with a lock of its own that blocks
//! only the ULT, and is re-entrant per thread (ULT or OS thread) as std's
//! is, so a thread holding [`StdoutLock`] can still call `stdout()`. std's
//! lock is taken only inside one system call's worth of work and never
//! held while a ULT waits: a ULT switched out while holding it would stall
//! every LWP thread that prints, and std's lock is re-entrant per *kernel*
//! thread, so another ULT on the same LWP would walk into it. The price: a
//! [`StdoutLock`] keeps weave's writers out, not `println!` calls made on
//! other threads meanwhile (std's does both).
//!
//! [`Stdin`] keeps its own buffer (8 KiB, as std's), behind weave's lock:
//! std's buffer could only be filled by std's blocking read. So a program
//! should read its stdin through weave's or through std's, not both: each
//! buffers ahead what the other would then not see, as with any two
//! buffered readers of one fd.
//!
//! On a plain OS thread every call is std's (or, for stdin, a plain
//! `read`), made in place.

use crate::published::Published;
use std::cell::RefCell;
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};

pub use std::io::{
    copy, empty, repeat, sink, BufRead, BufReader, BufWriter, Bytes, Chain, Cursor, Empty, Error,
    ErrorKind, IsTerminal, LineWriter, Lines, Read, Repeat, Result, Seek, SeekFrom, Sink, Split,
    Take, Write,
};

use crate::net::Evented;
use crate::reactor::{self, Dir};
use crate::sync::{Mutex, MutexGuard};

/// The largest write made in place (after the fd polled writable). std's
/// stdout buffer holds up to 1,024 bytes, so one write empties at most
/// 1,536: less than the 4 KiB page that makes a pipe poll writable, so the
/// kernel takes it without waiting. Larger writes go to the blocking pool,
/// whose hand-off (~20 µs) is small next to writing that much.
const IN_PLACE_MAX: usize = 512;

/// std's stdin buffer size, so that weave's makes the same reads.
const STDIN_BUF: usize = 8 * 1024;

/// One of fds 0, 1, 2, as the reactor sees it.
struct StdFd(RawFd);

impl AsRawFd for StdFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The reactor handle of a standard stream, made on the first wait, for
/// the open file the fd named then (device and inode). If the program
/// points the fd elsewhere (`dup2`), the next wait makes a new handle:
/// the old one would wait for events of a file that is no longer there.
#[derive(Default)]
struct StreamWait {
    ev: Option<((u64, u64), Evented<StdFd>)>,
}

impl StreamWait {
    /// Waits until `fd` is ready in `dir`: at once if it polls ready,
    /// otherwise in the reactor (only the calling ULT waits).
    fn until_ready(&mut self, fd: RawFd, dir: Dir) -> Result<()> {
        if reactor::ready_now(fd, dir)? {
            return Ok(());
        }
        let id = identity(fd)?;
        if !matches!(&self.ev, Some((i, _)) if *i == id) {
            self.ev = Some((id, Evented::keeping_flags(StdFd(fd))));
        }
        let (_, ev) = self.ev.as_ref().expect("set just above");
        ev.io(dir, |f| {
            if reactor::ready_now(f.0, dir)? {
                Ok(())
            } else {
                Err(ErrorKind::WouldBlock.into())
            }
        })
    }
}

/// What `fstat` says of `fd`: its (device, inode), and whether it has
/// readiness (a pipe, terminal or socket; not a regular file, a block
/// device or a directory).
fn stat(fd: RawFd) -> Result<((u64, u64), bool)> {
    // SAFETY: an all-zero `stat` is a valid value for fstat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one `stat`; a bad fd is an error, not UB.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Error::last_os_error());
    }
    let fmt = st.st_mode & libc::S_IFMT;
    let pollable = !matches!(fmt, libc::S_IFREG | libc::S_IFBLK | libc::S_IFDIR);
    Ok(((st.st_dev, st.st_ino), pollable))
}

fn identity(fd: RawFd) -> Result<(u64, u64)> {
    stat(fd).map(|(id, _)| id)
}

fn on_a_ult() -> bool {
    crate::lwp::current_ult().is_some()
}

/// A closed standard stream reads as empty and takes every write, as in
/// std (a daemon may run with fds 0-2 closed).
fn handle_ebadf<T>(r: Result<T>, default: T) -> Result<T> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(default),
        r => r,
    }
}

// ---------------------------------------------------------------------------
// stdin

/// fd 0 without a buffer: the reads `Stdin`'s buffer makes.
struct RawStdin {
    waiter: StreamWait,
}

fn read_fd0(buf: &mut [u8]) -> Result<usize> {
    let len = buf.len().min(isize::MAX as usize);
    // SAFETY: reads at most `len` bytes into `buf`, which is valid for them.
    let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), len) };
    if n < 0 {
        return Err(Error::last_os_error());
    }
    Ok(n as usize)
}

impl Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let r = if !on_a_ult() {
            read_fd0(buf)
        } else {
            match stat(0) {
                Ok((_, true)) => self
                    .waiter
                    .until_ready(0, Dir::Read)
                    .and_then(|()| read_fd0(buf)),
                Ok((_, false)) => crate::blocking(|| read_fd0(buf)),
                Err(e) => Err(e),
            }
        };
        handle_ebadf(r, 0)
    }
}

/// A handle to the process's standard input: `std::io::Stdin` whose reads
/// block only the calling thread. Reads are buffered (8 KiB); see the
/// [module documentation](self) for how it waits and why it keeps its own
/// buffer.
pub struct Stdin {
    inner: &'static Mutex<BufReader<RawStdin>>,
}

/// A locked [`Stdin`]: `BufRead` over the shared buffer, other readers
/// kept out until it drops (they wait as ULTs, their LWPs run on).
pub struct StdinLock<'a> {
    inner: MutexGuard<'a, BufReader<RawStdin>>,
}

/// The process's standard input. Every handle shares one buffer, as std's.
pub fn stdin() -> Stdin {
    // A `Published`, not a `OnceLock`: a fork never finds it half made.
    static STDIN: Published<Mutex<BufReader<RawStdin>>> = Published::new();
    Stdin {
        inner: STDIN.get_or_make(|| {
            Mutex::new(BufReader::with_capacity(
                STDIN_BUF,
                RawStdin {
                    waiter: StreamWait::default(),
                },
            ))
        }),
    }
}

impl Stdin {
    /// Locks the handle for reading lines or bytes with `BufRead`. Only
    /// the calling thread waits for the lock.
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock {
            // Not poisoned in std (a panic mid-read leaves nothing broken).
            inner: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Reads a line into `buf`, newline included, and returns its length
    /// in bytes (0 at the end of input).
    pub fn read_line(&self, buf: &mut String) -> Result<usize> {
        self.lock().read_line(buf)
    }

    /// The lines of standard input, without their `\n` or `\r\n`.
    pub fn lines(self) -> Lines<StdinLock<'static>> {
        self.lock().lines()
    }

    /// Whether standard input is a terminal.
    pub fn is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> Result<usize> {
        (&*self).read_to_string(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        (&*self).read_exact(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.lock().read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> Result<usize> {
        self.lock().read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.lock().read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> Result<usize> {
        self.lock().read_to_string(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.lock().read_exact(buf)
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.inner.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> Result<usize> {
        self.inner.read_vectored(bufs)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}

impl AsFd for Stdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: fd 0 is the process's for its whole life, as std assumes
        // for `Stdin::as_fd`.
        unsafe { BorrowedFd::borrow_raw(0) }
    }
}

impl AsRawFd for Stdin {
    fn as_raw_fd(&self) -> RawFd {
        0
    }
}

impl AsFd for StdinLock<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: as for `Stdin`.
        unsafe { BorrowedFd::borrow_raw(0) }
    }
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin").finish_non_exhaustive()
    }
}

impl fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdinLock").finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// stdout and stderr

/// Which output stream: both write through std's handle of the same name.
#[derive(Clone, Copy)]
enum Out {
    Stdout,
    Stderr,
}

impl Out {
    fn fd(self) -> RawFd {
        match self {
            Out::Stdout => 1,
            Out::Stderr => 2,
        }
    }

    /// The writer of this stream: its lock and the reactor handle.
    fn writer(self) -> &'static Writer {
        static STDOUT: Writer = Writer::new();
        static STDERR: Writer = Writer::new();
        match self {
            Out::Stdout => &STDOUT,
            Out::Stderr => &STDERR,
        }
    }

    /// Runs `f` on std's handle, locked just for the call.
    fn with_std<R>(self, f: impl FnOnce(&mut dyn Write) -> Result<R>) -> Result<R> {
        match self {
            Out::Stdout => f(&mut std::io::stdout().lock()),
            Out::Stderr => f(&mut std::io::stderr().lock()),
        }
    }

    /// One write (or flush, `f`) through std's handle that may reach the
    /// fd with up to `len` bytes beyond std's buffer; the caller holds
    /// this stream's weave lock (`waiter`).
    fn call<R: Send>(
        self,
        waiter: &RefCell<StreamWait>,
        len: usize,
        f: impl FnOnce(&mut dyn Write) -> Result<R> + Send,
    ) -> Result<R> {
        if !on_a_ult() {
            return self.with_std(f);
        }
        if len > IN_PLACE_MAX {
            return crate::blocking(|| self.with_std(f));
        }
        waiter.borrow_mut().until_ready(self.fd(), Dir::Write)?;
        self.with_std(f)
    }
}

/// weave's lock of one output stream, re-entrant per thread as std's is
/// (a thread holding a `StdoutLock` may call `stdout().write` again), and
/// the reactor handle that only the holder uses.
struct Writer {
    lock: Mutex<()>,
    /// The thread holding `lock` (`thread_key`), or 0. Written only by the
    /// holder; read by anyone, who can find their own key in it only if
    /// they wrote it themselves, so `Relaxed` is enough (std's re-entrant
    /// lock reasons the same way).
    owner: AtomicU64,
    /// How many times the holder has entered.
    depth: AtomicU32,
    waiter: HolderOnly<RefCell<StreamWait>>,
}

/// A value only the holder of the `Writer`'s lock touches.
struct HolderOnly<T>(T);

// SAFETY: the `RefCell` inside is reached only through a `WriterGuard`,
// i.e. by the one thread that holds the writer's `lock`; the mutex's
// acquire and release order those uses across threads.
unsafe impl<T> Sync for HolderOnly<T> {}

/// A key for the calling thread (ULT or OS thread), never 0.
fn thread_key() -> u64 {
    let id = crate::thread::current().id();
    (u64::from(id.index()) + 1) << 32 | u64::from(id.generation())
}

impl Writer {
    const fn new() -> Writer {
        Writer {
            lock: Mutex::new(()),
            owner: AtomicU64::new(0),
            depth: AtomicU32::new(0),
            waiter: HolderOnly(RefCell::new(StreamWait { ev: None })),
        }
    }

    fn enter(&'static self) -> WriterGuard {
        let me = thread_key();
        if self.owner.load(Relaxed) == me {
            self.depth.fetch_add(1, Relaxed);
            return WriterGuard {
                writer: self,
                guard: None,
            };
        }
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.owner.store(me, Relaxed);
        self.depth.store(1, Relaxed);
        WriterGuard {
            writer: self,
            guard: Some(guard),
        }
    }
}

/// One entry into a `Writer`; the outermost holds the mutex.
struct WriterGuard {
    writer: &'static Writer,
    guard: Option<MutexGuard<'static, ()>>,
}

impl WriterGuard {
    fn waiter(&self) -> &RefCell<StreamWait> {
        &self.writer.waiter.0
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if self.writer.depth.fetch_sub(1, Relaxed) == 1 {
            self.writer.owner.store(0, Relaxed);
        }
        drop(self.guard.take());
    }
}

/// A locked output stream: what `StdoutLock` and `StderrLock` share.
struct Locked {
    out: Out,
    guard: WriterGuard,
}

impl Locked {
    fn new(out: Out) -> Locked {
        Locked {
            out,
            guard: out.writer().enter(),
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.out
            .call(self.guard.waiter(), buf.len(), |w| w.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.out
            .call(self.guard.waiter(), len, |w| w.write_vectored(bufs))
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.out
            .call(self.guard.waiter(), buf.len(), |w| w.write_all(buf))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.call(self.guard.waiter(), 0, |w| w.flush())
    }
}

/// Defines a std-shaped output handle and its lock over `Locked`.
macro_rules! output {
    ($(#[$doc:meta])* $name:ident, $(#[$ldoc:meta])* $lock:ident, $(#[$fdoc:meta])* $fn:ident, $out:expr) => {
        $(#[$doc])*
        pub struct $name {
            _private: (),
        }

        $(#[$ldoc])*
        pub struct $lock<'a> {
            inner: Locked,
            _handle: std::marker::PhantomData<&'a $name>,
        }

        $(#[$fdoc])*
        pub fn $fn() -> $name {
            $name { _private: () }
        }

        impl $name {
            /// Locks the stream: other weave writers wait (as ULTs) until
            /// the lock drops, so a run of writes stays together. The
            /// lock is re-entrant: this thread may write through another
            /// handle meanwhile.
            pub fn lock(&self) -> $lock<'static> {
                $lock {
                    inner: Locked::new($out),
                    _handle: std::marker::PhantomData,
                }
            }

            /// Whether the stream is a terminal.
            pub fn is_terminal(&self) -> bool {
                std::os::fd::AsFd::as_fd(self).is_terminal()
            }
        }

        impl Write for $lock<'_> {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                self.inner.write(buf)
            }

            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize> {
                self.inner.write_vectored(bufs)
            }

            fn write_all(&mut self, buf: &[u8]) -> Result<()> {
                self.inner.write_all(buf)
            }

            fn flush(&mut self) -> Result<()> {
                self.inner.flush()
            }
        }

        impl Write for &$name {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                self.lock().write(buf)
            }

            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize> {
                self.lock().write_vectored(bufs)
            }

            fn write_all(&mut self, buf: &[u8]) -> Result<()> {
                self.lock().write_all(buf)
            }

            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<()> {
                // One lock for the whole formatted output, as std's.
                self.lock().write_fmt(args)
            }

            fn flush(&mut self) -> Result<()> {
                self.lock().flush()
            }
        }

        impl Write for $name {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                (&*self).write(buf)
            }

            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize> {
                (&*self).write_vectored(bufs)
            }

            fn write_all(&mut self, buf: &[u8]) -> Result<()> {
                (&*self).write_all(buf)
            }

            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<()> {
                (&*self).write_fmt(args)
            }

            fn flush(&mut self) -> Result<()> {
                (&*self).flush()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                // SAFETY: the fd is the process's for its whole life, as
                // std assumes for its own handle.
                unsafe { BorrowedFd::borrow_raw($out.fd()) }
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                $out.fd()
            }
        }

        impl AsFd for $lock<'_> {
            fn as_fd(&self) -> BorrowedFd<'_> {
                // SAFETY: as for the handle.
                unsafe { BorrowedFd::borrow_raw($out.fd()) }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        impl fmt::Debug for $lock<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($lock)).finish_non_exhaustive()
            }
        }
    };
}

output!(
    /// A handle to the process's standard output: `std::io::Stdout` whose
    /// writes block only the calling thread. It writes into std's own
    /// line buffer, so its output and `println!`'s keep their order; see
    /// the [module documentation](self).
    Stdout,
    /// A locked [`Stdout`]; see [`Stdout::lock`].
    StdoutLock,
    /// The process's standard output (line-buffered: std's buffer).
    stdout,
    Out::Stdout
);

output!(
    /// A handle to the process's standard error: `std::io::Stderr` whose
    /// writes block only the calling thread. Unbuffered, as std's; its
    /// output and `eprintln!`'s keep their order.
    Stderr,
    /// A locked [`Stderr`]; see [`Stderr::lock`].
    StderrLock,
    /// The process's standard error (unbuffered).
    stderr,
    Out::Stderr
);

//! Processes with the shape of `std::process`: a [`Command`] builder whose
//! [`Child`] is waited for, and whose pipes are read and written, blocking
//! only the calling thread.
//!
//! ```
//! use weave::process::Command;
//!
//! let out = weave::thread::spawn(|| Command::new("echo").arg("hello").output())
//!     .join()
//!     .unwrap()?;
//! assert_eq!(out.stdout, b"hello\n");
//! assert!(out.status.success());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! | std                                     | weave                                   |
//! |-----------------------------------------|-----------------------------------------|
//! | `std::process::Command`                 | [`Command`] (the same builder methods)  |
//! | `std::process::Child`                   | [`Child`] (the same public fields)      |
//! | `ChildStdin`, `ChildStdout`, `ChildStderr` | [`ChildStdin`], [`ChildStdout`], [`ChildStderr`] |
//! | `ExitStatus`, `Output`, `Stdio`, `exit`, ... | the same types, re-exported          |
//!
//! ## How a wait blocks only the ULT
//!
//! A `Command` is std's, underneath: `spawn` is std's `spawn` (a
//! `posix_spawn`/`vfork` and exec handshake that the calling kernel thread
//! waits for, typically well under a millisecond). Right after, weave opens
//! a *pidfd* for the child (`pidfd_open`, Linux 5.3+), an fd that becomes
//! readable when the child exits. [`Child::wait`] on a ULT asks std's
//! `try_wait` (`waitpid` with `WNOHANG`) and, while the child runs, waits
//! for the pidfd's readability in the runtime's reactor, as a socket read
//! waits: the LWP runs other threads meanwhile, and no kernel thread sits in
//! `waitpid`. The reap is std's own, so std's cached status, `kill` after
//! exit and `ExitStatus` all behave as std's.
//!
//! Without a pidfd (`pidfd_open` fails: `ENOSYS` before Linux 5.3, or a
//! seccomp filter, or no fd left), `wait` runs std's blocking `wait` on the
//! blocking pool ([`crate::blocking`]): still only the ULT waits, at the
//! cost of a pool thread for as long as the child runs.
//!
//! The parent's ends of piped stdin, stdout and stderr are in non-blocking
//! mode (only the parent holds those open file descriptions, so nobody
//! else sees the flag) and wait in the reactor like sockets. Giving one to
//! another command as its [`Stdio`] (`Stdio::from(child.stdout.take()...)`)
//! puts it back in blocking mode first, as the next program expects.
//!
//! On a plain OS thread every call waits in the kernel, as std's does
//! (`poll` on the pidfd or the pipe).
//!
//! Differences from std: [`Command`] tracks which standard streams *its*
//! methods set, so that [`Command::output`] knows which to capture; a
//! stream set through [`Command::as_std_mut`] is not seen, and `output`
//! captures it anyway. `std::os::unix::process::CommandExt` (`uid`,
//! `pre_exec`, `process_group`, ...) is reached through `as_std_mut`.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::panic::resume_unwind;
use std::path::Path;

pub use std::process::{
    abort, exit, id, CommandArgs, CommandEnvs, ExitCode, ExitStatus, Output, Stdio, Termination,
};

use crate::net::Evented;
use crate::reactor::Dir;

/// A process builder: `std::process::Command`, whose `status` and `output`
/// block only the calling thread. See the [module documentation](self).
pub struct Command {
    inner: std::process::Command,
    /// Whether `stdin`, `stdout`, `stderr` (in that order) were set through
    /// this type: `output` gives the others its defaults (null stdin, piped
    /// stdout and stderr) for that one call, as std's does.
    set: [bool; 3],
}

impl Command {
    /// A command to run `program`, with no arguments, the parent's
    /// environment and working directory, and (for `spawn` and `status`)
    /// the parent's standard streams. A program name without a `/` is
    /// looked up in `PATH`, as std does.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes a variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts the child's environment empty (variables set afterwards are
    /// still passed).
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// The child's standard input.
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg);
        self.set[0] = true;
        self
    }

    /// The child's standard output.
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg);
        self.set[1] = true;
        self
    }

    /// The child's standard error.
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg);
        self.set[2] = true;
        self
    }

    /// Starts the child and returns a handle to it. Streams not set are
    /// inherited from the parent.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Ok(Child::from(self.inner.spawn()?))
    }

    /// Runs the child to its end and collects its output: stdout and
    /// stderr are captured and stdin is null unless set otherwise, as in
    /// std. Only the calling thread waits.
    pub fn output(&mut self) -> io::Result<Output> {
        let defaults: [fn() -> Stdio; 3] = [Stdio::null, Stdio::piped, Stdio::piped];
        self.apply_unset(defaults);
        let spawned = self.inner.spawn();
        // Back to what `spawn` and `status` use for an unset stream.
        self.apply_unset([Stdio::inherit; 3]);
        Child::from(spawned?).wait_with_output()
    }

    /// Runs the child to its end and returns its exit status; streams not
    /// set are inherited. Only the calling thread waits.
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    fn apply_unset(&mut self, cfg: [fn() -> Stdio; 3]) {
        if !self.set[0] {
            self.inner.stdin(cfg[0]());
        }
        if !self.set[1] {
            self.inner.stdout(cfg[1]());
        }
        if !self.set[2] {
            self.inner.stderr(cfg[2]());
        }
    }

    /// The program to run.
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments (not the program).
    pub fn get_args(&self) -> CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The environment changes: set (`Some`) or removed (`None`).
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// The working directory, if set.
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// The std command underneath.
    pub fn as_std(&self) -> &std::process::Command {
        &self.inner
    }

    /// The std command underneath, for what `CommandExt` adds (`uid`,
    /// `pre_exec`, ...). Standard streams set here are not seen by
    /// [`output`](Self::output), which captures them anyway.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a std command; streams it has set are not seen by
    /// [`Command::output`] (see [`Command::as_std_mut`]).
    fn from(inner: std::process::Command) -> Command {
        Command {
            inner,
            set: [false; 3],
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A running or exited child process: `std::process::Child` whose `wait`
/// and pipes block only the calling thread. Dropping it neither kills nor
/// waits for the child, as in std.
pub struct Child {
    inner: std::process::Child,
    /// Readable once the child exits; `None` where `pidfd_open` failed
    /// (then `wait` goes to the blocking pool).
    pidfd: Option<Evented<OwnedFd>>,
    /// The parent's end of the child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
}

impl From<std::process::Child> for Child {
    /// Adopts a child spawned by std: its pipes move to weave's types (in
    /// non-blocking mode) and a pidfd is opened for it.
    fn from(mut inner: std::process::Child) -> Child {
        Child {
            pidfd: pidfd_open(inner.id()).map(Evented::adopt),
            stdin: inner.stdin.take().map(ChildStdin::from),
            stdout: inner.stdout.take().map(ChildStdout::from),
            stderr: inner.stderr.take().map(ChildStderr::from),
            inner,
        }
    }
}

/// A pidfd for the child `pid`, or `None` if the kernel will not give one.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // no memory is passed. `pid` is our unreaped child, so it cannot have
    // been reused by another process.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        debug_assert!(
            matches!(
                io::Error::last_os_error().raw_os_error(),
                Some(libc::ENOSYS | libc::EPERM | libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            ),
            "pidfd_open: {}",
            io::Error::last_os_error()
        );
        return None;
    }
    // SAFETY: `fd` is a new fd that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

impl Child {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Sends `SIGKILL` to the child; `Ok` if it has exited already, as in
    /// std. `wait` then gives a status whose `signal()` is `Some(9)`.
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The exit status if the child has exited, `None` if it still runs;
    /// never waits.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Closes the child's stdin (so that a child reading it sees the end)
    /// and waits for the child to exit. On a ULT only the ULT waits: for the
    /// pidfd in the reactor, or on the blocking pool without one (see the
    /// [module documentation](self)).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let inner = &mut self.inner;
        match &self.pidfd {
            Some(pidfd) => pidfd.io(Dir::Read, |_| {
                inner
                    .try_wait()?
                    .ok_or_else(|| io::ErrorKind::WouldBlock.into())
            }),
            None => crate::blocking(|| inner.wait()),
        }
    }

    /// Closes stdin, reads stdout and stderr to their ends (both at once,
    /// so that a child filling one pipe does not stall), and waits for the
    /// child. A stream that was not piped gives an empty vector.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        match (self.stdout.take(), self.stderr.take()) {
            (None, None) => {}
            (Some(mut o), None) => {
                o.read_to_end(&mut stdout)?;
            }
            (None, Some(mut e)) => {
                e.read_to_end(&mut stderr)?;
            }
            (Some(mut o), Some(mut e)) => {
                let (out, err) = (&mut stdout, &mut stderr);
                crate::thread::scope(|s| {
                    let errs = s.spawn(move || e.read_to_end(err));
                    let outs = o.read_to_end(out);
                    let errs = errs.join().unwrap_or_else(|p| resume_unwind(p));
                    outs.and(errs)
                })?;
            }
        }
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.inner.id())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

/// One of a child's pipes, as the parent holds it: the type, std's
/// namesake it adopts, and the conversions std has.
macro_rules! child_pipe {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        pub struct $name {
            io: Evented<File>,
        }

        impl From<$std> for $name {
            /// Adopts std's pipe end: non-blocking underneath from now on,
            /// waited for in the reactor.
            fn from(p: $std) -> $name {
                $name {
                    io: Evented::adopt(File::from(OwnedFd::from(p))),
                }
            }
        }

        impl From<$name> for Stdio {
            /// Hands the pipe end to another command, back in blocking
            /// mode as a program expects its standard streams.
            fn from(p: $name) -> Stdio {
                Stdio::from(OwnedFd::from(p))
            }
        }

        impl From<$name> for OwnedFd {
            /// Gives the fd back in blocking mode.
            fn from(p: $name) -> OwnedFd {
                p.io.into_blocking().into()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get().as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get().as_raw_fd()
            }
        }

        impl IntoRawFd for $name {
            /// Gives the fd back in blocking mode.
            fn into_raw_fd(self) -> RawFd {
                self.io.into_blocking().into_raw_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

child_pipe!(
    /// The parent's end of a child's stdin: `std::process::ChildStdin`
    /// whose writes block only the calling thread. Dropping it closes the
    /// pipe, and the child reads the end.
    ChildStdin,
    std::process::ChildStdin
);
child_pipe!(
    /// The parent's end of a child's stdout: `std::process::ChildStdout`
    /// whose reads block only the calling thread.
    ChildStdout,
    std::process::ChildStdout
);
child_pipe!(
    /// The parent's end of a child's stderr: `std::process::ChildStderr`
    /// whose reads block only the calling thread.
    ChildStderr,
    std::process::ChildStderr
);

impl Write for &ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Dir::Write, |mut f| f.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io.io(Dir::Write, |mut f| f.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `Read` for a pipe's read end: a short read means the pipe was emptied,
/// so the next read waits for the reactor rather than making a call that
/// would fail (`Evented::read_stream`).
macro_rules! pipe_read {
    ($name:ident) => {
        impl Read for $name {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.io.read_stream(buf.len(), |mut f| f.read(buf))
            }

            fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io.read_stream(len, |mut f| f.read_vectored(bufs))
            }
        }
    };
}

pipe_read!(ChildStdout);
pipe_read!(ChildStderr);

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// The path taken when `pidfd_open` is refused (kernels before 5.3):
    /// the wait runs on the blocking pool and gives the same status.
    #[test]
    fn a_child_without_a_pidfd_is_waited_for_on_the_blocking_pool() {
        let status = crate::thread::spawn(|| {
            let inner = std::process::Command::new("sh")
                .args(["-c", "exit 5"])
                .spawn()
                .unwrap();
            let mut child = Child {
                inner,
                pidfd: None,
                stdin: None,
                stdout: None,
                stderr: None,
            };
            child.wait()
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(status.code(), Some(5));
        assert_eq!(status.signal(), None);
    }
}

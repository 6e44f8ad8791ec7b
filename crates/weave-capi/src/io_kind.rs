//! What kind of file an fd names, for `read`, `write`, `readv` and
//! `writev` on a ULT (`io.rs`): a socket, a file that can be waited for
//! (`io_pipe.rs`), or one whose call is the system's.
//!
//! Two probes tell the kind, and each is exact on its own: the socket
//! call made without blocking (`recv` with `MSG_DONTWAIT`), which a file
//! that is not a socket refuses with `ENOTSOCK` (and which on a socket is
//! the call itself: one system call), and `fstat`, whose file type says
//! all three kinds at once. The only state here is a hint of which probe
//! to make first: one bit per fd number, set when the socket probe said
//! `ENOTSOCK`, so that the next call on that number starts with `fstat`
//! (then a regular file or a pipe costs `fstat` and the call, instead of
//! `recv`, `fstat` and the call). The hint never decides the kind: a
//! number whose file changed under it by calls weave does not see (a
//! `dup2`, a `close` in a library, an fd another thread opened) is still
//! told right by the probe made, at worst one system call later. `fstat`
//! naming a socket clears the bit; so does `close` (`weave_close`), so
//! that a socket given a closed file's number pays nothing extra.
//!
//! Fd numbers of [`HINTED`] and above keep no hint (the socket probe
//! first, as for a number never seen).

use std::ffi::c_int;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// What the calls of `io.rs` do with an fd (from one `fstat`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// A socket: the socket calls of `io.rs`.
    Socket,
    /// A pipe, an eventfd, a character device and the other types the
    /// kernel may try without blocking: `io_pipe.rs` waits for them.
    Waitable,
    /// A regular file, a directory or a block device (their waits are
    /// disk waits), or an fd `fstat` refuses: the system's call, which
    /// also reports a bad fd.
    System,
}

/// The kind of file `fd` names now.
pub(crate) fn kind(fd: c_int) -> Kind {
    // SAFETY: an all-zero `stat` is a valid out-value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a plain system call writing into `st`.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Kind::System;
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK => Kind::System,
        _ => Kind::Waitable,
    }
}

/// Fd numbers below this keep a hint: 65,536 bits, 8 KiB of zeroed
/// static memory, the fd limit most systems give a process; a program
/// with more fds has mostly sockets, for which no hint is kept anyway.
const HINTED: usize = 1 << 16;

/// Bit `fd % 64` of word `fd / 64`: the socket probe said `ENOTSOCK` for
/// `fd` the last time. Relaxed throughout: every value is correct (the
/// probes decide), only a slower start.
static NOT_SOCKET: [AtomicU64; HINTED / 64] = [const { AtomicU64::new(0) }; HINTED / 64];

/// The word and the bit of `fd`'s hint; `None` for a number that keeps
/// none.
fn slot(fd: c_int) -> Option<(&'static AtomicU64, u64)> {
    let i = usize::try_from(fd).ok().filter(|&i| i < HINTED)?;
    Some((&NOT_SOCKET[i / 64], 1 << (i % 64)))
}

/// Whether `fd` was not a socket the last time it was probed: then
/// `fstat` is the first probe.
#[inline]
pub(crate) fn seen_not_socket(fd: c_int) -> bool {
    slot(fd).is_some_and(|(w, bit)| w.load(Relaxed) & bit != 0)
}

/// Records that the socket probe said `ENOTSOCK` for `fd`.
pub(crate) fn remember_not_socket(fd: c_int) {
    if let Some((w, bit)) = slot(fd) {
        // Written only when it changes: the word is shared by 64 fds.
        if w.load(Relaxed) & bit == 0 {
            w.fetch_or(bit, Relaxed);
        }
    }
}

/// Drops `fd`'s hint: its number names a socket now, or nothing.
pub(crate) fn forget(fd: c_int) {
    if let Some((w, bit)) = slot(fd) {
        if w.load(Relaxed) & bit != 0 {
            w.fetch_and(!bit, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_tells_a_socket_a_pipe_and_a_regular_file() {
        let mut sv = [0; 2];
        // SAFETY: an out-array of two fds.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) };
        assert_eq!(r, 0);
        let mut p = [0; 2];
        // SAFETY: as above.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(kind(sv[0]), Kind::Socket);
        assert_eq!(kind(p[0]), Kind::Waitable);
        assert_eq!(kind(file.as_raw_fd()), Kind::System);
        assert_eq!(kind(-1), Kind::System);
        for fd in sv.into_iter().chain(p) {
            // SAFETY: fds this test made.
            unsafe { libc::close(fd) };
        }
    }

    #[test]
    fn hint_is_kept_per_fd_and_dropped_by_forget() {
        let fd = HINTED as c_int - 3;
        assert!(!seen_not_socket(fd));
        remember_not_socket(fd);
        assert!(seen_not_socket(fd));
        assert!(!seen_not_socket(fd - 1) && !seen_not_socket(fd + 1));
        forget(fd);
        assert!(!seen_not_socket(fd));
        // Numbers outside the table keep no hint.
        remember_not_socket(HINTED as c_int);
        assert!(!seen_not_socket(HINTED as c_int));
        remember_not_socket(-1);
        assert!(!seen_not_socket(-1));
    }
}

//! One `madvise` advice over many page ranges in one system call.
//!
//! A batch of fresh stacks needs the same two things per stack: a guard
//! page installed, and (at the top of the stack) a first page the ULT's
//! first frame will be written to. One `madvise` per page costs a system
//! call each, and a first page left to fault costs a trap each; on the
//! machines weave was measured on either is several hundred ns, as much as
//! the page-table work itself. `process_madvise(2)` takes a vector of
//! ranges: with `PIDFD_SELF` (Linux 6.14+; the calling thread's own memory,
//! so a `fork`ed child never advises its parent's) and every advice allowed
//! on one's own memory (Linux 6.13+), a batch of 32 stacks costs two calls.
//! On an older kernel the first call fails, and every later batch goes
//! range by range with plain `madvise`, as before.
//!
//! Owns no memory: the caller owns the ranges it passes. Nothing above
//! `stack` calls it.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use super::PAGE;

/// `PIDFD_SELF_THREAD` from `<linux/pidfd.h>` (Linux 6.14): the calling
/// thread, whose memory is the process's. The libc crate does not carry it.
const PIDFD_SELF: libc::c_int = -10000;

/// Ranges per call: the kernel's `UIO_MAXIOV`.
const MAX_IOV: usize = 1024;

/// Whether `process_madvise` on our own memory works here.
static SUPPORT: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// Applies `advice` to each `PAGE` at the addresses of `pages` (each
/// page-aligned), in as few system calls as the kernel allows. Returns how
/// many of them, from the first, were advised: all of them unless the
/// advice failed on one (its error is then `io::Error::last_os_error`).
///
/// # Safety
///
/// Every page is in a private anonymous mapping of the caller's that
/// nothing else uses, and `advice` is one whose effect on such a page the
/// caller wants (a guard, a populate).
pub(crate) unsafe fn each_page(pages: &[usize], advice: libc::c_int) -> usize {
    let mut done = 0;
    if SUPPORT.load(Relaxed) != NO {
        while done < pages.len() {
            let n = (pages.len() - done).min(MAX_IOV);
            let iov: Vec<libc::iovec> = pages[done..done + n]
                .iter()
                .map(|&p| libc::iovec {
                    iov_base: p as *mut _,
                    iov_len: PAGE,
                })
                .collect();
            // SAFETY: `iov` describes `n` ranges the caller vouched for;
            // PIDFD_SELF names our own memory. The kernel reads `iov` only.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_process_madvise,
                    PIDFD_SELF,
                    iov.as_ptr(),
                    n,
                    advice,
                    0,
                )
            };
            if rc < 0 {
                if SUPPORT.load(Relaxed) == UNKNOWN {
                    // ENOSYS, EBADF (no PIDFD_SELF), EINVAL (advice not
                    // allowed through it): an older kernel. Go page by page.
                    SUPPORT.store(NO, Relaxed);
                }
                break;
            }
            SUPPORT.store(YES, Relaxed);
            // The kernel stops at the first range that failed and says how
            // many bytes it advised before it.
            let advised = rc as usize / PAGE;
            done += advised;
            if advised < n {
                break;
            }
        }
    }
    // What is left (all of it, on an older kernel; or from the range that
    // failed, whose error the caller will read) goes one call per page.
    while done < pages.len() {
        // SAFETY: as above, for one page.
        if unsafe { libc::madvise(pages[done] as *mut _, PAGE, advice) } != 0 {
            break;
        }
        done += 1;
    }
    done
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn populate_makes_every_page_resident_and_zero() {
        let len = 64 * PAGE;
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let base = p as usize;
        // Every other page.
        let pages: Vec<usize> = (0..32).map(|k| base + 2 * k * PAGE).collect();
        // SAFETY: pages of our own fresh mapping.
        assert_eq!(unsafe { each_page(&pages, libc::MADV_POPULATE_WRITE) }, 32);
        let mut v = vec![0u8; len / PAGE];
        // SAFETY: the mapping is ours; `v` has a byte per page.
        assert_eq!(unsafe { libc::mincore(p, len, v.as_mut_ptr()) }, 0);
        for (k, r) in v.iter().enumerate() {
            assert_eq!(r & 1 == 1, k % 2 == 0, "page {k}");
        }
        for &page in &pages {
            // SAFETY: a populated page of our mapping.
            assert_eq!(unsafe { *(page as *const u64) }, 0);
        }
        // SAFETY: our mapping, unused from here on.
        unsafe { libc::munmap(p, len) };
    }
}

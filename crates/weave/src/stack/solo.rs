//! Solo stacks: a stack with a guard of its own size, outside the pool.
//!
//! The pool's stacks all have one guard page (`mod.rs`): its chunks are
//! carved in spans of a class size plus one page, and death row recycles
//! a stack into any ULT of its class. A ULT that asks for another guard
//! (POSIX's `pthread_attr_setguardsize`: at least that many bytes, rounded
//! up to pages, of inaccessible memory below the stack, and none for 0)
//! gets a mapping of its own instead:
//!
//! ```text
//!  one mmap(MAP_NORESERVE) per solo stack, unmapped when its ULT is done
//!  ┌──────────────────────┬──────────────────────┐
//!  │ guard: `guard` bytes │ stack  (grows ↓)     │
//!  │ (0 bytes: none)      │ limit ........ base  │
//!  └──────────────────────┴──────────────────────┘
//! ```
//!
//! The guard is installed with `MADV_GUARD_INSTALL` (one VMA), or
//! `mprotect(PROT_NONE)` on kernels without it (two). Such a stack never
//! enters a cache or the pool, so a stack with a non-default guard is
//! never handed to a ULT that asked for the default, nor the other way
//! round; its cost is a `mmap` and a `munmap` per thread, which is what
//! glibc pays for every thread. Its guard is a guard page for the overflow
//! handler as the pool's are: a hit is reported with the thread's name.
//! It is registered with valgrind from `Stack::solo` to `release`
//! (`valgrind.rs`): its range is mapped again by later stacks and other
//! memory.

use std::io;

use super::{Stack, MADV_GUARD_INSTALL, PAGE, SOLO_CLASS};

/// The largest guard weave installs: the guard's pages ride in the
/// stack's class word (`Stack::solo`), 24 bits of them (64 GiB).
pub const MAX_GUARD_SIZE: usize = ((1 << 24) - 1) * PAGE;

/// Bits of the class word below the guard's page count: the size (under
/// 2^31, `MAX_STACK_SIZE`) above the class byte.
const GUARD_SHIFT: u32 = 40;

impl Stack {
    /// A stack of `size` usable bytes (a multiple of `PAGE`) above a guard
    /// of `guard` bytes rounded up to pages (none for 0), in a mapping of
    /// its own (module doc).
    pub(crate) fn solo(size: usize, guard: usize) -> io::Result<Stack> {
        debug_assert!(size % PAGE == 0 && size <= super::MAX_STACK_SIZE);
        let guard = guard.div_ceil(PAGE) * PAGE;
        if guard > MAX_GUARD_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a guard of {guard} bytes exceeds weave's limit of {MAX_GUARD_SIZE}; ask \
                     for a smaller one"
                ),
            ));
        }
        let lo = super::reserve(guard + size)?;
        if guard != 0 {
            if let Err(e) = install(lo, guard) {
                // SAFETY: the mapping was made above and nothing uses it.
                unsafe { libc::munmap(lo as *mut _, guard + size) };
                return Err(e);
            }
        }
        // Until `release` (`valgrind.rs`).
        super::valgrind::register(lo + guard, lo + guard + size);
        Ok(Stack {
            base: lo + guard + size,
            class: (guard / PAGE) << GUARD_SHIFT | size << 8 | usize::from(SOLO_CLASS),
        })
    }

    /// Whether this is a solo stack (module doc).
    pub(crate) fn is_solo(&self) -> bool {
        self.class & 0xff == usize::from(SOLO_CLASS)
    }

    /// A solo stack's usable size.
    pub(super) fn solo_size(&self) -> usize {
        (self.class >> 8) & ((1 << (GUARD_SHIFT - 8)) - 1)
    }

    /// A solo stack's guard, in bytes.
    pub(super) fn solo_guard(&self) -> usize {
        (self.class >> GUARD_SHIFT) * PAGE
    }
}

/// Makes `lo..lo + len` inaccessible: a guard region.
fn install(lo: usize, len: usize) -> io::Result<()> {
    // SAFETY: `lo..lo + len` is a fresh private mapping of ours.
    if unsafe { libc::madvise(lo as *mut _, len, MADV_GUARD_INSTALL) } == 0 {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { libc::mprotect(lo as *mut _, len, libc::PROT_NONE) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    Err(io::Error::new(
        err.kind(),
        format!("cannot install the guard of a new stack ({len} bytes): {err}"),
    ))
}

/// Gives a finished ULT's solo stack back to the kernel.
///
/// # Safety
///
/// Nothing runs on `stack` or refers into it any more.
pub(crate) unsafe fn release(stack: Stack) {
    debug_assert!(stack.is_solo());
    super::valgrind::deregister(stack.limit_addr());
    let lo = stack.limit_addr() - stack.solo_guard();
    let len = stack.base - lo;
    // SAFETY: the caller's contract; `lo..lo + len` is the mapping
    // `Stack::solo` made.
    let rc = unsafe { libc::munmap(lo as *mut _, len) };
    debug_assert_eq!(rc, 0, "munmap of a solo stack failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `addr` is readable: `mincore` does not say, so ask the
    /// kernel to read it for us (`EFAULT` if it cannot).
    fn readable(addr: usize) -> bool {
        let mut fds = [0; 2];
        // SAFETY: a pipe of our own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: write(2) reads `addr` in the kernel; a bad one is EFAULT.
        let n = unsafe { libc::write(fds[1], addr as *const _, 1) };
        // SAFETY: ours.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        n == 1
    }

    #[test]
    fn a_solo_stack_has_the_guard_asked_for_below_it() {
        let s = Stack::solo(64 * 1024, 5 * PAGE + 1).unwrap();
        assert!(s.is_solo() && !s.is_user());
        assert_eq!(s.size(), 64 * 1024);
        let (lo, hi) = s.guard_range();
        assert_eq!((hi, hi - lo), (s.limit_addr(), 6 * PAGE));
        assert!(readable(s.limit_addr()) && readable(s.base - 1));
        assert!(!readable(s.limit_addr() - 1) && !readable(lo));
        // SAFETY: nothing runs on it.
        unsafe { release(s) };
    }

    #[test]
    fn a_solo_stack_with_guard_zero_has_none() {
        let s = Stack::solo(16 * 1024, 0).unwrap();
        let (lo, hi) = s.guard_range();
        assert_eq!((lo, hi), (s.limit_addr(), s.limit_addr()));
        assert!(readable(s.limit_addr()));
        // SAFETY: nothing runs on it.
        unsafe { release(s) };
    }

    #[test]
    fn a_guard_beyond_the_limit_is_refused() {
        let e = Stack::solo(16 * 1024, MAX_GUARD_SIZE + 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

//! Heap blocks of one size for join packets, cached per LWP: a packet let
//! go of on an LWP leaves its block in that LWP's [`Blocks`], and the next
//! spawn there takes it back, with no `malloc` or `free`.
//!
//! Owns the blocks' size and alignment, their allocation and the cache;
//! what lives in a block is the packet module's (`packet.rs`, which puts a
//! small closure's packet there). Layer 2: names no LWP, queue or
//! scheduler; each LWP keeps one [`Blocks`] among its owner-only state and
//! the packet module reaches it through the LWP.
//!
//! Why: a program that spawns a batch of threads and then joins them has
//! as many packets live as threads, more than glibc's per-thread cache
//! holds (7 of a size), and each packet cost ~280 instructions of
//! `malloc` and ~130 of `free` (callgrind, batches of 1,000 on one LWP),
//! a sixth of a spawn and join. A cache keeps at most [`KEEP`] blocks
//! (112 KiB) an LWP; a block let go of beyond that, or on an OS thread, is
//! freed.

use std::alloc::Layout;
use std::ptr::NonNull;

/// Bytes of a block: the packet of a closure of up to four words with a
/// word-sized result fits (the same size as a held thread's room).
pub(crate) const BLOCK: usize = 112;
/// Alignment of a block.
pub(crate) const ALIGN: usize = 16;
/// Blocks an LWP keeps at most.
pub(crate) const KEEP: usize = 1024;

fn layout() -> Layout {
    match Layout::from_size_align(BLOCK, ALIGN) {
        Ok(l) => l,
        Err(_) => unreachable!("BLOCK and ALIGN make a valid layout"),
    }
}

/// A new block from the heap.
pub(crate) fn alloc() -> NonNull<u8> {
    let layout = layout();
    // SAFETY: the layout is not zero-sized.
    match NonNull::new(unsafe { std::alloc::alloc(layout) }) {
        Some(p) => p,
        None => std::alloc::handle_alloc_error(layout),
    }
}

/// Gives a block back to the heap.
///
/// # Safety
///
/// `p` came from [`alloc`] (directly or through a [`Blocks`]), nothing
/// uses it any more, and it is freed once.
pub(crate) unsafe fn free(p: NonNull<u8>) {
    // SAFETY: the caller's contract: allocated with this layout, unused.
    unsafe { std::alloc::dealloc(p.as_ptr(), layout()) };
}

/// An LWP's cache of free blocks (at most [`KEEP`]).
#[derive(Default)]
pub(crate) struct Blocks {
    free: Vec<NonNull<u8>>,
}

// SAFETY: the blocks are plain heap memory nobody else points to; the
// cache moves with the LWP state that owns it.
unsafe impl Send for Blocks {}

impl Blocks {
    /// A block: the last one given back, or a new one.
    #[inline]
    pub(crate) fn take(&mut self) -> NonNull<u8> {
        match self.free.pop() {
            Some(p) => p,
            None => alloc(),
        }
    }

    /// Keeps `p` for a later [`take`](Self::take), or frees it if the
    /// cache is full.
    ///
    /// # Safety
    ///
    /// As [`free`]: `p` is a block nothing uses any more, given once.
    #[inline]
    pub(crate) unsafe fn give(&mut self, p: NonNull<u8>) {
        if self.free.len() < KEEP {
            if self.free.capacity() == 0 {
                self.free.reserve_exact(KEEP);
            }
            self.free.push(p);
        } else {
            // SAFETY: the caller's contract.
            unsafe { free(p) };
        }
    }

    /// Frees every cached block (the LWP is going away).
    pub(crate) fn clear(&mut self) {
        for p in self.free.drain(..) {
            // SAFETY: a cached block is unused and listed once.
            unsafe { free(p) };
        }
    }

    /// Blocks cached now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.free.len()
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_block_given_back_is_the_next_one_taken() {
        let mut b = Blocks::default();
        let p = b.take();
        // SAFETY: `p` is unused and given once.
        unsafe { b.give(p) };
        assert_eq!(b.take(), p);
        // SAFETY: as above.
        unsafe { b.give(p) };
    }

    #[test]
    fn the_cache_keeps_at_most_keep_blocks() {
        let mut b = Blocks::default();
        let taken: Vec<_> = (0..KEEP + 10).map(|_| b.take()).collect();
        for p in taken {
            // SAFETY: each block is unused and given once.
            unsafe { b.give(p) };
        }
        assert_eq!(b.len(), KEEP, "the ten beyond KEEP were freed");
        b.clear();
        assert_eq!(b.len(), 0);
    }
}

//! Heap blocks for join packets, cached per LWP: a packet let go of on an
//! LWP leaves its block in that LWP's [`Blocks`], and the next spawn there
//! of a packet of the same size takes it back, with no `malloc` or `free`.
//! A small packet lives in its TCB's room (`room.rs`) when it can: a block
//! serves a spawn whose room still holds an earlier thread's packet.
//!
//! Owns the blocks' sizes and alignment, their allocation and the cache;
//! what lives in a block is the packet module's (`packet.rs`, which puts a
//! small closure's packet there). Layer 2: names no LWP, queue or
//! scheduler; each LWP keeps one [`Blocks`] among its owner-only state and
//! the packet module reaches it through the LWP.
//!
//! Why: a program that spawns a batch of threads and then joins them has
//! as many packets live as threads, more than glibc's per-thread cache
//! holds (7 of a size), and each packet cost ~280 instructions of
//! `malloc` and ~130 of `free` (callgrind, batches of 1,000 on one LWP),
//! a sixth of a spawn and join. A block is the packet's own size (a
//! multiple of 8 up to [`BLOCK`]), kept on that size's list, so that a
//! packet from the heap costs no more memory than before; an LWP keeps at
//! most [`KEEP`] blocks in all. A block let go of beyond that, or on an OS
//! thread, is freed.

use std::alloc::Layout;
use std::ptr::NonNull;

/// Bytes of the largest block: the packet of a closure of up to four
/// words with a word-sized result fits (the same size as a held thread's
/// room).
pub(crate) const BLOCK: usize = 112;
/// Alignment of every block.
pub(crate) const ALIGN: usize = 16;
/// Blocks an LWP keeps at most, all sizes together.
pub(crate) const KEEP: usize = 1024;
/// Sizes are multiples of this.
const STEP: usize = 8;

/// Whether a packet of `size` bytes and alignment `align` goes in a block.
pub(crate) const fn fits(size: usize, align: usize) -> bool {
    size <= BLOCK && align <= ALIGN && size >= ALIGN && size % STEP == 0
}

fn layout(size: usize) -> Layout {
    debug_assert!(fits(size, ALIGN));
    match Layout::from_size_align(size, ALIGN) {
        Ok(l) => l,
        Err(_) => unreachable!("a block's size and ALIGN make a valid layout"),
    }
}

/// A new block of `size` bytes (`fits(size, _)`) from the heap.
pub(crate) fn alloc(size: usize) -> NonNull<u8> {
    let layout = layout(size);
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
/// `p` came from [`alloc`] with this `size` (directly or through a
/// [`Blocks`]), nothing uses it any more, and it is freed once.
pub(crate) unsafe fn free(p: NonNull<u8>, size: usize) {
    // SAFETY: the caller's contract: allocated with this layout, unused.
    unsafe { std::alloc::dealloc(p.as_ptr(), layout(size)) };
}

/// An LWP's cache of free blocks, a list per size (at most [`KEEP`] in
/// all).
#[derive(Default)]
pub(crate) struct Blocks {
    free: [Vec<NonNull<u8>>; BLOCK / STEP + 1],
    kept: usize,
}

// SAFETY: the blocks are plain heap memory nobody else points to; the
// cache moves with the LWP state that owns it.
unsafe impl Send for Blocks {}

impl Blocks {
    /// A block of `size` bytes (`fits(size, _)`): the last one of that
    /// size given back, or a new one.
    #[inline]
    pub(crate) fn take(&mut self, size: usize) -> NonNull<u8> {
        match self.free[size / STEP].pop() {
            Some(p) => {
                self.kept -= 1;
                p
            }
            None => alloc(size),
        }
    }

    /// Keeps `p`, of `size` bytes, for a later [`take`](Self::take), or
    /// frees it if the cache is full.
    ///
    /// # Safety
    ///
    /// As [`free`]: `p` is a block of `size` bytes nothing uses any more,
    /// given once.
    #[inline]
    pub(crate) unsafe fn give(&mut self, p: NonNull<u8>, size: usize) {
        if self.kept < KEEP {
            self.kept += 1;
            self.free[size / STEP].push(p);
        } else {
            // SAFETY: the caller's contract.
            unsafe { free(p, size) };
        }
    }

    /// Frees every cached block (the LWP is going away).
    pub(crate) fn clear(&mut self) {
        for (class, list) in self.free.iter_mut().enumerate() {
            for p in list.drain(..) {
                // SAFETY: a cached block of this list's size is unused and
                // listed once.
                unsafe { free(p, class * STEP) };
            }
        }
        self.kept = 0;
    }

    /// Blocks cached now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept
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
    fn a_block_given_back_is_the_next_one_of_its_size_taken() {
        let mut b = Blocks::default();
        let p = b.take(64);
        // SAFETY: `p` is unused, of 64 bytes, and given once.
        unsafe { b.give(p, 64) };
        let q = b.take(80);
        assert_ne!(q, p, "a block of another size");
        assert_eq!(b.take(64), p);
        // SAFETY: as above.
        unsafe {
            b.give(p, 64);
            b.give(q, 80);
        }
    }

    #[test]
    fn the_cache_keeps_at_most_keep_blocks() {
        let mut b = Blocks::default();
        let taken: Vec<_> = (0..KEEP + 10)
            .map(|i| (b.take(BLOCK - i % 2 * STEP), i))
            .collect();
        for (p, i) in taken {
            // SAFETY: each block is unused, of that size, and given once.
            unsafe { b.give(p, BLOCK - i % 2 * STEP) };
        }
        assert_eq!(b.len(), KEEP, "the ten beyond KEEP were freed");
        b.clear();
        assert_eq!(b.len(), 0);
    }
}

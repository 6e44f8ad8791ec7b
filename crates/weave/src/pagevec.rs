//! `PageVec`: a growable array of plain values whose buffer is a mapping of
//! its own, not a block of the C heap.
//!
//! The runtime keeps a few lists that grow with the number of threads
//! alive at the peak: the monitor's list of parked ULTs (`monitor/trim.rs`),
//! the stack pool's dirty lists, the thread table's free list. Through
//! `Vec` they were blocks of glibc's malloc, and a burst of a million
//! threads left tens of MB resident after they shrank: glibc gives each
//! kernel thread that allocates (each LWP, the monitor) an arena of its
//! own, frees the middle of an arena only in `malloc_trim`, and never gives
//! back the free top of a thread's arena below its trim threshold, which it
//! raises to twice the largest block it once served by `mmap` and then
//! freed (up to 64 MiB). A `PageVec` maps its buffer with `mmap`, grows it
//! with `mremap` and unmaps it on drop, so what it held goes back to the
//! kernel when it shrinks, whatever the allocator does with its arenas.
//!
//! Only for `Copy` values (nothing to drop) and lists that may grow large:
//! an empty `PageVec` maps nothing, a non-empty one at least a page.
//!
//! Bottom layer: names nothing of weave's.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The page size the buffer is rounded to.
const PAGE: usize = 4096;

/// A growable array of `T` in a mapping of its own (see the module doc).
pub(crate) struct PageVec<T: Copy> {
    /// The mapping (dangling while `cap` is 0).
    ptr: NonNull<T>,
    len: usize,
    /// Values the mapping holds; 0 when nothing is mapped.
    cap: usize,
}

// SAFETY: a `PageVec` owns its buffer as a `Vec` does; sending it sends the
// values, sharing it shares them read-only.
unsafe impl<T: Copy + Send> Send for PageVec<T> {}
// SAFETY: as above.
unsafe impl<T: Copy + Sync> Sync for PageVec<T> {}

impl<T: Copy> Default for PageVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> PageVec<T> {
    /// An empty list; maps nothing.
    pub(crate) const fn new() -> Self {
        PageVec {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    #[inline]
    pub(crate) fn push(&mut self, v: T) {
        if self.len == self.cap {
            self.grow(self.len + 1);
        }
        // SAFETY: `len < cap`: the slot is inside the mapping.
        unsafe { self.ptr.as_ptr().add(self.len).write(v) };
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: the slot at the old `len - 1` was written by a push.
        Some(unsafe { self.ptr.as_ptr().add(self.len).read() })
    }

    pub(crate) fn extend_from_slice(&mut self, vs: &[T]) {
        if self.cap - self.len < vs.len() {
            self.grow(self.len + vs.len());
        }
        // SAFETY: room for `vs` after `len` (grown above); a slice cannot
        // overlap the spare part of our own mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(vs.as_ptr(), self.ptr.as_ptr().add(self.len), vs.len())
        };
        self.len += vs.len();
    }

    /// Removes the first `n` values (all, if there are fewer), moving the
    /// rest to the front.
    pub(crate) fn remove_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.copy_within(n.., 0);
        self.len -= n;
    }

    /// Gives back the pages past what `len` needs (all of them when it is
    /// empty).
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.cap == 0 {
            return;
        }
        if self.len == 0 {
            self.unmap();
            return;
        }
        let want = bytes_for::<T>(self.len);
        if want < bytes_for::<T>(self.cap) {
            self.remap(want);
        }
    }

    /// Makes room for at least `need` values: doubles, so that pushes cost
    /// O(1) amortised (`mremap` moves page tables, not bytes).
    #[cold]
    fn grow(&mut self, need: usize) {
        let need = need.max(self.cap.saturating_mul(2));
        let bytes = bytes_for::<T>(need);
        if self.cap == 0 {
            // SAFETY: a fresh anonymous private mapping aliases nothing.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                out_of_memory(bytes);
            }
            self.ptr = NonNull::new(p.cast()).unwrap_or_else(|| out_of_memory(bytes));
            self.cap = bytes / std::mem::size_of::<T>().max(1);
        } else {
            self.remap(bytes);
        }
    }

    /// Moves the buffer to a mapping of `bytes` (a whole number of pages,
    /// at least `len` values).
    fn remap(&mut self, bytes: usize) {
        let old = bytes_for::<T>(self.cap);
        // SAFETY: `ptr..ptr + old` is our mapping; MREMAP_MAYMOVE keeps its
        // contents up to the smaller size, which holds all `len` values.
        let p = unsafe { libc::mremap(self.ptr.as_ptr().cast(), old, bytes, libc::MREMAP_MAYMOVE) };
        if p == libc::MAP_FAILED {
            out_of_memory(bytes);
        }
        self.ptr = NonNull::new(p.cast()).unwrap_or_else(|| out_of_memory(bytes));
        self.cap = bytes / std::mem::size_of::<T>().max(1);
    }

    fn unmap(&mut self) {
        if self.cap != 0 {
            // SAFETY: our mapping, of this size; nothing points into it once
            // `cap` and `len` are reset below (borrows of `self` are over).
            let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), bytes_for::<T>(self.cap)) };
            debug_assert_eq!(rc, 0, "munmap of a PageVec failed");
        }
        self.ptr = NonNull::dangling();
        self.cap = 0;
        self.len = 0;
    }
}

impl<T: Copy> Drop for PageVec<T> {
    fn drop(&mut self) {
        self.unmap();
    }
}

impl<T: Copy> Deref for PageVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` values are initialised (pushes); `ptr` is
        // dangling but aligned when `len` is 0.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for PageVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// The mapping size for `n` values: whole pages, at least one.
fn bytes_for<T>(n: usize) -> usize {
    n.saturating_mul(std::mem::size_of::<T>())
        .max(1)
        .next_multiple_of(PAGE)
}

#[cold]
fn out_of_memory(bytes: usize) -> ! {
    crate::fatal(&format!(
        "cannot map {bytes} bytes for a list of the runtime's (out of memory or address space)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_pops_and_slices_like_a_vec() {
        let mut v = PageVec::new();
        let mut w = Vec::new();
        for i in 0..10_000u32 {
            v.push(i);
            w.push(i);
        }
        assert_eq!(&v[..], &w[..]);
        v.extend_from_slice(&[7, 8, 9]);
        w.extend_from_slice(&[7, 8, 9]);
        assert_eq!(v.pop(), w.pop());
        v.remove_front(100);
        w.drain(..100);
        assert_eq!(&v[..], &w[..]);
        v.sort_unstable_by(|a, b| b.cmp(a));
        w.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(&v[..], &w[..]);
    }

    #[test]
    fn shrinking_to_fit_keeps_the_values_and_drops_the_pages() {
        let mut v = PageVec::new();
        for i in 0..100_000u64 {
            v.push(i);
        }
        assert!(v.capacity() >= 100_000);
        while v.len() > 10 {
            v.pop();
        }
        v.shrink_to_fit();
        assert_eq!(v.capacity(), PAGE / 8);
        assert_eq!(&v[..], &(0..10).collect::<Vec<u64>>()[..]);
        while v.pop().is_some() {}
        v.shrink_to_fit();
        assert_eq!(v.capacity(), 0);
        v.push(3);
        assert_eq!(&v[..], &[3]);
    }
}

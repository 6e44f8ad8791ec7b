//! context/tls: a thread pointer per ULT (the `tls-per-ult` spike).
//!
//! Owns a ULT's own TLS block and the write of the thread pointer (the
//! `fs` base on x86_64) that installs it; nothing here knows about LWPs,
//! queues or states. Built only with the `tls-per-ult` feature, off by
//! default; `docs/design/tls-per-ult.md` has the findings and figures.
//!
//! Every thread-local of the process (std's `thread_local!`, weave's own,
//! `errno`, C's `__thread`, glibc's malloc cache) is found through the
//! thread pointer. If each ULT has a block of its own and the LWP installs
//! it around each resume, all of them are per ULT, and a ULT moved to
//! another LWP keeps them.
//!
//! ## Layout (x86_64, glibc: TLS variant II, the TLS below the pointer)
//!
//! ```text
//!  low addresses                                          high addresses
//!  ┌──────────┬───────────────┬────────┬──────────┬─────────────────────┬───┐
//!  │ (align)  │ surplus for   │  ...   │ libc's   │ struct pthread      │ p │
//!  │          │ dlopen'ed     │ module │ TLS      │ (tcbhead_t first)   │   │
//!  │          │ static TLS    │ blocks │ (-0x90)  │                     │   │
//!  └──────────┴───────────────┴────────┴──────────┴─────────────────────┴───┘
//!                 ◀── each module at a fixed negative   ▲ thread pointer:
//!                     offset, the same in every thread  │ fs:0 == fs_base
//!  p: where glibc keeps the pointer to free (after the descriptor)
//! ```
//!
//! The block is allocated and its TLS part initialised by glibc itself,
//! with `_dl_allocate_tls(NULL)`: the function `pthread_create` uses. It
//! copies each static module's `PT_TLS` initialisation image (`.tdata`
//! copied, `.tbss` zeroed) at the offsets every thread uses, and gives the
//! block a DTV of its own whose static entries point into this block and
//! whose `dlopen`ed entries are unallocated (`__tls_get_addr` allocates
//! them on first use, in this block's DTV). `_dl_deallocate_tls` frees it
//! all. Both are `GLIBC_PRIVATE` symbols of `ld.so`, found with `dlsym`.
//!
//! The descriptor (`struct pthread`, `tcbhead_t` first) is what
//! `pthread_create` would have filled in. We copy it from the thread that
//! makes the block (an LWP), then:
//!
//! | field | offset | here |
//! |---|---|---|
//! | `tcb`, `self` | 0x00, 0x10 | the new block (every word of the copy that pointed into the old descriptor is moved by the same delta: also `specific[0]` and the robust list head) |
//! | `dtv` | 0x08 | fresh, from `_dl_allocate_tls` |
//! | `multiple_threads`, `sysinfo` | 0x18, 0x20 | copied |
//! | `gscope_flag` | 0x1c | 0 (not inside `dl_iterate_phdr`) |
//! | `stack_guard` | 0x28 | copied: canaries pushed on one block are checked on another |
//! | `pointer_guard` | 0x30 | copied: `setjmp`/`longjmp` and `atexit` mangle with it |
//! | `feature_1` (CET) | 0x48 | copied |
//! | `tid` and the rest | | copied: the LWP the block was made on |
//! | `specific_1stblock`, `specific[1..]` | | zeroed: `pthread_getspecific` is per ULT |
//! | `rseq_area.cpu_id` | `__rseq_offset` | -2 ("registration failed"): the kernel updates the LWP's own area, not this copy, so `sched_getcpu` must ask the vDSO |
//!
//! Then `__ctype_init` runs with the block installed (as `start_thread`
//! does for a new thread): `isalpha` and friends read per-thread table
//! pointers that the images leave null.
//!
//! ## The switch
//! `install` writes the thread pointer: `wrfsbase` where the kernel
//! enabled FSGSBASE (`AT_HWCAP2` bit 1), else `arch_prctl(ARCH_SET_FS)`.
//! `WEAVE_TLS_ARCH_PRCTL=1` forces the system call, to measure both. It is
//! never inlined, and callers touch no thread-local in the same function
//! after it: the compiler treats a thread-local's address as constant
//! within a function and may have computed it before the write.
//!
//! ## Must not
//! Allocate or lock in `install` (it runs in the middle of a switch); name
//! anything above `context`.

use std::ffi::{c_void, CStr};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::OnceLock;

/// Offsets in `tcbhead_t` (x86_64 ABI: the compiler itself reads the
/// canary at `fs:0x28`).
const TCB: usize = 0x00;
const DTV: usize = 0x08;
const SELF: usize = 0x10;
const GSCOPE_FLAG: usize = 0x1c;
const STACK_GUARD: usize = 0x28;
#[cfg(test)]
const POINTER_GUARD: usize = 0x30;

/// `PTHREAD_KEY_2NDLEVEL_SIZE` × `sizeof(struct pthread_key_data)`: the
/// first block of thread-specific data, which precedes `specific[]`.
const SPECIFIC_1ST_BLOCK: usize = 32 * 16;
/// `PTHREAD_KEY_1STLEVEL_SIZE`.
const SPECIFIC_LEVELS: usize = 32;
/// `RSEQ_CPU_ID_REGISTRATION_FAILED`.
const RSEQ_CPU_ID_FAILED: u32 = -2i32 as u32;

/// `arch_prctl` code that sets the `fs` base (`asm/prctl.h`).
const ARCH_SET_FS: libc::c_int = 0x1002;

/// `AT_HWCAP2` bit: the kernel lets user space write the `fs` base.
const HWCAP2_FSGSBASE: u64 = 1 << 1;

/// What glibc offers for building a thread's TLS, looked up once.
struct Glibc {
    allocate_tls: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    deallocate_tls: unsafe extern "C" fn(*mut c_void, bool),
    call_tls_dtors: unsafe extern "C" fn(),
    ctype_init: unsafe extern "C" fn(),
    /// `sizeof(struct pthread)` (`TLS_TCB_SIZE` on x86_64).
    descriptor: usize,
    /// `offsetof(struct pthread, specific)`.
    specific: usize,
    /// Offset of the rseq area from the thread pointer, if glibc
    /// registered one.
    rseq: Option<usize>,
}

/// Whether `install` may use `wrfsbase` (decided with `GLIBC`, before the
/// first block exists, so before the first `install`).
static WRFSBASE: AtomicBool = AtomicBool::new(false);

fn sym(name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the global
    // scope, where ld.so and libc are.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if p.is_null() {
        Err(format!(
            "the tls-per-ult feature needs glibc's {name:?}, which this C library does not \
             export; build weave without the feature"
        ))
    } else {
        Ok(p)
    }
}

fn glibc() -> Result<&'static Glibc, String> {
    static G: OnceLock<Result<Glibc, String>> = OnceLock::new();
    G.get_or_init(|| {
        type Alloc = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
        type Dealloc = unsafe extern "C" fn(*mut c_void, bool);
        type Hook = unsafe extern "C" fn();
        // SAFETY: (the transmutes and reads of this block) each symbol is
        // glibc's, with the C type named in its comment (glibc 2.34+,
        // x86_64), and data symbols are read-only after start-up.
        unsafe {
            // void *_dl_allocate_tls (void *mem)
            let allocate_tls = std::mem::transmute::<*mut c_void, Alloc>(sym(c"_dl_allocate_tls")?);
            // void _dl_deallocate_tls (void *tcb, bool dealloc_tcb)
            let deallocate_tls =
                std::mem::transmute::<*mut c_void, Dealloc>(sym(c"_dl_deallocate_tls")?);
            // void __call_tls_dtors (void)
            let call_tls_dtors =
                std::mem::transmute::<*mut c_void, Hook>(sym(c"__call_tls_dtors")?);
            // void __ctype_init (void)
            let ctype_init = std::mem::transmute::<*mut c_void, Hook>(sym(c"__ctype_init")?);
            // const uint32_t _thread_db_sizeof_pthread
            let descriptor = *sym(c"_thread_db_sizeof_pthread")?.cast::<u32>() as usize;
            // const uint32_t _thread_db_pthread_specific[3]: bits, count, offset
            let specific = *sym(c"_thread_db_pthread_specific")?.cast::<u32>().add(2) as usize;
            // const unsigned int __rseq_size; const ptrdiff_t __rseq_offset
            let rseq = match (sym(c"__rseq_size"), sym(c"__rseq_offset")) {
                (Ok(size), Ok(off)) if *size.cast::<u32>() > 0 => {
                    usize::try_from(*off.cast::<isize>()).ok()
                }
                _ => None,
            };
            if specific + SPECIFIC_LEVELS * 8 > descriptor
                || rseq.is_some_and(|r| r + 8 > descriptor)
            {
                return Err(format!(
                    "glibc's struct pthread ({descriptor} bytes) does not have the layout the \
                     tls-per-ult feature knows; build weave without the feature"
                ));
            }
            let forced = std::env::var_os("WEAVE_TLS_ARCH_PRCTL").is_some_and(|v| v == "1");
            let hwcap2 = libc::getauxval(libc::AT_HWCAP2);
            WRFSBASE.store(!forced && hwcap2 & HWCAP2_FSGSBASE != 0, Relaxed);
            Ok(Glibc {
                allocate_tls,
                deallocate_tls,
                call_tls_dtors,
                ctype_init,
                descriptor,
                specific,
                rseq,
            })
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The calling thread's thread pointer (`fs:0` holds it: `tcbhead_t.tcb`).
#[inline]
pub(crate) fn current() -> *mut u8 {
    let tp: *mut u8;
    // SAFETY: on x86_64 Linux `fs:0` always holds the thread pointer.
    unsafe {
        std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    tp
}

/// Makes `tp` the calling thread's thread pointer and returns the one it
/// replaces. ASYNC-SIGNAL-SAFE: no allocation, no lock.
///
/// Never inlined, and the caller must not touch a thread-local after it in
/// the same function (see the module doc).
///
/// # Safety
///
/// `tp` is the thread pointer of a live block (a [`Block`], or the thread's
/// own), not installed on any other thread, and stays live while installed.
#[inline(never)]
pub(crate) unsafe fn install(tp: *mut u8) -> *mut u8 {
    let old = current();
    if WRFSBASE.load(Relaxed) {
        // SAFETY: the kernel enabled FSGSBASE (AT_HWCAP2), so the
        // instruction is allowed at user level; the caller vouches for `tp`.
        unsafe { std::arch::asm!("wrfsbase {}", in(reg) tp, options(nostack, preserves_flags)) };
    } else {
        // SAFETY: as above, through the system call.
        let r = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_FS, tp) };
        debug_assert_eq!(r, 0, "arch_prctl(ARCH_SET_FS) failed");
    }
    old
}

/// A ULT's TLS block: glibc's static TLS and a thread descriptor, found
/// through its thread pointer.
pub(crate) struct Block {
    tp: NonNull<u8>,
}

// SAFETY: a Block is plain memory owned by one ULT; it is installed on at
// most one thread at a time (the LWP running that ULT).
unsafe impl Send for Block {}

impl Block {
    /// A fresh block, with the descriptor of the calling thread as its
    /// template: every thread-local starts at its initial value.
    pub(crate) fn new() -> Result<Block, String> {
        let g = glibc()?;
        // SAFETY: NULL asks glibc to allocate the storage itself.
        let tp = unsafe { (g.allocate_tls)(std::ptr::null_mut()) }.cast::<u8>();
        let Some(tp) = NonNull::new(tp) else {
            return Err(format!(
                "out of memory for a TLS block of a ULT ({} bytes of descriptor plus the static \
                 TLS)",
                g.descriptor
            ));
        };
        let block = Block { tp };
        // SAFETY: `tp` is a block glibc just made for us, of `descriptor`
        // bytes from the thread pointer; `current()` is this thread's.
        unsafe { block.fill_descriptor(g, current()) };
        // SAFETY: the block is live and installed only here, for the call.
        unsafe {
            let own = install(tp.as_ptr());
            (g.ctype_init)();
            install(own);
        }
        Ok(block)
    }

    /// # Safety
    ///
    /// `self` is fresh from `_dl_allocate_tls` and `from` is a live
    /// thread's descriptor; neither is installed elsewhere.
    unsafe fn fill_descriptor(&self, g: &Glibc, from: *mut u8) {
        let to = self.tp.as_ptr();
        let n = g.descriptor;
        // SAFETY: both descriptors are `n` bytes from their thread pointers
        // and do not overlap; word reads are aligned (64-byte aligned TPs).
        unsafe {
            let dtv = to.add(DTV).cast::<usize>().read();
            std::ptr::copy_nonoverlapping(from, to, n);
            to.add(DTV).cast::<usize>().write(dtv);
            let (lo, hi) = (from as usize, from as usize + n);
            let delta = (to as usize).wrapping_sub(lo);
            for off in (0..n).step_by(8) {
                if off == DTV {
                    continue;
                }
                let w = to.add(off).cast::<usize>();
                let v = w.read();
                if (lo..hi).contains(&v) {
                    w.write(v.wrapping_add(delta));
                }
            }
            debug_assert_eq!(to.add(TCB).cast::<usize>().read(), to as usize);
            debug_assert_eq!(to.add(SELF).cast::<usize>().read(), to as usize);
            debug_assert_eq!(
                to.add(STACK_GUARD).cast::<[usize; 2]>().read(),
                from.add(STACK_GUARD).cast::<[usize; 2]>().read(),
                "stack and pointer guards copied"
            );
            to.add(GSCOPE_FLAG).cast::<i32>().write(0);
            let first = g.specific - SPECIFIC_1ST_BLOCK;
            std::ptr::write_bytes(to.add(first), 0, SPECIFIC_1ST_BLOCK);
            let levels = to.add(g.specific).cast::<usize>();
            levels.write(to as usize + first);
            for i in 1..SPECIFIC_LEVELS {
                levels.add(i).write(0);
            }
            if let Some(r) = g.rseq {
                // struct rseq { u32 cpu_id_start; u32 cpu_id; ... }
                to.add(r).cast::<u32>().write(0);
                to.add(r + 4).cast::<u32>().write(RSEQ_CPU_ID_FAILED);
            }
        }
    }

    /// The block's thread pointer, for [`install`].
    #[inline]
    pub(crate) fn tp(&self) -> *mut u8 {
        self.tp.as_ptr()
    }
}

impl Drop for Block {
    /// Frees the block, its DTV and the blocks `__tls_get_addr` allocated
    /// for `dlopen`ed modules. The block must not be installed.
    fn drop(&mut self) {
        debug_assert_ne!(
            current(),
            self.tp.as_ptr(),
            "freeing the installed TLS block"
        );
        if let Ok(g) = glibc() {
            // SAFETY: the block came from `_dl_allocate_tls` and is not
            // installed (the ULT has finished; its LWP runs on its own).
            unsafe { (g.deallocate_tls)(self.tp.as_ptr().cast(), true) };
        }
    }
}

/// Runs the destructors that the calling ULT's std and C++ thread-locals
/// registered (`__cxa_thread_atexit_impl`), as glibc does at thread exit.
/// Called by the ULT itself, last thing before it finishes.
pub(crate) fn run_thread_local_dtors() {
    if let Ok(g) = glibc() {
        // SAFETY: the caller is a ULT with its own block installed, whose
        // thread-locals are about to go away with it.
        unsafe { (g.call_tls_dtors)() };
    }
}

/// The canary and pointer guard of the calling thread's descriptor, for
/// tests that compare two blocks.
#[cfg(test)]
fn guards(tp: *mut u8) -> (usize, usize) {
    // SAFETY: `tp` is a live descriptor.
    unsafe {
        (
            tp.add(STACK_GUARD).cast::<usize>().read(),
            tp.add(POINTER_GUARD).cast::<usize>().read(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    std::thread_local! {
        static VALUE: Cell<u32> = const { Cell::new(7) };
    }

    #[inline(never)]
    fn read_value() -> u32 {
        VALUE.with(Cell::get)
    }

    #[inline(never)]
    fn write_value(v: u32) {
        VALUE.with(|c| c.set(v));
    }

    /// `dlpi_tls_data` of libc for the calling thread, minus its thread
    /// pointer.
    #[inline(never)]
    fn libc_tls_offset() -> isize {
        unsafe extern "C" fn cb(i: *mut libc::dl_phdr_info, _: usize, d: *mut c_void) -> i32 {
            // SAFETY: glibc passes a valid info; `d` is our isize.
            unsafe {
                let i = &*i;
                if i.dlpi_tls_modid != 0 && !i.dlpi_tls_data.is_null() {
                    let name = CStr::from_ptr(i.dlpi_name).to_string_lossy();
                    if name.contains("libc.so") {
                        *d.cast::<isize>() = i.dlpi_tls_data as isize - current() as isize;
                        return 1;
                    }
                }
            }
            0
        }
        let mut off = 0isize;
        // SAFETY: the callback matches dl_iterate_phdr's contract.
        unsafe { libc::dl_iterate_phdr(Some(cb), (&mut off as *mut isize).cast()) };
        off
    }

    #[test]
    fn a_new_block_starts_with_initial_thread_locals() {
        write_value(11);
        let b = Block::new().expect("glibc offers a block");
        // SAFETY: `b` is live and ours; put back below before any assert.
        let own = unsafe { install(b.tp()) };
        let inside = read_value();
        write_value(12);
        // SAFETY: restoring this thread's own pointer.
        unsafe { install(own) };
        assert_eq!((inside, read_value()), (7, 11));
    }

    #[test]
    fn a_block_keeps_its_values_between_installs() {
        let b = Block::new().expect("glibc offers a block");
        // SAFETY: as above.
        let own = unsafe { install(b.tp()) };
        write_value(21);
        // SAFETY: as above.
        unsafe { install(own) };
        let between = read_value();
        // SAFETY: as above.
        let own = unsafe { install(b.tp()) };
        let again = read_value();
        // SAFETY: as above.
        unsafe { install(own) };
        assert_eq!((between, again), (7, 21));
    }

    #[test]
    fn modules_sit_at_the_offsets_of_the_thread_that_made_the_block() {
        let here = libc_tls_offset();
        let b = Block::new().expect("glibc offers a block");
        // SAFETY: as above.
        let own = unsafe { install(b.tp()) };
        let there = libc_tls_offset();
        // SAFETY: as above.
        unsafe { install(own) };
        assert!(here < 0, "libc's TLS is below the thread pointer");
        assert_eq!(here, there);
    }

    #[test]
    fn descriptor_points_to_itself_and_keeps_the_guards() {
        let b = Block::new().expect("glibc offers a block");
        let tp = b.tp();
        // SAFETY: reading the header words of a live descriptor.
        let (tcb, me) = unsafe {
            (
                tp.add(TCB).cast::<usize>().read(),
                tp.add(SELF).cast::<usize>().read(),
            )
        };
        assert_eq!((tcb, me), (tp as usize, tp as usize));
        assert_eq!(guards(tp), guards(current()));
    }

    #[test]
    fn pthread_self_is_the_installed_block() {
        let b = Block::new().expect("glibc offers a block");
        // SAFETY: as above.
        let own = unsafe { install(b.tp()) };
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        // SAFETY: as above.
        unsafe { install(own) };
        assert_eq!(me as usize, b.tp() as usize);
    }
}

//! `pthread_attr_t`: thread attributes, stored in the program's
//! `pthread_attr_t` (glibc's size) and turned into a weave spawn.
//!
//! Owns the attribute layout and the checks POSIX asks of each setter; it
//! must not spawn anything (`thread` does).
//!
//! | attribute | weave |
//! |-----------|-------|
//! | detach state | joinable or detached C thread |
//! | stack size | the ULT's stack size (at least `PTHREAD_STACK_MIN`) |
//! | stack (`setstack`, `setstackaddr`) | the ULT runs on the program's memory (no guard page, never recycled) |
//! | guard size | at least that many bytes (rounded up to pages) of inaccessible memory below the stack, none for 0 (`Builder::stack_guard`); ignored with `setstack` |
//! | scope | `PTHREAD_SCOPE_SYSTEM` = a bound thread (an LWP of its own), `PTHREAD_SCOPE_PROCESS` (default) = a ULT on the pool |
//! | inherit-sched | `PTHREAD_EXPLICIT_SCHED` applies the policy and priority; `PTHREAD_INHERIT_SCHED` (default) gives the creator's |
//! | policy, param | stored and returned (a priority outside the policy's range is `EINVAL`); `sched_priority` maps to a weave priority (`thread::weave_priority`) |
//! | signal mask (`setsigmask_np`) | the new ULT starts with it (blocked for everything until its first instruction sets it); unset, it inherits its creator's |
//!
//! Also the process's default attributes (`pthread_setattr_default_np`),
//! which a create with a null `attr` uses, and the attributes of detached
//! threads, kept for `pthread_getattr_np` (the registry of `thread` holds
//! only joinable ones).

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::{Mutex, RwLock};

use libc::{pthread_attr_t, pthread_t, sched_param, sigset_t};
use weave_rt::signal::SigSet;

use crate::guard;
use crate::thread::{default_stack_size, weave_priority, Spec};

/// "WVAT": an initialised attribute object.
const MAGIC: u32 = 0x5756_4154;

/// glibc's `PTHREAD_STACK_MIN` on Linux (16 KiB), which is also weave's
/// smallest stack.
const STACK_MIN: usize = 16 * 1024;

/// The attributes, inside the program's `pthread_attr_t` (56 bytes on
/// x86-64 and aarch64: this takes 48).
#[repr(C)]
#[derive(Clone, Copy)]
struct Attr {
    magic: u32,
    /// `PTHREAD_CREATE_JOINABLE` or `_DETACHED` (0 or 1).
    detach: u8,
    /// `PTHREAD_SCOPE_SYSTEM` or `_PROCESS` (0 or 1).
    scope: u8,
    /// `PTHREAD_INHERIT_SCHED` or `_EXPLICIT_SCHED` (0 or 1).
    inherit: u8,
    /// Whether `sigmask` was set (`pthread_attr_setsigmask_np`).
    has_sigmask: u8,
    policy: c_int,
    sched_priority: c_int,
    stack_size: usize,
    /// The top (highest address) of a stack of the program's, or null:
    /// glibc's model, in which `setstackaddr` gives the top and `setstack`
    /// the bottom and size.
    stack_top: *mut c_void,
    guard_size: usize,
    /// The new thread's signal mask (signals 1 to 64), if `has_sigmask`.
    sigmask: u64,
}

const _: () = {
    assert!(std::mem::size_of::<Attr>() <= std::mem::size_of::<pthread_attr_t>());
    assert!(std::mem::align_of::<Attr>() <= std::mem::align_of::<pthread_attr_t>());
};

fn page_size() -> usize {
    // SAFETY: a plain query.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// The initialised attributes behind `a`, or `EINVAL`.
///
/// # Safety
///
/// `a` is null or points to a `pthread_attr_t` of the program that no
/// other thread writes meanwhile.
unsafe fn attr<'a>(a: *const pthread_attr_t) -> Result<&'a mut Attr, c_int> {
    // SAFETY: the caller's contract; Attr fits (checked above).
    let at = unsafe { a.cast_mut().cast::<Attr>().as_mut() }.ok_or(libc::EINVAL)?;
    if at.magic == MAGIC {
        Ok(at)
    } else {
        Err(libc::EINVAL)
    }
}

/// The default attributes of `pthread_setattr_default_np`, whose stack
/// address is always null (it refuses one).
struct Defaults(Attr);

// SAFETY: the one pointer in `Attr`, `stack_top`, is null in the defaults
// (`pthread_setattr_default_np` refuses a stack), so nothing is shared.
unsafe impl Send for Defaults {}
// SAFETY: as above.
unsafe impl Sync for Defaults {}

/// Whether `pthread_setattr_default_np` set defaults (then in
/// `DEFAULTS`): a create with a null `attr` reads one flag until then.
static DEFAULTS_SET: AtomicBool = AtomicBool::new(false);
static DEFAULTS: RwLock<Option<Defaults>> = RwLock::new(None);

/// The spawn a `pthread_attr_t` asks for (null: the defaults, weave's or
/// those of `pthread_setattr_default_np`); `None` for weave's defaults
/// asked for with a null `attr` (the common create: no `Spec` to build,
/// move or compare).
///
/// # Safety
///
/// As [`attr`].
#[inline]
pub(crate) unsafe fn spec_of(a: *const pthread_attr_t) -> Result<Option<Spec>, c_int> {
    // Acquire: pairs with the Release store in `setattr_default_np`.
    if a.is_null() && !DEFAULTS_SET.load(Acquire) {
        return Ok(None);
    }
    // SAFETY: the caller's contract.
    unsafe { spec_of_given(a) }.map(Some)
}

/// [`spec_of`] for attributes given, or defaults set.
///
/// # Safety
///
/// As [`attr`].
unsafe fn spec_of_given(a: *const pthread_attr_t) -> Result<Spec, c_int> {
    if a.is_null() {
        let d = DEFAULTS.read().unwrap_or_else(|e| e.into_inner());
        return match d.as_ref() {
            Some(d) => spec_of_attr(&d.0),
            None => Ok(Spec::default()),
        };
    }
    // SAFETY: the caller's contract.
    spec_of_attr(unsafe { attr(a) }?)
}

fn spec_of_attr(at: &Attr) -> Result<Spec, c_int> {
    let user_stack = (!at.stack_top.is_null()).then(|| {
        let top = at.stack_top as usize;
        (top.saturating_sub(at.stack_size), at.stack_size)
    });
    let explicit = c_int::from(at.inherit) == libc::PTHREAD_EXPLICIT_SCHED;
    Ok(Spec {
        name: None,
        stack_size: Some(at.stack_size),
        user_stack,
        guard_size: Some(at.guard_size),
        priority: if explicit {
            Some(weave_priority(at.policy, at.sched_priority)?)
        } else {
            None
        },
        bound: c_int::from(at.scope) == crate::glibc::PTHREAD_SCOPE_SYSTEM,
        detached: c_int::from(at.detach) == libc::PTHREAD_CREATE_DETACHED,
        policy: if explicit {
            at.policy
        } else {
            libc::SCHED_OTHER
        },
        sched_priority: if explicit { at.sched_priority } else { 0 },
        sigmask: (at.has_sigmask != 0).then_some(at.sigmask),
    })
}

/// Writes the attributes of a running thread (`pthread_getattr_np`).
///
/// # Safety
///
/// `a` points to a `pthread_attr_t` of the program.
pub(crate) unsafe fn fill(a: *mut pthread_attr_t, s: &Spec) {
    // SAFETY: the caller's contract; Attr fits.
    unsafe { a.cast::<Attr>().write(attr_of_spec(s)) };
}

/// The attributes that describe `s` (scheduling explicit if it was created
/// so; no signal mask: a running thread's mask is its own business).
fn attr_of_spec(s: &Spec) -> Attr {
    Attr {
        magic: MAGIC,
        detach: small(if s.detached {
            libc::PTHREAD_CREATE_DETACHED
        } else {
            libc::PTHREAD_CREATE_JOINABLE
        }),
        scope: small(if s.bound {
            crate::glibc::PTHREAD_SCOPE_SYSTEM
        } else {
            crate::glibc::PTHREAD_SCOPE_PROCESS
        }),
        inherit: small(if s.priority.is_some() {
            libc::PTHREAD_EXPLICIT_SCHED
        } else {
            libc::PTHREAD_INHERIT_SCHED
        }),
        has_sigmask: 0,
        policy: s.policy,
        sched_priority: s.sched_priority,
        stack_size: s
            .user_stack
            .map(|(_, size)| size)
            .or(s.stack_size)
            .unwrap_or_else(default_stack_size),
        stack_top: s.user_stack.map_or(std::ptr::null_mut(), |(lo, size)| {
            (lo + size) as *mut c_void
        }),
        guard_size: s.guard_size.unwrap_or_else(page_size),
        sigmask: 0,
    }
}

/// The calling OS thread's stack as the system reports it (lowest
/// address, size, guard size): for `pthread_getattr_np` on `main` or
/// another thread weave did not start.
pub(crate) fn os_stack() -> Option<(usize, usize, usize)> {
    let mut a = std::mem::MaybeUninit::<pthread_attr_t>::uninit();
    // SAFETY: the system's calls on the system's own thread and an
    // attribute object they initialise (and destroy, below).
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), a.as_mut_ptr()) } != 0 {
        return None;
    }
    let (mut addr, mut size, mut guard) = (std::ptr::null_mut(), 0, 0);
    // SAFETY: `a` was initialised above; the out-pointers are locals.
    let r = unsafe {
        let r = libc::pthread_attr_getstack(a.as_ptr(), &mut addr, &mut size);
        libc::pthread_attr_getguardsize(a.as_ptr(), &mut guard);
        libc::pthread_attr_destroy(a.as_mut_ptr());
        r
    };
    (r == 0).then_some((addr as usize, size, guard))
}

/// The main thread's stack as glibc's `pthread_getattr_np` reports it to
/// any thread (lowest address, size, guard size 0), computed as glibc
/// does: its top is the page above `__libc_stack_end` (the start of the
/// process's stack), and it reaches down the stack rlimit (less what lies
/// above that top, in whole pages), or to the end of the mapping below
/// the kernel's stack mapping if that is nearer. For `pthread_getattr_np`
/// on `main` from another thread, which glibc cannot be asked for.
pub(crate) fn main_stack() -> Option<(usize, usize, usize)> {
    extern "C" {
        /// glibc's (ld.so): where the process's stack started.
        static __libc_stack_end: *mut c_void;
    }
    let page = page_size();
    // SAFETY: written once by ld.so before `main`, read only since.
    let end = unsafe { __libc_stack_end } as usize;
    let top = (end & !(page - 1)) + page;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let mut below = 0;
    let mut found = None;
    for line in maps.lines() {
        let range = line.split_whitespace().next()?;
        let (from, to) = range.split_once('-')?;
        let from = usize::from_str_radix(from, 16).ok()?;
        let to = usize::from_str_radix(to, 16).ok()?;
        if from <= end && to > end {
            found = Some(to);
            break;
        }
        below = to;
    }
    let to = found?;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a plain query into a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut rl) } != 0 {
        return None;
    }
    let limit = usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX);
    let size = (limit.saturating_sub(to - top) & !(page - 1)).min(top - below);
    Some((top - size, size, 0))
}

/// One of the two-valued attribute constants (0 or 1 in glibc), as the
/// byte `Attr` keeps it; the setters check the value first.
fn small(v: c_int) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

/// The attributes of the detached C threads that were not made with the
/// defaults, by id, for `pthread_getattr_np`. An entry whose thread has
/// ended is dropped when the map has doubled since it was last swept.
struct DetachedSpecs {
    map: HashMap<pthread_t, Spec>,
    swept_at: usize,
}

static DETACHED: Mutex<Option<DetachedSpecs>> = Mutex::new(None);

/// Keeps the attributes of detached thread `id` (`pthread_create` with a
/// detached `attr`, `pthread_detach`).
pub(crate) fn keep_detached(id: pthread_t, mut spec: Spec) {
    spec.detached = true;
    let mut g = DETACHED.lock().unwrap_or_else(|e| e.into_inner());
    let d = g.get_or_insert_with(|| DetachedSpecs {
        map: HashMap::new(),
        swept_at: 0,
    });
    if d.map.len() >= 2 * d.swept_at + 64 {
        d.map.retain(|&t, _| crate::thread::live(t).is_ok());
        d.swept_at = d.map.len();
    }
    d.map.insert(id, spec);
}

/// The attributes kept for detached thread `id` (which the caller found
/// alive), if it was not made with the defaults.
pub(crate) fn detached_spec(id: pthread_t) -> Option<Spec> {
    let g = DETACHED.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref().and_then(|d| d.map.get(&id).cloned())
}

/// Runs `f` on the initialised attributes, or returns `EINVAL`.
fn with_attr(name: &str, a: *const pthread_attr_t, f: impl FnOnce(&mut Attr) -> c_int) -> c_int {
    guard(name, libc::EINVAL, || {
        // SAFETY: the program passes its own attribute object, which POSIX
        // does not let two threads change at once.
        match unsafe { attr(a) } {
            Ok(at) => f(at),
            Err(e) => e,
        }
    })
}

/// Stores `v` through an out-pointer of the program, or `EINVAL` if null.
fn put<T>(out: *mut T, v: T) -> c_int {
    if out.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: non-null; the program's storage for the result.
    unsafe { out.write(v) };
    0
}

/// `pthread_attr_init`: the defaults (joinable, default stack, process
/// scope, inherited scheduling).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_init(a: *mut pthread_attr_t) -> c_int {
    guard("pthread_attr_init", libc::ENOMEM, || {
        if a.is_null() {
            return libc::EINVAL;
        }
        let s = Spec::default();
        // SAFETY: non-null; the program's attribute object.
        unsafe { fill(a, &s) };
        0
    })
}

/// `pthread_attr_destroy`: further use is `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_destroy(a: *mut pthread_attr_t) -> c_int {
    with_attr("pthread_attr_destroy", a, |at| {
        at.magic = 0;
        0
    })
}

/// `pthread_attr_setdetachstate`: `EINVAL` unless `PTHREAD_CREATE_JOINABLE`
/// or `PTHREAD_CREATE_DETACHED`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setdetachstate(
    a: *mut pthread_attr_t,
    state: c_int,
) -> c_int {
    with_attr("pthread_attr_setdetachstate", a, |at| {
        if state != libc::PTHREAD_CREATE_JOINABLE && state != libc::PTHREAD_CREATE_DETACHED {
            return libc::EINVAL;
        }
        at.detach = small(state);
        0
    })
}

/// `pthread_attr_getdetachstate`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getdetachstate(
    a: *const pthread_attr_t,
    state: *mut c_int,
) -> c_int {
    with_attr("pthread_attr_getdetachstate", a, |at| {
        put(state, c_int::from(at.detach))
    })
}

/// `pthread_attr_setstacksize`: `EINVAL` below `PTHREAD_STACK_MIN` or
/// above weave's largest stack (1 GiB).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setstacksize(
    a: *mut pthread_attr_t,
    size: usize,
) -> c_int {
    with_attr("pthread_attr_setstacksize", a, |at| {
        if !(STACK_MIN..=weave_rt::stack::MAX_STACK_SIZE).contains(&size) {
            return libc::EINVAL;
        }
        at.stack_size = size;
        0
    })
}

/// `pthread_attr_getstacksize`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getstacksize(
    a: *const pthread_attr_t,
    size: *mut usize,
) -> c_int {
    with_attr("pthread_attr_getstacksize", a, |at| {
        put(size, at.stack_size)
    })
}

/// `pthread_attr_setstack`: the thread runs on `size` bytes of the
/// program's memory at `addr` (`EINVAL` for a size below
/// `PTHREAD_STACK_MIN` or a null address). weave puts no guard page below
/// it and never recycles it: once the thread is joined (or, detached, has
/// ended) the memory is the program's again. A thread made from the same
/// attributes twice would share the stack: POSIX leaves that undefined.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setstack(
    a: *mut pthread_attr_t,
    addr: *mut c_void,
    size: usize,
) -> c_int {
    with_attr("pthread_attr_setstack", a, |at| {
        if size < STACK_MIN || addr.is_null() {
            return libc::EINVAL;
        }
        at.stack_top = (addr as usize + size) as *mut c_void;
        at.stack_size = size;
        0
    })
}

/// `pthread_attr_getstack`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getstack(
    a: *const pthread_attr_t,
    addr: *mut *mut c_void,
    size: *mut usize,
) -> c_int {
    with_attr("pthread_attr_getstack", a, |at| {
        if addr.is_null() || size.is_null() {
            return libc::EINVAL;
        }
        let lo = if at.stack_top.is_null() {
            std::ptr::null_mut()
        } else {
            (at.stack_top as usize).saturating_sub(at.stack_size) as *mut c_void
        };
        put(addr, lo);
        put(size, at.stack_size)
    })
}

/// `pthread_attr_setstackaddr` (obsolescent): the top of a stack of the
/// program's, of the attributes' stack size, as glibc reads it (the
/// stack grows down). `EINVAL` for null.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setstackaddr(
    a: *mut pthread_attr_t,
    addr: *mut c_void,
) -> c_int {
    with_attr("pthread_attr_setstackaddr", a, |at| {
        if addr.is_null() {
            return libc::EINVAL;
        }
        at.stack_top = addr;
        0
    })
}

/// `pthread_attr_getstackaddr` (obsolescent).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getstackaddr(
    a: *const pthread_attr_t,
    addr: *mut *mut c_void,
) -> c_int {
    with_attr("pthread_attr_getstackaddr", a, |at| {
        if addr.is_null() {
            return libc::EINVAL;
        }
        put(addr, at.stack_top)
    })
}

/// `pthread_attr_setguardsize`: the thread gets at least `size` bytes,
/// rounded up to pages, of inaccessible memory below its stack (a stack
/// overflow into them is reported and ends the process), none for 0; the
/// default is one page. Ignored with a stack of the program's
/// (`pthread_attr_setstack`). `pthread_getattr_np` reports it as set.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setguardsize(
    a: *mut pthread_attr_t,
    size: usize,
) -> c_int {
    with_attr("pthread_attr_setguardsize", a, |at| {
        at.guard_size = size;
        0
    })
}

/// `pthread_attr_getguardsize`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getguardsize(
    a: *const pthread_attr_t,
    size: *mut usize,
) -> c_int {
    with_attr("pthread_attr_getguardsize", a, |at| {
        put(size, at.guard_size)
    })
}

/// `pthread_attr_setscope`: `PTHREAD_SCOPE_SYSTEM` makes a bound thread
/// (an LWP of its own), `PTHREAD_SCOPE_PROCESS` a pooled ULT; else
/// `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setscope(
    a: *mut pthread_attr_t,
    scope: c_int,
) -> c_int {
    with_attr("pthread_attr_setscope", a, |at| {
        if scope != crate::glibc::PTHREAD_SCOPE_SYSTEM
            && scope != crate::glibc::PTHREAD_SCOPE_PROCESS
        {
            return libc::EINVAL;
        }
        at.scope = small(scope);
        0
    })
}

/// `pthread_attr_getscope`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getscope(
    a: *const pthread_attr_t,
    scope: *mut c_int,
) -> c_int {
    with_attr("pthread_attr_getscope", a, |at| {
        put(scope, c_int::from(at.scope))
    })
}

/// `pthread_attr_setinheritsched`: `PTHREAD_INHERIT_SCHED` or
/// `PTHREAD_EXPLICIT_SCHED`, else `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setinheritsched(
    a: *mut pthread_attr_t,
    inherit: c_int,
) -> c_int {
    with_attr("pthread_attr_setinheritsched", a, |at| {
        if inherit != libc::PTHREAD_INHERIT_SCHED && inherit != libc::PTHREAD_EXPLICIT_SCHED {
            return libc::EINVAL;
        }
        at.inherit = small(inherit);
        0
    })
}

/// `pthread_attr_getinheritsched`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getinheritsched(
    a: *const pthread_attr_t,
    inherit: *mut c_int,
) -> c_int {
    with_attr("pthread_attr_getinheritsched", a, |at| {
        put(inherit, c_int::from(at.inherit))
    })
}

/// `pthread_attr_setschedpolicy`: `SCHED_OTHER`, `SCHED_FIFO`,
/// `SCHED_RR`, `SCHED_BATCH` or `SCHED_IDLE`, else `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setschedpolicy(
    a: *mut pthread_attr_t,
    policy: c_int,
) -> c_int {
    with_attr("pthread_attr_setschedpolicy", a, |at| {
        match policy {
            libc::SCHED_OTHER
            | libc::SCHED_FIFO
            | libc::SCHED_RR
            | libc::SCHED_BATCH
            | libc::SCHED_IDLE => {}
            _ => return libc::EINVAL,
        }
        at.policy = policy;
        0
    })
}

/// `pthread_attr_getschedpolicy`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getschedpolicy(
    a: *const pthread_attr_t,
    policy: *mut c_int,
) -> c_int {
    with_attr("pthread_attr_getschedpolicy", a, |at| {
        put(policy, at.policy)
    })
}

/// `pthread_attr_setschedparam`: `EINVAL` for a priority outside the
/// range of the attributes' policy (`sched_get_priority_min` to `_max`:
/// 0 for `SCHED_OTHER`, 1 to 99 for `SCHED_FIFO` and `SCHED_RR`), as
/// glibc; checked against the policy again at a create with
/// `PTHREAD_EXPLICIT_SCHED`, since the policy may change after.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setschedparam(
    a: *mut pthread_attr_t,
    param: *const sched_param,
) -> c_int {
    with_attr("pthread_attr_setschedparam", a, |at| {
        // SAFETY: null or the program's sched_param.
        match unsafe { param.as_ref() } {
            Some(p) => match weave_priority(at.policy, p.sched_priority) {
                Ok(_) => {
                    at.sched_priority = p.sched_priority;
                    0
                }
                Err(e) => e,
            },
            None => libc::EINVAL,
        }
    })
}

/// `pthread_attr_getschedparam`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getschedparam(
    a: *const pthread_attr_t,
    param: *mut sched_param,
) -> c_int {
    with_attr("pthread_attr_getschedparam", a, |at| {
        if param.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: non-null; the program's sched_param.
        unsafe { (*param).sched_priority = at.sched_priority };
        0
    })
}

/// glibc's `PTHREAD_ATTR_NO_SIGMASK_NP`: `pthread_attr_getsigmask_np`'s
/// answer for attributes with no signal mask set.
const NO_SIGMASK: c_int = -1;

/// `pthread_attr_setsigmask_np` (a GNU extension): a thread created with
/// `a` starts with `*sigmask` as its signal mask (glibc's and weave's own
/// signals left out, as `pthread_sigmask` does); null unsets it, and the
/// thread then inherits its creator's mask. `EINVAL` for uninitialised
/// attributes.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setsigmask_np(
    a: *mut pthread_attr_t,
    sigmask: *const sigset_t,
) -> c_int {
    with_attr("pthread_attr_setsigmask_np", a, |at| {
        // SAFETY: null or the program's set.
        match unsafe { sigmask.as_ref() } {
            None => {
                at.has_sigmask = 0;
                at.sigmask = 0;
            }
            Some(m) => {
                at.has_sigmask = 1;
                at.sigmask = crate::signal::without_reserved(SigSet::from_sigset_t(m)).bits();
            }
        }
        0
    })
}

/// `pthread_attr_getsigmask_np` (a GNU extension): the signal mask set in
/// `a` into `*sigmask`, and 0; `PTHREAD_ATTR_NO_SIGMASK_NP` (with an empty
/// set) if none is. `EINVAL` for uninitialised attributes or a null
/// `sigmask`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getsigmask_np(
    a: *const pthread_attr_t,
    sigmask: *mut sigset_t,
) -> c_int {
    with_attr("pthread_attr_getsigmask_np", a, |at| {
        if sigmask.is_null() {
            return libc::EINVAL;
        }
        let set = SigSet::from_bits(if at.has_sigmask != 0 { at.sigmask } else { 0 });
        // SAFETY: non-null; the program's set.
        unsafe { sigmask.write(set.to_sigset_t()) };
        if at.has_sigmask != 0 {
            0
        } else {
            NO_SIGMASK
        }
    })
}

/// `pthread_setattr_default_np` (a GNU extension): the attributes a
/// `pthread_create` with a null `attr` uses from now on (detach state,
/// stack size, guard size, scope, scheduling, signal mask). A stack size
/// of 0 keeps the default one. `EINVAL` for uninitialised attributes or
/// ones with a stack address (`pthread_attr_setstack`).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_setattr_default_np(a: *const pthread_attr_t) -> c_int {
    with_attr("pthread_setattr_default_np", a, |at| {
        if !at.stack_top.is_null() {
            return libc::EINVAL;
        }
        let mut d = *at;
        if d.stack_size == 0 {
            d.stack_size = default_stack_size();
        }
        if c_int::from(d.inherit) == libc::PTHREAD_EXPLICIT_SCHED {
            if let Err(e) = weave_priority(d.policy, d.sched_priority) {
                return e;
            }
        }
        *DEFAULTS.write().unwrap_or_else(|e| e.into_inner()) = Some(Defaults(d));
        // Release: pairs with the Acquire load in `spec_of`.
        DEFAULTS_SET.store(true, Release);
        0
    })
}

/// `pthread_getattr_default_np` (a GNU extension): initialises `a` with
/// the attributes a `pthread_create` with a null `attr` uses. `EINVAL`
/// for null.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_getattr_default_np(a: *mut pthread_attr_t) -> c_int {
    guard("pthread_getattr_default_np", libc::EINVAL, || {
        if a.is_null() {
            return libc::EINVAL;
        }
        let stored = DEFAULTS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|d| d.0);
        match stored {
            Some(d) => {
                // SAFETY: non-null; the program's attribute object.
                unsafe { a.cast::<Attr>().write(d) };
                0
            }
            // SAFETY: as above.
            None => unsafe { weave_pthread_attr_init(a) },
        }
    })
}

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
//! | guard size | stored and returned; weave's stacks have their own guard page |
//! | scope | `PTHREAD_SCOPE_SYSTEM` = a bound thread (an LWP of its own), `PTHREAD_SCOPE_PROCESS` (default) = a ULT on the pool |
//! | inherit-sched | `PTHREAD_EXPLICIT_SCHED` applies the policy and priority; `PTHREAD_INHERIT_SCHED` (default) ignores them |
//! | policy, param | stored and returned; `sched_priority` maps to a weave priority (`thread::weave_priority`) |

use std::ffi::{c_int, c_void};

use libc::{pthread_attr_t, sched_param};

use crate::guard;
use crate::thread::{default_stack_size, weave_priority, Spec};

/// "WVAT": an initialised attribute object.
const MAGIC: u32 = 0x5756_4154;

/// glibc's `PTHREAD_STACK_MIN` on Linux (16 KiB), which is also weave's
/// smallest stack.
const STACK_MIN: usize = 16 * 1024;

#[repr(C)]
struct Attr {
    magic: u32,
    detach: c_int,
    scope: c_int,
    inherit: c_int,
    policy: c_int,
    sched_priority: c_int,
    stack_size: usize,
    /// The top (highest address) of a stack of the program's, or null:
    /// glibc's model, in which `setstackaddr` gives the top and `setstack`
    /// the bottom and size.
    stack_top: *mut c_void,
    guard_size: usize,
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

/// The spawn a `pthread_attr_t` asks for (null: the defaults).
///
/// # Safety
///
/// As [`attr`].
pub(crate) unsafe fn spec_of(a: *const pthread_attr_t) -> Result<Spec, c_int> {
    if a.is_null() {
        return Ok(Spec::default());
    }
    // SAFETY: the caller's contract.
    let at = unsafe { attr(a) }?;
    let user_stack = (!at.stack_top.is_null()).then(|| {
        let top = at.stack_top as usize;
        (top.saturating_sub(at.stack_size), at.stack_size)
    });
    let explicit = at.inherit == libc::PTHREAD_EXPLICIT_SCHED;
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
        bound: at.scope == crate::glibc::PTHREAD_SCOPE_SYSTEM,
        detached: at.detach == libc::PTHREAD_CREATE_DETACHED,
        policy: if explicit {
            at.policy
        } else {
            libc::SCHED_OTHER
        },
        sched_priority: if explicit { at.sched_priority } else { 0 },
    })
}

/// Writes the attributes of a running thread (`pthread_getattr_np`).
///
/// # Safety
///
/// `a` points to a `pthread_attr_t` of the program.
pub(crate) unsafe fn fill(a: *mut pthread_attr_t, s: &Spec) {
    let at = Attr {
        magic: MAGIC,
        detach: if s.detached {
            libc::PTHREAD_CREATE_DETACHED
        } else {
            libc::PTHREAD_CREATE_JOINABLE
        },
        scope: if s.bound {
            crate::glibc::PTHREAD_SCOPE_SYSTEM
        } else {
            crate::glibc::PTHREAD_SCOPE_PROCESS
        },
        inherit: libc::PTHREAD_EXPLICIT_SCHED,
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
    };
    // SAFETY: the caller's contract; Attr fits.
    unsafe { a.cast::<Attr>().write(at) };
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
        // SAFETY: as above; `fill` wrote an Attr.
        unsafe { (*a.cast::<Attr>()).inherit = libc::PTHREAD_INHERIT_SCHED };
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
        at.detach = state;
        0
    })
}

/// `pthread_attr_getdetachstate`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getdetachstate(
    a: *const pthread_attr_t,
    state: *mut c_int,
) -> c_int {
    with_attr("pthread_attr_getdetachstate", a, |at| put(state, at.detach))
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

/// `pthread_attr_setguardsize`: stored and returned (weave's stacks have
/// a guard page of their own).
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
        at.scope = scope;
        0
    })
}

/// `pthread_attr_getscope`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_getscope(
    a: *const pthread_attr_t,
    scope: *mut c_int,
) -> c_int {
    with_attr("pthread_attr_getscope", a, |at| put(scope, at.scope))
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
        at.inherit = inherit;
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
        put(inherit, at.inherit)
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

/// `pthread_attr_setschedparam`: stored as given; checked against the
/// policy (see `weave.h` for the mapping) when the thread is created
/// with `PTHREAD_EXPLICIT_SCHED`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_attr_setschedparam(
    a: *mut pthread_attr_t,
    param: *const sched_param,
) -> c_int {
    with_attr("pthread_attr_setschedparam", a, |at| {
        // SAFETY: null or the program's sched_param.
        match unsafe { param.as_ref() } {
            Some(p) => {
                at.sched_priority = p.sched_priority;
                0
            }
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

//! `pthread_mutex_t` and `pthread_mutexattr_t` over `weave::sync::RawLock`,
//! the lock word of weave's `Mutex` without a guard.
//!
//! Owns the kinds (normal, error-checking, recursive) as POSIX defines
//! them: the recursion count beside weave's lock word, which itself records
//! the owner. It must not implement locking itself: blocking, queueing and
//! hand-off are weave's.
//!
//! A normal (= default) mutex's lock and unlock are one branch on the kind
//! and then weave's lock word: nothing else is on their uncontended path.
//!
//! Storage: `object::Slot` (module doc there), so that
//! `PTHREAD_MUTEX_INITIALIZER` (all zero) is an unlocked mutex of the
//! default kind, and glibc's `PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP` and
//! `PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP` give those kinds.
//!
//! | kind | relock by the owner | unlock by a non-owner |
//! |------|---------------------|-----------------------|
//! | `PTHREAD_MUTEX_NORMAL` (= `DEFAULT`, glibc's 0; glibc's `ADAPTIVE_NP` too) | deadlocks, as POSIX says | `EPERM` (POSIX: undefined) |
//! | `PTHREAD_MUTEX_ERRORCHECK` | `EDEADLK` | `EPERM` |
//! | `PTHREAD_MUTEX_RECURSIVE` | counts | `EPERM` |
//!
//! Each kind may also be robust (`pthread_mutexattr_setrobust`): the
//! owner's exit hands the mutex on with `EOWNERDEAD` (`robust.rs` owns
//! that hand-off and the states). The protocol and priority ceiling are
//! stored and returned, not applied: weave does not change a thread's
//! priority by them. The ceiling of a mutex is readable and settable only
//! when its protocol is `PTHREAD_PRIO_PROTECT` (`EINVAL` otherwise, as
//! glibc), within `SCHED_FIFO`'s priorities, as POSIX says.

use std::cell::UnsafeCell;
use std::ffi::c_int;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use libc::{pthread_mutex_t, pthread_mutexattr_t, timespec};
use weave_rt::sync::{Condvar, RawLock};

use crate::guard;
use crate::object::{slot, Slot};
use crate::robust::{self, Robust};
use crate::time::{wait_until, Clock};

/// A C mutex: weave's lock word and what POSIX's kinds need beside it.
/// Aligned to a cache line, so that where the allocator puts it does not
/// decide which line (and which neighbours) its word shares.
#[repr(align(64))]
pub(crate) struct CMutex {
    lock: RawLock,
    /// Extra locks of a recursive mutex; only the holder touches it, and
    /// it is 0 whenever the mutex is free.
    count: UnsafeCell<u32>,
    /// The POSIX kind, with `ROBUST` added for a robust mutex: a normal
    /// mutex is exactly `PTHREAD_MUTEX_NORMAL`, the fast path's one test.
    kind: c_int,
    protocol: c_int,
    ceiling: AtomicI32,
    /// A robust mutex's consistency (`robust.rs`).
    robust: Robust,
}

// SAFETY: `count` is touched only by the thread that holds `lock` (the
// lock word records it and lets no other in).
unsafe impl Sync for CMutex {}
// SAFETY: as above; the object is created and freed by whichever thread
// calls init or destroy, while nobody holds it.
unsafe impl Send for CMutex {}

impl CMutex {
    fn new(kind: c_int, protocol: c_int, ceiling: c_int) -> CMutex {
        CMutex {
            lock: RawLock::new(),
            count: UnsafeCell::new(0),
            kind,
            protocol,
            ceiling: AtomicI32::new(ceiling),
            robust: Robust::new(),
        }
    }

    /// The POSIX kind, without the robust flag.
    fn base_kind(&self) -> c_int {
        self.kind & KIND_MASK
    }

    pub(crate) fn is_robust(&self) -> bool {
        self.kind & ROBUST != 0
    }

    /// The relock of its owner: `Some(result)` if the kind decides it.
    fn relock(&self) -> Option<c_int> {
        if self.base_kind() == libc::PTHREAD_MUTEX_NORMAL || !self.lock.is_held_by_current() {
            return None; // normal: deadlocks below, as POSIX says
        }
        if self.base_kind() == libc::PTHREAD_MUTEX_ERRORCHECK {
            return Some(libc::EDEADLK);
        }
        // SAFETY: the caller holds the mutex.
        let c = unsafe { &mut *self.count.get() };
        Some(match c.checked_add(1) {
            Some(n) => {
                *c = n;
                0
            }
            None => libc::EAGAIN,
        })
    }

    #[inline]
    pub(crate) fn lock(&self) -> c_int {
        if self.kind == libc::PTHREAD_MUTEX_NORMAL {
            self.lock.lock();
            return 0;
        }
        self.lock_kind()
    }

    #[cold]
    fn lock_kind(&self) -> c_int {
        if let Some(r) = self.relock() {
            return r;
        }
        if self.is_robust() {
            return self.lock_robust();
        }
        self.lock.lock();
        0
    }

    #[inline(never)]
    fn lock_robust(&self) -> c_int {
        if let Err(e) = self.recoverable() {
            return e;
        }
        self.lock.lock();
        robust::acquired(self)
    }

    /// `ENOTRECOVERABLE` for a robust mutex that can never be had again.
    fn recoverable(&self) -> Result<(), c_int> {
        if self.is_robust() && self.robust.is_unrecoverable() {
            return Err(libc::ENOTRECOVERABLE);
        }
        Ok(())
    }

    /// The answer of a lock that has just taken the lock word: 0, or for
    /// a robust mutex `EOWNERDEAD` (held, inconsistent) or
    /// `ENOTRECOVERABLE` (let go again).
    fn acquired(&self) -> c_int {
        if !self.is_robust() {
            return 0;
        }
        robust::acquired(self)
    }

    fn try_lock(&self) -> c_int {
        if let Some(r) = self.relock() {
            return if r == libc::EDEADLK { libc::EBUSY } else { r };
        }
        if let Err(e) = self.recoverable() {
            return e;
        }
        if self.lock.try_lock() {
            self.acquired()
        } else {
            libc::EBUSY
        }
    }

    fn lock_until(&self, clock: Clock, abstime: *const timespec) -> c_int {
        if let Some(r) = self.relock() {
            return r;
        }
        if let Err(e) = self.recoverable() {
            return e;
        }
        if self.lock.try_lock() {
            return self.acquired();
        }
        // The lock is taken in steps on CLOCK_REALTIME, which is read
        // again after each (`time::wait_until`).
        wait_until(clock, abstime, |until| {
            self.lock.lock_until(until).then(|| self.acquired())
        })
        .unwrap_or_else(|e| e)
    }

    #[inline]
    pub(crate) fn unlock(&self) -> c_int {
        if !matches!(
            self.kind,
            libc::PTHREAD_MUTEX_NORMAL | libc::PTHREAD_MUTEX_ERRORCHECK
        ) {
            return self.unlock_kind();
        }
        if self.lock.unlock() {
            0
        } else {
            libc::EPERM
        }
    }

    /// The unlock of a recursive or a robust mutex.
    #[cold]
    fn unlock_kind(&self) -> c_int {
        if !self.lock.is_held_by_current() {
            return libc::EPERM;
        }
        // SAFETY: the caller holds the mutex.
        let c = unsafe { &mut *self.count.get() };
        if *c > 0 {
            *c -= 1;
            return 0;
        }
        if self.is_robust() {
            robust::releasing(self);
        }
        self.lock.unlock();
        0
    }

    /// The owner's exit with the mutex held (`robust.rs`): the next
    /// locker gets it with `EOWNERDEAD`. True if the caller held it.
    pub(crate) fn abandon(&self) -> bool {
        if !self.lock.is_held_by_current() {
            return false;
        }
        self.robust.owner_died();
        // SAFETY: the caller holds the mutex; the count is its own.
        unsafe { *self.count.get() = 0 };
        self.lock.unlock()
    }

    /// The robust state, for `robust.rs`.
    pub(crate) fn robust_state(&self) -> &Robust {
        &self.robust
    }

    /// The lock word's release, for `robust.rs` (a robust mutex that
    /// becomes unrecoverable as it is taken).
    pub(crate) fn release_word(&self) {
        self.lock.unlock();
    }

    /// Whether the caller may wait on a condition variable with it.
    pub(crate) fn is_owner(&self) -> bool {
        self.lock.is_held_by_current()
    }

    /// Waits on `cv` with this mutex, which the caller holds (checked by
    /// `is_owner`): released while waiting, held again (with its recursion
    /// count) on return. True if `until` passed first.
    pub(crate) fn wait_on(&self, cv: &Condvar, until: Option<Instant>) -> bool {
        // SAFETY: the caller holds the mutex: the count is its own, and 0
        // whenever the mutex is free, as another holder expects.
        let count = unsafe { std::mem::take(&mut *self.count.get()) };
        let r = cv.wait_raw(&self.lock, until);
        // SAFETY: held again.
        unsafe { *self.count.get() = count };
        r.timed_out()
    }

    /// After `wait_on` took the mutex back: 0, or for a robust mutex
    /// whose owner died meanwhile `EOWNERDEAD` (held) or
    /// `ENOTRECOVERABLE` (not held), as a lock would answer.
    pub(crate) fn reacquired(&self) -> c_int {
        if !self.is_robust() {
            return 0;
        }
        robust::reacquired(self)
    }
}

/// The POSIX kinds' bits in glibc's kind word; glibc's kinds beyond
/// POSIX's three (`ADAPTIVE_NP`, 3) are treated as normal.
const KIND_MASK: c_int = 3;
/// glibc's robust flag in a mutex's kind (`PTHREAD_MUTEX_ROBUST_NORMAL_NP`).
const ROBUST: c_int = 16;
/// glibc's `PTHREAD_MUTEX_ADAPTIVE_NP`: a normal mutex that spins first.
const ADAPTIVE_NP: c_int = 3;

/// The kind weave gives a mutex whose attributes (or glibc's static
/// initialiser) say `raw`: a POSIX kind, plus `ROBUST` if asked.
fn kind_of(raw: c_int) -> c_int {
    let base = match raw & KIND_MASK {
        libc::PTHREAD_MUTEX_RECURSIVE => libc::PTHREAD_MUTEX_RECURSIVE,
        libc::PTHREAD_MUTEX_ERRORCHECK => libc::PTHREAD_MUTEX_ERRORCHECK,
        _ => libc::PTHREAD_MUTEX_NORMAL,
    };
    base | (raw & ROBUST)
}

/// `SCHED_FIFO`'s priorities: the range of a priority ceiling.
fn ceiling_range() -> std::ops::RangeInclusive<c_int> {
    // SAFETY: plain queries.
    let (lo, hi) = unsafe {
        (
            libc::sched_get_priority_min(libc::SCHED_FIFO),
            libc::sched_get_priority_max(libc::SCHED_FIFO),
        )
    };
    if lo < 0 || hi < lo {
        return 1..=99; // Linux's, if the system does not say
    }
    lo..=hi
}

/// The C mutex behind `m`, created on first use from a static
/// initialiser; `EINVAL` for null, destroyed or uninitialised storage.
///
/// # Safety
///
/// `m` is null or the program's `pthread_mutex_t`, alive while used.
pub(crate) unsafe fn cmutex<'a>(m: *const pthread_mutex_t) -> Result<&'a CMutex, c_int> {
    // SAFETY: the caller's contract.
    let s: &Slot<CMutex> = unsafe { slot(m) }?;
    s.get(true, |k| {
        CMutex::new(kind_of(k), libc::PTHREAD_PRIO_NONE, 0)
    })
}

#[inline]
fn with_mutex(name: &str, m: *const pthread_mutex_t, f: impl FnOnce(&CMutex) -> c_int) -> c_int {
    guard(name, libc::EINVAL, || {
        // SAFETY: the program passes its own mutex.
        match unsafe { cmutex(m) } {
            Ok(cm) => f(cm),
            Err(e) => e,
        }
    })
}

/// The caller's id as an owner of the C objects that record one (the
/// rwlock's writer).
pub(crate) fn me() -> u64 {
    weave_rt::thread::current_id().as_u64().get()
}

/// `pthread_mutex_init`: a fresh unlocked mutex with `attr`'s kind
/// (null: default). `EINVAL` for null or an uninitialised `attr`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_init(
    m: *mut pthread_mutex_t,
    attr: *const pthread_mutexattr_t,
) -> c_int {
    guard("pthread_mutex_init", libc::ENOMEM, || {
        let (kind, protocol, ceiling) = if attr.is_null() {
            (libc::PTHREAD_MUTEX_NORMAL, libc::PTHREAD_PRIO_NONE, 0)
        } else {
            // SAFETY: the program's mutexattr.
            match unsafe { mutexattr(attr) } {
                Ok(a) => {
                    let robust = if a.robust() { ROBUST } else { 0 };
                    (kind_of(a.kind()) | robust, a.protocol(), a.ceiling())
                }
                Err(e) => return e,
            }
        };
        // SAFETY: the program's mutex.
        match unsafe { slot::<_, CMutex>(m) } {
            Ok(s) => {
                s.init(kind, CMutex::new(kind, protocol, ceiling));
                0
            }
            Err(e) => e,
        }
    })
}

/// `pthread_mutex_destroy`: `EBUSY` while locked, `EINVAL` if already
/// destroyed or never initialised.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_destroy(m: *mut pthread_mutex_t) -> c_int {
    guard("pthread_mutex_destroy", libc::EINVAL, || {
        // SAFETY: the program's mutex.
        match unsafe { slot::<_, CMutex>(m) } {
            Ok(s) => s.destroy(|cm| cm.lock.is_locked()),
            Err(e) => e,
        }
    })
}

/// `pthread_mutex_lock`: blocks the calling ULT (not its LWP) until the
/// mutex is its. `EDEADLK` on relock of an error-checking mutex, `EAGAIN`
/// past 2^32 recursive locks.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_lock(m: *mut pthread_mutex_t) -> c_int {
    with_mutex("pthread_mutex_lock", m, CMutex::lock)
}

/// `pthread_mutex_trylock`: `EBUSY` if another thread holds it (or the
/// caller holds a non-recursive one).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_trylock(m: *mut pthread_mutex_t) -> c_int {
    with_mutex("pthread_mutex_trylock", m, CMutex::try_lock)
}

/// `pthread_mutex_timedlock`: as lock, until `abstime` on
/// `CLOCK_REALTIME`; `ETIMEDOUT` then, `EINVAL` for a bad `abstime` when
/// the mutex is not free. The wait follows the realtime clock if it is set
/// meanwhile (read again at least once a second, `time::REALTIME_STEP`).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_timedlock(
    m: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    with_mutex("pthread_mutex_timedlock", m, |cm| {
        cm.lock_until(Clock::Realtime, abstime)
    })
}

/// `pthread_mutex_clocklock`: as timedlock, with `abstime` on `clock`
/// (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`; `EINVAL` for another).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_clocklock(
    m: *mut pthread_mutex_t,
    clock: libc::clockid_t,
    abstime: *const timespec,
) -> c_int {
    let Some(clock) = Clock::from_id(clock) else {
        return libc::EINVAL;
    };
    with_mutex("pthread_mutex_clocklock", m, |cm| {
        cm.lock_until(clock, abstime)
    })
}

/// `pthread_mutex_unlock`: `EPERM` if the caller does not hold it.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_unlock(m: *mut pthread_mutex_t) -> c_int {
    with_mutex("pthread_mutex_unlock", m, CMutex::unlock)
}

/// `pthread_mutex_getprioceiling`: the ceiling stored (weave does not
/// raise priorities by it); `EINVAL` unless the mutex's protocol is
/// `PTHREAD_PRIO_PROTECT`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_getprioceiling(
    m: *const pthread_mutex_t,
    ceiling: *mut c_int,
) -> c_int {
    with_mutex("pthread_mutex_getprioceiling", m, |cm| {
        if ceiling.is_null() || cm.protocol != libc::PTHREAD_PRIO_PROTECT {
            return libc::EINVAL;
        }
        // SAFETY: non-null; the program's int.
        unsafe { ceiling.write(cm.ceiling.load(Relaxed)) };
        0
    })
}

/// `pthread_mutex_setprioceiling`: stores the ceiling (within
/// `SCHED_FIFO`'s priorities), returning the old one; the mutex is locked
/// meanwhile, as POSIX says, unless the caller holds it already (then
/// `EDEADLK` for an error-checking mutex, as glibc; the ceiling changes
/// under the caller's lock for the other kinds, where a lock would
/// deadlock). `EINVAL` unless the protocol is `PTHREAD_PRIO_PROTECT`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_setprioceiling(
    m: *mut pthread_mutex_t,
    ceiling: c_int,
    old: *mut c_int,
) -> c_int {
    with_mutex("pthread_mutex_setprioceiling", m, |cm| {
        if cm.protocol != libc::PTHREAD_PRIO_PROTECT || !ceiling_range().contains(&ceiling) {
            return libc::EINVAL;
        }
        let held = cm.is_owner();
        if held && cm.base_kind() == libc::PTHREAD_MUTEX_ERRORCHECK {
            return libc::EDEADLK;
        }
        if !held {
            match cm.lock() {
                // A robust mutex whose owner died: held, and the ceiling
                // is set; the caller learns nothing of the death, so the
                // mutex is made consistent again.
                0 => {}
                libc::EOWNERDEAD => cm.robust.make_consistent(),
                r => return r,
            }
        }
        let prev = cm.ceiling.swap(ceiling, Relaxed);
        if !old.is_null() {
            // SAFETY: non-null; the program's int.
            unsafe { old.write(prev) };
        }
        if held {
            0
        } else {
            cm.unlock()
        }
    })
}

/// `pthread_mutex_consistent`: marks a robust mutex that the caller took
/// with `EOWNERDEAD` consistent again, so that its unlock frees it for
/// the next locker. `EINVAL` for a mutex that is not robust or not
/// inconsistent, or one the caller does not hold.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutex_consistent(m: *mut pthread_mutex_t) -> c_int {
    with_mutex("pthread_mutex_consistent", m, |cm| {
        if !cm.is_robust() || !cm.is_owner() {
            return libc::EINVAL;
        }
        robust::consistent(cm)
    })
}

// ---- pthread_mutexattr_t: one int ----
//
//   bits 24..32  MAGIC (0xA5): initialised
//   bits 16..24  priority ceiling (SCHED_FIFO's range, 1..=99 on Linux)
//   bits  8..16  protocol (PTHREAD_PRIO_NONE/INHERIT/PROTECT)
//   bit   4      robust (glibc's ROBUST flag)
//   bits  0..4   kind (0..=3)

const ATTR_MAGIC: u32 = 0xA5;

#[derive(Clone, Copy)]
struct MutexAttr(u32);

impl MutexAttr {
    fn kind(self) -> c_int {
        (self.0 & 0x0f) as c_int
    }
    fn robust(self) -> bool {
        self.0 & ROBUST as u32 != 0
    }
    fn protocol(self) -> c_int {
        ((self.0 >> 8) & 0xff) as c_int
    }
    fn ceiling(self) -> c_int {
        ((self.0 >> 16) & 0xff) as c_int
    }
    fn with(kind: c_int, protocol: c_int, ceiling: c_int) -> MutexAttr {
        MutexAttr(
            ATTR_MAGIC << 24
                | ((ceiling as u32) & 0xff) << 16
                | ((protocol as u32) & 0xff) << 8
                | (kind as u32) & 0x1f,
        )
    }
    /// These attributes with `kind` (keeping the robust flag).
    fn with_kind(self, kind: c_int) -> MutexAttr {
        MutexAttr((self.0 & !0x0f) | (kind as u32 & 0x0f))
    }
    fn with_robust(self, robust: bool) -> MutexAttr {
        let bit = ROBUST as u32;
        MutexAttr(if robust { self.0 | bit } else { self.0 & !bit })
    }
}

/// # Safety
///
/// `a` is null or the program's `pthread_mutexattr_t`.
unsafe fn mutexattr(a: *const pthread_mutexattr_t) -> Result<MutexAttr, c_int> {
    // SAFETY: the caller's contract; the type is (at least) an int.
    let v = unsafe { a.cast::<u32>().as_ref() }.ok_or(libc::EINVAL)?;
    if *v >> 24 == ATTR_MAGIC {
        Ok(MutexAttr(*v))
    } else {
        Err(libc::EINVAL)
    }
}

fn with_mutexattr(
    name: &str,
    a: *const pthread_mutexattr_t,
    f: impl FnOnce(MutexAttr) -> Result<Option<MutexAttr>, c_int>,
) -> c_int {
    guard(name, libc::EINVAL, || {
        // SAFETY: the program's attribute object.
        let at = match unsafe { mutexattr(a) } {
            Ok(at) => at,
            Err(e) => return e,
        };
        match f(at) {
            Ok(Some(new)) => {
                // SAFETY: checked non-null and initialised above; setters
                // get a `*mut` from the program.
                unsafe { a.cast_mut().cast::<u32>().write(new.0) };
                0
            }
            Ok(None) => 0,
            Err(e) => e,
        }
    })
}

fn out(p: *mut c_int, v: c_int) -> Result<Option<MutexAttr>, c_int> {
    if p.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null; the program's int.
    unsafe { p.write(v) };
    Ok(None)
}

/// `pthread_mutexattr_init`: default kind, no protocol, the lowest
/// `SCHED_FIFO` priority as the ceiling (glibc's answer), stalled.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_init(a: *mut pthread_mutexattr_t) -> c_int {
    if a.is_null() {
        return libc::EINVAL;
    }
    let v = MutexAttr::with(
        libc::PTHREAD_MUTEX_NORMAL,
        libc::PTHREAD_PRIO_NONE,
        *ceiling_range().start(),
    );
    // SAFETY: non-null; the program's attribute object (an int).
    unsafe { a.cast::<u32>().write(v.0) };
    0
}

/// `pthread_mutexattr_destroy`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_destroy(a: *mut pthread_mutexattr_t) -> c_int {
    with_mutexattr("pthread_mutexattr_destroy", a, |_| Ok(Some(MutexAttr(0))))
}

/// `pthread_mutexattr_settype`: `PTHREAD_MUTEX_NORMAL`, `ERRORCHECK`,
/// `RECURSIVE` or `DEFAULT`, or glibc's `ADAPTIVE_NP` (stored, and a
/// normal mutex), else `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_settype(
    a: *mut pthread_mutexattr_t,
    kind: c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_settype", a, |at| match kind {
        libc::PTHREAD_MUTEX_NORMAL
        | libc::PTHREAD_MUTEX_ERRORCHECK
        | libc::PTHREAD_MUTEX_RECURSIVE
        | ADAPTIVE_NP => Ok(Some(at.with_kind(kind))),
        _ => Err(libc::EINVAL),
    })
}

/// `pthread_mutexattr_gettype`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_gettype(
    a: *const pthread_mutexattr_t,
    kind: *mut c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_gettype", a, |at| out(kind, at.kind()))
}

/// `pthread_mutexattr_setprotocol`: stored and returned
/// (`PTHREAD_PRIO_NONE`, `INHERIT`, `PROTECT`); weave does not change
/// priorities by it.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_setprotocol(
    a: *mut pthread_mutexattr_t,
    protocol: c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_setprotocol", a, |at| match protocol {
        libc::PTHREAD_PRIO_NONE | libc::PTHREAD_PRIO_INHERIT | libc::PTHREAD_PRIO_PROTECT => Ok(
            Some(MutexAttr::with(at.kind(), protocol, at.ceiling()).with_robust(at.robust())),
        ),
        _ => Err(libc::EINVAL),
    })
}

/// `pthread_mutexattr_getprotocol`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_getprotocol(
    a: *const pthread_mutexattr_t,
    protocol: *mut c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_getprotocol", a, |at| {
        out(protocol, at.protocol())
    })
}

/// `pthread_mutexattr_setprioceiling`: one of `SCHED_FIFO`'s priorities
/// (`sched_get_priority_min/max`), stored and returned; `EINVAL` outside.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_setprioceiling(
    a: *mut pthread_mutexattr_t,
    ceiling: c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_setprioceiling", a, |at| {
        if !ceiling_range().contains(&ceiling) {
            return Err(libc::EINVAL);
        }
        Ok(Some(
            MutexAttr::with(at.kind(), at.protocol(), ceiling).with_robust(at.robust()),
        ))
    })
}

/// `pthread_mutexattr_getprioceiling`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_getprioceiling(
    a: *const pthread_mutexattr_t,
    ceiling: *mut c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_getprioceiling", a, |at| {
        out(ceiling, at.ceiling())
    })
}

/// `pthread_mutexattr_setpshared`: `PTHREAD_PROCESS_PRIVATE` only;
/// `PTHREAD_PROCESS_SHARED` is `ENOTSUP` (weave's objects hold
/// process-local pointers), and `sysconf(_SC_THREAD_PROCESS_SHARED)` says
/// -1 through the compat header.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_setpshared(
    a: *mut pthread_mutexattr_t,
    pshared: c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_setpshared", a, |_| pshared_ok(pshared))
}

/// `pthread_mutexattr_getpshared`: always `PTHREAD_PROCESS_PRIVATE`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_getpshared(
    a: *const pthread_mutexattr_t,
    pshared: *mut c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_getpshared", a, |_| {
        out(pshared, libc::PTHREAD_PROCESS_PRIVATE)
    })
}

/// `pthread_mutexattr_setrobust`: `PTHREAD_MUTEX_STALLED` (the default)
/// or `PTHREAD_MUTEX_ROBUST` (`robust.rs`), else `EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_setrobust(
    a: *mut pthread_mutexattr_t,
    robust: c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_setrobust", a, |at| match robust {
        libc::PTHREAD_MUTEX_STALLED => Ok(Some(at.with_robust(false))),
        libc::PTHREAD_MUTEX_ROBUST => Ok(Some(at.with_robust(true))),
        _ => Err(libc::EINVAL),
    })
}

/// `pthread_mutexattr_getrobust`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_mutexattr_getrobust(
    a: *const pthread_mutexattr_t,
    robust: *mut c_int,
) -> c_int {
    with_mutexattr("pthread_mutexattr_getrobust", a, |at| {
        let v = if at.robust() {
            libc::PTHREAD_MUTEX_ROBUST
        } else {
            libc::PTHREAD_MUTEX_STALLED
        };
        out(robust, v)
    })
}

/// The answer of every `*attr_setpshared`: private is the only value.
pub(crate) fn pshared_ok<T>(pshared: c_int) -> Result<Option<T>, c_int> {
    match pshared {
        libc::PTHREAD_PROCESS_PRIVATE => Ok(None),
        libc::PTHREAD_PROCESS_SHARED => Err(libc::ENOTSUP),
        _ => Err(libc::EINVAL),
    }
}

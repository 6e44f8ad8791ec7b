//! `pthread_rwlock_t` and `pthread_rwlockattr_t` over
//! `weave::sync::RwLock` (readers and writers in alternating phases).
//!
//! Owns which guard a C unlock drops: the writer's, kept with its owner,
//! or one of the caller's read guards, kept in a list with their
//! readers' ids (an unlock by a thread that holds no lock is `EPERM`, and
//! never releases another reader's lock). It must not queue readers or
//! writers itself.
//!
//! The timed calls block in `RwLock`'s timed acquires, in steps that
//! follow `CLOCK_REALTIME` (`time::wait_until`).
//!
//! The lock kind is glibc's: `PTHREAD_RWLOCK_PREFER_READER_NP` (the
//! default, and what `PTHREAD_RWLOCK_INITIALIZER` and a null `attr` give)
//! and `PTHREAD_RWLOCK_PREFER_WRITER_NP` (which glibc treats as the
//! former) prefer readers: a reader gets in whenever no writer holds the
//! lock, waiting writers or not (`RwLock::read_preferring`), so a thread
//! may take a read lock it holds again, and writers may starve.
//! `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP` (or its static
//! initialiser) prefers writers: a new reader waits behind a waiting
//! writer, so a read lock taken again while a writer waits can deadlock,
//! as glibc warns.

use std::ffi::c_int;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use libc::{pthread_rwlock_t, pthread_rwlockattr_t, timespec};
use weave_rt::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use crate::guard;
use crate::mutex::me;
use crate::object::{slot, Slot};
use crate::time::{wait_until, Clock};
use crate::word_attr::WordAttr;

type ReadGuard = RwLockReadGuard<'static, ()>;
type WriteGuard = RwLockWriteGuard<'static, ()>;

struct CRwLock {
    rw: RwLock<()>,
    /// The writer's id (0: none). Relaxed: compared only with the
    /// caller's own id.
    writer: AtomicU64,
    wguard: Mutex<Option<WriteGuard>>,
    /// The read guards, each with its reader's id.
    rguards: Mutex<Vec<(u64, ReadGuard)>>,
    /// Readers get in while writers wait (the kind, module doc).
    prefer_readers: bool,
}

// SAFETY: the guards are kept behind weave mutexes and dropped by a thread
// that holds the lock in the same mode; a read guard of `()` carries no
// per-thread state, so any reader may drop any one of them.
unsafe impl Sync for CRwLock {}
// SAFETY: as above.
unsafe impl Send for CRwLock {}

/// # Safety
///
/// `r` is null or the program's `pthread_rwlock_t`, alive while used.
unsafe fn crw<'a>(r: *const pthread_rwlock_t) -> Result<&'a CRwLock, c_int> {
    // SAFETY: the caller's contract.
    let s: &Slot<CRwLock> = unsafe { slot(r) }?;
    // SAFETY: as above: the program's rwlock, read only while it still
    // holds a static initialiser (glibc's, which sets `__flags` alone).
    s.get(true, |_| new_rw(unsafe { static_kind(r) }))
}

/// Where glibc keeps a rwlock's kind (`__data.__flags`), which its static
/// initialisers set: `PTHREAD_RWLOCK_INITIALIZER` 0 (prefer readers),
/// `PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP` 2. Outside weave's
/// `Slot`, which ends at byte 20.
const GLIBC_FLAGS_OFFSET: usize = 48;
const _: () = assert!(GLIBC_FLAGS_OFFSET + 4 <= std::mem::size_of::<pthread_rwlock_t>());

/// The kind a statically initialised rwlock asks for.
///
/// # Safety
///
/// `r` is the program's (non-null) `pthread_rwlock_t`.
unsafe fn static_kind(r: *const pthread_rwlock_t) -> c_int {
    // SAFETY: within the object (checked above); an int-aligned offset of
    // an 8-aligned object.
    unsafe {
        r.cast::<u8>()
            .add(GLIBC_FLAGS_OFFSET)
            .cast::<c_int>()
            .read()
    }
}

/// A fresh rwlock of glibc's `kind` (`PTHREAD_RWLOCK_PREFER_*_NP`).
fn new_rw(kind: c_int) -> CRwLock {
    CRwLock {
        rw: RwLock::new(()),
        writer: AtomicU64::new(0),
        wguard: Mutex::new(None),
        rguards: Mutex::new(Vec::new()),
        prefer_readers: kind != PREFER_WRITER_NONRECURSIVE,
    }
}

fn with_rw(
    name: &str,
    r: *const pthread_rwlock_t,
    f: impl FnOnce(&CRwLock, u64) -> c_int,
) -> c_int {
    guard(name, libc::EINVAL, || {
        // SAFETY: the program's rwlock.
        match unsafe { crw(r) } {
            Ok(rw) => f(rw, me()),
            Err(e) => e,
        }
    })
}

impl CRwLock {
    fn keep_read(&self, g: RwLockReadGuard<'_, ()>, me: u64) {
        // SAFETY: the CRwLock lives in a box until destroy, which POSIX
        // forbids while it is held, so the guard cannot outlive it.
        let g: ReadGuard = unsafe { std::mem::transmute::<RwLockReadGuard<'_, ()>, ReadGuard>(g) };
        self.rguards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((me, g));
    }

    fn keep_write(&self, g: RwLockWriteGuard<'_, ()>, me: u64) {
        // SAFETY: as in `keep_read`.
        let g: WriteGuard =
            unsafe { std::mem::transmute::<RwLockWriteGuard<'_, ()>, WriteGuard>(g) };
        *self.wguard.lock().unwrap_or_else(|e| e.into_inner()) = Some(g);
        self.writer.store(me, Relaxed);
    }

    fn try_read(&self, me: u64) -> c_int {
        if self.writer.load(Relaxed) == me {
            return libc::EDEADLK;
        }
        let r = if self.prefer_readers {
            self.rw.try_read_preferring()
        } else {
            self.rw.try_read()
        };
        match r {
            Ok(g) => self.keep_read(g, me),
            Err(TryLockError::Poisoned(p)) => self.keep_read(p.into_inner(), me),
            Err(TryLockError::WouldBlock) => return libc::EBUSY,
        }
        0
    }

    fn try_write(&self, me: u64) -> c_int {
        if self.writer.load(Relaxed) == me {
            return libc::EDEADLK;
        }
        match self.rw.try_write() {
            Ok(g) => self.keep_write(g, me),
            Err(TryLockError::Poisoned(p)) => self.keep_write(p.into_inner(), me),
            Err(TryLockError::WouldBlock) => return libc::EBUSY,
        }
        0
    }

    /// `pthread_rwlock_timedrdlock`'s wait: tries at once (POSIX: a lock
    /// that can be had at once is taken even with a bad `abstime`), then
    /// blocks in `RwLock::try_read_until` (or its reader-preferring twin)
    /// in the steps of `time::wait_until`, which reads `CLOCK_REALTIME`
    /// again at each one (the wait follows the clock if it is set), or
    /// `CLOCK_MONOTONIC` for `pthread_rwlock_clockrdlock`.
    fn timed_read(&self, me: u64, clock: Clock, abstime: *const timespec) -> c_int {
        match self.try_read(me) {
            libc::EBUSY => {}
            r => return r,
        }
        let r = wait_until(clock, abstime, |until| {
            let r = if self.prefer_readers {
                self.rw.try_read_preferring_until(until)
            } else {
                self.rw.try_read_until(until)
            };
            match r {
                Ok(g) => self.keep_read(g, me),
                Err(TryLockError::Poisoned(p)) => self.keep_read(p.into_inner(), me),
                Err(TryLockError::WouldBlock) => return None,
            }
            Some(0)
        });
        r.unwrap_or_else(|e| e)
    }

    /// `pthread_rwlock_timedwrlock`'s wait, as [`timed_read`](Self::timed_read)
    /// through `RwLock::try_write_until`. A writer that times out no longer
    /// holds back the readers that queued behind it.
    fn timed_write(&self, me: u64, clock: Clock, abstime: *const timespec) -> c_int {
        match self.try_write(me) {
            libc::EBUSY => {}
            r => return r,
        }
        let r = wait_until(clock, abstime, |until| {
            match self.rw.try_write_until(until) {
                Ok(g) => self.keep_write(g, me),
                Err(TryLockError::Poisoned(p)) => self.keep_write(p.into_inner(), me),
                Err(TryLockError::WouldBlock) => return None,
            }
            Some(0)
        });
        r.unwrap_or_else(|e| e)
    }
}

/// `pthread_rwlock_init` (attributes: only process-private).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_init(
    r: *mut pthread_rwlock_t,
    attr: *const pthread_rwlockattr_t,
) -> c_int {
    guard("pthread_rwlock_init", libc::ENOMEM, || {
        let kind = if attr.is_null() {
            PREFER_READER
        // SAFETY: the program's rwlockattr.
        } else if unsafe { RWLOCKATTR.ok(attr) } {
            // SAFETY: initialised (checked).
            unsafe { kind_slot(attr).read() }
        } else {
            return libc::EINVAL;
        };
        // SAFETY: the program's rwlock.
        match unsafe { slot::<_, CRwLock>(r) } {
            Ok(s) => {
                s.init(0, new_rw(kind));
                0
            }
            Err(e) => e,
        }
    })
}

/// `pthread_rwlock_destroy`: `EBUSY` while held.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_destroy(r: *mut pthread_rwlock_t) -> c_int {
    guard("pthread_rwlock_destroy", libc::EINVAL, || {
        // SAFETY: the program's rwlock.
        match unsafe { slot::<_, CRwLock>(r) } {
            Ok(s) => s.destroy(|rw| rw.rw.try_write().is_err()),
            Err(e) => e,
        }
    })
}

/// `pthread_rwlock_rdlock`: `EDEADLK` if the caller holds it for writing.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_rdlock(r: *mut pthread_rwlock_t) -> c_int {
    with_rw("pthread_rwlock_rdlock", r, |rw, me| {
        if rw.writer.load(Relaxed) == me {
            return libc::EDEADLK;
        }
        let g = if rw.prefer_readers {
            rw.rw.read_preferring()
        } else {
            rw.rw.read()
        };
        rw.keep_read(g.unwrap_or_else(|e| e.into_inner()), me);
        0
    })
}

/// `pthread_rwlock_tryrdlock`: `EBUSY` if a writer holds it (or, for a
/// writer-preferring kind, waits for it), the caller included: `EBUSY` is
/// the one error POSIX gives the try forms for a lock that is held
/// (`EDEADLK` is the blocking forms').
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_tryrdlock(r: *mut pthread_rwlock_t) -> c_int {
    with_rw("pthread_rwlock_tryrdlock", r, |rw, me| {
        busy(rw.try_read(me))
    })
}

/// The try forms' answer for a lock the caller holds itself.
fn busy(r: c_int) -> c_int {
    if r == libc::EDEADLK {
        libc::EBUSY
    } else {
        r
    }
}

/// `pthread_rwlock_timedrdlock`: until `abstime` (`CLOCK_REALTIME`);
/// `ETIMEDOUT` then.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_timedrdlock(
    r: *mut pthread_rwlock_t,
    abstime: *const timespec,
) -> c_int {
    with_rw("pthread_rwlock_timedrdlock", r, |rw, me| {
        rw.timed_read(me, Clock::Realtime, abstime)
    })
}

/// `pthread_rwlock_clockrdlock`: as timedrdlock, with `abstime` on
/// `clock` (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`; `EINVAL` for another).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_clockrdlock(
    r: *mut pthread_rwlock_t,
    clock: libc::clockid_t,
    abstime: *const timespec,
) -> c_int {
    let Some(clock) = Clock::from_id(clock) else {
        return libc::EINVAL;
    };
    with_rw("pthread_rwlock_clockrdlock", r, |rw, me| {
        rw.timed_read(me, clock, abstime)
    })
}

/// `pthread_rwlock_wrlock`: `EDEADLK` if the caller already holds it for
/// writing.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_wrlock(r: *mut pthread_rwlock_t) -> c_int {
    with_rw("pthread_rwlock_wrlock", r, |rw, me| {
        if rw.writer.load(Relaxed) == me {
            return libc::EDEADLK;
        }
        let g = rw.rw.write().unwrap_or_else(|e| e.into_inner());
        rw.keep_write(g, me);
        0
    })
}

/// `pthread_rwlock_trywrlock`: `EBUSY` if held, by the caller too.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_trywrlock(r: *mut pthread_rwlock_t) -> c_int {
    with_rw("pthread_rwlock_trywrlock", r, |rw, me| {
        busy(rw.try_write(me))
    })
}

/// `pthread_rwlock_timedwrlock`: until `abstime` (`CLOCK_REALTIME`);
/// `ETIMEDOUT` then.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_timedwrlock(
    r: *mut pthread_rwlock_t,
    abstime: *const timespec,
) -> c_int {
    with_rw("pthread_rwlock_timedwrlock", r, |rw, me| {
        rw.timed_write(me, Clock::Realtime, abstime)
    })
}

/// `pthread_rwlock_clockwrlock`: as timedwrlock, with `abstime` on
/// `clock` (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`; `EINVAL` for another).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_clockwrlock(
    r: *mut pthread_rwlock_t,
    clock: libc::clockid_t,
    abstime: *const timespec,
) -> c_int {
    let Some(clock) = Clock::from_id(clock) else {
        return libc::EINVAL;
    };
    with_rw("pthread_rwlock_clockwrlock", r, |rw, me| {
        rw.timed_write(me, clock, abstime)
    })
}

/// `pthread_rwlock_unlock`: releases the caller's write lock, or one of
/// its read locks; `EPERM` if the caller holds none (another thread's
/// read lock stays held).
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlock_unlock(r: *mut pthread_rwlock_t) -> c_int {
    with_rw("pthread_rwlock_unlock", r, |rw, me| {
        if rw.writer.load(Relaxed) == me {
            rw.writer.store(0, Relaxed);
            let g = rw.wguard.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(g);
            return 0;
        }
        let g = {
            let mut gs = rw.rguards.lock().unwrap_or_else(|e| e.into_inner());
            let mine = gs.iter().rposition(|(id, _)| *id == me);
            mine.map(|i| gs.swap_remove(i))
        };
        match g {
            Some(g) => {
                drop(g);
                0
            }
            None => libc::EPERM,
        }
    })
}

/// `pthread_rwlockattr_t`: initialised, process-private, and the lock
/// kind of `pthread_rwlockattr_setkind_np` in its second `int`.
const RWLOCKATTR: WordAttr = WordAttr(0xA7 << 24);

/// glibc's lock kinds: `PTHREAD_RWLOCK_PREFER_READER_NP` (the default),
/// `_PREFER_WRITER_NP`, `_PREFER_WRITER_NONRECURSIVE_NP`.
const PREFER_READER: c_int = 0;
const PREFER_WRITER_NONRECURSIVE: c_int = 2;

/// The lock kind inside an initialised `pthread_rwlockattr_t` (8 bytes:
/// the magic, then the kind).
///
/// # Safety
///
/// `a` is the program's initialised attribute object.
unsafe fn kind_slot(a: *const pthread_rwlockattr_t) -> *mut c_int {
    const _: () = assert!(std::mem::size_of::<pthread_rwlockattr_t>() >= 8);
    // SAFETY: the object has room for two ints (checked above).
    unsafe { a.cast::<c_int>().cast_mut().add(1) }
}

/// `pthread_rwlockattr_init`: process-private, `PREFER_READER_NP`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlockattr_init(a: *mut pthread_rwlockattr_t) -> c_int {
    // SAFETY: the program's attribute object.
    let r = unsafe { RWLOCKATTR.init(a) };
    if r == 0 {
        // SAFETY: initialised just now.
        unsafe { kind_slot(a).write(PREFER_READER) };
    }
    r
}

/// `pthread_rwlockattr_setkind_np` (a GNU extension): the lock kind of
/// the rwlocks initialised with these attributes, returned by
/// `getkind_np`. `PREFER_READER_NP` (the default) and `PREFER_WRITER_NP`
/// (as in glibc, which ignores it) let a reader in while readers hold the
/// lock even if a writer waits; `PREFER_WRITER_NONRECURSIVE_NP` makes new
/// readers wait behind a waiting writer (module doc). `EINVAL` for
/// another value or uninitialised attributes.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlockattr_setkind_np(
    a: *mut pthread_rwlockattr_t,
    pref: c_int,
) -> c_int {
    // SAFETY: the program's attribute object.
    if !unsafe { RWLOCKATTR.ok(a) } || !(PREFER_READER..=PREFER_WRITER_NONRECURSIVE).contains(&pref)
    {
        return libc::EINVAL;
    }
    // SAFETY: initialised (checked).
    unsafe { kind_slot(a).write(pref) };
    0
}

/// `pthread_rwlockattr_getkind_np` (a GNU extension): the kind stored.
/// `EINVAL` for uninitialised attributes or a null `pref`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlockattr_getkind_np(
    a: *const pthread_rwlockattr_t,
    pref: *mut c_int,
) -> c_int {
    // SAFETY: the program's attribute object.
    if pref.is_null() || !unsafe { RWLOCKATTR.ok(a) } {
        return libc::EINVAL;
    }
    // SAFETY: initialised (checked); `pref` non-null, the program's int.
    unsafe { pref.write(kind_slot(a).read()) };
    0
}

/// `pthread_rwlockattr_destroy`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlockattr_destroy(a: *mut pthread_rwlockattr_t) -> c_int {
    // SAFETY: the program's attribute object.
    unsafe { RWLOCKATTR.destroy(a) }
}

/// `pthread_rwlockattr_setpshared`: `PTHREAD_PROCESS_SHARED` is `ENOTSUP`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlockattr_setpshared(
    a: *mut pthread_rwlockattr_t,
    pshared: c_int,
) -> c_int {
    // SAFETY: the program's attribute object.
    unsafe { RWLOCKATTR.set_pshared(a, pshared) }
}

/// `pthread_rwlockattr_getpshared`: always `PTHREAD_PROCESS_PRIVATE`.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_rwlockattr_getpshared(
    a: *const pthread_rwlockattr_t,
    pshared: *mut c_int,
) -> c_int {
    // SAFETY: the program's attribute object and int.
    unsafe { RWLOCKATTR.get_pshared(a, pshared) }
}

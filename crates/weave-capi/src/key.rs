//! Thread-specific data: `pthread_key_create`, `key_delete`,
//! `getspecific`, `setspecific`, and the destructors at thread exit.
//!
//! Owns the process's key table (`PTHREAD_KEYS_MAX` keys, each with a
//! sequence number and a destructor) and the destructor rounds. A
//! thread's values live in a `weave::thread_local!` (per ULT, or per OS
//! thread for `main`), each tagged with the sequence number of the key it
//! was set under, so that a deleted key's values read as NULL and are
//! never passed to a later key's destructor.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

use libc::pthread_key_t;

use crate::guard;

/// glibc's `PTHREAD_KEYS_MAX`.
pub(crate) const KEYS_MAX: usize = 1024;
/// POSIX's `PTHREAD_DESTRUCTOR_ITERATIONS` (glibc's value).
pub(crate) const DESTRUCTOR_ITERATIONS: usize = 4;

type Destructor = extern "C" fn(*mut c_void);

struct Key {
    /// Odd while the key is in use; bumped at create and at delete.
    seq: AtomicU64,
    /// The destructor as an address, 0 for none.
    dtor: AtomicUsize,
}

static KEYS: [Key; KEYS_MAX] = [const {
    Key {
        seq: AtomicU64::new(0),
        dtor: AtomicUsize::new(0),
    }
}; KEYS_MAX];

weave_rt::thread_local! {
    /// This thread's values: (the key's sequence number when set, value).
    static VALUES: RefCell<Vec<(u64, *mut c_void)>> = const { RefCell::new(Vec::new()) };
}

/// Set once any key is created: until then a thread has no values and
/// its exit skips the destructor rounds (and never touches `VALUES`).
static ANY_KEY: AtomicBool = AtomicBool::new(false);

fn in_use(seq: u64) -> bool {
    seq % 2 == 1
}

/// `pthread_key_create`: a new key whose value is NULL in every thread,
/// with an optional destructor run at thread exit. `EAGAIN` when all
/// `PTHREAD_KEYS_MAX` keys are in use.
#[no_mangle]
pub unsafe extern "C" fn weave_pthread_key_create(
    key: *mut pthread_key_t,
    dtor: Option<extern "C" fn(*mut c_void)>,
) -> c_int {
    guard("pthread_key_create", libc::EAGAIN, || {
        if key.is_null() {
            return libc::EINVAL;
        }
        for (i, k) in KEYS.iter().enumerate() {
            let s = k.seq.load(Relaxed);
            if in_use(s) {
                continue;
            }
            k.dtor.store(dtor.map_or(0, |f| f as usize), Relaxed);
            // Release: publishes the destructor with the key; pairs with
            // the Acquire loads in get, set and the destructor rounds.
            if k.seq.compare_exchange(s, s + 1, Release, Relaxed).is_ok() {
                ANY_KEY.store(true, Relaxed);
                // SAFETY: non-null; the program's pthread_key_t.
                unsafe { key.write(i as pthread_key_t) };
                return 0;
            }
        }
        libc::EAGAIN
    })
}

/// `pthread_key_delete`: the key is free again; no destructor runs for
/// the values threads still hold. `EINVAL` for a key not in use.
#[no_mangle]
pub extern "C" fn weave_pthread_key_delete(key: pthread_key_t) -> c_int {
    let Some(k) = KEYS.get(key as usize) else {
        return libc::EINVAL;
    };
    let s = k.seq.load(Relaxed);
    if !in_use(s) || k.seq.compare_exchange(s, s + 1, Release, Relaxed).is_err() {
        return libc::EINVAL;
    }
    0
}

/// The key's current sequence number if in use.
fn live_seq(key: pthread_key_t) -> Option<u64> {
    // Acquire: pairs with the Release in create.
    let s = KEYS.get(key as usize)?.seq.load(Acquire);
    in_use(s).then_some(s)
}

/// `pthread_getspecific`: the calling thread's value, NULL if none was
/// set (or the key is not in use).
#[no_mangle]
pub extern "C" fn weave_pthread_getspecific(key: pthread_key_t) -> *mut c_void {
    let Some(seq) = live_seq(key) else {
        return std::ptr::null_mut();
    };
    VALUES.with_borrow(|v| match v.get(key as usize) {
        Some(&(s, p)) if s == seq => p,
        _ => std::ptr::null_mut(),
    })
}

/// `pthread_setspecific`: `EINVAL` for a key not in use.
#[no_mangle]
pub extern "C" fn weave_pthread_setspecific(key: pthread_key_t, value: *const c_void) -> c_int {
    guard("pthread_setspecific", libc::ENOMEM, || {
        let Some(seq) = live_seq(key) else {
            return libc::EINVAL;
        };
        VALUES.with_borrow_mut(|v| {
            let k = key as usize;
            if v.len() <= k {
                v.resize(k + 1, (0, std::ptr::null_mut()));
            }
            v[k] = (seq, value.cast_mut());
        });
        0
    })
}

/// Runs the calling thread's destructors, as at thread exit: each
/// non-NULL value of a live key with a destructor is set to NULL and
/// passed to it, in up to `PTHREAD_DESTRUCTOR_ITERATIONS` rounds while
/// destructors set new values. Values left after that are dropped.
pub(crate) fn run_destructors() {
    // Relaxed: a thread that set a value did so after a create that it
    // saw (happens-before through the key it was given), so it sees this.
    if !ANY_KEY.load(Relaxed) {
        return;
    }
    for _ in 0..DESTRUCTOR_ITERATIONS {
        let mut ran = false;
        let n = VALUES.with_borrow(|v| v.len());
        for (k, key) in KEYS.iter().enumerate().take(n) {
            let (seq, p) = VALUES.with_borrow_mut(|v| {
                v.get_mut(k).map_or((0, std::ptr::null_mut()), |e| {
                    std::mem::replace(e, (0, std::ptr::null_mut()))
                })
            });
            if p.is_null() || live_seq(k as pthread_key_t) != Some(seq) {
                continue;
            }
            let d = key.dtor.load(Relaxed);
            if d != 0 {
                // SAFETY: `d` was stored from a `Destructor` in create.
                let f: Destructor = unsafe { std::mem::transmute::<usize, Destructor>(d) };
                f(p);
                ran = true;
            }
        }
        if !ran {
            break;
        }
    }
    VALUES.with_borrow_mut(Vec::clear);
}

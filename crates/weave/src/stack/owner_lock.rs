//! A spin lock that knows which thread holds it: the compaction lock of
//! `compact.rs`, which the SIGSEGV handler takes. A handler may not wait
//! on a futex the interrupted code could hold, hence a spin lock (spin,
//! then yield the CPU); and a fault taken by the holder itself must not
//! wait for itself, hence the holder's id: taking the lock a second time
//! on the same thread returns `None` instead of spinning forever.
//!
//! Owns nothing but its word; the caller names itself (its kernel thread
//! id, never 0). The loom model below checks mutual exclusion and the
//! re-entry refusal.

#[cfg(loom)]
use loom::sync::atomic::AtomicI32;
#[cfg(not(loom))]
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

pub(crate) struct OwnerLock {
    /// 0 when free, else the id of the holder.
    holder: AtomicI32,
}

/// The lock, held; released on drop.
pub(crate) struct Held<'a>(&'a OwnerLock);

impl OwnerLock {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> OwnerLock {
        OwnerLock {
            holder: AtomicI32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> OwnerLock {
        OwnerLock {
            holder: AtomicI32::new(0),
        }
    }

    // ASYNC-SIGNAL-SAFE: atomics, spin_loop and sched_yield(2).
    /// Takes the lock for thread `me` (not 0); `None` if `me` holds it.
    pub(crate) fn lock(&self, me: i32) -> Option<Held<'_>> {
        debug_assert_ne!(me, 0);
        let mut spins = 0u32;
        loop {
            // Acquire pairs with the Release store in `Held::drop`: the
            // new holder sees what the last one did under the lock.
            match self.holder.compare_exchange_weak(0, me, Acquire, Relaxed) {
                Ok(_) => return Some(Held(self)),
                Err(h) if h == me => return None,
                Err(_) => {
                    spins += 1;
                    if spins < 64 || cfg!(loom) {
                        crate::loom::spin_hint();
                    } else {
                        #[cfg(not(loom))]
                        // SAFETY: no preconditions.
                        unsafe {
                            libc::sched_yield()
                        };
                    }
                }
            }
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Release pairs with the Acquire CAS in `lock`.
        self.0.holder.store(0, Release);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    /// Two threads add under the lock: no lost update, and loom's cell
    /// checks that the two bodies never overlap.
    #[test]
    fn two_holders_never_overlap() {
        loom::model(|| {
            let shared = Arc::new((OwnerLock::new(), UnsafeCell::new(0u32)));
            let s2 = shared.clone();
            let t = loom::thread::spawn(move || {
                let _g = s2.0.lock(2).expect("thread 2 does not hold it");
                // SAFETY: under the lock.
                s2.1.with_mut(|v| unsafe { *v += 1 });
            });
            {
                let _g = shared.0.lock(1).expect("thread 1 does not hold it");
                // SAFETY: under the lock.
                shared.1.with_mut(|v| unsafe { *v += 1 });
            }
            t.join().unwrap();
            let _g = shared.0.lock(1).unwrap();
            // SAFETY: under the lock.
            assert_eq!(shared.1.with(|v| unsafe { *v }), 2);
        });
    }

    /// The holder asking again is refused, not left spinning; once it lets
    /// go, it may take the lock again.
    #[test]
    fn the_holder_asking_again_is_refused() {
        loom::model(|| {
            let l = OwnerLock::new();
            let g = l.lock(7).unwrap();
            assert!(l.lock(7).is_none());
            drop(g);
            assert!(l.lock(7).is_some());
        });
    }
}

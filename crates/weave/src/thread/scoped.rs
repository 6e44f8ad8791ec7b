//! Scoped threads, as `std::thread::scope`: threads that may borrow from
//! the caller's stack, all joined before `scope` returns.
//!
//! ```
//! let mut data = vec![1, 2, 3];
//! let total = std::sync::atomic::AtomicI32::new(0);
//! weave::thread::scope(|s| {
//!     for x in &data {
//!         let total = &total;
//!         s.spawn(move || total.fetch_add(*x, std::sync::atomic::Ordering::Relaxed));
//!     }
//! });
//! data.push(4); // the borrows ended with the scope
//! assert_eq!(total.into_inner(), 6);
//! ```

use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::current;
use super::packet::JoinRef;
use super::tcb::Tcb;
use super::{BlockReason, Builder, Thread};
use crate::sched::{self, Waiter};

/// Shared by a scope and its threads.
pub(crate) struct ScopeData {
    running: AtomicUsize,
    a_thread_panicked: AtomicBool,
    owner: Mutex<Option<Waiter>>,
}

impl ScopeData {
    /// A packet holding this scope was created: one more thread to wait
    /// for. Paired with `finished`, which the packet calls when freed.
    pub(crate) fn started(&self) {
        self.running.fetch_add(1, Ordering::SeqCst);
    }

    /// A thread of the scope panicked and its payload was dropped without
    /// being joined: `scope` panics once every thread is done.
    pub(crate) fn note_unjoined_panic(&self) {
        // Relaxed: read by the owner after `running` reaches 0, which the
        // SeqCst decrement in `finished` (after this store) orders.
        self.a_thread_panicked.store(true, Ordering::Relaxed);
    }

    /// A thread of the scope is done: its packet was freed, after its
    /// result (or panic payload) was dropped or taken.
    pub(crate) fn finished(&self) {
        // SeqCst pairs with the owner's registration then re-check.
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            let w = self.owner.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(w) = w {
                w.wake();
            }
        }
    }

    fn wait_all(&self) {
        while self.running.load(Ordering::SeqCst) != 0 {
            sched::block_on(BlockReason::Join, None, |w| {
                *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
                self.running.load(Ordering::SeqCst) != 0
            });
        }
    }
}

/// The calling ULT's mark as the owner of a live scope (`Tcb::scopes`),
/// from before its first child can borrow its stack until every child has
/// finished: its stack is not compacted meanwhile, since a child may hand
/// a borrow of it to a system call, which a compacted page would fail
/// with `EFAULT` (`docs/design/compaction.md`). Nested scopes count; an
/// OS thread's scope marks nothing (its stack is never compacted).
struct Owner(Option<&'static Tcb>);

impl Owner {
    fn enter() -> Owner {
        let me = current::running().filter(|t| {
            // Relaxed: written by this thread only; its home LWP, which
            // reads it while this ULT is switched out, is the same kernel
            // thread (a pinned ULT) and the monitor's read is a hint that
            // the LWP re-checks. At the (unreachable in practice) limit of
            // 65,535 nested scopes the outer ones keep the mark.
            t.scopes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
                .is_ok()
        });
        Owner(me)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            t.scopes.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A scope to spawn scoped threads in.
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// An owned permission to join a scoped thread.
pub struct ScopedJoinHandle<'scope, T> {
    join: JoinRef<T>,
    thread: Thread,
    _scope: PhantomData<&'scope ()>,
}

/// Creates a scope: every thread spawned in it is joined before `scope`
/// returns. Panics if a thread panicked and was not joined.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            a_thread_panicked: AtomicBool::new(false),
            owner: Mutex::new(None),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let _owner = Owner::enter();
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.wait_all();
    match result {
        Err(e) => resume_unwind(e),
        Ok(_) if scope.data.a_thread_panicked.load(Ordering::Relaxed) => {
            panic!("a scoped thread panicked")
        }
        Ok(r) => r,
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a scoped thread. Panics if it cannot be spawned, like std.
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .unwrap_or_else(|e| panic!("failed to spawn thread: {e}"))
    }
}

impl Builder {
    /// Spawns a scoped thread with this builder's settings.
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // SAFETY: `scope` waits in `wait_all` until this thread's packet is
        // freed, which happens after `f` and its result are gone, and the
        // borrows of 'scope end only after that.
        match unsafe { self.spawn_unchecked(f, Some(scope.data.clone())) } {
            Ok((join, thread)) => Ok(ScopedJoinHandle {
                join,
                thread,
                _scope: PhantomData,
            }),
            Err(e) => Err(e),
        }
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread and returns its result or panic payload.
    /// Panics, as std does, if the thread is the calling one.
    pub fn join(self) -> std::thread::Result<T> {
        super::refuse_self_join(self.thread.id);
        super::wait_for(&self.join);
        self.join.take()
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

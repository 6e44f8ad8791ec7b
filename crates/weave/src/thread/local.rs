//! Per-thread data: `weave::thread_local!`, the thread-specific data of the
//! seeds.
//!
//! `std::thread_local!` is per OS thread, so on weave it is shared by every
//! ULT that runs on the same LWP. `weave::thread_local!` is per *thread as
//! the program sees it*: per ULT on a ULT, per OS thread on an OS thread.
//! Values live in the TCB (or the OS thread's storage), are created on
//! first access, and are dropped when the thread exits, before `join`
//! returns.
//!
//! ```
//! use std::cell::Cell;
//! weave::thread_local! {
//!     static COUNT: Cell<u32> = Cell::new(0);
//! }
//! let h = weave::thread::spawn(|| {
//!     COUNT.with(|c| c.set(c.get() + 1));
//!     COUNT.with(|c| c.get())
//! });
//! assert_eq!(h.join().unwrap(), 1);
//! COUNT.with(|c| assert_eq!(c.get(), 0)); // another thread, its own value
//! ```

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tcb::Tcb;

/// Declares per-thread storage, as `std::thread_local!`.
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::__LocalKey<$t> = {
            fn __init() -> $t { $init }
            $crate::__LocalKey::new(__init)
        };
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

/// A key to per-thread storage, made by [`thread_local!`](crate::thread_local).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// 1 + index into each thread's slots; 0 until first use.
    slot: AtomicUsize,
}

/// The value was accessed while its thread was destroying its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a weave thread-local was accessed while its thread was exiting")
    }
}

impl std::error::Error for AccessError {}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

/// A thread's values, by slot.
#[derive(Default)]
pub(crate) struct Locals {
    values: Vec<Option<Box<dyn Any>>>,
    destroying: bool,
}

std::thread_local! {
    static OS_LOCALS: UnsafeCell<Locals> = UnsafeCell::new(Locals::default());
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            slot: AtomicUsize::new(0),
        }
    }

    fn index(&'static self) -> usize {
        let s = self.slot.load(Ordering::Acquire);
        if s != 0 {
            return s - 1;
        }
        let fresh = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        // AcqRel/Acquire: every thread agrees on one slot per key.
        match self
            .slot
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh - 1,
            Err(s) => s - 1,
        }
    }

    /// Runs `f` with a reference to this thread's value, creating it first
    /// if needed. Panics if the thread is destroying its values.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.try_with(f)
            .expect("cannot access a weave thread-local while its thread is exiting")
    }

    /// As [`with`](Self::with), but returns an error instead of panicking.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let i = self.index();
        let locals = locals_ptr();
        // SAFETY: `locals` is the calling thread's own storage; each borrow
        // below is short and none is held across `init` (which may touch
        // other keys and grow the vector).
        let existing = unsafe { lookup::<T>(locals, i) };
        let p = match existing {
            Some(p) => p,
            None => {
                // SAFETY: as above.
                if unsafe { (*locals).destroying } {
                    return Err(AccessError);
                }
                let value: Box<dyn Any> = Box::new((self.init)());
                // SAFETY: as above; `init` has returned.
                unsafe {
                    let l = &mut *locals;
                    if l.values.len() <= i {
                        l.values.resize_with(i + 1, || None);
                    }
                    if l.values[i].is_none() {
                        l.values[i] = Some(value);
                    }
                    lookup::<T>(locals, i).expect("just stored")
                }
            }
        };
        // SAFETY: the value is boxed, so it does not move when the vector
        // grows, and it is dropped only when the thread exits, after every
        // `with` of that thread has returned.
        Ok(f(unsafe { &*p }))
    }
}

/// # Safety
///
/// `locals` must be the calling thread's storage, not borrowed elsewhere.
unsafe fn lookup<T: 'static>(locals: *mut Locals, i: usize) -> Option<*const T> {
    // SAFETY: per the contract.
    let l = unsafe { &*locals };
    let v = l.values.get(i)?.as_ref()?;
    Some(v.downcast_ref::<T>().expect("a slot holds one key's type") as *const T)
}

fn locals_ptr() -> *mut Locals {
    match super::current::running() {
        Some(tcb) => tcb.locals.get(),
        None => OS_LOCALS.with(|l| l.get()),
    }
}

/// Drops the values of the exiting ULT `tcb`, on its own stack. Values
/// created by other values' destructors are dropped too (a few rounds, as
/// std does); a panic in a destructor aborts, as in std.
pub(crate) fn destroy_current(tcb: &Tcb) {
    let locals = tcb.locals.get();
    for _ in 0..8 {
        // SAFETY: the exiting ULT owns its locals; no `with` is running.
        let values = unsafe {
            (*locals).destroying = false;
            std::mem::take(&mut (*locals).values)
        };
        if values.iter().all(Option::is_none) {
            break;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(values)));
        if r.is_err() {
            crate::fatal("a weave thread-local destructor panicked");
        }
    }
    // SAFETY: as above. Further accesses fail rather than leak.
    unsafe {
        (*locals).destroying = false;
        (*locals).values = Vec::new();
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

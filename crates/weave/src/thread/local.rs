//! Per-thread data: `weave::thread_local!`, the thread-specific data of the
//! seeds. Owns each thread's table of values and the order in which they are
//! destroyed; it must not touch scheduling (it runs on the thread itself, and
//! a value's destructor may block like any other code of that thread).
//!
//! `std::thread_local!` is per OS thread, so on weave it is shared by every
//! ULT that runs on the same LWP. `weave::thread_local!` is per *thread as
//! the program sees it*: per ULT on a ULT, per OS thread on an OS thread.
//! Values live in the TCB (or, on an OS thread, in a table that a std
//! thread-local points to), are created on first access, and are dropped
//! when the thread exits, before `join` returns.
//!
//! ```
//! use std::cell::Cell;
//! weave::thread_local! {
//!     static COUNT: Cell<u32> = const { Cell::new(0) };
//! }
//! let h = weave::thread::spawn(|| {
//!     COUNT.set(COUNT.get() + 1);
//!     COUNT.get()
//! });
//! assert_eq!(h.join().unwrap(), 1);
//! assert_eq!(COUNT.get(), 0); // another thread, its own value
//! ```
//!
//! ## Destruction, as std on Linux
//!
//! Each key of a thread is *empty* (never used), *alive*, or *destroyed*.
//! When the thread exits, the values of types that need dropping are
//! destroyed one at a time, the last initialised first (std's order); each
//! is marked destroyed *before* its destructor runs. So, during and after
//! destruction:
//!
//! - a key whose destructor is running or has run gives
//!   [`AccessError`] from `try_with`, and `with` panics with std's message;
//!   it is never initialised again (so destruction always ends);
//! - a key not used before may be initialised by another value's destructor:
//!   its value is then destroyed in turn;
//! - keys of types without drop glue are never destroyed (as in std): they
//!   stay usable until the last destructor has run, then are freed;
//! - once every destructor has run, every key of the thread gives
//!   `AccessError` (std's `with` documents that it *may* panic then).
//!
//! A destructor that panics aborts the process, as in std.
//!
//! On an OS thread the same table is destroyed by a std thread-local guard,
//! at the OS thread's exit (std does not run thread-local destructors for
//! the main thread).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tcb::Tcb;

/// Declares per-thread storage, as `std::thread_local!`: any number of
/// `static` items, with attributes and visibility, each initialised lazily
/// by an expression or by a `const { ... }` block.
///
/// ```
/// use std::cell::{Cell, RefCell};
/// weave::thread_local! {
///     /// Documented, public to the crate.
///     pub(crate) static DEPTH: Cell<u32> = const { Cell::new(0) };
///     static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
/// }
/// DEPTH.set(3);
/// LOG.with_borrow_mut(|l| l.push("hello".into()));
/// assert_eq!(DEPTH.get(), 3);
/// assert_eq!(LOG.take(), ["hello"]);
/// ```
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::__LocalKey<$t> = {
            fn __init() -> $t {
                const $init
            }
            $crate::__LocalKey::new(__init)
        };
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = const $init;);
    };
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

/// A key to per-thread storage, made by [`thread_local!`](crate::thread_local),
/// with the methods of `std::thread::LocalKey`.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// 1 + index into each thread's slots; 0 until first use.
    slot: AtomicUsize,
}

/// The value was accessed during or after its destruction (as
/// `std::thread::AccessError`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError").finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

/// One key's value in one thread.
#[derive(Default)]
enum Slot {
    #[default]
    Empty,
    Alive(Box<dyn Any>),
    Destroyed,
}

/// Where a thread is in its life, as far as its values go.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Live,
    /// Running the destructors: empty keys may still be initialised.
    Destroying,
    /// Every destructor has run: no key may be used any more.
    Done,
}

/// A thread's values, by slot. It sits in every TCB, so it is kept to 16
/// bytes: the table is boxed on a thread's first value (most of a
/// program's 100,000 parked threads never set one).
#[derive(Default)]
pub(crate) struct Locals {
    table: Option<Box<Table>>,
    phase: Phase,
    /// The ULT's share of std's panic count while it is switched out
    /// (`thread::panic` keeps it, at most its `MAX_MOVED`; here because it
    /// is per-ULT state that only the LWP running the ULT touches, like
    /// the values).
    pub(crate) panics: u16,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    /// Slots holding a value that needs dropping, in the order they were
    /// initialised: destruction pops from the end.
    order: Vec<usize>,
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
        // AcqRel/Acquire: pairs with the Acquire load above and this same
        // CAS on other threads, so every thread agrees on one slot per key.
        match self
            .slot
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh - 1,
            Err(s) => s - 1,
        }
    }

    /// Runs `f` with a reference to this thread's value, creating it first
    /// if needed.
    ///
    /// # Panics
    ///
    /// With std's message if the value's destructor is running or has run
    /// on this thread (see [`try_with`](Self::try_with)), and if `f` panics.
    #[track_caller]
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => access_error(e),
        }
    }

    /// As [`with`](Self::with), but returns [`AccessError`] instead of
    /// panicking when the value's destructor is running or has run on this
    /// thread (or the thread has finished destroying its values).
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let p = self.get_or_init(|| (self.init)())?;
        // SAFETY: the value is boxed, so it does not move when the table
        // grows, and it is dropped only by the thread's destruction, which
        // marks the slot destroyed first: a `with` running now has obtained
        // its pointer before that and ends before the drop, because the
        // destruction runs on this same thread, after the closure returned
        // (or from a destructor, which cannot reach a value being dropped:
        // its slot is already destroyed).
        Ok(f(unsafe { &*p }))
    }

    /// The value's address, created with `make` if the key is empty.
    fn get_or_init(&'static self, make: impl FnOnce() -> T) -> Result<*const T, AccessError> {
        let i = self.index();
        let locals = locals_ptr().ok_or(AccessError)?;
        // SAFETY: `locals` is the calling thread's own table; each borrow
        // in this function is short and none is held across `make` (which
        // may use other keys and grow the table) or across a drop.
        match unsafe { peek::<T>(locals, i) } {
            Peek::Alive(p) => return Ok(p),
            Peek::Destroyed => return Err(AccessError),
            Peek::Empty => {}
        }
        let value: Box<dyn Any> = Box::new(make());
        // SAFETY: as above; `make` has returned.
        let old = unsafe {
            let l = &mut *locals;
            if l.phase == Phase::Done {
                None
            } else {
                let t = l.table.get_or_insert_with(Box::default);
                if t.slots.len() <= i {
                    t.slots.resize_with(i + 1, Slot::default);
                }
                let old = std::mem::replace(&mut t.slots[i], Slot::Alive(value));
                if matches!(old, Slot::Empty) && std::mem::needs_drop::<T>() {
                    t.order.push(i);
                }
                Some(old)
            }
        };
        // An initialiser that used its own key: the outer value wins and the
        // inner one is dropped, as std does (outside any borrow).
        let Some(old) = old else {
            return Err(AccessError);
        };
        drop(old);
        // SAFETY: as above.
        match unsafe { peek::<T>(locals, i) } {
            Peek::Alive(p) => Ok(p),
            _ => Err(AccessError),
        }
    }
}

impl<C: 'static> LocalKey<C> {
    /// Stores `value` into this thread's value with `store`, or, if the key
    /// is empty, initialises it with `wrap(value)` instead of the
    /// initialiser (std's `set` for `Cell` and `RefCell` keys).
    #[track_caller]
    fn set_with<T>(&'static self, value: T, wrap: fn(T) -> C, store: fn(&C, T)) {
        let mut value = Some(value);
        let p = match self.get_or_init(|| wrap(value.take().expect("taken once"))) {
            Ok(p) => p,
            Err(e) => access_error(e),
        };
        if let Some(v) = value {
            // SAFETY: as in `try_with`.
            store(unsafe { &*p }, v);
        }
    }
}

#[cold]
#[track_caller]
fn access_error(e: AccessError) -> ! {
    panic!("cannot access a Thread Local Storage value during or after destruction: {e:?}")
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the value, without running the initialiser if the key is empty
    /// (as std's `LocalKey<Cell<T>>::set`).
    ///
    /// # Panics
    ///
    /// As [`with`](LocalKey::with), during or after destruction.
    #[track_caller]
    pub fn set(&'static self, value: T) {
        self.set_with(value, Cell::new, Cell::set);
    }

    /// A copy of the value.
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the value, leaving `Default::default()`.
    #[track_caller]
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the value, returning the old one.
    #[track_caller]
    pub fn replace(&'static self, value: T) -> T {
        self.with(|c| c.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with a shared borrow of the value.
    ///
    /// # Panics
    ///
    /// If the value is mutably borrowed, and as [`with`](LocalKey::with).
    #[track_caller]
    pub fn with_borrow<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.with(|c| f(&c.borrow()))
    }

    /// Runs `f` with a mutable borrow of the value.
    ///
    /// # Panics
    ///
    /// If the value is borrowed, and as [`with`](LocalKey::with).
    #[track_caller]
    pub fn with_borrow_mut<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.with(|c| f(&mut c.borrow_mut()))
    }

    /// Sets the value, without running the initialiser if the key is empty.
    ///
    /// # Panics
    ///
    /// If the value is borrowed, and as [`with`](LocalKey::with).
    #[track_caller]
    pub fn set(&'static self, value: T) {
        self.set_with(value, RefCell::new, |c, v| *c.borrow_mut() = v);
    }

    /// Takes the value, leaving `Default::default()`.
    ///
    /// # Panics
    ///
    /// If the value is borrowed, and as [`with`](LocalKey::with).
    #[track_caller]
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the value, returning the old one.
    ///
    /// # Panics
    ///
    /// If the value is borrowed, and as [`with`](LocalKey::with).
    #[track_caller]
    pub fn replace(&'static self, value: T) -> T {
        self.with(|c| c.replace(value))
    }
}

enum Peek<T> {
    Empty,
    Alive(*const T),
    Destroyed,
}

/// # Safety
///
/// `locals` must be the calling thread's table, not borrowed elsewhere.
unsafe fn peek<T: 'static>(locals: *mut Locals, i: usize) -> Peek<T> {
    // SAFETY: per the contract.
    let l = unsafe { &*locals };
    match l.table.as_ref().and_then(|t| t.slots.get(i)) {
        Some(Slot::Alive(v)) => {
            Peek::Alive(v.downcast_ref::<T>().expect("a slot holds one key's type") as *const T)
        }
        Some(Slot::Destroyed) => Peek::Destroyed,
        Some(Slot::Empty) | None if l.phase == Phase::Done => Peek::Destroyed,
        Some(Slot::Empty) | None => Peek::Empty,
    }
}

/// The calling thread's table, or `None` on an OS thread whose table is
/// gone (std has destroyed the guard that owned it).
fn locals_ptr() -> Option<*mut Locals> {
    match super::current::running() {
        Some(tcb) => Some(tcb.locals.get()),
        None => os_locals(),
    }
}

// An OS thread's table is boxed and reached through a pointer that std
// never destroys (a `const`, drop-free thread-local stays usable during
// std's own destructors), so destructors of weave values can still use
// other weave keys. The guard's destructor destroys the values.
std::thread_local! {
    static OS_LOCALS: Cell<*mut Locals> = const { Cell::new(std::ptr::null_mut()) };
    static OS_GUARD: OsGuard = const { OsGuard };
}

/// Marks an OS thread's table as finished for good (its box is freed).
const OS_DONE: *mut Locals = 1 as *mut Locals;

struct OsGuard;

impl Drop for OsGuard {
    fn drop(&mut self) {
        let p = OS_LOCALS.with(Cell::get);
        if p.is_null() || p == OS_DONE {
            return;
        }
        // SAFETY: `p` is this thread's table, boxed by `os_locals`.
        unsafe { destroy(p) };
        OS_LOCALS.with(|c| c.set(OS_DONE));
        // SAFETY: the box was leaked by `os_locals` and nothing refers to it
        // any more: the pointer now says OS_DONE, and destruction is over.
        drop(unsafe { Box::from_raw(p) });
    }
}

fn os_locals() -> Option<*mut Locals> {
    let p = OS_LOCALS.with(Cell::get);
    if p == OS_DONE {
        return None;
    }
    if !p.is_null() {
        return Some(p);
    }
    // Register the guard first: if std is already destroying this thread's
    // locals, the guard cannot be registered and the table would never be
    // destroyed, so refuse.
    OS_GUARD.try_with(|_| ()).ok()?;
    let p = Box::into_raw(Box::default());
    OS_LOCALS.with(|c| c.set(p));
    Some(p)
}

/// In the child of a fork made on a ULT (`current::adopt_after_fork`):
/// the ULT's values become those of its thread, now a plain OS thread, so
/// that `with` finds them where an OS thread's are. The table the LWP's
/// OS thread had (the parent's LWP's) is left behind, not destroyed: its
/// values were never this thread's.
pub(crate) fn adopt_after_fork(tcb: &Tcb) {
    if OS_GUARD.try_with(|_| ()).is_err() || OS_LOCALS.with(Cell::get) == OS_DONE {
        return;
    }
    // SAFETY: the ULT that owned the table is the caller, which runs as a
    // ULT no more; no `with` of it is running.
    let table = unsafe { std::mem::take(&mut *tcb.locals.get()) };
    OS_LOCALS.with(|c| c.set(Box::into_raw(Box::new(table))));
}

/// Starts a new ULT's life in `tcb`: its table is empty and live. Runs at
/// the ULT's entry, so that a recycled TCB never carries values over.
pub(crate) fn reset(tcb: &Tcb) {
    // SAFETY: the ULT starting to run owns its TCB's table (module doc of
    // `tcb`), and no `with` of it can be running yet.
    let old = unsafe { std::mem::take(&mut *tcb.locals.get()) };
    drop(old);
}

/// Destroys the values of the exiting ULT `tcb`, on its own stack, before
/// `join` may return.
pub(crate) fn destroy_current(tcb: &Tcb) {
    // SAFETY: the exiting ULT owns its table, and runs this itself.
    unsafe { destroy(tcb.locals.get()) };
}

/// # Safety
///
/// `locals` must be the calling thread's table, at that thread's exit.
unsafe fn destroy(locals: *mut Locals) {
    // SAFETY: per the contract; each borrow ends before a destructor runs.
    unsafe { (*locals).phase = Phase::Destroying };
    loop {
        // SAFETY: as above.
        let value = unsafe {
            let l = &mut *locals;
            let Some(t) = l.table.as_mut() else { break };
            let Some(i) = t.order.pop() else { break };
            std::mem::replace(&mut t.slots[i], Slot::Destroyed)
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(value)));
        if r.is_err() {
            crate::fatal("thread local panicked on drop (a weave::thread_local! destructor)");
        }
    }
    // Only values without drop glue are left: freeing them runs no code.
    // SAFETY: as above.
    let rest = unsafe {
        let l = &mut *locals;
        l.phase = Phase::Done;
        l.table.take()
    };
    drop(rest);
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every TCB holds a `Locals`: a field added here is paid by each of
    /// 100,000 parked threads (`weave bench idle_memory`).
    #[test]
    fn locals_stay_two_words() {
        assert_eq!(std::mem::size_of::<Locals>(), 16);
    }
}

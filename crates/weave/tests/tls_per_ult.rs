//! With the `tls-per-ult` feature every ULT has a TLS block of its own:
//! std's `thread_local!`, errno and glibc's per-thread state are per ULT,
//! and survive a move to another LWP. The tests of this file set the pool
//! size, so they run one at a time. (Without the feature, the per-ULT
//! tests fail: see docs/design/tls-per-ult.md.)
#![cfg(feature = "tls-per-ult")]

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use weave::sync::Barrier;
use weave::thread;

static SERIAL: Mutex<()> = Mutex::new(());

fn pool_of(n: usize) -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    weave::set_concurrency(n).unwrap();
    g
}

std::thread_local! {
    static VALUE: Cell<u64> = const { Cell::new(0) };
}

/// Reads through a call the compiler cannot see through, so that the
/// thread-local's address is computed afresh after a switch.
#[inline(never)]
fn value() -> u64 {
    VALUE.with(Cell::get)
}

#[inline(never)]
fn set_value(v: u64) {
    VALUE.with(|c| c.set(v));
}

#[inline(never)]
fn errno() -> i32 {
    // SAFETY: glibc's errno location is valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

#[inline(never)]
fn set_errno(v: i32) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = v };
}

/// Runs `a` and `b` as two ULTs that meet at a barrier between their two
/// halves, on a pool of one LWP; returns what their second halves return
/// and whether both ran on the same LWP.
fn two_ults_on_one_lwp<T: Send + 'static>(
    a: impl FnOnce(&Barrier) -> T + Send + 'static,
    b: impl FnOnce(&Barrier) -> T + Send + 'static,
) -> (T, T) {
    let _g = pool_of(1);
    let bar = Arc::new(Barrier::new(2));
    let (ba, bb) = (bar.clone(), bar);
    let ha = thread::spawn(move || (a(&ba), thread::current_lwp()));
    let hb = thread::spawn(move || (b(&bb), thread::current_lwp()));
    let (ra, la) = ha.join().unwrap();
    let (rb, lb) = hb.join().unwrap();
    assert_eq!(la, lb, "the two ULTs ran on different LWPs");
    (ra, rb)
}

#[test]
fn std_thread_local_is_per_ult_on_one_lwp() {
    let (a, b) = two_ults_on_one_lwp(
        |bar| {
            set_value(1);
            bar.wait();
            bar.wait();
            value()
        },
        |bar| {
            bar.wait();
            set_value(2);
            bar.wait();
            value()
        },
    );
    assert_eq!((a, b), (1, 2));
}

#[test]
fn errno_is_per_ult_across_a_switch() {
    let (a, b) = two_ults_on_one_lwp(
        |bar| {
            set_errno(libc::EAGAIN);
            bar.wait();
            bar.wait();
            errno()
        },
        |bar| {
            bar.wait();
            set_errno(libc::ENOENT);
            bar.wait();
            errno()
        },
    );
    assert_eq!((a, b), (libc::EAGAIN, libc::ENOENT));
}

#[test]
fn c_thread_variables_have_an_address_per_ult() {
    // errno is a C `__thread int` in libc's static TLS: its address is the
    // ULT's block plus libc's offset.
    let (a, b) = two_ults_on_one_lwp(
        |bar| {
            bar.wait();
            // SAFETY: as in `errno`.
            unsafe { libc::__errno_location() as usize }
        },
        |bar| {
            bar.wait();
            // SAFETY: as in `errno`.
            unsafe { libc::__errno_location() as usize }
        },
    );
    assert_ne!(a, b);
}

#[test]
fn pthread_specific_data_is_per_ult() {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: a key without destructor.
    assert_eq!(unsafe { libc::pthread_key_create(&mut key, None) }, 0);
    let (a, b) = two_ults_on_one_lwp(
        move |bar| {
            // SAFETY: `key` is a live key; the value is an integer.
            unsafe { libc::pthread_setspecific(key, 1 as *const libc::c_void) };
            bar.wait();
            bar.wait();
            // SAFETY: as above.
            unsafe { libc::pthread_getspecific(key) as usize }
        },
        move |bar| {
            bar.wait();
            // SAFETY: as above.
            let seen = unsafe { libc::pthread_getspecific(key) as usize };
            bar.wait();
            seen
        },
    );
    assert_eq!((a, b), (1, 0));
}

struct CountsDrops(Arc<AtomicUsize>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

std::thread_local! {
    static DROPS: RefCell<Option<CountsDrops>> = const { RefCell::new(None) };
}

#[test]
fn std_thread_local_destructors_run_before_join_returns() {
    let _g = pool_of(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let d = drops.clone();
            thread::spawn(move || {
                DROPS.with(|c| *c.borrow_mut() = Some(CountsDrops(d)));
                thread::yield_now();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn migrated_ult_keeps_its_thread_locals() {
    let _g = pool_of(2);
    let spin = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let s = spin.clone();
    // Keeps the second LWP busy too, so that the injector is served by both.
    // SAFETY: holds nothing across its yields.
    let other = unsafe { thread::Builder::new().migratable() }
        .spawn(move || {
            while s.load(Ordering::Relaxed) {
                thread::yield_now();
            }
        })
        .unwrap();
    // SAFETY: the point of the test: with a block per ULT, a reference to
    // a thread-local stays valid across the move.
    let h = unsafe { thread::Builder::new().migratable() }
        .spawn(|| {
            set_value(42);
            set_errno(libc::EILSEQ);
            let first = thread::current_lwp();
            // SAFETY: gettid has no preconditions.
            let first_tid = unsafe { libc::gettid() };
            // A watchdog, not a timing assertion: only a hang ends here.
            for _ in 0..10_000_000u64 {
                thread::yield_now();
                if thread::current_lwp() != first {
                    // SAFETY: as above.
                    let tid = unsafe { libc::gettid() };
                    return Some((first_tid != tid, value(), errno()));
                }
            }
            None
        })
        .unwrap();
    let moved = h.join().unwrap();
    spin.store(false, Ordering::Relaxed);
    other.join().unwrap();
    assert_eq!(moved, Some((true, 42, libc::EILSEQ)));
}

#[test]
fn panic_on_a_ult_is_caught_by_join() {
    let _g = pool_of(1);
    let h = thread::spawn(|| -> u32 { panic!("boom on a ULT") });
    let payload = h.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom on a ULT"));
    let after = thread::spawn(std::thread::panicking).join().unwrap();
    assert!(!after, "the panic count leaked to the next ULT");
}

#[inline(never)]
fn capture_here() -> String {
    std::backtrace::Backtrace::force_capture().to_string()
}

#[test]
fn backtraces_work_on_a_ult() {
    let _g = pool_of(1);
    let bt = thread::spawn(capture_here).join().unwrap();
    assert!(bt.contains("capture_here"), "no frame of the ULT in:\n{bt}");
}

#[test]
fn c_ctype_tables_are_set_up_on_a_ult() {
    let _g = pool_of(1);
    // isalpha reads per-thread table pointers that only `__ctype_init`
    // sets: with a bare block it would fault.
    // SAFETY: isalpha takes any unsigned char value.
    let r = thread::spawn(|| unsafe { (libc::isalpha(b'a'.into()), libc::isalpha(b'1'.into())) })
        .join()
        .unwrap();
    assert!(r.0 != 0 && r.1 == 0);
}

#[test]
fn memory_malloced_on_one_ult_is_freed_on_another() {
    let _g = pool_of(2);
    let p = thread::spawn(|| {
        // SAFETY: a plain allocation, handed over as an address.
        unsafe { libc::malloc(100) as usize }
    })
    .join()
    .unwrap();
    assert_ne!(p, 0);
    thread::spawn(move || {
        // SAFETY: `p` came from malloc and is freed once.
        unsafe { libc::free(p as *mut libc::c_void) }
    })
    .join()
    .unwrap();
}

/// `__cxa_get_globals` of libstdc++, loaded now with `dlopen`: its
/// thread-local is dynamic TLS, reached through the DTV of the block.
fn cxa_get_globals() -> Option<extern "C" fn() -> usize> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; the symbol, where
    // present, is `void *__cxa_get_globals (void)`.
    unsafe {
        let lib = libc::dlopen(c"libstdc++.so.6".as_ptr(), libc::RTLD_NOW);
        if lib.is_null() {
            return None;
        }
        let f = libc::dlsym(lib, c"__cxa_get_globals".as_ptr());
        (!f.is_null())
            .then(|| std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> usize>(f))
    }
}

#[test]
fn dlopened_library_tls_is_per_ult() {
    let Some(globals) = cxa_get_globals() else {
        eprintln!("libstdc++.so.6 is not installed: nothing to load");
        return;
    };
    let (a, b) = two_ults_on_one_lwp(
        move |bar| {
            let before = globals();
            bar.wait();
            bar.wait();
            (before, globals())
        },
        move |bar| {
            bar.wait();
            let mine = globals();
            bar.wait();
            (mine, globals())
        },
    );
    assert_eq!(a.0, a.1, "a ULT's dynamic TLS moved");
    assert_ne!(a.0, b.0, "two ULTs share the dlopen'ed library's TLS");
}

//! Synchronous signals (`SIGSEGV` outside a guard page, `SIGBUS`, `SIGFPE`,
//! `SIGILL`) belong to the ULT whose instruction raised them: its immediate
//! handler runs on it; with none, the process dies by the signal after a
//! line naming the ULT. Each fault happens in a child process.

#![cfg(target_arch = "x86_64")]

use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use weave::signal::{self, Immediate, ImmediateFn, SigInfo};
use weave::thread;

/// Writes to a page mapped with no access (not a stack's guard page).
fn segv() {
    // SAFETY: a fresh anonymous mapping; touching it faults, which is the
    // point.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        std::ptr::write_volatile(p as *mut u8, 1);
    }
}

/// Reads a mapped page past the end of an empty file.
fn bus() {
    // SAFETY: a new memfd of size 0, mapped shared: the read faults.
    unsafe {
        let fd = libc::memfd_create(c"weave-sigbus".as_ptr(), 0);
        assert!(fd >= 0);
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        std::hint::black_box(std::ptr::read_volatile(p as *const u8));
    }
}

/// An integer division by zero (Rust's `/` would panic first).
fn fpe() {
    // SAFETY: `div` by zero raises #DE, which is the point; the registers
    // it writes are declared.
    unsafe {
        std::arch::asm!(
            "xor edx, edx",
            "mov eax, 1",
            "div ecx",
            in("ecx") 0u32,
            out("eax") _,
            out("edx") _,
        )
    };
}

/// An undefined instruction.
fn ill() {
    // SAFETY: `ud2` raises #UD, which is the point.
    unsafe { std::arch::asm!("ud2") };
}

/// Runs `fault` on a ULT named "faulter"; the process is not meant to
/// survive it.
fn fault_on_a_ult(fault: fn()) {
    let h = thread::Builder::new()
        .name("faulter".into())
        .spawn(move || {
            EXPECT.store(thread::current().id().as_u64().get(), SeqCst);
            fault();
        })
        .unwrap();
    let _ = h.join();
    panic!("the process survived the fault");
}

/// The faulting ULT's id, for the handler to compare with.
static EXPECT: AtomicU64 = AtomicU64::new(0);

/// Ends the process with 42 if it runs on the faulting ULT (as it sees
/// itself and as weave charged it), 43 otherwise: returning would re-run
/// the faulting instruction.
fn on_fault(info: &SigInfo) {
    let me = signal::running_thread().map_or(0, |t| t.as_u64().get());
    let charged = info.target.map_or(0, |t| t.as_u64().get());
    let ok = me != 0 && me == EXPECT.load(SeqCst) && charged == me;
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(if ok { 42 } else { 43 }) };
}

/// The child's output for an unhandled fault: it died by `sig`, and
/// stderr has the line naming the ULT.
fn assert_dies_naming_the_ult(name: &str, sig: i32) {
    let out = child_output!(name);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(sig), "{:?}\n{stderr}", out.status);
    let signame = signal::name(sig);
    assert!(
        stderr.contains("thread 'faulter' (ULT ") && stderr.contains(&format!(") got {signame}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("handle_immediate"),
        "the line says the fix: {stderr}"
    );
}

fn assert_handled_on_the_ult(name: &str) {
    let out = child_output!(name);
    assert_eq!(
        out.status.code(),
        Some(42),
        "{:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn install(sig: i32) {
    // SAFETY: `on_fault` reads atomics and weave's running_thread, then
    // calls _exit.
    unsafe { signal::handle_immediate(sig, Immediate::new(ImmediateFn::Rust(on_fault))) }.unwrap();
}

macro_rules! fault_tests {
    ($($unhandled:ident, $handled:ident => $sig:expr, $fault:ident;)*) => {$(
        #[test]
        fn $unhandled() {
            if is_child!(stringify!($unhandled)) {
                fault_on_a_ult($fault);
            }
            assert_dies_naming_the_ult(stringify!($unhandled), $sig);
        }

        #[test]
        fn $handled() {
            if is_child!(stringify!($handled)) {
                install($sig);
                fault_on_a_ult($fault);
            }
            assert_handled_on_the_ult(stringify!($handled));
        }
    )*};
}

fault_tests! {
    unhandled_segv_kills_the_process_naming_the_ult,
    segv_runs_the_faulting_ults_immediate_handler => libc::SIGSEGV, segv;
    unhandled_sigbus_kills_the_process_naming_the_ult,
    sigbus_runs_the_faulting_ults_immediate_handler => libc::SIGBUS, bus;
    unhandled_sigfpe_kills_the_process_naming_the_ult,
    sigfpe_runs_the_faulting_ults_immediate_handler => libc::SIGFPE, fpe;
    unhandled_sigill_kills_the_process_naming_the_ult,
    sigill_runs_the_faulting_ults_immediate_handler => libc::SIGILL, ill;
}

static SENT_RAN_ON: AtomicU64 = AtomicU64::new(0);

fn on_sent(info: &SigInfo) {
    let me = signal::running_thread().map_or(0, |t| t.as_u64().get());
    if info.code <= 0 {
        SENT_RAN_ON.store(me, SeqCst);
    }
}

#[test]
fn kill_with_a_synchronous_signal_runs_the_targets_immediate_handler() {
    if !in_child!("kill_with_a_synchronous_signal_runs_the_targets_immediate_handler") {
        return;
    }
    // SAFETY: `on_sent` stores to an atomic.
    unsafe { signal::handle_immediate(libc::SIGFPE, Immediate::new(ImmediateFn::Rust(on_sent))) }
        .unwrap();
    let t = thread::spawn(|| {
        while SENT_RAN_ON.load(SeqCst) == 0 {
            thread::yield_now();
        }
        thread::current().id().as_u64().get()
    });
    t.thread().kill(libc::SIGFPE).unwrap();
    let id = t.join().unwrap();
    assert_eq!(
        SENT_RAN_ON.load(SeqCst),
        id,
        "ran on the ULT it was sent to"
    );
}

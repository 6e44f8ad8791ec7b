//! Signals weave, the C library or the kernel keep are refused with an
//! error that names them and says why; and the stack-overflow report,
//! which owns SIGSEGV and SIGBUS, still works with signals in use.

use weave::signal::{self, SignalError};

#[test]
fn synchronous_signals_refuse_all_but_an_immediate_handler() {
    for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
        let e = signal::handle(sig, |_| {}).unwrap_err();
        assert!(matches!(e, SignalError::Reserved { .. }));
        let msg = e.to_string();
        assert!(msg.contains(&signal::name(sig)), "{msg}");
        assert!(msg.contains("handle_immediate"), "{msg}");
    }
}

#[test]
fn uncatchable_and_library_signals_are_refused() {
    for sig in [libc::SIGKILL, libc::SIGSTOP, 32, libc::SIGFPE] {
        let e = signal::channel(&[sig]).unwrap_err();
        assert!(matches!(e, SignalError::Reserved { .. }), "{sig}: {e}");
    }
    let e = signal::wait(&signal::SigSet::empty().with(libc::SIGKILL)).unwrap_err();
    assert!(matches!(e, SignalError::Reserved { .. }));
    for sig in [0, 65, -1] {
        assert_eq!(
            signal::handle(sig, |_| {}).unwrap_err(),
            SignalError::Invalid { sig }
        );
    }
}

const OVERFLOW: &str = "stack_overflow_is_still_reported_with_signal_handlers_installed";

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + buf[3]
}

#[test]
fn stack_overflow_is_still_reported_with_signal_handlers_installed() {
    if is_child!(OVERFLOW) {
        signal::handle(libc::SIGUSR1, |_| {}).unwrap();
        let h = weave::thread::Builder::new()
            .name("deep".into())
            .spawn(|| recurse(0))
            .unwrap();
        let _ = h.join();
        return;
    }
    let out = child_output!(OVERFLOW);
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(stderr.contains("thread 'deep' (ULT "), "{stderr}");
    assert!(stderr.contains("has overflowed its stack"), "{stderr}");
}

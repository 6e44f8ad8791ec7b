//! After `fork`, handlers installed in the parent run in the child: the
//! child gets a dispatcher and a pool of handler ULTs of its own.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use weave::signal;

static RAN: AtomicBool = AtomicBool::new(false);

#[test]
fn handler_installed_before_fork_runs_in_the_child() {
    if !in_child!("handler_installed_before_fork_runs_in_the_child") {
        return;
    }
    signal::handle(libc::SIGUSR1, |_| RAN.store(true, SeqCst)).unwrap();
    // Let the parent's pool start before the fork.
    weave::thread::spawn(|| ()).join().unwrap();
    // SAFETY: the child only calls weave and async-signal-safe functions
    // before it exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // A ULT of the child's runtime takes the signal (this OS thread,
        // which weave does not know, leaves it to the ULTs).
        let taker = weave::thread::spawn(|| {
            let start = std::time::Instant::now();
            while !RAN.load(SeqCst) && start.elapsed() < std::time::Duration::from_secs(20) {
                weave::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        // SAFETY: kill to our own process.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        let _ = taker.join();
        // SAFETY: _exit ends the child without running the parent's
        // test harness.
        unsafe { libc::_exit(if RAN.load(SeqCst) { 0 } else { 7 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the child's handler did not run"
    );
    assert!(!RAN.load(SeqCst), "the parent got no signal");
}

/// A signal sent to the forking OS thread, through its weave handle, in
/// the child: the thread kept its TCB across the fork and has the child's
/// kernel thread id there, so the kernel delivers it (held pending by the
/// thread's mask, where the test can see it without a handler).
#[test]
fn a_signal_to_the_forking_thread_reaches_it_in_the_child() {
    if !in_child!("a_signal_to_the_forking_thread_reaches_it_in_the_child") {
        return;
    }
    // Registered with weave in the parent, before the fork.
    let _ = weave::thread::current();
    weave::thread::spawn(|| ()).join().unwrap();
    // SAFETY: the child only calls weave and async-signal-safe functions
    // before it exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain signal-set calls on local sets.
        let pending = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let sent = weave::thread::current().kill(libc::SIGUSR2).is_ok();
            let mut now: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut now);
            sent && libc::sigismember(&now, libc::SIGUSR2) == 1
        };
        // SAFETY: _exit ends the child without running the parent's
        // test harness.
        unsafe { libc::_exit(if pending { 0 } else { 7 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the signal sent to the forking thread in the child did not reach it"
    );
}

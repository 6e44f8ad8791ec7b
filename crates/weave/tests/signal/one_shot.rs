//! A one-shot handler (`SA_RESETHAND`): it runs for the first delivery,
//! then the signal's action is the default again, so the next one ends the
//! process.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use crate::signal_common::wait_until;
use weave::signal::{self, How, SigSet};

const SIG: i32 = libc::SIGUSR2;
const NAME: &str = "one_shot_handler_runs_once_then_the_default_action_applies";

#[test]
fn one_shot_handler_runs_once_then_the_default_action_applies() {
    if is_child!(NAME) {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        signal::handle_once(SIG, move |_| {
            r.fetch_add(1, SeqCst);
        })
        .unwrap();
        // A ULT takes it (the OS thread blocks it).
        let (tx, rx) = weave::sync::mpsc::channel::<()>();
        let t = weave::thread::spawn(move || {
            signal::mask(How::Unblock, &SigSet::of(&[SIG]));
            let _ = rx.recv();
        });
        signal::mask(How::Block, &SigSet::of(&[SIG]));
        // SAFETY: kill to our own process.
        unsafe { libc::kill(libc::getpid(), SIG) };
        wait_until(|| runs.load(SeqCst) == 1);
        // SAFETY: a zeroed sigaction is a valid out-value.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one.
        unsafe { libc::sigaction(SIG, std::ptr::null(), &mut act) };
        assert_eq!(act.sa_sigaction, libc::SIG_DFL, "reset to the default");
        println!("handled once");
        // The default action of SIGUSR2 ends the process.
        signal::mask(How::Unblock, &SigSet::of(&[SIG]));
        // SAFETY: as above.
        unsafe { libc::kill(libc::getpid(), SIG) };
        wait_until(|| false);
        drop(tx);
        t.join().unwrap();
        return;
    }
    let out = child_output!(NAME);
    use std::os::unix::process::ExitStatusExt;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("handled once"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.signal(), Some(SIG), "{:?}", out.status);
}

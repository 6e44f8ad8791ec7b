//! Per-ULT masks: a new thread inherits its creator's mask, and changing a
//! ULT's mask is a store at user level, not a kernel mask change.

use weave::signal::{self, How, SigSet};
use weave::thread;

#[test]
fn a_spawned_ult_inherits_the_spawning_ults_mask() {
    if !in_child!("a_spawned_ult_inherits_the_spawning_ults_mask") {
        return;
    }
    let set = SigSet::of(&[libc::SIGUSR1, libc::SIGRTMIN() + 3]);
    let (mine, child, bound) = thread::spawn(move || {
        signal::mask(How::SetMask, &set);
        let child = thread::spawn(signal::current_mask).join().unwrap();
        let bound = thread::Builder::new()
            .bound()
            .spawn(signal::current_mask)
            .unwrap()
            .join()
            .unwrap();
        (signal::current_mask(), child, bound)
    })
    .join()
    .unwrap();
    assert_eq!(mine, set);
    assert_eq!(child, set);
    assert_eq!(bound, set);
}

#[test]
fn a_ult_spawned_by_an_os_thread_inherits_its_kernel_mask() {
    if !in_child!("a_ult_spawned_by_an_os_thread_inherits_its_kernel_mask") {
        return;
    }
    let set = SigSet::of(&[libc::SIGUSR2]);
    signal::mask(How::Block, &set); // an OS thread: pthread_sigmask
    let child = thread::spawn(signal::current_mask).join().unwrap();
    assert!(child.contains(libc::SIGUSR2), "{child:?}");
}

#[test]
fn mask_changes_on_a_ult_leave_the_kernel_mask_alone() {
    if !in_child!("mask_changes_on_a_ult_leave_the_kernel_mask_alone") {
        return;
    }
    let set = SigSet::of(&[libc::SIGUSR1]);
    signal::handle(libc::SIGUSR1, |_| {}).unwrap();
    let (kernel_before, kernel_after, user_blocked) = thread::spawn(move || {
        let kernel = || {
            // SAFETY: a zeroed sigset_t is a valid out-value.
            let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: a null new set only reads the LWP's kernel mask.
            unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut old) };
            SigSet::from_sigset_t(&old)
        };
        let before = kernel();
        let mut blocked = false;
        for _ in 0..10_000 {
            signal::mask(How::Block, &set);
            blocked |= signal::current_mask().contains(libc::SIGUSR1);
            signal::mask(How::Unblock, &set);
        }
        (before, kernel(), blocked)
    })
    .join()
    .unwrap();
    assert!(user_blocked, "the ULT's own mask changed");
    assert_eq!(kernel_before, kernel_after, "its LWP's kernel mask did not");
    assert_eq!(signal::kernel_mask_changes(), 0);
}

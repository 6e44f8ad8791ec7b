//! `Builder::stack`: a thread runs on the caller's memory, which is the
//! caller's again once the thread is joined; a stack below weave's
//! minimum is refused with `InvalidInput`.

use weave::thread::Builder;

/// The address of a local of the running thread.
fn a_local() -> usize {
    let x = 0u8;
    std::hint::black_box(&x) as *const u8 as usize
}

#[test]
fn a_thread_runs_on_the_stack_given_and_it_can_be_reused() {
    let mut mem = vec![0u8; 256 * 1024];
    let (lo, hi) = (mem.as_ptr() as usize, mem.as_ptr() as usize + mem.len());
    for _ in 0..2 {
        // SAFETY: `mem` outlives the thread (joined below) and nothing
        // else touches it meanwhile.
        let h = unsafe { Builder::new().stack(mem.as_mut_ptr(), mem.len()) }
            .spawn(a_local)
            .unwrap();
        let at = h.join().unwrap();
        assert!((lo..hi).contains(&at), "{at:#x} is not in {lo:#x}..{hi:#x}");
    }
    mem[0] = 1; // the caller's again
}

#[test]
fn a_stack_below_the_minimum_is_refused() {
    let mut mem = vec![0u8; 4096];
    // SAFETY: the spawn fails; nothing runs on `mem`.
    let e = unsafe { Builder::new().stack(mem.as_mut_ptr(), mem.len()) }
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("below weave's minimum"), "{e}");
}

#[test]
fn the_stack_may_be_unmapped_as_soon_as_join_returns() {
    const SIZE: usize = 64 * 1024;
    for _ in 0..300 {
        // SAFETY: a fresh private anonymous mapping.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(mem, libc::MAP_FAILED);
        // SAFETY: the mapping is the thread's until the join below.
        let h = unsafe { Builder::new().stack(mem.cast(), SIZE) }
            .spawn(a_local)
            .unwrap();
        h.join().unwrap();
        // SAFETY: ours again once join returned; a thread still on it
        // would fault here or later.
        assert_eq!(unsafe { libc::munmap(mem, SIZE) }, 0);
    }
}

#[test]
fn a_scoped_thread_on_the_callers_stack_is_refused() {
    let mut mem = vec![0u8; 64 * 1024];
    weave::thread::scope(|s| {
        // SAFETY: the spawn fails; nothing runs on `mem`.
        let r = unsafe { Builder::new().stack(mem.as_mut_ptr(), mem.len()) }.spawn_scoped(s, || ());
        let Err(e) = r else {
            panic!("a scoped thread on a caller's stack was spawned");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
}

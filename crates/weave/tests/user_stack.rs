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

//! `Builder::stack_guard`: the memory below a ULT's stack is inaccessible
//! for at least the bytes asked (rounded up to pages), the default is one
//! page, and a guard of another size never reaches the pool (threads with
//! the default guard that run after it get pool stacks, with one page).

/// Whether the byte at `addr` is readable: `write(2)` reads it in the
/// kernel, which answers `EFAULT` for a guard instead of faulting.
fn readable(addr: usize) -> bool {
    let mut fds = [0; 2];
    // SAFETY: a pipe of our own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the kernel reads `addr`; a bad one is EFAULT, not a fault.
    let n = unsafe { libc::write(fds[1], addr as *const _, 1) };
    // SAFETY: ours.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    n == 1
}

/// Spawns a thread with `guard` (or the default) and returns, from inside
/// it, its stack's lowest byte and whether the bytes at each offset below
/// it are readable.
fn probe(guard: Option<usize>, below: &'static [usize]) -> Vec<bool> {
    let mut b = weave::thread::Builder::new().stack_size(64 * 1024);
    if let Some(g) = guard {
        b = b.stack_guard(g);
    }
    b.spawn(move || {
        let (lo, size) = weave::thread::current_stack().expect("a ULT has a stack");
        assert!(size >= 64 * 1024);
        assert!(readable(lo) && readable(lo + size - 1));
        below.iter().map(|&d| readable(lo - d)).collect::<Vec<_>>()
    })
    .unwrap()
    .join()
    .unwrap()
}

const MIB: usize = 1 << 20;

#[test]
fn a_big_guard_covers_the_bytes_asked_below_the_stack() {
    // 1 MiB + 1 byte: rounded up to the next page, all of it guarded.
    let r = probe(Some(MIB + 1), &[1, 4096, MIB / 2, MIB, MIB + 4096]);
    assert_eq!(r, [false; 5]);
}

#[test]
fn the_default_guard_is_one_page_and_the_pool_keeps_it() {
    // A big guard first: its stack must not come back to a default thread.
    probe(Some(MIB), &[]);
    for _ in 0..3 {
        let r = probe(None, &[1, 4096]);
        assert!(!r[0], "the page below a default stack is its guard");
    }
    let r = probe(Some(4096), &[1, 4096]);
    assert!(!r[0]);
}

#[test]
fn guard_zero_leaves_no_guard_and_many_solo_stacks_come_and_go() {
    for _ in 0..200 {
        probe(Some(0), &[]);
        probe(Some(3 * 4096), &[]);
    }
    let r = probe(Some(3 * 4096), &[1, 2 * 4096, 3 * 4096 - 1]);
    assert_eq!(r, [false; 3]);
}

#[test]
fn a_guard_above_the_limit_is_refused_at_spawn() {
    let e = weave::thread::Builder::new()
        .stack_guard(weave::stack::MAX_GUARD_SIZE + 1)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

//! Bad input at spawn gives a clear error, never a crash.

use weave::thread;

#[test]
fn absurd_stack_size_fails_with_a_clear_error() {
    let err = thread::Builder::new()
        .name("huge".into())
        .stack_size(1 << 40)
        .spawn(|| ())
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(msg.contains("'huge'"), "names the thread: {msg}");
    assert!(msg.contains("1 GiB"), "names the limit: {msg}");
    assert!(msg.contains("stack_size"), "says what to do: {msg}");
    // The runtime is unharmed.
    assert_eq!(thread::spawn(|| 1).join().unwrap(), 1);
}

#[test]
fn scoped_spawn_reports_the_same_error() {
    thread::scope(|s| {
        let err = thread::Builder::new()
            .stack_size(usize::MAX)
            .spawn_scoped(s, || ())
            .unwrap_err();
        assert!(err.to_string().contains("exceeds weave's limit"), "{err}");
    });
}

#[test]
fn tiny_stack_sizes_are_rounded_up_and_work() {
    let h = thread::Builder::new().stack_size(1).spawn(|| {
        let v: Vec<u64> = (0..100).collect();
        v.iter().sum::<u64>()
    });
    assert_eq!(h.unwrap().join().unwrap(), 4950);
    assert_eq!(weave::stack::MIN_STACK_SIZE, 16 * 1024);
}

#[test]
fn big_stacks_up_to_the_limit_work() {
    let h = thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            // Touch 4 MiB of stack.
            let buf = [1u8; 4 << 20];
            std::hint::black_box(&buf)
                .iter()
                .map(|&b| b as u64)
                .sum::<u64>()
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), 4 << 20);
}

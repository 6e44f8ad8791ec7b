fn main() {
    let t = std::time::Instant::now();
    let hs: Vec<_> = (0..100_000u64)
        .map(|i| weave::thread::spawn(move || i))
        .collect();
    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!("sum {s} in {:?}", t.elapsed());
    let h = weave::thread::spawn(|| {
        let inner: Vec<_> = (0..1000u64)
            .map(|i| weave::thread::spawn(move || i))
            .collect();
        inner.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    println!("nested {}", h.join().unwrap());
    let h = weave::thread::spawn(|| {
        weave::thread::sleep(std::time::Duration::from_millis(20));
        5
    });
    println!("sleep {}", h.join().unwrap());
    let r = weave::thread::spawn(|| panic!("boom")).join();
    println!("panic caught: {}", r.is_err());
    println!("{:?}", weave::trace::counters());
}

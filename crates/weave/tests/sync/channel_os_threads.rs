//! Plain OS threads and ULTs share channels on either side: an OS thread
//! parks in the kernel, a ULT blocks alone.

use weave::sync::mpmc;
use weave::thread;

#[test]
fn mixed_os_and_ult_producers_and_consumers_lose_nothing() {
    const PER: u64 = 25_000;
    let (tx, rx) = mpmc::bounded::<u64>(4);
    let mut producers = Vec::new();
    for p in 0..2u64 {
        let tx = tx.clone();
        producers.push(std::thread::spawn(move || {
            (p * PER..(p + 1) * PER).for_each(|i| tx.send(i).unwrap())
        }));
    }
    let ult_producers: Vec<_> = (2..4u64)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || (p * PER..(p + 1) * PER).for_each(|i| tx.send(i).unwrap()))
        })
        .collect();
    drop(tx);
    let os_consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || rx.iter().collect::<Vec<_>>())
        })
        .collect();
    let ult_consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().collect::<Vec<_>>())
        })
        .collect();
    drop(rx);
    producers.into_iter().for_each(|h| h.join().unwrap());
    ult_producers.into_iter().for_each(|h| h.join().unwrap());
    let mut all: Vec<u64> = os_consumers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .chain(ult_consumers.into_iter().flat_map(|h| h.join().unwrap()))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..4 * PER).collect::<Vec<_>>());
}

#[test]
fn an_os_thread_waits_for_a_ult_on_a_rendezvous() {
    let (tx, rx) = mpmc::bounded::<&str>(0);
    let (back_tx, back_rx) = mpmc::bounded::<&str>(0);
    let u = thread::spawn(move || {
        let m = rx.recv().unwrap();
        back_tx.send(m).unwrap();
    });
    tx.send("round trip").unwrap();
    assert_eq!(back_rx.recv(), Ok("round trip"));
    u.join().unwrap();
}

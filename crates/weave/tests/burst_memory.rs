//! After a burst of threads has ended, the process gives back what the
//! burst used: the stacks (the reaper) and the pages of the thread table's
//! free slots (`Table::release_free_pages`), so that the resident set
//! follows the live count. Runs in a child process, whose resident set no
//! other test moves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weave::thread;

mod stack_common;
use stack_common::{child_number, vm_rss};

const CHILD: &str = "WEAVE_TEST_BURST_CHILD";

/// Threads in the burst: 100,000 TCBs are 38 MB of table.
const BURST: usize = 100_000;

/// The burst's TCBs' bytes (384 a TCB).
const TCBS: usize = BURST * 384;

#[test]
fn burst_child() {
    if std::env::var(CHILD).is_err() {
        return; // Only meaningful in the child process.
    }
    thread::spawn(|| ()).join().unwrap();
    let base = vm_rss();
    let release = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..BURST)
        .map(|_| {
            let r = release.clone();
            thread::Builder::new()
                .stack_size(16 * 1024)
                .spawn(move || {
                    while !r.load(Ordering::Acquire) {
                        thread::park();
                    }
                })
                .unwrap()
        })
        .collect();
    release.store(true, Ordering::Release);
    for h in &hs {
        h.thread().unpark();
    }
    for h in hs {
        h.join().unwrap();
    }
    // The stacks alone are given back within a period or two; the table's
    // pages only once its free slots sat unused for a period. What is left
    // of the burst must be less than its TCBs' pages, so those pages went
    // back too (the heap keeps some MB of its own: the handles, the join
    // packets). The watchdog only turns a hang into a failure.
    let tcbs = TCBS;
    let watchdog = Instant::now();
    let mut left = vm_rss().saturating_sub(base);
    while left >= tcbs && watchdog.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        left = vm_rss().saturating_sub(base);
    }
    println!("LEFT {left}");
}

#[test]
fn a_burst_s_table_pages_go_back_once_its_threads_end() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let (left, tcbs) = (child_number("burst_child", CHILD, "LEFT "), TCBS);
    assert!(
        left < tcbs,
        "{left} bytes of the burst stayed resident, more than its {tcbs} \
         bytes of TCBs: the table kept its free slots' pages"
    );
}

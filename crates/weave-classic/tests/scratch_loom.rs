#![cfg(loom)]
use loom::sync::atomic::{AtomicBool, Ordering::*};
use loom::sync::Arc;
use std::sync::Mutex;
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
fn ev(s: String) { let mut l = LOG.lock().unwrap(); l.push(s); if l.len() > 60 { panic!("{:#?}", &l[..]); } }
fn run(bound: Option<usize>, rounds: usize) {
    let mut b = loom::model::Builder::new(); b.preemption_bound = bound;
    b.check(move || {
        LOG.lock().unwrap().clear();
        let l = Arc::new(AtomicBool::new(false));
        let l2 = l.clone();
        let t = loom::thread::spawn(move || { for _ in 0..rounds { loop { let v = l2.swap(true, Acquire); ev(format!("B swap -> {v}")); if !v {break} loom::thread::yield_now(); } ev("B store".into()); l2.store(false, Release); } });
        for _ in 0..rounds { loop { let v = l.swap(true, Acquire); ev(format!("A swap -> {v}")); if !v {break} loom::thread::yield_now(); } ev("A store".into()); l.store(false, Release); }
        ev("A join".into());
        t.join().unwrap();
    });
}
#[test] fn r1_b1() { run(Some(1), 1) }

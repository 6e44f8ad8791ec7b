//! The drainer's doorbell: the word the top half rings after it queued a
//! record, and the drainer sleeps on (a futex). This file owns the
//! protocol; its model is `loom_tests` below.
//!
//! The word counts rings in its upper 31 bits; its low bit says that the
//! drainer is asleep (or about to be). A ring is one atomic add, and a
//! `FUTEX_WAKE` only when that bit was set: a flood of signals arriving
//! while the drainer drains costs no system call each. Of several rings
//! that find the bit set, the one whose clear takes it off wakes; the
//! others have nothing to do.
//!
//! | drainer | top half (`ring`) |
//! |---|---|
//! | `ticket()`: the count now | |
//! | drains the rings and the spill | pushes a record, then `fetch_add(2)` |
//! | `wait(ticket)`: returns if the count moved; else sets the bit (CAS from the value it read) and `FUTEX_WAIT`s on the value with the bit | saw the bit: `fetch_and(!1)`; if that took it off, `FUTEX_WAKE` |
//!
//! No wake is lost: the drainer's CAS and a ring's add are read-modify-
//! writes of one word, so one comes first. If the add does, the CAS fails
//! on the moved count and the drainer drains again; if the CAS does, the
//! add sees the bit and wakes, and the drainer's `FUTEX_WAIT` either finds
//! the word changed or is asleep when the wake comes. Everything here is
//! async-signal-safe: atomics and two system calls.

use crate::loom::AtomicU32;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// The low bit: the drainer sleeps, or is about to.
const ASLEEP: u32 = 1;
/// What a ring adds: one to the count above the bit.
const RING: u32 = 2;

pub(crate) struct Bell {
    word: AtomicU32,
    /// `FUTEX_WAKE`s made, for the tests.
    #[cfg(test)]
    wakes: AtomicU32,
    #[cfg(loom)]
    futex: model::Futex,
}

impl Bell {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Bell {
        Bell {
            word: AtomicU32::new(0),
            #[cfg(test)]
            wakes: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Bell {
        Bell {
            word: AtomicU32::new(0),
            #[cfg(test)]
            wakes: AtomicU32::new(0),
            futex: model::Futex::new(),
        }
    }

    /// Tells the drainer that a record waits (called after the record is
    /// published). ASYNC-SIGNAL-SAFE.
    pub(crate) fn ring(&self) {
        // Release: the drainer's Acquire load of the count then sees the
        // record pushed before this ring.
        if self.word.fetch_add(RING, Release) & ASLEEP == 0 {
            return;
        }
        // Of the rings that saw the bit, the one that takes it off wakes.
        if self.word.fetch_and(!ASLEEP, Relaxed) & ASLEEP != 0 {
            #[cfg(test)]
            self.wakes.fetch_add(1, Relaxed);
            self.wake();
        }
    }

    /// The count before the drainer looks for records: `wait` returns at
    /// once if a ring comes after this.
    pub(crate) fn ticket(&self) -> u32 {
        // Acquire pairs with the Release add in `ring`.
        self.word.load(Acquire) & !ASLEEP
    }

    /// Sleeps until a ring made after `ticket` was taken (at once if one
    /// was). A wake-up with nothing rung sleeps again.
    pub(crate) fn wait(&self, ticket: u32) {
        while let Some(cur) = self.announce(ticket) {
            self.sleep(cur);
        }
    }

    /// As [`Bell::wait`], but sleeps at most once, for at most `ns`
    /// nanoseconds. True if a ring came after `ticket`; false if none had
    /// when it woke (the time ran out, or a wake-up with nothing rung). It
    /// may leave the sleep bit set: the next ring then makes one
    /// `FUTEX_WAKE` that finds nobody, and the next `wait` sleeps on the
    /// word as it is (a ring still moves it).
    pub(crate) fn wait_for(&self, ticket: u32, ns: u64) -> bool {
        match self.announce(ticket) {
            None => true,
            Some(cur) => {
                self.sleep_for(cur, ns);
                self.word.load(Acquire) & !ASLEEP != ticket
            }
        }
    }

    /// Says that the sleeper sleeps unless a ring came after `ticket`:
    /// the word to sleep on (the sleep bit set), or `None` if rung.
    fn announce(&self, ticket: u32) -> Option<u32> {
        let mut cur = self.word.load(Acquire);
        loop {
            if cur & !ASLEEP != ticket {
                return None;
            }
            if cur & ASLEEP != 0 {
                return Some(cur);
            }
            // AcqRel: a ring that comes after this sees the bit; a ring
            // that came before made the CAS fail.
            match self
                .word
                .compare_exchange(cur, cur | ASLEEP, AcqRel, Acquire)
            {
                Ok(_) => return Some(cur | ASLEEP),
                Err(now) => cur = now,
            }
        }
    }

    #[cfg(test)]
    fn wakes(&self) -> u32 {
        self.wakes.load(Relaxed)
    }

    #[cfg(not(loom))]
    fn sleep(&self, expected: u32) {
        // SAFETY: FUTEX_WAIT on a live word, which the kernel only reads;
        // it returns at once if the word no longer holds `expected`.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }

    #[cfg(not(loom))]
    fn sleep_for(&self, expected: u32, ns: u64) {
        let t = libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: as in `sleep`; `t` is a valid relative timeout.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                &t as *const libc::timespec,
            )
        };
    }

    #[cfg(not(loom))]
    fn wake(&self) {
        // SAFETY: FUTEX_WAKE on a live word has no memory effects.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            )
        };
    }

    #[cfg(loom)]
    fn sleep(&self, expected: u32) {
        self.futex.wait(&self.word, expected);
    }

    /// In the model the time runs out at once: the word is left as a
    /// timed-out sleep leaves it.
    #[cfg(loom)]
    fn sleep_for(&self, _expected: u32, _ns: u64) {}

    #[cfg(loom)]
    fn wake(&self) {
        self.futex.wake();
    }
}

/// A futex for the model: the check of the word and the sleep are atomic
/// against a wake, as the kernel's are (the lock stands for its hash
/// bucket's lock).
#[cfg(loom)]
mod model {
    use crate::loom::{AtomicU32, Mutex};
    use loom::sync::Condvar;
    use std::sync::atomic::Ordering::SeqCst;

    pub(super) struct Futex {
        lock: Mutex<()>,
        cv: Condvar,
    }

    impl Futex {
        pub(super) fn new() -> Futex {
            Futex {
                lock: Mutex::new(()),
                cv: Condvar::new(),
            }
        }

        pub(super) fn wait(&self, word: &AtomicU32, expected: u32) {
            let g = self.lock.lock().unwrap();
            if word.load(SeqCst) == expected {
                drop(self.cv.wait(g).unwrap());
            }
        }

        pub(super) fn wake(&self) {
            let _g = self.lock.lock().unwrap();
            self.cv.notify_one();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn rings_while_the_drainer_is_awake_make_no_system_call() {
        let bell = Bell::new();
        let t = bell.ticket();
        for _ in 0..1000 {
            bell.ring();
        }
        assert_eq!(bell.wakes(), 0, "nobody slept: no FUTEX_WAKE");
        assert_ne!(bell.ticket(), t, "the count moved");
        bell.wait(t); // returns at once: rung since the ticket
    }

    /// A thread that takes a ticket and waits on `bell`, once it has
    /// announced its sleep; the flag says it returned.
    fn sleeper(bell: &Arc<Bell>) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
        let seen = Arc::new(AtomicBool::new(false));
        let t = bell.ticket();
        let h = {
            let (bell, seen) = (bell.clone(), seen.clone());
            std::thread::spawn(move || {
                bell.wait(t);
                seen.store(true, Relaxed);
            })
        };
        while bell.word.load(Relaxed) & ASLEEP == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!seen.load(Relaxed), "it sleeps until rung");
        (h, seen)
    }

    #[test]
    fn a_ring_wakes_a_sleeping_drainer_once() {
        let bell = Arc::new(Bell::new());
        let (h, seen) = sleeper(&bell);
        bell.ring();
        h.join().unwrap();
        assert!(seen.load(Relaxed));
        assert_eq!(bell.wakes(), 1);
        bell.ring();
        bell.ring();
        assert_eq!(bell.wakes(), 1, "the drainer is awake again: no more wakes");
    }

    #[test]
    fn a_timed_wait_runs_out_and_a_ring_still_wakes_the_next_wait() {
        let bell = Arc::new(Bell::new());
        let t = bell.ticket();
        let start = std::time::Instant::now();
        assert!(!bell.wait_for(t, 20_000_000), "nothing rung: it timed out");
        assert!(start.elapsed() >= Duration::from_millis(10), "it slept");
        bell.ring();
        assert!(
            bell.wait_for(t, 1_000_000_000),
            "rung since the ticket: at once"
        );
        let (h, seen) = sleeper(&bell);
        bell.ring();
        h.join().unwrap();
        assert!(seen.load(Relaxed));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two top halves each publish a record and ring; the drainer takes a
    /// ticket, looks, and waits, until it has seen both. A lost wake leaves
    /// it asleep with every other thread done, which loom reports as a
    /// deadlock. Preemptions are bounded to keep the model to seconds.
    #[test]
    fn bell_no_lost_ring() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let bell = Arc::new(Bell::new());
            let records = Arc::new(AtomicU32::new(0));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (bell, records) = (bell.clone(), records.clone());
                    loom::thread::spawn(move || {
                        records.fetch_add(1, Relaxed);
                        bell.ring();
                    })
                })
                .collect();
            loop {
                let t = bell.ticket();
                if records.load(Relaxed) == 2 {
                    break;
                }
                bell.wait(t);
            }
            for h in hs {
                h.join().unwrap();
            }
            assert!(bell.wakes() <= 2);
        });
    }

    /// The router's timed wait (while it holds records) may run out with
    /// the sleep bit still set (here it runs out at once); its next wait
    /// must still be woken by a ring that comes after its ticket.
    #[test]
    fn bell_timed_wait_then_wait_loses_no_ring() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let bell = Arc::new(Bell::new());
            let records = Arc::new(AtomicU32::new(0));
            let h = {
                let (bell, records) = (bell.clone(), records.clone());
                loom::thread::spawn(move || {
                    records.fetch_add(1, Relaxed);
                    bell.ring();
                })
            };
            let t = bell.ticket();
            if records.load(Relaxed) == 0 {
                let _ = bell.wait_for(t, 1);
                loop {
                    let t = bell.ticket();
                    if records.load(Relaxed) == 1 {
                        break;
                    }
                    bell.wait(t);
                }
            }
            h.join().unwrap();
        });
    }
}

//! How an idle LWP sleeps in the kernel and is woken.
//!
//! A futex word with three states, as in std's Linux parker:
//!
//! | state      | meaning                                   |
//! |------------|-------------------------------------------|
//! | `EMPTY`    | running, no wake-up pending               |
//! | `PARKED`   | asleep in `futex_wait` (or about to be)   |
//! | `NOTIFIED` | a wake-up is pending; the next park returns at once |
//!
//! | `POLLING`  | asleep in its epoll set's `epoll_wait` (or about to be) |
//!
//! `unpark` swaps in `NOTIFIED` and makes a system call only if the LWP
//! sleeps: `futex_wake` if it was `PARKED`, a write to the eventfd of the
//! LWP's own epoll set (`reactor/set.rs`) if it was `POLLING`. Waking a running LWP costs one atomic swap, no
//! system call.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use crate::loom::AtomicU32;
use crate::reactor::Reactor;

const EMPTY: u32 = 0;
const PARKED: u32 = 1;
const NOTIFIED: u32 = 2;
const POLLING: u32 = 3;

pub(crate) struct Parker {
    state: AtomicU32,
    /// The LWP's index: which of the reactor's epoll sets it sleeps in.
    lwp: usize,
}

impl Parker {
    /// The parker of LWP `lwp`.
    pub(crate) const fn new(lwp: usize) -> Parker {
        Parker {
            state: AtomicU32::new(EMPTY),
            lwp,
        }
    }

    /// Sleeps until `unpark` or `deadline`. May return spuriously.
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        // Acquire pairs with the Release swap in `unpark`: work published
        // before the wake-up is visible when park returns.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Acquire)
            .is_ok()
        {
            return;
        }
        if self
            .state
            .compare_exchange(EMPTY, PARKED, Acquire, Acquire)
            .is_err()
        {
            // Only unpark moves EMPTY away, to NOTIFIED: consume it.
            self.state.swap(EMPTY, Acquire);
            return;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout != Some(Duration::ZERO) {
            futex_wait(&self.state, PARKED, timeout);
        }
        // Whether woken, timed out or spurious: back to EMPTY, consuming a
        // pending notification if there is one.
        self.state.swap(EMPTY, Acquire);
    }

    /// As `park`, but sleeps in the LWP's epoll set, handling io events,
    /// until `unpark`, `deadline` or an event. The caller holds the set's
    /// poller role.
    pub(crate) fn park_polling(&self, deadline: Option<Instant>, reactor: &Reactor) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Acquire)
            .is_ok()
        {
            // Still collect what is ready, without waiting.
            reactor.poll(self.lwp, Some(Instant::now()));
            return;
        }
        if self
            .state
            .compare_exchange(EMPTY, POLLING, Acquire, Acquire)
            .is_err()
        {
            self.state.swap(EMPTY, Acquire);
            reactor.poll(self.lwp, Some(Instant::now()));
            return;
        }
        reactor.poll(self.lwp, deadline);
        self.state.swap(EMPTY, Acquire);
    }

    /// Whether the LWP sleeps in its epoll set (wakers of new work prefer
    /// LWPs asleep on their futex).
    pub(crate) fn is_polling(&self) -> bool {
        self.state.load(Relaxed) == POLLING
    }

    /// Wakes the LWP if it sleeps, or makes its next park return at once.
    pub(crate) fn unpark(&self) {
        // Release pairs with the Acquire in `park`.
        match self.state.swap(NOTIFIED, Release) {
            PARKED => futex_wake(&self.state),
            POLLING => {
                if let Some(r) = crate::reactor::try_get() {
                    r.wake(self.lwp);
                }
            }
            _ => {}
        }
    }
}

fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live AtomicU32 for the duration of the call; the
    // kernel only reads it. A relative timeout with FUTEX_WAIT is allowed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32,
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            tsp,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error().raw_os_error();
        debug_assert!(
            matches!(e, Some(libc::EAGAIN | libc::EINTR | libc::ETIMEDOUT)),
            "futex_wait failed: {e:?}"
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: waking waiters on a live futex word has no memory effects.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    };
    debug_assert!(rc >= 0, "futex_wake failed");
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn unpark_before_park_returns_at_once() {
        let p = Parker::new(0);
        p.unpark();
        p.park(None);
    }

    #[test]
    fn park_times_out() {
        let p = Parker::new(0);
        let t = Instant::now();
        p.park(Some(t + Duration::from_millis(20)));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn unpark_wakes_a_sleeper() {
        let p = Arc::new(Parker::new(0));
        let q = p.clone();
        let h = std::thread::spawn(move || q.park(None));
        std::thread::sleep(Duration::from_millis(20));
        p.unpark();
        h.join().unwrap();
    }
}

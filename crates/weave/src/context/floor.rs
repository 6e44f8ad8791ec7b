//! context/floor: the switch floor, what a ULT switch costs with nothing
//! around it. Two bare contexts on two small stacks of their own switch to
//! each other with [`switch_to`], the routine a yield ends in, and nothing
//! else: no scheduler, no TCB, no state word, no queue. `weave bench`
//! reads its other rows as multiples of this figure, measured in the same
//! process, so that they carry from one host to another.
//!
//! Owns nothing shared: the two contexts, their stacks and a home for them
//! live in one call, on the caller's side, and are gone when it returns.
//! It must not touch the TCB, the LWP or anything of `thread::current`, so
//! it may be called from any thread, an OS thread or a running ULT: the
//! caller's own stack is the home the two contexts start from and go back
//! to, the way an LWP's loop is (a ULT's saved registers are not touched:
//! it is not switched out, it merely calls deeper, onto other stacks).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::{switch_to, Context, Home, Resumed};
use crate::stack::Stack;

/// The size of each of the two stacks: the loops' frames and a clock read
/// need far less; this leaves room for a debug build's frames.
const STACK_BYTES: usize = 32 * 1024;

/// What one [`switch_floor`] run measured.
#[derive(Debug, Clone, Copy)]
pub struct FloorRun {
    /// The switches made inside the timed span (an even number).
    pub switches: u64,
    /// The time they took, from the first to the last, clock reads only
    /// at the ends.
    pub elapsed: Duration,
    /// How many times the second context ran after a switch to it: half
    /// the switches, when the switch really switches.
    pub other_side_ran: u64,
    /// Whose switch was measured: `"weave"` (weave's own, x86_64 Linux)
    /// or `"corosensei"` (the portable backend, where each `switch_to`
    /// is two coroutine switches through the caller's side).
    pub backend: &'static str,
}

/// The state the two contexts share, on the caller's stack for the call.
struct Shared {
    a: Cell<*const Context>,
    b: Cell<*const Context>,
    /// Switches still to make.
    left: Cell<u64>,
    /// How many switches each side made: `a`'s, then `b`'s.
    made: [Cell<u64>; 2],
    elapsed: Cell<Duration>,
}

/// Runs `switches` bare context switches (rounded up to an even number)
/// between two contexts on small stacks of their own, and returns the time
/// they took. Set-up (the stacks, the contexts) and the first and last
/// switches (from the caller and back) stay outside the timed span.
///
/// Safe to call from any thread, a ULT included: nothing of the runtime
/// is touched, and a ULT calling it is not switched out (its LWP runs
/// nothing else meanwhile, as during any call that does not block).
pub fn switch_floor(switches: u64) -> FloorRun {
    let shared = Shared {
        a: Cell::new(std::ptr::null()),
        b: Cell::new(std::ptr::null()),
        left: Cell::new(switches.div_ceil(2) * 2),
        made: [Cell::new(0), Cell::new(0)],
        elapsed: Cell::new(Duration::ZERO),
    };
    // The closures capture a plain address: a context's closure must be
    // `'static`, and both contexts finish before `shared` goes.
    let at = &shared as *const Shared as usize;
    let mut mem_a = vec![0u128; STACK_BYTES / 16];
    let mut mem_b = vec![0u128; STACK_BYTES / 16];
    let (lo_a, lo_b) = (mem_a.as_mut_ptr() as usize, mem_b.as_mut_ptr() as usize);
    // SAFETY: each vector is ours, used by nothing else, and outlives the
    // context made on it (both finish below, before the vectors go).
    let (stack_a, stack_b) = unsafe {
        (
            Stack::user(lo_a, lo_a + STACK_BYTES),
            Stack::user(lo_b, lo_b + STACK_BYTES),
        )
    };
    let a = Context::new(stack_a, move || {
        // SAFETY: `shared` outlives this context (`switch_floor` waits for
        // it to finish), and only this OS thread touches it.
        let s = unsafe { &*(at as *const Shared) };
        let t = Instant::now();
        // SAFETY: we are `a`, running on this OS thread.
        unsafe { bounce(s, 0) };
        // `b` made the last switch (an even count), back to us.
        s.elapsed.set(t.elapsed());
    });
    let b = Context::new(stack_b, move || {
        // SAFETY: as for `a`.
        let s = unsafe { &*(at as *const Shared) };
        // SAFETY: we are `b`, running on this OS thread.
        unsafe { bounce(s, 1) };
    });
    shared.a.set(&a);
    shared.b.set(&b);
    let home = Home::new();
    // SAFETY: this OS thread owns `home` and both contexts; nobody else
    // resumes them. `a` and `b` bounce until no switch is left, on `a`'s
    // side (an even count), and `a` finishes; then `b`, switched out in
    // its last `switch_to` (or never started), sees none left and
    // finishes.
    let a_end = unsafe { a.resume(&home) };
    // SAFETY: as above.
    let b_end = unsafe { b.resume(&home) };
    let ends = [a_end, b_end];
    if ends != [Resumed::Finished, Resumed::Finished] {
        crate::fatal("a switch-floor context did not finish");
    }
    // The stacks are the vectors' memory: nothing goes back to a pool.
    let _stacks = (a.into_stack(), b.into_stack());
    Stack::user_done(lo_a);
    Stack::user_done(lo_b);
    drop((mem_a, mem_b));
    FloorRun {
        switches: shared.made[0].get() + shared.made[1].get(),
        elapsed: shared.elapsed.get(),
        other_side_ran: shared.made[1].get(),
        backend: if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            "weave"
        } else {
            "corosensei"
        },
    }
}

/// The loop both contexts run: switch to the other side while switches are
/// left. One function for both, so that both switch from the same call
/// site, as two ULTs yielding do: the return predictor, which expects the
/// `ret` of the switch to land after the `call` it saw, is then right (two
/// sites would make every switch a mispredicted return, which a yield does
/// not pay).
///
/// # Safety
///
/// Called on context `side` (0: `s.a`, 1: `s.b`), running on this OS
/// thread, with the other context switched out (in this loop, or fresh)
/// and resumed by nobody else.
#[inline(never)]
unsafe fn bounce(s: &Shared, side: usize) {
    // SAFETY: both pointers are set before the first resume and stay valid
    // while either context runs.
    let (me, other) = unsafe {
        if side == 0 {
            (&*s.a.get(), &*s.b.get())
        } else {
            (&*s.b.get(), &*s.a.get())
        }
    };
    let made = &s.made[side];
    while s.left.get() > 0 {
        s.left.set(s.left.get() - 1);
        made.set(made.get() + 1);
        // SAFETY: the caller's contract: we are `me`, running, and `other`
        // is switched out and ours to resume.
        unsafe { switch_to(me, other) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_context_runs_once_per_round_trip() {
        let r = switch_floor(1000);
        assert_eq!(r.switches, 1000);
        assert_eq!(r.other_side_ran, 500, "{r:?}");
    }

    #[test]
    fn an_odd_count_is_rounded_up_and_zero_switches_nothing() {
        assert_eq!(switch_floor(7).switches, 8);
        let r = switch_floor(0);
        assert_eq!((r.switches, r.other_side_ran), (0, 0), "{r:?}");
    }

    #[test]
    fn runs_again_on_the_same_thread_and_on_another() {
        for _ in 0..3 {
            assert_eq!(switch_floor(100).other_side_ran, 50);
        }
        let r = std::thread::spawn(|| switch_floor(100)).join().unwrap();
        assert_eq!(r.other_side_ran, 50);
    }

    #[test]
    fn names_the_switch_it_measured() {
        let want = if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            "weave"
        } else {
            "corosensei"
        };
        assert_eq!(switch_floor(2).backend, want);
    }
}

//! Stacks that are not the pool's, registered with valgrind while a ULT
//! may run on them.
//!
//! Memcheck tells a switch of stacks from a large frame by the stacks it
//! was told about (`VALGRIND_STACK_REGISTER`): a jump of the stack pointer
//! into a registered stack is a switch, anything else a frame being pushed
//! or popped, whose memory it then marks undefined or inaccessible. The
//! pool registers each stack once, when it carves it, for good (`mod.rs`:
//! its stacks are never unmapped). A solo stack (`solo.rs`) is a mapping
//! of its own, unmapped when its ULT is done, and a stack of the
//! program's (`Stack::user`) is the program's again once its ULT is
//! joined; either range may then be mapped again, as another stack or as
//! anything else. So they are registered when made and deregistered when
//! they go back ([`deregister`]): a registration never outlives its stack
//! and never overlaps a later one. A stack of the program's whose thread
//! is never joined is deregistered when a later stack overlaps it.
//!
//! Outside valgrind nothing is recorded: one client request (a few no-op
//! instructions) answers, once per process, that valgrind is not there.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;

use corosensei::stack::valgrind::ValgrindStackRegistration;

/// The registrations in force: the stack's limit (lowest usable address)
/// to its base and the registration, which deregisters when dropped.
static REGISTERED: Mutex<BTreeMap<usize, (usize, ValgrindStackRegistration)>> =
    Mutex::new(BTreeMap::new());

/// Whether valgrind runs us: 0 not asked yet, 1 no, 2 yes.
static ON_VALGRIND: AtomicU8 = AtomicU8::new(0);

/// Whether this process runs under valgrind (`RUNNING_ON_VALGRIND`,
/// asked once). weave registers its stacks with valgrind then; a program
/// may also leave out what valgrind cannot run (`weave bench` leaves out
/// its baselines of 1,000 OS threads, past valgrind's default
/// `--max-threads`).
pub fn on_valgrind() -> bool {
    match ON_VALGRIND.load(Relaxed) {
        0 => {
            let yes = running_on_valgrind();
            ON_VALGRIND.store(if yes { 2 } else { 1 }, Relaxed);
            yes
        }
        v => v == 2,
    }
}

/// `RUNNING_ON_VALGRIND`: valgrind's client request 0x1001, a sequence
/// of rotates that is a no-op on the CPU and that valgrind recognises
/// (valgrind.h's `VALGRIND_DO_CLIENT_REQUEST_EXPR`; the same sequence
/// corosensei issues to register stacks). 0 outside valgrind.
#[cfg(target_arch = "x86_64")]
fn running_on_valgrind() -> bool {
    let args: [u64; 6] = [0x1001, 0, 0, 0, 0, 0];
    let result: u64;
    // SAFETY: rotates of rdi by a total of 128 bits leave it as it was,
    // and `xchg rbx, rbx` changes nothing: on the CPU this is a no-op;
    // valgrind reads `args` and writes its answer to rdx.
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") 0u64 => result,
            in("rax") args.as_ptr(),
            options(nostack),
        );
    }
    result != 0
}

/// As above, for aarch64 (valgrind.h's sequence there).
#[cfg(target_arch = "aarch64")]
fn running_on_valgrind() -> bool {
    let args: [u64; 6] = [0x1001, 0, 0, 0, 0, 0];
    let result: u64;
    // SAFETY: as above: rotates of x12 by 128 bits and `orr x10, x10,
    // x10` change nothing on the CPU.
    unsafe {
        std::arch::asm!(
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #61",
            "ror x12, x12, #51",
            "orr x10, x10, x10",
            inout("x3") 0u64 => result,
            in("x4") args.as_ptr(),
            options(nostack),
        );
    }
    result != 0
}

/// Elsewhere: valgrind is not assumed.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn running_on_valgrind() -> bool {
    false
}

/// Registers `limit..base` as a stack, first deregistering any
/// registration it overlaps (a stack gone without a word: the program's,
/// of a thread never joined).
pub(crate) fn register(limit: usize, base: usize) {
    if limit >= base || !on_valgrind() {
        return;
    }
    let mut r = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    let stale: Vec<usize> = r
        .range(..base)
        .rev()
        .take_while(|(_, (hi, _))| *hi > limit)
        .map(|(&lo, _)| lo)
        .collect();
    // The registrations are disjoint: those below `base` that reach above
    // `limit` are the overlapping ones, and they come first from the top.
    for lo in stale {
        r.remove(&lo);
    }
    let reg = ValgrindStackRegistration::new(limit as *mut u8, base - limit);
    r.insert(limit, (base, reg));
}

/// Deregisters the stack whose limit is `limit`, if it is registered.
pub(crate) fn deregister(limit: usize) {
    if !on_valgrind() {
        return;
    }
    let mut r = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    r.remove(&limit);
}

//! How a cancellation request reaches a ULT armed for asynchronous
//! cancellation: the signal layer's sender (`signal/interrupt.rs`, which
//! interrupts the LWP the ULT runs on), registered here once its handler is
//! installed (`signal::set_async_cancel_hook`). A file of its own, naming
//! only the TCB, so that the thread API (`thread/cancel.rs`) and the signal
//! layer both reach it without naming each other.

use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Release};

use super::tcb::Tcb;

/// The sender; null until the interrupt is installed: no thread is armed.
static INTERRUPT: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Registers the interrupt's sender.
pub(crate) fn set(send: fn(&Tcb)) {
    // Release: pairs with the Acquire loads below; the handler is in the
    // kernel's table before this store.
    INTERRUPT.store(send as *mut (), Release);
}

/// Whether the interrupt is installed: a ULT may be armed.
#[inline]
pub(crate) fn ready() -> bool {
    !INTERRUPT.load(Acquire).is_null()
}

/// Interrupts the LWP `tcb` runs on (a request for an armed ULT).
pub(crate) fn interrupt(tcb: &Tcb) {
    let p = INTERRUPT.load(Acquire);
    if !p.is_null() {
        // SAFETY: only `set` stores here, a `fn(&Tcb)`.
        let send = unsafe { std::mem::transmute::<*mut (), fn(&Tcb)>(p) };
        send(tcb);
    }
}

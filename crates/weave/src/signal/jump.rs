//! Leaving a handler by a long jump (C's `sigsetjmp`/`siglongjmp`): what
//! the thread's signal state must be after the jump, since the handler
//! never returns to put it back.
//!
//! A [`JumpPoint`] is taken where the program sets its jump buffer: the
//! thread's own mask (a ULT's is weave's word in its TCB, which the C
//! library's `sigsetjmp` cannot see; an OS thread's is the kernel's) and
//! how many handlers in signal context the thread is inside then.
//! [`before_jump`] runs just before the jump and puts back:
//!
//! 1. the signal-context depth of the jump point (the top halves the jump
//!    leaves never return to lower it: `wrapper::leave_to`);
//! 2. when the jump leaves every handler of a ULT's LWP, the LWP's kernel
//!    mask that the outermost handler's return would have restored (its
//!    `uc_sigmask`): the kernel blocked the signal and the wrapper's
//!    `sa_mask` while the handler ran; left so, they would stay blocked
//!    for every ULT of that LWP;
//! 3. the mask saved at the jump point, if one was saved, as
//!    [`mask`](super::mask) sets it (a signal pending and now let in is
//!    delivered before the jump, as the C library's `siglongjmp` lets the
//!    kernel deliver it on the way out of its `sigprocmask`). Without one,
//!    the mask stays as the handler had it, as with the C library.
//!
//! Owns nothing of the handlers' state but these three; never called in
//! a handler's normal return path.

use super::set::SigSet;
use super::wrapper;

/// Where a long jump lands: what [`before_jump`] puts back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JumpPoint {
    /// The thread's mask when the point was taken, if it was saved.
    pub mask: Option<SigSet>,
    /// How many handlers in signal context the thread was inside.
    pub depth: u32,
}

/// The calling thread's jump point, with its mask when `save_mask`.
// ASYNC-SIGNAL-SAFE (a C program may call `sigsetjmp` in a handler).
pub fn jump_point(save_mask: bool) -> JumpPoint {
    JumpPoint {
        mask: save_mask.then(super::current_mask),
        depth: wrapper::signal_depth(),
    }
}

/// Puts the calling thread's signal state back as it was at `to`, before
/// it jumps there (see the module doc).
///
/// # Safety
///
/// `to` was taken on the calling thread, and the caller jumps to it right
/// after, leaving every frame above it, the handlers' among them.
pub unsafe fn before_jump(to: &JumpPoint) {
    let outer = wrapper::leave_to(to.depth);
    if !outer.is_null() && crate::lwp::current().is_some() {
        // SAFETY: `outer` is the outermost handler's ucontext_t, in its
        // signal frame, which the jump has not left yet.
        let kernel = unsafe { (*(outer as *const libc::ucontext_t)).uc_sigmask };
        // SAFETY: a valid set, on the calling thread.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &kernel, std::ptr::null_mut()) };
        debug_assert_eq!(rc, 0);
    }
    if let Some(m) = to.mask {
        super::mask(super::How::SetMask, &m);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_jump_out_of_handlers_lowers_the_signal_context_depth() {
        let to = jump_point(false);
        assert_eq!(to.depth, 0);
        assert_eq!(to.mask, None);
        // Two handlers entered, never returned from.
        std::mem::forget(wrapper::SignalContext::enter(std::ptr::null_mut()));
        std::mem::forget(wrapper::SignalContext::enter(std::ptr::null_mut()));
        assert!(wrapper::in_signal_context());
        // SAFETY: taken on this thread; no jump follows, which only leaves
        // nothing to restore here (a plain thread, no handler frames).
        unsafe { before_jump(&to) };
        assert!(!wrapper::in_signal_context());
    }

    #[test]
    fn a_jump_point_keeps_the_mask_only_when_asked() {
        let p = jump_point(true);
        assert_eq!(p.mask, Some(crate::signal::current_mask()));
    }
}

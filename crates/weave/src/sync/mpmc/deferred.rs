//! A plain receive that waits without a context: the record of its wait
//! ([`DeferredRecv`]), the record's states, the LWP's publication of it,
//! a same-LWP send's serve, and the end of its round. It owns that
//! protocol for both flavours that use it, the array (`bounded(n)`: a
//! receive published in its `receivers`) and the rendezvous (`bounded(0)`
//! of the locked flavour: published in its `recv_fast`, or queued under
//! its lock); each flavour says where a receive is published
//! ([`RecvQueue`]), when a send of its own may serve a deferred one, and
//! builds its own block closure around the record (so the closure is
//! each flavour's own code, inlined into its receive). It blocks nobody
//! but through `sync/block.rs`, and knows no flavour.
//!
//! ## The wait
//!
//! A `Receiver::recv` without a deadline that found nothing waits first
//! through its flavour's `recv_deferred`, which builds neither a select
//! operation nor a [`Context`]: on its stack, a `DeferredRecv` record (a
//! value slot, its waiter, a state, and room for a context), and in its
//! LWP's hand-off slots a deferral naming it (`lwp/handoff.rs`, "A wait
//! published late": the key is the flavour's place of receivers, at most
//! one wait per LWP), made by [`DeferredRecv::register`] in the block
//! closure. Then it blocks, straight to the next ULT of its LWP (its
//! block held) or through the loop. The wait ends one of two ways, each
//! on the LWP's thread and each taking the deferral first, so never both:
//!
//! - **Served here.** A send on the same LWP (the flavour's `try_send`:
//!   `send`, `try_send`, a waiting send's retry) that finds no receiver
//!   published and no message older than its own (the array: the buffer
//!   empty; the rendezvous: no sender and no receiver queued) takes the
//!   deferral, writes its message into the record's value slot and wakes
//!   the waiter with its token (a held block ends with a store):
//!   [`DeferredRecv::serve`]. Only such a send may write the value; the
//!   receive reads it once woken, which it can be only after the write.
//!   The record's state stays [`DEFERRED`]: that is how the receive knows
//!   it was served. On a rendezvous that is a complete rendezvous: the
//!   value is in the hands of a receive that can do nothing but return it.
//! - **Published.** Otherwise, before its block is committed, the LWP
//!   makes the context in the record (armed with the waiter, its value
//!   slot the record's), registers it as the receive's own wait would
//!   have, with the same look after it (the flavour's `register_recv`),
//!   and sets the state to [`PUBLISHED`] (or [`WITHDRAWN`] and wakes the
//!   receive, if a message, a waiting sender or the disconnection came
//!   meanwhile). From there it is the full wait: a sender anywhere takes
//!   it (the value in the record), or notifies it. Once woken, the
//!   receive ends the round as `select::run_tried` does
//!   ([`DeferredRecv::end`]: `Context::end_fast`, or an abort and a
//!   withdrawal) and returns a handed value; with none (notified,
//!   withdrawn, woken by a cancellation or a signal), `Receiver::recv`
//!   waits the full way.
//!
//! Where no LWP can hold the wait (an OS thread, a bound ULT, an LWP that
//! holds another receive's), the receive publishes its record itself, at
//! once, and ends as a published one.
//!
//! What the others see while the wait is deferred: nothing names it in
//! the channel. A sender on another LWP writes into the buffer, or, on a
//! rendezvous, queues its send (it finds no receiver), and the
//! publication's look sees it. A disconnection (the last handle of a side
//! dropped, here or elsewhere) marks the channel, and the publication's
//! look sees the mark. A timeout cannot occur: a receive with a deadline
//! never takes this path (a timer would hold its token). A `select!`
//! never takes it either (it makes its own context); a `select!` send arm
//! completes with a permit, which writes to the buffer or waits as a lazy
//! sender, seen by the publication as any sender. A cancellation request
//! or a signal ends the wait as for any held block: the LWP's commit
//! publishes the wait first, then finds the wait ended, and the receive
//! wakes as published, with no value, and waits again.
//!
//! The loom model below runs both ways of ending against a sender on
//! another thread, for each flavour's sender (the array's, which buffers
//! its message and notifies; the rendezvous', which queues and, finding
//! the receive published, withdraws its entry and hands its value into
//! the record).

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;

use super::context::{Context, Fast};
use crate::sync::block;

/// Where a flavour publishes a receive, for the record's publication and
/// the end of its round.
pub(super) trait RecvQueue<T> {
    /// Publishes the receive whose context is `ctx` (armed, single, its
    /// value slot `slot`), as the flavour's `register_recv` does; false
    /// (withdrawn) if a receive could go ahead now.
    ///
    /// # Safety
    ///
    /// As for the flavour's `register_recv`.
    unsafe fn publish_recv(&self, ctx: &Context, slot: *mut Option<T>) -> bool;

    /// Withdraws every entry of `ctx`, as the flavour's `unregister_recv`.
    fn withdraw_recv(&self, ctx: &Context);
}

/// `DeferredRecv::state`: deferred to its LWP (or served there).
const DEFERRED: u8 = 0;
/// Published through its context, which is registered.
const PUBLISHED: u8 = 1;
/// Its context was made, then withdrawn as it was registered.
const WITHDRAWN: u8 = 2;

/// A receive waiting without a context (the module doc), on its owner's
/// stack: what a send on its LWP needs to serve it, and room for the
/// context a publication makes.
pub(super) struct DeferredRecv<T> {
    /// Where a send puts its message: a send on this LWP that takes the
    /// deferral, or, once published, the sender that takes the context
    /// (the context's value slot).
    value: UnsafeCell<Option<T>>,
    /// Whom to wake: set as the owner blocks, taken by whoever serves or
    /// publishes the wait.
    waiter: UnsafeCell<Option<block::Waiter>>,
    /// [`DEFERRED`], [`PUBLISHED`] or [`WITHDRAWN`]: written by the owner
    /// or by its LWP acting for it (one OS thread), read by the owner.
    state: Cell<u8>,
    /// The context, made only by a publication ([`publish`](Self::publish)).
    ctx: UnsafeCell<MaybeUninit<Context>>,
}

impl<T> DeferredRecv<T> {
    #[inline(always)]
    pub(super) fn new() -> DeferredRecv<T> {
        DeferredRecv {
            value: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
            state: Cell::new(DEFERRED),
            ctx: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The registration, in the flavour's block closure with the owner's
    /// waiter `w`: leaves the publication to the LWP under `key` (the
    /// flavour's place of receivers), or, where it cannot, publishes in
    /// `queue` now. What the closure returns: false, the wait was
    /// withdrawn at once. Forced inline, so that the closure around it
    /// is what it was written in its flavour.
    ///
    /// # Safety
    ///
    /// The record is new (not registered before) and stays in place until
    /// [`end`](Self::end) returns; `key` names `queue`'s receivers only.
    #[inline(always)]
    pub(super) unsafe fn register<Q: RecvQueue<T>>(
        &self,
        w: block::Waiter,
        key: *const (),
        queue: &Q,
    ) -> bool {
        // SAFETY: the record is ours and named nowhere yet. A write, not
        // an assignment: the record is new, its waiter `None`, nothing
        // to drop (an assignment tested it, 2 instructions a receive).
        let w = unsafe {
            self.waiter.get().write(Some(w));
            (*self.waiter.get()).as_ref().unwrap_unchecked()
        };
        let d = block::Deferred {
            key,
            on: (queue as *const Q).cast(),
            wait: (self as *const DeferredRecv<T>).cast(),
            publish: publish_deferred::<T, Q>,
        };
        // The record stays in place, and its owner switched out, until
        // the deferral is served or published (`lwp/handoff.rs`).
        if block::defer_publication(w, d) {
            return true;
        }
        // Not deferrable here (an OS thread, a bound ULT, an LWP that
        // holds another wait): published now, by its owner.
        // SAFETY: the record is ours, not deferred.
        unsafe { self.publish_now(queue) }
    }

    /// [`publish`](Self::publish) by the owner, where its LWP cannot hold
    /// the wait: out of line, so that the block closure around
    /// [`register`](Self::register) stays small enough to be inlined into
    /// the receive (with the registration inline, the array's closure was
    /// called, +7% instructions on a bounded ping-pong).
    ///
    /// # Safety
    ///
    /// As for `publish`.
    #[cold]
    #[inline(never)]
    unsafe fn publish_now<Q: RecvQueue<T>>(&self, queue: &Q) -> bool {
        // SAFETY: the caller's guarantee.
        unsafe { self.publish(queue) }
    }

    /// Publishes the receive the full way: a context made in the record,
    /// armed with its waiter, registered in `queue`. False: withdrawn at
    /// once, and nobody else holds the context.
    ///
    /// # Safety
    ///
    /// The record's waiter is set, it is not published nor served, and it
    /// stays alive until its owner ends the wait (made by its owner, or
    /// by its LWP for the switched-out owner).
    #[inline(always)]
    unsafe fn publish<Q: RecvQueue<T>>(&self, queue: &Q) -> bool {
        // SAFETY: the caller's guarantee: nobody else touches the record.
        let ctx = unsafe {
            let Some(w) = (*self.waiter.get()).take() else {
                crate::fatal("channel: a deferred wait has no waiter");
            };
            let ctx = (*self.ctx.get()).write(Context::new(true));
            ctx.arm(w);
            &*ctx
        };
        // SAFETY: the context is armed and stays in place until its owner
        // ends the round (`end`).
        let registered = unsafe { queue.publish_recv(ctx, self.value.get()) };
        self.state
            .set(if registered { PUBLISHED } else { WITHDRAWN });
        registered
    }

    /// Serves the receive whose record is `wait` with `v`, and wakes it:
    /// no context, no RMW (the module doc, "Served here").
    ///
    /// # Safety
    ///
    /// `wait` is the record of a receive of `T`, deferred by
    /// [`register`](Self::register) and taken from the deferral by the
    /// caller (`block::take_deferred` under the record's key).
    #[inline(always)]
    pub(super) unsafe fn serve(wait: *const (), v: T) {
        // SAFETY: the caller's guarantee: the record is alive (its owner
        // is switched out in its wait, not published: `state` is
        // `DEFERRED`) and nobody else holds it.
        let rec = unsafe { &*wait.cast::<DeferredRecv<T>>() };
        debug_assert!(rec.state.get() == DEFERRED, "a published wait served here");
        // SAFETY: as above; the owner reads its value only once woken.
        let w = unsafe {
            rec.value.get().write(Some(v));
            (*rec.waiter.get()).take()
        };
        let Some(w) = w else {
            crate::fatal("channel: a deferred wait has no waiter");
        };
        w.wake();
    }

    /// The owner, woken, ends its round: `Some(v)` if a send handed it `v`
    /// (on its LWP, or, once published, from anywhere); `None` if not
    /// (withdrawn, notified, woken by a cancellation or a signal), and the
    /// caller waits the full way.
    #[inline(always)]
    pub(super) fn end<Q: RecvQueue<T>>(&self, queue: &Q) -> Option<T> {
        match self.state.get() {
            // Served by a send on this LWP: nothing else could end the
            // wait before its publication.
            // SAFETY: the server's write is done: it woke us after it.
            DEFERRED => match unsafe { (*self.value.get()).take() } {
                Some(v) => Some(v),
                None => crate::fatal("channel: a deferred wait ended unserved"),
            },
            // Withdrawn as it was registered: nobody else holds the context.
            // SAFETY: made by `publish`, named nowhere now.
            WITHDRAWN => unsafe {
                (*self.ctx.get()).assume_init_drop();
                None
            },
            _ => {
                // SAFETY: made by `publish`; dropped below, once no entry
                // names it.
                let ctx = unsafe { (*self.ctx.get()).assume_init_ref() };
                // The end of a round, as `select::run_tried_or`'s step 3.
                if ctx.fast() != Fast::No {
                    ctx.end_fast(|| queue.withdraw_recv(ctx));
                } else if ctx.try_abort().is_err() {
                    ctx.wait_released();
                } else {
                    queue.withdraw_recv(ctx);
                }
                // A handed message is in the record's value (a notified
                // receive finds none, and retries).
                // SAFETY: nobody holds the context now.
                unsafe {
                    let v = (*self.value.get()).take();
                    (*self.ctx.get()).assume_init_drop();
                    v
                }
            }
        }
    }
}

/// The LWP's publication of a receive deferred by
/// [`DeferredRecv::register`], before the receiving ULT's block is
/// committed: the registration the receive would have made (one side of
/// the flavour's Dekker pair, made by the LWP for the switched-out ULT);
/// if what it waits for came meanwhile, the receive is woken to retry.
///
/// # Safety
///
/// `on` is the `Q` and `wait` the record of the receive, whose owner is
/// switched out in its wait, not published anywhere.
unsafe fn publish_deferred<T, Q: RecvQueue<T>>(on: *const (), wait: *const ()) {
    // SAFETY: the caller's guarantee: the receive borrows the channel and
    // its record lives on the switched-out owner's stack.
    let (queue, rec) = unsafe { (&*on.cast::<Q>(), &*wait.cast::<DeferredRecv<T>>()) };
    // SAFETY: as above: not published nor served (the deferral was taken
    // by this call's caller).
    if unsafe { rec.publish(queue) } {
        return;
    }
    // Withdrawn before anyone took it: the receive retries.
    // SAFETY: made by `publish`, published nowhere now: nobody else reads
    // the waiter.
    if let Some(w) = unsafe { (*rec.ctx.get()).assume_init_ref().waiter() } {
        w.wake();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use crate::lwp::handoff::{Deferred, EndHeld, Handoff, Ult};
    use crate::thread::state::{Wake, WakeToken};
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::Ordering::{Acquire, Release, SeqCst};
    use loom::sync::atomic::{fence, AtomicUsize};
    use loom::sync::Arc;

    /// Whose sender the model's sender on another thread is.
    #[derive(Clone, Copy)]
    enum Flavour {
        /// The array's: it writes its message into the buffer, then
        /// notifies a published receive (which retries).
        Array,
        /// The rendezvous': it queues its send, then, finding the receive
        /// published, withdraws its entry and hands its value into the
        /// receive's record (`recv_fast`'s take); else it stays queued.
        Rendezvous,
    }

    /// The model's channel: one count of what a receive can take (the
    /// array's buffered messages, the rendezvous' queued senders) and the
    /// one-word slot where a waiting receiver publishes itself (the
    /// waiter's SeqCst CAS then its load of the count, against the
    /// sender's SeqCst RMW on the count then its load of the word).
    struct Chan {
        ready: AtomicUsize,
        /// 1 while A is published, 0 otherwise (withdrawn, or taken).
        fast: AtomicUsize,
    }

    /// The record's states, as `DeferredRecv::state`.
    const DEFERRED: u8 = 0;
    const PUBLISHED: u8 = 1;
    const WITHDRAWN: u8 = 2;

    /// What A, its LWP and a sender on another thread share.
    struct Shared {
        a: Ult,
        chan: Chan,
        /// Messages A received: handed to it, or taken by its retry.
        got: AtomicUsize,
        /// A's record (`DeferredRecv`), on A's stack: the value a waker
        /// here (or, once published, a rendezvous sender) hands over.
        value: UnsafeCell<Option<u64>>,
        /// The record's state: set by the publication (on A's LWP, for
        /// the switched-out A).
        state: UnsafeCell<u8>,
        /// The context's `released`: 1 once a sender that took A from
        /// the slot is done with the record (Release, after its write).
        released: AtomicUsize,
    }

    impl Shared {
        /// A runs again, on whichever thread took it, and ends its round
        /// (`DeferredRecv::end`): not published, it finds its value in its
        /// record; published, it ends as `Context::end_fast` does (taken:
        /// it waits for the taker's release, and finds a value handed into
        /// the record, or none if notified), and with no value retries
        /// and takes what the channel holds, if anything. Loom checks that
        /// the writes to the record come before A reads it.
        fn a_runs(&self) {
            self.a.run();
            // SAFETY: the model's claim under test, as in `Ult::run`.
            let state = self.state.with(|p| unsafe { *p });
            if state == DEFERRED {
                // SAFETY: as above.
                let v = self.value.with_mut(|v| unsafe { (*v).take() });
                assert_eq!(v, Some(7), "a wait that was not published ran unserved");
                self.got.fetch_add(1, SeqCst);
                return;
            }
            if state == PUBLISHED {
                // Acquire: pairs with the taker's Release store.
                let taken = self.released.load(Acquire) == 1
                    || self
                        .chan
                        .fast
                        .compare_exchange(1, 0, SeqCst, SeqCst)
                        .is_err();
                if taken {
                    while self.released.load(Acquire) == 0 {
                        loom::thread::yield_now();
                    }
                    // SAFETY: as above.
                    if self.value.with_mut(|v| unsafe { (*v).take() }).is_some() {
                        self.got.fetch_add(1, SeqCst);
                        return;
                    }
                }
            }
            let _ = self
                .chan
                .ready
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .map(|_| self.got.fetch_add(1, SeqCst));
        }

        /// The sender on another thread, as its flavour's.
        fn send_elsewhere(&self, flavour: Flavour, token: WakeToken) {
            self.chan.ready.fetch_add(1, SeqCst);
            fence(SeqCst);
            if self.chan.fast.load(SeqCst) != 1
                || self
                    .chan
                    .fast
                    .compare_exchange(1, 0, SeqCst, SeqCst)
                    .is_err()
            {
                // No receive published: buffered, or queued (a receive
                // takes it).
                return;
            }
            if let Flavour::Rendezvous = flavour {
                // Its entry withdrawn, its value in A's record.
                self.chan.ready.fetch_sub(1, SeqCst);
                // SAFETY: A's record, taken from the slot: ours until
                // the release below.
                self.value.with_mut(|v| unsafe { *v = Some(9) });
            }
            // The array's notification releases with nothing moved.
            self.released.store(1, Release);
            if self.a.state.wake(token) == Wake::Enqueue {
                // Queued to A's LWP, which runs it (here, in the model).
                self.a_runs();
            }
        }
    }

    /// The LWP's side of the model, for the deferred publication to reach:
    /// its hand-off slots and A's wait token.
    struct Here<'a> {
        handoff: &'a Handoff<&'a Ult>,
        shared: &'a Shared,
        token: WakeToken,
    }

    impl Here<'_> {
        /// A wake of A made on this LWP (`Lwp::wake_here`): its held block
        /// ended with a store, or, if not held, the state word's CAS; the
        /// LWP runs A if the wake queues it.
        fn wake_a(&self) {
            let a = &self.shared.a;
            let queued = match self.handoff.end_held(a, self.token) {
                EndHeld::Ended | EndHeld::EndedBefore => true,
                EndHeld::Stale => false,
                EndHeld::NotHeld => a.state.wake(self.token) == Wake::Enqueue,
            };
            if queued {
                self.shared.a_runs();
            }
        }
    }

    /// `publish_deferred` of the model: A's registration, made by its
    /// LWP; if something came meanwhile, A is withdrawn and woken to
    /// retry.
    unsafe fn publish_model(on: *const (), _wait: *const ()) {
        // SAFETY: the model passes its `Here`, alive on this thread.
        let here = unsafe { &*on.cast::<Here<'_>>() };
        // The wait goes on the full way (its context made in the record).
        // SAFETY: A is switched out and nobody serves it now.
        here.shared.state.with_mut(|p| unsafe { *p = PUBLISHED });
        let chan = &here.shared.chan;
        chan.fast.store(1, SeqCst);
        // Loom orders SeqCst accesses as AcqRel: the fence stands in for
        // the total order (as `Waiters::register` under loom).
        fence(SeqCst);
        if chan.ready.load(SeqCst) == 0 {
            return;
        }
        if chan.fast.compare_exchange(1, 0, SeqCst, SeqCst).is_ok() {
            // Withdrawn before anyone took it: nobody else reads the
            // record now.
            // SAFETY: as above.
            here.shared.state.with_mut(|p| unsafe { *p = WITHDRAWN });
            here.wake_a();
        }
    }

    /// How the LWP settles A's deferred wait.
    #[derive(Clone, Copy)]
    enum Deferral {
        /// B, on this LWP, sends to A: it serves the deferred wait if
        /// nothing is buffered or queued, else its pick publishes it.
        ServedHere,
        /// B blocks first: its pick publishes A's wait and commits.
        Published,
    }

    /// A receive waits with its publication deferred to its LWP, and
    /// switches straight to B (its block held); a sender on another
    /// thread sends meanwhile. Whichever way the LWP settles the wait, A
    /// runs again exactly once, never while the switch may still write
    /// its stack, and no message is lost: A got one, or it stays in the
    /// channel for A's next receive.
    fn deferred_wait_races_a_sender_elsewhere(how: Deferral, flavour: Flavour) {
        loom::model(move || {
            let shared = Arc::new(Shared {
                a: Ult::new(),
                chan: Chan {
                    ready: AtomicUsize::new(0),
                    fast: AtomicUsize::new(0),
                },
                got: AtomicUsize::new(0),
                value: UnsafeCell::new(None),
                state: UnsafeCell::new(DEFERRED),
                released: AtomicUsize::new(0),
            });
            // A found nothing and waits.
            let token = shared.a.state.prepare_block_handed(1);
            let sender = {
                let shared = shared.clone();
                loom::thread::spawn(move || shared.send_elsewhere(flavour, token))
            };
            let handoff: Handoff<&Ult> = Handoff::new();
            let here = Here {
                handoff: &handoff,
                shared: &shared,
                token,
            };
            let key = std::ptr::addr_of!(shared.chan).cast::<()>();
            let d = Deferred {
                key,
                on: std::ptr::addr_of!(here).cast(),
                wait: std::ptr::null(),
                publish: publish_model,
            };
            assert!(handoff.defer(&shared.a, d));
            handoff.switch_blocking(&shared.a, || {
                // SAFETY: as in `Ult::run`.
                shared.a.stack.with_mut(|s| unsafe { *s += 1 })
            });
            // B runs. Messages sent: the sender's, and B's if it served A.
            let mut sent = 1;
            if let Deferral::ServedHere = how {
                let first = || shared.chan.ready.load(SeqCst) == 0;
                if handoff.take_deferred(key, first).is_some() {
                    // B's message, in A's record (`DeferredRecv::serve`);
                    // then A's wake.
                    sent += 1;
                    // SAFETY: A is switched out and its wait taken here.
                    shared.value.with_mut(|v| unsafe { *v = Some(7) });
                    here.wake_a();
                }
            }
            // B's pick settles whatever is left.
            if let Some((_, blocked)) = handoff.commit() {
                if !blocked {
                    shared.a_runs();
                }
            }
            assert!(handoff.is_empty() && handoff.defers_nothing());
            sender.join().unwrap();
            assert_eq!(shared.a.resumed.load(SeqCst), 1, "A ran again once");
            // A woken by a failed commit may not see the sender's message
            // yet (the commit's first look is Relaxed) and takes none: in
            // the channel that is a retry that waits again, and its next
            // registration sees the message. None is lost either way.
            assert_eq!(
                shared.got.load(SeqCst) + shared.chan.ready.load(SeqCst),
                sent,
                "a message lost"
            );
        });
    }

    #[test]
    fn a_deferred_wait_served_here_races_an_array_sender_elsewhere() {
        deferred_wait_races_a_sender_elsewhere(Deferral::ServedHere, Flavour::Array);
    }

    #[test]
    fn a_deferred_wait_published_at_the_pick_races_an_array_sender_elsewhere() {
        deferred_wait_races_a_sender_elsewhere(Deferral::Published, Flavour::Array);
    }

    #[test]
    fn a_deferred_wait_served_here_races_a_rendezvous_sender_elsewhere() {
        deferred_wait_races_a_sender_elsewhere(Deferral::ServedHere, Flavour::Rendezvous);
    }

    #[test]
    fn a_deferred_wait_published_at_the_pick_races_a_rendezvous_sender_elsewhere() {
        deferred_wait_races_a_sender_elsewhere(Deferral::Published, Flavour::Rendezvous);
    }
}

//! The behaviour tests of `weave::signal`, one module per behaviour,
//! linked into one test binary: building and linking one binary instead of
//! one per file is most of what these tests cost.
//!
//! Nearly every scenario installs process-wide handlers or masks, so it
//! runs in a child process of this binary, alone (`in_child!`,
//! `is_child!` and `child_output!` of `signal_common`, which re-run the
//! binary with `--exact` and the test's full name, `module::name`); the
//! parent half only starts the child and checks what it said. What runs
//! in the test process itself shares it with every other module here, so
//! it must change nothing process-wide: the refusals of `reserved`, and
//! `suspend_cancellation`, whose ULT masks a signal nobody sends.

#[path = "../signal_common/mod.rs"]
#[macro_use]
mod signal_common;

mod channel_and_wait;
mod delivery_cases;
mod fork;
mod handler_pool_takes_nothing;
mod handler_thread_deadlock;
mod immediate;
mod inherited_kernel_mask;
mod interrupted_wait;
mod kill_interrupts_waits;
mod mask_inherited;
mod on_target;
mod one_shot;
mod queue_full;
mod realtime_queued;
mod reserved;
mod stress;
mod suspend;
mod suspend_cancellation;
mod synchronous;
mod trace_signals;

//! The behaviour tests of threads themselves (spawn, join, per-ULT
//! storage, scopes, cancellation requests, stacks given or guarded, the
//! thread table and the dump, sleep, files on the blocking pool), one
//! module per behaviour, linked into one test binary: building and linking
//! one binary instead of one per file is most of what these tests cost.
//!
//! Only tests that can share a process with any other belong here, as in
//! `tests/sync/main.rs`: none changes the runtime's configuration, the
//! environment, signal dispositions, rlimits or the panic hook, forks or
//! re-runs the binary, or counts what belongs to the whole process. A dump
//! test finds its threads by names no other test here uses.

#[path = "../wait_common/mod.rs"]
mod wait_common;

mod cancel_request_ends_waits;
mod dump_json;
mod dump_threads;
mod errors;
mod fs;
mod join_self;
mod local_and_scope;
mod os_thread_wait;
mod result_drop;
mod sleep;
mod spawn_join;
mod spawn_published;
mod stack_guard;
mod stack_of_another_thread;
mod stress_wakeups;
mod thread_local_api;
mod thread_local_destruction;
mod thread_table;
mod user_stack;

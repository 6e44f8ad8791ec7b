//! The C tests: each program under `tests/c/` checks one behaviour of the
//! C API, written from the POSIX page of the functions it calls. This file
//! compiles each with the system `cc` against the library cargo built for
//! this test run (`-include weave/pthread.h`, as a ported program would
//! be compiled), runs it, and checks its exit status and output.
//!
//! A program that hangs is killed after a generous watchdog and fails.
//!
//! A program is compiled once per content: its executable's name carries a
//! hash of what went into it (source, headers, compiler and flags), so the
//! debug and the release run of this file (both use cargo's shared
//! `CARGO_TARGET_TMPDIR`) and every later run compile only what changed.
//! A dynamically linked program finds the library through
//! `CARGO_TARGET_TMPDIR/lib`, which each run points at its own build.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A directory laid out as an installed prefix's `lib/`: `libweave.so`
/// and `libweave.a`, linked to the files cargo built for this run (beside
/// this test's executable, as `libweave_capi.*`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let deps = exe.parent().expect("the test sits in a directory");
    let lib = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lib");
    std::fs::create_dir_all(&lib).expect("create the lib directory");
    for (built, name) in [
        ("libweave_capi.so", "libweave.so"),
        ("libweave_capi.a", "libweave.a"),
    ] {
        let from = deps.join(built);
        assert!(from.exists(), "{} was not built", from.display());
        let to = lib.join(name);
        // Each test makes the link under a name of its own, then renames
        // it into place: tests run in parallel.
        let tmp = lib.join(format!("{name}.{:?}", std::thread::current().id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&from, &tmp).expect("link the library");
        std::fs::rename(&tmp, &to).expect("put the link in place");
    }
    lib
}

/// Compiles `tests/c/NAME.c`; `static_link` links `libweave.a` instead
/// of `libweave.so`.
fn compile(name: &str, static_link: bool) -> PathBuf {
    compile_file(
        &crate_dir().join("tests/c").join(format!("{name}.c")),
        static_link,
    )
}

/// The C compiler the tests use (`CC`, or `cc`).
fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

/// Every header a test program may include: weave's public ones and the
/// tests' own. A change to any of them changes every program's hash.
fn headers() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![
        crate_dir().join("../../include"),
        crate_dir().join("tests/c"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a header directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "h") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A hash of everything a compiled program depends on besides the library
/// it links dynamically: the source, every header, the compiler command
/// and its arguments. (A statically linked program contains the library
/// and is never reused: see `compile_file`.)
fn content_hash(src: &Path, args: &[std::ffi::OsString]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for file in std::iter::once(src.to_path_buf()).chain(headers()) {
        file.hash(&mut h);
        std::fs::read(&file)
            .expect("read a C source or header")
            .hash(&mut h);
    }
    args.hash(&mut h);
    h.finish()
}

fn compile_file(src: &Path, static_link: bool) -> PathBuf {
    let name = src.file_stem().expect("a file name").to_string_lossy();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c");
    std::fs::create_dir_all(&out_dir).expect("create the output directory");
    let lib = lib_dir();
    let mut args: Vec<std::ffi::OsString> = vec![cc().into()];
    args.extend(
        [
            "-std=gnu11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-g",
        ]
        .map(Into::into),
    );
    args.extend([
        "-I".into(),
        crate_dir().join("../../include").into(),
        "-I".into(),
        crate_dir().join("tests/c").into(),
        "-include".into(),
        "weave/pthread.h".into(),
        src.into(),
    ]);
    if static_link {
        args.push(lib.join("libweave.a").into());
        args.extend(["-lpthread", "-ldl", "-lm"].map(Into::into));
    } else {
        args.extend([
            "-L".into(),
            lib.clone().into(),
            "-lweave".into(),
            format!("-Wl,-rpath,{}", lib.display()).into(),
        ]);
    }
    let exe = if static_link {
        out_dir.join(format!("{name}-static"))
    } else {
        let exe = out_dir.join(format!("{name}-{:016x}", content_hash(src, &args)));
        if exe.exists() {
            return exe;
        }
        exe
    };
    // Written under a name of its own, then renamed into place: tests run
    // in parallel, and two of them may compile the same program.
    let tmp = out_dir.join(format!(
        "{name}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let out = Command::new(&args[0])
        .args(&args[1..])
        .arg("-o")
        .arg(&tmp)
        .output()
        .expect("run the C compiler (is `cc` installed?)");
    assert!(
        out.status.success(),
        "{name}.c does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &exe).expect("put the program in place");
    exe
}

/// The compile cache: a program is reused while its source is unchanged
/// (the same file, not a new one) and compiled again once it changes.
#[test]
fn a_program_is_compiled_once_per_content() {
    use std::os::unix::fs::MetadataExt;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-cache-check");
    std::fs::create_dir_all(&dir).expect("create the source directory");
    let src = dir.join("says.c");
    let says = |word: &str| {
        std::fs::write(
            &src,
            format!("#include <stdio.h>\nint main(void) {{ puts(\"{word}\"); return 0; }}\n"),
        )
        .expect("write the program");
        let exe = compile_file(&src, false);
        let out = run(&exe);
        assert!(out.status.success(), "says.c failed: {}", out.status);
        (exe, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (first, said) = says("one");
    assert_eq!(said, "one\n");
    let inode = std::fs::metadata(&first).expect("the program").ino();
    let (again, said) = says("one");
    assert_eq!(said, "one\n");
    assert_eq!(again, first, "an unchanged program got another name");
    assert_eq!(
        std::fs::metadata(&again).expect("the program").ino(),
        inode,
        "an unchanged program was compiled again"
    );
    let (changed, said) = says("two");
    assert_eq!(said, "two\n", "a changed source ran its old program");
    assert_ne!(changed, first);
}

/// Runs a program with a watchdog; its output.
fn run(exe: &Path) -> Output {
    run_cmd(&mut Command::new(exe))
}

/// As [`run`], for a command with arguments or environment of its own.
fn run_cmd(cmd: &mut Command) -> Output {
    let exe = PathBuf::from(cmd.get_program());
    // cargo points LD_LIBRARY_PATH at its target directories, which would
    // win over the program's rpath.
    let mut child = cmd
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the test program");
    let limit = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait for the program").is_some() {
            return child.wait_with_output().expect("collect the output");
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect the output");
            panic!(
                "{} hung (killed after 120 s); stderr:\n{}",
                exe.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Compiles and runs `tests/c/NAME.c`; it must exit 0. Returns stdout.
fn passes(name: &str) -> String {
    passes_linked(name, false)
}

fn passes_linked(name: &str, static_link: bool) -> String {
    let out = run(&compile(name, static_link));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

macro_rules! c_tests {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            passes($file);
        }
    )*};
}

c_tests! {
    create_runs_the_start_routine_and_join_returns_its_value => "thread_create_join",
    pthread_exit_abandons_the_c_frames_and_runs_key_destructors => "thread_exit_abandons_frames",
    join_errors_are_esrch_edeadlk_einval => "thread_join_errors",
    detached_thread_runs_to_its_end_and_is_not_joinable => "thread_detach",
    self_in_the_thread_equals_the_id_create_stored => "thread_self_equal",
    once_runs_the_routine_exactly_once => "thread_once",
    once_with_a_cancelled_init_is_as_if_never_called => "once_cancelled_init",
    cond_sem_and_barrier_may_be_destroyed_right_after_the_last_wake => "destroy_right_after_the_last_wake",
    mutex_may_be_destroyed_and_unmapped_right_after_the_last_unlock => "mutex_destroy_right_after_the_last_unlock",
    rwlock_may_be_destroyed_and_unmapped_right_after_the_last_unlock => "rwlock_destroy_right_after_the_last_unlock",
    setconcurrency_level_is_returned_and_zero_is_automatic => "concurrency",
    thread_names_are_set_and_read_back => "thread_names",
    attr_setters_store_check_and_apply => "attr",
    scope_system_is_a_bound_thread_and_getattr_np_reads_back => "attr_scope_system_is_bound",
    sched_param_is_stored_and_mapped_to_weave_priorities => "sched_param",
    static_mutex_initializer_excludes_and_non_owner_unlock_is_eperm => "mutex_static_normal",
    errorcheck_mutex_relock_is_edeadlk_and_foreign_unlock_eperm => "mutex_errorcheck",
    recursive_mutex_counts_its_owner_locks => "mutex_recursive",
    timedlock_times_out_on_realtime_and_checks_abstime => "mutex_timedlock",
    mutex_destroy_init_and_attributes => "mutex_lifecycle",
    cond_signal_and_broadcast_wake_waiters => "cond_signal_broadcast",
    cond_timedwait_times_out_on_realtime_and_monotonic => "cond_timedwait_clocks",
    rwlock_readers_share_and_writers_exclude => "rwlock",
    barrier_releases_all_with_one_serial_thread => "barrier",
    spinlock_excludes_on_one_lwp_and_reports_misuse => "spinlock",
    key_destructors_run_at_exit_in_rounds => "tsd_keys",
    semaphores_count_time_out_and_set_errno => "semaphores",
    sleeps_block_only_the_calling_ult => "sleep_blocks_only_the_ult",
    clock_nanosleep_blocks_only_the_ult_and_returns_its_errors => "clock_nanosleep_blocks_only_the_ult",
    bad_thread_ids_and_objects_never_crash => "fuzz_bad_arguments",
    weave_own_api_creates_lists_and_blocks => "weave_api",
    cleanup_handlers_run_on_pop_and_on_exit_before_destructors => "cleanup_handlers",
    fork_gives_a_child_whose_threads_work => "fork_child_runs_threads",
    fork_on_a_created_thread_keeps_that_thread_in_the_child => "fork_on_a_thread_keeps_it",
    deferred_cancel_acts_at_testcancel_and_join_gets_canceled => "cancel_testcancel",
    cancel_disabled_stays_pending_until_enabled => "cancel_disabled_until_enabled",
    cancel_disabled_join_completes_and_the_request_waits => "cancel_disabled_join_completes",
    cancel_runs_cleanup_handlers_newest_first_then_destructors => "cancel_cleanup_then_destructors",
    cancel_wakes_cond_wait_and_handlers_hold_the_mutex => "cancel_wakes_cond_wait",
    cancel_wakes_sem_wait_without_taking_a_permit => "cancel_wakes_sem_wait",
    cancel_wakes_sleep_usleep_nanosleep => "cancel_wakes_sleeps",
    cancel_wakes_join_and_the_target_stays_joinable => "cancel_wakes_join",
    cancel_of_stale_id_is_esrch_and_async_self_cancel_acts_at_once => "cancel_errors_and_async",
    cancel_wakes_a_socket_read => "cancel_wakes_socket_read",
    cleanup_handlers_of_a_cancelled_thread_run_to_their_end => "cancel_handlers_run_to_their_end",
    socket_read_blocks_only_the_ult => "socket_read_blocks_only_the_ult",
    clock_waits_time_out_on_the_clock_given_and_refuse_others => "clock_waits",
    named_semaphores_are_the_systems_and_block_only_the_ult => "named_semaphores",
    setstack_runs_the_thread_on_the_programs_memory => "attr_setstack_runs_on_the_given_stack",
    socket_calls_keep_nonblocking_timeouts_and_pass_other_fds_through => "socket_io_semantics",
    tryjoin_is_ebusy_until_the_thread_ends_then_joins => "thread_tryjoin",
    timedjoin_and_clockjoin_time_out_on_their_clock_and_leave_the_thread_joinable => "thread_timedjoin",
    closed_fd_numbers_are_reused_and_sockets_there_work => "close_reuses_fd_numbers",
    close_wakes_a_blocked_reader_and_the_number_is_safe_to_reuse => "close_wakes_a_blocked_reader",
    close_is_a_cancellation_point => "cancel_at_close",
    two_threads_accepting_on_one_listener_do_not_block_the_lwp => "accept_two_threads_one_listener",
    cancel_wakes_a_wait_on_a_named_semaphore_without_taking_a_permit => "cancel_wakes_named_sem_wait",
}

// The limits of #13 lifted: close under a waiter, high fds, reused
// numbers, cancellation in sigsuspend/pause, the GNU _np calls.
c_tests! {
    close_ends_a_blocked_write_with_ebadf => "close_wakes_a_blocked_writer",
    close_ends_only_the_calls_on_the_fd_it_closes => "close_leaves_other_copies_alone",
    a_reused_fd_number_belongs_to_the_new_file_only => "close_then_reuse_does_not_reach_the_new_file",
    high_fd_numbers_block_only_the_ult_and_close_ends_their_waits => "close_wakes_waiters_on_high_fds",
    cancel_ends_sigsuspend_and_pause => "cancel_wakes_sigsuspend_and_pause",
    a_thread_starts_with_the_attributes_signal_mask => "attr_sigmask_np",
    setattr_default_np_sets_what_a_null_attr_create_makes => "attr_default_np",
    rwlock_kind_is_stored_and_writers_are_preferred => "rwlockattr_kind_np",
    prefer_reader_kinds_and_the_default_let_readers_pass_a_waiting_writer => "rwlock_prefer_reader_np",
    timed_rwlock_waits_block_in_the_lock_and_a_timed_out_writer_lets_readers_in => "rwlock_timed_waits_in_the_lock",
    rwlock_clock_locks_wait_on_the_clock_given => "rwlock_clock_locks",
    getcpuclockid_gives_kernel_clocks_to_os_and_bound_threads_and_enoent_to_ults => "getcpuclockid",
    getattr_np_describes_a_detached_thread_as_created => "thread_getattr_np_detached",
    realtime_timed_joins_wait_in_steps_until_abstime_passes_on_that_clock => "timedjoin_realtime_in_steps",
    close_ends_a_read_in_a_fork_child_whose_parent_was_reading => "fork_child_close_ends_its_waits",
}

// errno is per thread: each thread's value survives the switches to the
// others on its LWP, and a new thread starts with 0.
c_tests! {
    errno_is_per_thread_across_switches_and_a_new_thread_starts_with_zero => "errno_is_per_thread",
    errno_is_kept_by_calls_that_succeed_and_weave_blocking_hands_it_on => "errno_kept_by_calls_that_succeed",
}

// Realtime timed waits that follow the clock (`time::wait_until`), as the
// joins above do.
c_tests! {
    realtime_timedlock_waits_in_steps_until_abstime_passes_on_that_clock => "mutex_timedlock_realtime_in_steps",
    realtime_cond_timedwait_waits_in_steps_until_abstime_passes_on_that_clock => "cond_timedwait_realtime_in_steps",
    realtime_sem_timedwait_waits_in_steps_until_abstime_passes_on_that_clock => "sem_timedwait_realtime_in_steps",
}

// Synchronisation objects: POSIX's answers where glibc's and weave's
// differed.
c_tests! {
    robust_mutex_owner_end_gives_eownerdead_and_consistent_recovers => "mutex_robust_owner_dies",
    robust_mutex_unlocked_inconsistent_is_not_recoverable => "mutex_robust_not_recoverable",
    cond_wait_takes_back_a_robust_mutex_whose_owner_ended_with_eownerdead => "cond_wait_robust_owner_dies",
    prioceiling_is_a_fifo_priority_and_only_protect_mutexes_have_one => "mutex_prioceiling",
    cond_timedwait_with_an_unowned_checking_mutex_is_eperm_before_any_timeout => "cond_timedwait_unowned_mutex_is_eperm",
    barrier_destroy_during_a_round_is_ebusy_and_after_it_succeeds => "barrier_destroy_in_use_is_ebusy",
    cond_destroy_with_an_unwoken_waiter_is_ebusy_and_after_the_wake_succeeds => "cond_destroy_with_waiters_is_ebusy",
    rwlock_unlock_by_a_thread_holding_nothing_is_eperm => "rwlock_unlock_by_non_holder_is_eperm",
    option_macros_and_sysconf_agree_on_unsupported_options => "options_match_sysconf",
    adaptive_np_kind_is_accepted_and_normal => "mutexattr_adaptive_np",
}

// Asynchronous cancellation: a request stops the thread in its own code.
c_tests! {
    async_cancel_stops_a_compute_loop_and_runs_handlers_then_destructors => "cancel_async_stops_a_compute_loop",
    async_cancel_acts_at_once_when_enabled_or_made_asynchronous => "cancel_async_acts_when_enabled",
    async_cancel_stops_a_thread_that_yields => "cancel_async_while_yielding",
    async_cancel_in_the_middle_of_cleanup_push_and_pop_runs_each_handler_once => "cancel_async_during_push_and_pop",
}

// Threads, scheduling and cancellation where they departed from POSIX.
c_tests! {
    cancel_of_an_ended_unjoined_thread_succeeds_and_changes_nothing => "cancel_an_ended_unjoined_thread",
    main_thread_can_be_detached_once_and_then_not_joined => "detach_the_main_thread",
    scheduling_is_kept_for_every_thread_and_inherited_at_create => "sched_inherited_and_kept_for_every_thread",
    getattr_np_on_itself_reports_the_stack_the_thread_runs_on => "getattr_np_stack_holds_the_callers_locals",
    zeroed_spinlock_is_free_and_zeroed_semaphore_has_value_zero => "zeroed_spinlock_and_semaphore",
    guard_size_is_the_inaccessible_memory_below_the_stack => "attr_guardsize_is_applied",
    getattr_np_of_another_thread_reports_the_stack_it_runs_on => "getattr_np_of_another_thread",
    timed_cond_and_sem_waits_act_on_a_pending_cancel_even_without_waiting => "cancel_timed_waits_act_on_a_pending_request",
}

// poll, select and the message calls block only the ULT and are
// cancellation points; the other simple cancellation points act on a
// pending request.
c_tests! {
    poll_blocks_only_the_ult_on_sockets_and_pipes => "poll_blocks_only_the_ult",
    poll_reports_the_systems_revents_and_times_out => "poll_revents_and_timeouts",
    select_blocks_only_the_ult_and_rewrites_the_sets => "select_blocks_only_the_ult_and_rewrites_the_sets",
    a_handler_ends_poll_and_select_with_eintr_and_ppoll_masks_are_the_threads_for_the_call => "poll_eintr_and_ppoll_mask",
    cancel_wakes_poll_select_and_the_message_calls => "cancel_wakes_poll_select_and_message_calls",
    message_calls_block_only_the_ult_and_keep_their_semantics => "message_calls_block_only_the_ult",
    simple_cancellation_points_act_on_a_pending_request => "cancel_points_act_on_a_pending_request",
}

#[test]
fn another_thread_joins_main_and_gets_its_pthread_exit_value() {
    assert_eq!(passes("join_the_main_thread"), "joined main: 0x99\n");
}

#[test]
fn a_sleeping_c_thread_is_compacted_only_if_weave_compact_is_set() {
    let exe = compile("compaction_off_for_c_unless_set", false);
    if let Err(why) = weave_rt::stack::compaction_support() {
        eprintln!("compaction unsupported here, test skipped: {why}");
        return;
    }
    for (arg, compact) in [("resident", None), ("compacted", Some("60ms"))] {
        let mut cmd = Command::new(&exe);
        cmd.arg(arg).env("WEAVE_TRIM", "50ms");
        match compact {
            Some(v) => cmd.env("WEAVE_COMPACT", v),
            None => cmd.env_remove("WEAVE_COMPACT"),
        };
        let out = run_cmd(&mut cmd);
        assert!(
            out.status.success(),
            "{arg} (WEAVE_COMPACT {compact:?}) failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `tests/c/NAME.c` with `WEAVE_LWPS` set to each of `lwps`; each
/// run must exit 0.
fn passes_on_lwps(name: &str, lwps: &[&str]) {
    let exe = compile(name, false);
    for n in lwps {
        let out = run_cmd(Command::new(&exe).env("WEAVE_LWPS", n));
        assert!(
            out.status.success(),
            "{name} on {n} LWP(s) failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// On one LWP the canceller of a looping thread is a plain thread or a
/// ULT that waits its turn; on two, the request interrupts another LWP.
#[test]
fn async_cancel_works_on_one_and_two_lwps() {
    for name in [
        "cancel_async_stops_a_compute_loop",
        "cancel_async_while_yielding",
        "cancel_async_during_push_and_pop",
    ] {
        passes_on_lwps(name, &["1", "2"]);
    }
}

#[test]
fn async_cancel_create_cancel_join_rounds_on_one_and_two_lwps() {
    passes_on_lwps("cancel_async_rounds", &["1", "2"]);
}

// Pipes, eventfds and the other pollable files that are not sockets
// block only the ULT; lockf's wait runs on the blocking pool; fcntl's
// variadic argument reaches the system for each kind of command.
c_tests! {
    pipe_and_eventfd_reads_and_writes_block_only_the_ult => "pipe_io_blocks_only_the_ult",
    pipe_waits_end_with_eintr_on_cancel_and_with_epipe => "pipe_io_eintr_cancel_and_epipe",
    close_ends_a_blocked_pipe_read_and_write => "close_wakes_a_blocked_pipe_reader",
    read_acts_on_what_the_fd_number_names_now_after_dup2_and_close => "read_acts_on_what_the_fd_number_names_now",
    lockf_f_lock_blocks_only_the_ult_and_is_a_cancellation_point => "lockf_blocks_only_the_ult",
    fcntl_passes_no_argument_an_int_or_a_pointer_as_the_command_takes => "fcntl_commands_through_the_header",
}

/// Writers of records of up to `PIPE_BUF` bytes, waiting for room in one
/// pipe, never interleave within a record, on one LWP and on two.
#[test]
fn pipe_writes_of_up_to_pipe_buf_bytes_are_atomic_on_one_and_two_lwps() {
    passes_on_lwps("pipe_writes_up_to_pipe_buf_are_atomic", &["1", "2"]);
}

#[test]
fn pthread_exit_in_main_waits_for_the_threads_then_exits_zero() {
    let out = passes("exit_from_main");
    assert_eq!(out, "worker 1 done\nworker 2 done\natexit ran\n");
}

#[test]
fn the_static_library_links_and_runs() {
    assert_eq!(passes_linked("static_link", true), "static ok\n");
}

#[test]
fn producer_consumer_example_checks_itself() {
    let exe = compile_file(&crate_dir().join("examples/c/producer_consumer.c"), false);
    let out = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .args(["6", "5", "3000"])
        .output()
        .expect("run the example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("18000 items"));
}

/// The echo server's self-check on one LWP: if a socket read blocked the
/// LWP instead of the ULT, the first client's read would stop everything
/// (the server thread could never run) and the watchdog would fail it.
#[test]
fn echo_server_example_checks_itself_on_one_lwp() {
    let exe = compile_file(&crate_dir().join("examples/c/echo_server.c"), false);
    let out = run_cmd(
        Command::new(&exe)
            .env("WEAVE_LWPS", "1")
            .args(["check", "50", "200"]),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "50 clients, 10000 of 10000 messages echoed\n"
    );
}

#[test]
fn pthread_exit_in_a_fork_child_waits_only_for_the_childs_threads() {
    let out = passes("fork_then_exit_from_main");
    assert_eq!(out, "child thread done\nparent done\n");
}

// Signals: masks, pthread_kill/sigqueue/raise, sigwait, sigaction handlers
// as weave's immediate handlers, sem_wait's EINTR.
c_tests! {
    sigmask_is_per_thread_inherited_and_checks_how => "sig_mask_per_thread",
    pthread_kill_runs_the_handler_on_the_target_thread => "sig_kill_runs_handler_on_target",
    pthread_kill_is_esrch_for_a_joined_thread_and_einval_for_a_bad_signal => "sig_kill_errors",
    pthread_kill_stays_pending_until_the_target_unblocks_it => "sig_kill_pending_until_unblocked",
    pthread_sigqueue_realtime_signals_arrive_in_order_with_values => "sig_sigqueue_realtime_in_order",
    sigwait_takes_a_directed_and_a_process_signal => "sig_sigwait_takes_directed_and_process_signals",
    sigwait_on_the_main_os_thread_takes_signals_pending_before_and_sent_during_it => "sig_sigwait_on_the_main_thread",
    sigtimedwait_times_out_with_eagain_or_takes_the_signal => "sig_sigtimedwait",
    sigsuspend_and_pause_wait_only_the_ult_until_a_handler_ran => "sig_sigsuspend_and_pause",
    sigaction_applies_sa_mask_and_nodefer_reports_oact_and_refuses_sigkill => "sig_sigaction_mask_flags_and_errors",
    sigaction_resethand_runs_once_then_default => "sig_sigaction_resethand",
    sa_siginfo_handler_gets_the_sigqueue_fields => "sig_siginfo_of_sigqueue",
    process_signal_goes_to_the_one_thread_that_unblocks_it => "sig_process_signal_goes_to_the_unblocking_thread",
    sem_wait_fails_with_eintr_after_a_handler => "sig_sem_wait_eintr",
    sa_restart_decides_whether_an_interrupted_system_call_fails_with_eintr => "sig_restart_flag_on_system_calls",
    sa_restart_decides_whether_a_threads_socket_call_fails_with_eintr => "sig_restart_flag_on_socket_calls",
    a_handler_interrupts_sleeps_and_sem_wait_on_a_ult_and_on_main => "sig_interrupts_sleeps_and_main_thread_waits",
    signal_returns_the_old_handler_and_raise_runs_it_before_returning => "sig_signal_and_raise",
    segv_handler_runs_on_the_faulting_thread_and_the_access_is_retried => "sig_segv_handler_on_faulting_thread",
}

// Signals and sleeps against their POSIX pages: cancellation points,
// EINTR, SIGCHLD's flags, sigpending, delivery to the sending thread.
c_tests! {
    sigwait_sigwaitinfo_and_sigtimedwait_are_cancellation_points => "sig_sigwait_calls_are_cancellation_points",
    sigwaitinfo_and_sigtimedwait_fail_with_eintr_after_a_handler_and_sigwait_goes_on => "sig_sigwaitinfo_fails_with_eintr_sigwait_does_not",
    clock_nanosleep_ignores_other_flags_and_refuses_negative_times => "clock_nanosleep_flags_and_negative_times",
    sigchld_handler_honours_sa_nocldstop_and_sa_nocldwait => "sig_sigchld_nocldwait_and_nocldstop",
    sigpending_reports_the_threads_and_the_process_blocked_signals => "sig_sigpending_thread_and_process",
    kill_and_sigqueue_to_self_run_the_handler_before_returning => "sig_kill_to_self_runs_the_handler_before_returning",
    sem_wait_goes_on_after_an_sa_restart_handler_and_fails_without => "sig_sem_wait_restarts_with_sa_restart",
    realtime_signals_to_the_process_queue_and_come_lowest_first_in_send_order => "sig_process_realtime_queued_lowest_first",
    kill_to_self_with_the_signal_blocked_leaves_it_pending_when_kill_returns => "sig_kill_to_self_blocked_is_pending_when_kill_returns",
    sa_onstack_segv_handler_runs_on_the_threads_alternate_stack_after_an_overflow => "sig_altstack_segv_handler_after_stack_overflow",
}

// The signal semantics of sigaction's flags, alarm, abort and the jumps
// out of handlers, each checked against POSIX on a ULT and on main.
c_tests! {
    sa_siginfo_handlers_get_the_code_pid_uid_and_value_of_each_sender => "sig_siginfo_fields_of_each_sender",
    nodefer_lets_a_signal_interrupt_its_handler_and_resethand_makes_the_second_one_fatal => "sig_nodefer_and_resethand",
    sa_mask_signals_wait_until_the_handler_returns => "sig_sa_mask_held_while_the_handler_runs",
    abort_on_a_thread_runs_its_sigabrt_handler_then_ends_the_process => "sig_abort_on_a_thread_runs_the_handler_then_ends",
    alarm_ends_a_threads_sleep_sem_wait_and_read_and_cond_wait_goes_on => "sig_alarm_interrupts_a_threads_waits",
    siglongjmp_out_of_a_handler_restores_the_threads_own_mask => "sig_siglongjmp_restores_the_threads_mask",
    siglongjmp_out_of_handlers_loses_no_queued_signal_and_keeps_no_memory => "sig_siglongjmp_out_of_handlers_keeps_nothing",
    raise_on_a_thread_runs_the_handler_there_before_returning => "sig_raise_on_a_thread_runs_its_handler_there_first",
    main_thread_running_a_handler_that_ended_its_wait_is_not_shown_blocked => "sig_handler_on_main_is_not_shown_blocked",
}

/// Other calls that would hand a weave thread id or a weave-initialised
/// object to glibc are refused at compile time as well.
#[test]
fn affinity_calls_are_refused_at_compile_time() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-refused");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    for (name, call) in [
        (
            "pthread_setaffinity_np",
            "pthread_setaffinity_np(pthread_self(), 0, 0)",
        ),
        (
            "pthread_getaffinity_np",
            "pthread_getaffinity_np(pthread_self(), 0, 0)",
        ),
        (
            "pthread_attr_setaffinity_np",
            "pthread_attr_setaffinity_np(0, 0, 0)",
        ),
    ] {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, format!("int main(void) {{ return {call}; }}\n"))
            .expect("write the program");
        let out = Command::new(cc())
            .args(["-std=gnu11", "-D_GNU_SOURCE", "-O1", "-c"])
            .arg("-I")
            .arg(crate_dir().join("../../include"))
            .args(["-include", "weave/pthread.h"])
            .arg(&src)
            .arg("-o")
            .arg(dir.join(format!("{name}.o")))
            .output()
            .expect("run the C compiler (is `cc` installed?)");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} compiled");
        assert!(
            err.contains(&format!("{name} is not covered by weave's C API yet")),
            "unexpected compiler output for {name}: {err}"
        );
    }
}

// The io calls' edges: close under poll/select, bad pointers, signals
// against readiness, datagrams.
c_tests! {
    close_ends_poll_and_select_with_pollnval_and_ebadf => "io_close_ends_poll_and_select",
    select_and_poll_with_bad_pointers_fail_with_efault => "io_select_bad_pointers_are_efault",
    ppoll_and_pselect_report_a_ready_fd_before_a_pending_signal => "io_ppoll_ready_fd_beats_a_pending_signal",
    recv_waitall_on_a_datagram_socket_returns_one_message => "io_recv_waitall_datagram_returns_one",
    message_queue_calls_block_only_the_ult_and_time_out => "io_mq_calls_block_only_the_ult",
}

// Cancellation points that wait in the kernel or weave's blocking pool.
c_tests! {
    cancel_wakes_the_message_queue_calls => "cancel_wakes_mq_calls",
    cancel_wakes_waitpid_and_waitid_for_one_child_without_reaping_it => "cancel_wakes_waitpid_for_one_child",
    fcntl_setlkw_is_a_cancellation_point_and_blocks_only_the_ult => "cancel_fcntl_setlkw_is_a_cancellation_point",
}

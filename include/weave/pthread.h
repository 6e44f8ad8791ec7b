/*
 * weave/pthread.h: run a pthreads program's threads on weave.
 *
 *     cc -include weave/pthread.h prog.c $(pkg-config --cflags --libs weave)
 *
 * (or #include <weave/pthread.h> before anything else). The system
 * headers are included first, so the types (pthread_mutex_t, sem_t, ...)
 * and constants are the system's and existing code compiles unchanged;
 * then the POSIX names are renamed to weave's symbols with macros. This is
 * renaming at compile time, not interposition: the C library stays
 * untouched for everything not named here, and code compiled without this
 * header keeps the system's threads.
 *
 * Covered: threads, attributes, mutexes, condition variables, rwlocks,
 * barriers, spinlocks, thread-specific data, once, unnamed semaphores,
 * named semaphores (the system's, handed on; their waits run on weave's
 * blocking pool, so only the ULT waits),
 * sleep/usleep/nanosleep/clock_nanosleep (ULT sleeps: define WEAVE_NO_SLEEP before the
 * include to keep the system's, which block the LWP), sched_yield,
 * cancellation (pthread_cancel and friends, see below), socket
 * read/write/recv/send/accept/connect, recvfrom/sendto/recvmsg/sendmsg/
 * readv/writev/accept4, poll/ppoll/select/pselect, close, the mq_* message
 * queue calls (ULT waits), fcntl, and
 * the other cancellation points of POSIX (open, fsync, waitpid, ...; define
 * WEAVE_NO_IO to keep the system's for all of these),
 * concurrency, names, sysconf(_SC_THREAD_PROCESS_SHARED) = -1,
 * pthread_getcpuclockid (the main thread's and bound threads' kernel clocks;
 * ENOENT for a ULT that shares LWPs, and sysconf(_SC_THREAD_CPUTIME) = -1), and
 * signals (below).
 *
 * Signals: pthread_sigmask and sigprocmask change the calling thread's
 * mask (a ULT's is kept by weave: no system call); pthread_kill,
 * pthread_sigqueue and raise send to a ULT (pending while it blocks the
 * signal, delivered when it unblocks it or is next switched in; ESRCH for
 * a stale id); kill and sigqueue to the program's own pid route a handled
 * signal before they return (held pending for the process when every
 * thread blocks it: in sigpending at once, real-time ones delivered lowest
 * number first, each in the order sent); sigaltstack gives a ULT an
 * alternate stack of its own, where a synchronous signal's SA_ONSTACK
 * handler runs (a stack overflow's SIGSEGV too); sigsetjmp and siglongjmp
 * save and restore the thread's own mask (a jump out of a handler lets
 * its signal and sa_mask in again); sigwait, sigwaitinfo and sigtimedwait block only the ULT; sigaction and
 * signal install the C handler as weave's immediate handler: it runs in
 * signal context on the stack of the thread that takes the signal, with
 * sa_mask and the signal blocked in that thread's mask (SA_SIGINFO,
 * SA_RESETHAND, SA_NODEFER honoured, and SA_RESTART for the system's
 * calls, the socket calls and sem_wait: without it one that a handler
 * interrupts fails with EINTR, as without weave; weave's other waits
 * restart after a handler as with SA_RESTART, except sem_timedwait, the
 * sleeps, sigwaitinfo and sigtimedwait, which fail with EINTR, nanosleep
 * and clock_nanosleep with the time left, sleep returning the seconds
 * left; SA_NOCLDSTOP and SA_NOCLDWAIT for SIGCHLD). sigpending reports a
 * thread's own pending signals and the process's. Synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL)
 * go to the faulting thread's handler. Handlers must be async-signal-safe,
 * and weave's own calls are not (sem_post included): set a volatile
 * sig_atomic_t or write() to a pipe instead. sigsuspend and pause wait
 * only the ULT, until a handler has run on it. sigwait, sigwaitinfo,
 * sigtimedwait, sigsuspend and pause are cancellation points. Reserved:
 * signals 32 and 33 (glibc's).
 *
 * Not covered (see README, "From C"): process-shared objects (ENOTSUP;
 * _POSIX_THREAD_PROCESS_SHARED is -1 here), pthread_atfork and fork (the system's).
 * A stack of the program's (pthread_attr_setstack, setstackaddr) runs the
 * thread, with no guard page of weave's. pthread_cleanup_push/pop are weave's macros: handlers
 * run when popped with a non-zero argument, on pthread_exit and on
 * cancellation. Regular files, FIFOs opened by name and terminals: their
 * read/write block the LWP (pipes and eventfds block only the ULT); use
 * weave_blocking() or a bound thread (PTHREAD_SCOPE_SYSTEM).
 */
#ifndef WEAVE_PTHREAD_H
#define WEAVE_PTHREAD_H

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>

#include <weave.h>

/* Threads */
#define pthread_create weave_pthread_create
#define pthread_exit weave_pthread_exit
#define pthread_join weave_pthread_join
#define pthread_tryjoin_np weave_pthread_tryjoin_np
#define pthread_timedjoin_np weave_pthread_timedjoin_np
#define pthread_clockjoin_np weave_pthread_clockjoin_np
#define pthread_detach weave_pthread_detach
#define pthread_self weave_pthread_self
#define pthread_equal weave_pthread_equal
#define pthread_once weave_pthread_once
#define pthread_yield weave_sched_yield
#define sched_yield weave_sched_yield
#define pthread_setconcurrency weave_pthread_setconcurrency
#define pthread_getconcurrency weave_pthread_getconcurrency
#define pthread_getattr_np weave_pthread_getattr_np
#define pthread_setname_np weave_pthread_setname_np
#define pthread_getname_np weave_pthread_getname_np
#define pthread_setschedparam weave_pthread_setschedparam
#define pthread_getschedparam weave_pthread_getschedparam
#define pthread_getcpuclockid weave_pthread_getcpuclockid
#define pthread_setschedprio weave_pthread_setschedprio

/* Thread attributes */
#define pthread_attr_init weave_pthread_attr_init
#define pthread_attr_destroy weave_pthread_attr_destroy
#define pthread_attr_setdetachstate weave_pthread_attr_setdetachstate
#define pthread_attr_getdetachstate weave_pthread_attr_getdetachstate
#define pthread_attr_setstacksize weave_pthread_attr_setstacksize
#define pthread_attr_getstacksize weave_pthread_attr_getstacksize
#define pthread_attr_setstack weave_pthread_attr_setstack
#define pthread_attr_getstack weave_pthread_attr_getstack
#define pthread_attr_setstackaddr weave_pthread_attr_setstackaddr
#define pthread_attr_getstackaddr weave_pthread_attr_getstackaddr
#define pthread_attr_setguardsize weave_pthread_attr_setguardsize
#define pthread_attr_getguardsize weave_pthread_attr_getguardsize
#define pthread_attr_setscope weave_pthread_attr_setscope
#define pthread_attr_getscope weave_pthread_attr_getscope
#define pthread_attr_setinheritsched weave_pthread_attr_setinheritsched
#define pthread_attr_getinheritsched weave_pthread_attr_getinheritsched
#define pthread_attr_setschedpolicy weave_pthread_attr_setschedpolicy
#define pthread_attr_getschedpolicy weave_pthread_attr_getschedpolicy
#define pthread_attr_setschedparam weave_pthread_attr_setschedparam
#define pthread_attr_getschedparam weave_pthread_attr_getschedparam

/* Mutexes */
#define pthread_mutex_init weave_pthread_mutex_init
#define pthread_mutex_destroy weave_pthread_mutex_destroy
#define pthread_mutex_lock weave_pthread_mutex_lock
#define pthread_mutex_trylock weave_pthread_mutex_trylock
#define pthread_mutex_timedlock weave_pthread_mutex_timedlock
#define pthread_mutex_clocklock weave_pthread_mutex_clocklock
#define pthread_mutex_unlock weave_pthread_mutex_unlock
#define pthread_mutex_getprioceiling weave_pthread_mutex_getprioceiling
#define pthread_mutex_setprioceiling weave_pthread_mutex_setprioceiling
#define pthread_mutex_consistent weave_pthread_mutex_consistent
#define pthread_mutexattr_init weave_pthread_mutexattr_init
#define pthread_mutexattr_destroy weave_pthread_mutexattr_destroy
#define pthread_mutexattr_settype weave_pthread_mutexattr_settype
#define pthread_mutexattr_gettype weave_pthread_mutexattr_gettype
#define pthread_mutexattr_setprotocol weave_pthread_mutexattr_setprotocol
#define pthread_mutexattr_getprotocol weave_pthread_mutexattr_getprotocol
#define pthread_mutexattr_setprioceiling weave_pthread_mutexattr_setprioceiling
#define pthread_mutexattr_getprioceiling weave_pthread_mutexattr_getprioceiling
#define pthread_mutexattr_setpshared weave_pthread_mutexattr_setpshared
#define pthread_mutexattr_getpshared weave_pthread_mutexattr_getpshared
#define pthread_mutexattr_setrobust weave_pthread_mutexattr_setrobust
#define pthread_mutexattr_getrobust weave_pthread_mutexattr_getrobust

/* Condition variables */
#define pthread_cond_init weave_pthread_cond_init
#define pthread_cond_destroy weave_pthread_cond_destroy
#define pthread_cond_wait weave_pthread_cond_wait
#define pthread_cond_timedwait weave_pthread_cond_timedwait
#define pthread_cond_clockwait weave_pthread_cond_clockwait
#define pthread_cond_signal weave_pthread_cond_signal
#define pthread_cond_broadcast weave_pthread_cond_broadcast
#define pthread_condattr_init weave_pthread_condattr_init
#define pthread_condattr_destroy weave_pthread_condattr_destroy
#define pthread_condattr_setclock weave_pthread_condattr_setclock
#define pthread_condattr_getclock weave_pthread_condattr_getclock
#define pthread_condattr_setpshared weave_pthread_condattr_setpshared
#define pthread_condattr_getpshared weave_pthread_condattr_getpshared

/* Read-write locks */
#define pthread_rwlock_init weave_pthread_rwlock_init
#define pthread_rwlock_destroy weave_pthread_rwlock_destroy
#define pthread_rwlock_rdlock weave_pthread_rwlock_rdlock
#define pthread_rwlock_tryrdlock weave_pthread_rwlock_tryrdlock
#define pthread_rwlock_timedrdlock weave_pthread_rwlock_timedrdlock
#define pthread_rwlock_clockrdlock weave_pthread_rwlock_clockrdlock
#define pthread_rwlock_wrlock weave_pthread_rwlock_wrlock
#define pthread_rwlock_trywrlock weave_pthread_rwlock_trywrlock
#define pthread_rwlock_timedwrlock weave_pthread_rwlock_timedwrlock
#define pthread_rwlock_clockwrlock weave_pthread_rwlock_clockwrlock
#define pthread_rwlock_unlock weave_pthread_rwlock_unlock
#define pthread_rwlockattr_init weave_pthread_rwlockattr_init
#define pthread_rwlockattr_destroy weave_pthread_rwlockattr_destroy
#define pthread_rwlockattr_setpshared weave_pthread_rwlockattr_setpshared
#define pthread_rwlockattr_getpshared weave_pthread_rwlockattr_getpshared

/* Barriers */
#define pthread_barrier_init weave_pthread_barrier_init
#define pthread_barrier_destroy weave_pthread_barrier_destroy
#define pthread_barrier_wait weave_pthread_barrier_wait
#define pthread_barrierattr_init weave_pthread_barrierattr_init
#define pthread_barrierattr_destroy weave_pthread_barrierattr_destroy
#define pthread_barrierattr_setpshared weave_pthread_barrierattr_setpshared
#define pthread_barrierattr_getpshared weave_pthread_barrierattr_getpshared

/* Spinlocks */
#define pthread_spin_init weave_pthread_spin_init
#define pthread_spin_destroy weave_pthread_spin_destroy
#define pthread_spin_lock weave_pthread_spin_lock
#define pthread_spin_trylock weave_pthread_spin_trylock
#define pthread_spin_unlock weave_pthread_spin_unlock

/* Thread-specific data */
#define pthread_key_create weave_pthread_key_create
#define pthread_key_delete weave_pthread_key_delete
#define pthread_getspecific weave_pthread_getspecific
#define pthread_setspecific weave_pthread_setspecific

/* Unnamed semaphores */
#define sem_init weave_sem_init
#define sem_destroy weave_sem_destroy
#define sem_wait weave_sem_wait
#define sem_trywait weave_sem_trywait
#define sem_timedwait weave_sem_timedwait
#define sem_clockwait weave_sem_clockwait
#define sem_post weave_sem_post
#define sem_getvalue weave_sem_getvalue
/* Named semaphores are the system's: sem_open's result is recorded so
 * that the calls above hand it on (a wait runs on weave's blocking pool:
 * only the ULT waits; a cancellation request is acted on within 50 ms). */
#define sem_open(...) weave_sem_opened(sem_open(__VA_ARGS__))
#define sem_close weave_sem_close

/* Sleeps block the ULT, not the LWP */
#ifndef WEAVE_NO_SLEEP
#define sleep weave_sleep
#define usleep weave_usleep
#define nanosleep weave_nanosleep
#define clock_nanosleep weave_clock_nanosleep
#endif

#define sysconf weave_sysconf

/* The options weave's objects do not have, as sysconf answers: -1, not
 * supported (process-shared objects; the priority protocols, robust
 * mutexes with one included: weave stores a mutex's protocol and ceiling
 * and returns them, but boosts no holder). */
#undef _POSIX_THREAD_PROCESS_SHARED
#define _POSIX_THREAD_PROCESS_SHARED -1
#undef _POSIX_THREAD_PRIO_INHERIT
#define _POSIX_THREAD_PRIO_INHERIT -1
#undef _POSIX_THREAD_PRIO_PROTECT
#define _POSIX_THREAD_PRIO_PROTECT -1
#undef _POSIX_THREAD_ROBUST_PRIO_INHERIT
#define _POSIX_THREAD_ROBUST_PRIO_INHERIT -1
#undef _POSIX_THREAD_ROBUST_PRIO_PROTECT
#define _POSIX_THREAD_ROBUST_PRIO_PROTECT -1

/* Sockets block the ULT, not the LWP: read, write, recv, send, accept and
 * connect on a socket in blocking mode wait in weave's reactor (the
 * socket's SO_RCVTIMEO/SO_SNDTIMEO still apply; a non-blocking socket
 * still gets EAGAIN). read, write, readv and writev on a pipe (pipe(2)),
 * an eventfd's read, a timerfd, and the other files Linux will try without
 * blocking (RWF_NOWAIT) wait the same way, with the file left in blocking
 * mode; a pipe write of up to PIPE_BUF bytes stays whole. On regular
 * files, on what Linux will not try so (a FIFO opened by name, a
 * terminal, an eventfd's write), and on a plain OS thread, they are the
 * system's calls. Function-like, so that a struct
 * member or a function pointer named `read` is left alone. Define
 * WEAVE_NO_IO before the include to keep the system's calls, which block
 * the LWP. */
#ifndef WEAVE_NO_IO
#define read(fd, buf, n) weave_read(fd, buf, n)
#define write(fd, buf, n) weave_write(fd, buf, n)
#define recv(fd, buf, n, flags) weave_recv(fd, buf, n, flags)
#define send(fd, buf, n, flags) weave_send(fd, buf, n, flags)
#define accept(fd, addr, len) weave_accept(fd, addr, len)
#define connect(fd, addr, len) weave_connect(fd, addr, len)
/* recvfrom, sendto, recvmsg, sendmsg, readv, writev and accept4 wait as
 * the calls above on a socket in blocking mode (MSG_DONTWAIT and a
 * non-blocking socket keep their EAGAIN; a stream send writes everything
 * unless an error, timeout or signal stops it after part). readv and
 * writev on what is not a socket are as read and write above. */
#define recvfrom(fd, buf, n, flags, addr, len) weave_recvfrom(fd, buf, n, flags, addr, len)
#define sendto(fd, buf, n, flags, addr, len) weave_sendto(fd, buf, n, flags, addr, len)
#define recvmsg(fd, msg, flags) weave_recvmsg(fd, msg, flags)
#define sendmsg(fd, msg, flags) weave_sendmsg(fd, msg, flags)
#define readv(fd, iov, n) weave_readv(fd, iov, n)
#define writev(fd, iov, n) weave_writev(fd, iov, n)
#define accept4(fd, addr, len, flags) weave_accept4(fd, addr, len, flags)
/* poll, ppoll, select and pselect on a ULT with a timeout other than 0
 * wait in weave's reactor on all their fds (of any kind: pipes and
 * terminals too; a regular file is always ready), blocking only the ULT;
 * the revents and fd sets are the system's answer. A signal handler that
 * runs on the thread ends them with EINTR unless an fd is ready by then
 * (the count wins, as on Linux); ppoll's and pselect's mask is the ULT's
 * own for the call (a ready fd is reported before a pending signal it
 * lets in, which stays pending). select writes the time left into its
 * timeout. Bad pointers are EFAULT, never a crash. On a plain OS thread,
 * or with a zero timeout, the system's. */
#define poll(fds, n, timeout) weave_poll(fds, n, timeout)
#define ppoll(fds, n, timeout, mask) weave_ppoll(fds, n, timeout, mask)
#define select(n, r, w, e, timeout) weave_select(n, r, w, e, timeout)
#define pselect(n, r, w, e, timeout, mask) weave_pselect(n, r, w, e, timeout, mask)
/* close: a cancellation point; a thread blocked in one of the calls above
 * on the fd being closed returns at once: EBADF, or for poll and ppoll
 * POLLNVAL in that fd's revents (threads blocked on a dup of it wait on;
 * Linux would keep them all waiting), and the fd number is safe to reuse
 * at once. recv's MSG_WAITALL fills the buffer on a stream socket only
 * (one message on others). */
#define close(fd) weave_close(fd)
/* POSIX message queues: mq_receive, mq_timedreceive, mq_send and
 * mq_timedsend on a queue in blocking mode block only the ULT (weave
 * waits for the queue's descriptor in its reactor); cancellation points
 * whose wait a request ends. */
#define mq_receive(q, msg, len, prio) weave_mq_receive(q, msg, len, prio)
#define mq_timedreceive(q, msg, len, prio, t) weave_mq_timedreceive(q, msg, len, prio, t)
#define mq_send(q, msg, len, prio) weave_mq_send(q, msg, len, prio)
#define mq_timedsend(q, msg, len, prio, t) weave_mq_timedsend(q, msg, len, prio, t)
/* fcntl: F_SETLKW and F_OFD_SETLKW are cancellation points that act on a
 * pending request and wait on weave's blocking pool (only the ULT waits;
 * a request made meanwhile is acted on when the wait ends without the
 * lock); other commands are the system's. The third argument, an int
 * (F_SETFL, F_DUPFD, ...), a pointer (F_GETLK, ...) or none (F_GETFL), is
 * passed as an unsigned long (0 when absent), which the system's fcntl
 * reads back as the type its command takes. */
#define WEAVE_FCNTL_(fd, cmd, arg, ...) weave_fcntl(fd, cmd, (unsigned long)(arg))
#define fcntl(...) WEAVE_FCNTL_(__VA_ARGS__, 0, 0)
/* Cancellation points that weave does not wait in: a request pending at
 * the call is acted on, then the system's call (which blocks the LWP if
 * it blocks; a request that comes meanwhile is acted on at the next
 * point), except waitpid for one child (pid > 0) and waitid(P_PID) for
 * its exit: those wait only the ULT, for the child's pidfd, and a
 * request ends that wait. open and openat take their optional mode as
 * the system's do. */
#define WEAVE_OPEN_(path, flags, mode, ...) weave_open(path, flags, mode)
#define open(...) WEAVE_OPEN_(__VA_ARGS__, 0, 0)
#define WEAVE_OPENAT_(dir, path, flags, mode, ...) weave_openat(dir, path, flags, mode)
#define openat(...) WEAVE_OPENAT_(__VA_ARGS__, 0, 0)
#define creat(path, mode) weave_creat(path, mode)
#define fsync(fd) weave_fsync(fd)
#define fdatasync(fd) weave_fdatasync(fd)
#define msync(addr, len, flags) weave_msync(addr, len, flags)
#define wait(status) weave_wait(status)
#define waitpid(pid, status, options) weave_waitpid(pid, status, options)
#define waitid(idtype, id, info, options) weave_waitid(idtype, id, info, options)
#define tcdrain(fd) weave_tcdrain(fd)
/* lockf's F_LOCK waits on weave's blocking pool, as fcntl's F_SETLKW. */
#define lockf(fd, cmd, len) weave_lockf(fd, cmd, len)
#define pread(fd, buf, n, offset) weave_pread(fd, buf, n, offset)
#define pwrite(fd, buf, n, offset) weave_pwrite(fd, buf, n, offset)
#define msgrcv(id, msg, size, type, flags) weave_msgrcv(id, msg, size, type, flags)
#define msgsnd(id, msg, size, flags) weave_msgsnd(id, msg, size, flags)
#endif

/* Cancellation: deferred, acted on at pthread_testcancel and at the
 * cancellation points weave implements (pthread_join and the timed joins,
 * pthread_cond_wait, timedwait and clockwait, sem_wait, timedwait and
 * clockwait, sleep, usleep, nanosleep, clock_nanosleep, sigsuspend, pause,
 * sigwait, sigwaitinfo, sigtimedwait, the socket and pipe calls and poll, ppoll,
 * select and pselect above, the mq_* calls, waitpid and waitid for one
 * child's exit); a request pending when one is called is acted on even
 * if it would not wait, and a thread blocked in one is woken by
 * pthread_cancel. fcntl with F_SETLKW or F_OFD_SETLKW acts on a pending
 * request, and on one made during its wait when the wait ends without
 * the lock; so does lockf with F_LOCK. open, openat, creat, fsync, fdatasync, msync, wait, waitpid
 * and waitid otherwise, tcdrain, lockf other than F_LOCK, pread, pwrite,
 * msgrcv, msgsnd, and read/write/readv/writev on regular files and
 * terminals act on a request pending when
 * they are called, then block the LWP as the system's calls do (a request
 * that comes meanwhile waits for the next point: nothing can end those
 * waits early). The calls that may be points, such as printf, are the
 * system's calls, which do not act on weave's requests.
 * With PTHREAD_CANCEL_ASYNCHRONOUS (and cancellation enabled), a request
 * stops the thread wherever it is in its own code, a loop that calls
 * nothing included (weave interrupts its LWP with the C library's own
 * cancellation signal); inside pthread_cancel, pthread_setcancelstate,
 * pthread_setcanceltype, pthread_testcancel, sched_yield, pthread_yield
 * and the cleanup push/pop it acts as the call returns. Other calls are
 * not async-cancel-safe (POSIX): not guarded. A plain OS thread (main)
 * acts at its next cancellation point. Acting on a request runs the
 * cleanup handlers, then the key destructors; a join gets
 * PTHREAD_CANCELED. */
#define pthread_cancel weave_pthread_cancel
#define pthread_setcancelstate weave_pthread_setcancelstate
#define pthread_setcanceltype weave_pthread_setcanceltype
#define pthread_testcancel weave_pthread_testcancel

/* Signals: per-ULT masks, signals to ULTs, C handlers as weave's
 * immediate handlers (see the header comment). */
#define pthread_sigmask weave_pthread_sigmask
#define sigprocmask weave_sigprocmask
#define sigpending weave_sigpending
#define pthread_kill weave_pthread_kill
#define pthread_sigqueue weave_pthread_sigqueue
#define raise(sig) weave_raise(sig)
#define kill(pid, sig) weave_kill((pid), (sig))
#define sigqueue(pid, sig, value) weave_sigqueue((pid), (sig), (value))
#define sigaltstack weave_sigaltstack
#define sigwait weave_sigwait
#define sigwaitinfo weave_sigwaitinfo
#define sigtimedwait weave_sigtimedwait
#define sigsuspend weave_sigsuspend
#define pause() weave_pause()
#define sigaction(sig, act, oact) weave_sigaction((sig), (act), (oact))
#define signal(sig, handler) weave_signal((sig), (handler))

/* sigsetjmp saves the calling thread's own mask (a ULT's is weave's, which
 * the C library's cannot see) and siglongjmp restores it; a jump out of a
 * handler also puts back what the handler's return would have (the
 * signal and its sa_mask open again). The C library's __sigsetjmp, which
 * returns twice, is still called in the program's frame, saving no mask. */
#undef sigsetjmp
#define sigsetjmp(env, savemask)                                             \
    (weave_sigsetjmp_prepare((env), (savemask)), __sigsetjmp((env), 0))
#define siglongjmp weave_siglongjmp

/* Cleanup handlers: weave's records, which pthread_exit runs. The record
 * lives in the block that the pair opens and closes (POSIX: push and pop
 * in the same lexical scope). */
#undef pthread_cleanup_push
#undef pthread_cleanup_pop
#define pthread_cleanup_push(routine, arg)                                   \
    do {                                                                     \
        weave_cleanup_record weave__cleanup;                                 \
        weave_cleanup_push(&weave__cleanup, (routine), (arg));               \
        {
#define pthread_cleanup_pop(execute)                                         \
        }                                                                    \
        weave_cleanup_pop(&weave__cleanup, (execute));                       \
    } while (0)

/* GNU extensions: the default attributes of a create with a null attr,
 * the signal mask a new thread starts with, and the read-write lock kind
 * (glibc's: PREFER_READER_NP, the default, and PREFER_WRITER_NP let
 * readers in while a writer waits; PREFER_WRITER_NONRECURSIVE_NP does not). */
#define pthread_getattr_default_np weave_pthread_getattr_default_np
#define pthread_setattr_default_np weave_pthread_setattr_default_np
#define pthread_attr_setsigmask_np weave_pthread_attr_setsigmask_np
#define pthread_attr_getsigmask_np weave_pthread_attr_getsigmask_np
#define pthread_rwlockattr_setkind_np weave_pthread_rwlockattr_setkind_np
#define pthread_rwlockattr_getkind_np weave_pthread_rwlockattr_getkind_np

/* Calls that would hand a weave thread id or a weave-initialised object
 * to the system's threads library: refused at compile time until weave
 * covers them. */
#define WEAVE__UNCOVERED(name)                                               \
    __attribute__((error(#name " is not covered by weave's C API yet "      \
                         "(see README, From C)")))
int weave_uncovered_pthread_setaffinity_np(pthread_t, size_t, const cpu_set_t *)
    WEAVE__UNCOVERED(pthread_setaffinity_np);
int weave_uncovered_pthread_getaffinity_np(pthread_t, size_t, cpu_set_t *)
    WEAVE__UNCOVERED(pthread_getaffinity_np);
int weave_uncovered_pthread_attr_setaffinity_np(pthread_attr_t *, size_t, const cpu_set_t *)
    WEAVE__UNCOVERED(pthread_attr_setaffinity_np);
int weave_uncovered_pthread_attr_getaffinity_np(const pthread_attr_t *, size_t, cpu_set_t *)
    WEAVE__UNCOVERED(pthread_attr_getaffinity_np);
#define pthread_setaffinity_np weave_uncovered_pthread_setaffinity_np
#define pthread_getaffinity_np weave_uncovered_pthread_getaffinity_np
#define pthread_attr_setaffinity_np weave_uncovered_pthread_attr_setaffinity_np
#define pthread_attr_getaffinity_np weave_uncovered_pthread_attr_getaffinity_np

#endif /* WEAVE_PTHREAD_H */

/* sigsetjmp/siglongjmp (POSIX): "if savemask is non-zero, sigsetjmp()
 * shall also save the current signal mask of the calling thread as part
 * of the calling environment", and siglongjmp "shall restore the saved
 * signal mask". A handler leaves by siglongjmp: afterwards the thread's
 * mask, as pthread_sigmask reads it, is the one saved at sigsetjmp (a
 * signal blocked since is open again, one open since is blocked again),
 * and the signals the handler's sa_mask and the signal itself blocked
 * only while it ran are deliverable again (their handlers run before
 * raise, kill, a tgkill to the thread's kernel thread or the unblocking
 * pthread_sigmask returns). With savemask 0
 * the mask is left as the handler had it. The environment is used twice,
 * on the main thread and on a created thread (main blocks the signals
 * then). The handler runs once for raise, once for a signal the kernel
 * delivers (tgkill to the thread's kernel thread), which weave runs in
 * signal context. */
#include "check.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>

static sigjmp_buf env;
static volatile sig_atomic_t usr1_runs, hup_runs, alrm_runs;

static void on_usr1(int sig) {
    (void)sig;
    usr1_runs++;
    siglongjmp(env, usr1_runs);
}

static void on_hup(int sig) {
    (void)sig;
    hup_runs++;
}

static void on_alrm(int sig) {
    (void)sig;
    alrm_runs++;
}

static sigset_t mask_now(void) {
    sigset_t cur;
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return cur;
}

static void block(int sig, int how) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    EQ(pthread_sigmask(how, &s, NULL), 0);
}

static void jumps_back(void) {
    usr1_runs = hup_runs = alrm_runs = 0;
    /* Saved: SIGALRM blocked, SIGUSR2 open. */
    block(SIGALRM, SIG_BLOCK);
    block(SIGUSR2, SIG_UNBLOCK);
    volatile int rounds = 0;
    int r = sigsetjmp(env, 1);
    sigset_t cur = mask_now();
    CHECK(sigismember(&cur, SIGALRM));
    CHECK(!sigismember(&cur, SIGUSR2));
    CHECK(!sigismember(&cur, SIGUSR1));
    CHECK(!sigismember(&cur, SIGHUP));
    EQ(r, rounds);
    if (rounds < 2) {
        rounds++;
        /* Changed before the jump: undone by it. */
        block(SIGALRM, SIG_UNBLOCK);
        block(SIGUSR2, SIG_BLOCK);
        /* Once raised, once sent by the kernel to the kernel thread
         * that runs this thread (a handler in signal context). */
        if (rounds == 1) EQ(raise(SIGUSR1), 0);
        else EQ(syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1), 0);
        CHECK(0); /* the handler does not return */
    }
    EQ(usr1_runs, 2);
    /* SIGHUP, blocked only while the handler ran, is open: its handler
     * runs before raise and kill return. */
    EQ(raise(SIGHUP), 0);
    EQ(hup_runs, 1);
    EQ(kill(getpid(), SIGHUP), 0);
    EQ(hup_runs, 2);
    /* Also when the kernel delivers it to the kernel thread that runs
     * this thread (the kernel's mask there is open again too). */
    EQ(syscall(SYS_tgkill, getpid(), gettid(), SIGHUP), 0);
    EQ(hup_runs, 3);
    /* SIGALRM is blocked as it was at sigsetjmp: pending until unblocked. */
    EQ(raise(SIGALRM), 0);
    EQ(alrm_runs, 0);
    block(SIGALRM, SIG_UNBLOCK);
    EQ(alrm_runs, 1);

    /* savemask 0: the mask stays as the handler left it (SIGUSR1 and
     * SIGHUP blocked), glibc's and Linux's behaviour for siglongjmp to an
     * environment that saved no mask. */
    if (sigsetjmp(env, 0) == 0) {
        EQ(raise(SIGUSR1), 0);
        CHECK(0);
    }
    cur = mask_now();
    CHECK(sigismember(&cur, SIGUSR1));
    CHECK(sigismember(&cur, SIGHUP));
    block(SIGUSR1, SIG_UNBLOCK);
    block(SIGHUP, SIG_UNBLOCK);
}

static void *thread(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    EQ(pthread_sigmask(SIG_SETMASK, &s, NULL), 0);
    jumps_back();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaddset(&sa.sa_mask, SIGHUP);
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_hup;
    EQ(sigaction(SIGHUP, &sa, NULL), 0);
    sa.sa_handler = on_alrm;
    EQ(sigaction(SIGALRM, &sa, NULL), 0);

    jumps_back();

    sigset_t all;
    sigfillset(&all);
    EQ(pthread_sigmask(SIG_SETMASK, &all, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, thread, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

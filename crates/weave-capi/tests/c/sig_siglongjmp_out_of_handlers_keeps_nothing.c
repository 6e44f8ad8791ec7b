/* A handler that leaves by siglongjmp (POSIX: sigsetjmp/siglongjmp may be
 * used to leave a signal handler) never returns, so whatever was set up
 * to run it must be set right without its return:
 * - signals queued to the thread and not yet delivered when one handler
 *   jumps out are still delivered, each once and in the order sent
 *   (pthread_sigqueue, POSIX's sigqueue semantics for a thread: "the
 *   signal shall be queued"), one per unblocking of the signal here, as
 *   the jump restores the mask saved with it (the signal blocked);
 * - jumping out 100,000 times leaves the memory in use where it was (the
 *   C library's count of allocated bytes, which includes weave's): no
 *   record of a delivery is kept once its handler is left. Before, each
 *   jump lost one, with 48 bytes.
 * On a created thread (a ULT), to which the sends are directed. */
#include "check.h"

#include <malloc.h>
#include <setjmp.h>
#include <signal.h>

static sigjmp_buf env;
static volatile sig_atomic_t runs;
static volatile int seen[8];

static void on_rt(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if (runs < 8) seen[runs] = si->si_value.sival_int;
    runs++;
    siglongjmp(env, 1);
}

static void on_usr1(int sig) {
    (void)sig;
    runs++;
    siglongjmp(env, 1);
}

static size_t in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void *body(void *arg) {
    (void)arg;
    int sig = SIGRTMIN + 2;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);

    /* Three queued while blocked; each unblocking delivers the first
     * still queued, whose handler jumps back to a point where the signal
     * is blocked again. */
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    for (int i = 1; i <= 3; i++) {
        union sigval v = {.sival_int = i};
        EQ(pthread_sigqueue(pthread_self(), sig, v), 0);
    }
    for (volatile int round = 0; round < 3; round++) {
        if (sigsetjmp(env, 1) == 0) {
            EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
            CHECK(0); /* the handler jumps back */
        }
        EQ(runs, round + 1);
    }
    EQ(seen[0], 1);
    EQ(seen[1], 2);
    EQ(seen[2], 3);
    /* None left. */
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    EQ(runs, 3);

    /* Many jumps out of a handler run as the thread sends to itself. */
    runs = 0;
    static size_t before;
    for (volatile int i = 0; i < 100000; i++) {
        if (i == 1000) before = in_use();
        if (sigsetjmp(env, 1) == 0) {
            EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
            CHECK(0); /* the handler jumps back */
        }
    }
    EQ(runs, 100000);
    size_t after = in_use();
    /* A record lost a jump would be 99,000 x 48 bytes (4.6 MB); what
     * else the process allocates meanwhile is far below 1 MiB. */
    if (after > before + (1 << 20)) {
        fprintf(stderr, "memory in use grew by %zu bytes\n", after - before);
        exit(1);
    }
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    EQ(sigaction(SIGRTMIN + 2, &sa, NULL), 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, body, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

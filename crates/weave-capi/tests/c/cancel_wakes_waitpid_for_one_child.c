/* waitpid and waitid are cancellation points (POSIX): a thread waiting
 * in waitpid(pid) or waitid(P_PID, pid, WEXITED) for a child that runs
 * on is woken by pthread_cancel, runs its cleanup handler and ends with
 * PTHREAD_CANCELED, and the child is not reaped (a later waitpid gets
 * its status). While one thread waits for a child, the others run: with
 * one LWP, the thread that ends the child runs while another waits. */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>

static pid_t child;
static volatile int cleaned;

static void cleanup(void *arg) {
    (void)arg;
    cleaned++;
}

static void *waits(void *arg) {
    int st;
    siginfo_t si;
    pthread_cleanup_push(cleanup, NULL);
    if (arg)
        waitid(P_PID, (id_t)child, &si, WEXITED);
    else
        waitpid(child, &st, 0);
    pthread_cleanup_pop(0);
    return NULL;
}

static pid_t spawn_sleeper(void) {
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        for (;;) pause();
    }
    return p;
}

static void *reaps(void *arg) {
    (void)arg;
    int st;
    EQ(waitpid(child, &st, 0), child);
    CHECK(WIFSIGNALED(st));
    EQ(WTERMSIG(st), SIGTERM);
    return NULL;
}

static void *kills(void *arg) {
    (void)arg;
    EQ(kill(child, SIGTERM), 0);
    return NULL;
}

/* On a created thread: a waiter and the thread that ends its child share
 * the one LWP. */
static void *shares_the_lwp(void *arg) {
    (void)arg;
    child = spawn_sleeper();
    pthread_t r, k;
    EQ(pthread_create(&r, NULL, reaps, NULL), 0);
#ifdef WEAVE_PTHREAD_H
    wait_blocked_in(r, WEAVE_BLOCK_NET);
#endif
    EQ(pthread_create(&k, NULL, kills, NULL), 0);
    EQ(pthread_join(k, NULL), 0);
    EQ(pthread_join(r, NULL), 0);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    for (int which = 0; which < 2; which++) {
        child = spawn_sleeper();
        pthread_t t;
        int before = cleaned;
        EQ(pthread_create(&t, NULL, waits, (void *)(intptr_t)which), 0);
#ifdef WEAVE_PTHREAD_H
        wait_blocked_in(t, WEAVE_BLOCK_NET);
#else
        usleep(100000);
#endif
        EQ(pthread_cancel(t), 0);
        void *v;
        EQ(pthread_join(t, &v), 0);
        CHECK(v == PTHREAD_CANCELED);
        EQ(cleaned, before + 1);
        /* Not reaped: still ours to wait for. */
        int st;
        EQ(waitpid(child, &st, WNOHANG), 0);
        EQ(kill(child, SIGKILL), 0);
        EQ(waitpid(child, &st, 0), child);
        CHECK(WIFSIGNALED(st));
    }
    pthread_t t;
    EQ(pthread_create(&t, NULL, shares_the_lwp, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

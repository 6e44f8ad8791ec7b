/* A signal handler that runs on a thread waiting in poll or select ends
 * the call with EINTR, SA_RESTART or not (POSIX: EINTR "a signal was
 * caught"; these calls are never restarted). ppoll and pselect put their
 * mask in place for the call: a signal the thread blocks, sent while it
 * waits with a mask that lets it in, runs its handler and ends the call
 * with EINTR; one pending at the call does so at once; and the thread's
 * own mask is back afterwards. */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/select.h>

static int sv[2];
static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void *polls(void *arg) {
    (void)arg;
    struct pollfd p = {sv[0], POLLIN, 0};
    errno = 0;
    EQ(poll(&p, 1, -1), -1);
    EQ(errno, EINTR);
    EQ(handled, 1);
    return NULL;
}

static void *selects(void *arg) {
    (void)arg;
    fd_set r;
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    EQ(select(sv[0] + 1, &r, NULL, NULL, NULL), -1);
    EQ(errno, EINTR);
    EQ(handled, 2);
    return NULL;
}

static volatile int stage;

static void *ppolls(void *arg) {
    (void)arg;
    sigset_t usr1, open, now;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&open);
    EQ(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    struct pollfd p = {sv[0], POLLIN, 0};
    struct timespec ts = {60, 0};
    EQ(ppoll(&p, 1, &ts, &open), -1);
    EQ(errno, EINTR);
    EQ(handled, 3);
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    CHECK(sigismember(&now, SIGUSR1));

    /* Pending (blocked) when pselect is called: EINTR at once. */
    stage = 1;
    while (stage != 2) sched_yield();
    fd_set r;
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    EQ(pselect(sv[0] + 1, &r, NULL, NULL, &ts, &open), -1);
    EQ(errno, EINTR);
    EQ(handled, 4);
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    CHECK(sigismember(&now, SIGUSR1));
    return NULL;
}

int main(void) {
    EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);

    pthread_t t;
    EQ(pthread_create(&t, NULL, polls, NULL), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);

    EQ(pthread_create(&t, NULL, selects, NULL), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(pthread_kill(t, SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);

    EQ(pthread_create(&t, NULL, ppolls, NULL), 0);
    wait_blocked_in(t, WEAVE_BLOCK_NET);
    EQ(pthread_kill(t, SIGUSR1), 0);
    while (stage != 1) sched_yield();
    EQ(pthread_kill(t, SIGUSR1), 0); /* blocked: stays pending */
    stage = 2;
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

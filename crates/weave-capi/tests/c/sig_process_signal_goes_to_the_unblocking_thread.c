/* A signal sent to the process (kill) is delivered to one thread that
 * does not block it (POSIX, "Signal Generation and Delivery"), never to
 * one that blocks it: here only one of several threads unblocks it. */
#include "check.h"

static volatile sig_atomic_t ran;
static volatile pthread_t ran_on;
static volatile sig_atomic_t stop;

static void handler(int sig) {
    (void)sig;
    ran_on = pthread_self();
    ran = 1;
}

static void *blocker(void *arg) {
    (void)arg;
    while (!stop)
        sched_yield();
    return NULL;
}

static void *taker(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    while (!ran)
        sched_yield();
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    pthread_t b[4], t;
    for (int i = 0; i < 4; i++)
        EQ(pthread_create(&b[i], NULL, blocker, NULL), 0);
    EQ(pthread_create(&t, NULL, taker, NULL), 0);
    EQ(kill(getpid(), SIGUSR1), 0);
    EQ(pthread_join(t, NULL), 0);
    stop = 1;
    for (int i = 0; i < 4; i++)
        EQ(pthread_join(b[i], NULL), 0);
    CHECK(pthread_equal(ran_on, t));
    return 0;
}

/* sigsuspend and pause (POSIX): the thread waits with the given mask (its
 * own, for pause) until a signal-catching function has run, then returns
 * -1 with errno EINTR, and sigsuspend puts the old mask back. They block
 * only the calling thread: with one LWP, the thread that sends the signal
 * runs while the other waits. A null mask is EFAULT. */
#include "check.h"
#include <signal.h>

static volatile sig_atomic_t caught;

static void on_usr1(int sig) { caught = sig; }

static void *kill_it(void *arg) {
    pthread_t target = *(pthread_t *)arg;
    EQ(pthread_kill(target, SIGUSR1), 0);
    return NULL;
}

static void *suspender(void *arg) {
    (void)arg;
    sigset_t usr1, none, now;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&none);
    EQ(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    pthread_t s, me = pthread_self();
    /* The sender runs only once this thread waits (one LWP). */
    EQ(pthread_create(&s, NULL, kill_it, &me), 0);
    errno = 0;
    EQ(sigsuspend(&none), -1);
    EQ(errno, EINTR);
    EQ(caught, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    EQ(sigismember(&now, SIGUSR1), 1);
    EQ(pthread_join(s, NULL), 0);

    /* pause: the mask as it is, with SIGUSR1 let through. */
    caught = 0;
    EQ(pthread_sigmask(SIG_UNBLOCK, &usr1, NULL), 0);
    EQ(pthread_create(&s, NULL, kill_it, &me), 0);
    errno = 0;
    EQ(pause(), -1);
    EQ(errno, EINTR);
    EQ(caught, SIGUSR1);
    EQ(pthread_join(s, NULL), 0);

    errno = 0;
    EQ(sigsuspend(NULL), -1);
    EQ(errno, EFAULT);
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, suspender, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

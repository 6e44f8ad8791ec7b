/* sigwaitinfo and sigtimedwait fail with EINTR when "the wait was
 * interrupted by an unblocked, caught signal" (POSIX sigwaitinfo); sigwait
 * never fails with EINTR (POSIX sigwait, ERRORS: only EINVAL), it goes on
 * waiting and takes the signal it waits for. SA_RESTART does not change
 * either. Here a thread waits for SIGUSR1 (blocked) and another thread
 * sends it SIGUSR2, which has a handler (then, to sigwait, SIGUSR1). */
#include "check.h"

static volatile sig_atomic_t ran;

static void on_usr2(int sig) {
    (void)sig;
    ran++;
}

struct result {
    int r, err, sig;
};

static void *waits(void *arg) {
    long which = (long)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    struct result *res = calloc(1, sizeof *res);
    struct timespec long_time = {60, 0};
    errno = 0;
    switch (which) {
    case 0: res->r = sigwait(&set, &res->sig); break;
    case 1: res->r = sigwaitinfo(&set, NULL); break;
    case 2: res->r = sigtimedwait(&set, NULL, &long_time); break;
    }
    res->err = errno;
    return res;
}

int main(void) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    for (int restart = 0; restart < 2; restart++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr2;
        sa.sa_flags = restart ? SA_RESTART : 0;
        EQ(sigaction(SIGUSR2, &sa, NULL), 0);
        for (long which = 0; which < 3; which++) {
            ran = 0;
            pthread_t t;
            EQ(pthread_create(&t, NULL, waits, (void *)which), 0);
            wait_blocked(t);
            EQ(pthread_kill(t, SIGUSR2), 0);
            while (!ran) usleep(1000);
            if (which == 0) {
                wait_blocked(t); /* still waiting: send what it waits for */
                EQ(pthread_kill(t, SIGUSR1), 0);
            }
            struct result *res;
            EQ(pthread_join(t, (void **)&res), 0);
            if (which == 0) {
                EQ(res->r, 0);
                EQ(res->sig, SIGUSR1);
            } else {
                EQ(res->r, -1);
                EQ(res->err, EINTR);
            }
            free(res);
        }
    }
    return 0;
}

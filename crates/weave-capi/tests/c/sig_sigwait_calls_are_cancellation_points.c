/* sigwait, sigwaitinfo and sigtimedwait are cancellation points (POSIX,
 * "Thread Cancellation": the functions at which a cancellation point
 * shall occur). A thread blocked in one, with the signals it waits for
 * blocked and none coming, is woken by pthread_cancel and ends: a join
 * gets PTHREAD_CANCELED. */
#include "check.h"

static void *waits(void *arg) {
    long which = (long)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    int sig;
    struct timespec forever = {3600, 0};
    switch (which) {
    case 0: sigwait(&set, &sig); break;
    case 1: sigwaitinfo(&set, NULL); break;
    case 2: sigtimedwait(&set, NULL, &forever); break;
    }
    fprintf(stderr, "wait %ld returned instead of acting on the request\n", which);
    exit(1);
}

int main(void) {
    for (long which = 0; which < 3; which++) {
        pthread_t t;
        EQ(pthread_create(&t, NULL, waits, (void *)which), 0);
        wait_blocked(t);
        EQ(pthread_cancel(t), 0);
        void *res;
        EQ(pthread_join(t, &res), 0);
        CHECK(res == PTHREAD_CANCELED);
    }
    return 0;
}

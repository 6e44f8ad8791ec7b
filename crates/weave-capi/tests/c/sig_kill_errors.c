/* pthread_kill and pthread_sigqueue (POSIX, Linux): signal 0 checks that
 * the thread id is valid, which it stays after the thread ended until it
 * is joined; an id of a thread that has been joined is ESRCH; an invalid
 * signal number is EINVAL. */
#include "check.h"

static void *nothing(void *arg) {
    return arg;
}

int main(void) {
    EQ(pthread_kill(pthread_self(), 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, nothing, NULL), 0);
    EQ(pthread_kill(t, 0), 0); /* running or ended: not joined yet */
    usleep(20000);
    EQ(pthread_kill(t, 0), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_kill(t, 0), ESRCH);
    EQ(pthread_kill(t, SIGUSR1), ESRCH);
    union sigval v = {.sival_int = 7};
    EQ(pthread_sigqueue(t, SIGRTMIN, v), ESRCH);
    EQ(pthread_kill(pthread_self(), -1), EINVAL);
    EQ(pthread_kill(pthread_self(), 65), EINVAL);
    EQ(pthread_kill(pthread_self(), 1000), EINVAL);
    EQ(pthread_sigqueue(pthread_self(), 65, v), EINVAL);
    return 0;
}

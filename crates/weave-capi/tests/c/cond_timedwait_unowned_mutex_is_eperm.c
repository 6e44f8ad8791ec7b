/* pthread_cond_timedwait and pthread_cond_wait: with an error-checking,
 * recursive or robust mutex that the caller does not hold, they fail
 * with EPERM, whatever abstime says (a time already past included: the
 * check comes before any wait), and the mutex stays free. */
#include "check.h"

static void check_kind(int kind, int robust) {
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec past = {0, 0};
    struct timespec bad = {0, -1};
    struct timespec soon = after_ms(CLOCK_REALTIME, 10);
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_settype(&a, kind), 0);
    if (robust) EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    EQ(pthread_mutex_init(&m, &a), 0);
    EQ(pthread_cond_timedwait(&c, &m, &past), EPERM);
    EQ(pthread_cond_timedwait(&c, &m, &soon), EPERM);
    EQ(pthread_cond_timedwait(&c, &m, &bad), EPERM);
    EQ(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &past), EPERM);
    EQ(pthread_cond_wait(&c, &m), EPERM);
    EQ(pthread_mutex_trylock(&m), 0);
    /* Held: a time already past is ETIMEDOUT, with the mutex held. */
    EQ(pthread_cond_timedwait(&c, &m, &past), ETIMEDOUT);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_destroy(&m), 0);
    EQ(pthread_cond_destroy(&c), 0);
    EQ(pthread_mutexattr_destroy(&a), 0);
}

int main(void) {
    check_kind(PTHREAD_MUTEX_ERRORCHECK, 0);
    check_kind(PTHREAD_MUTEX_RECURSIVE, 0);
    check_kind(PTHREAD_MUTEX_NORMAL, 1);
    return 0;
}

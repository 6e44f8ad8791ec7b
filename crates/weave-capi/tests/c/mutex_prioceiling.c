/* Priority ceilings (pthread_mutexattr_getprioceiling/setprioceiling,
 * pthread_mutex_getprioceiling/setprioceiling): the ceiling is one of
 * SCHED_FIFO's priorities (EINVAL outside them), an initialised
 * attributes object holds one, and a mutex's ceiling is read and set only
 * when its protocol is PTHREAD_PRIO_PROTECT (EINVAL for PRIO_NONE and
 * PRIO_INHERIT). setprioceiling returns the old ceiling; a caller that
 * holds a recursive mutex may set it (the lock it takes is its own), and
 * one that holds an error-checking mutex gets EDEADLK. */
#include "check.h"

static pthread_mutex_t with(int protocol, int kind) {
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_setprotocol(&a, protocol), 0);
    EQ(pthread_mutexattr_settype(&a, kind), 0);
    EQ(pthread_mutexattr_setprioceiling(&a, sched_get_priority_min(SCHED_FIFO)), 0);
    EQ(pthread_mutex_init(&m, &a), 0);
    EQ(pthread_mutexattr_destroy(&a), 0);
    return m;
}

int main(void) {
    int lo = sched_get_priority_min(SCHED_FIFO);
    int hi = sched_get_priority_max(SCHED_FIFO);
    CHECK(lo >= 0 && hi >= lo);
    pthread_mutexattr_t a;
    int v = -12345, old = -12345;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    CHECK(v >= lo && v <= hi);
    EQ(pthread_mutexattr_setprioceiling(&a, lo - 1), EINVAL);
    EQ(pthread_mutexattr_setprioceiling(&a, hi + 1), EINVAL);
    EQ(pthread_mutexattr_setprioceiling(&a, hi), 0);
    EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    EQ(v, hi);
    EQ(pthread_mutexattr_destroy(&a), 0);

    /* Only a PTHREAD_PRIO_PROTECT mutex has a ceiling. */
    pthread_mutex_t none = with(PTHREAD_PRIO_NONE, PTHREAD_MUTEX_NORMAL);
    EQ(pthread_mutex_getprioceiling(&none, &v), EINVAL);
    EQ(pthread_mutex_setprioceiling(&none, lo, &old), EINVAL);
    pthread_mutex_t inherit = with(PTHREAD_PRIO_INHERIT, PTHREAD_MUTEX_NORMAL);
    EQ(pthread_mutex_getprioceiling(&inherit, &v), EINVAL);
    pthread_mutex_t stat = PTHREAD_MUTEX_INITIALIZER;
    EQ(pthread_mutex_getprioceiling(&stat, &v), EINVAL);

    pthread_mutex_t p = with(PTHREAD_PRIO_PROTECT, PTHREAD_MUTEX_NORMAL);
    EQ(pthread_mutex_getprioceiling(&p, &v), 0);
    EQ(v, lo);
    EQ(pthread_mutex_setprioceiling(&p, hi, &old), 0);
    EQ(old, lo);
    EQ(pthread_mutex_getprioceiling(&p, &v), 0);
    EQ(v, hi);
    EQ(pthread_mutex_setprioceiling(&p, lo - 1, &old), EINVAL);
    EQ(pthread_mutex_setprioceiling(&p, hi + 1, &old), EINVAL);
    /* The mutex is free again after setprioceiling's own lock. */
    EQ(pthread_mutex_trylock(&p), 0);
    EQ(pthread_mutex_unlock(&p), 0);

    pthread_mutex_t r = with(PTHREAD_PRIO_PROTECT, PTHREAD_MUTEX_RECURSIVE);
    EQ(pthread_mutex_lock(&r), 0);
    EQ(pthread_mutex_setprioceiling(&r, hi, &old), 0);
    EQ(old, lo);
    EQ(pthread_mutex_unlock(&r), 0);
    EQ(pthread_mutex_unlock(&r), EPERM);

    pthread_mutex_t e = with(PTHREAD_PRIO_PROTECT, PTHREAD_MUTEX_ERRORCHECK);
    EQ(pthread_mutex_lock(&e), 0);
    EQ(pthread_mutex_setprioceiling(&e, hi, &old), EDEADLK);
    EQ(pthread_mutex_unlock(&e), 0);
    EQ(pthread_mutex_setprioceiling(&e, hi, &old), 0);
    return 0;
}

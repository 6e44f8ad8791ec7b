/* Robust mutexes (pthread_mutex_consistent, pthread_mutex_unlock): a
 * mutex taken with EOWNERDEAD and unlocked without
 * pthread_mutex_consistent is permanently unusable: every later lock,
 * trylock and timedlock fails with ENOTRECOVERABLE, without waiting,
 * and the mutex may still be destroyed. pthread_mutex_consistent is
 * EINVAL on a mutex that is not robust. */
#include "check.h"

static pthread_mutex_t m;

static void *lock_and_return(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    return NULL;
}

int main(void) {
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    EQ(pthread_mutex_init(&m, &a), 0);

    pthread_t t;
    EQ(pthread_create(&t, NULL, lock_and_return, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_mutex_lock(&m), EOWNERDEAD);
    EQ(pthread_mutex_unlock(&m), 0);

    struct timespec later = after_ms(CLOCK_REALTIME, 10000);
    EQ(pthread_mutex_lock(&m), ENOTRECOVERABLE);
    EQ(pthread_mutex_trylock(&m), ENOTRECOVERABLE);
    EQ(pthread_mutex_timedlock(&m, &later), ENOTRECOVERABLE);
    EQ(pthread_mutex_consistent(&m), EINVAL);
    EQ(pthread_mutex_destroy(&m), 0);

    /* Not robust: nothing to make consistent. */
    pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
    EQ(pthread_mutex_lock(&plain), 0);
    EQ(pthread_mutex_consistent(&plain), EINVAL);
    EQ(pthread_mutex_unlock(&plain), 0);
    EQ(pthread_mutexattr_destroy(&a), 0);
    return 0;
}

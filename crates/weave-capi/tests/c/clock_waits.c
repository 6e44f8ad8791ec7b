/* The clock-taking waits (pthread_cond_clockwait, pthread_mutex_clocklock,
 * sem_clockwait) measure abstime on the clock given, CLOCK_REALTIME or
 * CLOCK_MONOTONIC: they time out with ETIMEDOUT once it passes, succeed
 * when the object is free, and another clock is EINVAL. */
#include "check.h"
#include <semaphore.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s;

static void *holds(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    return NULL; /* keeps it: the mutex stays locked by a finished thread */
}

int main(void) {
    clockid_t clocks[2] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    EQ(sem_init(&s, 0, 0), 0);
    for (int i = 0; i < 2; i++) {
        struct timespec at = after_ms(clocks[i], 20);
        EQ(pthread_mutex_lock(&m), 0);
        EQ(pthread_cond_clockwait(&c, &m, clocks[i], &at), ETIMEDOUT);
        EQ(pthread_mutex_unlock(&m), 0);

        at = after_ms(clocks[i], 20);
        EQ(sem_clockwait(&s, clocks[i], &at), -1);
        EQ(errno, ETIMEDOUT);
        EQ(sem_post(&s), 0);
        EQ(sem_clockwait(&s, clocks[i], &at), 0);

        at = after_ms(clocks[i], 20);
        EQ(pthread_mutex_clocklock(&m, clocks[i], &at), 0);
        EQ(pthread_mutex_unlock(&m), 0);
    }
    struct timespec at = after_ms(CLOCK_MONOTONIC, 20);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &at), EINVAL);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &at), -1);
    EQ(errno, EINVAL);
    EQ(pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &at), EINVAL);

    pthread_t t;
    EQ(pthread_create(&t, NULL, holds, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    at = after_ms(CLOCK_MONOTONIC, 20);
    EQ(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &at), ETIMEDOUT);
    return 0;
}

/* pthread_timedjoin_np and pthread_clockjoin_np (GNU,
 * pthread_tryjoin_np(3)): ETIMEDOUT when the absolute time (CLOCK_REALTIME
 * for timedjoin, the clock given for clockjoin) passes before the thread
 * terminates, and the thread stays joinable; the exit value once it has
 * terminated; EINVAL for a bad abstime or clock; pthread_join's errors. */
#include "check.h"

static sem_t go;

static void *waits(void *arg) {
    sem_wait(&go);
    return arg;
}

static void *returns(void *arg) { return arg; }

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, waits, (void *)7), 0);
    void *v = NULL;

    struct timespec at = after_ms(CLOCK_REALTIME, 30);
    EQ(pthread_timedjoin_np(t, &v, &at), ETIMEDOUT);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    CHECK(now.tv_sec > at.tv_sec || (now.tv_sec == at.tv_sec && now.tv_nsec >= at.tv_nsec));
    CHECK(v == NULL);

    at = after_ms(CLOCK_MONOTONIC, 30);
    EQ(pthread_clockjoin_np(t, &v, CLOCK_MONOTONIC, &at), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &now);
    CHECK(now.tv_sec > at.tv_sec || (now.tv_sec == at.tv_sec && now.tv_nsec >= at.tv_nsec));

    /* A time already past: ETIMEDOUT at once. */
    struct timespec past = {0, 0};
    EQ(pthread_timedjoin_np(t, &v, &past), ETIMEDOUT);
    /* Bad arguments while the thread runs. */
    struct timespec bad = after_ms(CLOCK_REALTIME, 1000);
    bad.tv_nsec = 1000000000L;
    EQ(pthread_timedjoin_np(t, &v, &bad), EINVAL);
    at = after_ms(CLOCK_MONOTONIC, 1000);
    EQ(pthread_clockjoin_np(t, &v, CLOCK_PROCESS_CPUTIME_ID, &at), EINVAL);

    /* Still joinable: a deadline far enough away sees it end. */
    EQ(sem_post(&go), 0);
    at = after_ms(CLOCK_REALTIME, 60000);
    EQ(pthread_timedjoin_np(t, &v, &at), 0);
    EQ((intptr_t)v, 7);
    EQ(pthread_timedjoin_np(t, &v, &at), ESRCH);

    EQ(pthread_create(&t, NULL, returns, (void *)9), 0);
    at = after_ms(CLOCK_MONOTONIC, 60000);
    EQ(pthread_clockjoin_np(t, &v, CLOCK_MONOTONIC, &at), 0);
    EQ((intptr_t)v, 9);

    at = after_ms(CLOCK_REALTIME, 10);
    EQ(pthread_timedjoin_np(pthread_self(), &v, &at), EDEADLK);
    return 0;
}

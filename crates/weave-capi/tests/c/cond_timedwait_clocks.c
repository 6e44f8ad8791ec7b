/* pthread_cond_timedwait: ETIMEDOUT on CLOCK_REALTIME (the default) and on
 * CLOCK_MONOTONIC (pthread_condattr_setclock), with the mutex held again
 * on return; a wake before the deadline returns 0; EINVAL for a bad
 * abstime or clock; condattr values read back. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_cond_t c;
static int flag;

static void *setter(void *arg) {
    (void)arg;
    usleep(10000);
    EQ(pthread_mutex_lock(&m), 0);
    flag = 1;
    EQ(pthread_cond_signal(&c), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    pthread_condattr_t a;
    clockid_t clk;
    int v;
    EQ(pthread_condattr_init(&a), 0);
    EQ(pthread_condattr_getclock(&a, &clk), 0);
    EQ(clk, CLOCK_REALTIME);
    EQ(pthread_condattr_setclock(&a, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
    EQ(pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED), ENOTSUP);
    EQ(pthread_condattr_getpshared(&a, &v), 0);
    EQ(v, PTHREAD_PROCESS_PRIVATE);

    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    for (int i = 0; i < 2; i++) {
        EQ(pthread_condattr_setclock(&a, clocks[i]), 0);
        EQ(pthread_condattr_getclock(&a, &clk), 0);
        EQ(clk, clocks[i]);
        EQ(pthread_cond_init(&c, &a), 0);

        EQ(pthread_mutex_lock(&m), 0);
        struct timespec soon = after_ms(clocks[i], 30);
        int r;
        do r = pthread_cond_timedwait(&c, &m, &soon);
        while (r == 0);
        EQ(r, ETIMEDOUT);
        /* The mutex is held again: relocking an error-checking one says so. */
        EQ(pthread_mutex_lock(&m), EDEADLK);
        struct timespec bad = {0, -1};
        EQ(pthread_cond_timedwait(&c, &m, &bad), EINVAL);

        /* A signal before the deadline. */
        flag = 0;
        pthread_t t;
        EQ(pthread_create(&t, NULL, setter, NULL), 0);
        struct timespec later = after_ms(clocks[i], 60000);
        while (!flag) EQ(pthread_cond_timedwait(&c, &m, &later), 0);
        EQ(pthread_mutex_unlock(&m), 0);
        EQ(pthread_join(t, NULL), 0);
        EQ(pthread_cond_destroy(&c), 0);
    }
    EQ(pthread_condattr_destroy(&a), 0);
    EQ(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), EINVAL);
    EQ(pthread_cond_init(&c, &a), EINVAL);
    return 0;
}

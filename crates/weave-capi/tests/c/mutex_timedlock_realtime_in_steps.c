/* pthread_mutex_timedlock on CLOCK_REALTIME (POSIX
 * pthread_mutex_timedlock): the wait ends with ETIMEDOUT only once abstime
 * has passed on CLOCK_REALTIME (weave reads that clock again at least once
 * a second, so a wait longer than that goes in steps); a mutex unlocked
 * before abstime is taken, however many steps the wait took; a bad
 * abstime is EINVAL when the mutex is not free. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static int passed(const struct timespec *at) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

static void *tries(void *arg) {
    (void)arg;
    struct timespec at = after_ms(CLOCK_REALTIME, 1500);
    EQ(pthread_mutex_timedlock(&m, &at), ETIMEDOUT);
    CHECK(passed(&at));
    struct timespec bad = at;
    bad.tv_nsec = 1000000000L;
    EQ(pthread_mutex_timedlock(&m, &bad), EINVAL);
    return NULL;
}

static void *waits_long(void *arg) {
    (void)arg;
    struct timespec at = after_ms(CLOCK_REALTIME, 60000);
    EQ(pthread_mutex_timedlock(&m, &at), 0);
    CHECK(!passed(&at));
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    pthread_t t;
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_create(&t, NULL, tries, NULL), 0);
    EQ(pthread_join(t, NULL), 0);

    /* Unlocked after 1.5 s, before a 60 s abstime: taken. */
    EQ(pthread_create(&t, NULL, waits_long, NULL), 0);
    struct timespec d = {1, 500000000};
    nanosleep(&d, NULL);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

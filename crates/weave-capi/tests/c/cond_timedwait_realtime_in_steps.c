/* pthread_cond_timedwait on a condition variable of the default clock,
 * CLOCK_REALTIME (POSIX pthread_cond_timedwait): the wait ends with
 * ETIMEDOUT only once abstime has passed on CLOCK_REALTIME (weave reads
 * that clock again at least once a second, so a wait longer than that
 * goes in steps), with the mutex held; a signal before abstime ends it
 * with 0, however many steps it took; a bad abstime is EINVAL. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int ready;

static int passed(const struct timespec *at) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

static void *signals_later(void *arg) {
    (void)arg;
    struct timespec d = {1, 500000000};
    nanosleep(&d, NULL);
    EQ(pthread_mutex_lock(&m), 0);
    ready = 1;
    EQ(pthread_cond_signal(&c), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    EQ(pthread_mutex_lock(&m), 0);
    struct timespec at = after_ms(CLOCK_REALTIME, 1500);
    int r;
    while ((r = pthread_cond_timedwait(&c, &m, &at)) == 0) {
    }
    EQ(r, ETIMEDOUT);
    CHECK(passed(&at));
    /* The mutex is held again: another thread cannot take it. */
    EQ(pthread_mutex_trylock(&m), EBUSY);

    struct timespec bad = at;
    bad.tv_nsec = -1;
    EQ(pthread_cond_timedwait(&c, &m, &bad), EINVAL);

    pthread_t t;
    EQ(pthread_create(&t, NULL, signals_later, NULL), 0);
    at = after_ms(CLOCK_REALTIME, 60000);
    while (!ready) EQ(pthread_cond_timedwait(&c, &m, &at), 0);
    CHECK(!passed(&at));
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_join(t, NULL), 0);
    return 0;
}

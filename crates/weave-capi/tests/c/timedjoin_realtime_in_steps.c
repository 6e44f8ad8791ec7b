/* pthread_timedjoin_np and pthread_clockjoin_np on CLOCK_REALTIME
 * (pthread_tryjoin_np(3)): the wait ends with ETIMEDOUT only once abstime
 * has passed on CLOCK_REALTIME (weave reads that clock again at least
 * once a second, so a wait longer than that goes in steps); a thread that
 * ends before abstime is joined, however many steps the wait took. */
#include "check.h"

static sem_t release;

static void *waits_for_release(void *arg) {
    while (sem_wait(&release) != 0) {
    }
    return arg;
}

static int passed(const struct timespec *at) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

static void *releases_later(void *arg) {
    (void)arg;
    struct timespec d = {1, 500000000};
    nanosleep(&d, NULL);
    EQ(sem_post(&release), 0);
    return NULL;
}

int main(void) {
    EQ(sem_init(&release, 0, 0), 0);
    pthread_t t, r;
    void *v;
    EQ(pthread_create(&t, NULL, waits_for_release, (void *)7), 0);

    /* 1.5 s: past a step; times out, and not before abstime. */
    struct timespec at = after_ms(CLOCK_REALTIME, 1500);
    EQ(pthread_timedjoin_np(t, &v, &at), ETIMEDOUT);
    CHECK(passed(&at));
    at = after_ms(CLOCK_REALTIME, 1200);
    EQ(pthread_clockjoin_np(t, &v, CLOCK_REALTIME, &at), ETIMEDOUT);
    CHECK(passed(&at));

    /* The thread ends after 1.5 s, before a 60 s abstime: joined. */
    EQ(pthread_create(&r, NULL, releases_later, NULL), 0);
    at = after_ms(CLOCK_REALTIME, 60000);
    EQ(pthread_timedjoin_np(t, &v, &at), 0);
    EQ((intptr_t)v, 7);
    CHECK(!passed(&at));
    EQ(pthread_join(r, NULL), 0);
    return 0;
}

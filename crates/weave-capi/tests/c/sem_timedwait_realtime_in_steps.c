/* sem_timedwait on CLOCK_REALTIME (POSIX sem_timedwait): the wait ends
 * with -1 and errno ETIMEDOUT only once abstime has passed on
 * CLOCK_REALTIME (weave reads that clock again at least once a second,
 * so a wait longer than that goes in steps); a post before abstime ends
 * it with 0, however many steps it took; a bad abstime is EINVAL when
 * the semaphore has no permit, and is not looked at when it has one. */
#include "check.h"

static sem_t s;

static int passed(const struct timespec *at) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

static void *posts_later(void *arg) {
    (void)arg;
    struct timespec d = {1, 500000000};
    nanosleep(&d, NULL);
    EQ(sem_post(&s), 0);
    return NULL;
}

int main(void) {
    EQ(sem_init(&s, 0, 0), 0);
    struct timespec at = after_ms(CLOCK_REALTIME, 1500);
    int r;
    while ((r = sem_timedwait(&s, &at)) == -1 && errno == EINTR) {
    }
    EQ(r, -1);
    EQ(errno, ETIMEDOUT);
    CHECK(passed(&at));

    struct timespec bad = at;
    bad.tv_nsec = 1000000000L;
    errno = 0;
    EQ(sem_timedwait(&s, &bad), -1);
    EQ(errno, EINVAL);

    pthread_t t;
    EQ(pthread_create(&t, NULL, posts_later, NULL), 0);
    at = after_ms(CLOCK_REALTIME, 60000);
    while ((r = sem_timedwait(&s, &at)) == -1 && errno == EINTR) {
    }
    EQ(r, 0);
    CHECK(!passed(&at));
    EQ(pthread_join(t, NULL), 0);

    EQ(sem_post(&s), 0);
    EQ(sem_timedwait(&s, &bad), 0);
    EQ(sem_destroy(&s), 0);
    return 0;
}

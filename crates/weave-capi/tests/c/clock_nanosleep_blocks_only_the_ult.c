/* clock_nanosleep (POSIX): a relative sleep on CLOCK_MONOTONIC or
 * CLOCK_REALTIME, or until an absolute time with TIMER_ABSTIME, blocks
 * only the calling thread: with one LWP, a thread placed behind the
 * sleeper runs while it sleeps, and the sleep lasts at least as asked.
 * Errors are returned, not put in errno: EINVAL for a tv_nsec outside
 * 0..1e9 or CLOCK_THREAD_CPUTIME_ID (Linux); an absolute time already
 * past returns at once. (Flags other than TIMER_ABSTIME:
 * clock_nanosleep_flags_and_negative_times.c.) */
#include "check.h"

static volatile int other_ran;

static long long now_ns(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *sleeper(void *arg) {
    int how = (int)(intptr_t)arg;
    long long t0 = now_ns(CLOCK_MONOTONIC);
    if (how == 0) {
        struct timespec t = {0, 50000000L};
        EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL), 0);
    } else if (how == 1) {
        struct timespec t = {0, 50000000L};
        EQ(clock_nanosleep(CLOCK_REALTIME, 0, &t, NULL), 0);
    } else {
        struct timespec at = after_ms(CLOCK_MONOTONIC, 50);
        EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL), 0);
        CHECK(now_ns(CLOCK_MONOTONIC) >= (long long)at.tv_sec * 1000000000LL + at.tv_nsec);
    }
    CHECK(now_ns(CLOCK_MONOTONIC) - t0 >= 50000000LL);
    return (void *)(intptr_t)other_ran;
}

static void *other(void *arg) {
    (void)arg;
    other_ran = 1;
    return NULL;
}

int main(void) {
    EQ(pthread_setconcurrency(1), 0);
    for (int how = 0; how < 3; how++) {
        other_ran = 0;
        pthread_t s, o;
        void *r;
        EQ(pthread_create(&s, NULL, sleeper, (void *)(intptr_t)how), 0);
        EQ(pthread_create(&o, NULL, other, NULL), 0);
        EQ(pthread_join(s, &r), 0);
        EQ(pthread_join(o, NULL), 0);
        EQ((intptr_t)r, 1);
    }
    struct timespec bad = {0, 1000000000L}, ok = {0, 1000};
    errno = 0;
    EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    EQ(errno, 0);
    EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ok, NULL), EINVAL);
    struct timespec past = {1, 0};
    EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, NULL), 0);
    /* Another clock goes to the system's call, off the LWP. */
    EQ(clock_nanosleep(CLOCK_BOOTTIME, 0, &ok, NULL), 0);
    return 0;
}

/* sleep, usleep and nanosleep block only the calling thread: with one LWP,
 * a thread placed behind a sleeper runs while it sleeps. nanosleep's
 * errors: EINVAL for a bad tv_nsec or negative time, with -1 and errno. */
#include "check.h"

static volatile int other_ran;

static void *sleeper(void *arg) {
    int how = (int)(intptr_t)arg;
    if (how == 0) {
        EQ(usleep(50000), 0);
    } else if (how == 1) {
        struct timespec t = {0, 50000000L}, rem = {9, 9};
        EQ(nanosleep(&t, &rem), 0);
        EQ(rem.tv_sec, 0);
    } else {
        EQ(sleep(1), 0);
    }
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
    struct timespec bad = {0, 1000000000L}, neg = {-1, 0};
    errno = 0;
    EQ(nanosleep(&bad, NULL), -1);
    EQ(errno, EINVAL);
    errno = 0;
    EQ(nanosleep(&neg, NULL), -1);
    EQ(errno, EINVAL);
    return 0;
}

/* sleep, usleep and nanosleep are cancellation points: a thread sleeping
 * for an hour is woken by pthread_cancel and ends with PTHREAD_CANCELED
 * (the test's watchdog would catch a sleep that went on). */
#include "check.h"

static void *sleeps(void *which) {
    struct timespec hour = {3600, 0};
    switch ((intptr_t)which) {
    case 0: sleep(3600); break;
    case 1: usleep(3000000000u); break;
    default: nanosleep(&hour, NULL); break;
    }
    return (void *)1;
}

int main(void) {
    for (intptr_t i = 0; i < 3; i++) {
        pthread_t t;
        EQ(pthread_create(&t, NULL, sleeps, (void *)i), 0);
        wait_blocked_in(t, WEAVE_BLOCK_SLEEP);
        EQ(pthread_cancel(t), 0);
        void *r;
        EQ(pthread_join(t, &r), 0);
        CHECK(r == PTHREAD_CANCELED);
    }
    return 0;
}

/* pthread_barrier_destroy: while a thread waits at the barrier in a
 * round not yet complete, destroy fails with EBUSY and the barrier stays
 * usable (the round completes when the last thread arrives); once a
 * round has completed, the barrier may be destroyed, even before the
 * released threads have returned from their wait. */
#include "check.h"

static pthread_barrier_t b;

static void *arrive(void *arg) {
    (void)arg;
    int r = pthread_barrier_wait(&b);
    CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
    return (void *)(intptr_t)r;
}

int main(void) {
    EQ(pthread_barrier_init(&b, NULL, 3), 0);
    for (int round = 0; round < 3; round++) {
        pthread_t t[2];
        EQ(pthread_create(&t[0], NULL, arrive, NULL), 0);
        wait_blocked(t[0]);
        EQ(pthread_barrier_destroy(&b), EBUSY);
        EQ(pthread_create(&t[1], NULL, arrive, NULL), 0);
        wait_blocked(t[1]);
        EQ(pthread_barrier_destroy(&b), EBUSY);
        int serial = pthread_barrier_wait(&b) == PTHREAD_BARRIER_SERIAL_THREAD;
        for (int i = 0; i < 2; i++) {
            void *r;
            EQ(pthread_join(t[i], &r), 0);
            serial += (intptr_t)r == PTHREAD_BARRIER_SERIAL_THREAD;
        }
        EQ(serial, 1);
    }
    EQ(pthread_barrier_destroy(&b), 0);

    /* Destroyed by the serial thread as soon as the round completes. */
    EQ(pthread_barrier_init(&b, NULL, 2), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, arrive, NULL), 0);
    int r = pthread_barrier_wait(&b);
    void *other;
    if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
        EQ(pthread_barrier_destroy(&b), 0);
        EQ(pthread_join(t, &other), 0);
    } else {
        EQ(pthread_join(t, &other), 0);
        EQ(pthread_barrier_destroy(&b), 0);
    }
    return 0;
}

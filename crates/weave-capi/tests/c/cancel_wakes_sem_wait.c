/* sem_wait and sem_timedwait are cancellation points: a thread blocked in
 * one is woken by pthread_cancel and ends with PTHREAD_CANCELED; no
 * permit is taken by it (a later post is still there for a trywait). */
#include "check.h"

static sem_t s;

static void *waits(void *timed) {
    for (;;) {
        if (timed) {
            struct timespec at = after_ms(CLOCK_REALTIME, 3600 * 1000);
            sem_timedwait(&s, &at);
        } else {
            sem_wait(&s);
        }
    }
    return NULL;
}

static void one(void *timed) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, waits, timed), 0);
    wait_blocked_in(t, WEAVE_BLOCK_SEMAPHORE);
    EQ(pthread_cancel(t), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(sem_post(&s), 0);
    EQ(sem_trywait(&s), 0);
}

int main(void) {
    EQ(sem_init(&s, 0, 0), 0);
    one(NULL);
    one((void *)1);
    return 0;
}

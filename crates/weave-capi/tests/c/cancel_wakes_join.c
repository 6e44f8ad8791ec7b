/* pthread_join is a cancellation point: a joiner blocked in it is woken
 * by pthread_cancel and ends with PTHREAD_CANCELED, and the thread it was
 * joining is not detached: it can still be joined, with its value. */
#include "check.h"

static sem_t release;

static void *target(void *arg) {
    (void)arg;
    EQ(sem_wait(&release), 0);
    return (void *)42;
}

static void *joiner(void *t) {
    pthread_join(*(pthread_t *)t, NULL);
    return (void *)1; /* not reached */
}

int main(void) {
    EQ(sem_init(&release, 0, 0), 0);
    pthread_t t, j;
    EQ(pthread_create(&t, NULL, target, NULL), 0);
    EQ(pthread_create(&j, NULL, joiner, &t), 0);
    wait_blocked_in(j, WEAVE_BLOCK_JOIN);
    EQ(pthread_cancel(j), 0);
    void *r;
    EQ(pthread_join(j, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(sem_post(&release), 0);
    EQ(pthread_join(t, &r), 0);
    EQ((intptr_t)r, 42);
    return 0;
}

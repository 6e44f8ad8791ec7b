/* A thread with cancelability disabled that waits in pthread_join (a
 * cancellation point) is not woken by a request: the join completes with
 * the joined thread's value, and the request stays pending until the
 * thread enables cancellation and reaches the next cancellation point. */
#include "check.h"

static sem_t in_join, go;
static volatile int joined_value;

static void *late(void *arg) {
    (void)arg;
    EQ(sem_wait(&go), 0);
    return (void *)7;
}

static void *joiner(void *arg) {
    pthread_t *t = arg;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    EQ(sem_post(&in_join), 0);
    void *r = NULL;
    EQ(pthread_join(*t, &r), 0); /* the request comes meanwhile */
    joined_value = (int)(intptr_t)r;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL), 0);
    pthread_testcancel();
    joined_value = -1; /* not reached */
    return NULL;
}

int main(void) {
    EQ(sem_init(&in_join, 0, 0), 0);
    EQ(sem_init(&go, 0, 0), 0);
    pthread_t t, j;
    EQ(pthread_create(&t, NULL, late, NULL), 0);
    EQ(pthread_create(&j, NULL, joiner, &t), 0);
    EQ(sem_wait(&in_join), 0);
    usleep(10000); /* most likely inside the join by now; either way it must not end it */
    EQ(pthread_cancel(j), 0);
    EQ(sem_post(&go), 0);
    void *r;
    EQ(pthread_join(j, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(joined_value, 7);
    return 0;
}

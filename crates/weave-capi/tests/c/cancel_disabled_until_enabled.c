/* With cancelability disabled a request stays pending: cancellation
 * points (testcancel, a sleep) do not act on it; once enabled again, the
 * next cancellation point does. pthread_setcancelstate rejects unknown
 * states with EINVAL and reports the old state. */
#include "check.h"

static sem_t requested;
static volatile int reached;

static void *guarded(void *arg) {
    (void)arg;
    int old = -1;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    EQ(old, PTHREAD_CANCEL_ENABLE);
    EQ(pthread_setcancelstate(12345, &old), EINVAL);
    EQ(sem_wait(&requested), 0); /* the request is in */
    pthread_testcancel();        /* disabled: ignored */
    usleep(1000);                /* a cancellation point: ignored too */
    reached = 1;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    EQ(old, PTHREAD_CANCEL_DISABLE);
    reached = 2; /* deferred: enabling alone does not act */
    pthread_testcancel();
    reached = 3; /* not reached */
    return NULL;
}

int main(void) {
    EQ(sem_init(&requested, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, guarded, NULL), 0);
    EQ(pthread_cancel(t), 0);
    EQ(sem_post(&requested), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(reached, 2);
    return 0;
}

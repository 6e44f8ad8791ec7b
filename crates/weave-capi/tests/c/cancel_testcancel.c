/* pthread_cancel + pthread_testcancel (deferred, the default): the
 * target runs on until it reaches a cancellation point, acts on the
 * request there, and pthread_join gives PTHREAD_CANCELED. pthread_cancel
 * itself returns 0 without waiting for the target. */
#include "check.h"

static volatile int cancelled_sent;
static volatile int passes_after;

static void *spins(void *arg) {
    (void)arg;
    int old;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    EQ(old, PTHREAD_CANCEL_ENABLE); /* a new thread starts enabled */
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old), 0);
    EQ(old, PTHREAD_CANCEL_DEFERRED); /* ... and deferred */
    while (!cancelled_sent)
        sched_yield(); /* not a cancellation point */
    passes_after = 1;  /* deferred: nothing happened yet */
    pthread_testcancel();
    passes_after = 2; /* not reached */
    return (void *)7;
}

int main(void) {
    pthread_t t;
    EQ(pthread_create(&t, NULL, spins, NULL), 0);
    EQ(pthread_cancel(t), 0);
    cancelled_sent = 1;
    void *r = NULL;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(passes_after, 1);
    return 0;
}

/* pthread_setcancelstate: a request made while cancellation is disabled
 * stays pending; a thread of the asynchronous type that enables it then
 * acts on it at once, before pthread_setcancelstate returns. And a thread
 * that switches to the asynchronous type with a request pending acts at
 * once too. */
#include "check.h"

static volatile int requested, after;

static void *disabled(void *arg) {
    (void)arg;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
    after = 1;
    while (!requested) {
    }
    after = 2;
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    after = 3; /* not reached */
    return NULL;
}

static void *deferred(void *arg) {
    (void)arg;
    while (!requested) {
    }
    after = 4;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
    after = 5; /* not reached */
    return NULL;
}

int main(void) {
    pthread_t t;
    void *r;
    EQ(pthread_create(&t, NULL, disabled, NULL), 0);
    while (after != 1)
        sched_yield();
    EQ(pthread_cancel(t), 0);
    requested = 1;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(after, 2);

    requested = 0;
    EQ(pthread_create(&t, NULL, deferred, NULL), 0);
    EQ(pthread_cancel(t), 0);
    requested = 1;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(after, 4);
    return 0;
}

/* pthread_cancel of an id that names no thread (made up, or of a thread
 * already joined) is ESRCH; pthread_setcanceltype rejects unknown types
 * with EINVAL and reports the old type. With the asynchronous type, a
 * thread that cancels itself ends at once, and a thread that enables
 * cancellation with a request pending ends at once. */
#include "check.h"

static volatile int after;

static void *quick(void *arg) { return arg; }

static void *self_async(void *arg) {
    (void)arg;
    int old = -1;
    EQ(pthread_setcanceltype(99, &old), EINVAL);
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old), 0);
    EQ(old, PTHREAD_CANCEL_DEFERRED);
    pthread_cancel(pthread_self());
    after = 1; /* not reached */
    return NULL;
}

static void *enable_async(void *arg) {
    (void)arg;
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
    EQ(pthread_cancel(pthread_self()), 0); /* disabled: pending */
    after = 2;
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    after = 3; /* not reached */
    return NULL;
}

int main(void) {
    EQ(pthread_cancel((pthread_t)0), ESRCH);
    EQ(pthread_cancel((pthread_t)0x7777777700001234ULL), ESRCH);
    pthread_t t;
    EQ(pthread_create(&t, NULL, quick, NULL), 0);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_cancel(t), ESRCH);

    void *r;
    EQ(pthread_create(&t, NULL, self_async, NULL), 0);
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(after, 0);

    EQ(pthread_create(&t, NULL, enable_async, NULL), 0);
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(after, 2);
    return 0;
}

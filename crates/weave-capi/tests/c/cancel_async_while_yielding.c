/* A thread of the asynchronous type that yields (sched_yield,
 * pthread_yield) is cancelled too: whether the request finds it in its
 * own code or switched out, it ends, and its cleanup handler runs. The
 * canceller is a plain thread in one case and, in the other, a thread
 * that may share the target's LWP (WEAVE_LWPS=1: the target is then not
 * running when the request comes). */
#include "check.h"

static volatile int started, cleaned;

static void cleanup(void *arg) { (void)arg; cleaned++; }

static void *yielder(void *arg) {
    pthread_cleanup_push(cleanup, NULL);
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
    started = 1;
    for (unsigned long i = 0;; i++) {
        if (i % 2)
            sched_yield();
        else
            pthread_yield();
    }
    pthread_cleanup_pop(0);
    return arg;
}

static void *canceller(void *arg) {
    pthread_t t = *(pthread_t *)arg;
    while (!started)
        sched_yield();
    EQ(pthread_cancel(t), 0);
    return NULL;
}

int main(void) {
    void *r;
    for (int round = 0; round < 2; round++) {
        started = 0;
        pthread_t t, c;
        EQ(pthread_create(&t, NULL, yielder, NULL), 0);
        if (round == 0) {
            while (!started)
                sched_yield();
            EQ(pthread_cancel(t), 0);
        } else {
            EQ(pthread_create(&c, NULL, canceller, &t), 0);
            EQ(pthread_join(c, NULL), 0);
        }
        EQ(pthread_join(t, &r), 0);
        CHECK(r == PTHREAD_CANCELED);
        EQ(cleaned, round + 1);
    }
    return 0;
}

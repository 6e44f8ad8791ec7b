/* A thread of the asynchronous type that pushes and pops cleanup handlers
 * in its loop (pthread_cleanup_push/pop after pthread_setcanceltype) is
 * cancelled wherever it is: the handler pushed before the loop runs
 * exactly once, the one pushed and popped in the loop at most once, and
 * the thread's end is never disturbed by a push or pop cut short. Many
 * rounds, to catch the request in the middle of each. */
#include "check.h"

#define ROUNDS 100

static volatile int started;
static volatile int outer, inner;

static void count(void *arg) { (*(volatile int *)arg)++; }

static void *body(void *arg) {
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
    pthread_cleanup_push(count, (void *)&outer);
    started = 1;
    for (;;) {
        pthread_cleanup_push(count, (void *)&inner);
        pthread_cleanup_pop(0);
    }
    pthread_cleanup_pop(0);
    return arg;
}

int main(void) {
    for (int round = 0; round < ROUNDS; round++) {
        started = outer = inner = 0;
        pthread_t t;
        EQ(pthread_create(&t, NULL, body, NULL), 0);
        while (!started)
            sched_yield();
        EQ(pthread_cancel(t), 0);
        void *r;
        EQ(pthread_join(t, &r), 0);
        CHECK(r == PTHREAD_CANCELED);
        EQ(outer, 1);
        CHECK(inner <= 1);
    }
    return 0;
}

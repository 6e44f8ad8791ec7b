/* pthread_cancel / pthread_setcanceltype: a thread with cancellation
 * enabled and the asynchronous type is cancelled "at any time": one in a
 * loop that calls nothing, cancelled by another thread, ends there. Its
 * cleanup handlers still pushed run, newest first, then the
 * thread-specific data destructors, and the join gets PTHREAD_CANCELED.
 * The same on a stack the program gave (pthread_attr_setstack). */
#include "check.h"

static volatile int started;
static char order[16];
static volatile int n;
static pthread_key_t key;

static void note(void *arg) { order[n++] = (char)(intptr_t)arg; }
static void dtor(void *arg) { (void)arg; order[n++] = 'D'; }

static void *loop(void *arg) {
    int old = -1;
    EQ(pthread_setspecific(key, (void *)1), 0);
    pthread_cleanup_push(note, (void *)'a');
    pthread_cleanup_push(note, (void *)'b');
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old), 0);
    EQ(old, PTHREAD_CANCEL_DEFERRED);
    started = 1;
    for (volatile unsigned long i = 0;; i++) {
    }
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return arg;
}

static void round_with(const pthread_attr_t *attr) {
    started = 0;
    n = 0;
    pthread_t t;
    EQ(pthread_create(&t, attr, loop, NULL), 0);
    while (!started)
        sched_yield();
    EQ(pthread_cancel(t), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    order[n] = 0;
    if (strcmp(order, "baD") != 0) {
        fprintf(stderr, "order: %s\n", order);
        exit(1);
    }
}

int main(void) {
    EQ(pthread_key_create(&key, dtor), 0);
    round_with(NULL);

    static char stack[256 * 1024] __attribute__((aligned(4096)));
    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setstack(&a, stack, sizeof stack), 0);
    round_with(&a);
    EQ(pthread_attr_destroy(&a), 0);
    return 0;
}

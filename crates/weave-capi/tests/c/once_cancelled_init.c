/* pthread_once: "if init_routine is a cancellation point and is canceled,
 * the effect on once_control shall be as if pthread_once() was never
 * called". A thread waiting in pthread_once for the cancelled init then
 * runs init itself, and later calls do not run it again. Likewise for an
 * init that ends its thread with pthread_exit. */
#include "check.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_once_t once_exit = PTHREAD_ONCE_INIT;
static sem_t in_init;
static volatile int cancelled_inits, good_inits, exit_inits;

static void init_never_returns(void) {
    cancelled_inits++;
    EQ(sem_post(&in_init), 0);
    for (;;) {
        pthread_testcancel();
        usleep(1000);
    }
}

static void init_returns(void) { good_inits++; }

static void init_exits(void) {
    exit_inits++;
    pthread_exit((void *)3);
}

static void *first(void *arg) {
    (void)arg;
    pthread_once(&once, init_never_returns);
    return NULL;
}

static void *second(void *arg) {
    (void)arg;
    EQ(pthread_once(&once, init_returns), 0);
    return (void *)1;
}

static void *exits_in_init(void *arg) {
    (void)arg;
    pthread_once(&once_exit, init_exits);
    return NULL;
}

int main(void) {
    EQ(sem_init(&in_init, 0, 0), 0);
    pthread_t a, b;
    EQ(pthread_create(&a, NULL, first, NULL), 0);
    EQ(sem_wait(&in_init), 0);
    EQ(pthread_create(&b, NULL, second, NULL), 0);
    wait_blocked(b); /* waiting for a's init */
    EQ(pthread_cancel(a), 0);
    void *r;
    EQ(pthread_join(a, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(pthread_join(b, &r), 0);
    EQ((long)r, 1);
    EQ(cancelled_inits, 1);
    EQ(good_inits, 1);
    EQ(pthread_once(&once, init_returns), 0);
    EQ(good_inits, 1);

    EQ(pthread_create(&a, NULL, exits_in_init, NULL), 0);
    EQ(pthread_join(a, &r), 0);
    EQ((long)r, 3);
    EQ(exit_inits, 1);
    EQ(pthread_once(&once_exit, init_returns), 0);
    EQ(good_inits, 2);
    return 0;
}

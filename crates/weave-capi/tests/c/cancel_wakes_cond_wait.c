/* pthread_cond_wait and pthread_cond_timedwait are cancellation points:
 * a thread blocked in one is woken by pthread_cancel, and its cleanup
 * handler runs with the mutex held again (it can unlock it: an
 * error-checking mutex says EPERM to a thread that does not hold it). */
#include "check.h"

static pthread_mutex_t m;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static volatile int unlock_result = -1;

static void unlock(void *arg) {
    (void)arg;
    unlock_result = pthread_mutex_unlock(&m);
}

static void *waits(void *timed) {
    EQ(pthread_mutex_lock(&m), 0);
    pthread_cleanup_push(unlock, NULL);
    for (;;) {
        if (timed) {
            struct timespec at = after_ms(CLOCK_REALTIME, 3600 * 1000);
            pthread_cond_timedwait(&c, &m, &at);
        } else {
            pthread_cond_wait(&c, &m);
        }
    }
    pthread_cleanup_pop(1);
    return NULL;
}

static void one(void *timed) {
    unlock_result = -1;
    pthread_t t;
    EQ(pthread_create(&t, NULL, waits, timed), 0);
    wait_blocked_in(t, WEAVE_BLOCK_CONDVAR);
    EQ(pthread_cancel(t), 0);
    void *r;
    EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    EQ(unlock_result, 0);
    /* The mutex is free again. */
    EQ(pthread_mutex_trylock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);
}

int main(void) {
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    EQ(pthread_mutex_init(&m, &a), 0);
    one(NULL);
    one((void *)1);
    return 0;
}

/* pthread_cond_wait with a robust mutex: when the thread holding the
 * mutex ends while the waiter is blocked, the waiter takes the mutex
 * back as a lock would, so the wait returns EOWNERDEAD with the mutex
 * held; pthread_mutex_consistent then makes it usable again. */
#include "check.h"

static pthread_mutex_t m;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int signalled;

static void *signal_and_end_holding(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    signalled = 1;
    EQ(pthread_cond_signal(&c), 0);
    return NULL; /* ends with m held */
}

int main(void) {
    pthread_mutexattr_t a;
    EQ(pthread_mutexattr_init(&a), 0);
    EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    EQ(pthread_mutex_init(&m, &a), 0);
    EQ(pthread_mutex_lock(&m), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, signal_and_end_holding, NULL), 0);
    int r = 0;
    while (!signalled && r == 0) r = pthread_cond_wait(&c, &m);
    /* The signaller holds the mutex until it ends, so the wait can only
     * take it back after that end. */
    EQ(r, EOWNERDEAD);
    EQ(signalled, 1);
    EQ(pthread_join(t, NULL), 0);
    EQ(pthread_mutex_consistent(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_lock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    return 0;
}

/* Many rounds of create, cancel, join of threads of the asynchronous
 * type, to catch races between the request and the thread: cancelled as
 * it starts (still deferred: it acts as it sets the asynchronous type),
 * while it loops, and as it returns from its start routine (the join gets
 * its value or PTHREAD_CANCELED, nothing else). Every cancelled thread
 * runs its cleanup handler exactly once. Run on one and on two LWPs. */
#include "check.h"

#define ROUNDS 200
#define THREADS 4

static volatile int started[THREADS];
static volatile int cleaned;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void cleanup(void *arg) {
    (void)arg;
    /* Runs after the thread left its own code: a normal call again. */
    pthread_mutex_lock(&lock);
    cleaned++;
    pthread_mutex_unlock(&lock);
}

static void *body(void *arg) {
    intptr_t i = (intptr_t)arg;
    unsigned long limit = (i & 1) ? 20000 : (unsigned long)-1;
    pthread_cleanup_push(cleanup, NULL);
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
    started[i % THREADS] = 1;
    for (volatile unsigned long k = 0; k < limit; k++) {
    }
    /* Back to deferred before leaving the handlers' scope. */
    EQ(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL), 0);
    pthread_cleanup_pop(0);
    return arg;
}

int main(void) {
    int cancelled = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[THREADS];
        for (int j = 0; j < THREADS; j++) {
            started[j] = 0;
            EQ(pthread_create(&t[j], NULL, body, (void *)(intptr_t)(round * THREADS + j)), 0);
        }
        for (int j = 0; j < THREADS; j++) {
            /* Every other round, cancel before the thread got going. */
            if (round % 2)
                while (!started[j])
                    sched_yield();
            int e = pthread_cancel(t[j]);
            /* A thread that returned already may be gone (ESRCH). */
            CHECK(e == 0 || (e == ESRCH && (j & 1)));
        }
        for (int j = 0; j < THREADS; j++) {
            void *r;
            EQ(pthread_join(t[j], &r), 0);
            if (r == PTHREAD_CANCELED)
                cancelled++;
            else
                CHECK(r == (void *)(intptr_t)(round * THREADS + j) && (j & 1));
        }
        EQ(cleaned, cancelled);
    }
    CHECK(cancelled >= ROUNDS * THREADS / 2);
    printf("%d of %d cancelled\n", cancelled, ROUNDS * THREADS);
    return 0;
}

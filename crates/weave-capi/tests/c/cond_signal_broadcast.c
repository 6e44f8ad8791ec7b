/* Condition variables (PTHREAD_COND_INITIALIZER): signal wakes a waiter
 * whose predicate then holds; broadcast wakes every waiter; waiting with
 * a mutex one does not hold is EPERM (error-checking mutex). */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int ready, woken;

static void *waiter(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    while (!ready) EQ(pthread_cond_wait(&c, &m), 0);
    woken++;
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

static int tokens, consumed;

static void *consumer(void *arg) {
    (void)arg;
    EQ(pthread_mutex_lock(&m), 0);
    while (tokens == 0) EQ(pthread_cond_wait(&c, &m), 0);
    tokens--;
    consumed++;
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    enum { N = 20 };
    pthread_t t[N];
    for (int i = 0; i < N; i++) EQ(pthread_create(&t[i], NULL, waiter, NULL), 0);
    usleep(20000);
    EQ(pthread_mutex_lock(&m), 0);
    ready = 1;
    EQ(pthread_cond_broadcast(&c), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    for (int i = 0; i < N; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(woken, N);

    /* One token per signal: every consumer gets one. */
    for (int i = 0; i < N; i++) EQ(pthread_create(&t[i], NULL, consumer, NULL), 0);
    for (int i = 0; i < N; i++) {
        EQ(pthread_mutex_lock(&m), 0);
        tokens++;
        EQ(pthread_cond_signal(&c), 0);
        EQ(pthread_mutex_unlock(&m), 0);
    }
    for (int i = 0; i < N; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(consumed, N);
    EQ(tokens, 0);

    /* Signal and broadcast with no waiter are fine. */
    EQ(pthread_cond_signal(&c), 0);
    EQ(pthread_cond_broadcast(&c), 0);

    pthread_mutex_t e = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    EQ(pthread_cond_wait(&c, &e), EPERM);
    EQ(pthread_cond_destroy(&c), 0);
    EQ(pthread_cond_signal(&c), EINVAL);
    return 0;
}

/* Thread-specific data: each thread sees its own value (NULL until set);
 * destructors run at thread exit with the value, for non-NULL values only,
 * and again while destructors set new values, up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds; a deleted key is EINVAL for
 * setspecific and NULL for getspecific; key_create runs out with EAGAIN. */
#include "check.h"
#include <limits.h>

static pthread_key_t k, again;
static int dtor_calls;
static intptr_t dtor_sum;
static int again_calls;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void dtor(void *v) {
    pthread_mutex_lock(&m);
    dtor_calls++;
    dtor_sum += (intptr_t)v;
    pthread_mutex_unlock(&m);
}

/* Sets its own value again every time: runs once per round. */
static void dtor_again(void *v) {
    pthread_mutex_lock(&m);
    again_calls++;
    pthread_mutex_unlock(&m);
    EQ(pthread_getspecific(again), NULL);
    EQ(pthread_setspecific(again, v), 0);
}

static void *worker(void *arg) {
    EQ(pthread_getspecific(k), NULL);
    EQ(pthread_setspecific(k, arg), 0);
    sched_yield();
    EQ(pthread_getspecific(k), arg);
    return NULL;
}

static void *sets_again(void *arg) {
    EQ(pthread_setspecific(again, arg), 0);
    return NULL;
}

static void *sets_null(void *arg) {
    (void)arg;
    EQ(pthread_setspecific(k, NULL), 0);
    return NULL;
}

int main(void) {
    EQ(pthread_key_create(&k, dtor), 0);
    enum { N = 10 };
    pthread_t t[N];
    for (intptr_t i = 0; i < N; i++) EQ(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
    for (int i = 0; i < N; i++) EQ(pthread_join(t[i], NULL), 0);
    EQ(dtor_calls, N);
    EQ(dtor_sum, N * (N + 1) / 2);

    pthread_t z;
    EQ(pthread_create(&z, NULL, sets_null, NULL), 0);
    EQ(pthread_join(z, NULL), 0);
    EQ(dtor_calls, N);

    EQ(pthread_key_create(&again, dtor_again), 0);
    EQ(pthread_create(&z, NULL, sets_again, (void *)5), 0);
    EQ(pthread_join(z, NULL), 0);
    EQ(again_calls, PTHREAD_DESTRUCTOR_ITERATIONS);

    EQ(pthread_setspecific(k, (void *)3), 0);
    EQ(pthread_getspecific(k), (void *)3);
    EQ(pthread_key_delete(k), 0);
    EQ(pthread_key_delete(k), EINVAL);
    EQ(pthread_getspecific(k), NULL);
    EQ(pthread_setspecific(k, (void *)4), EINVAL);

    /* A new key starts NULL even in a slot that held a value before. */
    pthread_key_t fresh;
    EQ(pthread_key_create(&fresh, NULL), 0);
    EQ(pthread_getspecific(fresh), NULL);

    pthread_key_t many;
    int made = 0;
    while (pthread_key_create(&many, NULL) == 0) made++;
    EQ(made + 2, PTHREAD_KEYS_MAX); /* `again` and `fresh` are in use */
    EQ(pthread_key_create(&many, NULL), EAGAIN);
    return 0;
}

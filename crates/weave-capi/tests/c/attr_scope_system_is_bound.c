/* PTHREAD_SCOPE_SYSTEM gives a bound thread (an LWP of its own), which the
 * thread table shows; pthread_getattr_np reads the attributes back. */
#include "check.h"

static sem_t go;

static void *waits(void *arg) {
    (void)arg;
    sem_wait(&go);
    return NULL;
}

static int bound_in_table(pthread_t t) {
    static weave_thread_info rows[4096];
    size_t n = weave_thread_table(rows, 4096);
    for (size_t i = 0; i < n && i < 4096; i++)
        if (pthread_equal(rows[i].id, t)) return rows[i].bound;
    return -1;
}

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    pthread_attr_t a, got;
    int v;
    size_t sz;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM), 0);
    EQ(pthread_attr_getscope(&a, &v), 0);
    EQ(v, PTHREAD_SCOPE_SYSTEM);
    EQ(pthread_attr_setstacksize(&a, 512 * 1024), 0);
    pthread_t b, u;
    EQ(pthread_create(&b, &a, waits, NULL), 0);
    EQ(pthread_create(&u, NULL, waits, NULL), 0);
    EQ(bound_in_table(b), 1);
    EQ(bound_in_table(u), 0);

    EQ(pthread_getattr_np(b, &got), 0);
    EQ(pthread_attr_getscope(&got, &v), 0);
    EQ(v, PTHREAD_SCOPE_SYSTEM);
    EQ(pthread_attr_getstacksize(&got, &sz), 0);
    EQ(sz, 512 * 1024);
    EQ(pthread_attr_getdetachstate(&got, &v), 0);
    EQ(v, PTHREAD_CREATE_JOINABLE);
    EQ(pthread_attr_destroy(&got), 0);

    EQ(sem_post(&go), 0);
    EQ(sem_post(&go), 0);
    EQ(pthread_join(b, NULL), 0);
    EQ(pthread_join(u, NULL), 0);
    EQ(pthread_getattr_np(b, &got), ESRCH);
    return 0;
}

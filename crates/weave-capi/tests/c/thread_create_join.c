/* pthread_create runs start(arg) on a new thread; pthread_join returns its
 * return value, or the value it gave pthread_exit. */
#include "check.h"

static void *twice(void *arg) { return (void *)((intptr_t)arg * 2); }

static void *exits(void *arg) {
    pthread_exit(arg);
    return NULL; /* not reached */
}

int main(void) {
    enum { N = 200 };
    pthread_t t[N];
    for (intptr_t i = 0; i < N; i++)
        EQ(pthread_create(&t[i], NULL, (i % 2) ? exits : twice, (void *)i), 0);
    for (intptr_t i = 0; i < N; i++) {
        void *r = NULL;
        EQ(pthread_join(t[i], &r), 0);
        EQ((intptr_t)r, (i % 2) ? i : 2 * i);
    }
    /* A NULL retval is allowed. */
    pthread_t u;
    EQ(pthread_create(&u, NULL, twice, (void *)1), 0);
    EQ(pthread_join(u, NULL), 0);
    /* Null thread or start routine. */
    EQ(pthread_create(NULL, NULL, twice, NULL), EINVAL);
    EQ(pthread_create(&u, NULL, NULL, NULL), EINVAL);
    return 0;
}

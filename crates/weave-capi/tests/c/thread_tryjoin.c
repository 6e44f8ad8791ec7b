/* pthread_tryjoin_np (GNU, pthread_tryjoin_np(3)): EBUSY while the thread
 * has not terminated, and the thread stays joinable; once it has
 * terminated, the join succeeds with its exit value. The errors of
 * pthread_join: EDEADLK for the caller, ESRCH for an id that names no
 * thread (one already joined), EINVAL for a detached thread. */
#include "check.h"

static sem_t go;

static void *waits(void *arg) {
    sem_wait(&go);
    return arg;
}

int main(void) {
    EQ(sem_init(&go, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, waits, (void *)42), 0);
    void *v = NULL;
    EQ(pthread_tryjoin_np(t, &v), EBUSY);
    EQ(pthread_tryjoin_np(t, &v), EBUSY);
    CHECK(v == NULL);
    EQ(sem_post(&go), 0);
    /* The thread ends soon: try until it has (generous watchdog). */
    int r;
    for (int i = 0; (r = pthread_tryjoin_np(t, &v)) == EBUSY && i < 60000; i++) usleep(1000);
    EQ(r, 0);
    EQ((intptr_t)v, 42);
    EQ(pthread_tryjoin_np(t, &v), ESRCH);

    EQ(pthread_tryjoin_np(pthread_self(), &v), EDEADLK);

    pthread_attr_t a;
    EQ(pthread_attr_init(&a), 0);
    EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    EQ(pthread_create(&t, &a, waits, NULL), 0);
    EQ(pthread_tryjoin_np(t, &v), EINVAL);
    EQ(sem_post(&go), 0);
    EQ(pthread_attr_destroy(&a), 0);
    return 0;
}

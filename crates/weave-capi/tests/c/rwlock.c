/* Read-write locks: readers share (a second reader gets in while one
 * holds it), a writer excludes readers and writers (EBUSY from the try
 * calls), relocking for write or read while writing is EDEADLK, unlock
 * without holding is EPERM, the timed calls time out (ETIMEDOUT), and
 * PTHREAD_RWLOCK_INITIALIZER works. */
#include "check.h"

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t in, out;

static void *reader_holds(void *arg) {
    (void)arg;
    EQ(pthread_rwlock_rdlock(&rw), 0);
    sem_post(&in);
    sem_wait(&out);
    EQ(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

static void *writer_holds(void *arg) {
    (void)arg;
    EQ(pthread_rwlock_wrlock(&rw), 0);
    sem_post(&in);
    sem_wait(&out);
    EQ(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

static long shared;

static void *mixed(void *arg) {
    intptr_t id = (intptr_t)arg;
    for (int i = 0; i < 500; i++) {
        if ((i + id) % 4 == 0) {
            EQ(pthread_rwlock_wrlock(&rw), 0);
            long s = shared;
            sched_yield();
            shared = s + 1;
        } else {
            EQ(pthread_rwlock_rdlock(&rw), 0);
            (void)shared;
        }
        EQ(pthread_rwlock_unlock(&rw), 0);
    }
    return NULL;
}

int main(void) {
    EQ(sem_init(&in, 0, 0), 0);
    EQ(sem_init(&out, 0, 0), 0);
    pthread_t t;

    EQ(pthread_create(&t, NULL, reader_holds, NULL), 0);
    EQ(sem_wait(&in), 0);
    EQ(pthread_rwlock_tryrdlock(&rw), 0);
    EQ(pthread_rwlock_unlock(&rw), 0);
    EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    struct timespec soon = after_ms(CLOCK_REALTIME, 20);
    EQ(pthread_rwlock_timedwrlock(&rw, &soon), ETIMEDOUT);
    EQ(sem_post(&out), 0);
    EQ(pthread_join(t, NULL), 0);

    EQ(pthread_create(&t, NULL, writer_holds, NULL), 0);
    EQ(sem_wait(&in), 0);
    EQ(pthread_rwlock_tryrdlock(&rw), EBUSY);
    EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    soon = after_ms(CLOCK_REALTIME, 20);
    EQ(pthread_rwlock_timedrdlock(&rw, &soon), ETIMEDOUT);
    EQ(pthread_rwlock_unlock(&rw), EPERM);
    EQ(sem_post(&out), 0);
    EQ(pthread_join(t, NULL), 0);

    EQ(pthread_rwlock_wrlock(&rw), 0);
    EQ(pthread_rwlock_wrlock(&rw), EDEADLK);
    EQ(pthread_rwlock_rdlock(&rw), EDEADLK);
    /* The try forms' one error for a held lock is EBUSY, whoever holds it. */
    EQ(pthread_rwlock_tryrdlock(&rw), EBUSY);
    EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    EQ(pthread_rwlock_destroy(&rw), EBUSY);
    EQ(pthread_rwlock_unlock(&rw), 0);
    EQ(pthread_rwlock_unlock(&rw), EPERM);

    enum { N = 8 };
    pthread_t ts[N];
    for (intptr_t i = 0; i < N; i++) EQ(pthread_create(&ts[i], NULL, mixed, (void *)i), 0);
    for (int i = 0; i < N; i++) EQ(pthread_join(ts[i], NULL), 0);
    EQ(shared, N * 500 / 4);

    pthread_rwlockattr_t a;
    int v;
    EQ(pthread_rwlockattr_init(&a), 0);
    EQ(pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED), ENOTSUP);
    EQ(pthread_rwlockattr_getpshared(&a, &v), 0);
    EQ(v, PTHREAD_PROCESS_PRIVATE);
    pthread_rwlock_t r2;
    EQ(pthread_rwlock_init(&r2, &a), 0);
    EQ(pthread_rwlock_rdlock(&r2), 0);
    EQ(pthread_rwlock_unlock(&r2), 0);
    EQ(pthread_rwlock_destroy(&r2), 0);
    EQ(pthread_rwlock_rdlock(&r2), EINVAL);
    EQ(pthread_rwlockattr_destroy(&a), 0);
    return 0;
}

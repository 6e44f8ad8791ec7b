/* Reader-preferring rwlocks (glibc, pthread_rwlockattr_setkind_np(3)):
 * with PTHREAD_RWLOCK_PREFER_READER_NP, the default (a null attr, fresh
 * attributes, PTHREAD_RWLOCK_INITIALIZER), and PTHREAD_RWLOCK_PREFER_WRITER_NP
 * (which glibc treats as PREFER_READER), a reader gets the lock while
 * readers hold it even if a writer waits: tryrdlock and rdlock succeed,
 * and a thread may take a read lock it holds again; the writer gets the
 * lock once the last reader leaves. PTHREAD_RWLOCK_WRITER_NONRECURSIVE_
 * INITIALIZER_NP gives a writer-preferring lock: tryrdlock is EBUSY then. */
#include "check.h"

static volatile int wrote;

static void *writer(void *arg) {
    pthread_rwlock_t *l = arg;
    EQ(pthread_rwlock_wrlock(l), 0);
    wrote = 1;
    EQ(pthread_rwlock_unlock(l), 0);
    return NULL;
}

/* Holds a read lock, lets a writer queue, then checks that readers still
 * get in (or, if !prefer, that they do not). */
static void check(pthread_rwlock_t *l, int prefer) {
    wrote = 0;
    EQ(pthread_rwlock_rdlock(l), 0);
    pthread_t w;
    EQ(pthread_create(&w, NULL, writer, l), 0);
    wait_blocked(w);
    if (prefer) {
        EQ(pthread_rwlock_tryrdlock(l), 0);
        EQ(pthread_rwlock_rdlock(l), 0);
        struct timespec at = after_ms(CLOCK_REALTIME, 10000);
        EQ(pthread_rwlock_timedrdlock(l, &at), 0);
        EQ(wrote, 0);
        EQ(pthread_rwlock_unlock(l), 0);
        EQ(pthread_rwlock_unlock(l), 0);
        EQ(pthread_rwlock_unlock(l), 0);
    } else {
        EQ(pthread_rwlock_tryrdlock(l), EBUSY);
    }
    EQ(wrote, 0);
    EQ(pthread_rwlock_unlock(l), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(wrote, 1);
}

static pthread_rwlock_t static_default = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t static_writer = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

int main(void) {
    pthread_rwlock_t l;

    EQ(pthread_rwlock_init(&l, NULL), 0);
    check(&l, 1);
    EQ(pthread_rwlock_destroy(&l), 0);

    pthread_rwlockattr_t a;
    EQ(pthread_rwlockattr_init(&a), 0);
    EQ(pthread_rwlock_init(&l, &a), 0);
    check(&l, 1);
    EQ(pthread_rwlock_destroy(&l), 0);

    int kinds[] = {PTHREAD_RWLOCK_PREFER_READER_NP, PTHREAD_RWLOCK_PREFER_WRITER_NP};
    for (int i = 0; i < 2; i++) {
        EQ(pthread_rwlockattr_setkind_np(&a, kinds[i]), 0);
        EQ(pthread_rwlock_init(&l, &a), 0);
        check(&l, 1);
        EQ(pthread_rwlock_destroy(&l), 0);
    }
    EQ(pthread_rwlockattr_destroy(&a), 0);

    check(&static_default, 1);
    check(&static_writer, 0);
    return 0;
}

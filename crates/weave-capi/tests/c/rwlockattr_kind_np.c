/* pthread_rwlockattr_setkind_np / getkind_np (glibc,
 * pthread_rwlockattr_setkind_np(3)): the kind is
 * PTHREAD_RWLOCK_PREFER_READER_NP after init, each of the three kinds is
 * stored and returned, another value is EINVAL. A lock made with
 * PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP does not starve writers:
 * while a writer waits, a new reader does not get the lock (tryrdlock is
 * EBUSY) though a reader holds it; the writer gets it when the reader
 * leaves. */
#include "check.h"

static pthread_rwlock_t lock;
static volatile int wrote;

static void *writer(void *arg) {
    (void)arg;
    EQ(pthread_rwlock_wrlock(&lock), 0);
    wrote = 1;
    EQ(pthread_rwlock_unlock(&lock), 0);
    return NULL;
}

int main(void) {
    pthread_rwlockattr_t a;
    int kind = -1;
    EQ(pthread_rwlockattr_init(&a), 0);
    EQ(pthread_rwlockattr_getkind_np(&a, &kind), 0);
    EQ(kind, PTHREAD_RWLOCK_PREFER_READER_NP);
    int kinds[] = {PTHREAD_RWLOCK_PREFER_WRITER_NP, PTHREAD_RWLOCK_PREFER_READER_NP,
                   PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP};
    for (int i = 0; i < 3; i++) {
        EQ(pthread_rwlockattr_setkind_np(&a, kinds[i]), 0);
        EQ(pthread_rwlockattr_getkind_np(&a, &kind), 0);
        EQ(kind, kinds[i]);
    }
    EQ(pthread_rwlockattr_setkind_np(&a, 99), EINVAL);
    EQ(pthread_rwlockattr_setkind_np(&a, -1), EINVAL);
    EQ(pthread_rwlockattr_getkind_np(&a, &kind), 0);
    EQ(kind, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);

    EQ(pthread_rwlock_init(&lock, &a), 0);
    EQ(pthread_rwlockattr_destroy(&a), 0);
    EQ(pthread_rwlockattr_getkind_np(&a, &kind), EINVAL);

    EQ(pthread_rwlock_rdlock(&lock), 0);
    pthread_t w;
    EQ(pthread_create(&w, NULL, writer, NULL), 0);
    wait_blocked(w);
    /* A writer waits: a new reader is held back. */
    EQ(pthread_rwlock_tryrdlock(&lock), EBUSY);
    EQ(wrote, 0);
    EQ(pthread_rwlock_unlock(&lock), 0);
    EQ(pthread_join(w, NULL), 0);
    EQ(wrote, 1);
    EQ(pthread_rwlock_destroy(&lock), 0);
    return 0;
}

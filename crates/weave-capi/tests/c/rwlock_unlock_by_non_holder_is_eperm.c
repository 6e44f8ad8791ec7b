/* pthread_rwlock_unlock: a thread that holds no lock on the rwlock gets
 * EPERM, whether the lock is free, read-locked by another thread or
 * write-locked by another thread, and the holder's lock stays held. */
#include "check.h"

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static void *unlock_it(void *arg) {
    (void)arg;
    return (void *)(intptr_t)pthread_rwlock_unlock(&rw);
}

static intptr_t unlock_elsewhere(void) {
    pthread_t t;
    void *r;
    EQ(pthread_create(&t, NULL, unlock_it, NULL), 0);
    EQ(pthread_join(t, &r), 0);
    return (intptr_t)r;
}

int main(void) {
    EQ(pthread_rwlock_unlock(&rw), EPERM);
    EQ(pthread_rwlock_rdlock(&rw), 0);
    EQ(unlock_elsewhere(), EPERM);
    /* Still read-locked by this thread: no writer gets in. */
    EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    EQ(pthread_rwlock_unlock(&rw), 0);
    EQ(pthread_rwlock_unlock(&rw), EPERM);

    EQ(pthread_rwlock_wrlock(&rw), 0);
    EQ(unlock_elsewhere(), EPERM);
    EQ(pthread_rwlock_unlock(&rw), 0);
    EQ(pthread_rwlock_trywrlock(&rw), 0);
    EQ(pthread_rwlock_unlock(&rw), 0);
    EQ(pthread_rwlock_destroy(&rw), 0);
    return 0;
}

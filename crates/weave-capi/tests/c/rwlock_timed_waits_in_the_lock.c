/* pthread_rwlock_timedwrlock(3p), pthread_rwlock_timedrdlock(3p): "the
 * calling thread shall block until the lock becomes available or the
 * timeout expires". A timed writer waits in the lock, as an untimed one
 * does: on a writer-preferring lock (PTHREAD_RWLOCK_PREFER_WRITER_
 * NONRECURSIVE_NP) new readers are held back while it waits (tryrdlock is
 * EBUSY, rdlock blocks). When its timeout expires (ETIMEDOUT) it no longer
 * holds them back: a reader blocked behind it gets in beside the reader
 * that still holds the lock. A timed reader blocked by a writer gets in
 * when the writer unlocks before its timeout. */
#include "check.h"

static pthread_rwlock_t l = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static void *timed_writer(void *arg) {
    (void)arg;
    struct timespec at = after_ms(CLOCK_REALTIME, 300);
    return (void *)(long)pthread_rwlock_timedwrlock(&l, &at);
}

static void *reader(void *arg) {
    (void)arg;
    int r = pthread_rwlock_rdlock(&l);
    if (r == 0) r = pthread_rwlock_unlock(&l);
    return (void *)(long)r;
}

static void *timed_reader(void *arg) {
    (void)arg;
    struct timespec at = after_ms(CLOCK_REALTIME, 10000);
    int r = pthread_rwlock_timedrdlock(&l, &at);
    if (r == 0) r = pthread_rwlock_unlock(&l);
    return (void *)(long)r;
}

int main(void) {
    void *res;

    /* A timed writer queues behind a held read lock and shuts readers out. */
    EQ(pthread_rwlock_rdlock(&l), 0);
    pthread_t w, r;
    EQ(pthread_create(&w, NULL, timed_writer, NULL), 0);
    wait_blocked_in(w, WEAVE_BLOCK_RWLOCK);
    EQ(pthread_rwlock_tryrdlock(&l), EBUSY);
    EQ(pthread_create(&r, NULL, reader, NULL), 0);
    wait_blocked_in(r, WEAVE_BLOCK_RWLOCK);

    /* Its timeout expires: ETIMEDOUT, and the blocked reader gets in while
     * this thread still holds its read lock. */
    EQ(pthread_join(w, &res), 0);
    EQ((long)res, ETIMEDOUT);
    EQ(pthread_join(r, &res), 0);
    EQ((long)res, 0);
    EQ(pthread_rwlock_tryrdlock(&l), 0);
    EQ(pthread_rwlock_unlock(&l), 0);
    EQ(pthread_rwlock_unlock(&l), 0);

    /* A timed reader blocked by a writer gets in when the writer unlocks. */
    EQ(pthread_rwlock_wrlock(&l), 0);
    pthread_t tr;
    EQ(pthread_create(&tr, NULL, timed_reader, NULL), 0);
    wait_blocked_in(tr, WEAVE_BLOCK_RWLOCK);
    EQ(pthread_rwlock_unlock(&l), 0);
    EQ(pthread_join(tr, &res), 0);
    EQ((long)res, 0);

    /* The lock is free and whole afterwards. */
    EQ(pthread_rwlock_trywrlock(&l), 0);
    EQ(pthread_rwlock_unlock(&l), 0);
    return 0;
}

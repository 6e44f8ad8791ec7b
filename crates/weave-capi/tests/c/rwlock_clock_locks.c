/* pthread_rwlock_clockrdlock and pthread_rwlock_clockwrlock: abstime is
 * measured on the clock given, CLOCK_REALTIME or CLOCK_MONOTONIC. While
 * another thread holds the lock for writing, both time out with ETIMEDOUT,
 * and not before abstime on that clock has passed; a lock that can be had
 * at once is taken; another clock is EINVAL. */
#include "check.h"
#include <semaphore.h>

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t held, release;

static void *writer_holds(void *arg) {
    (void)arg;
    EQ(pthread_rwlock_wrlock(&rw), 0);
    EQ(sem_post(&held), 0);
    EQ(sem_wait(&release), 0);
    EQ(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

static long long ms_since(clockid_t clock, struct timespec from) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (now.tv_sec - from.tv_sec) * 1000LL + (now.tv_nsec - from.tv_nsec) / 1000000L;
}

int main(void) {
    clockid_t clocks[2] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    EQ(sem_init(&held, 0, 0), 0);
    EQ(sem_init(&release, 0, 0), 0);
    pthread_t t;
    EQ(pthread_create(&t, NULL, writer_holds, NULL), 0);
    EQ(sem_wait(&held), 0);
    for (int i = 0; i < 2; i++) {
        struct timespec start;
        clock_gettime(clocks[i], &start);
        struct timespec at = after_ms(clocks[i], 30);
        EQ(pthread_rwlock_clockrdlock(&rw, clocks[i], &at), ETIMEDOUT);
        CHECK(ms_since(clocks[i], start) >= 29);
        clock_gettime(clocks[i], &start);
        at = after_ms(clocks[i], 30);
        EQ(pthread_rwlock_clockwrlock(&rw, clocks[i], &at), ETIMEDOUT);
        CHECK(ms_since(clocks[i], start) >= 29);
    }
    struct timespec at = after_ms(CLOCK_MONOTONIC, 30);
    EQ(pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &at), EINVAL);
    EQ(pthread_rwlock_clockwrlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &at), EINVAL);
    EQ(sem_post(&release), 0);
    EQ(pthread_join(t, NULL), 0);

    for (int i = 0; i < 2; i++) {
        at = after_ms(clocks[i], 30);
        EQ(pthread_rwlock_clockrdlock(&rw, clocks[i], &at), 0);
        EQ(pthread_rwlock_clockrdlock(&rw, clocks[i], &at), 0);
        EQ(pthread_rwlock_unlock(&rw), 0);
        EQ(pthread_rwlock_unlock(&rw), 0);
        EQ(pthread_rwlock_clockwrlock(&rw, clocks[i], &at), 0);
        /* Held by the caller: a deadlock, not a wait. */
        EQ(pthread_rwlock_clockwrlock(&rw, clocks[i], &at), EDEADLK);
        EQ(pthread_rwlock_unlock(&rw), 0);
    }
    return 0;
}

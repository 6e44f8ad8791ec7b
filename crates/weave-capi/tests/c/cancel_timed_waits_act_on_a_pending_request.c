/* POSIX 2.9.5.2: pthread_cond_timedwait, pthread_cond_clockwait,
 * sem_timedwait and sem_clockwait are cancellation points, and a request
 * pending when a thread calls one (cancelability enabled) is acted on
 * before the call returns, even if it would not wait: an abstime already
 * passed, or a permit free. The condition variable waits act with the
 * mutex held (the cleanup handler unlocks it); the semaphore waits take
 * no permit. */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static volatile int returned, unlocked_by_handler;

static void unlock(void *arg) {
    (void)arg;
    unlocked_by_handler = 1;
    EQ(pthread_mutex_unlock(&m), 0);
}

/* Makes a request pending on the calling thread, then enables. */
static void request_self(void) {
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    EQ(pthread_cancel(pthread_self()), 0);
    EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL), 0);
}

static void *cond_wait(void *arg) {
    int clocked = arg != NULL;
    struct timespec past = after_ms(clocked ? CLOCK_MONOTONIC : CLOCK_REALTIME, -1000);
    EQ(pthread_mutex_lock(&m), 0);
    request_self();
    pthread_cleanup_push(unlock, NULL);
    if (clocked)
        pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &past);
    else
        pthread_cond_timedwait(&c, &m, &past);
    returned = 1;
    pthread_cleanup_pop(1);
    return NULL;
}

static void *sem_wait_free(void *arg) {
    int clocked = arg != NULL;
    struct timespec later = after_ms(clocked ? CLOCK_MONOTONIC : CLOCK_REALTIME, 60000);
    request_self();
    if (clocked)
        sem_clockwait(&sem, CLOCK_MONOTONIC, &later);
    else
        sem_timedwait(&sem, &later);
    returned = 1;
    return NULL;
}

static void *sem_wait_passed(void *arg) {
    (void)arg;
    struct timespec past = after_ms(CLOCK_REALTIME, -1000);
    EQ(sem_trywait(&sem), 0); /* none left */
    request_self();
    sem_timedwait(&sem, &past);
    returned = 1;
    return NULL;
}

static void expect_cancelled(void *(*body)(void *), void *arg) {
    pthread_t t;
    void *value = NULL;
    returned = 0;
    unlocked_by_handler = 0;
    EQ(pthread_create(&t, NULL, body, arg), 0);
    EQ(pthread_join(t, &value), 0);
    CHECK(value == PTHREAD_CANCELED);
    EQ(returned, 0);
}

int main(void) {
    expect_cancelled(cond_wait, NULL);
    EQ(unlocked_by_handler, 1);
    expect_cancelled(cond_wait, "clock");
    EQ(unlocked_by_handler, 1);
    EQ(pthread_mutex_trylock(&m), 0);
    EQ(pthread_mutex_unlock(&m), 0);

    EQ(sem_init(&sem, 0, 1), 0);
    int v = -1;
    expect_cancelled(sem_wait_free, NULL);
    EQ(sem_getvalue(&sem, &v), 0);
    EQ(v, 1);
    expect_cancelled(sem_wait_free, "clock");
    EQ(sem_getvalue(&sem, &v), 0);
    EQ(v, 1);
    expect_cancelled(sem_wait_passed, NULL);
    EQ(sem_getvalue(&sem, &v), 0);
    EQ(v, 0);
    return 0;
}

/* Unnamed semaphores: wait takes, post gives, getvalue counts, trywait is
 * EAGAIN at 0, timedwait times out (ETIMEDOUT) or takes a post that comes
 * in time, errors set errno and return -1: EINVAL above SEM_VALUE_MAX or
 * for a destroyed semaphore, ENOSYS for a process-shared one. */
#include "check.h"
#include <limits.h>

static sem_t s;

static void *waits(void *arg) {
    EQ(sem_wait(arg), 0);
    return NULL;
}

static void *poster(void *arg) {
    (void)arg;
    usleep(10000);
    EQ(sem_post(&s), 0);
    return NULL;
}

int main(void) {
    int v;
    EQ(sem_init(&s, 0, 2), 0);
    EQ(sem_getvalue(&s, &v), 0);
    EQ(v, 2);
    EQ(sem_wait(&s), 0);
    EQ(sem_trywait(&s), 0);
    errno = 0;
    EQ(sem_trywait(&s), -1);
    EQ(errno, EAGAIN);
    struct timespec soon = after_ms(CLOCK_REALTIME, 20);
    errno = 0;
    EQ(sem_timedwait(&s, &soon), -1);
    EQ(errno, ETIMEDOUT);
    struct timespec bad = {0, 1000000000L};
    errno = 0;
    EQ(sem_timedwait(&s, &bad), -1);
    EQ(errno, EINVAL);

    pthread_t t;
    EQ(pthread_create(&t, NULL, poster, NULL), 0);
    struct timespec later = after_ms(CLOCK_REALTIME, 60000);
    EQ(sem_timedwait(&s, &later), 0);
    EQ(pthread_join(t, NULL), 0);

    /* Many waiters, as many posts. */
    enum { N = 16 };
    pthread_t w[N];
    for (int i = 0; i < N; i++) EQ(pthread_create(&w[i], NULL, waits, &s), 0);
    for (int i = 0; i < N; i++) EQ(sem_post(&s), 0);
    for (int i = 0; i < N; i++) EQ(pthread_join(w[i], NULL), 0);
    EQ(sem_getvalue(&s, &v), 0);
    EQ(v, 0);

    EQ(sem_destroy(&s), 0);
    errno = 0;
    EQ(sem_post(&s), -1);
    EQ(errno, EINVAL);
    errno = 0;
    EQ(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1), -1);
    EQ(errno, EINVAL);
    errno = 0;
    EQ(sem_init(&s, 1, 0), -1);
    EQ(errno, ENOSYS);
    EQ(sem_init(&s, 0, SEM_VALUE_MAX), 0);
    errno = 0;
    EQ(sem_post(&s), -1);
    EQ(errno, EOVERFLOW);
    return 0;
}

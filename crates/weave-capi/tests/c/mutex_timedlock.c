/* pthread_mutex_timedlock (CLOCK_REALTIME): succeeds at once on a free
 * mutex (even with a past or invalid abstime), ETIMEDOUT when another
 * thread holds it past the deadline, EINVAL for a bad tv_nsec when it
 * would block, and succeeds when the holder lets go in time. */
#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static sem_t held, release;

static void *holder(void *arg) {
    long hold_ms = (long)(intptr_t)arg;
    EQ(pthread_mutex_lock(&m), 0);
    sem_post(&held);
    if (hold_ms) {
        usleep(hold_ms * 1000);
    } else {
        sem_wait(&release);
    }
    EQ(pthread_mutex_unlock(&m), 0);
    return NULL;
}

int main(void) {
    struct timespec past = {0, 0}, bad = {0, 2000000000L};
    EQ(sem_init(&held, 0, 0), 0);
    EQ(sem_init(&release, 0, 0), 0);
    EQ(pthread_mutex_timedlock(&m, &past), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_mutex_timedlock(&m, &bad), 0);
    EQ(pthread_mutex_unlock(&m), 0);

    pthread_t h;
    EQ(pthread_create(&h, NULL, holder, (void *)0), 0);
    EQ(sem_wait(&held), 0);
    struct timespec soon = after_ms(CLOCK_REALTIME, 50);
    EQ(pthread_mutex_timedlock(&m, &soon), ETIMEDOUT);
    EQ(pthread_mutex_timedlock(&m, &past), ETIMEDOUT);
    EQ(pthread_mutex_timedlock(&m, &bad), EINVAL);
    EQ(sem_post(&release), 0);
    EQ(pthread_join(h, NULL), 0);

    /* The holder lets go after 20 ms; a deadline a minute away is met. */
    EQ(pthread_create(&h, NULL, holder, (void *)20), 0);
    EQ(sem_wait(&held), 0);
    struct timespec later = after_ms(CLOCK_REALTIME, 60000);
    EQ(pthread_mutex_timedlock(&m, &later), 0);
    EQ(pthread_mutex_unlock(&m), 0);
    EQ(pthread_join(h, NULL), 0);
    return 0;
}
